package bmc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
)

// firedClock is the system clock whose timers have always fired: the
// Watcher's loop wakes on its timer as often as on the end of a poll,
// so end-of-poll signals pile up unread.
type firedClock struct{ bmc.Clock }

func (firedClock) Now() time.Time { return time.Now() }

func (firedClock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- time.Now()
	return ch
}

// Run returns when ctx ends however many polls ended meanwhile: a poll
// that ends never waits for the loop to read its end signal (a daemon
// that stops must not hang in Run).
func TestRunReturnsAfterManyPollsEnded(t *testing.T) {
	var targets []bmc.Target
	for i := range 3 {
		targets = append(targets, bmc.Target{Server: fmt.Sprintf("s%d", i), BMC: &logBMC{}})
	}
	w, err := bmc.NewWatcher(targets, func(context.Context, bmc.Fault) {},
		bmc.WithWatchClock(firedClock{bmc.SystemClock()}), bmc.WithWatchInterval(time.Nanosecond), bmc.WithWatchJitter(0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	time.Sleep(200 * time.Millisecond) // thousands of polls end
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after ctx ended")
	}
}
