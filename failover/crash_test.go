package failover_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

// crashStore passes calls through to a Store until it has let `budget`
// writes through; from then on every call fails with ErrNotLeader, which
// makes the Orchestrator stop acting at once: to the world, the process
// died at that step boundary.
type crashStore struct {
	failover.Store
	mu      sync.Mutex
	budget  int
	crashed bool
}

func (c *crashStore) write() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.budget <= 0 {
		c.crashed = true
		return fmt.Errorf("crash: %w", failover.ErrNotLeader)
	}
	c.budget--
	return nil
}

func (c *crashStore) dead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.crashed
}

func (c *crashStore) Put(ctx context.Context, recs ...failover.Record) ([]failover.Record, error) {
	if err := c.write(); err != nil {
		return nil, err
	}
	return c.Store.Put(ctx, recs...)
}

func (c *crashStore) Append(ctx context.Context, id string, e failover.Entry) error {
	if err := c.write(); err != nil {
		return err
	}
	return c.Store.Append(ctx, id, e)
}

func (c *crashStore) Get(ctx context.Context, id search.ServerID) (failover.Record, error) {
	if c.dead() {
		return failover.Record{}, failover.ErrNotLeader
	}
	return c.Store.Get(ctx, id)
}

func (c *crashStore) List(ctx context.Context) ([]failover.Record, error) {
	if c.dead() {
		return nil, failover.ErrNotLeader
	}
	return c.Store.List(ctx)
}

type crashScenario struct {
	name   string
	server string
	fault  bmc.FaultType
	setup  func(t *testing.T, s *site)
}

var crashScenarios = []crashScenario{
	{name: "exact", server: "srv01", fault: bmc.FaultProcessor},
	{name: "recompose", server: "srv03", fault: bmc.FaultMemory},
	{name: "relaxed", server: "srv05", fault: bmc.FaultPowerSupply},
	{name: "preempt", server: "srv06", fault: bmc.FaultOSStop},
	{name: "preempt-stopped", server: "srv06", fault: bmc.FaultOSStop, setup: func(t *testing.T, s *site) {
		if err := updateRecord(s, "srv08", func(r *failover.Record) { r.State = search.Maintenance }); err != nil {
			t.Fatal(err)
		}
	}},
	{name: "rollback-then-next", server: "srv01", fault: bmc.FaultProcessor, setup: func(t *testing.T, s *site) {
		// srv02 cannot power on: its attempt is rolled back; srv13 takes over.
		_ = s.w.FailServer("srv02", bmc.FaultPowerSupply)
	}},
	{name: "lost-responses", server: "srv01", fault: bmc.FaultProcessor, setup: func(t *testing.T, s *site) {
		for _, f := range []fake.Fault{
			{Driver: fake.DriverStorage, Method: "SwapInitiators", LostResponse: true, Probability: 0.5},
			{Driver: fake.DriverZoner, Method: "Commit", LostResponse: true, Probability: 0.5},
			{Driver: fake.DriverZoner, Method: "AddMember", LostResponse: true, Probability: 0.3},
			{Driver: fake.DriverVLAN, Method: "SetPortVLAN", LostResponse: true, Probability: 0.5},
			{Driver: fake.DriverBMC, Method: "PowerOn", LostResponse: true, Probability: 0.5},
			{Driver: fake.DriverBMC, Method: "PowerOff", LostResponse: true, Probability: 0.5},
		} {
			if _, err := s.w.Inject(f); err != nil {
				t.Fatal(err)
			}
		}
	}},
}

// TestCrashAtEveryStepBoundaryThenRecover runs each scenario once per
// store write, crashing just before that write; a new Orchestrator on the
// same store then runs Recover, which must finish the failover (rolling
// back and starting over, or rolling the commit forward) with I1-I4 intact.
func TestCrashAtEveryStepBoundaryThenRecover(t *testing.T) {
	for _, sc := range crashScenarios {
		t.Run(sc.name, func(t *testing.T) {
			for budget := 0; ; budget++ {
				clk := fake.NewClock(t0)
				w, l := fake.PatentExample(fake.WithClock(clk))
				addSpare(t, w, "srv13")
				s := newSite(t, w, l, clk)
				if sc.setup != nil {
					sc.setup(t, s)
				}
				inner := s.store
				workload := s.rec(sc.server).Workload
				cs := &crashStore{Store: inner, budget: budget}
				o1 := s.newOrchestrator(cs)
				_ = s.w.FailServer(sc.server, sc.fault)
				res, _ := o1.HandleFault(context.Background(), bmc.Fault{Server: sc.server, Type: sc.fault})
				if !cs.dead() {
					if res.Outcome != failover.OutcomeDone {
						t.Fatalf("budget %d: no crash but %s: %v", budget, res.Outcome, res.Err)
					}
					if budget < 5 {
						t.Fatalf("finished with only %d writes", budget)
					}
					return // every boundary visited
				}
				if res.Outcome != failover.OutcomeInterrupted {
					t.Fatalf("budget %d: crashed run ended %s", budget, res.Outcome)
				}
				o2 := s.newOrchestrator(inner)
				results, err := o2.Recover(context.Background())
				if err != nil {
					t.Fatalf("budget %d: recover: %v", budget, err)
				}
				if u, _ := inner.Unfinished(context.Background()); len(u) != 0 {
					t.Fatalf("budget %d: unfinished after Recover: %v", budget, u)
				}
				if err := checkWorld(s.w, s.base, inner); err != nil {
					t.Fatalf("budget %d: %v", budget, err)
				}
				// Once the journal holds the fault (budget 0 crashed before
				// its first entry: HandleFault said interrupted and the
				// detector must deliver it again), it is never lost:
				// whatever the crash point, after Recover, without
				// delivering the fault again, the workload runs on a spare,
				// which is on.
				if budget == 0 {
					if u, _ := inner.Unfinished(context.Background()); len(u) != 0 || len(results) != 0 {
						t.Fatalf("budget 0: journal written before the first write: %v %+v", u, results)
					}
					continue
				}
				if err := workloadMoved(inner, s.w, sc.server, workload); err != nil {
					t.Fatalf("budget %d: after Recover (results %+v): %v", budget, results, err)
				}
			}
		})
	}
}

// workloadMoved checks that server was failed over: its record is
// Failed and names the server that took its workload, which is Active
// with that workload and powered on (a partition's members all on).
func workloadMoved(st failover.Store, w *fake.World, server, workload string) error {
	ctx := context.Background()
	f, err := st.Get(ctx, search.ServerID(server))
	if err != nil {
		return err
	}
	if f.State != search.Failed || f.MovedTo == "" {
		return fmt.Errorf("%s is %s, moved to %q: the fault was lost", server, f.State, f.MovedTo)
	}
	sp, err := st.Get(ctx, f.MovedTo)
	if err != nil {
		return err
	}
	if sp.State != search.Active || sp.Workload != workload {
		return fmt.Errorf("%s took over from %s but is %s running %q, want %q", sp.ID, server, sp.State, sp.Workload, workload)
	}
	if x, ok := w.Server(string(sp.ID)); !ok || x.Power != bmc.PowerOn {
		return fmt.Errorf("%s runs %q but is not on", sp.ID, workload)
	}
	return nil
}

// deposeOn makes the store answer ErrNotLeader from the first journal
// entry for step on: this instance lost leadership mid-failover.
type deposeOn struct {
	failover.Store
	step    string
	mu      sync.Mutex
	deposed bool
}

func (d *deposeOn) Append(ctx context.Context, id string, e failover.Entry) error {
	d.mu.Lock()
	if e.Step == d.step {
		d.deposed = true
	}
	deposed := d.deposed
	d.mu.Unlock()
	if deposed {
		return fmt.Errorf("etcd: leader key gone: %w", failover.ErrNotLeader)
	}
	return d.Store.Append(ctx, id, e)
}

func TestDeposedLeaderStopsActingAndTheNextOneRecovers(t *testing.T) {
	s := patentSite(t)
	d := &deposeOn{Store: s.store, step: "boot"}
	o := s.newOrchestrator(d)
	_ = s.w.FailServer("srv01", bmc.FaultProcessor)
	res, err := o.HandleFault(context.Background(), bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor})
	if !errors.Is(err, failover.ErrNotLeader) || res.Outcome != failover.OutcomeInterrupted {
		t.Fatalf("%s: %v", res.Outcome, err)
	}
	// It stopped at once: the spare was not booted, nothing was rolled
	// back (the disks wait on srv02, masked to it alone), the journal is
	// open for the next leader.
	if n := s.w.Calls(fake.DriverBMC, "PowerOn"); n != 0 {
		t.Errorf("%d power-ons after losing leadership", n)
	}
	if h := s.holders("array-1", "boot-srv01"); !slices.Equal(h, []string{"srv02"}) {
		t.Errorf("boot-srv01 held by %v", h)
	}
	if u, _ := s.store.Unfinished(context.Background()); len(u) != 1 {
		t.Fatalf("unfinished %v", u)
	}
	results, err := s.newOrchestrator(s.store).Recover(context.Background())
	if err != nil || len(results) != 1 || results[0].Outcome != failover.OutcomeDone {
		t.Fatalf("recover: %+v %v", results, err)
	}
	st, _ := s.w.Server(string(results[0].Plan.Assignments[0].Spare))
	if st.BootVolume != "boot-srv01" {
		t.Errorf("workload not running after recovery: %+v", st)
	}
	s.checkWorld()
}

func TestCrashDuringFailbackThenRecover(t *testing.T) {
	for budget := 0; ; budget++ {
		s := patentSite(t)
		if res := s.fail("srv01", bmc.FaultProcessor); res.Outcome != failover.OutcomeDone {
			t.Fatal(res.Err)
		}
		_ = s.w.RepairServer("srv01")
		if err := s.o.MarkStandby(context.Background(), "srv01"); err != nil {
			t.Fatal(err)
		}
		base := s.w.Snapshot()
		cs := &crashStore{Store: s.store, budget: budget}
		res, _ := s.newOrchestrator(cs).Failback(context.Background(), "srv01")
		if !cs.dead() {
			if res.Outcome != failover.OutcomeDone {
				t.Fatalf("budget %d: %s %v", budget, res.Outcome, res.Err)
			}
			return
		}
		if _, err := s.newOrchestrator(s.store).Recover(context.Background()); err != nil {
			t.Fatalf("budget %d: recover: %v", budget, err)
		}
		// Rolled back or finished: web runs once, from its disks.
		if err := checkWorld(s.w, base, s.store); err != nil {
			t.Fatalf("budget %d: %v", budget, err)
		}
		running := 0
		for _, id := range []string{"srv01", "srv02"} {
			if st, _ := s.w.Server(id); st.Power == bmc.PowerOn && st.BootVolume == "boot-srv01" {
				running++
			}
		}
		if running != 1 {
			t.Fatalf("budget %d: web runs on %d servers", budget, running)
		}
	}
}

// TestRecoverCarriesOutAFaultJournaledBeforeTheServerWasMarkedFailed
// crashes right after the failover's PhaseBegin entry (before the failed
// server's record says Failed): the journal holds the fault, so Recover
// fails the server over without the fault being delivered again; when
// the fault-action table now says report only, the untouched server ends
// as reported.
func TestRecoverCarriesOutAFaultJournaledBeforeTheServerWasMarkedFailed(t *testing.T) {
	ctx := context.Background()
	crash := func(t *testing.T) *site {
		s := patentSite(t)
		cs := &crashStore{Store: s.store, budget: 1} // PhaseBegin only
		_ = s.w.FailServer("srv01", bmc.FaultProcessor)
		res, _ := s.newOrchestrator(cs).HandleFault(ctx, bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor})
		if res.Outcome != failover.OutcomeInterrupted || s.rec("srv01").State != search.Active {
			t.Fatalf("crash setup: %s, srv01 %s", res.Outcome, s.rec("srv01").State)
		}
		return s
	}
	t.Run("failover", func(t *testing.T) {
		s := crash(t)
		results, err := s.newOrchestrator(s.store).Recover(ctx)
		if err != nil || len(results) != 1 || results[0].Outcome != failover.OutcomeDone {
			t.Fatalf("recover: %+v %v", results, err)
		}
		if err := workloadMoved(s.store, s.w, "srv01", "web"); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.w.Server(string(s.rec("srv01").MovedTo)); st.BootVolume != "boot-srv01" {
			t.Errorf("spare boots %q", st.BootVolume)
		}
		s.checkWorld()
	})
	t.Run("report", func(t *testing.T) {
		s := crash(t)
		s.opts = append(s.opts, failover.WithFaultActions(map[bmc.FaultType]failover.Rule{bmc.FaultProcessor: {Action: failover.ActReport}}, failover.Rule{Action: failover.ActNow}))
		results, err := s.newOrchestrator(s.store).Recover(ctx)
		if err != nil || len(results) != 1 || results[0].Outcome != failover.OutcomeReported {
			t.Fatalf("recover: %+v %v", results, err)
		}
		if r := s.rec("srv01"); r.State != search.Active || r.MovedTo != "" {
			t.Errorf("srv01 touched: %+v", r)
		}
		if n := s.w.Calls(fake.DriverBMC, "PowerOn"); n != 0 {
			t.Errorf("%d power-ons", n)
		}
		if u, _ := s.store.Unfinished(ctx); len(u) != 0 {
			t.Errorf("unfinished %v", u)
		}
	})
}

// TestCrashDuringRecoverThenRecoverAgain crashes a failover at a store
// write, then crashes the Recover that finishes it at each of its own
// writes (and, for a few, the Recover after that one too): the fault
// journaled first is never lost, and the last Recover finishes it with
// I1-I4 intact.
func TestCrashDuringRecoverThenRecoverAgain(t *testing.T) {
	ctx := context.Background()
	for _, sc := range []crashScenario{crashScenarios[0], crashScenarios[6]} {
		for _, b1 := range []int{1, 2, 4, 6, 9, 13} {
			t.Run(fmt.Sprintf("%s/crash at %d", sc.name, b1), func(t *testing.T) {
				for b2 := 0; ; b2++ {
					for _, b3 := range []int{-1, 0, 1, 3} {
						if b3 >= 0 && b2%4 != 1 {
							continue // a third crash for a sample of the second's points
						}
						clk := fake.NewClock(t0)
						w, l := fake.PatentExample(fake.WithClock(clk))
						addSpare(t, w, "srv13")
						s := newSite(t, w, l, clk)
						if sc.setup != nil {
							sc.setup(t, s)
						}
						inner := s.store
						workload := s.rec(sc.server).Workload
						_ = s.w.FailServer(sc.server, sc.fault)
						cs1 := &crashStore{Store: inner, budget: b1}
						if res, _ := s.newOrchestrator(cs1).HandleFault(ctx, bmc.Fault{Server: sc.server, Type: sc.fault}); !cs1.dead() {
							t.Skipf("the failover ends (%s) before write %d", res.Outcome, b1)
						}
						cs2 := &crashStore{Store: inner, budget: b2}
						_, _ = s.newOrchestrator(cs2).Recover(ctx)
						if !cs2.dead() {
							if b3 < 0 {
								if err := s.finished(inner, sc.server, workload); err != nil {
									t.Fatalf("recover crashing at none of %d writes: %v", b2, err)
								}
								return // every write of the Recover visited
							}
							continue
						}
						if b3 >= 0 {
							cs3 := &crashStore{Store: inner, budget: b3}
							_, _ = s.newOrchestrator(cs3).Recover(ctx)
						}
						if _, err := s.newOrchestrator(inner).Recover(ctx); err != nil {
							t.Fatalf("crashes at %d, %d, %d: last recover: %v", b1, b2, b3, err)
						}
						if err := s.finished(inner, sc.server, workload); err != nil {
							t.Fatalf("crashes at %d, %d, %d: %v", b1, b2, b3, err)
						}
					}
				}
			})
		}
	}
}

// finished checks that no failover is left open, the world keeps I1-I4,
// and server's workload runs on the spare that took it.
func (s *site) finished(st failover.Store, server, workload string) error {
	if u, _ := st.Unfinished(context.Background()); len(u) != 0 {
		return fmt.Errorf("unfinished: %v", u)
	}
	if err := checkWorld(s.w, s.base, st); err != nil {
		return err
	}
	return workloadMoved(st, s.w, server, workload)
}
