package failover_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

// A failback must not touch a server another failover holds (as a
// preemption victim whose disks it is moving, say): two failovers would
// move the same volumes.
func TestFailbackLeavesAServerHeldByAnotherFailoverAlone(t *testing.T) {
	s := patentSite(t)
	if res := s.fail("srv01", bmc.FaultProcessor); res.Outcome != failover.OutcomeDone {
		t.Fatal(res.Err)
	}
	ctx := context.Background()
	_ = s.w.RepairServer("srv01")
	if err := s.o.MarkStandby(ctx, "srv01"); err != nil {
		t.Fatal(err)
	}
	if err := updateRecord(s, "srv02", func(r *failover.Record) { r.Reservation = "another-failover" }); err != nil {
		t.Fatal(err)
	}
	s.w.ResetOps()
	res, err := s.o.Failback(ctx, "srv01")
	if !errors.Is(err, failover.ErrConflict) || res.Outcome == failover.OutcomeDone {
		t.Fatalf("failback from a held server: %s %v", res.Outcome, err)
	}
	for _, op := range s.w.Ops() {
		if op.Driver != fake.DriverBMC || op.Method != "PowerState" {
			t.Errorf("touched the hardware: %+v", op)
		}
	}
	if p := s.w.Power("srv02"); p != bmc.PowerOn {
		t.Errorf("srv02 is %s", p)
	}
	if h := s.holders("array-1", "boot-srv01"); !slices.Equal(h, []string{"srv02"}) {
		t.Errorf("boot-srv01 held by %v", h)
	}
	if r := s.rec("srv02"); r.Reservation != "another-failover" || r.State != search.Active {
		t.Errorf("srv02 %+v", r)
	}
	if r := s.rec("srv01"); r.Reservation != "" || r.State != search.Standby {
		t.Errorf("srv01 %+v", r)
	}
}

// The same when another failover takes the source or home after Failback
// looked at them: the failback's own reservation of both is one
// compare-and-set, made before it touches any hardware, so the source
// is not even shut down.
func TestFailbackLosesTheRaceForItsServersCleanly(t *testing.T) {
	for _, taken := range []string{"srv02", "srv01"} {
		t.Run(taken, func(t *testing.T) {
			var s *site
			var armed bool
			s = patentSite(t, failover.WithObserver(func(e failover.Event) {
				if armed && e.Kind == failover.EventStepStarted && e.Step == "reserve" && e.Target == "srv02,srv01" {
					armed = false
					if err := updateRecord(s, taken, func(r *failover.Record) { r.Reservation = "another-failover" }); err != nil {
						t.Error(err)
					}
				}
			}))
			if res := s.fail("srv01", bmc.FaultProcessor); res.Outcome != failover.OutcomeDone {
				t.Fatal(res.Err)
			}
			ctx := context.Background()
			_ = s.w.RepairServer("srv01")
			if err := s.o.MarkStandby(ctx, "srv01"); err != nil {
				t.Fatal(err)
			}
			armed = true
			s.w.ResetOps()
			res, err := s.o.Failback(ctx, "srv01")
			if !errors.Is(err, failover.ErrConflict) || res.Outcome != failover.OutcomeFailed {
				t.Fatalf("failback: %s %v", res.Outcome, err)
			}
			if n := len(s.w.Ops()); n != 0 {
				t.Errorf("touched the hardware: %v", s.w.Ops())
			}
			if p := s.w.Power("srv02"); p != bmc.PowerOn {
				t.Errorf("srv02 is %s", p)
			}
			if h := s.holders("array-1", "boot-srv01"); !slices.Equal(h, []string{"srv02"}) {
				t.Errorf("boot-srv01 held by %v", h)
			}
			if r := s.rec(taken); r.Reservation != "another-failover" {
				t.Errorf("%s %+v", taken, r)
			}
			other := map[string]string{"srv01": "srv02", "srv02": "srv01"}[taken]
			if r := s.rec(other); r.Reservation != "" {
				t.Errorf("%s %+v", other, r)
			}
			if un, _ := s.store.Unfinished(ctx); len(un) != 0 {
				t.Errorf("unfinished: %v", un)
			}
		})
	}
}

// After a failback, the server that ran the workload meanwhile is a
// standby again: its switch ports go back to the setting they had before
// it took the workload over (its zones are already left by then).
func TestFailbackReturnsTheFormerSparesPortsToTheirSetting(t *testing.T) {
	s := patentSite(t)
	ctx := context.Background()
	before, _ := s.w.Server("srv02")
	if res := s.fail("srv01", bmc.FaultProcessor); res.Outcome != failover.OutcomeDone {
		t.Fatal(res.Err)
	}
	if st, _ := s.w.Server("srv02"); slices.EqualFunc(st.PortVLANs, before.PortVLANs, fabric.PortVLAN.Equal) {
		t.Fatalf("setup: srv02's ports did not move to the workload's VLAN: %v", st.PortVLANs)
	}
	_ = s.w.RepairServer("srv01")
	if err := s.o.MarkStandby(ctx, "srv01"); err != nil {
		t.Fatal(err)
	}
	res, err := s.o.Failback(ctx, "srv01")
	if err != nil || res.Outcome != failover.OutcomeDone {
		t.Fatalf("failback: %s %v", res.Outcome, err)
	}
	after, _ := s.w.Server("srv02")
	if !slices.EqualFunc(after.PortVLANs, before.PortVLANs, fabric.PortVLAN.Equal) {
		t.Errorf("srv02's ports %v after failback, want %v as before", after.PortVLANs, before.PortVLANs)
	}
	if len(after.Zones) != 0 || after.Power != bmc.PowerOff {
		t.Errorf("srv02 after failback: zones %v, %s", after.Zones, after.Power)
	}
	if r := s.rec("srv02"); r.State != search.Standby || len(r.SpareVLANs) != 0 {
		t.Errorf("srv02's record: %s, spare VLANs %v", r.State, r.SpareVLANs)
	}
	s.checkWorld()
}

// MarkStandby's driver calls go through the guarded path: a BMC or an
// array that answers "try again" a few times is retried, as in a
// failover, not reported as a failure.
func TestMarkStandbyRetriesTransientDriverErrors(t *testing.T) {
	s := patentSite(t)
	if res := s.fail("srv01", bmc.FaultProcessor); res.Outcome != failover.OutcomeDone {
		t.Fatal(res.Err)
	}
	_ = s.w.RepairServer("srv01")
	for _, f := range []struct{ driver, method string }{{fake.DriverBMC, "PowerState"}, {fake.DriverStorage, "Mappings"}} {
		if _, err := s.w.FailCalls(f.driver, f.method, "", bmc.ErrTransient, 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.o.MarkStandby(context.Background(), "srv01"); err != nil {
		t.Fatalf("MarkStandby after two transient errors of each driver: %v", err)
	}
	if n := s.w.Calls(fake.DriverBMC, "PowerState"); n < 3 {
		t.Fatalf("PowerState called %d times, want the two failures and a retry", n)
	}
}

// A failback is its own kind of run: its journal names where the
// workload goes and answers no fault (none is made up), it says when it
// starts, and it runs the failover's executor.
func TestFailbackIsItsOwnRunKind(t *testing.T) {
	var started []failover.Event
	s := patentSite(t, failover.WithObserver(func(e failover.Event) {
		if e.Kind == failover.EventFailoverStarted || e.Kind == failover.EventFailbackStarted {
			started = append(started, e)
		}
	}))
	if res := s.fail("srv01", bmc.FaultProcessor); res.Outcome != failover.OutcomeDone {
		t.Fatal(res.Err)
	}
	ctx := context.Background()
	_ = s.w.RepairServer("srv01")
	if err := s.o.MarkStandby(ctx, "srv01"); err != nil {
		t.Fatal(err)
	}
	res, err := s.o.Failback(ctx, "srv01")
	if err != nil || res.Outcome != failover.OutcomeDone {
		t.Fatalf("failback: %s %v", res.Outcome, err)
	}
	if res.Fault != (bmc.Fault{}) || res.Action != failover.ActNow {
		t.Errorf("failback result answers fault %+v with %s; want no fault, acted on now", res.Fault, res.Action)
	}
	j, err := s.store.Journal(ctx, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	info, err := failover.ReadJournal(res.ID, j)
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != failover.KindFailback || info.Home != "srv01" || info.Server != "srv02" || info.Fault != (bmc.Fault{}) {
		t.Errorf("failback journal: kind %s home %s server %s fault %+v", info.Kind, info.Home, info.Server, info.Fault)
	}
	if len(started) != 2 || started[1].Kind != failover.EventFailbackStarted || started[1].Failover != res.ID || started[1].Spare != "srv01" {
		t.Errorf("started events %v; want the failover's and the failback's (to srv01)", started)
	}
}
