package failover_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

// A standby found running (left on by someone) must not get the failed
// server's boot disks: its running operating system would see them, and
// powering on a server that is on boots nothing, so the failover would
// report done with the workload not running. It is set aside and the
// next candidate takes over, or the disks stay home.
func TestASpareThatIsOnNeverGetsTheDisks(t *testing.T) {
	s := patentSite(t)
	if err := s.w.SetPower("srv02", bmc.PowerOn); err != nil {
		t.Fatal(err)
	}
	res := s.fail("srv01", bmc.FaultProcessor)
	spec, _ := s.w.Spec("srv02")
	for _, op := range s.w.Ops() {
		if op.Driver == fake.DriverStorage && op.Method != "Mappings" && strings.Contains(op.Args, spec.Initiators[0].String()) {
			t.Errorf("storage change for srv02: %v", op)
		}
	}
	st, _ := s.w.Server("srv02")
	if len(st.Volumes) != 0 {
		t.Errorf("srv02 (on) sees %v", st.Volumes)
	}
	if r := s.rec("srv02"); r.State != search.Maintenance || r.Workload != "" {
		t.Errorf("srv02 %+v", r)
	}
	if res.Outcome == failover.OutcomeDone {
		r := s.rec("srv01")
		st, _ := s.w.Server(string(r.MovedTo))
		if st.Power != bmc.PowerOn || st.BootVolume != "boot-srv01" {
			t.Errorf("done, but %s is %s booted from %q", r.MovedTo, st.Power, st.BootVolume)
		}
	} else if h := s.holders("array-1", "boot-srv01"); !slices.Equal(h, []string{"srv01"}) {
		t.Errorf("%s, boot-srv01 held by %v", res.Outcome, h)
	}
	s.checkWorld()
}
