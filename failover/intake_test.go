package failover_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
	"github.com/coldstandby/coldstandby/search"
)

// untouched checks that a refused fault changed nothing: srv01 is on,
// Active, holds its disks, and no failover was journaled.
func (s *site) untouched(id string) {
	s.t.Helper()
	if r := s.rec(id); r.State != search.Active || r.Reservation != "" {
		s.t.Errorf("%s is %s, reserved by %q", id, r.State, r.Reservation)
	}
	if p := s.w.Power(id); p != bmc.PowerOn {
		s.t.Errorf("%s was powered %s", id, p)
	}
	if n := len(s.w.Ops()); n != 0 {
		s.t.Errorf("%d driver calls, first %v", n, s.w.Ops()[0])
	}
	if u, _ := s.store.Unfinished(context.Background()); len(u) != 0 {
		s.t.Errorf("unfinished %v", u)
	}
}

// A record elsewhere in the store that makes the inventory invalid, or
// that names a switch without a driver, is found before the failed
// server is fenced: the fault is refused with nothing changed.
func TestFaultIsRefusedBeforeFencingWhenTheSiteIsInvalid(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(s *site)
		want   string
	}{
		{"partition members with different priorities", func(s *site) {
			_ = updateRecord(s, "srv04", func(r *failover.Record) { r.Priority = 3 })
		}, "partition"},
		{"a switch with no driver", func(s *site) {
			_ = updateRecord(s, "srv12", func(r *failover.Record) { r.NICs[0].Switch = "sw-9" })
		}, `switch "sw-9"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := patentSite(t)
			tc.mutate(s)
			_ = s.w.FailServer("srv01", bmc.FaultProcessor)
			s.w.ResetOps()
			res, err := s.o.HandleFault(context.Background(), bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor})
			if !errors.Is(err, failover.ErrInvalid) || res.Outcome != failover.OutcomeRefused || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%s: %v, want refused with ErrInvalid naming %s", res.Outcome, err, tc.want)
			}
			s.untouched("srv01")
			// DryRun says the same.
			if _, err := s.o.DryRun(context.Background(), "srv01"); !errors.Is(err, failover.ErrInvalid) {
				t.Errorf("DryRun: %v, want ErrInvalid", err)
			}
		})
	}
}

// A fault on the spare that a failover is turning into the replacement
// reaches that failover: it rolls the attempt back, sets the spare
// aside and takes the next one. The fault is answered as deferred, not
// lost.
func TestFaultOnASpareInUseReachesItsFailover(t *testing.T) {
	clk := fake.NewClock(t0)
	w, l := fake.PatentExample(fake.WithClock(clk))
	addSpare(t, w, "srv13")
	s := newSite(t, w, l, clk)
	var spareRes failover.Result
	var spareErr error
	var wg sync.WaitGroup
	// srv02 hangs right after it powered on, and its BMC says so.
	if _, err := s.w.Inject(fake.Fault{Driver: fake.DriverBMC, Method: "PowerOn", Target: "srv02", Times: 1, Then: func() {
		_ = s.w.FailServer("srv02", bmc.FaultProcessor)
		wg.Add(1)
		go func() {
			defer wg.Done()
			spareRes, spareErr = s.o.HandleFault(context.Background(), bmc.Fault{Server: "srv02", Type: bmc.FaultProcessor})
		}()
		wg.Wait()
	}}); err != nil {
		t.Fatal(err)
	}
	res := s.fail("srv01", bmc.FaultProcessor)
	if spareErr != nil || spareRes.Outcome != failover.OutcomeDeferred {
		t.Fatalf("fault on the spare: %s %v, want deferred", spareRes.Outcome, spareErr)
	}
	if res.Outcome != failover.OutcomeDone || res.Plan.Assignments[0].Spare != "srv13" {
		t.Fatalf("%s on %v: %v; want done on srv13", res.Outcome, res.Plan, res.Err)
	}
	r := s.rec("srv02")
	if r.State != search.Maintenance || r.Reservation != "" || len(r.PendingFaults) != 0 || !strings.Contains(r.Note, "processor") {
		t.Errorf("srv02 after its fault: %s, reserved %q, pending %v, note %q", r.State, r.Reservation, r.PendingFaults, r.Note)
	}
	if p := s.w.Power("srv02"); p != bmc.PowerOff {
		t.Errorf("srv02 %s", p)
	}
	s.checkWorld()
}

// A fault on a server that a failover of another (crashed) instance
// holds is kept in the server's record and acted on once Recover ends
// that failover.
func TestFaultOnAServerHeldByAnUnfinishedFailoverIsKept(t *testing.T) {
	s := patentSite(t)
	ctx := context.Background()
	// Crash srv06's failover once it reserved srv07 (its victim) and
	// srv08 (where srv07's work goes).
	cs := &crashStore{Store: s.store, budget: 1 << 30}
	o1, err := failover.New(cs, failovertest.Drivers(s.w), append(s.opts, failover.WithObserver(func(e failover.Event) {
		if e.Kind == failover.EventPlanChosen {
			cs.mu.Lock()
			cs.budget = 0
			cs.mu.Unlock()
		}
	}))...)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.w.FailServer("srv06", bmc.FaultOSStop)
	if res, _ := o1.HandleFault(ctx, bmc.Fault{Server: "srv06", Type: bmc.FaultOSStop}); res.Outcome != failover.OutcomeInterrupted {
		t.Fatalf("setup: %s", res.Outcome)
	}
	if r := s.rec("srv08"); r.Reservation == "" {
		t.Fatalf("setup: srv08 not reserved: %+v", r)
	}
	// srv08's BMC reports a fault while the journal is unfinished.
	_ = s.w.FailServer("srv08", bmc.FaultMemory)
	res, err := s.o.HandleFault(ctx, bmc.Fault{Server: "srv08", Type: bmc.FaultMemory})
	if err != nil || res.Outcome != failover.OutcomeDeferred {
		t.Fatalf("fault on srv08: %s %v, want deferred", res.Outcome, err)
	}
	if r := s.rec("srv08"); len(r.PendingFaults) != 1 {
		t.Fatalf("srv08 keeps %v", r.PendingFaults)
	}
	if _, err := s.newOrchestrator(s.store).Recover(ctx); err != nil {
		t.Fatal(err)
	}
	// srv07's work could not go to the broken srv08; srv08 is set aside.
	if r := s.rec("srv08"); r.State != search.Maintenance || len(r.PendingFaults) != 0 {
		t.Errorf("srv08 after Recover: %s, pending %v", r.State, r.PendingFaults)
	}
	if r := s.rec("srv06"); r.State != search.Failed || r.MovedTo == "" {
		t.Errorf("srv06 not failed over: %+v", r)
	}
	s.checkWorld()
}

// longWaitClock is a virtual clock whose sleeps of a minute or more
// block (until ctx ends) and announce themselves on waiting, so a test
// can act while a delayed fault action waits.
type longWaitClock struct {
	*fake.Clock
	waiting chan struct{}
}

func (c longWaitClock) Sleep(ctx context.Context, d time.Duration) error {
	if d < time.Minute {
		return c.Clock.Sleep(ctx, d)
	}
	c.waiting <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

// A fault whose rule says act now ends the wait of a delayed one for the
// same server, and a recovery of the delayed cause no longer cancels it.
func TestHardFaultDuringADelayedOneActsNow(t *testing.T) {
	clk := longWaitClock{fake.NewClock(t0), make(chan struct{}, 1)}
	s := patentSite(t, failover.WithClock(clk))
	ctx := context.Background()
	type out struct {
		res failover.Result
		err error
	}
	first := make(chan out, 1)
	go func() {
		res, err := s.o.HandleFault(ctx, bmc.Fault{Server: "srv01", Type: bmc.FaultTemperature})
		first <- out{res, err}
	}()
	<-clk.waiting // the temperature rule's 60 s delay is running
	_ = s.w.FailServer("srv01", bmc.FaultProcessor)
	res, err := s.o.HandleFault(ctx, bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor})
	if err != nil || res.Outcome != failover.OutcomeAbsorbed {
		t.Fatalf("processor fault: %s %v, want absorbed into the waiting one", res.Outcome, err)
	}
	s.o.Recovered("srv01") // the temperature is fine again: too late to cancel
	var o out
	select {
	case o = <-first:
	case <-time.After(10 * time.Second):
		t.Fatal("the delayed failover still waits after a processor fault")
	}
	if o.err != nil || o.res.Outcome != failover.OutcomeDone || o.res.Fault.Type != bmc.FaultProcessor {
		t.Fatalf("%s for %s: %v", o.res.Outcome, o.res.Fault.Type, o.err)
	}
	s.checkWorld()
}

// Two Orchestrators on one Store without leader election (misuse) both
// get the same fault: the claim on the failed server is a
// compare-and-set, so exactly one fails it over.
func TestTwoOrchestratorsOnOneStoreFailAServerOverOnce(t *testing.T) {
	for range 20 {
		s := patentSite(t)
		o2 := s.newOrchestrator(s.store)
		_ = s.w.FailServer("srv01", bmc.FaultProcessor)
		f := bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor}
		var results [2]failover.Result
		var wg sync.WaitGroup
		for i, o := range []*failover.Orchestrator{s.o, o2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], _ = o.HandleFault(context.Background(), f)
			}()
		}
		wg.Wait()
		done := 0
		for _, r := range results {
			switch r.Outcome {
			case failover.OutcomeDone:
				done++
			case failover.OutcomeAbsorbed, failover.OutcomeInterrupted:
			default:
				t.Fatalf("outcome %s: %v", r.Outcome, r.Err)
			}
		}
		if done != 1 {
			t.Fatalf("%d failovers done: %s / %s", done, results[0].Outcome, results[1].Outcome)
		}
		running := 0
		for _, id := range []string{"srv02", "srv09", "srv13"} {
			if st, _ := s.w.Server(id); st.Power == bmc.PowerOn {
				running++
			}
		}
		if running != 1 {
			t.Fatalf("web runs on %d spares", running)
		}
		s.checkWorld()
	}
}
