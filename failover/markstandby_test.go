package failover_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

// MarkStandby must not put a server back in the pool while a failover of
// it is under way: once its disks have moved it is off and sees no
// volume, but the failover may still roll back and map them back to it.
func TestMarkStandbyRefusesAServerBeingFailedOver(t *testing.T) {
	var s *site
	var once sync.Once
	var markErr error
	s = patentSite(t, failover.WithObserver(func(e failover.Event) {
		if e.Kind == failover.EventStepStarted && e.Step == "boot" && e.Spare == "srv02" {
			once.Do(func() {
				_ = s.w.RepairServer("srv01")
				markErr = s.o.MarkStandby(context.Background(), "srv01")
			})
		}
	}))
	res := s.fail("srv01", bmc.FaultProcessor)
	if res.Outcome != failover.OutcomeDone {
		t.Fatalf("failover: %s %v", res.Outcome, res.Err)
	}
	if !errors.Is(markErr, failover.ErrConflict) {
		t.Errorf("MarkStandby during the failover: %v, want ErrConflict", markErr)
	}
	if r := s.rec("srv01"); r.State != search.Failed || r.MovedTo != "srv02" {
		t.Errorf("srv01 %+v", r)
	}
	s.checkWorld()
}

// MarkStandby must also refuse a server whose failover a crashed
// Orchestrator left unfinished: Recover may still map its disks back.
func TestMarkStandbyRefusesAServerWithAnUnfinishedFailover(t *testing.T) {
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
	// The disks have left srv01, which is off: only the journal says a
	// failover of it is still open.
	if h := s.holders("array-1", "boot-srv01"); !slices.Equal(h, []string{"srv02"}) {
		t.Fatalf("boot-srv01 held by %v", h)
	}
	ctx := context.Background()
	o := s.newOrchestrator(s.store)
	_ = s.w.RepairServer("srv01")
	if err := o.MarkStandby(ctx, "srv01"); !errors.Is(err, failover.ErrConflict) {
		t.Errorf("MarkStandby with the failover unfinished: %v, want ErrConflict", err)
	}
	if r := s.rec("srv01"); r.State != search.Failed {
		t.Fatalf("srv01 %+v", r)
	}
	if _, err := o.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if r := s.rec("srv01"); r.State != search.Failed || r.MovedTo == "" {
		t.Fatalf("srv01 %+v", r)
	}
	s.checkWorld()
}
