package failover

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/storage"
)

// zoneQueueOf returns the queue of FCZoner z: one per zoner instance,
// whatever fabric names it is registered under, since a zoner's pending
// edits are shared by every caller of that instance. A zoner of a
// non-comparable type has one queue per fabric name instead.
func (o *Orchestrator) zoneQueueOf(z fabric.FCZoner, fab string) *zoneQueue {
	var key any = fabricName(fab)
	if v := reflect.ValueOf(z); v.IsValid() && v.Comparable() {
		key = z
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	q := o.zoneQ[key]
	if q == nil {
		q = &zoneQueue{}
		o.zoneQ[key] = q
	}
	return q
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
	// Read outside any transaction: no other failover edits these WWPNs.
	var fz, sz []string
	if err := r.check(ctx, "zone.read", target, "zoner", src.ID, dst.ID, func(ctx context.Context, a *AuditEntry) error {
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
	return r.step(ctx, kindZone, target, rec, src.ID, dst.ID, func(ctx context.Context, a *AuditEntry) error {
		return r.applyZones(ctx, a, z, fab, o.cfg.attempts, forwardZoneEdits(fw, sw, fz, sz), false)
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

// applyZones makes edits in a committed transaction on z and verifies
// them by reading back (another session's aborted commit may have
// dropped them), retrying (a switch aborts a failed commit). The edits of
// every failover zoning z at the same moment go into one transaction
// (zoneTx), so a burst of failovers on one fabric commits a few times, not
// once each.
//
// With precheck (rollback), edits already in place are not sent again:
// an undo must not depend on a device that refuses edits it does not need.
func (r *run) applyZones(ctx context.Context, a *AuditEntry, z fabric.FCZoner, fab string, attempts int, edits []zoneEdit, precheck bool) error {
	check := func(ctx context.Context) (bool, error) { return zonesInPlace(ctx, z, edits) }
	return r.call(ctx, a, attempts, func(ctx context.Context) error {
		err := r.o.zoneTx(ctx, r, z, fab, edits, precheck)
		if errors.Is(err, ErrConflict) {
			// A zoning transaction held by another session: retry.
			return fmt.Errorf("%w (%w)", err, ErrTransient)
		}
		return err
	}, check)
}

// zonesInPlace reports whether every edit is in place (a WWPN in, or out
// of, its zone).
func zonesInPlace(ctx context.Context, z fabric.FCZoner, edits []zoneEdit) (bool, error) {
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

// zoneQueue merges the zoning edits that failovers want on one FCZoner
// at the same moment into one transaction: a request waits for the next
// transaction that starts after it arrived; the first to find none
// running runs them until none waits. One transaction at a time per
// FCZoner instance (an FCZoner's pending edits are shared by all its
// callers, and a failed commit aborts them all).
type zoneQueue struct {
	mu      sync.Mutex
	waiting []*zoneReq
	running bool
}

type zoneReq struct {
	r        *run
	edits    []zoneEdit
	precheck bool
	err      error
	done     chan struct{}
}

// zoneTx runs edits (of run r) in the next zoning transaction on z.
func (o *Orchestrator) zoneTx(ctx context.Context, r *run, z fabric.FCZoner, fab string, edits []zoneEdit, precheck bool) error {
	q := o.zoneQueueOf(z, fab)
	req := &zoneReq{r: r, edits: edits, precheck: precheck, done: make(chan struct{})}
	q.mu.Lock()
	q.waiting = append(q.waiting, req)
	run := !q.running
	q.running = true
	q.mu.Unlock()
	if run {
		tctx := context.WithoutCancel(ctx)
		for {
			q.mu.Lock()
			batch := q.waiting
			q.waiting = nil
			if len(batch) == 0 {
				q.running = false
				q.mu.Unlock()
				break
			}
			q.mu.Unlock()
			o.zoneRound(tctx, z, batch)
		}
	}
	select {
	case <-req.done:
		return req.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// zoneRound is one transaction: every request's edits (less those already
// in place for a precheck request), made concurrently, one Commit, then
// each request's edits verified by reading back. A request whose run may
// no longer act is answered without its edits.
func (o *Orchestrator) zoneRound(ctx context.Context, z fabric.FCZoner, batch []*zoneReq) {
	t := o.cfg.timeouts
	var edits []zoneEdit
	seen := map[zoneEdit]bool{}
	var live []*zoneReq
	for _, q := range batch {
		if err := q.r.mayAct(); err != nil {
			q.err = err
			close(q.done)
			continue
		}
		want := q.edits
		if q.precheck {
			cctx, cancel := context.WithTimeout(ctx, t.Step)
			var pending []zoneEdit
			for _, e := range want {
				if ok, err := zonesInPlace(cctx, z, []zoneEdit{e}); err != nil || !ok {
					pending = append(pending, e)
				}
			}
			cancel()
			want = pending
		}
		for _, e := range want {
			if !seen[e] {
				seen[e] = true
				edits = append(edits, e)
			}
		}
		live = append(live, q)
	}
	if len(live) == 0 {
		return
	}
	fail := func(err error) {
		for _, q := range live {
			q.err = err
			close(q.done)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, t.Step)
	defer cancel()
	edited := len(edits) > 0
	if err := parallelN(zoneEditWorkers, len(edits), func(i int) error {
		e := edits[i]
		if e.add {
			return z.AddMember(cctx, e.zone, e.wwpn)
		}
		return z.RemoveMember(cctx, e.zone, e.wwpn)
	}); err != nil {
		o.abortZones(ctx, z, edited)
		fail(err)
		return
	}
	// No commit after this instance lost leadership (its runs share it).
	if err := live[0].r.mayAct(); err != nil {
		fail(err)
		return
	}
	if err := z.Commit(cctx); err != nil {
		o.abortZones(ctx, z, edited)
		fail(err)
		return
	}
	_ = parallelN(zoneReadWorkers, len(live), func(i int) error {
		q := live[i]
		ok, err := zonesInPlace(cctx, z, q.edits)
		switch {
		case err != nil:
			q.err = err
		case !ok:
			q.err = fmt.Errorf("zone edits lost after commit: %w", ErrTransient)
		}
		close(q.done)
		return nil
	})
}

// zoneEditWorkers and zoneReadWorkers bound the zoning requests of one
// transaction that run at once (FCZoners are safe for concurrent use; a
// driver that talks to its switch one request at a time serialises them
// itself).
const (
	zoneEditWorkers = 16
	zoneReadWorkers = 32
)

// abortZones drops the edits of a transaction that did not reach a
// successful Commit, so that whoever commits next does not activate them
// (best effort: the switch's session timeout ends it otherwise).
func (o *Orchestrator) abortZones(ctx context.Context, z fabric.FCZoner, edited bool) {
	ab, ok := z.(fabric.Aborter)
	if !ok || !edited {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.timeouts.Step)
	defer cancel()
	_ = ab.Abort(actx)
}
