package failover

import (
	"context"
	"errors"
	"fmt"

	"github.com/coldstandby/coldstandby/search"
)

// Failback moves the workload that left home in a failover back to it:
// home must be a standby again (see MarkStandby). The server running the
// workload now is shut down (gracefully first) and fenced, the disks,
// zones and VLANs move back, home boots, and the other server becomes a
// standby. It is journaled and recovered like a failover; on failure it is
// rolled back (the workload restarts where it was).
func (o *Orchestrator) Failback(ctx context.Context, home search.ServerID) (Result, error) {
	res := Result{Server: home}
	all, err := o.store.List(ctx)
	if err != nil {
		res.Err = fmt.Errorf("failover: failback %s: %w", home, err)
		return res, res.Err
	}
	var cur *Record
	var h *Record
	for k := range all {
		x := &all[k]
		if x.ID == home {
			h = x
		}
		if x.Home == home && x.State == search.Active {
			cur = x
		}
	}
	switch {
	case h == nil:
		res.Err = fmt.Errorf("failover: failback %s: %w", home, ErrNotFound)
	case cur == nil:
		res.Err = fmt.Errorf("failover: failback %s: no active server runs its workload: %w", home, ErrNotFound)
	case cur.Reservation != "":
		res.Err = fmt.Errorf("failover: failback %s: %s is held by failover %s: %w", home, cur.ID, cur.Reservation, ErrConflict)
	case h.State != search.Standby || h.Reservation != "":
		res.Err = fmt.Errorf("failover: failback %s: it is %s, want standby (MarkStandby first): %w", home, h.State, ErrConflict)
	case cur.Partition != "" || h.Partition != "":
		res.Err = fmt.Errorf("failover: failback %s: logical servers: %w", home, ErrUnsupported)
	}
	if res.Err != nil {
		return res, res.Err
	}
	fl := &flight{}
	if !o.claim([]search.ServerID{cur.ID, home}, fl) {
		res.Err = fmt.Errorf("failover: failback %s: %s or %s is busy: %w", home, cur.ID, home, ErrConflict)
		return res, res.Err
	}
	defer o.release(fl)
	plan := search.Plan{Kind: search.Exact, Assignments: []search.Assignment{{Failed: cur.ID, Spare: home}}, Replacement: []search.ServerID{home}}
	hd := header{Kind: kindFailback, Server: cur.ID, Members: []search.ServerID{cur.ID}, Home: home, Plan: &plan}
	r, err := o.begin(ctx, hd)
	if err != nil {
		res.Outcome, res.Err = OutcomeInterrupted, err
		return res, err
	}
	res.ID = r.id
	o.emit(Event{Kind: EventFailbackStarted, Failover: r.id, Server: cur.ID, Spare: home, Detail: "failback to " + string(home)})
	// Hold the source like a victim, and home (I4), before touching any
	// hardware: a failover that wants the source (preemption,
	// relocation) must not move its disks while this one does, and one
	// that takes home would leave the source fenced for nothing. The
	// compare-and-set also catches a reservation taken since the List
	// above. (Home keeps its state: the plan's reserve step marks it.)
	src := cur.ID
	rsv := &stepRec{Reserved: []reservation{{ID: home, Prev: h.State}, {ID: src, Prev: cur.State}}}
	if err := r.step(ctx, kindReserve, string(src)+","+string(home), rsv, src, home, func(ctx context.Context, a *AuditEntry) error {
		a.Attempts++
		return o.update(ctx, r, []search.ServerID{src, home}, func(m map[search.ServerID]*Record) error {
			for _, x := range m {
				if x.Reservation != "" && x.Reservation != r.id {
					return fmt.Errorf("%s is held by failover %s: %w", x.ID, x.Reservation, ErrConflict)
				}
			}
			x, hx := m[src], m[home]
			if x.State != search.Active || x.Home != home || hx.State != search.Standby {
				return fmt.Errorf("%s or %s changed meanwhile (%s with home %q, %s): %w", src, home, x.State, x.Home, hx.State, ErrConflict)
			}
			x.Reservation, hx.Reservation = r.id, r.id
			return nil
		})
	}); err != nil {
		if r.stopped() {
			res = r.finish(ctx, res, OutcomeInterrupted, r.deadErr())
			return res, res.Err
		}
		if rerr := r.rollback(ctx); rerr != nil {
			res = r.finish(ctx, res, OutcomeInterrupted, errors.Join(err, rerr))
			return res, res.Err
		}
		res = r.finish(ctx, res, OutcomeFailed, fmt.Errorf("failover: failback %s: %w", home, err))
		return res, res.Err
	}
	if err := r.fence(ctx, *cur, true); err != nil {
		if r.stopped() {
			res = r.finish(ctx, res, OutcomeInterrupted, r.deadErr())
			return res, res.Err
		}
		// Nothing moved yet: bring the workload back where it was.
		if rerr := r.rollback(ctx); rerr != nil {
			res = r.finish(ctx, res, OutcomeInterrupted, errors.Join(err, rerr))
			return res, res.Err
		}
		res = r.finish(ctx, res, OutcomeFencingFailed, fmt.Errorf("failover: failback %s: %w: %w", home, ErrFencingFailed, err))
		return res, res.Err
	}
	res = o.execute(ctx, r, nil)
	res.Server = home
	return res, res.Err
}
