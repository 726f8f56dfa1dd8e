package failover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/go-multierror"

	"github.com/coldstandby/coldstandby/internal/opid"
	"github.com/coldstandby/coldstandby/search"
)

// execute runs the plan-reserve-act-commit loop over candidates and ends
// the failover. first, when set, is the plan to try first: a failback's
// fixed plan, or one that joint planning already reserved (r.next).
//
// It stops at once, leaving the journal open for Recover, when the run
// must (lost leadership, an unwritable journal) or its caller's ctx
// ended: no rollback then, since a rollback under a cancelled caller
// would itself be cut short; Recover does it. A failed server found on
// again and not fenced again ends the failover as fencing failed, after
// the attempt is rolled back (the disks go back to it).
func (o *Orchestrator) execute(ctx context.Context, r *run, first *search.Plan) Result {
	ctx = opid.With(ctx, r.id)
	res := Result{ID: r.id, Server: r.h.Server, Fault: r.h.Fault, Action: r.h.action(o)}
	var errs []error
	aside := map[search.ServerID]bool{}
	fixed := r.h.Plan
	if fixed == nil && r.next == nil {
		fixed = first
	}
	interrupted := func() Result {
		err := r.deadErr()
		if !r.stopped() {
			err = fmt.Errorf("failover %s: stopped, Recover finishes it: %w", r.id, ctxErr(ctx))
		}
		return r.finish(ctx, res, OutcomeInterrupted, err)
	}
	for cand := 0; cand < o.cfg.candidates; cand++ {
		if r.h.Plan != nil && cand > 0 {
			break // a failback has exactly one plan
		}
		var plan search.Plan
		var err error
		switch {
		case r.next != nil:
			plan, r.next = *r.next, nil
		case fixed != nil:
			plan, err = r.planAndReserve(ctx, fixed, aside)
		default:
			// Through the planner, with every other failover of this
			// instance that needs a plan now.
			var a map[search.ServerID]bool
			if len(aside) > 0 {
				a = aside
			}
			var plans []search.Plan
			if plans, err = o.planFor(ctx, []*run{r}, a); err == nil && plans[0].Kind == 0 && !r.stopped() {
				err = fmt.Errorf("%s: %w", plans[0].Reason, ErrNoSpare)
			}
			if err == nil {
				plan, r.next = *r.next, nil
			} else if len(plans) == 1 {
				plan = plans[0]
			}
		}
		fixed = nil
		if err != nil {
			if r.stopped() || ctx.Err() != nil {
				return interrupted()
			}
			// A reservation whose write failed may still have taken
			// effect (a lost answer), and a failback's source is fenced:
			// undo what was journaled before ending, or the spare stays
			// reserved by a closed journal that no Recover reopens.
			if r.mustUndo() {
				if rerr := r.rollback(ctx); rerr != nil {
					return r.finish(ctx, res, OutcomeInterrupted, r.failed(append(errs, err, rerr)))
				}
			}
			if errors.Is(err, ErrNoSpare) && cand == 0 {
				res.Plan = plan
				return r.finish(ctx, res, OutcomeNoSpare, fmt.Errorf("failover: %s: %w", r.h.Server, err))
			}
			errs = append(errs, err)
			break
		}
		res.Plan = plan
		res.Attempts++
		blame, err := r.attempt(ctx, plan)
		if err == nil {
			blame, err = r.commit(ctx, plan)
			if err == nil {
				return r.finish(ctx, res, OutcomeDone, nil)
			}
		}
		if r.stopped() || ctx.Err() != nil {
			return interrupted()
		}
		errs = append(errs, err)
		o.emit(Event{Kind: EventRollback, Failover: r.id, Server: r.h.Server, Plan: &plan, Err: err})
		if rerr := r.rollback(ctx); rerr != nil {
			errs = append(errs, rerr)
			return r.finish(ctx, res, OutcomeInterrupted, r.failed(errs))
		}
		if errors.Is(err, errServerOn) {
			o.emit(Event{Kind: EventFencingFailed, Failover: r.id, Server: r.h.Server, Err: err})
			return r.finish(ctx, res, OutcomeFencingFailed, fmt.Errorf("failover: %s: %w", r.h.Server, err))
		}
		victims := map[search.ServerID]bool{}
		for _, v := range plan.Preemptions {
			victims[v.Victim] = true
		}
		for _, id := range blame {
			aside[id] = true
			if victims[id] {
				continue // a victim runs its own workload again: only avoid it
			}
			if err := r.setAside(ctx, id, err); err != nil && r.stopped() {
				return interrupted()
			}
		}
		if len(blame) == 0 {
			for _, id := range reservedSet(plan) {
				aside[id] = true // do not try the same plan again
			}
		}
	}
	return r.finish(ctx, res, OutcomeFailed, r.failed(errs))
}

// failed combines the errors of a failover's attempts into one, said
// once: "failover: srv01: 2 attempts failed: ...; ...".
func (r *run) failed(errs []error) error {
	errs = slices.DeleteFunc(slices.Clone(errs), func(e error) bool { return e == nil })
	switch len(errs) {
	case 0:
		return fmt.Errorf("failover: %s: no attempt left", r.h.Server)
	case 1:
		return fmt.Errorf("failover: %s: %w", r.h.Server, errs[0])
	}
	me := &multierror.Error{Errors: errs, ErrorFormat: func(es []error) string {
		parts := make([]string, len(es))
		for i, e := range es {
			parts[i] = e.Error()
		}
		return fmt.Sprintf("%d errors: %s", len(es), strings.Join(parts, "; "))
	}}
	return fmt.Errorf("failover: %s: %w", r.h.Server, me)
}

// mustUndo reports whether the run has journaled steps whose undo does
// something (everything but fencing a failed server, which stays off).
func (r *run) mustUndo() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.stack {
		if p.rec.Kind != kindFence || p.rec.Victim {
			return true
		}
	}
	return false
}

// setAside takes a spare that failed a step out of service
// (Maintenance), so that no failover reuses it until an operator marks it
// standby again.
func (r *run) setAside(ctx context.Context, id search.ServerID, cause error) error {
	ctx = context.WithoutCancel(ctx)
	err := r.o.update(ctx, r, []search.ServerID{id}, func(m map[search.ServerID]*Record) error {
		x := m[id]
		if x.State == search.Standby {
			x.State = search.Maintenance
			x.Note = fmt.Sprintf("set aside by failover %s: %v", r.id, cause)
		}
		return nil
	})
	if err == nil {
		r.o.emit(Event{Kind: EventSpareSetAside, Failover: r.id, Server: r.h.Server, Spare: id, Err: cause})
	}
	return err
}

// blamer collects the servers whose steps failed.
type blamer struct {
	r   *run
	ids []search.ServerID
}

func (b *blamer) on(id search.ServerID, err error) error {
	if err != nil && id != "" && !b.r.stopped() {
		b.r.mu.Lock()
		if !slices.Contains(b.ids, id) {
			b.ids = append(b.ids, id)
		}
		b.r.mu.Unlock()
	}
	return err
}

// attempt carries out a reserved plan up to (not including) the commit.
// It returns the servers to blame when it fails.
func (r *run) attempt(ctx context.Context, plan search.Plan) ([]search.ServerID, error) {
	b := &blamer{r: r}
	recs, err := r.records(ctx, plan)
	if err != nil {
		return nil, err
	}
	held := reservedSet(plan)
	// broken fails the attempt when a server it holds reported a fault.
	broken := func() error {
		if id, err := r.brokenIn(held); err != nil {
			return b.on(id, err)
		}
		return nil
	}
	// 1. Preemption: fence each victim, then relocate its workload or
	// park its disks. Victims are independent of each other.
	var pre []func() error
	for _, v := range plan.Preemptions {
		pre = append(pre, func() error {
			victim := recs[v.Victim]
			if err := b.on(v.Victim, r.fence(ctx, victim, true)); err != nil {
				return err
			}
			if v.RelocateTo == "" {
				return b.on(v.Victim, r.park(ctx, victim))
			}
			target := recs[v.RelocateTo]
			if err := r.move(ctx, b, victim, target); err != nil {
				return err
			}
			if err := r.verifyStorage(ctx, victim, target); err != nil {
				return err
			}
			if err := r.check(ctx, "fenced", string(victim.ID), "bmc", victim.ID, target.ID, func(ctx context.Context, a *AuditEntry) error {
				return r.ensureOff(ctx, a, victim)
			}); err != nil {
				return b.on(v.Victim, err)
			}
			return b.on(v.RelocateTo, r.boot(ctx, target))
		})
	}
	if err := parallel(pre...); err != nil {
		return b.ids, err
	}
	if err := broken(); err != nil {
		return b.ids, err
	}
	// 2. Compose the replacement when the plan says so.
	if plan.Compose {
		if err := r.compose(ctx, plan); err != nil {
			return plan.Replacement, err
		}
	}
	// 3. Move storage and fabric, per spare; spares are independent.
	bySpare := map[search.ServerID][]search.ServerID{}
	var spares []search.ServerID
	for _, a := range plan.Assignments {
		if _, ok := bySpare[a.Spare]; !ok {
			spares = append(spares, a.Spare)
		}
		bySpare[a.Spare] = append(bySpare[a.Spare], a.Failed)
	}
	var moves []func() error
	for _, s := range spares {
		moves = append(moves, func() error {
			for _, f := range bySpare[s] {
				if err := r.move(ctx, b, recs[f], recs[s]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := parallel(moves...); err != nil {
		return b.ids, err
	}
	// 4. Before anything boots from the disks: every spare sees what it
	// must and nobody else does; the servers whose disks moved are
	// still off (I1); no held server reported a fault.
	var checks []func() error
	for _, a := range plan.Assignments {
		checks = append(checks, func() error { return r.verifyStorage(ctx, recs[a.Failed], recs[a.Spare]) })
	}
	if err := parallel(checks...); err != nil {
		return b.ids, err
	}
	if err := r.check(ctx, "fenced", joinIDs(r.h.Members), "bmc", r.h.Server, "", func(ctx context.Context, a *AuditEntry) error {
		for _, as := range plan.Assignments {
			if err := r.ensureOff(ctx, a, recs[as.Failed]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return b.ids, err
	}
	if err := broken(); err != nil {
		return b.ids, err
	}
	// 5. Boot every server of the replacement.
	boots := slices.Clone(plan.Replacement)
	for _, s := range spares {
		if !slices.Contains(boots, s) {
			boots = append(boots, s)
		}
	}
	sort.Slice(boots, func(i, j int) bool { return boots[i] < boots[j] })
	var bs []func() error
	for _, s := range boots {
		bs = append(bs, func() error { return b.on(s, r.boot(ctx, recs[s])) })
	}
	if err := parallel(bs...); err != nil {
		return b.ids, err
	}
	if err := broken(); err != nil {
		return b.ids, err
	}
	// 6. A failback's source is a standby again: its ports go back to
	// the setting they had before it took the workload.
	if r.h.Kind == kindFailback {
		for _, a := range plan.Assignments {
			if err := r.restorePorts(ctx, recs[a.Failed]); err != nil {
				return nil, err
			}
		}
	}
	return nil, nil
}

// records reads the records a plan involves, by ID.
func (r *run) records(ctx context.Context, plan search.Plan) (map[search.ServerID]Record, error) {
	set := reservedSet(plan)
	for _, a := range plan.Assignments {
		set = append(set, a.Failed)
	}
	out := make(map[search.ServerID]Record, len(set))
	for _, id := range set {
		if _, ok := out[id]; ok {
			continue
		}
		x, err := r.rec(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", id, err)
		}
		out[id] = x
	}
	return out, nil
}

// move takes src's place on dst: storage, FC zoning and VLANs, in
// parallel (they are independent of each other).
func (r *run) move(ctx context.Context, b *blamer, src, dst Record) error {
	return parallel(
		func() error { return b.on(dst.ID, r.moveStorage(ctx, src, dst)) },
		func() error { return b.on(dst.ID, r.moveZones(ctx, src, dst)) },
		func() error { return b.on(dst.ID, r.moveVLANs(ctx, src, dst)) },
	)
}

func homeOf(x Record) search.ServerID {
	if x.Home != "" {
		return x.Home
	}
	return x.ID
}
