package failover_test

import (
	"context"
	"slices"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

// A fault delivered before Recover, for a server whose failover a crash
// left half done, must not start a second failover of it: the first one's
// spare holds some of its disks, so a new plan would boot another spare
// without them, and Recover would then map them back to the failed
// server. The fault is journaled already: Recover carries it out.
func TestAFaultBeforeRecoverDoesNotStartASecondFailover(t *testing.T) {
	var cs *crashStore
	s := patentSite(t, failover.WithObserver(func(e failover.Event) {
		if e.Kind == failover.EventStepStarted && e.Step == "boot" && e.Spare == "srv02" {
			cs.mu.Lock()
			cs.budget = 0 // the process dies here
			cs.mu.Unlock()
		}
	}))
	cs = &crashStore{Store: s.store, budget: 1 << 30}
	s.o = s.newOrchestrator(cs)
	if res := s.fail("srv01", bmc.FaultProcessor); res.Outcome != failover.OutcomeInterrupted {
		t.Fatalf("crash: %s %v", res.Outcome, res.Err)
	}
	ctx := context.Background()
	o := s.newOrchestrator(s.store)
	s.w.ResetOps()
	res, err := o.HandleFault(ctx, bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor, Time: s.clock.Now()})
	// The crashed failover claimed srv01 in its record: the fault is
	// absorbed into it (had it crashed before the claim, the open journal
	// would refuse it with ErrConflict).
	if res.Outcome != failover.OutcomeAbsorbed || err != nil {
		t.Errorf("second fault before Recover: %s %v", res.Outcome, err)
	}
	if ops := s.w.Ops(); len(ops) != 0 {
		t.Errorf("touched the hardware: %v", ops)
	}
	if _, err := o.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if h := s.holders("array-1", "boot-srv01"); len(h) != 1 || h[0] == "srv01" {
		t.Errorf("boot-srv01 held by %v", h)
	}
	r := s.rec("srv01")
	if r.State != search.Failed || r.MovedTo == "" {
		t.Fatalf("srv01 %+v", r)
	}
	if sp := s.rec(string(r.MovedTo)); sp.State != search.Active || sp.Workload != "web" || s.w.Power(string(r.MovedTo)) != bmc.PowerOn {
		t.Errorf("%s %+v, %s", r.MovedTo, sp, s.w.Power(string(r.MovedTo)))
	}
	recs, _ := s.store.List(ctx)
	var web []search.ServerID
	for _, x := range recs {
		if x.Workload == "web" && x.State == search.Active {
			web = append(web, x.ID)
		}
	}
	if !slices.Equal(web, []search.ServerID{r.MovedTo}) {
		t.Errorf("web runs on %v", web)
	}
	s.checkWorld()
}
