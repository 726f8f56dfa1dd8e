package failover

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/internal/opid"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// rollback undoes every journaled step of the run that is not undone
// yet, newest first, under a context that survives the caller's
// cancellation, with its own timeout. Each undo is journaled (undo, then
// undone). It stops at the first undo that fails: the journal stays open
// and Recover tries again.
func (r *run) rollback(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(opid.With(context.WithoutCancel(ctx), r.id), r.o.cfg.timeouts.Rollback)
	defer cancel()
	for {
		r.mu.Lock()
		if len(r.stack) == 0 {
			r.mu.Unlock()
			return nil
		}
		p := r.stack[len(r.stack)-1]
		r.mu.Unlock()
		if p.rec.Kind == kindCommit {
			// Commits are rolled forward, never back; a commit that
			// failed wrote nothing (Put is atomic).
			r.pop()
			continue
		}
		u := p.rec
		u.Of = p.seq
		spec, ok := kinds[p.rec.Kind]
		if !ok || spec.undo == nil {
			// A journal this version cannot undo: stop, the journal
			// stays open for an operator (or a version that can).
			return fmt.Errorf("failover: %s: undo of step kind %q (seq %d): unknown: %w: %w", r.id, p.rec.Kind, p.seq, ErrRollbackFailed, ErrInvalid)
		}
		target := spec.target(p.rec)
		if _, err := r.journal(rctx, PhaseUndo, string(p.rec.Kind), target, u, nil); err != nil {
			return err
		}
		a := AuditEntry{Step: "undo:" + string(p.rec.Kind), Target: target, Driver: spec.driver, Start: r.o.cfg.clock.Now()}
		err := r.undo(rctx, &a, p.rec)
		if err != nil && spec.driver == "storage" && !r.stopped() {
			// A write that landed late may have moved volumes again
			// under an undo already done (a swap back taken back):
			// undo every storage move of this failover again (undos
			// are idempotent), then try this one once more.
			if rerr := r.undoMovesAgain(rctx, &a); rerr == nil {
				err = r.undo(rctx, &a, p.rec)
			}
		}
		a.Duration = r.o.cfg.clock.Now().Sub(a.Start)
		if err != nil {
			a.Err = err.Error()
		}
		r.addAudit(a)
		r.o.emit(Event{Kind: EventStepFinished, Failover: r.id, Server: p.rec.Server, Spare: p.rec.Spare, Step: a.Step, Target: target, Driver: a.Driver, Attempts: a.Attempts, Duration: a.Duration, Err: err})
		if err != nil {
			if r.stopped() {
				return r.deadErr()
			}
			_, _ = r.journal(rctx, PhaseFailed, string(p.rec.Kind), target, u, err)
			return fmt.Errorf("failover: %s: undo %s %s: %w: %w", r.id, p.rec.Kind, target, ErrRollbackFailed, err)
		}
		if _, err := r.journal(rctx, PhaseUndone, string(p.rec.Kind), target, u, nil); err != nil {
			return err
		}
		r.pop()
	}
}

// undoMovesAgain runs the undo of every storage move of the run again,
// newest first.
func (r *run) undoMovesAgain(ctx context.Context, a *AuditEntry) error {
	r.mu.Lock()
	moves := slices.Clone(r.moves)
	r.mu.Unlock()
	for i := len(moves) - 1; i >= 0; i-- {
		if moves[i].Kind != kindStorage {
			continue
		}
		if err := r.undo(ctx, a, moves[i]); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) pop() {
	r.mu.Lock()
	r.stack = r.stack[:len(r.stack)-1]
	r.mu.Unlock()
}

// undo reverses one step through its kind's undo. Every undo is
// idempotent and safe when the step never happened (a crash between the
// intent and the driver call).
func (r *run) undo(ctx context.Context, a *AuditEntry, rec stepRec) error {
	if err := r.mayAct(); err != nil {
		return err
	}
	spec, ok := kinds[rec.Kind]
	if !ok || spec.undo == nil {
		return fmt.Errorf("step kind %q has no undo: %w", rec.Kind, ErrInvalid)
	}
	return spec.undo(r, ctx, a, rec)
}

func (r *run) undoFence(ctx context.Context, a *AuditEntry, rec stepRec) error {
	o, n := r.o, r.o.cfg.undoAttempts
	if !rec.Victim {
		return nil // a failed server stays off
	}
	x, err := o.store.Get(ctx, rec.Server)
	if err != nil {
		return r.storeErr(err)
	}
	b, err := o.bmcOf(x)
	if err != nil {
		return err
	}
	err = r.call(ctx, a, n, func(ctx context.Context) error { return b.SetBootDevice(ctx, bmc.BootDisk, true) }, nil)
	if err == nil {
		err = r.call(ctx, a, n, b.PowerOn, func(ctx context.Context) (bool, error) {
			st, err := b.PowerState(ctx)
			return st == bmc.PowerOn, err
		})
	}
	if err == nil || r.stopped() {
		return err
	}
	// Its disks are back; only its restart failed. That is a new
	// failure of the victim, not a reason to stop the rollback. When
	// it is known to be off, mark it failed (a fault on it will fail
	// it over); when its state cannot be read it may still be running
	// its workload, so its record is left alone.
	r.o.emit(Event{Kind: EventFailoverFailed, Failover: r.id, Server: rec.Server, Err: err, Detail: "preemption victim could not be restarted"})
	if st, serr := r.powerState(ctx, a, b); serr != nil || st != bmc.PowerOff {
		return nil
	}
	return o.update(ctx, r, []search.ServerID{rec.Server}, func(m map[search.ServerID]*Record) error {
		x := m[rec.Server]
		if x.State == search.Active {
			x.State = search.Failed
			x.Note = fmt.Sprintf("could not be restarted after the rollback of failover %s: %v", r.id, err)
		}
		return nil
	})
}

func (r *run) undoBoot(ctx context.Context, a *AuditEntry, rec stepRec) error {
	o, n := r.o, r.o.cfg.undoAttempts
	x, err := o.store.Get(ctx, rec.Server)
	if err != nil {
		return r.storeErr(err)
	}
	b, err := o.bmcOf(x)
	if err != nil {
		return err
	}
	perr := r.call(ctx, a, n, b.PowerOff, nil)
	if _, err := r.waitPower(ctx, a, b, bmc.PowerOff, o.cfg.timeouts.PowerOff); err != nil {
		return fmt.Errorf("%s not confirmed off (%v): %w", rec.Server, perr, err)
	}
	return nil
}

func (r *run) undoMove(ctx context.Context, a *AuditEntry, rec stepRec) error {
	o, n := r.o, r.o.cfg.undoAttempts
	dm, ok := o.drv.DiskMappers[rec.Array]
	if !ok {
		return fmt.Errorf("no DiskMapper for disk array %q: %w", rec.Array, ErrNotFound)
	}
	// The server the volumes go back from must be off when they
	// change hands (I1), even when something else powered it on (a
	// victim's power-restore policy, an operator): it is this
	// failover's spare or relocation target, so it is fenced again
	// if needed, before each request. A spare an earlier attempt
	// released (undone again because a write landed on it late) may
	// run another failover's workload by now: it is never fenced by
	// this one; the volumes are only taken off it (which makes no
	// second writer) and mapped back.
	var off func(context.Context) error
	held := true
	if rec.Spare != "" {
		x, err := o.store.Get(ctx, rec.Spare)
		if err != nil {
			return r.storeErr(err)
		}
		if held = r.holds(x); held {
			off = func(ctx context.Context) error { return r.ensureOff(ctx, a, x) }
		}
	}
	if rec.Swap {
		var back bool
		if err := r.call(ctx, a, n, func(ctx context.Context) error {
			var err error
			back, err = sees(ctx, dm, rec.From, rec.Maps)
			return err
		}, nil); err != nil {
			return err
		}
		if back {
			return nil // never swapped, or swapped back already
		}
		if !held {
			// A released server may hold volumes of its own by now:
			// swapping back would move those too. The volumes of this
			// failover it sees go back one by one; one it does not see
			// is not there to take (reconcile finds where it is).
			var have []storage.Mapping
			if err := r.call(ctx, a, n, func(ctx context.Context) error {
				var err error
				have, err = dm.Mappings(ctx, rec.To)
				return err
			}, nil); err != nil {
				return err
			}
			host, err := r.hostOf(ctx, rec)
			if err != nil {
				return err
			}
			for _, m := range rec.Maps {
				if !slices.ContainsFunc(have, func(h storage.Mapping) bool { return h.Volume == m.Volume }) {
					continue
				}
				if err := r.call(ctx, a, n, func(ctx context.Context) error { return dm.Unmap(ctx, m.Volume, rec.To) },
					func(ctx context.Context) (bool, error) { return notSees(ctx, dm, rec.To, m.Volume) }); err != nil {
					return err
				}
				if err := r.mapBack(ctx, a, n, dm, host, m, nil); err != nil {
					return err
				}
			}
			return nil
		}
		sw, ok := dm.(storage.InitiatorSwapper)
		if !ok {
			return fmt.Errorf("disk array %q cannot swap initiators: %w", rec.Array, ErrUnsupported)
		}
		// A swap cut short (a crash, a lost answer) leaves the host
		// with neither set: the volumes are masked to nobody, and by
		// the contract only the same swap again gets out of that
		// state. Finish it, unless To sees the volumes already (the
		// swap is complete), then swap back.
		var there bool
		if err := r.call(ctx, a, n, func(ctx context.Context) error {
			var err error
			there, err = sees(ctx, dm, rec.To, rec.Maps)
			return err
		}, nil); err != nil {
			return err
		}
		if !there {
			if err := r.call(ctx, a, n, func(ctx context.Context) error {
				err := sw.SwapInitiators(ctx, rec.From, rec.To)
				if errors.Is(err, ErrNotFound) {
					return nil // no host has either set: swapping back says why
				}
				return err
			}, func(ctx context.Context) (bool, error) { return sees(ctx, dm, rec.To, rec.Maps) }); err != nil {
				return err
			}
		}
		return r.callAfter(ctx, a, n, off, func(ctx context.Context) error { return sw.SwapInitiators(ctx, rec.To, rec.From) },
			func(ctx context.Context) (bool, error) { return sees(ctx, dm, rec.From, rec.Maps) })
	}
	if !rec.Park {
		if gone, err := r.read(ctx, a, func(ctx context.Context) (bool, error) { return notSees(ctx, dm, rec.To, rec.Volume) }); err != nil || !gone {
			if err := r.callAfter(ctx, a, n, off, func(ctx context.Context) error { return dm.Unmap(ctx, rec.Volume, rec.To) },
				func(ctx context.Context) (bool, error) { return notSees(ctx, dm, rec.To, rec.Volume) }); err != nil {
				return err
			}
		}
	}
	m := storage.Mapping{Volume: rec.Volume, LUN: rec.LUN}
	if home, err := r.read(ctx, a, func(ctx context.Context) (bool, error) { return sees(ctx, dm, rec.From, []storage.Mapping{m}) }); err == nil && home {
		return nil
	}
	// Back to the server it came from (held by this failover), taking
	// off it first another server's volume that holds its LUN (a stray:
	// another failover's write that landed late).
	host, err := r.hostOf(ctx, rec)
	if err != nil {
		return err
	}
	return r.mapBack(ctx, a, n, dm, host, m, off)
}

// hostOf is the server a storage step moved volumes from, with the
// initiators it had then.
func (r *run) hostOf(ctx context.Context, rec stepRec) (Record, error) {
	host, err := r.o.store.Get(ctx, rec.Server)
	if err != nil {
		return Record{}, r.storeErr(err)
	}
	host.DiskArray, host.HBAs = rec.Array, nil
	for _, in := range rec.From {
		host.HBAs = append(host.HBAs, HBA{Initiator: in})
	}
	return host, nil
}

func (r *run) undoZone(ctx context.Context, a *AuditEntry, rec stepRec) error {
	o, n := r.o, r.o.cfg.undoAttempts
	z, ok := o.drv.FCZoners[rec.Fabric]
	if !ok {
		return fmt.Errorf("no FCZoner for fabric %q: %w", rec.Fabric, ErrNotFound)
	}
	return r.applyZones(ctx, a, z, rec.Fabric, n, undoZoneEdits(rec.FailedWWPN, rec.SpareWWPN, rec.FailedZones, rec.SpareZones), true)
}

func (r *run) undoVLAN(ctx context.Context, a *AuditEntry, rec stepRec) error {
	o, n := r.o, r.o.cfg.undoAttempts
	s, ok := o.drv.VLANSwitches[rec.Switch]
	if !ok {
		return fmt.Errorf("no VLANSwitch %q: %w", rec.Switch, ErrNotFound)
	}
	prev := *rec.Prev
	if same, err := r.read(ctx, a, func(ctx context.Context) (bool, error) {
		v, err := s.PortVLAN(ctx, rec.Port)
		return v.Equal(prev), err
	}); err == nil && same {
		return nil // never changed, or restored already
	}
	return r.call(ctx, a, n, func(ctx context.Context) error {
		_, err := s.SetPortVLAN(ctx, rec.Port, prev)
		return err
	}, func(ctx context.Context) (bool, error) {
		v, err := s.PortVLAN(ctx, rec.Port)
		return v.Equal(prev), err
	})
}

func (r *run) undoVolumes(ctx context.Context, a *AuditEntry, rec stepRec) error {
	o := r.o
	// Runs after every storage undo of the attempt: src must have
	// every volume back at its LUN (a write that lands late may have
	// taken one away again).
	dm, ok := o.drv.DiskMappers[rec.Array]
	if !ok {
		return fmt.Errorf("no DiskMapper for disk array %q: %w", rec.Array, ErrNotFound)
	}
	src := Record{Server: search.Server{ID: rec.Server, DiskArray: rec.Array}}
	for _, in := range rec.From {
		src.HBAs = append(src.HBAs, HBA{Initiator: in})
	}
	return r.reconcile(ctx, a, dm, src, rec.Maps, "")
}

func (r *run) undoCompose(ctx context.Context, a *AuditEntry, rec stepRec) error {
	o, n := r.o, r.o.cfg.undoAttempts
	if o.drv.Partitions == nil {
		return nil
	}
	return r.call(ctx, a, n, func(ctx context.Context) error { return o.drv.Partitions.Decompose(ctx, rec.Partition) }, nil)
}

func (r *run) undoReserve(ctx context.Context, a *AuditEntry, rec stepRec) error {
	o := r.o
	idList := make([]search.ServerID, len(rec.Reserved))
	prev := map[search.ServerID]search.State{}
	for i, x := range rec.Reserved {
		idList[i] = x.ID
		prev[x.ID] = x.Prev
	}
	a.Attempts++
	stored, err := o.updateStored(ctx, r, idList, func(m map[search.ServerID]*Record) error {
		for id, x := range m {
			if x.Reservation != r.id {
				continue
			}
			x.Reservation = ""
			if x.State == search.Reserved {
				x.State = prev[id]
			}
		}
		return nil
	})
	// The revisions it released them at: settleVolumes checks a
	// released server only while nobody has changed it since.
	r.mu.Lock()
	if r.released == nil {
		r.released = map[search.ServerID]int64{}
	}
	for _, x := range stored {
		r.released[x.ID] = x.Revision
	}
	r.mu.Unlock()
	return err
}
