package failover_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

// lostCommitStore applies the first commit write (the records that say a
// spare took over) but loses its answer, and fails the reads that would
// resolve it, failGets times.
type lostCommitStore struct {
	failover.Store
	mu       sync.Mutex
	armed    bool
	failGets int
}

func (f *lostCommitStore) Put(ctx context.Context, recs ...failover.Record) ([]failover.Record, error) {
	out, err := f.Store.Put(ctx, recs...)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil && !f.armed && slices.ContainsFunc(recs, func(r failover.Record) bool { return strings.HasPrefix(r.Note, "took over") }) {
		f.armed = true
		f.failGets = 1
		return nil, failover.ErrOutcomeUnknown
	}
	return out, err
}

func (f *lostCommitStore) Get(ctx context.Context, id search.ServerID) (failover.Record, error) {
	f.mu.Lock()
	fail := f.failGets > 0
	if fail {
		f.failGets--
	}
	f.mu.Unlock()
	if fail {
		return failover.Record{}, failover.ErrTransient
	}
	return f.Store.Get(ctx, id)
}

// Once the commit is journaled the failover goes forward, as Recover
// would take it: a commit write whose answer was lost may have been
// applied, and rolling the world back under it leaves records that say
// the spare runs the workload while it is off and holds no disk.
func TestACommitWhoseAnswerWasLostIsRolledForward(t *testing.T) {
	s := patentSite(t)
	s.o = s.newOrchestrator(&lostCommitStore{Store: s.store})
	res := s.fail("srv01", bmc.FaultProcessor)
	if res.Outcome != failover.OutcomeDone {
		// Left for Recover: it must roll the commit forward.
		if _, err := s.newOrchestrator(s.store).Recover(context.Background()); err != nil {
			t.Fatalf("outcome %s (%v); recover: %v", res.Outcome, res.Err, err)
		}
	}
	if h := s.holders("array-1", "boot-srv01"); !slices.Equal(h, []string{"srv02"}) {
		t.Errorf("boot-srv01 held by %v", h)
	}
	if p := s.w.Power("srv02"); p != bmc.PowerOn {
		t.Errorf("srv02 is %s", p)
	}
	if r := s.rec("srv02"); r.State != search.Active || r.Workload != "web" {
		t.Errorf("srv02 %+v", r)
	}
	if r := s.rec("srv01"); r.State != search.Failed || r.MovedTo != "srv02" {
		t.Errorf("srv01 %+v", r)
	}
	if un, _ := s.store.Unfinished(context.Background()); len(un) != 0 {
		t.Errorf("unfinished: %v", un)
	}
	s.checkWorld()
}
