package failover

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

func initiators(x Record) []storage.Initiator {
	out := make([]storage.Initiator, 0, len(x.HBAs))
	for _, h := range x.HBAs {
		if !h.Initiator.IsZero() {
			out = append(out, h.Initiator)
		}
	}
	return out
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
	err = r.check(ctx, "storage.read", target, "storage", src.ID, dst.ID, func(ctx context.Context, a *AuditEntry) error {
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
	// src is re-confirmed off before each request, retries included, up
	// to the moment the volumes change hands (I1).
	offFirst := func(a *AuditEntry) func(context.Context) error {
		return func(ctx context.Context) error { return r.ensureOff(ctx, a, src) }
	}
	if sw, ok := dm.(storage.InitiatorSwapper); ok && o.cfg.swap {
		rec := &stepRec{Server: src.ID, Spare: dst.ID, Array: src.DiskArray, From: from, To: to, Swap: true, Maps: want}
		err := r.step(ctx, kindStorage, target, rec, src.ID, dst.ID, func(ctx context.Context, a *AuditEntry) error {
			return r.callAfter(ctx, a, o.cfg.attempts, offFirst(a), func(ctx context.Context) error {
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
		err := r.step(ctx, kindStorage, vt, rec, src.ID, dst.ID, func(ctx context.Context, a *AuditEntry) error {
			if err := r.callAfter(ctx, a, o.cfg.attempts, offFirst(a), func(ctx context.Context) error {
				return dm.Unmap(ctx, m.Volume, from)
			}, func(ctx context.Context) (bool, error) { return notSees(ctx, dm, from, m.Volume) }); err != nil {
				return err
			}
			return r.callAfter(ctx, a, o.cfg.attempts, offFirst(a), func(ctx context.Context) error {
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
		return p.rec.Kind == kindVolumes && p.rec.Server == src.ID && p.rec.Array == src.DiskArray
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
		if err := r.step(ctx, kindVolumes, target, rec, src.ID, dst, func(context.Context, *AuditEntry) error { return nil }); err != nil {
			return nil, err
		}
	}
	if !known {
		return want, nil
	}
	err := r.check(ctx, "storage.check", target, "storage", src.ID, dst, func(ctx context.Context, a *AuditEntry) error {
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
	mine := r.touched()
	for _, m := range missing {
		for _, x := range all {
			if x.ID == src.ID || x.DiskArray != src.DiskArray || len(x.HBAs) == 0 {
				continue
			}
			got, err := r.readMappings(ctx, a, dm, initiators(x))
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(got, func(g storage.Mapping) bool { return g.Volume == m.Volume }) {
				continue
			}
			if !slices.Contains(mine, x.ID) {
				return fmt.Errorf("%s/%s (LUN %d) of %s is masked to %s; left there: %w", src.DiskArray, m.Volume, m.LUN, src.ID, x.ID, ErrConflict)
			}
			// A server this failover holds (off, fenced by it): take the
			// volume back from it.
			if err := r.callAfter(ctx, a, r.o.cfg.attempts, func(ctx context.Context) error { return r.ensureOff(ctx, a, x) },
				func(ctx context.Context) error { return dm.Unmap(ctx, m.Volume, initiators(x)) },
				func(ctx context.Context) (bool, error) { return notSees(ctx, dm, initiators(x), m.Volume) }); err != nil {
				return fmt.Errorf("taking %s back from %s: %w", m.Volume, x.ID, err)
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
	return r.check(ctx, "storage.verify", target, "storage", src.ID, dst.ID, func(ctx context.Context, a *AuditEntry) error {
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
		// dst is read last, nearest its boot: a write of this failover
		// that lands late and takes a volume from dst must land before
		// this read to matter, and then this read sees it.
		have, err := r.readMappings(ctx, a, dm, initiators(dst))
		if err != nil {
			return err
		}
		for _, m := range want {
			if !slices.Contains(have, m) {
				return fmt.Errorf("%s does not see %s at LUN %d: %w", dst.ID, m.Volume, m.LUN, ErrConflict)
			}
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
	if err := r.check(ctx, "storage.read", v.DiskArray+": "+string(v.ID), "storage", v.ID, "", func(ctx context.Context, a *AuditEntry) error {
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
		if err := r.step(ctx, kindPark, vt, rec, v.ID, "", func(ctx context.Context, a *AuditEntry) error {
			return r.callAfter(ctx, a, o.cfg.attempts, func(ctx context.Context) error { return r.ensureOff(ctx, a, v) }, func(ctx context.Context) error {
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
