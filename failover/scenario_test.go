package failover_test

import (
	"slices"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

func TestExactSpareTakesOverDisksZonesAndVLAN(t *testing.T) {
	s := patentSite(t)
	res := s.fail("srv01", bmc.FaultProcessor)
	if res.Err != nil || res.Outcome != failover.OutcomeDone {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	if res.Plan.Kind != search.Exact || res.Plan.Assignments[0].Spare != "srv02" {
		t.Fatalf("plan = %v", res.Plan)
	}
	// The world: srv01 off, srv02 on, booted from srv01's boot volume at
	// LUN 0, holding its data volume at LUN 1, in its zone, on its VLAN.
	if p := s.w.Power("srv01"); p != bmc.PowerOff {
		t.Errorf("srv01 is %s", p)
	}
	st, _ := s.w.Server("srv02")
	if st.Power != bmc.PowerOn || st.BootVolume != "boot-srv01" {
		t.Errorf("srv02: power %s boot volume %q", st.Power, st.BootVolume)
	}
	for _, v := range []string{"boot-srv01", "data-srv01"} {
		if h := s.holders("array-1", v); !slices.Equal(h, []string{"srv02"}) {
			t.Errorf("%s held by %v", v, h)
		}
	}
	spec, _ := s.w.Spec("srv02")
	if z := s.w.ActiveZonesOf("fab-1", spec.Initiators[0]); !slices.Equal(z, []string{"z-srv01"}) {
		t.Errorf("srv02 zones %v", z)
	}
	old, _ := s.w.Spec("srv01")
	if z := s.w.ActiveZonesOf("fab-1", old.Initiators[0]); len(z) != 0 {
		t.Errorf("srv01 still zoned: %v", z)
	}
	if v, _ := s.w.PortVLAN("sw-1", spec.SwitchPorts[0]); !v.Equal(fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10}) {
		t.Errorf("srv02 port VLAN %v", v)
	}
	// The store.
	if r := s.rec("srv02"); r.State != search.Active || r.Workload != "web" || r.Home != "srv01" || r.Zone != "z-srv01" {
		t.Errorf("srv02 record %+v", r)
	}
	if r := s.rec("srv01"); r.State != search.Failed || r.MovedTo != "srv02" {
		t.Errorf("srv01 record %+v", r)
	}
	s.checkWorld()
}

func TestRecomposedLogicalServer(t *testing.T) {
	s := patentSite(t)
	sc := s.scenario("recompose")
	res := s.fail(sc.Fail[0], sc.Fault)
	if res.Err != nil || res.Outcome != failover.OutcomeDone {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	if res.Plan.Kind != search.Recomposed || !res.Plan.Compose {
		t.Fatalf("plan = %v", res.Plan)
	}
	var got []string
	for _, a := range res.Plan.Assignments {
		got = append(got, string(a.Spare))
	}
	if !slices.Equal(got, sc.WantSpares) {
		t.Fatalf("spares %v, want %v", got, sc.WantSpares)
	}
	// Both old members off; the composed logical server exists and runs
	// with the old members' volumes.
	for _, id := range sc.Fail {
		if p := s.w.Power(id); p != bmc.PowerOff {
			t.Errorf("%s is %s", id, p)
		}
	}
	found := false
	for _, ls := range s.w.LogicalServers() {
		if slices.Equal(ls.Members, []string{"srv10", "srv11"}) {
			found = true
		}
	}
	if !found {
		t.Errorf("srv10+srv11 not composed: %v", s.w.LogicalServers())
	}
	if h := s.holders("array-1", "boot-srv03"); !slices.Equal(h, []string{"srv10"}) {
		t.Errorf("boot-srv03 held by %v", h)
	}
	if h := s.holders("array-1", "boot-srv04"); !slices.Equal(h, []string{"srv11"}) {
		t.Errorf("boot-srv04 held by %v", h)
	}
	for _, id := range []string{"srv10", "srv11"} {
		if r := s.rec(id); r.State != search.Active || r.Workload != "db" || r.Partition == "" {
			t.Errorf("%s record %+v", id, r)
		}
		if p := s.w.Power(id); p != bmc.PowerOn {
			t.Errorf("%s is %s", id, p)
		}
	}
	// A trunk port setting moved too.
	spec, _ := s.w.Spec("srv10")
	if v, _ := s.w.PortVLAN("sw-1", spec.SwitchPorts[0]); v.Mode != fabric.Trunk {
		t.Errorf("srv10 port %v", v)
	}
	s.checkWorld()
}

func TestPolicyLetsABiggerServerTakeOver(t *testing.T) {
	s := patentSite(t)
	sc := s.scenario("relaxed")
	res := s.fail(sc.Fail[0], sc.Fault)
	if res.Err != nil || res.Outcome != failover.OutcomeDone {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	if res.Plan.Kind != search.Relaxed || res.Plan.Assignments[0].Spare != "srv12" {
		t.Fatalf("plan = %v", res.Plan)
	}
	if h := s.holders("array-1", "boot-srv05"); !slices.Equal(h, []string{"srv12"}) {
		t.Errorf("boot-srv05 held by %v", h)
	}
	if r := s.rec("srv12"); r.Workload != "app" || r.State != search.Active {
		t.Errorf("srv12 %+v", r)
	}
	s.checkWorld()
}

func TestPreemptionRelocatesTheVictim(t *testing.T) {
	s := patentSite(t)
	sc := s.scenario("preempt")
	res := s.fail(sc.Fail[0], sc.Fault)
	if res.Err != nil || res.Outcome != failover.OutcomeDone {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	if res.Plan.Kind != search.Preempted || len(res.Plan.Preemptions) != 1 || res.Plan.Preemptions[0].RelocateTo != "srv08" {
		t.Fatalf("plan = %v", res.Plan)
	}
	// trading runs on srv07 from srv06's disks; batch runs on srv08 from
	// srv07's disks.
	if h := s.holders("array-1", "boot-srv06"); !slices.Equal(h, []string{"srv07"}) {
		t.Errorf("boot-srv06 held by %v", h)
	}
	if h := s.holders("array-1", "boot-srv07"); !slices.Equal(h, []string{"srv08"}) {
		t.Errorf("boot-srv07 held by %v", h)
	}
	for id, vol := range map[string]string{"srv07": "boot-srv06", "srv08": "boot-srv07"} {
		st, _ := s.w.Server(id)
		if st.Power != bmc.PowerOn || string(st.BootVolume) != vol {
			t.Errorf("%s: %s booted %q, want %s", id, st.Power, st.BootVolume, vol)
		}
	}
	v := s.rec("srv07")
	if v.Workload != "trading" || v.MovedTo != "srv08" || v.Priority != 9 {
		t.Errorf("victim record %+v", v)
	}
	if r := s.rec("srv08"); r.Workload != "batch" || r.Home != "srv07" {
		t.Errorf("srv08 record %+v", r)
	}
	s.checkWorld()
}

func TestPreemptionWithoutRelocationStopsAndParksTheVictim(t *testing.T) {
	s := patentSite(t)
	// Without srv08, batch has nowhere to go: it is only stopped.
	if err := updateRecord(s, "srv08", func(r *failover.Record) { r.State = search.Maintenance }); err != nil {
		t.Fatal(err)
	}
	res := s.fail("srv06", bmc.FaultOSStop)
	if res.Err != nil || res.Outcome != failover.OutcomeDone {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	if len(res.Plan.Preemptions) != 1 || res.Plan.Preemptions[0].RelocateTo != "" {
		t.Fatalf("plan = %v", res.Plan)
	}
	if h := s.holders("array-1", "boot-srv07"); len(h) != 0 {
		t.Errorf("boot-srv07 held by %v, want parked", h)
	}
	v := s.rec("srv07")
	if v.Workload != "trading" || v.MovedTo != "" || len(v.Parked) != 1 || v.Parked[0].Volume != "boot-srv07" || v.Parked[0].LUN != 0 {
		t.Errorf("victim record %+v", v)
	}
	st, _ := s.w.Server("srv07")
	if st.BootVolume != "boot-srv06" {
		t.Errorf("srv07 booted %q", st.BootVolume)
	}
	s.checkWorld()
}
