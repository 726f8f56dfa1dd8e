package failover

import (
	"context"
	"fmt"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
)

func (o *Orchestrator) bmcOf(x Record) (bmc.BMC, error) {
	if o.drv.BMC == nil {
		return nil, fmt.Errorf("failover: no BMC driver for %s: %w", x.ID, ErrUnsupported)
	}
	b, err := o.drv.BMC(x)
	if err != nil {
		return nil, fmt.Errorf("failover: BMC of %s: %w", x.ID, err)
	}
	if b == nil {
		return nil, fmt.Errorf("failover: BMC of %s: none: %w", x.ID, ErrNotFound)
	}
	return b, nil
}

// powerState reads the power state once (with retries).
func (r *run) powerState(ctx context.Context, a *AuditEntry, b bmc.BMC) (bmc.PowerState, error) {
	var st bmc.PowerState
	err := r.call(ctx, a, r.o.cfg.attempts, func(ctx context.Context) error {
		var err error
		st, err = b.PowerState(ctx)
		return err
	}, nil)
	return st, err
}

// waitPower polls until the server reports want or d has passed.
func (r *run) waitPower(ctx context.Context, a *AuditEntry, b bmc.BMC, want bmc.PowerState, d time.Duration) (bmc.PowerState, error) {
	clk := r.o.cfg.clock
	deadline := clk.Now().Add(d)
	var last bmc.PowerState
	var lastErr error
	for {
		st, err := r.powerState(ctx, a, b)
		if err == nil && st == want {
			return st, nil
		}
		last, lastErr = st, err
		if r.stopped() || ctx.Err() != nil || !clk.Now().Before(deadline) {
			break
		}
		if err := clk.Sleep(ctx, r.o.cfg.timeouts.Poll); err != nil {
			break
		}
	}
	if lastErr != nil {
		return last, lastErr
	}
	return last, fmt.Errorf("power state %s after %v, want %s: %w", last, d, want, ErrTransient)
}

// fence makes sure x is off (I1): graceful shutdown (after an optional
// NMI and a bounded wait for a memory dump), forced power-off, and a
// confirmed off. A victim's fence is undone by powering it on again.
func (r *run) fence(ctx context.Context, x Record, victim bool) error {
	rec := &stepRec{Server: x.ID, Victim: victim}
	err := r.step(ctx, kindFence, string(x.ID), rec, x.ID, "", func(ctx context.Context, a *AuditEntry) error {
		b, err := r.o.bmcOf(x)
		if err != nil {
			return err
		}
		return r.fenceBMC(ctx, a, b, r.fencing(victim))
	})
	if err == nil {
		r.o.emit(Event{Kind: EventFenced, Failover: r.id, Server: x.ID})
	}
	return err
}

// fencing is how this run fences: its fault's rule for the failed
// server, always gracefully for a preemption victim or a failback's
// source (their operating systems run well).
func (r *run) fencing(victim bool) Fencing {
	if victim || r.h.Kind != kindFailover {
		return FenceGraceful
	}
	return r.o.rule(r.h.Fault.Type).Fence
}

func (r *run) fenceBMC(ctx context.Context, a *AuditEntry, b bmc.BMC, how Fencing) error {
	cfg := r.o.cfg
	clk := cfg.clock
	t := cfg.timeouts
	st, err := r.powerState(ctx, a, b)
	if err == nil && st == bmc.PowerOff {
		return nil
	}
	if derr := r.mayAct(); derr != nil {
		return derr
	}
	if cfg.nmi && st == bmc.PowerOn {
		// Best effort: unsupported or refused NMIs do not stop fencing.
		_ = r.call(ctx, a, 1, b.NMI, nil)
	}
	// A server writing a memory dump is given time to finish it.
	if dr, ok := b.(bmc.DumpReporter); ok && err == nil && st != bmc.PowerOff {
		deadline := clk.Now().Add(t.Dump)
		for clk.Now().Before(deadline) {
			var dumping bool
			derr := r.call(ctx, a, 1, func(ctx context.Context) error {
				var err error
				dumping, err = dr.DumpInProgress(ctx)
				return err
			}, nil)
			if derr != nil || !dumping {
				break
			}
			if clk.Sleep(ctx, t.Poll) != nil {
				break
			}
		}
	}
	// Graceful shutdown, when the BMC answers and the OS may listen.
	if err == nil && how == FenceGraceful {
		if serr := r.call(ctx, a, cfg.attempts, b.Shutdown, nil); serr == nil {
			if _, werr := r.waitPower(ctx, a, b, bmc.PowerOff, t.Shutdown); werr == nil {
				return nil
			}
		}
	}
	if derr := r.mayAct(); derr != nil {
		return derr
	}
	// Forced power-off, then confirm.
	perr := r.call(ctx, a, cfg.attempts, b.PowerOff, func(ctx context.Context) (bool, error) {
		st, err := b.PowerState(ctx)
		return st == bmc.PowerOff, err
	})
	st, werr := r.waitPower(ctx, a, b, bmc.PowerOff, t.PowerOff)
	if werr == nil {
		return nil
	}
	if perr != nil {
		return fmt.Errorf("not confirmed off (%s): power-off: %w", st, perr)
	}
	return fmt.Errorf("not confirmed off: %w", werr)
}

// errServerOn marks a failed server found on again after fencing that
// could not be fenced again: the failover stops with the disks where
// they were (I1).
var errServerOn = fmt.Errorf("fenced server is on again: %w", ErrFencingFailed)

// refences bounds how many times ensureOff fences a server again.
const refences = 2

// ensureOff re-confirms, just before x's disks move and before the
// server taking them boots, that x (a failed server or a preemption
// victim, fenced earlier in this failover) is still off. A server can
// come back on by itself (a power-restore policy when mains power
// returns, a watchdog, an operator): it is then fenced again, at most
// refences times; if it still is not off, the error wraps errServerOn
// (and ErrFencingFailed).
func (r *run) ensureOff(ctx context.Context, a *AuditEntry, x Record) error {
	b, err := r.o.bmcOf(x)
	if err != nil {
		return err
	}
	for try := 0; ; try++ {
		st, err := r.powerState(ctx, a, b)
		if err == nil && st == bmc.PowerOff {
			return nil
		}
		if derr := r.mayAct(); derr != nil {
			return derr
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if try == refences {
			return fmt.Errorf("%s is %s after fencing it again %d times (%v): %w", x.ID, st, refences, err, errServerOn)
		}
		r.o.emit(Event{Kind: EventServerOn, Failover: r.id, Server: x.ID, Err: err,
			Detail: fmt.Sprintf("%s is %s after it was fenced: fencing it again", x.ID, st)})
		if ferr := r.fenceBMC(ctx, a, b, FenceForce); ferr != nil {
			if r.stopped() || ctx.Err() != nil {
				return ferr
			}
			return fmt.Errorf("%s is %s again and fencing it again failed: %w: %w", x.ID, st, errServerOn, ferr)
		}
	}
}

// confirmOff checks that x, a server about to receive another server's
// disks (a spare, a relocation target, a failback's home), is off. A
// standby is cold: one found running (left on, booted from the network)
// would see the disks from a running operating system, and powering on a
// server that is on boots nothing, so it is refused (and set aside by
// the caller's blame) rather than given the disks. An unknown state is
// refused too.
func (r *run) confirmOff(ctx context.Context, a *AuditEntry, x Record) error {
	b, err := r.o.bmcOf(x)
	if err != nil {
		return err
	}
	st, err := r.powerState(ctx, a, b)
	if err != nil {
		return fmt.Errorf("%s must be confirmed off first: %w", x.ID, err)
	}
	if st != bmc.PowerOff {
		return fmt.Errorf("%s is %s; a standby must be off to take over: %w", x.ID, st, ErrConflict)
	}
	return nil
}

// boot sets the boot device, powers x on, confirms it is on and runs the
// health check. Undone by a forced power-off. x must be off to start
// with: powering on a running server would boot nothing.
func (r *run) boot(ctx context.Context, x Record) error {
	// Checked before the intent is journaled: the undo of a boot forces
	// the server off, which must not hit a server this failover did not
	// power on.
	if r.stopped() {
		return r.deadErr()
	}
	if err := r.confirmOff(ctx, nil, x); err != nil {
		return fmt.Errorf("failover: boot %s: it would not boot from the disks: %w", x.ID, err)
	}
	rec := &stepRec{Server: x.ID}
	return r.step(ctx, kindBoot, string(x.ID), rec, "", x.ID, func(ctx context.Context, a *AuditEntry) error {
		cfg := r.o.cfg
		b, err := r.o.bmcOf(x)
		if err != nil {
			return err
		}
		if err := r.call(ctx, a, cfg.attempts, func(ctx context.Context) error {
			return b.SetBootDevice(ctx, bmc.BootDisk, true)
		}, nil); err != nil {
			return err
		}
		if err := r.call(ctx, a, cfg.attempts, b.PowerOn, func(ctx context.Context) (bool, error) {
			st, err := b.PowerState(ctx)
			return st == bmc.PowerOn, err
		}); err != nil {
			return err
		}
		if _, err := r.waitPower(ctx, a, b, bmc.PowerOn, cfg.timeouts.Boot); err != nil {
			return err
		}
		if cfg.health != nil {
			if derr := r.mayAct(); derr != nil {
				return derr
			}
			hctx, cancel := context.WithTimeout(ctx, cfg.timeouts.Health)
			defer cancel()
			if err := cfg.health(hctx, x); err != nil {
				return fmt.Errorf("health check: %w", err)
			}
		}
		return nil
	})
}
