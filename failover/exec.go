package failover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/go-multierror"

	"github.com/coldstandby/coldstandby/search"
)

// inventory builds the search snapshot from records: a reserved record is
// search.Reserved, and aside lists servers to hide (Maintenance).
func (o *Orchestrator) inventory(all []Record, aside map[search.ServerID]bool) (*search.Inventory, error) {
	srv := make([]search.Server, len(all))
	for i, r := range all {
		s := r.Server
		if r.Reservation != "" {
			s.State = search.Reserved
		}
		if aside[s.ID] {
			s.State = search.Maintenance
		}
		srv[i] = s
	}
	inv, err := search.NewInventory(srv, o.cfg.searchOpts...)
	if err != nil {
		return nil, fmt.Errorf("failover: inventory: %w", err)
	}
	return inv, nil
}

// reservedSet lists every server a plan uses, sorted.
func reservedSet(p search.Plan) []search.ServerID {
	seen := map[search.ServerID]bool{}
	var out []search.ServerID
	add := func(id search.ServerID) {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, a := range p.Assignments {
		add(a.Spare)
	}
	for _, id := range p.Replacement {
		add(id)
	}
	for _, v := range p.Preemptions {
		add(v.Victim)
		add(v.RelocateTo)
	}
	slices.Sort(out)
	return out
}

// planAndReserve searches (unless fixed) and reserves the plan's servers
// in one compare-and-set (I4), re-planning when another failover won a
// race for a server.
func (r *run) planAndReserve(ctx context.Context, fixed *search.Plan, aside map[search.ServerID]bool) (search.Plan, error) {
	o := r.o
	// A failback's plan is the operator's: it is never replaced by a
	// search (which could move the workload to a server nobody named).
	mandatory := r.h.Plan != nil
	var lastErr error
	for try := 0; try < 16; try++ {
		if r.stopped() {
			return search.Plan{}, r.deadErr()
		}
		var all []Record
		var plan search.Plan
		if fixed != nil {
			// A given plan: read only the servers it uses.
			plan = *fixed
			if !mandatory {
				fixed = nil
			}
			for _, id := range reservedSet(plan) {
				x, err := o.store.Get(ctx, id)
				if err != nil {
					return plan, r.storeErr(fmt.Errorf("failover: %s: plan: %w", r.h.Server, err))
				}
				all = append(all, x)
			}
		} else {
			var err error
			if all, err = o.store.List(ctx); err != nil {
				return search.Plan{}, r.storeErr(fmt.Errorf("failover: %s: plan: %w", r.h.Server, err))
			}
			inv, err := o.inventory(all, aside)
			if err != nil {
				return search.Plan{}, err
			}
			plan, err = inv.Find(r.h.Server)
			if err != nil {
				return plan, fmt.Errorf("failover: %s: plan: %w", r.h.Server, err)
			}
		}
		byID := make(map[search.ServerID]Record, len(all))
		for _, x := range all {
			byID[x.ID] = x
		}
		set := reservedSet(plan)
		rec := stepRec{Plan: &plan}
		var recs []Record
		for _, id := range set {
			x, ok := byID[id]
			if !ok {
				return plan, fmt.Errorf("failover: %s: plan uses unknown server %s: %w", r.h.Server, id, ErrNotFound)
			}
			if x.Reservation != "" && x.Reservation != r.id {
				lastErr = fmt.Errorf("failover: %s: %s reserved by %s: %w", r.h.Server, id, x.Reservation, ErrConflict)
				recs = nil
				break
			}
			rec.Reserved = append(rec.Reserved, reservation{ID: id, Prev: x.State})
			x.Reservation = r.id
			if x.State == search.Standby {
				x.State = search.Reserved
			}
			recs = append(recs, x)
		}
		if recs == nil {
			if mandatory {
				return plan, lastErr
			}
			continue
		}
		err := r.step(ctx, "reserve", joinIDs(set), "store", &rec, r.h.Server, "", func(ctx context.Context, a *AuditEntry) error {
			a.Attempts++
			_, err := o.put(ctx, recs...)
			return r.storeErr(err)
		})
		if err == nil {
			o.emit(Event{Kind: EventPlanChosen, Failover: r.id, Server: r.h.Server, Plan: &plan, Detail: plan.String()})
			for _, v := range plan.Preemptions {
				d := "stopped"
				if v.RelocateTo != "" {
					d = "relocated to " + string(v.RelocateTo)
				}
				o.emit(Event{Kind: EventPreemption, Failover: r.id, Server: v.Victim, Spare: v.RelocateTo, Detail: fmt.Sprintf("workload %q prio %d %s", v.Workload, v.Priority, d)})
			}
			return plan, nil
		}
		if !errors.Is(err, ErrConflict) || r.stopped() {
			return plan, err
		}
		lastErr = err
	}
	return search.Plan{}, fmt.Errorf("failover: %s: could not reserve a plan: %w", r.h.Server, lastErr)
}

func joinIDs(xs []search.ServerID) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	return strings.Join(s, ",")
}

// execute runs the plan-reserve-act-commit loop over candidates and ends
// the failover. first, when set, is the plan to try first (joint planning
// or a failback's fixed plan).
func (o *Orchestrator) execute(ctx context.Context, r *run, first *search.Plan) Result {
	res := Result{ID: r.id, Server: r.h.Server, Fault: r.h.Fault, Action: o.rule(r.h.Fault.Type).Action}
	var errs *multierror.Error
	aside := map[search.ServerID]bool{}
	fixed := r.h.Plan
	if fixed == nil {
		fixed = first
	}
	for cand := 0; cand < o.cfg.candidates; cand++ {
		if r.h.Plan != nil && cand > 0 {
			break // a failback has exactly one plan
		}
		plan, err := r.planAndReserve(ctx, fixed, aside)
		fixed = nil
		if err != nil {
			if r.stopped() {
				return r.finish(ctx, res, OutcomeInterrupted, r.deadErr())
			}
			// A reservation whose write failed may still have taken
			// effect (a lost answer), and a failback's source is fenced:
			// undo what was journaled before ending, or the spare stays
			// reserved by a closed journal that no Recover reopens.
			if r.mustUndo() {
				if rerr := r.rollback(ctx); rerr != nil {
					errs = multierror.Append(errs, err, rerr)
					return r.finish(ctx, res, OutcomeInterrupted, errs.ErrorOrNil())
				}
			}
			switch {
			case errors.Is(err, ErrNoSpare) && cand == 0:
				res.Plan = plan
				return r.finish(ctx, res, OutcomeNoSpare, err)
			}
			errs = multierror.Append(errs, err)
			break
		}
		res.Plan = plan
		res.Attempts++
		blame, err := r.attempt(ctx, plan)
		if err == nil {
			err = r.commit(ctx, plan)
			if err == nil {
				return r.finish(ctx, res, OutcomeDone, nil)
			}
		}
		if r.stopped() {
			return r.finish(ctx, res, OutcomeInterrupted, r.deadErr())
		}
		errs = multierror.Append(errs, err)
		o.emit(Event{Kind: EventRollback, Failover: r.id, Server: r.h.Server, Plan: &plan, Err: err})
		if rerr := r.rollback(ctx); rerr != nil {
			errs = multierror.Append(errs, rerr)
			res.Outcome = OutcomeInterrupted
			return r.finish(ctx, res, OutcomeInterrupted, errs.ErrorOrNil())
		}
		if ctx.Err() != nil {
			errs = multierror.Append(errs, ctx.Err())
			break // the caller gave up: nobody's fault, nothing set aside
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
				return r.finish(ctx, res, OutcomeInterrupted, r.deadErr())
			}
		}
		if len(blame) == 0 {
			for _, id := range reservedSet(plan) {
				aside[id] = true // do not try the same plan again
			}
		}
		if ctx.Err() != nil {
			errs = multierror.Append(errs, ctx.Err())
			break
		}
	}
	return r.finish(ctx, res, OutcomeFailed, fmt.Errorf("failover: %s: %w", r.h.Server, errs.ErrorOrNil()))
}

// mustUndo reports whether the run has journaled steps whose undo does
// something (everything but fencing a failed server, which stays off).
func (r *run) mustUndo() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.stack {
		if p.rec.Kind != "fence" || p.rec.Victim {
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
	o := r.o
	b := &blamer{r: r}
	recs, err := r.records(ctx, plan)
	if err != nil {
		return nil, err
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
			return b.on(v.RelocateTo, r.boot(ctx, target))
		})
	}
	if err := parallel(pre...); err != nil {
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
	// 4. Boot every server of the replacement.
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
	_ = o
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
		x, err := r.o.store.Get(ctx, id)
		if err != nil {
			return nil, r.storeErr(fmt.Errorf("failover: %s: read %s: %w", r.h.Server, id, err))
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

// commit makes the plan the truth in the store: the spares run the
// workloads, the failed servers stay failed (a failback's source becomes
// standby), victims say where their work went; reservations are cleared.
func (r *run) commit(ctx context.Context, plan search.Plan) error {
	o := r.o
	var rec stepRec
	err := r.step(ctx, "commit", joinIDs(reservedSet(plan)), "store", nil, r.h.Server, "", func(ctx context.Context, a *AuditEntry) error {
		a.Attempts++
		recs, err := r.records(ctx, plan)
		if err != nil {
			return err
		}
		final, err := r.finalRecords(plan, recs)
		if err != nil {
			return err
		}
		rec = stepRec{Kind: "commit", Records: final, Plan: &plan}
		seq, err := r.journal(ctx, PhaseIntent, "commit", joinIDs(reservedSet(plan)), rec, nil)
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.stack = append(r.stack, pending{seq: seq, rec: rec})
		r.mu.Unlock()
		// From here the failover only goes forward, as Recover would
		// take it: the write may have been applied even when it reports
		// an error (a lost answer), and a rollback under a journaled
		// commit would leave records saying the spare runs the workload
		// while it is off without its disks (or, after a crash during
		// that rollback, Recover would roll the commit forward onto an
		// undone world). applyCommit is idempotent: retry it, whatever
		// the caller's ctx; if it still fails, stop and leave the
		// journal open for Recover.
		cctx := context.WithoutCancel(ctx)
		for i := 0; i < o.cfg.attempts; i++ {
			if err = o.applyCommit(cctx, r, r.id, final); err == nil || r.stopped() {
				break
			}
		}
		if err != nil {
			r.kill(fmt.Errorf("failover: %s: commit journaled but not written (Recover rolls it forward): %w", r.id, err))
		}
		return err
	})
	if err != nil {
		return err
	}
	_, err = r.journal(ctx, PhaseDone, "commit", joinIDs(reservedSet(plan)), nil, nil)
	return err
}

// applyCommit writes the final records of failover id, unless that was
// already done (no record holds its reservation any more).
func (o *Orchestrator) applyCommit(ctx context.Context, r *run, id string, final []Record) error {
	var idList []search.ServerID
	for _, x := range final {
		idList = append(idList, x.ID)
	}
	err := o.update(ctx, r, idList, func(m map[search.ServerID]*Record) error {
		held := false
		for _, x := range m {
			if x.Reservation == id {
				held = true
			}
		}
		if !held {
			return errAlreadyCommitted
		}
		for _, x := range final {
			rev := m[x.ID].Revision
			*m[x.ID] = x
			m[x.ID].Revision = rev
		}
		return nil
	})
	if errors.Is(err, errAlreadyCommitted) {
		return nil
	}
	return err
}

var errAlreadyCommitted = errors.New("already committed")
