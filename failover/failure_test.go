package failover_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

func TestFencingFailedLeavesDisksWhereTheyWere(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(w *fake.World)
	}{
		{"bmc unreachable", func(w *fake.World) { _ = w.FailServer("srv01", bmc.FaultBMCUnreachable) }},
		{"power state unknown", func(w *fake.World) { _, _ = w.PowerStateUnknown("srv01", 0) }},
		{"power-off refused", func(w *fake.World) {
			_ = w.RefuseShutdown("srv01", true)
			_, _ = w.FailCalls(fake.DriverBMC, "PowerOff", "srv01", bmc.ErrConflict, 0)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := patentSite(t)
			tc.setup(s.w)
			res, err := s.o.HandleFault(context.Background(), bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor})
			if !errors.Is(err, failover.ErrFencingFailed) || res.Outcome != failover.OutcomeFencingFailed {
				t.Fatalf("outcome %s, err %v", res.Outcome, err)
			}
			if h := s.holders("array-1", "boot-srv01"); !slices.Equal(h, []string{"srv01"}) {
				t.Errorf("boot-srv01 held by %v", h)
			}
			if p := s.w.Power("srv02"); p != bmc.PowerOff {
				t.Errorf("spare srv02 is %s", p)
			}
			if r := s.rec("srv02"); r.State != search.Standby || r.Reservation != "" {
				t.Errorf("spare record %+v", r)
			}
			if r := s.rec("srv01"); r.State != search.Failed {
				t.Errorf("srv01 record %+v", r)
			}
			if s.w.Calls(fake.DriverStorage, "") != 0 {
				t.Errorf("storage touched: %v", s.w.Ops())
			}
			s.checkWorld()
		})
	}
}

func TestFencingWaitsForTheDumpAndForcesOffAHungServer(t *testing.T) {
	s := patentSite(t, failover.WithNMI(true))
	res := s.fail("srv01", bmc.FaultProcessor) // hung: ignores the graceful shutdown
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if n := s.w.Calls(fake.DriverBMC, "NMI"); n == 0 {
		t.Error("no NMI sent")
	}
	if n := s.w.Calls(fake.DriverBMC, "PowerOff"); n == 0 {
		t.Error("hung server not forced off")
	}
	// The dump (90 s) ran to its end before the power-off.
	var dumpDone bool
	for _, op := range s.w.Ops() {
		if op.Method == "DumpInProgress" && op.Target == "srv01" && op.Err == nil {
			dumpDone = true
		}
	}
	if !dumpDone {
		t.Error("dump progress never read")
	}
	s.checkWorld()
}

// addSpare adds a second same-hardware standby for srv01.
func addSpare(t *testing.T, w *fake.World, id string) {
	t.Helper()
	spec, _ := w.Spec("srv02")
	spec.ID = id
	spec.SwitchPorts = []string{"eth1/40", "eth1/41"}
	spec.Initiators = []storage.Initiator{storage.MustParseInitiator("21:00:00:24:ff:00:20:01"), storage.MustParseInitiator("21:00:00:24:ff:00:20:02")}
	if err := w.AddServer(spec); err != nil {
		t.Fatal(err)
	}
}

func TestBrokenSpareIsRolledBackSetAsideAndTheNextOneUsed(t *testing.T) {
	clk := fake.NewClock(t0)
	w, l := fake.PatentExample(fake.WithClock(clk))
	addSpare(t, w, "srv13")
	s := newSite(t, w, l, clk)
	// srv02 cannot power on: the boot step fails after storage, zoning
	// and VLAN were moved to it.
	if err := s.w.FailServer("srv02", bmc.FaultPowerSupply); err != nil {
		t.Fatal(err)
	}
	res := s.fail("srv01", bmc.FaultProcessor)
	if res.Err != nil || res.Outcome != failover.OutcomeDone {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	if res.Plan.Assignments[0].Spare != "srv13" || res.Attempts != 2 {
		t.Fatalf("plan %v after %d attempts", res.Plan, res.Attempts)
	}
	if r := s.rec("srv02"); r.State != search.Maintenance || r.Reservation != "" {
		t.Errorf("broken spare %+v", r)
	}
	if h := s.holders("array-1", "boot-srv01"); !slices.Equal(h, []string{"srv13"}) {
		t.Errorf("boot-srv01 held by %v", h)
	}
	// srv02 was put back: its port is on the parking VLAN again, unzoned.
	spec, _ := s.w.Spec("srv02")
	if v, _ := s.w.PortVLAN("sw-1", spec.SwitchPorts[0]); v.AccessVLAN != 999 {
		t.Errorf("srv02 port %v", v)
	}
	if z := s.w.ActiveZonesOf("fab-1", spec.Initiators[0]); len(z) != 0 {
		t.Errorf("srv02 zones %v", z)
	}
	var undo bool
	for _, a := range res.Audit {
		if a.Step == "undo:storage" && a.Err == "" {
			undo = true
		}
	}
	if !undo {
		t.Errorf("no storage undo in the audit: %+v", res.Audit)
	}
	s.checkWorld()
}

func TestEveryCandidateFailingEndsFailedWithTheDisksHome(t *testing.T) {
	s := patentSite(t, failover.WithCandidates(2))
	if _, err := s.w.FailCalls(fake.DriverVLAN, "SetPortVLAN", "srv02", bmc.ErrConflict, 0); err != nil {
		t.Fatal(err)
	}
	res := s.fail("srv01", bmc.FaultProcessor)
	if res.Outcome != failover.OutcomeFailed || !errors.Is(res.Err, bmc.ErrConflict) {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	if h := s.holders("array-1", "boot-srv01"); !slices.Equal(h, []string{"srv01"}) {
		t.Errorf("boot-srv01 held by %v", h)
	}
	if p := s.w.Power("srv01"); p != bmc.PowerOff {
		t.Errorf("srv01 %s", p)
	}
	s.checkWorld()
}

func TestTransientErrorsAndLostResponsesAreRetried(t *testing.T) {
	s := patentSite(t)
	for _, f := range []fake.Fault{
		{Driver: fake.DriverStorage, Method: "SwapInitiators", LostResponse: true, Times: 1},
		{Driver: fake.DriverStorage, Method: "Mappings", Err: storage.ErrTransient, Times: 2},
		{Driver: fake.DriverZoner, Method: "Commit", LostResponse: true, Times: 1},
		{Driver: fake.DriverZoner, Method: "AddMember", Err: storage.ErrTransient, Times: 1},
		{Driver: fake.DriverVLAN, Method: "SetPortVLAN", LostResponse: true, Times: 1},
		{Driver: fake.DriverBMC, Method: "PowerOn", LostResponse: true, Times: 1},
		{Driver: fake.DriverBMC, Method: "PowerState", Err: bmc.ErrTransient, Times: 2},
	} {
		if _, err := s.w.Inject(f); err != nil {
			t.Fatal(err)
		}
	}
	res := s.fail("srv01", bmc.FaultProcessor)
	if res.Err != nil || res.Outcome != failover.OutcomeDone || res.Attempts != 1 {
		t.Fatalf("outcome %s after %d attempts: %v", res.Outcome, res.Attempts, res.Err)
	}
	retried := 0
	for _, a := range res.Audit {
		if a.Attempts > 1 {
			retried++
		}
	}
	if retried == 0 {
		t.Errorf("audit shows no retries: %+v", res.Audit)
	}
	st, _ := s.w.Server("srv02")
	if st.BootVolume != "boot-srv01" {
		t.Errorf("srv02 booted %q", st.BootVolume)
	}
	s.checkWorld()
}

func TestPerVolumeMoveWithoutInitiatorSwap(t *testing.T) {
	s := patentSite(t, failover.WithInitiatorSwap(false))
	sc := s.scenario("preempt")
	res := s.fail(sc.Fail[0], sc.Fault)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if n := s.w.Calls(fake.DriverStorage, "SwapInitiators"); n != 0 {
		t.Errorf("%d swaps", n)
	}
	if h := s.holders("array-1", "data-srv06"); !slices.Equal(h, []string{"srv07"}) {
		t.Errorf("data-srv06 held by %v", h)
	}
	s.checkWorld()
}

func TestFaultActionTable(t *testing.T) {
	t.Run("report only", func(t *testing.T) {
		s := patentSite(t)
		res := s.fail("srv01", bmc.FaultCorrectable)
		if res.Outcome != failover.OutcomeReported || res.Err != nil || res.ID != "" {
			t.Fatalf("%+v", res)
		}
		if r := s.rec("srv01"); r.State != search.Active {
			t.Errorf("srv01 %s", r.State)
		}
	})
	t.Run("unknown type takes the default", func(t *testing.T) {
		s := patentSite(t, failover.WithFaultActions(map[bmc.FaultType]failover.Rule{}, failover.Rule{Action: failover.ActReport}))
		res := s.fail("srv01", "vendor-specific")
		if res.Outcome != failover.OutcomeReported {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("delay cancelled by recovery", func(t *testing.T) {
		rel := make(chan struct{})
		// A clock whose Sleep blocks until released, so that Recovered
		// can arrive during the delay.
		s := patentSite(t, failover.WithClock(blockingClock{fake.NewClock(t0), rel}))
		done := make(chan failover.Result)
		go func() {
			res, _ := s.o.HandleFault(context.Background(), bmc.Fault{Server: "srv01", Type: bmc.FaultTemperature})
			done <- res
		}()
		for !s.o.Recovered("srv01") {
			time.Sleep(time.Millisecond)
		}
		res := <-done
		close(rel)
		if res.Outcome != failover.OutcomeCancelled {
			t.Fatalf("%+v", res)
		}
		if r := s.rec("srv01"); r.State != search.Active {
			t.Errorf("srv01 %s", r.State)
		}
	})
	t.Run("delay then fail over", func(t *testing.T) {
		s := patentSite(t)
		res := s.fail("srv01", bmc.FaultTemperature)
		if res.Outcome != failover.OutcomeDone {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("recovery check cancels", func(t *testing.T) {
		s := patentSite(t, failover.WithRecoveryCheck(func(context.Context, failover.Record, bmc.Fault) (bool, error) { return true, nil }))
		res := s.fail("srv01", bmc.FaultTemperature)
		if res.Outcome != failover.OutcomeCancelled {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("bad table", func(t *testing.T) {
		_, err := failover.New(failover.NewMemStore(), failover.Drivers{}, failover.WithFaultActions(map[bmc.FaultType]failover.Rule{"x": {Action: failover.ActAfterDelay}}, failover.Rule{Action: failover.ActNow}))
		if !errors.Is(err, failover.ErrInvalid) {
			t.Fatal(err)
		}
	})
}

// blockingClock sleeps until rel is closed or ctx ends.
type blockingClock struct {
	*fake.Clock
	rel chan struct{}
}

func (c blockingClock) Sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.rel:
		return nil
	}
}

func TestRepeatedFaultsAreAbsorbed(t *testing.T) {
	s := patentSite(t)
	_ = s.w.FailServer("srv01", bmc.FaultProcessor)
	var wg sync.WaitGroup
	results := make([]failover.Result, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = s.o.HandleFault(context.Background(), bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor})
		}()
	}
	wg.Wait()
	n := map[failover.Outcome]int{}
	for _, r := range results {
		n[r.Outcome]++
	}
	if n[failover.OutcomeDone] != 1 || n[failover.OutcomeAbsorbed] != 7 {
		t.Fatalf("outcomes %v", n)
	}
	// And after it is done, too.
	if res := s.fail("srv01", bmc.FaultProcessor); res.Outcome != failover.OutcomeAbsorbed {
		t.Fatalf("late fault: %s", res.Outcome)
	}
	s.checkWorld()
}

func TestNoSpareExplainsWhy(t *testing.T) {
	s := patentSite(t)
	_ = updateRecord(s, "srv02", func(r *failover.Record) { r.State = search.Maintenance })
	res := s.fail("srv01", bmc.FaultProcessor)
	if res.Outcome != failover.OutcomeNoSpare || !errors.Is(res.Err, failover.ErrNoSpare) {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	if h := s.holders("array-1", "boot-srv01"); !slices.Equal(h, []string{"srv01"}) {
		t.Errorf("boot-srv01 held by %v", h)
	}
	s.checkWorld()
}

func TestFailedHealthCheckRollsBackAndTriesTheNextSpare(t *testing.T) {
	clk := fake.NewClock(t0)
	w, l := fake.PatentExample(fake.WithClock(clk))
	addSpare(t, w, "srv13")
	s := newSite(t, w, l, clk, failover.WithHealthCheck(func(ctx context.Context, spare failover.Record) error {
		if spare.ID == "srv02" {
			return errors.New("service did not come up")
		}
		return nil
	}))
	res := s.fail("srv01", bmc.FaultProcessor)
	if res.Outcome != failover.OutcomeDone || res.Plan.Assignments[0].Spare != "srv13" {
		t.Fatalf("%s %v: %v", res.Outcome, res.Plan, res.Err)
	}
	if p := s.w.Power("srv02"); p != bmc.PowerOff {
		t.Errorf("unhealthy spare srv02 left %s", p)
	}
	s.checkWorld()
}

// A caller that gives up (a graceful shutdown) while the spare boots
// leaves the failover open in the journal, the spare not blamed; Recover
// rolls it back and carries it out.
func TestCancelledContextLeavesTheFailoverToRecover(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var events []failover.EventKind
	var mu sync.Mutex
	cancelled := false
	s := patentSite(t, failover.WithHealthCheck(func(hctx context.Context, spare failover.Record) error {
		if cancelled {
			return nil
		}
		cancelled = true
		cancel() // the caller gives up while the spare boots
		<-hctx.Done()
		return hctx.Err()
	}), failover.WithObserver(func(e failover.Event) {
		mu.Lock()
		events = append(events, e.Kind)
		mu.Unlock()
	}))
	_ = s.w.FailServer("srv01", bmc.FaultProcessor)
	res, err := s.o.HandleFault(ctx, bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor})
	if !errors.Is(err, context.Canceled) || res.Outcome != failover.OutcomeInterrupted {
		t.Fatalf("%s: %v", res.Outcome, err)
	}
	if r := s.rec("srv02"); r.State == search.Maintenance {
		t.Errorf("srv02 set aside for the caller's cancellation: %+v", r)
	}
	results, err := s.newOrchestrator(s.store).Recover(context.Background())
	if err != nil || len(results) != 1 || results[0].Outcome != failover.OutcomeDone {
		t.Fatalf("Recover: %+v %v", results, err)
	}
	if err := workloadMoved(s.store, s.w, "srv01", "web"); err != nil {
		t.Fatal(err)
	}
	s.checkWorld()
	mu.Lock()
	defer mu.Unlock()
	for _, k := range []failover.EventKind{failover.EventFailoverStarted, failover.EventFenced, failover.EventPlanChosen, failover.EventStepStarted, failover.EventFailoverFailed} {
		if !slices.Contains(events, k) {
			t.Errorf("no %s event in %v", k, events)
		}
	}
}

func TestAFailedStandbyIsSetAside(t *testing.T) {
	s := patentSite(t)
	if res := s.fail("srv02", bmc.FaultMemory); res.Outcome != failover.OutcomeReported || res.Err != nil {
		t.Fatalf("%s %v", res.Outcome, res.Err)
	}
	if r := s.rec("srv02"); r.State != search.Maintenance {
		t.Fatalf("srv02 %+v", r)
	}
	// srv01 now has no spare.
	if res := s.fail("srv01", bmc.FaultMemory); res.Outcome != failover.OutcomeNoSpare {
		t.Fatalf("srv01: %s %v", res.Outcome, res.Err)
	}
	_ = s.w.RepairServer("srv02")
	if err := s.o.MarkStandby(context.Background(), "srv02"); err != nil {
		t.Fatal(err)
	}
	// A fault delivered again once a spare is back is acted on.
	if res := s.fail("srv01", bmc.FaultMemory); res.Outcome != failover.OutcomeDone {
		t.Fatalf("srv01 again: %s %v", res.Outcome, res.Err)
	}
	s.checkWorld()
}
