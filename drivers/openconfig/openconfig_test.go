package openconfig_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/coldstandby/coldstandby/drivers/openconfig"
	"github.com/coldstandby/coldstandby/drivers/openconfig/gnmitest"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/fabric/fabrictest"
)

// dial connects to srv over TLS with credentials, as production does.
func dial(t testing.TB, srv *gnmitest.Server, opts ...openconfig.Option) *openconfig.Switch {
	t.Helper()
	opts = append([]openconfig.Option{
		openconfig.WithTLS(srv.ClientTLS()),
		openconfig.WithCredentials("admin", "secret"),
		openconfig.WithDialOptions(srv.DialOption()),
	}, opts...)
	s, err := openconfig.Dial(srv.Target(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func start(t testing.TB, opts ...gnmitest.Option) *gnmitest.Server {
	return gnmitest.Start(t, append([]gnmitest.Option{gnmitest.WithTLS(), gnmitest.WithCredentials("admin", "secret")}, opts...)...)
}

func vlans(s string) []int {
	ids, err := fabric.ParseVLANList(s)
	if err != nil {
		panic(err)
	}
	return ids
}

type harness struct {
	t    *testing.T
	srv  *gnmitest.Server
	opts []openconfig.Option
	n    int
}

var (
	_ fabrictest.VLANHarness     = (*harness)(nil)
	_ fabrictest.TransientFailer = (*harness)(nil)
	_ fabrictest.Staller         = (*harness)(nil)
)

func (h *harness) StallNext(ctx context.Context, d time.Duration) error {
	h.srv.StallNext(d)
	return nil
}

// dialects are the targets the driver is tested against, each with the
// options it needs.
var dialects = []struct {
	name    string
	dialect gnmitest.Dialect
	opts    []openconfig.Option
}{
	{"generic", gnmitest.Generic, nil},
	{"eos", gnmitest.EOS, nil},
	{"sonic", gnmitest.SONiC, []openconfig.Option{openconfig.WithNativeVLANAsAccessVLAN(), openconfig.WithModulePrefixes()}},
}

func TestConformance(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			fabrictest.RunVLAN(t, func(t *testing.T) fabrictest.VLANHarness {
				return &harness{t: t, srv: start(t, gnmitest.WithDialect(d.dialect)), opts: d.opts}
			})
		})
	}
}

func (h *harness) MakeSwitch(ctx context.Context) (fabric.VLANSwitch, error) {
	return dial(h.t, h.srv, h.opts...), nil
}

func (h *harness) VLANFixture(ctx context.Context, n int) ([]string, fabric.PortVLAN, fabric.PortVLAN, error) {
	var ports []string
	for i := 0; i < n; i++ {
		h.n++
		p := fmt.Sprintf("Ethernet%d", h.n)
		h.srv.AddInterface(p, &gnmitest.Config{Mode: "ACCESS", AccessVLAN: 1})
		ports = append(ports, p)
	}
	a := fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 100}
	b := fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 1, Trunk: []int{10, 20, 21, 22}}
	return ports, a, b, nil
}

// ReadPort reads the server's stored leaves and maps them independently
// of the driver.
func (h *harness) ReadPort(ctx context.Context, port string) (fabric.PortVLAN, error) {
	c, ok := h.srv.Interface(port)
	if !ok {
		return fabric.PortVLAN{}, fmt.Errorf("no switched-vlan on %s: %w", port, fabric.ErrNotFound)
	}
	switch c.Mode {
	case "ACCESS":
		return fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: c.AccessVLAN}, nil
	case "TRUNK":
		var ids []int
		for _, x := range c.TrunkVLANs {
			switch y := x.(type) {
			case int:
				ids = append(ids, y)
			case string:
				r, err := fabric.ParseVLANList(y)
				if err != nil {
					return fabric.PortVLAN{}, err
				}
				ids = append(ids, r...)
			}
		}
		if len(c.TrunkVLANs) == 0 {
			ids = vlans("1-4094")
		}
		return fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: c.NativeVLAN, Trunk: ids}.Normalize(), nil
	}
	return fabric.PortVLAN{}, fmt.Errorf("mode %q", c.Mode)
}

func (h *harness) FailNext(ctx context.Context) error {
	h.srv.FailNext(codes.Unavailable)
	return nil
}

func TestWritesOpenConfigLeaves(t *testing.T) {
	srv := start(t)
	srv.AddInterface("Ethernet1", &gnmitest.Config{Mode: "ACCESS", AccessVLAN: 1})
	s := dial(t, srv)
	ctx := context.Background()
	for _, tc := range []struct {
		v    fabric.PortVLAN
		want gnmitest.Config
	}{
		{fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10}, gnmitest.Config{Mode: "ACCESS", AccessVLAN: 10}},
		{fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 1, Trunk: []int{30, 10, 20, 21, 22}},
			gnmitest.Config{Mode: "TRUNK", NativeVLAN: 1, TrunkVLANs: []any{10, "20..22", 30}}},
		{fabric.PortVLAN{Mode: fabric.Trunk, Trunk: []int{5}}, gnmitest.Config{Mode: "TRUNK", TrunkVLANs: []any{5}}},
		{fabric.PortVLAN{Mode: fabric.Trunk, Trunk: vlans("1-4094")}, gnmitest.Config{Mode: "TRUNK", TrunkVLANs: []any{"1..4094"}}},
		{fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 4094}, gnmitest.Config{Mode: "ACCESS", AccessVLAN: 4094}},
	} {
		if _, err := s.SetPortVLAN(ctx, "Ethernet1", tc.v); err != nil {
			t.Fatalf("SetPortVLAN(%v): %v", tc.v, err)
		}
		got, _ := srv.Interface("Ethernet1")
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("after SetPortVLAN(%v) the switch has %+v, want %+v", tc.v, got, tc.want)
		}
		back, err := s.PortVLAN(ctx, "Ethernet1")
		if err != nil || !back.Equal(tc.v) {
			t.Errorf("PortVLAN = %v, %v; want %v", back, err, tc.v)
		}
	}
}

func TestReadsTargetSpellings(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []gnmitest.Option
	}{{"container", nil}, {"leaves", []gnmitest.Option{gnmitest.WithLeafUpdates()}}} {
		t.Run(mode.name, func(t *testing.T) {
			srv := start(t, mode.opts...)
			s := dial(t, srv)
			for i, tc := range []struct {
				c    gnmitest.Config
				want fabric.PortVLAN
			}{
				{gnmitest.Config{Mode: "ACCESS", AccessVLAN: 7}, fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 7}},
				{gnmitest.Config{Mode: "TRUNK"}, fabric.PortVLAN{Mode: fabric.Trunk, Trunk: vlans("1-4094")}},
				{gnmitest.Config{Mode: "TRUNK", NativeVLAN: 9, TrunkVLANs: []any{"100..102", 4, 101}}, fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 9, Trunk: []int{4, 100, 101, 102}}},
			} {
				port := fmt.Sprintf("Ethernet%d", i)
				srv.AddInterface(port, &tc.c)
				got, err := s.PortVLAN(context.Background(), port)
				if err != nil || !got.Equal(tc.want) {
					t.Errorf("%+v: PortVLAN = %v, %v; want %v", tc.c, got, err, tc.want)
				}
			}
			srv.AddInterface("Ethernet9", &gnmitest.Config{Mode: "ACCESS"})
			if _, err := s.PortVLAN(context.Background(), "Ethernet9"); !errors.Is(err, fabric.ErrUnsupported) {
				t.Errorf("ACCESS without access-vlan: %v, want ErrUnsupported", err)
			}
		})
	}
}

func TestLAGUsesAggregationContainer(t *testing.T) {
	srv := start(t)
	srv.AddLAG("Port-Channel5", &gnmitest.Config{Mode: "ACCESS", AccessVLAN: 4})
	s := dial(t, srv)
	ctx := context.Background()
	v := fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 4, Trunk: []int{40, 41}}
	prev, err := s.SetPortVLAN(ctx, "Port-Channel5", v)
	if err != nil || !prev.Equal(fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 4}) {
		t.Fatalf("SetPortVLAN on a LAG = %v, %v", prev, err)
	}
	if c, _ := srv.Interface("Port-Channel5"); !reflect.DeepEqual(c, gnmitest.Config{Mode: "TRUNK", NativeVLAN: 4, TrunkVLANs: []any{"40..41"}}) {
		t.Errorf("LAG holds %+v", c)
	}
	if got, err := s.PortVLAN(ctx, "Port-Channel5"); err != nil || !got.Equal(v) {
		t.Errorf("PortVLAN on a LAG = %v, %v", got, err)
	}
}

func TestIdempotentSetSendsNothing(t *testing.T) {
	srv := start(t)
	srv.AddInterface("Ethernet1", &gnmitest.Config{Mode: "TRUNK", TrunkVLANs: []any{"10..12"}})
	s := dial(t, srv)
	v := fabric.PortVLAN{Mode: fabric.Trunk, Trunk: []int{12, 11, 10}}
	prev, err := s.SetPortVLAN(context.Background(), "Ethernet1", v)
	if err != nil || !prev.Equal(v) {
		t.Fatalf("SetPortVLAN(same) = %v, %v", prev, err)
	}
	if n := srv.Sets(); n != 0 {
		t.Errorf("idempotent SetPortVLAN sent %d Set RPCs", n)
	}
}

func TestErrors(t *testing.T) {
	srv := start(t)
	srv.AddInterface("Ethernet1", &gnmitest.Config{Mode: "ACCESS", AccessVLAN: 1})
	srv.AddInterface("Vlan10", nil) // routed: no switched-vlan
	s := dial(t, srv)
	ctx := context.Background()
	access2 := fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 2}

	if _, err := s.PortVLAN(ctx, "Ethernet99"); !errors.Is(err, fabric.ErrNotFound) {
		t.Errorf("unknown port: %v, want ErrNotFound", err)
	}
	if _, err := s.SetPortVLAN(ctx, "Ethernet99", access2); !errors.Is(err, fabric.ErrNotFound) {
		t.Errorf("SetPortVLAN on unknown port: %v, want ErrNotFound", err)
	}
	if _, err := s.PortVLAN(ctx, "Vlan10"); !errors.Is(err, fabric.ErrNotFound) {
		t.Errorf("routed port: %v, want ErrNotFound", err)
	}
	if _, err := s.SetPortVLAN(ctx, "Ethernet1", fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 5000}); !errors.Is(err, fabric.ErrInvalid) {
		t.Errorf("VLAN 5000: %v, want ErrInvalid", err)
	}
	if _, err := s.SetPortVLAN(ctx, "Ethernet1", fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 3}); !errors.Is(err, fabric.ErrUnsupported) {
		t.Errorf("trunk without tagged VLANs: %v, want ErrUnsupported", err)
	}
	for _, tc := range []struct {
		code codes.Code
		read error
		set  error
	}{
		{codes.Unavailable, fabric.ErrTransient, fabric.ErrTransient},
		{codes.ResourceExhausted, fabric.ErrTransient, fabric.ErrTransient},
		{codes.InvalidArgument, fabric.ErrInvalid, fabric.ErrInvalid},
		{codes.NotFound, fabric.ErrNotFound, fabric.ErrNotFound},
		{codes.FailedPrecondition, fabric.ErrConflict, fabric.ErrConflict},
		{codes.PermissionDenied, fabric.ErrUnsupported, fabric.ErrUnsupported},
		{codes.Internal, fabric.ErrTransient, fabric.ErrOutcomeUnknown},
		{codes.DeadlineExceeded, fabric.ErrTransient, fabric.ErrOutcomeUnknown},
	} {
		srv.FailNext(tc.code)
		if _, err := s.PortVLAN(ctx, "Ethernet1"); !errors.Is(err, tc.read) {
			t.Errorf("Get answered %v: %v, want %v", tc.code, err, tc.read)
		}
		// Fail the Set, not the Get that SetPortVLAN makes first.
		cur, _ := s.PortVLAN(ctx, "Ethernet1")
		next := fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: cur.AccessVLAN%4000 + 1}
		srv.FailNextSet(tc.code)
		if _, err := s.SetPortVLAN(ctx, "Ethernet1", next); !errors.Is(err, tc.set) {
			t.Errorf("Set answered %v: %v, want %v", tc.code, err, tc.set)
		}
	}
}

func TestCredentialsAndTLS(t *testing.T) {
	srv := start(t)
	srv.AddInterface("Ethernet1", &gnmitest.Config{Mode: "ACCESS", AccessVLAN: 1})
	ctx := context.Background()

	bad := dial(t, srv, openconfig.WithCredentials("admin", "wrong"))
	if _, err := bad.PortVLAN(ctx, "Ethernet1"); !errors.Is(err, fabric.ErrUnsupported) {
		t.Errorf("wrong password: %v, want ErrUnsupported (Unauthenticated)", err)
	}
	if _, err := openconfig.Dial(srv.Target(), openconfig.WithInsecure(), openconfig.WithCredentials("admin", "secret")); !errors.Is(err, fabric.ErrInvalid) {
		t.Errorf("credentials without TLS: %v, want ErrInvalid", err)
	}
	if _, err := openconfig.Dial(srv.Target()); !errors.Is(err, fabric.ErrInvalid) {
		t.Errorf("neither TLS nor WithInsecure: %v, want ErrInvalid", err)
	}
	// A client that does not trust the server's certificate cannot connect.
	untrusting := dial(t, srv, openconfig.WithTLS(&tls.Config{ServerName: gnmitest.ServerName, MinVersion: tls.VersionTLS12}))
	if _, err := untrusting.PortVLAN(ctx, "Ethernet1"); !errors.Is(err, fabric.ErrTransient) {
		t.Errorf("untrusted certificate: %v, want ErrTransient (Unavailable)", err)
	}
}

func TestNewWithCallerConnection(t *testing.T) {
	srv := gnmitest.Start(t) // plain, no TLS, no credentials
	srv.AddInterface("Ethernet1", &gnmitest.Config{Mode: "ACCESS", AccessVLAN: 3})
	conn, err := grpc.NewClient(srv.Target(), srv.DialOption(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s, err := openconfig.New(conn, openconfig.WithOrigin("openconfig"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.PortVLAN(context.Background(), "Ethernet1")
	if err != nil || !got.Equal(fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 3}) {
		t.Errorf("PortVLAN = %v, %v", got, err)
	}
	if _, err := openconfig.New(conn, openconfig.WithOrigin("ietf")); err != nil {
		t.Fatal(err)
	}
}

func TestCancelled(t *testing.T) {
	srv := start(t)
	srv.AddInterface("Ethernet1", &gnmitest.Config{Mode: "ACCESS", AccessVLAN: 1})
	s := dial(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.SetPortVLAN(ctx, "Ethernet1", fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 2}); !errors.Is(err, context.Canceled) {
		t.Errorf("SetPortVLAN with a cancelled context: %v", err)
	}
	if c, _ := srv.Interface("Ethernet1"); c.AccessVLAN != 1 {
		t.Errorf("cancelled SetPortVLAN changed the port: %+v", c)
	}
}

func TestConcurrentOnOnePortReturnsChain(t *testing.T) {
	srv := start(t)
	srv.AddInterface("Ethernet1", &gnmitest.Config{Mode: "ACCESS", AccessVLAN: 1})
	s := dial(t, srv)
	const n = 8
	prevs := make(chan int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prev, err := s.SetPortVLAN(context.Background(), "Ethernet1", fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10 + i})
			if err != nil {
				t.Error(err)
				return
			}
			prevs <- prev.AccessVLAN
		}()
	}
	wg.Wait()
	close(prevs)
	seen := map[int]int{}
	for p := range prevs {
		seen[p]++
	}
	c, _ := srv.Interface("Ethernet1")
	seen[c.AccessVLAN]++
	if len(seen) != n+1 || seen[1] != 1 {
		t.Errorf("prevs plus final = %v, want 1 and 10..17 once each", seen)
	}
}

func TestTrunkVLANs(t *testing.T) {
	got := openconfig.TrunkVLANs([]int{1, 2, 3, 7, 9, 10})
	if want := []any{"1..3", 7, "9..10"}; !reflect.DeepEqual(got, want) {
		t.Errorf("TrunkVLANs = %v, want %v", got, want)
	}
	ids, err := openconfig.ParseTrunkVLANs([]any{"9..10", float64(7), "1..3"})
	if err != nil || !reflect.DeepEqual(ids, []int{1, 2, 3, 7, 9, 10}) {
		t.Errorf("ParseTrunkVLANs = %v, %v", ids, err)
	}
	for _, bad := range [][]any{{"10-20"}, {"1,2"}, {float64(0)}, {"20..10"}, {true}} {
		if _, err := openconfig.ParseTrunkVLANs(bad); !errors.Is(err, fabric.ErrInvalid) {
			t.Errorf("ParseTrunkVLANs(%v): %v, want ErrInvalid", bad, err)
		}
	}
}

func BenchmarkSetPortVLAN(b *testing.B) {
	srv := start(b)
	srv.AddInterface("Ethernet1", &gnmitest.Config{Mode: "ACCESS", AccessVLAN: 1})
	s := dial(b, srv)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.SetPortVLAN(ctx, "Ethernet1", fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 1, Trunk: []int{10, 20 + i%2}}); err != nil {
			b.Fatal(err)
		}
	}
}
