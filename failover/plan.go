package failover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

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
		err := r.step(ctx, kindReserve, joinIDs(set), &rec, r.h.Server, "", func(ctx context.Context, a *AuditEntry) error {
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

// planner serialises the planning and reservation of this instance's
// failovers. A failover that needs a plan joins the next planning round,
// and everything that waits for a round is planned together (search's
// FindAll, one reservation write): concurrent faults never race each
// other for the best spare, and a burst of faults (a rack that lost power)
// is planned in a few rounds. Rounds run one at a time; the first
// failover to find none running runs them until none waits.
type planner struct {
	mu      sync.Mutex
	queue   []*planReq
	running bool
}

// planReq is one request to the planner: runs to plan together (a
// HandleFaults call, or one failover), or one run's retry that avoids the
// servers in aside (planned on its own).
type planReq struct {
	runs  []*run
	aside map[search.ServerID]bool
	plans []search.Plan
	err   error
	done  chan struct{}
}

// planFor plans and reserves runs (see planner). It returns a plan per
// run: Kind 0 with a Reason when the run got none (the error then wraps
// ErrNoSpare for a lone run), or the error that stopped the round.
func (o *Orchestrator) planFor(ctx context.Context, runs []*run, aside map[search.ServerID]bool) ([]search.Plan, error) {
	if len(runs) == 0 {
		return nil, nil
	}
	req := &planReq{runs: runs, aside: aside, done: make(chan struct{})}
	o.pl.mu.Lock()
	o.pl.queue = append(o.pl.queue, req)
	if !o.pl.running {
		o.pl.running = true
		o.pl.mu.Unlock()
		o.runPlanner(context.WithoutCancel(ctx))
	} else {
		o.pl.mu.Unlock()
	}
	<-req.done
	return req.plans, req.err
}

// runPlanner runs planning rounds until no request waits.
func (o *Orchestrator) runPlanner(ctx context.Context) {
	for {
		if w := o.cfg.planWindow; w > 0 {
			_ = o.cfg.clock.Sleep(ctx, w) // let the rest of a burst arrive
		}
		o.pl.mu.Lock()
		batch := o.pl.queue
		o.pl.queue = nil
		if len(batch) == 0 {
			o.pl.running = false
			o.pl.mu.Unlock()
			return
		}
		o.pl.mu.Unlock()
		o.planRound(ctx, batch)
	}
}

// planRound plans the requests of one round: every first attempt
// together, then each retry on its own, in the order of its failover's ID.
func (o *Orchestrator) planRound(ctx context.Context, batch []*planReq) {
	var joint []*planReq
	var runs []*run
	var alone []*planReq
	for _, q := range batch {
		if q.aside != nil {
			alone = append(alone, q)
			continue
		}
		joint = append(joint, q)
		runs = append(runs, q.runs...)
	}
	plans, err := o.reserveJointly(ctx, runs, nil)
	k := 0
	for _, q := range joint {
		if err == nil {
			q.plans = plans[k : k+len(q.runs)]
		}
		q.err = err
		k += len(q.runs)
		close(q.done)
	}
	slices.SortFunc(alone, func(a, b *planReq) int { return strings.Compare(a.runs[0].id, b.runs[0].id) })
	for _, q := range alone {
		q.plans, q.err = o.reserveJointly(ctx, q.runs, q.aside)
		if q.err == nil && len(q.plans) == 1 && q.plans[0].Kind == 0 {
			q.err = fmt.Errorf("%s: %w", q.plans[0].Reason, ErrNoSpare)
		}
		close(q.done)
	}
}

// reserveJointly plans the failures of runs together (FindAll; a single
// run avoiding aside is planned with Find) and reserves every plan in one
// write, each run journaling its reservation intent in it (I7). When the
// write loses to another writer, the whole set is planned again. It
// returns the plans, index for index; unplaced ones have Kind 0 and a
// Reason, and stay unreserved. Runs that stopped meanwhile get no plan.
func (o *Orchestrator) reserveJointly(ctx context.Context, runs []*run, aside map[search.ServerID]bool) ([]search.Plan, error) {
	if len(runs) == 0 {
		return nil, nil
	}
	var lastErr error
	start := o.cfg.clock.Now()
	held := map[*run]search.Plan{} // reserved in an earlier try
	for try := 0; try < 16; try++ {
		live := runs[:0:0]
		for _, r := range runs {
			if _, ok := held[r]; !ok && !r.stopped() {
				live = append(live, r)
			}
		}
		if len(live) == 0 {
			return collect(runs, held), nil
		}
		all, err := o.store.List(ctx)
		if err != nil {
			return nil, err
		}
		inv, err := o.inventory(all, aside)
		if err != nil {
			return nil, err
		}
		failed := make([]search.ServerID, len(live))
		for k, r := range live {
			failed[k] = r.h.Server
		}
		var plans []search.Plan
		if aside != nil && len(live) == 1 {
			p, err := inv.Find(failed[0])
			switch {
			case errors.Is(err, ErrNoSpare):
				p = search.Plan{Reason: strings.TrimSuffix(searchErr("plan", err).Error(), ": no spare")}
			case err != nil:
				return nil, searchErr("plan", err)
			}
			plans = []search.Plan{p}
		} else {
			plans, err = inv.FindAll(failed...)
			if err != nil && !errors.Is(err, ErrNoSpare) {
				return nil, searchErr("joint plan", err)
			}
		}
		byID := make(map[search.ServerID]Record, len(all))
		for _, x := range all {
			byID[x.ID] = x
		}
		puts := make([][]Record, len(live))
		intents := make([]*Entry, len(live))
		steps := make([]*stepRec, len(live))
		owner := map[search.ServerID]string{}
		stale := false
		for k, r := range live {
			if plans[k].Kind == 0 {
				continue
			}
			st := &stepRec{Kind: kindReserve, Plan: &plans[k]}
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
				puts[k] = append(puts[k], x)
			}
			e, err := r.entry(PhaseIntent, "reserve", joinIDs(reservedSet(plans[k])), st, nil)
			if err != nil {
				return nil, err
			}
			intents[k], steps[k] = &e, st
		}
		if stale {
			lastErr = fmt.Errorf("a planned server was reserved meanwhile: %w", ErrConflict)
			continue
		}
		conflict := false
		for _, part := range o.parts(live, intents, puts) {
			err := o.reservePart(ctx, try, start, live, part, plans, intents, steps, puts, byID)
			switch {
			case err == nil:
				for _, k := range part {
					if plans[k].Kind != 0 {
						held[live[k]] = plans[k]
					}
				}
			case errors.Is(err, ErrConflict):
				conflict, lastErr = true, err
			default:
				return nil, err
			}
		}
		if !conflict {
			for k, r := range live {
				if plans[k].Kind == 0 {
					held[r] = plans[k]
				}
			}
			return collect(runs, held), nil
		}
	}
	return nil, fmt.Errorf("could not reserve a plan: %w", lastErr)
}

// collect returns the plan of each run (the zero Plan for one without).
func collect(runs []*run, held map[*run]search.Plan) []search.Plan {
	out := make([]search.Plan, len(runs))
	for i, r := range runs {
		out[i] = held[r]
	}
	return out
}

// parts splits the runs of a joint reservation into groups whose write
// fits the store (BatchLimiter): all of them together when it has no
// limit. A run without a plan writes nothing.
func (o *Orchestrator) parts(live []*run, intents []*Entry, puts [][]Record) [][]int {
	var out [][]int
	var cur []int
	if _, ok := o.store.(BatchLimiter); !ok {
		for k := range live {
			if intents[k] != nil {
				cur = append(cur, k)
			}
		}
		if len(cur) == 0 {
			return nil
		}
		return [][]int{cur}
	}
	var b Batch
	for k, r := range live {
		if intents[k] == nil {
			continue
		}
		r.mu.Lock()
		entries := append(slices.Clone(r.buf), *intents[k])
		r.mu.Unlock()
		nb := Batch{Appends: append(slices.Clip(b.Appends), Append{ID: r.id, Entries: entries}), Puts: append(slices.Clip(b.Puts), puts[k]...)}
		if len(cur) > 0 && !o.fits(nb) {
			out = append(out, cur)
			cur, nb = nil, Batch{Appends: []Append{{ID: r.id, Entries: entries}}, Puts: slices.Clone(puts[k])}
		}
		cur, b = append(cur, k), nb
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// reservePart writes the reservations of the runs live[k], k in part, in
// one write, and on success tells each run what it now holds.
func (o *Orchestrator) reservePart(ctx context.Context, try int, start time.Time, live []*run, part []int, plans []search.Plan, intents []*Entry, steps []*stepRec, puts [][]Record, byID map[search.ServerID]Record) error {
	runs := make([]*run, len(part))
	ints := make([]*Entry, len(part))
	var recs []Record
	for i, k := range part {
		runs[i], ints[i] = live[k], intents[k]
		recs = append(recs, puts[k]...)
	}
	seqs, stored, err := o.flushRuns(ctx, runs, ints, recs)
	written := seqs != nil && (err == nil || o.unbatchedStore())
	for i, k := range part {
		if steps[k] == nil || !written {
			continue
		}
		r := runs[i]
		r.push(seqs[i], *steps[k])
		phase := PhaseDone
		if err != nil {
			phase = PhaseFailed
		}
		r.note(phase, "reserve", joinIDs(reservedSet(plans[k])), steps[k], err)
	}
	if err != nil {
		return err
	}
	got := make(map[search.ServerID]Record, len(stored))
	for _, x := range stored {
		got[x.ID] = x
	}
	for i, k := range part {
		r := runs[i]
		// The run's view of what it now holds and what it fails over,
		// without reading them again.
		for _, id := range reservedSet(plans[k]) {
			r.know(got[id])
		}
		for _, a := range plans[k].Assignments {
			if x, ok := got[a.Failed]; ok {
				r.know(x)
			} else {
				r.know(byID[a.Failed])
			}
		}
		target := joinIDs(reservedSet(plans[k]))
		a := AuditEntry{Step: "reserve", Target: target, Driver: "store", Attempts: try + 1, Start: start, Duration: o.cfg.clock.Now().Sub(start)}
		r.addAudit(a)
		o.emit(Event{Kind: EventStepFinished, Failover: r.id, Server: r.h.Server, Step: a.Step, Target: target, Driver: a.Driver, Attempts: a.Attempts, Duration: a.Duration})
		r.reserved(plans[k])
	}
	return nil
}

// unbatchedStore reports whether the store writes entries and records
// separately (no Batcher).
func (o *Orchestrator) unbatchedStore() bool {
	_, ok := o.store.(Batcher)
	return !ok
}
