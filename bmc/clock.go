package bmc

import (
	"context"
	"time"
)

// Clock is the time source shared by the Watcher, the EventHandler and
// the failover Orchestrator (failover.Clock is this type), so that all of
// them can run on one clock: the system's (SystemClock), or a virtual
// one in simulations (drivers/fake.Clock, where a whole failover, the
// watcher's polls included, runs in virtual time).
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits d, or returns ctx's error when ctx ends first (at
	// once when it has already ended).
	Sleep(ctx context.Context, d time.Duration) error
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// SystemClock returns the Clock of the system (package time).
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
