package failover

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
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

func initiators(x Record) []storage.Initiator {
	out := make([]storage.Initiator, 0, len(x.HBAs))
	for _, h := range x.HBAs {
		if !h.Initiator.IsZero() {
			out = append(out, h.Initiator)
		}
	}
	return out
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
	err := r.step(ctx, "fence", string(x.ID), "bmc", rec, x.ID, "", func(ctx context.Context, a *AuditEntry) error {
		b, err := r.o.bmcOf(x)
		if err != nil {
			return err
		}
		return r.fenceBMC(ctx, a, b)
	})
	if err == nil {
		r.o.emit(Event{Kind: EventFenced, Failover: r.id, Server: x.ID})
	}
	return err
}

func (r *run) fenceBMC(ctx context.Context, a *AuditEntry, b bmc.BMC) error {
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
		a.Attempts++
		_ = b.NMI(ctx) // best effort: unsupported or refused NMIs do not stop fencing
	}
	// A server writing a memory dump is given time to finish it.
	if dr, ok := b.(bmc.DumpReporter); ok && err == nil && st != bmc.PowerOff {
		deadline := clk.Now().Add(t.Dump)
		for clk.Now().Before(deadline) && r.mayAct() == nil {
			a.Attempts++
			dumping, derr := dr.DumpInProgress(ctx)
			if derr != nil || !dumping {
				break
			}
			if clk.Sleep(ctx, t.Poll) != nil {
				break
			}
		}
	}
	// Graceful shutdown, when the BMC answers.
	if err == nil {
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
		if ferr := r.fenceBMC(ctx, a, b); ferr != nil {
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
	return r.step(ctx, "boot", string(x.ID), "bmc", rec, "", x.ID, func(ctx context.Context, a *AuditEntry) error {
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

// readMappings reads the volumes visible to inits, with retries.
func (r *run) readMappings(ctx context.Context, a *AuditEntry, dm storage.DiskMapper, inits []storage.Initiator) ([]storage.Mapping, error) {
	var maps []storage.Mapping
	err := r.call(ctx, a, r.o.cfg.attempts, func(ctx context.Context) error {
		var err error
		maps, err = dm.Mappings(ctx, inits)
		return err
	}, nil)
	return maps, err
}

func (r *run) skipped(step, target, why string, server, spare search.ServerID) {
	r.addAudit(AuditEntry{Step: step, Target: target, Err: "skipped: " + why, Start: r.o.cfg.clock.Now()})
	r.o.emit(Event{Kind: EventStepSkipped, Failover: r.id, Server: server, Spare: spare, Step: step, Target: target, Detail: why})
}

// moveStorage moves the volumes of src (as this failover first read
// them, see expectVolumes) to dst, with the same LUN numbers: by swapping
// the host's initiators when the array can, otherwise volume by volume,
// unmapping from src before mapping to dst (never two writers, I2), each
// journaled with what undoes it (I3, I7). Just before each change src is
// re-confirmed off (ensureOff, I1).
func (r *run) moveStorage(ctx context.Context, src, dst Record) error {
	o := r.o
	target := src.DiskArray + ": " + string(src.ID) + " -> " + string(dst.ID)
	dm, skip, err := o.diskMapper(src.DiskArray)
	if err != nil {
		return fmt.Errorf("storage %s: %w", target, err)
	}
	if skip != "" {
		r.skipped("storage", target, skip, src.ID, dst.ID)
		return nil
	}
	from, to := initiators(src), initiators(dst)
	if len(from) == 0 || len(to) == 0 {
		return fmt.Errorf("storage %s: %s or %s has no initiators: %w", target, src.ID, dst.ID, ErrInvalid)
	}
	// Read the source's masking (dst must be off and see none of it).
	var maps []storage.Mapping
	err = r.step(ctx, "storage.read", target, "storage", nil, src.ID, dst.ID, func(ctx context.Context, a *AuditEntry) error {
		if err := r.confirmOff(ctx, a, dst); err != nil {
			return err
		}
		var err error
		if maps, err = r.readMappings(ctx, a, dm, from); err != nil {
			return err
		}
		have, err := r.readMappings(ctx, a, dm, to)
		if err != nil {
			return err
		}
		for _, h := range have {
			if !slices.Contains(maps, h) {
				return fmt.Errorf("%s already sees %s at LUN %d: %w", dst.ID, h.Volume, h.LUN, ErrConflict)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	want, err := r.expectVolumes(ctx, src, dm, maps, dst.ID)
	if err != nil || len(want) == 0 {
		return err
	}
	if sw, ok := dm.(storage.InitiatorSwapper); ok && o.cfg.swap {
		rec := &stepRec{Server: src.ID, Spare: dst.ID, Array: src.DiskArray, From: from, To: to, Swap: true, Maps: want}
		err := r.step(ctx, "storage", target, "storage", rec, src.ID, dst.ID, func(ctx context.Context, a *AuditEntry) error {
			if err := r.ensureOff(ctx, a, src); err != nil {
				return err
			}
			return r.call(ctx, a, o.cfg.attempts, func(ctx context.Context) error {
				return sw.SwapInitiators(ctx, from, to)
			}, func(ctx context.Context) (bool, error) { return sees(ctx, dm, to, want) })
		})
		if err == nil || !(errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnsupported)) || r.stopped() {
			return err
		}
		// No host object holds exactly src's initiators: move volume
		// by volume (the swap changed nothing).
	}
	for _, m := range want {
		rec := &stepRec{Server: src.ID, Spare: dst.ID, Array: src.DiskArray, From: from, To: to, Volume: m.Volume, LUN: m.LUN}
		vt := fmt.Sprintf("%s/%s lun %d: %s -> %s", src.DiskArray, m.Volume, m.LUN, src.ID, dst.ID)
		err := r.step(ctx, "storage", vt, "storage", rec, src.ID, dst.ID, func(ctx context.Context, a *AuditEntry) error {
			if err := r.ensureOff(ctx, a, src); err != nil {
				return err
			}
			if err := r.call(ctx, a, o.cfg.attempts, func(ctx context.Context) error {
				return dm.Unmap(ctx, m.Volume, from)
			}, func(ctx context.Context) (bool, error) { return notSees(ctx, dm, from, m.Volume) }); err != nil {
				return err
			}
			return r.call(ctx, a, o.cfg.attempts, func(ctx context.Context) error {
				return dm.Map(ctx, m.Volume, to, m.LUN)
			}, func(ctx context.Context) (bool, error) { return sees(ctx, dm, to, []storage.Mapping{m}) })
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// expectVolumes returns the volumes this failover must move from src:
// those src saw when the failover first read them, whatever the array
// shows now. A request answered ErrOutcomeUnknown may land after its
// caller moved on (an unmap that lands after the rollback mapped the
// volume back, a swap that lands after the swap back), so an empty or
// short read is never taken for "nothing to move".
//
// The first read is journaled as a "volumes" step (its undo, which runs
// after every storage undo of the attempt, checks that src has them all
// back). A later read is reconciled with it: a volume seen by a server
// an earlier attempt gave it to is taken back by undoing that attempt's
// storage step again (undos are idempotent); a volume masked to none of
// the site's servers is mapped back to src at its LUN; a volume held by
// any other server stops the failover with an error that says where it
// is (ErrConflict). dst, the server about to take them, is not an
// earlier destination even if an earlier attempt used it.
func (r *run) expectVolumes(ctx context.Context, src Record, dm storage.DiskMapper, maps []storage.Mapping, dst search.ServerID) ([]storage.Mapping, error) {
	k := volKey{src.ID, src.DiskArray}
	r.mu.Lock()
	want, known := r.vols[k]
	onStack := slices.ContainsFunc(r.stack, func(p pending) bool {
		return p.rec.Kind == "volumes" && p.rec.Server == src.ID && p.rec.Array == src.DiskArray
	})
	r.mu.Unlock()
	if !known {
		want = maps
	}
	target := src.DiskArray + ": " + string(src.ID)
	if !onStack {
		// Journaled on every attempt (with the first read's list), so
		// that the attempt's rollback ends by checking src has them all.
		rec := &stepRec{Server: src.ID, Array: src.DiskArray, From: initiators(src), Maps: want}
		if err := r.step(ctx, "volumes", target, "storage", rec, src.ID, dst, func(context.Context, *AuditEntry) error { return nil }); err != nil {
			return nil, err
		}
	}
	if !known {
		return want, nil
	}
	err := r.step(ctx, "storage.check", target, "storage", nil, src.ID, dst, func(ctx context.Context, a *AuditEntry) error {
		return r.reconcile(ctx, a, dm, src, want, dst)
	})
	return want, err
}

// reconcile brings the volumes src must have (want) back to it where a
// late write or an earlier attempt left them elsewhere (see
// expectVolumes); dst is the server about to take them ("" in a
// rollback).
func (r *run) reconcile(ctx context.Context, a *AuditEntry, dm storage.DiskMapper, src Record, want []storage.Mapping, dst search.ServerID) error {
	for pass := 0; ; pass++ {
		missing, stray, err := r.misplaced(ctx, a, dm, src, want, dst)
		if err != nil {
			return err
		}
		if len(missing) == 0 && len(stray) == 0 {
			return nil
		}
		if pass == 1 {
			return r.restoreMissing(ctx, a, dm, src, initiators(src), missing, stray)
		}
		// Undo again what earlier attempts did with them.
		r.mu.Lock()
		moves := slices.Clone(r.moves)
		r.mu.Unlock()
		for i := len(moves) - 1; i >= 0; i-- {
			m := moves[i]
			if m.Server != src.ID || m.Array != src.DiskArray || m.Spare == dst {
				continue
			}
			if err := r.undo(ctx, a, m); err != nil {
				return fmt.Errorf("taking the volumes back from %s again: %w", m.Spare, err)
			}
		}
	}
}

// misplaced compares the volumes src must have (want) with the array:
// missing are those src does not see at their LUN; stray are those seen
// by an earlier destination of this failover (not dst).
func (r *run) misplaced(ctx context.Context, a *AuditEntry, dm storage.DiskMapper, src Record, want []storage.Mapping, dst search.ServerID) (missing, stray []storage.Mapping, err error) {
	have, err := r.readMappings(ctx, a, dm, initiators(src))
	if err != nil {
		return nil, nil, err
	}
	for _, m := range want {
		if !slices.Contains(have, m) {
			missing = append(missing, m)
		}
	}
	r.mu.Lock()
	moves := slices.Clone(r.moves)
	r.mu.Unlock()
	seen := map[string]bool{}
	for _, m := range moves {
		if m.Server != src.ID || m.Array != src.DiskArray || m.Spare == dst || len(m.To) == 0 {
			continue
		}
		key := fmt.Sprint(m.To)
		if seen[key] {
			continue
		}
		seen[key] = true
		got, err := r.readMappings(ctx, a, dm, m.To)
		if err != nil {
			return nil, nil, err
		}
		for _, w := range want {
			if slices.ContainsFunc(got, func(g storage.Mapping) bool { return g.Volume == w.Volume }) {
				stray = append(stray, w)
			}
		}
	}
	return missing, stray, nil
}

// restoreMissing maps back to src the volumes that no server of the site
// sees, at their LUNs, and says where the others are.
func (r *run) restoreMissing(ctx context.Context, a *AuditEntry, dm storage.DiskMapper, src Record, from []storage.Initiator, missing, stray []storage.Mapping) error {
	if len(stray) > 0 {
		return fmt.Errorf("%s/%s (LUN %d) of %s is still seen by a server an earlier attempt gave it to: %w", src.DiskArray, stray[0].Volume, stray[0].LUN, src.ID, ErrConflict)
	}
	all, err := r.o.store.List(ctx)
	if err != nil {
		return r.storeErr(err)
	}
	for _, m := range missing {
		for _, x := range all {
			if x.ID == src.ID || x.DiskArray != src.DiskArray || len(x.HBAs) == 0 {
				continue
			}
			got, err := r.readMappings(ctx, a, dm, initiators(x))
			if err != nil {
				return err
			}
			if slices.ContainsFunc(got, func(g storage.Mapping) bool { return g.Volume == m.Volume }) {
				return fmt.Errorf("%s/%s (LUN %d) of %s is masked to %s; left there: %w", src.DiskArray, m.Volume, m.LUN, src.ID, x.ID, ErrConflict)
			}
		}
		r.o.emit(Event{Kind: EventStepFinished, Failover: r.id, Server: src.ID, Step: "storage.restore", Target: fmt.Sprintf("%s/%s lun %d -> %s", src.DiskArray, m.Volume, m.LUN, src.ID),
			Detail: "masked to no server (a write that landed late): mapped back"})
		if err := r.call(ctx, a, r.o.cfg.attempts, func(ctx context.Context) error {
			return dm.Map(ctx, m.Volume, from, m.LUN)
		}, func(ctx context.Context) (bool, error) { return sees(ctx, dm, from, []storage.Mapping{m}) }); err != nil {
			return fmt.Errorf("mapping %s back to %s: %w", m.Volume, src.ID, err)
		}
	}
	return nil
}

// verifyStorage checks, before dst boots, that the storage moves of this
// attempt are in place: dst sees every volume src had at its LUN, and
// neither src nor any earlier destination sees one of them. A write that
// landed late fails the attempt here instead of booting a spare without
// its disk.
func (r *run) verifyStorage(ctx context.Context, src, dst Record) error {
	r.mu.Lock()
	want, known := r.vols[volKey{src.ID, src.DiskArray}]
	r.mu.Unlock()
	if !known || len(want) == 0 {
		return nil // nothing was moved (an unmanaged array, no volumes)
	}
	dm, skip, err := r.o.diskMapper(src.DiskArray)
	if err != nil || skip != "" {
		return err
	}
	target := src.DiskArray + ": " + string(src.ID) + " -> " + string(dst.ID)
	return r.step(ctx, "storage.verify", target, "storage", nil, src.ID, dst.ID, func(ctx context.Context, a *AuditEntry) error {
		have, err := r.readMappings(ctx, a, dm, initiators(dst))
		if err != nil {
			return err
		}
		for _, m := range want {
			if !slices.Contains(have, m) {
				return fmt.Errorf("%s does not see %s at LUN %d: %w", dst.ID, m.Volume, m.LUN, ErrConflict)
			}
		}
		missing, stray, err := r.misplaced(ctx, a, dm, src, want, dst.ID)
		if err != nil {
			return err
		}
		if len(missing) < len(want) {
			return fmt.Errorf("%s still sees %s's volumes: %w", src.ID, src.ID, ErrConflict)
		}
		if len(stray) > 0 {
			return fmt.Errorf("%s is also seen by a server an earlier attempt used: %w", stray[0].Volume, ErrConflict)
		}
		return nil
	})
}

// sees reports whether inits see every mapping in want.
func sees(ctx context.Context, dm storage.DiskMapper, inits []storage.Initiator, want []storage.Mapping) (bool, error) {
	have, err := dm.Mappings(ctx, inits)
	if err != nil {
		return false, err
	}
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false, nil
		}
	}
	return true, nil
}

func notSees(ctx context.Context, dm storage.DiskMapper, inits []storage.Initiator, vol storage.VolumeID) (bool, error) {
	have, err := dm.Mappings(ctx, inits)
	if err != nil {
		return false, err
	}
	for _, h := range have {
		if h.Volume == vol {
			return false, nil
		}
	}
	return true, nil
}

// park unmaps a stopped victim's volumes (as first read, see
// expectVolumes), journaling each with its LUN so that it can be
// restarted later; the volumes are listed in the victim's record. The
// victim is re-confirmed off before each.
func (r *run) park(ctx context.Context, v Record) error {
	o := r.o
	dm, skip, err := o.diskMapper(v.DiskArray)
	if err != nil {
		return fmt.Errorf("park %s: %w", v.ID, err)
	}
	if skip != "" {
		r.skipped("park", string(v.ID), skip, v.ID, "")
		return nil
	}
	from := initiators(v)
	var maps []storage.Mapping
	if err := r.step(ctx, "storage.read", v.DiskArray+": "+string(v.ID), "storage", nil, v.ID, "", func(ctx context.Context, a *AuditEntry) error {
		var err error
		maps, err = r.readMappings(ctx, a, dm, from)
		return err
	}); err != nil {
		return err
	}
	want, err := r.expectVolumes(ctx, v, dm, maps, "")
	if err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.parked, v.ID) // an earlier attempt's parking was rolled back
	r.mu.Unlock()
	for _, m := range want {
		rec := &stepRec{Server: v.ID, Array: v.DiskArray, From: from, Volume: m.Volume, LUN: m.LUN, Park: true}
		vt := fmt.Sprintf("%s/%s lun %d: %s parked", v.DiskArray, m.Volume, m.LUN, v.ID)
		if err := r.step(ctx, "park", vt, "storage", rec, v.ID, "", func(ctx context.Context, a *AuditEntry) error {
			if err := r.ensureOff(ctx, a, v); err != nil {
				return err
			}
			return r.call(ctx, a, o.cfg.attempts, func(ctx context.Context) error {
				return dm.Unmap(ctx, m.Volume, from)
			}, func(ctx context.Context) (bool, error) { return notSees(ctx, dm, from, m.Volume) })
		}); err != nil {
			return err
		}
		r.mu.Lock()
		if r.parked == nil {
			r.parked = map[search.ServerID][]ParkedVolume{}
		}
		r.parked[v.ID] = append(r.parked[v.ID], ParkedVolume{Array: v.DiskArray, Volume: m.Volume, LUN: m.LUN})
		r.mu.Unlock()
	}
	return nil
}

// zoneLock returns the lock that serialises zoning transactions on FCZoner
// z: one per zoner instance, whatever fabric names it is registered
// under, since a zoner's pending edits are shared by every caller of
// that instance (a failed commit aborts them all). A zoner of a
// non-comparable type is locked per fabric name instead.
func (o *Orchestrator) zoneLock(z fabric.FCZoner, fab string) *sync.Mutex {
	var key any = fabricName(fab)
	if v := reflect.ValueOf(z); v.IsValid() && v.Comparable() {
		key = z
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	m := o.zoneMu[key]
	if m == nil {
		m = &sync.Mutex{}
		o.zoneMu[key] = m
	}
	return m
}

// fabricName keys zoneMu for zoners that cannot be keys themselves.
type fabricName string

// moveZones gives dst's WWPN i exactly the zones of src's WWPN i (src's
// is removed from them), per fabric, committed and verified.
func (r *run) moveZones(ctx context.Context, src, dst Record) error {
	o := r.o
	n := min(len(src.HBAs), len(dst.HBAs))
	var errs []func() error
	for i := 0; i < n; i++ {
		fh, sh := src.HBAs[i], dst.HBAs[i]
		if fh.Fabric == "" || fh.Initiator.Kind() != storage.FC {
			continue
		}
		target := fmt.Sprintf("%s: %s -> %s", fh.Fabric, fh.Initiator, sh.Initiator)
		z, skip, err := o.fcZoner(fh.Fabric)
		if err != nil {
			return fmt.Errorf("failover: zone %s: %w", target, err)
		}
		if skip != "" {
			r.skipped("zone", target, skip, src.ID, dst.ID)
			continue
		}
		if sh.Fabric != "" && sh.Fabric != fh.Fabric {
			return fmt.Errorf("failover: zone %s: %s HBA %d is on fabric %q: %w", target, dst.ID, i, sh.Fabric, ErrInvalid)
		}
		errs = append(errs, func() error { return r.zoneOne(ctx, z, fh.Fabric, target, src, dst, fh.Initiator, sh.Initiator) })
	}
	if len(errs) == 0 {
		return nil
	}
	return parallel(errs...)
}

func (r *run) zoneOne(ctx context.Context, z fabric.FCZoner, fab, target string, src, dst Record, fw, sw storage.Initiator) error {
	o := r.o
	lk := o.zoneLock(z, fab)
	lk.Lock()
	defer lk.Unlock()
	var fz, sz []string
	if err := r.step(ctx, "zone.read", target, "zoner", nil, src.ID, dst.ID, func(ctx context.Context, a *AuditEntry) error {
		var err error
		if fz, err = r.zones(ctx, a, z, fw); err != nil {
			return err
		}
		sz, err = r.zones(ctx, a, z, sw)
		return err
	}); err != nil {
		return err
	}
	if len(fz) == 0 && slices.Equal(fz, sz) {
		return nil
	}
	rec := &stepRec{Server: src.ID, Spare: dst.ID, Fabric: fab, FailedWWPN: fw, SpareWWPN: sw, FailedZones: fz, SpareZones: sz}
	return r.step(ctx, "zone", target, "zoner", rec, src.ID, dst.ID, func(ctx context.Context, a *AuditEntry) error {
		return r.applyZones(ctx, a, z, o.cfg.attempts, forwardZoneEdits(fw, sw, fz, sz), false)
	})
}

func (r *run) zones(ctx context.Context, a *AuditEntry, z fabric.FCZoner, w storage.Initiator) ([]string, error) {
	var out []string
	err := r.call(ctx, a, r.o.cfg.attempts, func(ctx context.Context) error {
		var err error
		out, err = z.Zones(ctx, w)
		return err
	}, nil)
	return out, err
}

func subtract(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// zoneEdit adds wwpn to zone or removes it.
type zoneEdit struct {
	zone string
	wwpn storage.Initiator
	add  bool
}

// forwardZoneEdits give sw exactly the zones fz and take fw out of them.
func forwardZoneEdits(fw, sw storage.Initiator, fz, sz []string) []zoneEdit {
	var e []zoneEdit
	for _, zn := range fz {
		e = append(e, zoneEdit{zn, sw, true}, zoneEdit{zn, fw, false})
	}
	for _, zn := range subtract(sz, fz) {
		e = append(e, zoneEdit{zn, sw, false})
	}
	return e
}

// undoZoneEdits restore fw to fz and sw to sz.
func undoZoneEdits(fw, sw storage.Initiator, fz, sz []string) []zoneEdit {
	var e []zoneEdit
	for _, zn := range fz {
		e = append(e, zoneEdit{zn, fw, true})
	}
	for _, zn := range subtract(fz, sz) {
		e = append(e, zoneEdit{zn, sw, false})
	}
	for _, zn := range subtract(sz, fz) {
		e = append(e, zoneEdit{zn, sw, true})
	}
	return e
}

// applyZones makes edits in one committed transaction, verifies them by
// reading back (another session's aborted commit may have dropped them)
// and retries the whole transaction: the switch aborts a failed commit.
//
// With precheck (rollback), edits already in place are not sent again:
// an undo must not depend on a device that refuses edits it does not need.
func (r *run) applyZones(ctx context.Context, a *AuditEntry, z fabric.FCZoner, attempts int, edits []zoneEdit, precheck bool) error {
	check := func(ctx context.Context) (bool, error) {
		got := map[storage.Initiator][]string{}
		for _, e := range edits {
			zs, ok := got[e.wwpn]
			if !ok {
				var err error
				if zs, err = z.Zones(ctx, e.wwpn); err != nil {
					return false, err
				}
				got[e.wwpn] = zs
			}
			if slices.Contains(zs, e.zone) != e.add {
				return false, nil
			}
		}
		return true, nil
	}
	// abandon drops the edits of an attempt that did not reach a
	// successful Commit, so that they are not activated by whoever commits
	// next; not after leadership is lost (no driver call then).
	abandon := func(ctx context.Context) {
		ab, ok := z.(fabric.Aborter)
		if !ok || r.mayAct() != nil {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.cfg.timeouts.Step)
		defer cancel()
		a.Attempts++
		_ = ab.Abort(actx) // best effort: the switch's session timeout ends it otherwise
	}
	apply := func(ctx context.Context) (err error) {
		edited := false
		defer func() {
			if err != nil && edited {
				abandon(ctx)
			}
		}()
		if precheck {
			if done, err := check(ctx); err == nil && done {
				if derr := r.mayAct(); derr != nil {
					return derr
				}
				return z.Commit(ctx) // in place already: make sure it is active
			}
		}
		for _, e := range edits {
			if derr := r.mayAct(); derr != nil {
				return derr
			}
			edited = true
			if e.add {
				err = z.AddMember(ctx, e.zone, e.wwpn)
			} else {
				err = z.RemoveMember(ctx, e.zone, e.wwpn)
			}
			if err != nil {
				return err
			}
		}
		if derr := r.mayAct(); derr != nil {
			return derr
		}
		if err := z.Commit(ctx); err != nil {
			return err
		}
		done, err := check(ctx)
		if err != nil {
			return err
		}
		if !done {
			return fmt.Errorf("zone edits lost after commit: %w", ErrTransient)
		}
		return nil
	}
	return r.call(ctx, a, attempts, func(ctx context.Context) error {
		err := apply(ctx)
		if errors.Is(err, ErrConflict) {
			// A zoning transaction held by another session: retry.
			return fmt.Errorf("%w (%w)", err, ErrTransient)
		}
		return err
	}, check)
}

// moveVLANs sets dst's NIC i ports to src's NIC i setting, keeping the
// previous setting in the journal for rollback.
func (r *run) moveVLANs(ctx context.Context, src, dst Record) error {
	o := r.o
	n := min(len(src.NICs), len(dst.NICs))
	var fns []func() error
	for i := 0; i < n; i++ {
		fn, sn := src.NICs[i], dst.NICs[i]
		target := fmt.Sprintf("%s/%s -> %s/%s", fn.Switch, fn.Port, sn.Switch, sn.Port)
		fs, skip1, err1 := o.vlanSwitch(fn.Switch)
		ss, skip2, err2 := o.vlanSwitch(sn.Switch)
		if err := cmp.Or(err1, err2); err != nil {
			return fmt.Errorf("failover: vlan %s: %w", target, err)
		}
		if skip := cmp.Or(skip1, skip2); skip != "" {
			r.skipped("vlan", target, skip, src.ID, dst.ID)
			continue
		}
		fns = append(fns, func() error {
			var want, prev fabric.PortVLAN
			if err := r.step(ctx, "vlan.read", target, "vlan", nil, src.ID, dst.ID, func(ctx context.Context, a *AuditEntry) error {
				if err := r.call(ctx, a, o.cfg.attempts, func(ctx context.Context) error {
					var err error
					want, err = fs.PortVLAN(ctx, fn.Port)
					return err
				}, nil); err != nil {
					return err
				}
				return r.call(ctx, a, o.cfg.attempts, func(ctx context.Context) error {
					var err error
					prev, err = ss.PortVLAN(ctx, sn.Port)
					return err
				}, nil)
			}); err != nil {
				return err
			}
			r.notePort(dst, i, prev)
			if want.Equal(prev) {
				return nil
			}
			rec := &stepRec{Server: src.ID, Spare: dst.ID, Switch: sn.Switch, Port: sn.Port, Set: &want, Prev: &prev}
			return r.step(ctx, "vlan", target, "vlan", rec, src.ID, dst.ID, func(ctx context.Context, a *AuditEntry) error {
				return r.call(ctx, a, o.cfg.attempts, func(ctx context.Context) error {
					_, err := ss.SetPortVLAN(ctx, sn.Port, want)
					return err
				}, func(ctx context.Context) (bool, error) {
					v, err := ss.PortVLAN(ctx, sn.Port)
					return v.Equal(want), err
				})
			})
		})
	}
	if len(fns) == 0 {
		return nil
	}
	return parallel(fns...)
}

// notePort keeps the setting NIC i of dst had before this failover gave
// it a workload's (Record.SpareVLANs, for Failback).
func (r *run) notePort(dst Record, i int, prev fabric.PortVLAN) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.portPrev == nil {
		r.portPrev = map[search.ServerID][]fabric.PortVLAN{}
	}
	p := r.portPrev[dst.ID]
	if len(p) < len(dst.NICs) {
		p = append(p, make([]fabric.PortVLAN, len(dst.NICs)-len(p))...)
	}
	p[i] = prev
	r.portPrev[dst.ID] = p
}

// spareVLANs returns what notePort kept for id when every NIC of it was
// noted, nil otherwise.
func (r *run) spareVLANs(x Record) []fabric.PortVLAN {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.portPrev[x.ID]
	if len(p) != len(x.NICs) || slices.ContainsFunc(p, func(v fabric.PortVLAN) bool { return v.Mode == "" }) {
		return nil
	}
	return slices.Clone(p)
}

// restorePorts gives x's NIC ports the settings they had before x took
// over a workload (x.SpareVLANs), each a journaled vlan step (undone by
// setting the workload's VLANs again).
func (r *run) restorePorts(ctx context.Context, x Record) error {
	if len(x.SpareVLANs) != len(x.NICs) {
		return nil // taken over before SpareVLANs were kept: nothing to go back to
	}
	var fns []func() error
	for i, n := range x.NICs {
		want := x.SpareVLANs[i]
		target := fmt.Sprintf("%s/%s (%s standby again)", n.Switch, n.Port, x.ID)
		sw, skip, err := r.o.vlanSwitch(n.Switch)
		if err != nil {
			return fmt.Errorf("vlan %s: %w", target, err)
		}
		if skip != "" {
			r.skipped("vlan", target, skip, x.ID, "")
			continue
		}
		fns = append(fns, func() error {
			var prev fabric.PortVLAN
			if err := r.step(ctx, "vlan.read", target, "vlan", nil, x.ID, "", func(ctx context.Context, a *AuditEntry) error {
				return r.call(ctx, a, r.o.cfg.attempts, func(ctx context.Context) error {
					var err error
					prev, err = sw.PortVLAN(ctx, n.Port)
					return err
				}, nil)
			}); err != nil {
				return err
			}
			if want.Equal(prev) {
				return nil
			}
			rec := &stepRec{Server: x.ID, Switch: n.Switch, Port: n.Port, Set: &want, Prev: &prev}
			return r.step(ctx, "vlan", target, "vlan", rec, x.ID, "", func(ctx context.Context, a *AuditEntry) error {
				return r.call(ctx, a, r.o.cfg.attempts, func(ctx context.Context) error {
					_, err := sw.SetPortVLAN(ctx, n.Port, want)
					return err
				}, func(ctx context.Context) (bool, error) {
					v, err := sw.PortVLAN(ctx, n.Port)
					return v.Equal(want), err
				})
			})
		})
	}
	if len(fns) == 0 {
		return nil
	}
	return parallel(fns...)
}

// partitionID names the logical server composed for a plan.
func partitionID(p search.Plan) string {
	s := make([]string, len(p.Replacement))
	for i, id := range p.Replacement {
		s[i] = string(id)
	}
	return "lp-" + strings.Join(s, "+")
}

// compose composes the plan's replacement into one logical server.
func (r *run) compose(ctx context.Context, plan search.Plan) error {
	o := r.o
	id := partitionID(plan)
	pm, skip, err := o.partitionManager()
	if err != nil {
		return fmt.Errorf("failover: compose %s: %w", id, err)
	}
	if skip != "" {
		r.skipped("compose", id, skip, r.h.Server, "")
		return nil
	}
	members := make([]string, len(plan.Replacement))
	for i, m := range plan.Replacement {
		members[i] = string(m)
	}
	rec := &stepRec{Partition: id, Members: members}
	err = r.step(ctx, "compose", id, "partition", rec, r.h.Server, "", func(ctx context.Context, a *AuditEntry) error {
		return r.call(ctx, a, o.cfg.attempts, func(ctx context.Context) error {
			return pm.Compose(ctx, id, members)
		}, nil)
	})
	if err == nil {
		r.mu.Lock()
		r.partition = id
		r.mu.Unlock()
	}
	return err
}
