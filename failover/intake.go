package failover

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/internal/opid"
	"github.com/coldstandby/coldstandby/search"
)

// HandleFaults handles several faults that arrived together (a chassis or
// a rack died). Faults whose action is ActNow are fenced concurrently,
// planned jointly with search's FindAll (no server given to two failures,
// the highest priorities served first) and reserved together in one
// compare-and-set: the joint plan is kept as planned, or, when another
// failover took one of its servers meanwhile, the whole set is planned
// again. A failure the joint plan leaves without a spare ends as
// OutcomeNoSpare with FindAll's explanation, the same on every run. The
// reserved plans are then carried out concurrently (a plan whose spare
// fails tries the next candidate on its own). The other faults go through
// HandleFault, concurrently too. Results are in the order of faults; the
// error combines theirs.
func (o *Orchestrator) HandleFaults(ctx context.Context, faults ...bmc.Fault) ([]Result, error) {
	results := make([]Result, len(faults))
	// Each jointly handled fault has one goroutine that prepares it,
	// waits for the joint plan and carries its part out: one goroutine
	// (and one stack grown once) per failover, not one per phase.
	var prepared, done, others sync.WaitGroup
	type joint struct {
		i, k int
		r    *run
		fl   *flight
	}
	var (
		mu      sync.Mutex
		joints  []*joint
		plans   []search.Plan
		planErr error
		planned = make(chan struct{})
	)
	for i, f := range faults {
		if o.rule(f.Type).Action != ActNow || f.Server == "" {
			others.Add(1)
			go func() {
				defer others.Done()
				results[i], _ = o.HandleFault(ctx, f)
			}()
			continue
		}
		// Claimed in the order of the faults (two faults for members of
		// one logical server: the first handles it, whatever the
		// scheduling), prepared concurrently.
		res := Result{Server: search.ServerID(f.Server), Fault: f, Action: ActNow}
		rec, err := o.store.Get(ctx, res.Server)
		var mem []Record
		if err == nil {
			mem, err = o.membersOf(ctx, rec)
		}
		if err != nil {
			res.Err = fmt.Errorf("failover: fault on %s: %w", f.Server, err)
			results[i] = res
			continue
		}
		fl := &flight{}
		if !o.claim(ids(mem), fl) {
			res.Outcome = OutcomeAbsorbed
			o.emit(Event{Kind: EventFaultAbsorbed, Server: res.Server, Detail: "already being handled"})
			results[i] = res
			continue
		}
		prepared.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			r, res, ok := o.prepare(ctx, res)
			results[i] = res
			if !ok {
				o.release(fl)
				prepared.Done()
				return
			}
			j := &joint{i: i, r: r, fl: fl}
			mu.Lock()
			joints = append(joints, j)
			mu.Unlock()
			prepared.Done()
			<-planned
			defer o.release(fl)
			switch {
			case planErr != nil:
				results[i] = r.finish(ctx, res, OutcomeFailed, fmt.Errorf("failover: %s: joint plan: %w", r.h.Server, planErr))
			case plans[j.k].Kind == 0:
				res.Plan = plans[j.k]
				results[i] = r.finish(ctx, res, OutcomeNoSpare, fmt.Errorf("failover: %s: %s: %w", r.h.Server, plans[j.k].Reason, ErrNoSpare))
			default:
				results[i] = o.execute(ctx, r, &plans[j.k])
			}
		}()
	}
	prepared.Wait() // every jointly handled server is fenced (or done with)
	// Plan in the order of the faults, not of the goroutines.
	slices.SortFunc(joints, func(a, b *joint) int { return a.i - b.i })
	runs := make([]*run, len(joints))
	for k, j := range joints {
		runs[k] = j.r
		j.k = k
	}
	plans, planErr = o.planFor(ctx, runs, nil)
	close(planned)
	done.Wait()
	others.Wait()
	var touched []search.ServerID
	for _, j := range joints {
		touched = append(touched, j.r.drainable(results[j.i])...)
	}
	slices.Sort(touched)
	o.drainPending(ctx, slices.Compact(touched))
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return results, errors.Join(errs...)
}

// unfinishedOf returns the ID of an unfinished failover, not run by this
// instance, whose failed servers include server ("" when there is none).
// The failovers this instance runs are skipped: they hold their servers'
// claims, which the callers take or check.
func (o *Orchestrator) unfinishedOf(ctx context.Context, server search.ServerID) (string, error) {
	ids, err := o.store.Unfinished(ctx)
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		if o.liveRun(id) != nil {
			continue
		}
		j, err := o.store.Journal(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // closed and removed meanwhile
		}
		if err != nil {
			return "", err
		}
		if len(j) == 0 {
			continue
		}
		var h header
		if err := json.Unmarshal(j[0].Data, &h); err != nil {
			return id, nil // unreadable: assume it may touch the server
		}
		if h.Server == server || slices.Contains(h.Members, server) {
			return id, nil
		}
	}
	return "", nil
}

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
	all, err := o.list(ctx)
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
	if err := o.checkSite(all); err != nil {
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
	// disks: its journal holds the fault; Recover carries it out. (With a
	// Batcher a journal is never opened without its claim, which the
	// check of rec above sees.)
	for _, m := range o.unbatched(mem) {
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
	return o.newRun(h).claimAndFence(ctx, res, mem)
}

// newRun makes the run of a new failover under a fresh ID, live in this
// instance (so that a concurrent Recover never takes it for a crashed
// one) but not journaled yet: claimAndFence opens its journal.
func (o *Orchestrator) newRun(h header) *run {
	for {
		r := &run{o: o, id: o.newID(h.Server), start: o.cfg.clock.Now(), h: h,
			stack: make([]pending, 0, 16), audit: make([]AuditEntry, 0, 24)} // a failover's usual size
		if o.adopt(r) {
			return r
		}
	}
}

// opened reports whether the run's journal has been written.
func (r *run) opened() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq > 0
}

// claimAndFence claims the failed logical server for this failover and
// fences it. The claim (each member's record marked Failed and reserved
// by this failover) is a compare-and-set, written together with the
// journal's first entry when the run is new (one write with a Batcher),
// so that a second instance on the same store absorbs the fault instead
// of failing the server over again, and a crash never leaves a journal
// without its claim (nor a claim without its journal, given a Batcher).
// mem are the members' records as read (nil: read them). Recover calls it
// again on a failover it restarts: its own claim is accepted, fencing is
// idempotent.
func (r *run) claimAndFence(ctx context.Context, res Result, mem []Record) (*run, Result, bool) {
	o := r.o
	ctx = opid.With(ctx, r.id)
	for try := 0; ; try++ {
		if mem == nil {
			for _, id := range r.h.Members {
				x, err := o.store.Get(ctx, id)
				if err != nil {
					return nil, r.ended(ctx, res, OutcomeInterrupted, r.storeErr(fmt.Errorf("failover: %s: %w", res.Server, err))), false
				}
				mem = append(mem, x)
			}
		}
		other, holderFails := "", false
		var done Outcome
		var why string
		for _, x := range mem {
			if x.Reservation != "" && x.Reservation != r.id {
				other, holderFails = x.Reservation, x.State == search.Failed
			}
			// Replaced (or taken out of service) since the fault was
			// read: another instance sharing the store got there first.
			if x.ID == r.h.Server && x.Reservation != r.id {
				done, why = eligible(x)
			}
		}
		switch {
		case other != "" && holderFails:
			o.emit(Event{Kind: EventFaultAbsorbed, Failover: r.id, Server: res.Server, Detail: "being failed over by " + other})
			return nil, r.ended(ctx, res, OutcomeAbsorbed, nil), false
		case other != "":
			// A member was taken by another failover since it was read:
			// that failover gets the fault.
			for _, id := range r.h.Members {
				if _, _, err := o.deferFault(ctx, id, res.Fault); err != nil {
					return nil, r.ended(ctx, res, OutcomeInterrupted, err), false
				}
			}
			o.emit(Event{Kind: EventFaultDeferred, Failover: r.id, Server: res.Server, Detail: "held by failover " + other})
			return nil, r.ended(ctx, res, OutcomeDeferred, nil), false
		case done != "":
			kind := EventFaultReported
			if done == OutcomeAbsorbed {
				kind = EventFaultAbsorbed
			}
			o.emit(Event{Kind: kind, Failover: r.id, Server: res.Server, Detail: why})
			return nil, r.ended(ctx, res, done, nil), false
		}
		puts := make([]Record, len(mem))
		for i, x := range mem {
			x = x.clone()
			if x.State == search.Active {
				x.State = search.Failed
				x.Note = "fault " + describe(r.h.Fault)
			}
			x.Reservation = r.id
			puts[i] = x
		}
		var begin *Entry
		if !r.opened() {
			e, err := r.entry(PhaseBegin, "begin", string(r.h.Server), r.h, nil)
			if err != nil {
				return nil, r.ended(ctx, res, OutcomeInterrupted, err), false
			}
			begin = &e
		}
		_, stored, err := r.flush(ctx, begin, puts)
		if err == nil {
			r.know(stored...)
			if begin != nil {
				taken(ctx) // durable: the journal holds the fault, the record the claim
				o.emit(Event{Kind: EventFailoverStarted, Failover: r.id, Server: res.Server, Detail: describe(res.Fault)})
			}
			break
		}
		if !errors.Is(err, ErrConflict) || r.stopped() || try >= 16 {
			return nil, r.ended(ctx, res, OutcomeInterrupted, err), false
		}
		mem = nil // changed under us: read again
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
		return nil, r.finish(ctx, res, OutcomeFencingFailed, fmt.Errorf("failover: %s: %w: %w", res.Server, ErrFencingFailed, err)), false
	}
	return r, res, true
}

// ended ends a run that may not have opened its journal: finish when it
// did, otherwise only the result (nothing was written).
func (r *run) ended(ctx context.Context, res Result, out Outcome, err error) Result {
	if r.opened() {
		return r.finish(ctx, res, out, err)
	}
	r.o.disown(r)
	res.ID, res.Outcome, res.Err = "", out, err
	if out == OutcomeInterrupted && err == nil {
		res.Err = r.deadErr()
	}
	return res
}

// fenceFailed fences failed member id, and makes it stay off when mains
// power returns where its BMC can (bmc.PowerRestorer): its policy is
// first kept in its record (for MarkStandby to give back), then set to
// always-off. A BMC that cannot set it does not stop the failover: the
// server is re-confirmed off before its disks move and before the spare
// boots.
func (r *run) fenceFailed(ctx context.Context, id search.ServerID) error {
	x, err := r.rec(ctx, id)
	if err != nil {
		return err
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
	return r.check(ctx, "keep-off", string(x.ID), "bmc", x.ID, "", func(ctx context.Context, a *AuditEntry) error {
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
		if err := r.modify(ctx, []search.ServerID{x.ID}, nil, func(m map[search.ServerID]*Record) error {
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

// Recovered tells the Orchestrator that server is healthy again: a
// failover waiting for a delayed fault action is cancelled. It reports
// whether one was waiting. A failover already under way is not stopped,
// nor one whose wait a fault that acts now has ended.
func (o *Orchestrator) Recovered(server search.ServerID) bool {
	o.mu.Lock()
	var cancel context.CancelFunc
	if fl := o.inflight[server]; fl != nil && fl.now == nil {
		cancel = fl.cancel
	}
	o.mu.Unlock()
	if cancel == nil {
		return false
	}
	cancel()
	return true
}

// actNow ends the delayed wait of the flight that holds server, if any,
// so that it acts on f at once. It reports whether one was waiting.
func (o *Orchestrator) actNow(server search.ServerID, f bmc.Fault) bool {
	o.mu.Lock()
	fl := o.inflight[server]
	if fl == nil || fl.cancel == nil || fl.now != nil {
		o.mu.Unlock()
		return false
	}
	fl.now = &f
	cancel := fl.cancel
	o.mu.Unlock()
	cancel()
	return true
}

// HandleFault is the fault entry point: it applies the fault-action table
// and, when the table says so, fails the server over and returns when the
// failover has ended.
//
// Before it changes anything it checks the whole site (see Check): a bad
// record anywhere, or a record whose driver is missing, refuses the fault
// (OutcomeRefused, an error wrapping ErrInvalid) with the server
// untouched.
//
// A fault is never dropped: a repeated fault for a server already being
// failed over (by this instance or, through the record's claim, another
// one) is absorbed; a fault whose rule says act now ends the wait of a
// delayed one for the same server, which then acts on it; a fault for a
// server another failover holds as its spare, victim or relocation
// target is kept in the server's record (OutcomeDeferred): that failover
// treats the server as broken, and when it ends the fault is handled. A
// fault for a server named by an unfinished failover that this instance
// is not running (a crash, a deposed leader) starts nothing: it ends as
// OutcomeInterrupted with an error wrapping ErrConflict, since that
// failover's journal already holds a fault and Recover carries it out.
//
// When ctx ends during the failover, it stops at its next step and stays
// open in the journal (OutcomeInterrupted, the error wrapping ctx's):
// Recover finishes it.
//
// The error is nil for reported, absorbed, deferred and cancelled faults
// and for a completed failover; otherwise it wraps ErrFencingFailed,
// ErrNoSpare, ErrInvalid, ErrNotLeader, ErrConflict, a ctx error or the
// failed steps' errors, and Result.Err holds the same error.
func (o *Orchestrator) HandleFault(ctx context.Context, f bmc.Fault) (Result, error) {
	res := Result{Server: search.ServerID(f.Server), Fault: f}
	if f.Server == "" {
		res.Err = fmt.Errorf("failover: fault without a server: %w", ErrInvalid)
		return res, res.Err
	}
	r := o.rule(f.Type)
	res.Action = r.Action
	if r.Action == ActReport {
		res.Outcome = OutcomeReported
		o.emit(Event{Kind: EventFaultReported, Server: res.Server, Detail: describe(f)})
		return res, nil
	}
	rec, err := o.store.Get(ctx, res.Server)
	if err != nil {
		res.Err = fmt.Errorf("failover: fault on %s: %w", f.Server, err)
		return res, res.Err
	}
	if rec.Reservation != "" {
		res = o.held(ctx, res, rec)
		return res, res.Err
	}
	mem, err := o.membersOf(ctx, rec)
	if err != nil {
		res.Err = fmt.Errorf("failover: fault on %s: %w", f.Server, err)
		return res, res.Err
	}
	fl := &flight{}
	if !o.claim(ids(mem), fl) {
		res.Outcome = OutcomeAbsorbed
		detail := "already being handled"
		if r.Action == ActNow && o.actNow(res.Server, f) {
			detail = "ends the wait of a delayed fault, which acts on it now"
		}
		o.emit(Event{Kind: EventFaultAbsorbed, Server: res.Server, Detail: detail})
		return res, nil
	}
	defer o.release(fl)

	if r.Action == ActAfterDelay {
		dctx, cancel := context.WithCancel(ctx)
		o.mu.Lock()
		fl.cancel = cancel
		o.mu.Unlock()
		err := o.cfg.clock.Sleep(dctx, r.Delay)
		cancel()
		o.mu.Lock()
		fl.cancel = nil
		now := fl.now
		o.mu.Unlock()
		switch {
		case now != nil:
			res.Fault, res.Action = *now, ActNow
		case err != nil && ctx.Err() != nil:
			res.Err = fmt.Errorf("failover: fault on %s: waiting %v: %w", f.Server, r.Delay, ctx.Err())
			return res, res.Err
		case err != nil:
			res.Outcome = OutcomeCancelled
			o.emit(Event{Kind: EventFaultCancelled, Server: res.Server, Detail: "recovered during the delay"})
			return res, nil
		case o.cfg.recovery != nil:
			if ok, err := o.cfg.recovery(ctx, rec, f); err == nil && ok {
				res.Outcome = OutcomeCancelled
				o.emit(Event{Kind: EventFaultCancelled, Server: res.Server, Detail: "recovery check passed"})
				return res, nil
			}
		}
	}
	fo, res, ok := o.prepare(ctx, res)
	if !ok {
		return res, res.Err
	}
	res = o.execute(ctx, fo, nil)
	o.release(fl)
	o.drainPending(ctx, fo.drainable(res))
	return res, res.Err
}

// held handles a fault for a server whose record another failover holds
// (rec.Reservation). A failed server claimed by its own failover absorbs
// it; any other holder gets it as a pending fault.
func (o *Orchestrator) held(ctx context.Context, res Result, rec Record) Result {
	holder, absorbed, err := o.deferFault(ctx, rec.ID, res.Fault)
	switch {
	case err != nil:
		res.Err = fmt.Errorf("failover: fault on %s: %w", rec.ID, err)
	case absorbed:
		res.Outcome = OutcomeAbsorbed
		o.emit(Event{Kind: EventFaultAbsorbed, Failover: holder, Server: res.Server, Detail: "being failed over by " + holder})
	case holder == "":
		// The holder ended meanwhile: handle the fault now.
		res, _ = o.HandleFault(ctx, res.Fault)
	default:
		res.Outcome = OutcomeDeferred
		o.emit(Event{Kind: EventFaultDeferred, Failover: holder, Server: res.Server, Detail: describe(res.Fault) + "; kept until failover " + holder + " ends"})
	}
	return res
}

// describe formats a fault as "type: detail", or the type alone.
func describe(f bmc.Fault) string {
	if f.Detail == "" {
		return string(f.Type)
	}
	return string(f.Type) + ": " + f.Detail
}

// unbatched returns mem when the store is not a Batcher (its journals
// may have been opened without their claims), nil otherwise.
func (o *Orchestrator) unbatched(mem []Record) []Record {
	if _, ok := o.store.(Batcher); ok {
		return nil
	}
	return mem
}
