package failover_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/failover"
)

// A Recover called while this Orchestrator is still running a failover
// (a periodic sweep, an operator's command) must leave that failover
// alone: rolling back a live run's journal undoes its storage moves while
// it goes on mapping and booting.
func TestRecoverLeavesALiveFailoverAlone(t *testing.T) {
	var s *site
	var once sync.Once
	var recErr error
	var recovered []failover.Result
	s = patentSite(t, failover.WithObserver(func(e failover.Event) {
		if e.Kind == failover.EventStepStarted && e.Step == "boot" && e.Spare == "srv02" {
			once.Do(func() { recovered, recErr = s.o.Recover(context.Background()) })
		}
	}))
	res := s.fail("srv01", bmc.FaultProcessor)
	if res.Outcome != failover.OutcomeDone || res.Err != nil {
		t.Fatalf("failover: %s %v (Recover returned %v %v)", res.Outcome, res.Err, recovered, recErr)
	}
	for _, r := range recovered {
		if r.ID == res.ID && r.Outcome != "" {
			t.Errorf("Recover acted on the live failover: %s %v", r.Outcome, r.Err)
		}
	}
	if h := s.holders("array-1", "boot-srv01"); !slices.Equal(h, []string{"srv02"}) {
		t.Errorf("boot-srv01 held by %v", h)
	}
	s.checkWorld()
}
