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
	return fmt.Errorf("not confirmed off (state %q; power-off: %v; last read: %v): %w", st, perr, werr, ErrFencingFailed)
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

// moveStorage moves every volume src's initiators see to dst's, with the
// same LUN numbers: by swapping the host's initiators when the array can,
// otherwise volume by volume, unmapping from src before mapping to dst
// (never two writers, I2), each journaled with what undoes it (I3, I7).
func (r *run) moveStorage(ctx context.Context, src, dst Record) error {
	o := r.o
	target := src.DiskArray + ": " + string(src.ID) + " -> " + string(dst.ID)
	dm, skip, err := o.diskMapper(src.DiskArray)
	if err != nil {
		return fmt.Errorf("failover: storage %s: %w", target, err)
	}
	if skip != "" {
		r.skipped("storage", target, skip, src.ID, dst.ID)
		return nil
	}
	from, to := initiators(src), initiators(dst)
	if len(from) == 0 || len(to) == 0 {
		return fmt.Errorf("failover: storage %s: %s or %s has no initiators: %w", target, src.ID, dst.ID, ErrInvalid)
	}
	// Read and journal the source's masking before any change.
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
	if err != nil || len(maps) == 0 {
		return err
	}
	if sw, ok := dm.(storage.InitiatorSwapper); ok && o.cfg.swap {
		rec := &stepRec{Server: src.ID, Spare: dst.ID, Array: src.DiskArray, From: from, To: to, Swap: true, Maps: maps}
		err := r.step(ctx, "storage", target, "storage", rec, src.ID, dst.ID, func(ctx context.Context, a *AuditEntry) error {
			return r.call(ctx, a, o.cfg.attempts, func(ctx context.Context) error {
				return sw.SwapInitiators(ctx, from, to)
			}, func(ctx context.Context) (bool, error) { return sees(ctx, dm, to, maps) })
		})
		if err == nil || !(errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnsupported)) || r.stopped() {
			return err
		}
		// No host object holds exactly src's initiators: move volume
		// by volume (the swap changed nothing).
	}
	for _, m := range maps {
		rec := &stepRec{Server: src.ID, Spare: dst.ID, Array: src.DiskArray, From: from, To: to, Volume: m.Volume, LUN: m.LUN}
		vt := fmt.Sprintf("%s/%s lun %d: %s -> %s", src.DiskArray, m.Volume, m.LUN, src.ID, dst.ID)
		err := r.step(ctx, "storage", vt, "storage", rec, src.ID, dst.ID, func(ctx context.Context, a *AuditEntry) error {
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

// park unmaps a stopped victim's volumes, journaling each (with its LUN)
// so that it can be restarted later; the volumes are listed in the
// victim's record.
func (r *run) park(ctx context.Context, v Record) error {
	o := r.o
	dm, skip, err := o.diskMapper(v.DiskArray)
	if err != nil {
		return fmt.Errorf("failover: park %s: %w", v.ID, err)
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
	for _, m := range maps {
		rec := &stepRec{Server: v.ID, Array: v.DiskArray, From: from, Volume: m.Volume, LUN: m.LUN, Park: true}
		vt := fmt.Sprintf("%s/%s lun %d: %s parked", v.DiskArray, m.Volume, m.LUN, v.ID)
		if err := r.step(ctx, "park", vt, "storage", rec, v.ID, "", func(ctx context.Context, a *AuditEntry) error {
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
