package failover_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
)

// TestLoggerRecordsEveryEvent: the logger is an event sink: every event
// the observers see is one log record with its failover ID, at the level
// LevelOf gives, and a step that failed is logged as a warning with its
// error.
func TestLoggerRecordsEveryEvent(t *testing.T) {
	ctx := context.Background()
	clock := fake.NewClock(failovertest.Epoch)
	world, layout := fake.PatentExample(fake.WithClock(clock))
	store := failover.NewMemStore()
	if _, err := store.Put(ctx, failovertest.Records(world)...); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	var mu sync.Mutex
	var events []failover.Event
	o, err := failover.New(store, failovertest.Drivers(world), failover.WithClock(clock),
		failover.WithTimeouts(failover.Timeouts{Shutdown: 30 * time.Second, Poll: 5 * time.Second}),
		failover.WithSearchOptions(failovertest.SearchOptions(world, layout)...),
		failover.WithLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		failover.WithObserver(func(e failover.Event) {
			mu.Lock() // parallel steps emit concurrently
			events = append(events, e)
			mu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	// A VLAN change is refused: the step fails, the failover rolls back
	// and, with no other spare, fails.
	if _, err := world.FailCalls(fake.DriverVLAN, "SetPortVLAN", "", fabric.ErrInvalid, 1); err != nil {
		t.Fatal(err)
	}
	if err := world.FailServer("srv01", bmc.FaultProcessor); err != nil {
		t.Fatal(err)
	}
	res, _ := o.HandleFault(ctx, bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor})
	if res.Outcome == failover.OutcomeDone {
		t.Fatalf("outcome %s with a VLAN change refused", res.Outcome)
	}
	type record struct {
		Level, Msg, Failover, Step, Target, Err string
	}
	var logged []string
	failed, errors := 0, 0
	dec := json.NewDecoder(&buf)
	for dec.More() {
		var r record
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		if r.Failover != res.ID {
			t.Errorf("record %+v names failover %q, the failover is %q", r, r.Failover, res.ID)
		}
		if r.Level == "ERROR" {
			errors++
		}
		if r.Msg == string(failover.EventStepFinished) && r.Err != "" {
			failed++
			if r.Level != "WARN" {
				t.Errorf("failed step logged as %+v", r)
			}
		}
		logged = append(logged, strings.Join([]string{r.Level, r.Msg, r.Failover, r.Step, r.Target, r.Err}, "|"))
	}
	var want []string
	for _, e := range events {
		msg := ""
		if e.Err != nil {
			msg = e.Err.Error()
		}
		want = append(want, strings.Join([]string{failover.LevelOf(e).String(), string(e.Kind), e.Failover, e.Step, e.Target, msg}, "|"))
	}
	slices.Sort(logged)
	slices.Sort(want)
	if !slices.Equal(logged, want) || len(want) == 0 {
		t.Fatalf("log records:\n%s\nevents:\n%s", strings.Join(logged, "\n"), strings.Join(want, "\n"))
	}
	if failed == 0 || errors == 0 {
		t.Fatalf("%d failed steps and %d error records logged, want both", failed, errors)
	}
}
