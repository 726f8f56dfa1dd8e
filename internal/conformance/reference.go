package conformance

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/coldstandby/coldstandby/internal/errs"
)

// Faults is the fault-injection state of a suite's in-memory reference
// driver (in the suite's own tests): what the harness's StallNext and
// FailNext asked for. The driver embeds it in its simulated device, next
// to the mutex that guards both, and calls Admit at the start of every
// request.
type Faults struct {
	// Stall, when positive, holds the next request this long.
	Stall time.Duration
	// FailNext fails the next request as if the device were briefly
	// unreachable.
	FailNext bool
}

// Admit starts a request op of a reference driver whose simulated device
// is guarded by mu (not held by the caller). variant is the driver's
// broken-on-purpose variant, "" for a correct driver; Admit honours the
// two the reference drivers share: "ignores-ctx" and
// "transient-wrong-kind".
//
// Admit returns "ref: op: " and ctx.Err() if ctx is done (unless variant
// is "ignores-ctx"). Otherwise it locks mu; a pending Stall is cleared and
// the request held for it with mu released, through hold (Hold when hold
// is nil), and an error from hold returned as "ref: op: " and the error;
// a pending FailNext is cleared and "ref: op: busy" returned, wrapping the
// shared ErrTransient unless variant is "transient-wrong-kind". Admit
// returns nil with mu held, the caller then does its work and unlocks mu,
// or an error with mu released.
func (f *Faults) Admit(ctx context.Context, mu *sync.Mutex, op, busy, variant string, hold func(ctx context.Context, d time.Duration) error) error {
	ignoreCtx := variant == "ignores-ctx"
	if !ignoreCtx {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ref: %s: %w", op, err)
		}
	}
	mu.Lock()
	if d := f.Stall; d > 0 {
		f.Stall = 0
		mu.Unlock()
		var err error
		if hold != nil {
			err = hold(ctx, d)
		} else {
			err = Hold(ctx, d, ignoreCtx)
		}
		if err != nil {
			return fmt.Errorf("ref: %s: %w", op, err)
		}
		mu.Lock()
	}
	if f.FailNext {
		f.FailNext = false
		mu.Unlock()
		if variant == "transient-wrong-kind" {
			return fmt.Errorf("ref: %s: %s", op, busy)
		}
		return fmt.Errorf("ref: %s: %s: %w", op, busy, errs.Transient)
	}
	return nil
}
