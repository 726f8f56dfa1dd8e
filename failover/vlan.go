package failover

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/search"
)

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
			if err := r.check(ctx, "vlan.read", target, "vlan", src.ID, dst.ID, func(ctx context.Context, a *AuditEntry) error {
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
			return r.step(ctx, kindVLAN, target, rec, src.ID, dst.ID, func(ctx context.Context, a *AuditEntry) error {
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
			if err := r.check(ctx, "vlan.read", target, "vlan", x.ID, "", func(ctx context.Context, a *AuditEntry) error {
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
			return r.step(ctx, kindVLAN, target, rec, x.ID, "", func(ctx context.Context, a *AuditEntry) error {
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
