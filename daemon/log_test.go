package daemon_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/daemon"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
)

// LogEvents writes one line per fault, plan, step finished or failed
// (with the error) and outcome, each with the failover ID.
func TestLogEventsOneLinePerFaultPlanStepAndOutcome(t *testing.T) {
	ctx := context.Background()
	clock := fake.NewClock(t0)
	world, layout := fake.PatentExample(fake.WithClock(clock))
	store := failover.NewMemStore()
	_, err := store.Put(ctx, failovertest.Records(world)...)
	must(t, err)
	buf := &logBuffer{}
	o, err := failover.New(store, failovertest.Drivers(world), failover.WithClock(clock), failover.WithRetries(1, 8),
		failover.WithSearchOptions(failovertest.SearchOptions(world, layout)...),
		failover.WithObserver(daemon.LogEvents(slog.New(slog.NewJSONHandler(buf, nil)))))
	must(t, err)
	// srv01's spare srv02 does not boot: a step fails, the attempt is
	// rolled back, and the failover goes on with the next spare or fails.
	_, err = world.Inject(fake.Fault{Driver: fake.DriverBMC, Method: "PowerOn", Target: "srv02", Err: bmc.ErrUnsupported})
	must(t, err)
	res, _ := o.HandleFault(ctx, bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor})
	if res.ID == "" {
		t.Fatalf("no failover: %s %v", res.Outcome, res.Err)
	}
	count := map[string]int{}
	for _, l := range buf.lines(t) {
		msg, _ := l["msg"].(string)
		count[msg]++
		if l["failover"] != res.ID {
			t.Errorf("line %q has failover %v, want %s", msg, l["failover"], res.ID)
		}
		if msg == "step failed" {
			if e, _ := l["err"].(string); e == "" || l["step"] == "" || l["driver"] == "" {
				t.Errorf("a failed step's line lacks its error, step or driver: %v", l)
			}
		}
	}
	for _, msg := range []string{"fault", "plan", "step finished", "step failed", "failover ended"} {
		if count[msg] == 0 {
			t.Errorf("no %q line (%v)", msg, count)
		}
	}
	if count["fault"] != 1 || count["failover ended"] != 1 {
		t.Errorf("%d fault lines and %d outcome lines for one fault, want 1 each", count["fault"], count["failover ended"])
	}
	t.Logf("outcome %s; lines %v", res.Outcome, count)
}

// A fault that starts no failover is one "fault" line with its outcome.
func TestLogEventsFaultWithoutFailover(t *testing.T) {
	buf := &logBuffer{}
	log := daemon.LogEvents(slog.New(slog.NewJSONHandler(buf, nil)))
	log(failover.Event{Kind: failover.EventFaultReported, Server: "srv01", Detail: "correctable"})
	log(failover.Event{Kind: failover.EventFaultDeferred, Failover: "f1", Server: "srv02", Detail: "memory"})
	lines := buf.lines(t)
	if len(lines) != 2 || lines[0]["msg"] != "fault" || lines[0]["outcome"] != "reported" ||
		lines[1]["outcome"] != "deferred" || lines[1]["failover"] != "f1" {
		t.Errorf("lines %v", lines)
	}
}
