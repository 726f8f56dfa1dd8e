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
