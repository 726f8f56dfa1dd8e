package ovs_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/drivers/ovs"
	"github.com/coldstandby/coldstandby/drivers/ovs/ovstest"
	"github.com/coldstandby/coldstandby/fabric"
)

func newSwitch(t testing.TB, db string, opts ...ovs.Option) *ovs.Switch {
	t.Helper()
	s, err := ovs.New(db, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func vlanList(ids string) []int {
	l, err := fabric.ParseVLANList(ids)
	if err != nil {
		panic(err)
	}
	return l
}

// columns reads the port's VLAN columns with ovs-vsctl, to check what the
// driver wrote independently of the driver's own reading.
func columns(sw *ovstest.Switch, port string) string {
	out := sw.Vsctl("get", "port", port, "vlan_mode", "tag", "trunks")
	return strings.Join(strings.Fields(out), " ")
}

func TestSwitch(t *testing.T) {
	t.Parallel() // its own switch
	sw := ovstest.Start(t)
	s := newSwitch(t, sw.DB)
	ctx := context.Background()

	t.Run("WritesAndReadsBack", func(t *testing.T) {
		port := sw.AddPort()
		for _, tc := range []struct {
			v       fabric.PortVLAN
			columns string // vlan_mode tag trunks, as ovs-vsctl prints them
		}{
			{fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10}, "access 10 []"},
			{fabric.PortVLAN{Mode: fabric.Trunk, Trunk: []int{30, 20, 20}}, "trunk [] [20, 30]"},
			{fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 5, Trunk: vlanList("10-12")}, "native-untagged 5 [10, 11, 12]"},
			{fabric.PortVLAN{Mode: fabric.Trunk}, "trunk [] [4095]"},
			{fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 7}, "native-untagged 7 [4095]"},
			{fabric.PortVLAN{Mode: fabric.Trunk, Trunk: vlanList("1-4094")}, "trunk [] []"},
			{fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 4094}, "access 4094 []"},
		} {
			if _, err := s.SetPortVLAN(ctx, port, tc.v); err != nil {
				t.Fatalf("SetPortVLAN(%v): %v", tc.v, err)
			}
			if got := columns(sw, port); got != tc.columns {
				t.Errorf("after SetPortVLAN(%v) OVS has %q, want %q", tc.v, got, tc.columns)
			}
			got, err := s.PortVLAN(ctx, port)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.v) || !slicesEqualNil(got.Trunk, tc.v.Normalize().Trunk) {
				t.Errorf("PortVLAN after SetPortVLAN(%v) = %v", tc.v, got)
			}
		}
	})

	t.Run("ReturnsPreviousAndIsIdempotent", func(t *testing.T) {
		port := sw.AddPort("tag=10")
		a := fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10}
		b := fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 1, Trunk: []int{10, 20}}
		prev, err := s.SetPortVLAN(ctx, port, b)
		if err != nil || !prev.Equal(a) {
			t.Fatalf("SetPortVLAN = %v, %v; want prev %v", prev, err, a)
		}
		prev, err = s.SetPortVLAN(ctx, port, b)
		if err != nil || !prev.Equal(b) {
			t.Fatalf("repeated SetPortVLAN = %v, %v; want prev %v", prev, err, b)
		}
		prev, err = s.SetPortVLAN(ctx, port, prev)
		if err != nil || !prev.Equal(b) {
			t.Fatalf("restore = %v, %v", prev, err)
		}
	})

	t.Run("ReadsOVSSpellings", func(t *testing.T) {
		for _, tc := range []struct {
			settings []string
			want     fabric.PortVLAN
		}{
			{nil, fabric.PortVLAN{Mode: fabric.Trunk, Trunk: vlanList("1-4094")}},
			{[]string{"tag=10"}, fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10}},
			{[]string{"trunks=10,20"}, fabric.PortVLAN{Mode: fabric.Trunk, Trunk: []int{10, 20}}},
			{[]string{"trunks=0,10,4095"}, fabric.PortVLAN{Mode: fabric.Trunk, Trunk: []int{10}}},
			{[]string{"vlan_mode=native-untagged", "tag=3"}, fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 3, Trunk: vlanList("1-4094")}},
			{[]string{"vlan_mode=native-tagged", "tag=3", "trunks=10"}, fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 3, Trunk: []int{3, 10}}},
		} {
			port := sw.AddPort(tc.settings...)
			got, err := s.PortVLAN(ctx, port)
			if err != nil || !got.Equal(tc.want) {
				t.Errorf("port with %v: PortVLAN = %v, %v; want %v", tc.settings, got, err, tc.want)
			}
			// Setting what was read changes nothing, whatever the spelling.
			before := columns(sw, port)
			if prev, err := s.SetPortVLAN(ctx, port, got); err != nil || !prev.Equal(got) {
				t.Errorf("port with %v: SetPortVLAN(same) = %v, %v", tc.settings, prev, err)
			}
			if after := columns(sw, port); after != before {
				t.Errorf("port with %v: idempotent SetPortVLAN rewrote %q to %q", tc.settings, before, after)
			}
		}
	})

	t.Run("UnsupportedSettings", func(t *testing.T) {
		for _, settings := range [][]string{{"vlan_mode=dot1q-tunnel", "tag=10"}, {"vlan_mode=access"}, {"tag=0"}} {
			port := sw.AddPort(settings...)
			if _, err := s.PortVLAN(ctx, port); !errors.Is(err, fabric.ErrUnsupported) {
				t.Errorf("PortVLAN of port with %v: %v, want ErrUnsupported", settings, err)
			}
			if _, err := s.SetPortVLAN(ctx, port, fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 2}); !errors.Is(err, fabric.ErrUnsupported) {
				t.Errorf("SetPortVLAN of port with %v: %v, want ErrUnsupported", settings, err)
			}
		}
	})

	t.Run("UnknownPort", func(t *testing.T) {
		if _, err := s.PortVLAN(ctx, "no-such-port"); !errors.Is(err, fabric.ErrNotFound) {
			t.Errorf("PortVLAN: %v, want ErrNotFound", err)
		}
		_, err := s.SetPortVLAN(ctx, "no-such-port", fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 1})
		if !errors.Is(err, fabric.ErrNotFound) || !strings.Contains(err.Error(), "no-such-port") {
			t.Errorf("SetPortVLAN: %v, want ErrNotFound naming the port", err)
		}
	})

	t.Run("InvalidSetting", func(t *testing.T) {
		port := sw.AddPort("tag=10")
		for _, v := range []fabric.PortVLAN{
			{Mode: fabric.Access},
			{Mode: fabric.Access, AccessVLAN: 4095},
			{Mode: fabric.Trunk, Trunk: []int{0}},
			{Mode: fabric.Trunk, AccessVLAN: 3},
			{Mode: "hybrid"},
		} {
			if _, err := s.SetPortVLAN(ctx, port, v); !errors.Is(err, fabric.ErrInvalid) {
				t.Errorf("SetPortVLAN(%v): %v, want ErrInvalid", v, err)
			}
		}
		if got := columns(sw, port); got != "[] 10 []" {
			t.Errorf("invalid settings changed the port to %q", got)
		}
		if _, err := s.PortVLAN(ctx, ""); !errors.Is(err, fabric.ErrInvalid) {
			t.Errorf("PortVLAN(\"\"): %v, want ErrInvalid", err)
		}
	})

	t.Run("Cancelled", func(t *testing.T) {
		port := sw.AddPort("tag=10")
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := s.SetPortVLAN(cctx, port, fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 20})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("SetPortVLAN with a cancelled context: %v", err)
		}
		if got := columns(sw, port); got != "[] 10 []" {
			t.Errorf("cancelled SetPortVLAN changed the port to %q", got)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		const n = 6
		ports := make([]string, n)
		for i := range ports {
			ports[i] = sw.AddPort("tag=1")
		}
		var wg sync.WaitGroup
		errs := make(chan error, n*4)
		for i, p := range ports {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for round := 0; round < 4; round++ {
					v := fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 100*i + round + 1}
					if _, err := s.SetPortVLAN(ctx, p, v); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for i, p := range ports {
			if got := columns(sw, p); got != fmt.Sprintf("access %d []", 100*i+4) {
				t.Errorf("port %s: %q", p, got)
			}
		}
	})

	t.Run("ConcurrentOnOnePortReturnsChain", func(t *testing.T) {
		// Every writer's prev is what it replaced, so the prevs and the final
		// setting are the initial setting plus every written one, each once.
		port := sw.AddPort("tag=1")
		const n = 8
		prevs := make(chan int, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				prev, err := s.SetPortVLAN(ctx, port, fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10 + i})
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
		final, err := s.PortVLAN(ctx, port)
		if err != nil {
			t.Fatal(err)
		}
		seen[final.AccessVLAN]++
		if len(seen) != n+1 || seen[1] != 1 {
			t.Errorf("prevs plus final = %v, want 1 and 10..17 once each", seen)
		}
	})
}

func slicesEqualNil(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestUnreachableDatabase(t *testing.T) {
	ctx := context.Background()
	s := newSwitch(t, "unix:"+filepath.Join(t.TempDir(), "absent.sock"))
	if _, err := s.PortVLAN(ctx, "p1"); !errors.Is(err, fabric.ErrTransient) {
		t.Errorf("PortVLAN: %v, want ErrTransient", err)
	}
	if _, err := s.SetPortVLAN(ctx, "p1", fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 1}); !errors.Is(err, fabric.ErrTransient) {
		t.Errorf("SetPortVLAN: %v, want ErrTransient", err)
	}
}

func TestDatabaseGoesAway(t *testing.T) {
	t.Parallel() // its own switch
	sw := ovstest.Start(t)
	ctx := context.Background()
	s := newSwitch(t, sw.DB)
	port := sw.AddPort("tag=10")
	if _, err := s.PortVLAN(ctx, port); err != nil {
		t.Fatal(err)
	}
	sw.Stop()
	deadline := time.Now().Add(5 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if _, err = s.PortVLAN(ctx, port); err != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !errors.Is(err, fabric.ErrTransient) {
		t.Errorf("PortVLAN after ovsdb-server stopped: %v, want ErrTransient", err)
	}
}

// TestSSL reaches ovsdb-server over mutual TLS, as a remote management
// station does.
func TestSSL(t *testing.T) {
	t.Parallel() // its own switch
	sw := ovstest.Start(t, ovstest.WithSSL())
	port := sw.AddPort("tag=10")
	ctx := context.Background()
	s := newSwitch(t, sw.SSL, ovs.WithTLS(sw.ClientTLS()))
	prev, err := s.SetPortVLAN(ctx, port, fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 11})
	if err != nil || !prev.Equal(fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10}) {
		t.Fatalf("SetPortVLAN over TLS = %v, %v", prev, err)
	}
	if got := columns(sw, port); got != "access 11 []" {
		t.Errorf("port is %q", got)
	}
	// Without a client certificate ovsdb-server refuses the session.
	noCert := sw.ClientTLS()
	noCert.Certificates = nil
	bad := newSwitch(t, sw.SSL, ovs.WithTLS(noCert))
	if _, err := bad.PortVLAN(ctx, port); !errors.Is(err, fabric.ErrTransient) {
		t.Errorf("PortVLAN without a client certificate: %v, want ErrTransient", err)
	}
}

// TestApplyWait: without ovs-vswitchd the change is committed but never
// applied; SetPortVLAN says the outcome is unknown after WithApplyWait,
// and with WithApplyWait(0) it does not wait at all.
func TestApplyWait(t *testing.T) {
	t.Parallel() // its own switch
	sw := ovstest.Start(t)
	port := sw.AddPort("tag=10")
	sw.StopVswitchd()
	ctx := context.Background()

	s := newSwitch(t, sw.DB, ovs.WithApplyWait(300*time.Millisecond))
	start := time.Now()
	_, err := s.SetPortVLAN(ctx, port, fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 11})
	if !errors.Is(err, fabric.ErrOutcomeUnknown) {
		t.Errorf("SetPortVLAN without ovs-vswitchd: %v, want ErrOutcomeUnknown", err)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 3*time.Second {
		t.Errorf("SetPortVLAN gave up after %v, want about 300ms", took)
	}
	if got := columns(sw, port); got != "access 11 []" {
		t.Errorf("database holds %q, want the committed change", got)
	}

	noWait := newSwitch(t, sw.DB, ovs.WithApplyWait(0))
	prev, err := noWait.SetPortVLAN(ctx, port, fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 12})
	if err != nil || prev.AccessVLAN != 11 {
		t.Errorf("SetPortVLAN with WithApplyWait(0) = %v, %v", prev, err)
	}
}

func TestNew(t *testing.T) {
	for _, addr := range []string{"", "/run/openvswitch/db.sock", "ssl:1.2.3.4:6640", "unix:", "http://x"} {
		if _, err := ovs.New(addr); !errors.Is(err, fabric.ErrInvalid) {
			t.Errorf("New(%q): %v, want ErrInvalid", addr, err)
		}
	}
	if _, err := ovs.New("tcp:127.0.0.1:6640", ovs.WithTLS(&tls.Config{})); !errors.Is(err, fabric.ErrInvalid) {
		t.Errorf("WithTLS on a tcp: address: %v", err)
	}
	if _, err := ovs.New("tcp:127.0.0.1:6640", ovs.WithApplyWait(-1)); !errors.Is(err, fabric.ErrInvalid) {
		t.Errorf("negative apply wait: %v", err)
	}
	if _, err := ovs.New("tcp:127.0.0.1:6640", ovs.WithVswitchdControl("")); !errors.Is(err, fabric.ErrInvalid) {
		t.Errorf("empty control socket path: %v", err)
	}
}

// TestIsolation proves the effect on real traffic: two hosts on the same
// VLAN ping each other, stop when one port moves to another VLAN through
// the driver, and ping again when it is restored.
func TestIsolation(t *testing.T) {
	t.Parallel() // its own switch
	sw := ovstest.Start(t)
	h1 := sw.AddHost("10.99.0.1/24", "tag=10")
	h2 := sw.AddHost("10.99.0.2/24", "tag=10")
	s := newSwitch(t, sw.DB)
	ctx := context.Background()

	if !sw.Ping(h1, "10.99.0.2", 5) {
		t.Fatal("hosts on VLAN 10 cannot ping each other")
	}
	prev, err := s.SetPortVLAN(ctx, h2.Port, fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 20})
	if err != nil {
		t.Fatal(err)
	}
	if want := (fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10}); !prev.Equal(want) {
		t.Errorf("prev = %v, want %v", prev, want)
	}
	if sw.Ping(h1, "10.99.0.2", 2) {
		t.Fatal("hosts on VLANs 10 and 20 still ping each other")
	}
	// A trunk without VLAN 10 and native VLAN 20 is still isolated.
	if _, err := s.SetPortVLAN(ctx, h1.Port, fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 30, Trunk: []int{10}}); err != nil {
		t.Fatal(err)
	}
	if sw.Ping(h1, "10.99.0.2", 1) {
		t.Fatal("native VLAN 30 reaches access VLAN 20")
	}
	// A trunk with neither tagged VLANs nor a native one (trunks=[4095])
	// drops the untagged host's frames, even towards a trunk of all VLANs.
	if _, err := s.SetPortVLAN(ctx, h1.Port, fabric.PortVLAN{Mode: fabric.Trunk}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetPortVLAN(ctx, h2.Port, fabric.PortVLAN{Mode: fabric.Trunk, Trunk: vlanList("1-4094")}); err != nil {
		t.Fatal(err)
	}
	if sw.Ping(h1, "10.99.0.2", 1) {
		t.Fatal("a trunk without VLANs passes untagged frames")
	}
	if _, err := s.SetPortVLAN(ctx, h2.Port, fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 20}); err != nil {
		t.Fatal(err)
	}
	// Native VLAN 20 carries the untagged host's traffic to VLAN 20.
	if _, err := s.SetPortVLAN(ctx, h1.Port, fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 20, Trunk: []int{10}}); err != nil {
		t.Fatal(err)
	}
	if !sw.Ping(h1, "10.99.0.2", 5) {
		t.Fatal("native VLAN 20 does not reach access VLAN 20")
	}
	if _, err := s.SetPortVLAN(ctx, h1.Port, fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetPortVLAN(ctx, h2.Port, prev); err != nil {
		t.Fatal(err)
	}
	if !sw.Ping(h1, "10.99.0.2", 5) {
		t.Fatal("hosts restored to VLAN 10 cannot ping each other")
	}
}

// TestTrunkCarriesTaggedTraffic: a host behind a second switch reaches
// the first one over a trunk (a patch cable carrying 802.1Q tags, made by
// OVS since this kernel has no VLAN support). The driver decides which
// tagged VLANs the first switch's end of the cable accepts.
func TestTrunkCarriesTaggedTraffic(t *testing.T) {
	t.Parallel() // its own switch
	sw := ovstest.Start(t)
	far := sw.AddBridge()
	uplink, _ := sw.AddPatch(sw.Bridge, far, []string{"trunks=10"}, []string{"trunks=10"})
	sw.AddHost("10.99.0.1/24", "tag=10")
	h3 := sw.AddHostTo(far, "10.99.0.3/24", "tag=10")
	s := newSwitch(t, sw.DB)
	ctx := context.Background()

	if !sw.Ping(h3, "10.99.0.1", 5) {
		t.Fatal("VLAN 10 does not cross the trunk")
	}
	if _, err := s.SetPortVLAN(ctx, uplink, fabric.PortVLAN{Mode: fabric.Trunk, Trunk: []int{20, 30}}); err != nil {
		t.Fatal(err)
	}
	if sw.Ping(h3, "10.99.0.1", 1) {
		t.Fatal("VLAN 10 crosses a trunk of VLANs 20 and 30")
	}
	if _, err := s.SetPortVLAN(ctx, uplink, fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10}); err != nil {
		t.Fatal(err)
	}
	if sw.Ping(h3, "10.99.0.1", 1) {
		t.Fatal("tagged frames pass an access port")
	}
	if _, err := s.SetPortVLAN(ctx, uplink, fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 1, Trunk: []int{10, 20}}); err != nil {
		t.Fatal(err)
	}
	if !sw.Ping(h3, "10.99.0.1", 5) {
		t.Fatal("VLAN 10 does not cross a trunk of VLANs 10 and 20")
	}
}

// BenchmarkSetPortVLAN measures one change committed and applied by
// ovs-vswitchd (two settings alternated, so every call writes).
func BenchmarkSetPortVLAN(b *testing.B) {
	sw := ovstest.Start(b)
	s := newSwitch(b, sw.DB)
	port := sw.AddPort("tag=1")
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.SetPortVLAN(ctx, port, fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 2 + i%2}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPortVLAN measures one read.
func BenchmarkPortVLAN(b *testing.B) {
	sw := ovstest.Start(b)
	s := newSwitch(b, sw.DB)
	port := sw.AddPort("tag=1")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.PortVLAN(ctx, port); err != nil {
			b.Fatal(err)
		}
	}
}
