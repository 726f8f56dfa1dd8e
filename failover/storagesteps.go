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
	for pass, cleared := 0, 0; ; {
		missing, stray, extra, err := r.misplaced(ctx, a, dm, src, want, dst)
		if err != nil {
			return err
		}
		if len(extra) > 0 && cleared < 2 {
			// Another server's volume where only src's belong: taken
			// off first (it may sit at a LUN one of src's needs).
			cleared++
			if err := r.clearStrays(ctx, a, dm, src, extra); err != nil {
				return err
			}
			continue
		}
		if len(missing) == 0 && len(stray) == 0 {
			if len(extra) > 0 {
				return fmt.Errorf("%s still sees %s/%s at LUN %d, which is not one of its volumes: %w", src.ID, src.DiskArray, extra[0].Volume, extra[0].LUN, ErrConflict)
			}
			return nil
		}
		if pass == 1 {
			return r.restoreMissing(ctx, a, dm, src, initiators(src), missing, stray)
		}
		pass++
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

// foreign returns the mappings of have whose volume is none of keep's.
func foreign(have, keep []storage.Mapping) []storage.Mapping {
	var out []storage.Mapping
	for _, h := range have {
		if !slices.ContainsFunc(keep, func(k storage.Mapping) bool { return k.Volume == h.Volume }) {
			out = append(out, h)
		}
	}
	return out
}

// clearStrays takes off host, a server this failover holds, the volumes
// of extra, which host sees but which are not its own: a stray, such as
// another failover's Map that landed late, after that failover had
// checked host. Booting host with it would make two writers of that
// volume (I2), and it may sit at a LUN host's own volumes need. A stray
// that another server of the site also sees (its owner), or that this
// failover read as another server's (a victim's it parked: the journal
// knows where it goes), is unmapped from host. Taking a volume away never
// makes a second writer, so host need not be confirmed off (a failed
// server whose BMC answers nothing cannot be). Any other stray may be the
// only path to its data: it is left where it is, with an error that says
// where it is (ErrConflict). A host this failover does not hold is never
// changed.
func (r *run) clearStrays(ctx context.Context, a *AuditEntry, dm storage.DiskMapper, host Record, extra []storage.Mapping) error {
	m := extra[0]
	x, err := r.o.store.Get(ctx, host.ID)
	if err != nil {
		return r.storeErr(err)
	}
	if !r.holds(x) {
		return fmt.Errorf("%s sees %s/%s at LUN %d, which is not one of its volumes: %w", host.ID, host.DiskArray, m.Volume, m.LUN, ErrConflict)
	}
	hostInits := initiators(host)
	var others [][]Record // the other servers of the array, read lazily
	for _, m := range extra {
		// A volume of a server this failover read (a victim's, parked
		// by it) is journaled with its LUN, and its own undo or the
		// victim's record puts it where it belongs: no other copy is
		// needed to take it off host.
		owner := r.volumeOf(host.DiskArray, m.Volume, host.ID)
		if owner == "" {
			if others == nil {
				if others, err = r.othersOn(ctx, host); err != nil {
					return err
				}
			}
			if owner, err = r.whoSees(ctx, a, dm, others, m.Volume); err != nil {
				return err
			}
		}
		if owner == "" {
			return fmt.Errorf("%s/%s (LUN %d) is masked to %s, which is not its owner, and to no other server: left there: %w", host.DiskArray, m.Volume, m.LUN, host.ID, ErrConflict)
		}
		if err := r.call(ctx, a, r.o.cfg.attempts, func(ctx context.Context) error { return dm.Unmap(ctx, m.Volume, hostInits) },
			func(ctx context.Context) (bool, error) { return notSees(ctx, dm, hostInits, m.Volume) }); err != nil {
			return fmt.Errorf("taking the stray %s (seen by %s) off %s: %w", m.Volume, owner, host.ID, err)
		}
		r.o.emit(Event{Kind: EventStepFinished, Failover: r.id, Server: host.ID, Step: "storage.stray",
			Target: fmt.Sprintf("%s/%s lun %d -x %s", host.DiskArray, m.Volume, m.LUN, host.ID),
			Detail: "another server's volume (seen by " + string(owner) + ") on a server this failover holds: unmapped"})
	}
	return nil
}

// strayChunk is how many servers' initiators whoSees reads at once.
const strayChunk = 32

// othersOn returns the servers on host's disk array other than host, in
// chunks of strayChunk.
func (r *run) othersOn(ctx context.Context, host Record) ([][]Record, error) {
	all, err := r.o.store.List(ctx)
	if err != nil {
		return nil, r.storeErr(err)
	}
	out := [][]Record{}
	var cur []Record
	for _, x := range all {
		if x.ID == host.ID || x.DiskArray != host.DiskArray || len(x.HBAs) == 0 {
			continue
		}
		if cur = append(cur, x); len(cur) == strayChunk {
			out, cur = append(out, cur), nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, nil
}

// whoSees returns the first server of others that sees vol, or "".
func (r *run) whoSees(ctx context.Context, a *AuditEntry, dm storage.DiskMapper, others [][]Record, vol storage.VolumeID) (search.ServerID, error) {
	h, err := r.holdersOf(ctx, a, dm, others, vol, true)
	if err != nil || len(h) == 0 {
		return "", err
	}
	return h[0].ID, nil
}

// holdersOf returns the servers of others that see vol (the first only,
// when first): one read per chunk (Mappings answers for any of the
// initiators), then one per server of a chunk that has it.
func (r *run) holdersOf(ctx context.Context, a *AuditEntry, dm storage.DiskMapper, others [][]Record, vol storage.VolumeID, first bool) ([]Record, error) {
	has := func(inits []storage.Initiator) (bool, error) {
		got, err := r.readMappings(ctx, a, dm, inits)
		return slices.ContainsFunc(got, func(g storage.Mapping) bool { return g.Volume == vol }), err
	}
	var out []Record
	for _, chunk := range others {
		var inits []storage.Initiator
		for _, x := range chunk {
			inits = append(inits, initiators(x)...)
		}
		ok, err := has(inits)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		for _, x := range chunk {
			ok, err := has(initiators(x))
			if err != nil {
				return nil, err
			}
			if ok {
				if out = append(out, x); first {
					return out, nil
				}
			}
		}
	}
	return out, nil
}

// holds reports whether this failover holds x now: one of its failed
// servers, or reserved by it (a spare, a victim). A server an earlier
// attempt released is not held.
func (r *run) holds(x Record) bool {
	return x.Reservation == r.id || slices.Contains(r.h.Members, x.ID)
}

// volumeOf returns the server, not except, whose volumes this failover
// read include vol on array, or "".
func (r *run) volumeOf(array string, vol storage.VolumeID, except search.ServerID) search.ServerID {
	r.mu.Lock()
	defer r.mu.Unlock()
	var owner search.ServerID
	for k, maps := range r.vols {
		if k.array == array && k.server != except && (owner == "" || k.server < owner) &&
			slices.ContainsFunc(maps, func(m storage.Mapping) bool { return m.Volume == vol }) {
			owner = k.server
		}
	}
	return owner
}

// mapBack maps m back to host (a server this failover holds) after pre,
// taking strays off host first when they hold its LUN (clearStrays).
func (r *run) mapBack(ctx context.Context, a *AuditEntry, attempts int, dm storage.DiskMapper, host Record, m storage.Mapping, pre func(context.Context) error) error {
	inits := initiators(host)
	do := func() error {
		return r.callAfter(ctx, a, attempts, pre, func(ctx context.Context) error { return dm.Map(ctx, m.Volume, inits, m.LUN) },
			func(ctx context.Context) (bool, error) { return sees(ctx, dm, inits, []storage.Mapping{m}) })
	}
	err := do()
	if !errors.Is(err, ErrConflict) || r.stopped() {
		return err
	}
	have, rerr := r.readMappings(ctx, a, dm, inits)
	if rerr != nil {
		return errors.Join(err, rerr)
	}
	r.mu.Lock()
	keep := slices.Clone(r.vols[volKey{host.ID, host.DiskArray}])
	r.mu.Unlock()
	keep = append(keep, m)
	var taken []storage.Mapping
	for _, h := range foreign(have, keep) {
		if h.LUN == m.LUN {
			taken = append(taken, h)
		}
	}
	if len(taken) == 0 {
		return err
	}
	if cerr := r.clearStrays(ctx, a, dm, host, taken); cerr != nil {
		return errors.Join(err, cerr)
	}
	return do()
}

// misplaced compares the volumes src must have (want) with the array:
// missing are those src does not see at their LUN; stray are those seen
// by an earlier destination of this failover (not dst); extra are those
// src sees that are not its own (foreign).
func (r *run) misplaced(ctx context.Context, a *AuditEntry, dm storage.DiskMapper, src Record, want []storage.Mapping, dst search.ServerID) (missing, stray, extra []storage.Mapping, err error) {
	have, err := r.readMappings(ctx, a, dm, initiators(src))
	if err != nil {
		return nil, nil, nil, err
	}
	extra = foreign(have, want)
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
			return nil, nil, nil, err
		}
		for _, w := range want {
			if slices.ContainsFunc(got, func(g storage.Mapping) bool { return g.Volume == w.Volume }) {
				stray = append(stray, w)
			}
		}
	}
	return missing, stray, extra, nil
}

// restoreMissing maps back to src the volumes that no server of the site
// sees, at their LUNs, and says where the others are.
func (r *run) restoreMissing(ctx context.Context, a *AuditEntry, dm storage.DiskMapper, src Record, from []storage.Initiator, missing, stray []storage.Mapping) error {
	if len(stray) > 0 {
		return fmt.Errorf("%s/%s (LUN %d) of %s is still seen by a server an earlier attempt gave it to: %w", src.DiskArray, stray[0].Volume, stray[0].LUN, src.ID, ErrConflict)
	}
	others, err := r.othersOn(ctx, src)
	if err != nil {
		return err
	}
	mine := r.touched()
	for _, m := range missing {
		holders, err := r.holdersOf(ctx, a, dm, others, m.Volume, false)
		if err != nil {
			return err
		}
		for _, x := range holders {
			if !slices.Contains(mine, x.ID) {
				return fmt.Errorf("%s/%s (LUN %d) of %s is masked to %s; left there: %w", src.DiskArray, m.Volume, m.LUN, src.ID, x.ID, ErrConflict)
			}
			// A server this failover holds (off, fenced by it) or held
			// in an earlier attempt: take the volume back from it. One
			// it released is not fenced again (someone may run it by
			// now): taking a volume away makes no second writer.
			var pre func(context.Context) error
			if r.holds(x) {
				pre = func(ctx context.Context) error { return r.ensureOff(ctx, a, x) }
			}
			if err := r.callAfter(ctx, a, r.o.cfg.attempts, pre,
				func(ctx context.Context) error { return dm.Unmap(ctx, m.Volume, initiators(x)) },
				func(ctx context.Context) (bool, error) { return notSees(ctx, dm, initiators(x), m.Volume) }); err != nil {
				return fmt.Errorf("taking %s back from %s: %w", m.Volume, x.ID, err)
			}
		}
		r.o.emit(Event{Kind: EventStepFinished, Failover: r.id, Server: src.ID, Step: "storage.restore", Target: fmt.Sprintf("%s/%s lun %d -> %s", src.DiskArray, m.Volume, m.LUN, src.ID),
			Detail: "masked to no server (a write that landed late): mapped back"})
		if err := r.mapBack(ctx, a, r.o.cfg.attempts, dm, src, m, nil); err != nil {
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
		missing, stray, _, err := r.misplaced(ctx, a, dm, src, want, dst.ID)
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
		// this read to matter, and then this read sees it. dst must see
		// its volumes and nothing else: a stray (another server's
		// volume) would have two writers once dst boots (I2), so it is
		// taken off, and dst read again.
		have, err := r.readMappings(ctx, a, dm, initiators(dst))
		for try := 0; err == nil && try < 2; try++ {
			extra := foreign(have, want)
			if len(extra) == 0 {
				break
			}
			if err := r.clearStrays(ctx, a, dm, dst, extra); err != nil {
				return err
			}
			have, err = r.readMappings(ctx, a, dm, initiators(dst))
		}
		if err != nil {
			return err
		}
		if extra := foreign(have, want); len(extra) > 0 {
			return fmt.Errorf("%s still sees %s/%s at LUN %d, not one of %s's volumes: %w", dst.ID, src.DiskArray, extra[0].Volume, extra[0].LUN, src.ID, ErrConflict)
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
