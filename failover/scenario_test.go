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
