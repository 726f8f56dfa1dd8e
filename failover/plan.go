package failover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/coldstandby/coldstandby/search"
)

// inventory builds the search snapshot from records: a reserved record is
// search.Reserved, and aside lists servers to hide (Maintenance).
func (o *Orchestrator) inventory(all []Record, aside map[search.ServerID]bool) (*search.Inventory, error) {
	srv := make([]search.Server, len(all))
	for i, r := range all {
		s := r.Server
		if r.Reservation != "" && r.State != search.Failed {
			s.State = search.Reserved // a failed server's claim is its own failover's
		}
		if aside[s.ID] {
			s.State = search.Maintenance
		}
		srv[i] = s
	}
	inv, err := search.NewInventory(srv, o.cfg.searchOpts...)
	if err != nil {
		return nil, searchErr("inventory", err)
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
					return plan, r.storeErr(fmt.Errorf("plan: %w", err))
				}
				all = append(all, x)
			}
		} else {
			var err error
			if all, err = o.store.List(ctx); err != nil {
				return search.Plan{}, r.storeErr(fmt.Errorf("plan: %w", err))
			}
			inv, err := o.inventory(all, aside)
			if err != nil {
				return search.Plan{}, err
			}
			plan, err = inv.Find(r.h.Server)
			if err != nil {
				return plan, searchErr("plan", err)
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
				return plan, fmt.Errorf("plan uses unknown server %s: %w", id, ErrNotFound)
			}
			if x.Reservation != "" && x.Reservation != r.id {
				lastErr = fmt.Errorf("%s is reserved by %s: %w", id, x.Reservation, ErrConflict)
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
			r.announce(plan)
			return plan, nil
		}
		if !errors.Is(err, ErrConflict) || r.stopped() {
			return plan, err
		}
		lastErr = err
	}
	return search.Plan{}, fmt.Errorf("could not reserve a plan: %w", lastErr)
}

func joinIDs(xs []search.ServerID) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	return strings.Join(s, ",")
}

// reserveJointly plans the failures of runs together (FindAll) and
// reserves every plan in one compare-and-set, each run journaling its
// reservation first (I7). When the write loses to another writer, the
// whole set is planned again. It returns the plans, index for index;
// unplaced ones have Kind 0 and a Reason, and stay unreserved.
func (o *Orchestrator) reserveJointly(ctx context.Context, runs []*run) ([]search.Plan, error) {
	if len(runs) == 0 {
		return nil, nil
	}
	failed := make([]search.ServerID, len(runs))
	for k, r := range runs {
		failed[k] = r.h.Server
	}
	var lastErr error
	for try := 0; try < 16; try++ {
		all, err := o.store.List(ctx)
		if err != nil {
			return nil, err
		}
		inv, err := o.inventory(all, nil)
		if err != nil {
			return nil, err
		}
		plans, err := inv.FindAll(failed...)
		if err != nil && !errors.Is(err, ErrNoSpare) {
			return nil, searchErr("joint plan", err)
		}
		byID := make(map[search.ServerID]Record, len(all))
		for _, x := range all {
			byID[x.ID] = x
		}
		var recs []Record
		steps := make([]*stepRec, len(runs))
		owner := map[search.ServerID]string{}
		stale := false
		for k, r := range runs {
			if plans[k].Kind == 0 {
				continue
			}
			st := &stepRec{Kind: "reserve", Plan: &plans[k]}
			for _, id := range reservedSet(plans[k]) {
				x, ok := byID[id]
				if !ok {
					return nil, fmt.Errorf("plan uses unknown server %s: %w", id, ErrNotFound)
				}
				if prev, dup := owner[id]; dup {
					return nil, fmt.Errorf("joint plan gives %s to %s and %s: %w", id, prev, r.id, ErrConflict)
				}
				owner[id] = r.id
				if x.Reservation != "" && x.Reservation != r.id {
					stale = true
				}
				st.Reserved = append(st.Reserved, reservation{ID: id, Prev: x.State})
				x.Reservation = r.id
				if x.State == search.Standby {
					x.State = search.Reserved
				}
				recs = append(recs, x)
			}
			steps[k] = st
		}
		if stale {
			lastErr = fmt.Errorf("a planned server was reserved meanwhile: %w", ErrConflict)
			continue
		}
		if len(recs) == 0 {
			return plans, nil
		}
		// Journal every run's intent, then write all reservations at once.
		seqs := make([]int64, len(runs))
		for k, r := range runs {
			if steps[k] == nil {
				continue
			}
			seq, err := r.journal(ctx, PhaseIntent, "reserve", joinIDs(reservedSet(plans[k])), steps[k], nil)
			if err != nil {
				return nil, err
			}
			seqs[k] = seq
			r.push(seq, *steps[k])
		}
		_, err = o.put(ctx, recs...)
		for k, r := range runs {
			if steps[k] == nil {
				continue
			}
			phase := PhaseDone
			if err != nil {
				phase = PhaseFailed
				if errors.Is(err, ErrNotLeader) {
					r.kill(err)
				}
			}
			if r.stopped() {
				continue
			}
			if _, jerr := r.journal(ctx, phase, "reserve", joinIDs(reservedSet(plans[k])), steps[k], err); jerr != nil && err == nil {
				err = jerr
			}
		}
		if err == nil {
			for k, r := range runs {
				if plans[k].Kind != 0 {
					r.reserved(plans[k])
				}
			}
			return plans, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, err
		}
		lastErr = err
	}
	return nil, fmt.Errorf("could not reserve the joint plan: %w", lastErr)
}
