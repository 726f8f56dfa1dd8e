package failover_test

import (
	"context"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
)

// TestDetectionAndFailoverRunOnOneVirtualClock: the watcher, the intake
// and the Orchestrator share one clock (bmc.Clock). On the fake's virtual
// clock a processor fault in a BMC's event log is found by the next poll
// when the simulation advances the clock by the poll interval, and the
// failover that follows, with the default timeouts, takes no real time.
func TestDetectionAndFailoverRunOnOneVirtualClock(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := fake.NewClock(failovertest.Epoch)
	world, layout := fake.PatentExample(fake.WithClock(clock))
	store := failover.NewMemStore()
	if _, err := store.Put(ctx, failovertest.Records(world)...); err != nil {
		t.Fatal(err)
	}
	o, err := failover.New(store, failovertest.Drivers(world), failover.WithClock(clock),
		failover.WithSearchOptions(failovertest.SearchOptions(world, layout)...))
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan failover.Result, 4)
	in := o.NewIntake(ctx, func(r failover.Result) { results <- r })
	var targets []bmc.Target
	for _, s := range world.Servers() {
		targets = append(targets, bmc.Target{Server: s.ID, BMC: world.BMC(s.ID)})
	}
	const interval = 30 * time.Second
	w, err := bmc.NewWatcher(targets, in.Deliver, bmc.WithWatchClock(clock),
		bmc.WithWatchInterval(interval), bmc.WithWatchJitter(0))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	// The first round reads where each event log ends (what is there is
	// history); then the watcher waits for the clock.
	waitFor(t, "the watcher's first round", func() bool { return len(w.Cursors()) == len(targets) && clock.Waiters() > 0 })

	start := time.Now()
	if err := world.FailServer("srv01", bmc.FaultProcessor); err != nil {
		t.Fatal(err)
	}
	faultAt := clock.Now()
	clock.Advance(interval)
	var res failover.Result
	select {
	case res = <-results:
	case <-time.After(20 * time.Second):
		t.Fatal("no failover 20 s after the poll that should find the fault")
	}
	if res.Outcome != failover.OutcomeDone || res.Server != "srv01" {
		t.Fatalf("%s: %s: %v", res.Server, res.Outcome, res.Err)
	}
	virtual := clock.Now().Sub(faultAt)
	t.Logf("fault to done: %v virtual, %v real", virtual, time.Since(start))
	if virtual < interval {
		t.Fatalf("done %v (virtual) after the fault, before the poll %v later", virtual, interval)
	}
	if err := world.CheckInvariants(nil); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil && ctx.Err() == nil {
		t.Fatal(err)
	}
	in.Wait()
}

// waitFor waits (real time, at most 10 s) until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
