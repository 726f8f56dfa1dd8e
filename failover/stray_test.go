package failover_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// A stray is a volume of another server masked to a server a failover
// holds: another failover's Map that landed late, after that failover
// had checked the host (simulation seed 8836: s0010's late Map put
// s0010-boot at LUN 0 of s0007 while s0009's failover held s0007 as its
// victim, and s0009's rollback could not give s0007 its boot volume
// back). These tests place such a stray by hand at a precise call.

// strayOnto maps vol (held by its own server) to server id at lun from
// outside any failover, as a late landing would.
func strayOnto(t *testing.T, s *site, vol storage.VolumeID, id string, lun int) func() {
	return func() {
		spec, _ := s.w.Spec(id)
		dm := failovertest.Drivers(s.w).DiskMappers["array-1"]
		if err := dm.Map(context.Background(), vol, spec.Initiators, lun); err != nil {
			t.Errorf("placing the stray: %v", err)
		}
	}
}

// strayWorld is checkWorld that excuses the moment of I2 the stray
// itself makes (the end state is still checked).
func strayWorld(t *testing.T, s *site, vol string) {
	t.Helper()
	if err := checkWorldExcept(s.w, s.base, s.store, func(v fake.Violation) bool {
		return v.Invariant == "I2" && string(v.Volume) == vol
	}); err != nil {
		t.Fatal(err)
	}
}

// A victim whose boot LUN another server's volume took while it was
// parked gets its volume back when the failover rolls back: the stray,
// which its own server still sees, is taken off the victim, which the
// failover holds and has fenced.
func TestRollbackTakesAStrayOffAVictimItHolds(t *testing.T) {
	s := patentSite(t, failover.WithInitiatorSwap(false))
	if err := updateRecord(s, "srv08", func(r *failover.Record) { r.State = search.Maintenance }); err != nil {
		t.Fatal(err)
	}
	// Moving srv06's boot volume to the victim fails for good; when it
	// fails, boot-srv01 (srv01 runs from it) lands on srv07 at LUN 0,
	// where srv07's parked boot volume goes back.
	if _, err := s.w.Inject(fake.Fault{Driver: fake.DriverStorage, Method: "Map", Target: "boot-srv06", Err: storage.ErrInvalid, Times: 1,
		Then: strayOnto(t, s, "boot-srv01", "srv07", 0)}); err != nil {
		t.Fatal(err)
	}
	res := s.fail("srv06", bmc.FaultOSStop)
	if res.Outcome == failover.OutcomeInterrupted || res.Outcome == failover.OutcomeDone {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	if h := s.holders("array-1", "boot-srv01"); !slices.Equal(h, []string{"srv01"}) {
		t.Errorf("boot-srv01 held by %v", h)
	}
	if h := s.holders("array-1", "boot-srv07"); !slices.Equal(h, []string{"srv07"}) {
		t.Errorf("boot-srv07 held by %v", h)
	}
	if u, err := s.store.Unfinished(context.Background()); err != nil || len(u) != 0 {
		t.Errorf("unfinished %v, %v", u, err)
	}
	strayWorld(t, s, "boot-srv01")
}

// A spare that sees a volume besides the failed server's when it is
// about to boot would make two writers: a stray that its own server
// still sees is taken off first, and the spare boots with only its
// disks.
func TestASpareBootsWithoutAStray(t *testing.T) {
	s := patentSite(t, failover.WithInitiatorSwap(false))
	if _, err := s.w.Inject(fake.Fault{Driver: fake.DriverStorage, Method: "Map", Target: "boot-srv01", Times: 1,
		Then: strayOnto(t, s, "boot-srv05", "srv02", 7)}); err != nil {
		t.Fatal(err)
	}
	res := s.fail("srv01", bmc.FaultProcessor)
	if res.Outcome != failover.OutcomeDone || res.Plan.Assignments[0].Spare != "srv02" {
		t.Fatalf("outcome %s %v: %v", res.Outcome, res.Plan, res.Err)
	}
	if h := s.holders("array-1", "boot-srv05"); !slices.Equal(h, []string{"srv05"}) {
		t.Errorf("boot-srv05 held by %v", h)
	}
	st, _ := s.w.Server("srv02")
	if st.Power != bmc.PowerOn || st.BootVolume != "boot-srv01" || slices.ContainsFunc(st.Volumes, func(m storage.Mapping) bool { return m.Volume == "boot-srv05" }) {
		t.Errorf("srv02 %s, booted %q, sees %v", st.Power, st.BootVolume, st.Volumes)
	}
	strayWorld(t, s, "boot-srv05")
}

// A volume that no other server sees is nobody's stray to remove: it may
// be the only path to its data. The spare that sees it does not boot,
// and the error says where the volume is.
func TestASpareThatHoldsAnotherServersOnlyCopyDoesNotBoot(t *testing.T) {
	s := patentSite(t, failover.WithInitiatorSwap(false))
	if _, err := s.w.Inject(fake.Fault{Driver: fake.DriverStorage, Method: "Map", Target: "boot-srv01", Times: 1,
		Then: func() {
			spec, _ := s.w.Spec("srv05")
			dm := failovertest.Drivers(s.w).DiskMappers["array-1"]
			if err := dm.Unmap(context.Background(), "boot-srv05", spec.Initiators); err != nil {
				t.Errorf("unmapping: %v", err)
			}
			strayOnto(t, s, "boot-srv05", "srv02", 7)()
		}}); err != nil {
		t.Fatal(err)
	}
	res := s.fail("srv01", bmc.FaultProcessor)
	for _, op := range s.w.Ops() {
		if op.Driver == fake.DriverBMC && op.Method == "PowerOn" && op.Target == "srv02" && op.Err == nil {
			t.Errorf("srv02 powered on while it saw boot-srv05: %v", op)
		}
	}
	if res.Outcome == failover.OutcomeDone && res.Plan.Assignments[0].Spare == "srv02" {
		t.Fatalf("srv02 took srv01's work: %v", res.Plan)
	}
	if res.Err == nil || !strings.Contains(res.Err.Error(), "boot-srv05") {
		t.Errorf("error does not name the volume: %v", res.Err)
	}
	if h := s.holders("array-1", "boot-srv05"); !slices.Equal(h, []string{"srv02"}) {
		t.Errorf("boot-srv05 held by %v, want left on srv02", h)
	}
}

// A server an earlier attempt released is not this failover's to fence:
// when a write of that attempt turns up on it late, the volume is taken
// off it, and the server (which someone may run by now) keeps its power.
func TestAReleasedSpareIsNeverFencedAgain(t *testing.T) {
	s := patentSite(t, failover.WithInitiatorSwap(false))
	// srv02 does not boot: the failover rolls back and releases it.
	if _, err := s.w.Inject(fake.Fault{Driver: fake.DriverBMC, Method: "PowerOn", Target: "srv02", Err: bmc.ErrUnsupported}); err != nil {
		t.Fatal(err)
	}
	// Once srv02 is released, someone runs it, and boot-srv01 turns up
	// on it, as a late Map of the failover would leave it.
	released := 0
	if _, err := s.w.Inject(fake.Fault{Driver: fake.DriverStorage, Method: "Mappings",
		Then: func() {
			r, err := s.store.Get(context.Background(), "srv02")
			if err != nil || r.Reservation != "" || released > 0 {
				return
			}
			released = len(s.w.Ops())
			if err := s.w.SetPower("srv02", bmc.PowerOn); err != nil {
				t.Error(err)
			}
			strayOnto(t, s, "boot-srv01", "srv02", 0)()
		}}); err != nil {
		t.Fatal(err)
	}
	res := s.fail("srv01", bmc.FaultProcessor)
	if released == 0 {
		t.Fatalf("srv02 was never released (%s %v: %v)", res.Outcome, res.Plan, res.Err)
	}
	for _, op := range s.w.Ops()[released:] {
		if op.Driver == fake.DriverBMC && op.Target == "srv02" && op.Method != "PowerState" {
			t.Errorf("srv02 acted on after its release: %v", op)
		}
	}
	if h := s.holders("array-1", "boot-srv01"); !slices.Equal(h, []string{"srv01"}) {
		t.Errorf("boot-srv01 held by %v", h)
	}
	if st, _ := s.w.Server("srv02"); st.Power != bmc.PowerOn {
		t.Errorf("srv02 is %s", st.Power)
	}
}
