package fakesite_test

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/drivers/fake/fakesite"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
	"github.com/coldstandby/coldstandby/failover/site"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

const demoFile = "../../../examples/site/demo.yaml"

func load(t *testing.T, path string) *site.Site {
	t.Helper()
	s, err := site.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// orchestrator builds the site's world, a store with its records and an
// Orchestrator over them, in virtual time.
func orchestrator(t *testing.T, s *site.Site) (*fake.World, failover.Store, *failover.Orchestrator) {
	t.Helper()
	ctx := context.Background()
	clock := fake.NewClock(failovertest.Epoch)
	recs, err := s.Records()
	if err != nil {
		t.Fatal(err)
	}
	w, err := fakesite.World(s, recs, fake.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	st := failover.NewMemStore()
	if _, err := st.Put(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	o, err := failover.New(st, fakesite.Drivers(w, s), append(s.Options(), failover.WithClock(clock))...)
	if err != nil {
		t.Fatal(err)
	}
	return w, st, o
}

// The demo site describes the same data centre as fake.PatentExample: the
// same records (the fake BMC is found by ID instead of endpoint).
func TestDemoSiteRecordsArePatentExample(t *testing.T) {
	s := load(t, demoFile)
	got, err := s.Records()
	if err != nil {
		t.Fatal(err)
	}
	world, _ := fake.PatentExample()
	want := failovertest.Records(world)
	for i := range want {
		want[i].BMC.Endpoint = ""
	}
	if !reflect.DeepEqual(got, want) {
		for i := range min(len(got), len(want)) {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("record %s:\n got %+v\nwant %+v", want[i].ID, got[i], want[i])
			}
		}
		if len(got) != len(want) {
			t.Errorf("%d records, want %d", len(got), len(want))
		}
	}
}

// Each of the patent's scenarios, played on the world built from the demo
// site with the site's options, picks the spares the example was built
// for and keeps the safety invariants.
func TestDemoSitePlaysThePatentScenarios(t *testing.T) {
	s := load(t, demoFile)
	w, st, o := orchestrator(t, s)
	_, layout := fake.PatentExample()
	ctx := context.Background()
	for _, sc := range layout.Scenarios {
		if err := w.FailServer(sc.Fail[0], sc.Fault); err != nil {
			t.Fatal(err)
		}
		res, err := o.HandleFault(ctx, bmc.Fault{Server: sc.Fail[0], Type: sc.Fault})
		if err != nil {
			t.Fatalf("%s: %v", sc.Name, err)
		}
		var spares []string
		for _, a := range res.Plan.Assignments {
			spares = append(spares, string(a.Spare))
		}
		if !slices.Equal(spares, sc.WantSpares) {
			t.Errorf("%s: spares %v, want %v (plan %s)", sc.Name, spares, sc.WantSpares, res.Plan)
		}
		if err := w.CheckInvariants(nil); err != nil {
			t.Errorf("%s: %v", sc.Name, err)
		}
	}
	// The world rebuilt from the store's records is the world the
	// failovers left: what a new process of the command sees.
	recs, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, err := fakesite.World(s, recs)
	if err != nil {
		t.Fatal(err)
	}
	compareWorlds(t, s, w, again)
}

func compareWorlds(t *testing.T, s *site.Site, want, got *fake.World) {
	t.Helper()
	for _, a := range s.Arrays {
		if g, w := got.Masking(a.Name), want.Masking(a.Name); !reflect.DeepEqual(g, w) {
			t.Errorf("array %s masking:\n got %v\nwant %v", a.Name, g, w)
		}
	}
	for _, f := range s.Fabrics {
		if g, w := got.ActiveZones(f.Name), want.ActiveZones(f.Name); !reflect.DeepEqual(g, w) {
			t.Errorf("fabric %s zones:\n got %v\nwant %v", f.Name, g, w)
		}
	}
	for _, sv := range want.Servers() {
		gs, _ := got.Server(sv.ID)
		ws, _ := want.Server(sv.ID)
		if gs.Power != ws.Power || !reflect.DeepEqual(gs.PortVLANs, ws.PortVLANs) || gs.Partition != ws.Partition {
			t.Errorf("server %s: got power %s VLANs %v partition %q, want %s %v %q", sv.ID, gs.Power, gs.PortVLANs, gs.Partition, ws.Power, ws.PortVLANs, ws.Partition)
		}
	}
}

// A site with dual A/B fabrics: each HBA is zoned on its own fabric with
// the array's target port there, and a failover moves both.
func TestDualFabricSiteFailsOver(t *testing.T) {
	s := load(t, "testdata/dual.yaml")
	w, _, o := orchestrator(t, s)
	for _, tc := range []struct{ fabric, wwpn, want string }{
		{"fab-a", "21:00:00:24:ff:10:01:01", "z-r01"},
		{"fab-b", "21:00:00:24:ff:10:01:02", "z-r01"},
		{"fab-a", "50:0a:09:81:00:00:00:01", "z-r01"},
		{"fab-b", "50:0a:09:82:00:00:00:01", "z-r01"},
	} {
		if got := zonesOf(w, tc.fabric, tc.wwpn); !slices.Contains(got, tc.want) {
			t.Errorf("%s on %s: zones %v, want %s", tc.wwpn, tc.fabric, got, tc.want)
		}
	}
	ctx := context.Background()
	if err := w.FailServer("r01", bmc.FaultMemory); err != nil {
		t.Fatal(err)
	}
	res, err := o.HandleFault(ctx, bmc.Fault{Server: "r01", Type: bmc.FaultMemory})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Plan.Assignments) != 1 || res.Plan.Assignments[0].Spare != "r02" {
		t.Fatalf("plan %s, want r01 -> r02", res.Plan)
	}
	for _, tc := range []struct{ fabric, wwpn string }{{"fab-a", "21:00:00:24:ff:10:02:01"}, {"fab-b", "21:00:00:24:ff:10:02:02"}} {
		if got := zonesOf(w, tc.fabric, tc.wwpn); !slices.Equal(got, []string{"z-r01"}) {
			t.Errorf("spare %s on %s: zones %v, want [z-r01]", tc.wwpn, tc.fabric, got)
		}
	}
	st, _ := w.Server("r02")
	if st.BootVolume != "r01-boot" {
		t.Errorf("r02 booted from %q, want r01-boot", st.BootVolume)
	}
	if err := w.CheckInvariants(nil); err != nil {
		t.Error(err)
	}
}

func zonesOf(w *fake.World, fabric, wwpn string) []string {
	return w.ActiveZonesOf(fabric, storage.MustParseInitiator(wwpn))
}

// Parked volumes and a failed server's moved workload are rebuilt where
// the records say they are.
func TestWorldFollowsRuntimeState(t *testing.T) {
	s := load(t, "testdata/dual.yaml")
	recs, err := s.Records()
	if err != nil {
		t.Fatal(err)
	}
	by := map[search.ServerID]*failover.Record{}
	for i := range recs {
		by[recs[i].ID] = &recs[i]
	}
	// r01 failed over to r02; r03 was preempted and its volumes parked.
	by["r01"].State, by["r01"].MovedTo, by["r01"].Workload = search.Failed, "r02", ""
	by["r02"].State, by["r02"].Workload, by["r02"].Home, by["r02"].Zone = search.Active, "erp", "r01", "z-r01"
	by["r03"].State, by["r03"].Workload = search.Failed, ""
	by["r03"].Parked = []failover.ParkedVolume{{Array: "array-b", Volume: "r03-boot", LUN: 0}}
	w, err := fakesite.World(s, recs)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := w.Server("r02")
	if st.Power != bmc.PowerOn || len(st.Volumes) != 2 || st.Volumes[0].Volume != "r01-boot" || st.Volumes[1].LUN != 1 {
		t.Errorf("r02: power %s volumes %v, want on with r01's two volumes", st.Power, st.Volumes)
	}
	if st, _ := w.Server("r01"); st.Power != bmc.PowerOff || len(st.Volumes) != 0 {
		t.Errorf("r01: power %s volumes %v, want off with none", st.Power, st.Volumes)
	}
	if !slices.Contains(w.Volumes("array-b"), "r03-boot") || len(w.VolumeHolders("array-b", "r03-boot")) != 0 {
		t.Errorf("r03-boot: volumes %v holders %v, want parked (held by none)", w.Volumes("array-b"), w.VolumeHolders("array-b", "r03-boot"))
	}
}

func TestWorldRefusesNICsOnTwoSwitches(t *testing.T) {
	s := load(t, "testdata/dual.yaml")
	recs, _ := s.Records()
	i := slices.IndexFunc(recs, func(r failover.Record) bool { return r.ID == "r01" })
	recs[i].NICs[1].Switch = "leaf-2"
	if _, err := fakesite.World(s, recs); err == nil {
		t.Error("a server cabled to two switches was simulated")
	}
}
