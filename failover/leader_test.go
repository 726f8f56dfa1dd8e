package failover_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
)

// leaderStore is a Store with the LeaderChecker capability: Deposed
// turns true when the test says so (as an etcd session's lease watcher
// would), and from then on its writes fail with ErrNotLeader.
type leaderStore struct {
	failover.Store
	mu      sync.Mutex
	deposed bool
	checks  int
}

var _ failover.LeaderChecker = (*leaderStore)(nil)

func (l *leaderStore) Deposed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.checks++
	return l.deposed
}

// writable is what the store's own writes check (not counted).
func (l *leaderStore) writable() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.deposed
}

func (l *leaderStore) depose() {
	l.mu.Lock()
	l.deposed = true
	l.mu.Unlock()
}

func (l *leaderStore) Put(ctx context.Context, recs ...failover.Record) ([]failover.Record, error) {
	if !l.writable() {
		return nil, fmt.Errorf("lease lost: %w", failover.ErrNotLeader)
	}
	return l.Store.Put(ctx, recs...)
}

func (l *leaderStore) Append(ctx context.Context, id string, e failover.Entry) error {
	if !l.writable() {
		return fmt.Errorf("lease lost: %w", failover.ErrNotLeader)
	}
	return l.Store.Append(ctx, id, e)
}

// deposingBMC deposes the store's leadership when its BMC method `at` is
// called (the call itself goes through).
type deposingBMC struct {
	bmc.BMC
	at    string
	store *leaderStore
}

func (d deposingBMC) Shutdown(ctx context.Context) error {
	if d.at == "Shutdown" {
		d.store.depose()
	}
	return d.BMC.Shutdown(ctx)
}

func (d deposingBMC) SetBootDevice(ctx context.Context, dev bmc.BootDevice, persistent bool) error {
	if d.at == "SetBootDevice" {
		d.store.depose()
	}
	return d.BMC.SetBootDevice(ctx, dev, persistent)
}

// TestDeposedStoreStopsDriverCallsBetweenStoreWrites deposes the leader
// between two driver calls that have no store write between them (a
// forced power-off after a refused shutdown; a power-on after the boot
// device is set): the Orchestrator must make no further driver call and
// no rollback, end interrupted with ErrNotLeader, and a new leader's
// Recover must finish the failover.
func TestDeposedStoreStopsDriverCallsBetweenStoreWrites(t *testing.T) {
	for _, tc := range []struct {
		at, on  string // BMC method and server whose call deposes
		refuse  bool   // srv01 refuses graceful shutdown
		notCall string // the BMC method that must not follow
	}{
		{at: "Shutdown", on: "srv01", refuse: true, notCall: "PowerOff"},
		{at: "SetBootDevice", on: "srv02", notCall: "PowerOn"},
	} {
		t.Run(tc.at, func(t *testing.T) {
			ctx := context.Background()
			s := patentSite(t)
			ls := &leaderStore{Store: s.store}
			d := failovertest.Drivers(s.w)
			d.BMC = func(r failover.Record) (bmc.BMC, error) {
				b := s.w.BMC(r.BMC.Endpoint)
				if string(r.ID) == tc.on {
					return deposingBMC{BMC: b, at: tc.at, store: ls}, nil
				}
				return b, nil
			}
			// A graceful fencing, so that the shutdown is asked for.
			graceful := failover.WithFaultActions(map[bmc.FaultType]failover.Rule{bmc.FaultProcessor: {Action: failover.ActNow}}, failover.Rule{Action: failover.ActNow})
			o, err := failover.New(ls, d, append(s.opts, graceful)...)
			if err != nil {
				t.Fatal(err)
			}
			_ = s.w.RefuseShutdown("srv01", tc.refuse)
			_ = s.w.FailServer("srv01", bmc.FaultProcessor)
			before := s.w.Calls(fake.DriverBMC, tc.notCall)
			res, err := o.HandleFault(ctx, bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor})
			if !errors.Is(err, failover.ErrNotLeader) || res.Outcome != failover.OutcomeInterrupted {
				t.Fatalf("%s: %v", res.Outcome, err)
			}
			if n := s.w.Calls(fake.DriverBMC, tc.notCall) - before; n != 0 {
				t.Errorf("%d %s call(s) after the store said deposed", n, tc.notCall)
			}
			for _, a := range res.Audit {
				if strings.HasPrefix(a.Step, "undo:") {
					t.Errorf("rolled back after losing leadership: %+v", a)
				}
			}
			if u, _ := s.store.Unfinished(ctx); len(u) != 1 {
				t.Fatalf("unfinished %v", u)
			}
			// The new leader finishes it.
			_ = s.w.RefuseShutdown("srv01", false)
			results, err := s.newOrchestrator(s.store).Recover(ctx)
			if err != nil || len(results) != 1 || results[0].Outcome != failover.OutcomeDone {
				t.Fatalf("recover: %+v %v", results, err)
			}
			if err := workloadMoved(s.store, s.w, "srv01", "web"); err != nil {
				t.Fatal(err)
			}
			s.checkWorld()
		})
	}
}

// TestLeaderCheckerThatStaysLeaderChangesNothing: a LeaderChecker that
// never deposes is asked before every driver-call attempt and changes
// nothing.
func TestLeaderCheckerThatStaysLeaderChangesNothing(t *testing.T) {
	s := patentSite(t)
	ls := &leaderStore{Store: s.store}
	o := s.newOrchestrator(ls)
	_ = s.w.FailServer("srv01", bmc.FaultProcessor)
	res, err := o.HandleFault(context.Background(), bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor})
	if err != nil || res.Outcome != failover.OutcomeDone {
		t.Fatalf("%s: %v", res.Outcome, err)
	}
	ls.mu.Lock()
	checks := ls.checks
	ls.mu.Unlock()
	calls := 0
	for _, a := range res.Audit {
		calls += a.Attempts
	}
	if checks < calls {
		t.Errorf("Deposed asked %d times for %d driver-call attempts", checks, calls)
	}
	s.checkWorld()
}
