package failover

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/internal/opid"
	"github.com/coldstandby/coldstandby/search"
)

// eligible decides what to do with a fault on rec, a server no failover
// holds: "" to fail it over, or the outcome when there is nothing to
// fail over, and why.
func eligible(rec Record) (Outcome, string) {
	switch {
	case rec.State == search.Failed && rec.MovedTo != "":
		return OutcomeAbsorbed, "already replaced by " + string(rec.MovedTo)
	case rec.State == search.Active, rec.State == search.Failed:
		return "", ""
	}
	return OutcomeReported, "server is " + string(rec.State) + ", not active"
}

// prepare takes a fault to the point where a failover acts: it checks
// the site as a whole (Check) before anything is changed, opens the
// journal, claims the failed logical server and fences it. ok is false
// when the fault ends here (res says how).
func (o *Orchestrator) prepare(ctx context.Context, res Result) (*run, Result, bool) {
	all, err := o.store.List(ctx)
	if err != nil {
		res.Err = fmt.Errorf("failover: %s: %w", res.Server, err)
		return nil, res, false
	}
	i, found := slices.BinarySearchFunc(all, res.Server, func(r Record, id search.ServerID) int {
		return cmp.Compare(r.ID, id)
	})
	if !found {
		res.Err = fmt.Errorf("failover: %s: %w", res.Server, ErrNotFound)
		return nil, res, false
	}
	rec := all[i]
	if rec.Reservation != "" {
		return nil, o.held(ctx, res, rec), false
	}
	if err := o.checkRecords(all); err != nil {
		res.Outcome = OutcomeRefused
		res.Err = fmt.Errorf("failover: %s: fault refused, nothing done: %w", res.Server, err)
		o.emit(Event{Kind: EventFaultRefused, Server: res.Server, Err: err})
		return nil, res, false
	}
	if rec.State == search.Standby {
		// A broken spare: take it out of the pool so that no failover
		// picks it (MarkStandby returns it once repaired).
		err := o.update(ctx, nil, []search.ServerID{rec.ID}, func(m map[search.ServerID]*Record) error {
			x := m[rec.ID]
			if x.State != search.Standby || x.Reservation != "" {
				return errNoChange
			}
			x.State = search.Maintenance
			x.Note = "standby failed (" + describe(res.Fault) + "): set aside"
			return nil
		})
		res.Outcome, res.Err = OutcomeReported, err
		o.emit(Event{Kind: EventSpareSetAside, Server: res.Server, Spare: res.Server, Detail: "standby failed: " + describe(res.Fault)})
		return nil, res, false
	}
	if out, why := eligible(rec); out != "" {
		res.Outcome = out
		kind := EventFaultReported
		if out == OutcomeAbsorbed {
			kind = EventFaultAbsorbed
		}
		o.emit(Event{Kind: kind, Server: res.Server, Detail: why})
		return nil, res, false
	}
	mem := members(all, rec)
	// A failover of these servers that a crash (or a deposed leader)
	// left unfinished before it claimed them may hold part of their
	// disks: its journal holds the fault; Recover carries it out.
	for _, m := range mem {
		id, err := o.unfinishedOf(ctx, m.ID)
		if err != nil {
			res.Err = fmt.Errorf("failover: %s: %w", res.Server, err)
			return nil, res, false
		}
		if id != "" {
			res.Outcome = OutcomeInterrupted
			res.Err = fmt.Errorf("failover: %s: failover %s of %s is unfinished; Recover carries it out: %w", res.Server, id, m.ID, ErrConflict)
			o.emit(Event{Kind: EventFaultReported, Server: res.Server, Detail: res.Err.Error()})
			return nil, res, false
		}
	}
	h := header{Kind: kindFailover, Server: res.Server, Members: ids(mem), Fault: res.Fault}
	r, err := o.begin(ctx, h)
	if err != nil {
		res.Outcome, res.Err = OutcomeInterrupted, err
		return nil, res, false
	}
	res.ID = r.id
	o.emit(Event{Kind: EventFailoverStarted, Failover: r.id, Server: res.Server, Detail: describe(res.Fault)})
	o.cfg.log.Info("failover started", "failover", r.id, "server", res.Server, "fault", res.Fault.Type)
	return r.claimAndFence(ctx, res)
}

// claimAndFence claims the failed logical server for this failover (a
// compare-and-set on every member's record, so that a second instance on
// the same store absorbs the fault instead of failing the server over
// again) and fences it. Recover calls it again on a failover it restarts:
// its own claim is accepted, fencing is idempotent.
func (r *run) claimAndFence(ctx context.Context, res Result) (*run, Result, bool) {
	o := r.o
	ctx = opid.With(ctx, r.id)
	var other string
	var holderFails bool
	var done Outcome
	var why string
	err := o.update(ctx, r, r.h.Members, func(m map[search.ServerID]*Record) error {
		other, done = "", ""
		for _, x := range m {
			if x.Reservation != "" && x.Reservation != r.id {
				other, holderFails = x.Reservation, x.State == search.Failed
				return errNoChange
			}
		}
		// Replaced (or taken out of service) since the fault was read:
		// another instance sharing the store got there first.
		if x := m[r.h.Server]; x != nil && x.Reservation != r.id {
			if done, why = eligible(*x); done != "" {
				return errNoChange
			}
		}
		for _, x := range m {
			if x.State == search.Active {
				x.State = search.Failed
				x.Note = "fault " + describe(r.h.Fault)
			}
			x.Reservation = r.id
		}
		return nil
	})
	if err != nil {
		return nil, r.finish(ctx, res, OutcomeInterrupted, err), false
	}
	if done != "" {
		kind := EventFaultReported
		if done == OutcomeAbsorbed {
			kind = EventFaultAbsorbed
		}
		o.emit(Event{Kind: kind, Failover: r.id, Server: res.Server, Detail: why})
		return nil, r.finish(ctx, res, done, nil), false
	}
	if other != "" {
		if holderFails {
			o.emit(Event{Kind: EventFaultAbsorbed, Failover: r.id, Server: res.Server, Detail: "being failed over by " + other})
			return nil, r.finish(ctx, res, OutcomeAbsorbed, nil), false
		}
		// A member was taken by another failover since it was read: that
		// failover gets the fault.
		for _, id := range r.h.Members {
			if _, _, err := o.deferFault(ctx, id, res.Fault); err != nil {
				return nil, r.finish(ctx, res, OutcomeInterrupted, err), false
			}
		}
		o.emit(Event{Kind: EventFaultDeferred, Failover: r.id, Server: res.Server, Detail: "held by failover " + other})
		return nil, r.finish(ctx, res, OutcomeDeferred, nil), false
	}
	var fences []func() error
	for _, id := range r.h.Members {
		fences = append(fences, func() error { return r.fenceFailed(ctx, id) })
	}
	if err := parallel(fences...); err != nil {
		if r.stopped() || ctx.Err() != nil {
			return nil, r.finish(ctx, res, OutcomeInterrupted, err), false
		}
		o.emit(Event{Kind: EventFencingFailed, Failover: r.id, Server: res.Server, Err: err})
		return nil, r.finish(ctx, res, OutcomeFencingFailed, fmt.Errorf("%w: %w", ErrFencingFailed, err)), false
	}
	return r, res, true
}

// fenceFailed fences failed member id, and makes it stay off when mains
// power returns where its BMC can (bmc.PowerRestorer): its policy is
// first kept in its record (for MarkStandby to give back), then set to
// always-off. A BMC that cannot set it does not stop the failover: the
// server is re-confirmed off before its disks move and before the spare
// boots.
func (r *run) fenceFailed(ctx context.Context, id search.ServerID) error {
	x, err := r.o.store.Get(ctx, id)
	if err != nil {
		return r.storeErr(err)
	}
	if err := r.fence(ctx, x, false); err != nil {
		return err
	}
	return r.keepOff(ctx, x)
}

// keepOff sets x's power-restore policy to always-off (see fenceFailed).
func (r *run) keepOff(ctx context.Context, x Record) error {
	b, err := r.o.bmcOf(x)
	if err != nil {
		return err
	}
	pr, ok := b.(bmc.PowerRestorer)
	if !ok {
		return nil
	}
	return r.step(ctx, "keep-off", string(x.ID), "bmc", nil, x.ID, "", func(ctx context.Context, a *AuditEntry) error {
		var p bmc.RestorePolicy
		if err := r.call(ctx, a, r.o.cfg.attempts, func(ctx context.Context) error {
			var err error
			p, err = pr.PowerRestorePolicy(ctx)
			return err
		}, nil); err != nil {
			return r.unkept(x, err)
		}
		if p == bmc.RestoreAlwaysOff {
			return nil
		}
		if err := r.o.update(ctx, r, []search.ServerID{x.ID}, func(m map[search.ServerID]*Record) error {
			if m[x.ID].RestorePolicy != "" {
				return errNoChange // kept by an earlier fencing: that one is the server's own
			}
			m[x.ID].RestorePolicy = p
			return nil
		}); err != nil {
			return err
		}
		if err := r.call(ctx, a, r.o.cfg.attempts, func(ctx context.Context) error {
			return pr.SetPowerRestorePolicy(ctx, bmc.RestoreAlwaysOff)
		}, func(ctx context.Context) (bool, error) {
			p, err := pr.PowerRestorePolicy(ctx)
			return p == bmc.RestoreAlwaysOff, err
		}); err != nil {
			return r.unkept(x, err)
		}
		return nil
	})
}

// unkept reports a power-restore policy that could not be set; it only
// stops the failover when the run must stop anyway.
func (r *run) unkept(x Record, err error) error {
	if r.stopped() || errors.Is(err, ErrNotLeader) {
		return err
	}
	r.o.emit(Event{Kind: EventStepSkipped, Failover: r.id, Server: x.ID, Step: "keep-off", Target: string(x.ID), Err: err,
		Detail: "could not make it stay off when power returns; it is re-confirmed off before its disks move"})
	return nil
}

// deferFault keeps f in the record of server id, which a failover holds,
// and tells that failover when this instance runs it. It returns the
// holder ("" when none holds the server any more: the caller handles the
// fault itself), and absorbed when the holder is failing id over.
func (o *Orchestrator) deferFault(ctx context.Context, id search.ServerID, f bmc.Fault) (holder string, absorbed bool, err error) {
	err = o.update(ctx, nil, []search.ServerID{id}, func(m map[search.ServerID]*Record) error {
		x := m[id]
		holder, absorbed = x.Reservation, x.State == search.Failed
		if holder == "" || absorbed {
			return errNoChange
		}
		if slices.ContainsFunc(x.PendingFaults, func(p bmc.Fault) bool { return p.Type == f.Type }) {
			return errNoChange
		}
		x.PendingFaults = append(x.PendingFaults, f)
		return nil
	})
	if err != nil || holder == "" || absorbed {
		return holder, absorbed, err
	}
	if r := o.liveRun(holder); r != nil {
		r.markBroken(id, f)
	}
	return holder, false, nil
}

// drainPending handles the faults kept in the records of servers while a
// failover held them, once no failover holds them: each is handled as if
// delivered now, then removed from the record. A crash in between
// handles it again, which is harmless (a handled fault is absorbed or
// reported the second time).
func (o *Orchestrator) drainPending(ctx context.Context, servers []search.ServerID) []Result {
	var out []Result
	for _, id := range servers {
		// Handling a kept fault may fail the server over, which drains
		// it again: the inner drain leaves it to this one.
		o.mu.Lock()
		busy := o.draining[id]
		if !busy {
			o.draining[id] = true
		}
		o.mu.Unlock()
		if busy {
			continue
		}
		out = append(out, o.drainOne(ctx, id)...)
		o.mu.Lock()
		delete(o.draining, id)
		o.mu.Unlock()
	}
	return out
}

// drainOne handles the kept faults of one server (see drainPending).
func (o *Orchestrator) drainOne(ctx context.Context, id search.ServerID) []Result {
	rec, err := o.store.Get(ctx, id)
	if err != nil || rec.Reservation != "" || len(rec.PendingFaults) == 0 {
		return nil
	}
	var out []Result
	for _, f := range rec.PendingFaults {
		res, _ := o.HandleFault(ctx, f)
		out = append(out, res)
	}
	done := rec.PendingFaults
	_ = o.update(ctx, nil, []search.ServerID{id}, func(m map[search.ServerID]*Record) error {
		x := m[id]
		x.PendingFaults = slices.DeleteFunc(x.PendingFaults, func(p bmc.Fault) bool {
			return slices.ContainsFunc(done, func(d bmc.Fault) bool { return d.Type == p.Type })
		})
		if len(x.PendingFaults) == 0 {
			x.PendingFaults = nil
		}
		return nil
	})
	return out
}
