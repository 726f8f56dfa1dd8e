package failover_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

// failingReserveStore applies the first reservation write but loses its
// answer, and fails the read that would resolve it.
type failingReserveStore struct {
	failover.Store
	mu       sync.Mutex
	armed    bool
	failGets int
}

func (f *failingReserveStore) Put(ctx context.Context, recs ...failover.Record) ([]failover.Record, error) {
	out, err := f.Store.Put(ctx, recs...)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil && !f.armed && len(recs) > 0 && recs[0].State == search.Reserved {
		f.armed = true
		f.failGets = 1
		return nil, failover.ErrOutcomeUnknown
	}
	return out, err
}

func (f *failingReserveStore) Get(ctx context.Context, id search.ServerID) (failover.Record, error) {
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

// A reservation whose write was lost and could not be read back may have
// taken effect: the failover must release it before it ends, or the spare
// stays reserved by a closed journal that no Recover will ever reopen.
func TestALostReservationWriteIsReleased(t *testing.T) {
	s := patentSite(t)
	fs := &failingReserveStore{Store: s.store}
	s.o = s.newOrchestrator(fs)
	res := s.fail("srv01", bmc.FaultProcessor)
	if res.Err == nil && res.Outcome != failover.OutcomeDone {
		t.Fatalf("outcome %s", res.Outcome)
	}
	recs, err := s.store.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Reservation != "" || r.State == search.Reserved {
			t.Errorf("%s left %s, reserved by %q after failover %s ended %s", r.ID, r.State, r.Reservation, res.ID, res.Outcome)
		}
	}
	if un, _ := s.store.Unfinished(context.Background()); len(un) != 0 {
		t.Errorf("unfinished: %v", un)
	}
}

// A failback has exactly one plan: when its home server is taken by
// another failover meanwhile, the failback fails and the workload
// restarts where it was; it never moves to a server the operator did not
// name.
func TestFailbackNeverSearchesForAnotherServer(t *testing.T) {
	var s *site
	var armed bool
	var once sync.Once
	s = patentSite(t, failover.WithObserver(func(e failover.Event) {
		if armed && e.Kind == failover.EventFenced && e.Server == "srv02" {
			once.Do(func() {
				if err := updateRecord(s, "srv01", func(r *failover.Record) { r.Reservation = "someone-else" }); err != nil {
					t.Error(err)
				}
			})
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
	res, err := s.o.Failback(ctx, "srv01")
	if err == nil || res.Outcome == failover.OutcomeDone {
		t.Fatalf("failback to a reserved home: %s %v (plan %s)", res.Outcome, err, res.Plan)
	}
	if r := s.rec("srv02"); r.State != search.Active || r.Workload != "web" || r.Home != "srv01" {
		t.Errorf("srv02 %+v", r)
	}
	if h := s.holders("array-1", "boot-srv01"); !slices.Equal(h, []string{"srv02"}) {
		t.Errorf("boot-srv01 held by %v", h)
	}
	if p := s.w.Power("srv02"); p != bmc.PowerOn {
		t.Errorf("srv02 is %s", p)
	}
	recs, _ := s.store.List(ctx)
	for _, r := range recs {
		if r.Workload == "web" && r.ID != "srv02" && r.State == search.Active {
			t.Errorf("web also on %s", r.ID)
		}
	}
}
