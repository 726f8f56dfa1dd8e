package openconfig_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	gnmipb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/coldstandby/coldstandby/drivers/openconfig"
	"github.com/coldstandby/coldstandby/drivers/openconfig/gnmitest"
	"github.com/coldstandby/coldstandby/fabric"
)

// The files in testdata hold VLAN values as Arista EOS and SONiC send and
// take them, from clients and documents written by others;
// testdata/README.md names each source.

type recorded struct {
	Get []struct {
		What  string
		Value json.RawMessage
		Want  struct {
			Mode           string
			Access, Native int
			Trunk          string
		}
	}
	Set []struct {
		What, Op string
		Path     []string
		Value    json.RawMessage
		Want     struct {
			Mode   string
			Native int
			Trunk  []any
		}
	}
}

func loadRecorded(t *testing.T, name string) recorded {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var r recorded
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

// canned is a gNMI target that answers every Get with one recorded
// JSON_IETF value at the requested path.
type canned struct {
	gnmipb.UnimplementedGNMIServer
	val []byte
}

func (c *canned) Get(_ context.Context, req *gnmipb.GetRequest) (*gnmipb.GetResponse, error) {
	n := &gnmipb.Notification{Prefix: req.GetPrefix()}
	for _, p := range req.GetPath() {
		n.Update = append(n.Update, &gnmipb.Update{Path: p, Val: &gnmipb.TypedValue{Value: &gnmipb.TypedValue_JsonIetfVal{JsonIetfVal: c.val}}})
	}
	return &gnmipb.GetResponse{Notification: []*gnmipb.Notification{n}}, nil
}

func cannedSwitch(t *testing.T, val []byte) *openconfig.Switch {
	t.Helper()
	lis := bufconn.Listen(1 << 16)
	srv := grpc.NewServer()
	gnmipb.RegisterGNMIServer(srv, &canned{val: val})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///canned", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s, err := openconfig.New(conn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReadsRecordedValues: Get values as EOS and SONiC answer them
// (module-qualified leaves or the wrapped container, trunk-vlans as
// numbers and "x..y" strings or one number per VLAN, SONiC's untagged
// VLAN of a trunk as access-vlan) read as the settings they stand for.
func TestReadsRecordedValues(t *testing.T) {
	for _, file := range []string{"eos.json", "sonic.json"} {
		for _, g := range loadRecorded(t, file).Get {
			t.Run(file+"/"+g.What, func(t *testing.T) {
				want := fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: g.Want.Access}
				if g.Want.Mode == "trunk" {
					want = fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: g.Want.Native, Trunk: vlans(g.Want.Trunk)}
				}
				got, err := cannedSwitch(t, g.Value).PortVLAN(context.Background(), "Ethernet1")
				if err != nil || !got.Equal(want) {
					t.Errorf("PortVLAN of %s = %v, %v; want %v", g.Value, got, err, want)
				}
			})
		}
	}
}

func pathOf(t *testing.T, elems []string) *gnmipb.Path {
	t.Helper()
	p := &gnmipb.Path{}
	for _, e := range elems {
		name, key, ok := strings.Cut(e, "[")
		pe := &gnmipb.PathElem{Name: name}
		if ok {
			k, v, _ := strings.Cut(strings.TrimSuffix(key, "]"), "=")
			pe.Key = map[string]string{k: v}
		}
		p.Elem = append(p.Elem, pe)
	}
	return p
}

// TestReplayRecordedSets: the Set requests EOS's and SONiC's clients send
// are taken by the test server in the matching dialect as by the device,
// and a numeric string, which only EOS takes, is refused by a target that
// follows the model.
func TestReplayRecordedSets(t *testing.T) {
	for _, tc := range []struct {
		file    string
		dialect gnmitest.Dialect
		port    string
	}{
		{"eos.json", gnmitest.EOS, "Ethernet4/1"},
		{"sonic.json", gnmitest.SONiC, "Ethernet0"},
	} {
		for _, st := range loadRecorded(t, tc.file).Set {
			srv := gnmitest.Start(t, gnmitest.WithDialect(tc.dialect))
			srv.AddInterface(tc.port, &gnmitest.Config{Mode: "TRUNK", TrunkVLANs: []any{1}})
			conn, err := grpc.NewClient(srv.Target(), srv.DialOption(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			c := gnmipb.NewGNMIClient(conn)
			up := &gnmipb.Update{Path: pathOf(t, st.Path), Val: &gnmipb.TypedValue{Value: &gnmipb.TypedValue_JsonIetfVal{JsonIetfVal: st.Value}}}
			req := &gnmipb.SetRequest{Update: []*gnmipb.Update{up}}
			if st.Op == "replace" {
				req = &gnmipb.SetRequest{Replace: []*gnmipb.Update{up}}
			}
			if _, err := c.Set(context.Background(), req); err != nil {
				t.Errorf("%s: %s: %v", tc.file, st.What, err)
				continue
			}
			got, _ := srv.Interface(tc.port)
			var trunk []any
			for _, x := range st.Want.Trunk {
				if f, ok := x.(float64); ok {
					x = int(f)
				}
				trunk = append(trunk, x)
			}
			if got.Mode != st.Want.Mode || got.NativeVLAN != st.Want.Native || !reflect.DeepEqual(got.TrunkVLANs, trunk) {
				t.Errorf("%s: %s: the switch holds %+v, want mode %s native %d trunk %v", tc.file, st.What, got, st.Want.Mode, st.Want.Native, trunk)
			}
		}
	}
	strict := gnmitest.Start(t)
	strict.AddInterface("Ethernet1", &gnmitest.Config{Mode: "TRUNK", TrunkVLANs: []any{5}})
	conn, err := grpc.NewClient(strict.Target(), strict.DialOption(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = gnmipb.NewGNMIClient(conn).Set(context.Background(), &gnmipb.SetRequest{Replace: []*gnmipb.Update{{
		Path: pathOf(t, []string{"interfaces", "interface[name=Ethernet1]", "ethernet", "switched-vlan", "config", "trunk-vlans"}),
		Val:  &gnmipb.TypedValue{Value: &gnmipb.TypedValue_JsonIetfVal{JsonIetfVal: []byte(`["1005"]`)}},
	}}})
	if err == nil {
		t.Error(`a target that follows openconfig-vlan-types took "1005" as a trunk VLAN`)
	}
}

// TestDialects: the driver's writes read back as written on every
// dialect; on SONiC, which has no native-vlan, only with
// WithNativeVLANAsAccessVLAN (without it the switch drops the native VLAN
// and the driver says so when it reads back).
func TestDialects(t *testing.T) {
	settings := []fabric.PortVLAN{
		{Mode: fabric.Access, AccessVLAN: 10},
		{Mode: fabric.Trunk, NativeVLAN: 7, Trunk: []int{30, 10, 20, 21, 22}},
		{Mode: fabric.Trunk, NativeVLAN: 1, Trunk: []int{5}},
		{Mode: fabric.Trunk, NativeVLAN: 1, Trunk: vlans("1-4094")},
		{Mode: fabric.Access, AccessVLAN: 4094},
	}
	for _, tc := range dialects {
		t.Run(tc.name, func(t *testing.T) {
			for _, lag := range []bool{false, true} {
				srv := start(t, gnmitest.WithDialect(tc.dialect))
				port := "Ethernet1"
				if lag {
					port = "PortChannel5"
					srv.AddLAG(port, &gnmitest.Config{Mode: "ACCESS", AccessVLAN: 1})
				} else {
					srv.AddInterface(port, &gnmitest.Config{Mode: "ACCESS", AccessVLAN: 1})
				}
				s := dial(t, srv, tc.opts...)
				ctx := context.Background()
				for _, v := range settings {
					if _, err := s.SetPortVLAN(ctx, port, v); err != nil {
						t.Fatalf("%s: SetPortVLAN(%v): %v", port, v, err)
					}
					got, err := s.PortVLAN(ctx, port)
					if err != nil || !got.Equal(v) {
						t.Fatalf("%s: after SetPortVLAN(%v), PortVLAN = %v, %v", port, v, got, err)
					}
					if c, _ := srv.Interface(port); v.Mode == fabric.Trunk && c.NativeVLAN != v.NativeVLAN {
						t.Fatalf("%s: the switch has native VLAN %d, want %d", port, c.NativeVLAN, v.NativeVLAN)
					}
				}
			}
		})
	}
	// Without the option, SONiC drops the native VLAN of an Ethernet port.
	srv := start(t, gnmitest.WithDialect(gnmitest.SONiC))
	srv.AddInterface("Ethernet1", &gnmitest.Config{Mode: "ACCESS", AccessVLAN: 1})
	s := dial(t, srv)
	v := fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 7, Trunk: []int{10}}
	if _, err := s.SetPortVLAN(context.Background(), "Ethernet1", v); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.PortVLAN(context.Background(), "Ethernet1"); got.Equal(v) {
		t.Fatal("SONiC kept a native-vlan leaf; the dialect is not modelled")
	}
}

// TestModulePrefixes: with WithModulePrefixes the driver's paths are
// those SONiC's design doc shows.
func TestModulePrefixes(t *testing.T) {
	srv := start(t, gnmitest.WithDialect(gnmitest.SONiC))
	srv.AddInterface("Ethernet0", &gnmitest.Config{Mode: "ACCESS", AccessVLAN: 1})
	srv.AddLAG("PortChannel100", &gnmitest.Config{Mode: "ACCESS", AccessVLAN: 1})
	s := dial(t, srv, openconfig.WithModulePrefixes(), openconfig.WithNativeVLANAsAccessVLAN(), openconfig.WithTarget("OC-YANG"))
	ctx := context.Background()
	for port, want := range map[string]string{
		"Ethernet0":      "/openconfig-interfaces:interfaces/interface/openconfig-if-ethernet:ethernet/openconfig-vlan:switched-vlan/config",
		"PortChannel100": "/openconfig-interfaces:interfaces/interface/openconfig-if-aggregate:aggregation/openconfig-vlan:switched-vlan/config",
	} {
		if _, err := s.SetPortVLAN(ctx, port, fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 10, Trunk: []int{20, 30}}); err != nil {
			t.Fatalf("%s: %v", port, err)
		}
		var got strings.Builder
		for _, e := range srv.LastSet().GetReplace()[0].GetPath().GetElem() {
			got.WriteString("/" + e.GetName())
		}
		if got.String() != want {
			t.Errorf("%s: path %s, want %s", port, got.String(), want)
		}
		if c, _ := srv.Interface(port); c.NativeVLAN != 10 {
			t.Errorf("%s: the switch has %+v", port, c)
		}
	}
}

// TestTargetOnlyInPrefix: WithTarget names the target in the request's
// prefix; the gNMI specification (2.2.2.1) allows it nowhere else.
func TestTargetOnlyInPrefix(t *testing.T) {
	srv := start(t)
	srv.AddInterface("Ethernet1", &gnmitest.Config{Mode: "ACCESS", AccessVLAN: 3})
	s := dial(t, srv, openconfig.WithTarget("OC-YANG"))
	ctx := context.Background()
	if got, err := s.PortVLAN(ctx, "Ethernet1"); err != nil || got.AccessVLAN != 3 {
		t.Fatalf("PortVLAN with a target: %v, %v", got, err)
	}
	if _, err := s.SetPortVLAN(ctx, "Ethernet1", fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 4}); err != nil {
		t.Fatalf("SetPortVLAN with a target: %v", err)
	}
	req := srv.LastSet()
	if req.GetPrefix().GetTarget() != "OC-YANG" {
		t.Errorf("Set prefix %v, want target OC-YANG", req.GetPrefix())
	}
	for _, u := range req.GetReplace() {
		if u.GetPath().GetTarget() != "" {
			t.Errorf("target in an update path: %v", u.GetPath())
		}
	}
}
