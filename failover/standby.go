package failover

import (
	"context"
	"fmt"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// MarkStandby returns a repaired server (Failed, or set aside in
// Maintenance) to the standby pool. It checks what it can reach: no
// failover of the server may be under way or unfinished (once its disks
// have moved it is off and sees nothing, but a rollback or Recover may
// still map them back to it), and the server must be confirmed off
// through its BMC and see no volume on its disk array (a spare must not
// hold anybody's disks). Errors: ErrNotFound; ErrConflict when the
// server is reserved, being failed over, named by an unfinished
// failover's journal, active, on, or still sees volumes.
func (o *Orchestrator) MarkStandby(ctx context.Context, server search.ServerID) error {
	rec, err := o.store.Get(ctx, server)
	if err != nil {
		return fmt.Errorf("failover: mark standby %s: %w", server, err)
	}
	fl := &flight{}
	if !o.claim([]search.ServerID{server}, fl) {
		return fmt.Errorf("failover: mark standby %s: a failover of it is under way: %w", server, ErrConflict)
	}
	defer o.release(fl)
	if id, err := o.unfinishedOf(ctx, server); err != nil {
		return fmt.Errorf("failover: mark standby %s: %w", server, err)
	} else if id != "" {
		return fmt.Errorf("failover: mark standby %s: failover %s of it is unfinished (Recover it first): %w", server, id, ErrConflict)
	}
	switch {
	case rec.Reservation != "":
		return fmt.Errorf("failover: mark standby %s: reserved by failover %s: %w", server, rec.Reservation, ErrConflict)
	case rec.State == search.Standby:
		return nil
	case rec.State != search.Failed && rec.State != search.Maintenance:
		return fmt.Errorf("failover: mark standby %s: server is %s: %w", server, rec.State, ErrConflict)
	}
	b, err := o.bmcOf(rec)
	if err != nil {
		return fmt.Errorf("failover: mark standby %s: %w", server, err)
	}
	n := o.cfg.attempts
	var st bmc.PowerState
	err = o.guarded(ctx, o.leading, nil, n, nil, func(ctx context.Context) error {
		var err error
		st, err = b.PowerState(ctx)
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("failover: mark standby %s: %w", server, err)
	}
	if st != bmc.PowerOff {
		return fmt.Errorf("failover: mark standby %s: power is %s, want off: %w", server, st, ErrConflict)
	}
	if dm, ok := o.drv.DiskMappers[rec.DiskArray]; ok && len(initiators(rec)) > 0 {
		var maps []storage.Mapping
		err := o.guarded(ctx, o.leading, nil, n, nil, func(ctx context.Context) error {
			var err error
			maps, err = dm.Mappings(ctx, initiators(rec))
			return err
		}, nil)
		if err != nil {
			return fmt.Errorf("failover: mark standby %s: %w", server, err)
		}
		if len(maps) > 0 {
			return fmt.Errorf("failover: mark standby %s: still sees %d volume(s) (first %s): %w", server, len(maps), maps[0].Volume, ErrConflict)
		}
	}
	// Give back the power-restore policy fencing replaced.
	if p := rec.RestorePolicy; p != "" {
		pr, ok := b.(bmc.PowerRestorer)
		if !ok {
			return fmt.Errorf("failover: mark standby %s: its BMC cannot set the power-restore policy back to %s: %w", server, p, ErrUnsupported)
		}
		err := o.guarded(ctx, o.leading, nil, n, nil, func(ctx context.Context) error { return pr.SetPowerRestorePolicy(ctx, p) }, func(ctx context.Context) (bool, error) {
			got, err := pr.PowerRestorePolicy(ctx)
			return got == p, err
		})
		if err != nil {
			return fmt.Errorf("failover: mark standby %s: power-restore policy back to %s: %w", server, p, err)
		}
	}
	return o.update(ctx, nil, []search.ServerID{server}, func(m map[search.ServerID]*Record) error {
		x := m[server]
		if x.Reservation != "" || (x.State != search.Failed && x.State != search.Maintenance && x.State != search.Standby) {
			return fmt.Errorf("failover: mark standby %s: changed meanwhile: %w", server, ErrConflict)
		}
		x.State, x.Workload, x.MovedTo, x.Home, x.Note = search.Standby, "", "", "", "repaired"
		x.RestorePolicy, x.SpareVLANs = "", nil
		return nil
	})
}
