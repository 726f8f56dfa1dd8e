package failover

import (
	"cmp"
	"context"
	"fmt"

	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// PlannedStep is one step a failover would run.
type PlannedStep struct {
	Step    string // as in AuditEntry
	Target  string
	Driver  string
	Skipped string // why it would be skipped ("" when it would run)
}

// DryRunResult is what a failover of a server would do now.
type DryRunResult struct {
	Server search.ServerID
	Plan   search.Plan
	Steps  []PlannedStep
}

// DryRun plans a failover of server as if it failed now and lists the
// steps it would run, without touching any device or the store. Volumes
// are not listed one by one (that needs reading the array): the storage
// step names the disk array and the two servers. A step on a part
// declared Unmanaged is listed with Skipped saying so. The error wraps
// ErrNoSpare (with the search's explanation) when nothing could take
// over, and ErrInvalid when the records or drivers would make HandleFault
// refuse the fault (see Check).
func (o *Orchestrator) DryRun(ctx context.Context, server search.ServerID) (DryRunResult, error) {
	out := DryRunResult{Server: server}
	all, err := o.store.List(ctx)
	if err != nil {
		return out, fmt.Errorf("failover: dry run %s: %w", server, err)
	}
	byID := map[search.ServerID]Record{}
	for _, r := range all {
		byID[r.ID] = r
	}
	rec, ok := byID[server]
	if !ok {
		return out, fmt.Errorf("failover: dry run %s: %w", server, ErrNotFound)
	}
	if err := o.checkRecords(all); err != nil {
		return out, fmt.Errorf("failover: dry run %s: a fault would be refused: %w", server, err)
	}
	inv, err := o.inventory(all, nil)
	if err != nil {
		return out, err
	}
	plan, err := inv.Find(server)
	out.Plan = plan
	if err != nil {
		return out, searchErr("failover: dry run "+string(server), err)
	}
	add := func(step, target, driver, skipped string) {
		out.Steps = append(out.Steps, PlannedStep{Step: step, Target: target, Driver: driver, Skipped: skipped})
	}
	skip := func(_ any, why string, err error) string {
		if err != nil {
			return err.Error()
		}
		return why
	}
	for _, m := range members(all, rec) {
		add("fence", string(m.ID), "bmc", "")
	}
	add("reserve", joinIDs(reservedSet(plan)), "store", "")
	move := func(src, dst Record) {
		add("storage", src.DiskArray+": "+string(src.ID)+" -> "+string(dst.ID), "storage", skip(o.diskMapper(src.DiskArray)))
		for i := 0; i < min(len(src.HBAs), len(dst.HBAs)); i++ {
			fh := src.HBAs[i]
			if fh.Fabric == "" || fh.Initiator.Kind() != storage.FC {
				continue
			}
			add("zone", fmt.Sprintf("%s: %s -> %s", fh.Fabric, fh.Initiator, dst.HBAs[i].Initiator), "zoner", skip(o.fcZoner(fh.Fabric)))
		}
		for i := 0; i < min(len(src.NICs), len(dst.NICs)); i++ {
			fn, sn := src.NICs[i], dst.NICs[i]
			why := cmp.Or(skip(o.vlanSwitch(fn.Switch)), skip(o.vlanSwitch(sn.Switch)))
			add("vlan", fmt.Sprintf("%s/%s -> %s/%s", fn.Switch, fn.Port, sn.Switch, sn.Port), "vlan", why)
		}
	}
	for _, v := range plan.Preemptions {
		add("fence", string(v.Victim), "bmc", "")
		if v.RelocateTo == "" {
			arr := byID[v.Victim].DiskArray
			add("park", arr+": "+string(v.Victim), "storage", skip(o.diskMapper(arr)))
			continue
		}
		move(byID[v.Victim], byID[v.RelocateTo])
		add("boot", string(v.RelocateTo), "bmc", "")
	}
	if plan.Compose {
		add("compose", partitionID(plan), "partition", skip(o.partitionManager()))
	}
	for _, a := range plan.Assignments {
		move(byID[a.Failed], byID[a.Spare])
	}
	boots := map[search.ServerID]bool{}
	for _, a := range plan.Assignments {
		boots[a.Spare] = true
	}
	for _, id := range plan.Replacement {
		boots[id] = true
	}
	for _, id := range reservedSet(plan) {
		if boots[id] {
			add("boot", string(id), "bmc", "")
		}
	}
	add("commit", joinIDs(reservedSet(plan)), "store", "")
	return out, nil
}

// Coverage reports, from the current records, for each active server
// whether a spare would take over now and which, and per hardware class
// how many simultaneous failures the standby pool can absorb (see
// search.Coverage). Reserved servers count as taken.
func (o *Orchestrator) Coverage(ctx context.Context) (search.Coverage, error) {
	all, err := o.store.List(ctx)
	if err != nil {
		return search.Coverage{}, fmt.Errorf("failover: coverage: %w", err)
	}
	inv, err := o.inventory(all, nil)
	if err != nil {
		return search.Coverage{}, err
	}
	return inv.Coverage(), nil
}
