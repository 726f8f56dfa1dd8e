package failover_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// t0 is the virtual clock's start.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// site is a fake data centre with an Orchestrator over it.
type site struct {
	t      testing.TB
	w      *fake.World
	layout fake.Layout
	clock  *fake.Clock
	store  failover.Store
	o      *failover.Orchestrator
	base   *fake.Snapshot
	opts   []failover.Option

	mu     sync.Mutex
	events []failover.Event
}

// fastTimeouts keep virtual-time polling short.
var fastTimeouts = failover.Timeouts{Shutdown: 30 * time.Second, Poll: 5 * time.Second, Dump: 2 * time.Minute, PowerOff: 20 * time.Second, Boot: 20 * time.Second}

func newSite(t testing.TB, w *fake.World, l fake.Layout, clk *fake.Clock, opts ...failover.Option) *site {
	t.Helper()
	s := &site{t: t, w: w, layout: l, clock: clk, store: failover.NewMemStore()}
	if _, err := s.store.Put(context.Background(), failovertest.Records(w)...); err != nil {
		t.Fatal(err)
	}
	s.opts = append([]failover.Option{
		failover.WithClock(clk),
		failover.WithTimeouts(fastTimeouts),
		failover.WithSearchOptions(failovertest.SearchOptions(w, l)...),
		failover.WithObserver(func(e failover.Event) {
			s.mu.Lock()
			s.events = append(s.events, e)
			s.mu.Unlock()
		}),
	}, opts...)
	s.o = s.newOrchestrator(s.store)
	s.base = w.Snapshot()
	return s
}

func (s *site) newOrchestrator(st failover.Store) *failover.Orchestrator {
	s.t.Helper()
	o, err := failover.New(st, failovertest.Drivers(s.w), s.opts...)
	if err != nil {
		s.t.Fatal(err)
	}
	return o
}

func patentSite(t testing.TB, opts ...failover.Option) *site {
	clk := fake.NewClock(t0)
	w, l := fake.PatentExample(fake.WithClock(clk))
	return newSite(t, w, l, clk, opts...)
}

func (s *site) scenario(name string) fake.Scenario {
	for _, sc := range s.layout.Scenarios {
		if sc.Name == name {
			return sc
		}
	}
	s.t.Fatalf("no scenario %q", name)
	return fake.Scenario{}
}

// fail makes server fail in the world and delivers the fault.
func (s *site) fail(id string, ft bmc.FaultType) failover.Result {
	s.t.Helper()
	if err := s.w.FailServer(id, ft); err != nil {
		s.t.Fatal(err)
	}
	res, _ := s.o.HandleFault(context.Background(), bmc.Fault{Server: id, Type: ft, Time: s.clock.Now()})
	return res
}

func (s *site) rec(id string) failover.Record {
	s.t.Helper()
	r, err := s.store.Get(context.Background(), search.ServerID(id))
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// holders returns who holds volume now.
func (s *site) holders(array, vol string) []string {
	return s.w.VolumeHolders(array, storage.VolumeID(vol))
}

// checkWorld checks I1-I3 on the world against the site's baseline,
// exempting volumes parked from stopped victims (recorded in the store
// with their LUNs), and checks the store: no reservation left, no spare
// given twice (I4).
func (s *site) checkWorld() {
	s.t.Helper()
	if err := checkWorld(s.w, s.base, s.store); err != nil {
		s.t.Fatal(err)
	}
}

func checkWorld(w *fake.World, base *fake.Snapshot, st failover.Store) error {
	return checkWorldExcept(w, base, st, nil)
}

// checkWorldExcept is checkWorld that lets excuse clear violations
// recorded as they happened (the end state is always checked).
func checkWorldExcept(w *fake.World, base *fake.Snapshot, st failover.Store, excuse func(fake.Violation) bool) error {
	ctx := context.Background()
	recs, err := st.List(ctx)
	if err != nil {
		return err
	}
	parked := map[string]int{}
	reused := map[string]bool{} // preempted victims now running another workload
	var probs []string
	for _, r := range recs {
		if r.State == search.Active && (r.MovedTo != "" || len(r.Parked) > 0) {
			reused[string(r.ID)] = true
		}
		for _, p := range r.Parked {
			parked[p.Array+"/"+string(p.Volume)] = p.LUN
		}
		if r.Reservation != "" {
			probs = append(probs, fmt.Sprintf("I4: %s still reserved by %s", r.ID, r.Reservation))
		}
	}
	if err := w.CheckInvariants(base); err != nil {
		for _, v := range err.(*fake.InvariantError).Violations {
			if v.Invariant == "I3" && strings.Contains(v.Detail, "masked to nobody") {
				vol := strings.Fields(v.Detail)[1]
				if _, ok := parked[vol]; ok && len(w.VolumeHolders(strings.Split(vol, "/")[0], storage.VolumeID(strings.Split(vol, "/")[1]))) == 0 {
					continue
				}
			}
			if v.Invariant == "I1" && strings.HasPrefix(v.Detail, "server ") && reused[strings.Fields(v.Detail)[1]] {
				continue // the static check cannot know the victim was fenced, then reused (live checks can)
			}
			if excuse != nil && strings.HasPrefix(v.Detail, "after ") && excuse(v) {
				continue
			}
			probs = append(probs, v.String())
		}
	}
	// Every active server's workload runs once; every active server holds its volumes and is on.
	work := map[string][]search.ServerID{}
	for _, r := range recs {
		if r.State == search.Active && r.Workload != "" && r.Partition == "" {
			work[r.Workload] = append(work[r.Workload], r.ID)
		}
	}
	for wl, ids := range work {
		if len(ids) > 1 {
			probs = append(probs, fmt.Sprintf("I4: workload %s runs on %v", wl, ids))
		}
	}
	sort.Strings(probs)
	if len(probs) > 0 {
		return fmt.Errorf("%d problem(s):\n\t%s", len(probs), strings.Join(probs, "\n\t"))
	}
	return nil
}

func updateRecord(s *site, id string, fn func(*failover.Record)) error {
	r, err := s.store.Get(context.Background(), search.ServerID(id))
	if err != nil {
		return err
	}
	fn(&r)
	_, err = s.store.Put(context.Background(), r)
	return err
}

func mustInit(s string) storage.Initiator { return storage.MustParseInitiator(s) }
