package failover

import (
	"context"
	"errors"
	"fmt"

	"github.com/coldstandby/coldstandby/search"
)

// Recover finishes or rolls back every failover a previous Orchestrator
// on the same Store left unfinished (I7): a failover whose commit was
// journaled is committed; any other is rolled back step by step from its
// journal, and then, when its failed server still needs a replacement,
// carried out again from the start in the same journal (fencing is
// idempotent), so that a crash at any point of Recover itself leaves the
// journal open with the fault in it: a fault once journaled is never lost
// (unless the fault-action table now says report only and the server was
// not touched yet: then it ends as reported). Faults kept for servers
// that failovers held (Record.PendingFaults) are handled once those end.
//
// Call it at start-up, before delivering faults, and after a failover was
// interrupted by its caller's ctx. A failover this Orchestrator is still
// running is not crashed and is left alone (its Result has only the ID);
// one whose servers another running failover of this instance holds is
// left for a later call, with an error wrapping ErrConflict. It returns
// the results of the failovers it completed or restarted, and the errors
// combined.
func (o *Orchestrator) Recover(ctx context.Context) ([]Result, error) {
	unfinished, err := o.store.Unfinished(ctx)
	if err != nil {
		return nil, fmt.Errorf("failover: recover: %w", err)
	}
	var results []Result
	var errs []error
	for _, id := range unfinished {
		res, err := o.recoverOne(ctx, id)
		results = append(results, res)
		if err != nil {
			errs = append(errs, err)
			if errors.Is(err, ErrNotLeader) || ctx.Err() != nil {
				return results, errors.Join(errs...)
			}
		}
	}
	// Faults kept while failovers held their servers.
	all, err := o.store.List(ctx)
	if err != nil {
		return results, errors.Join(append(errs, fmt.Errorf("failover: recover: %w", err))...)
	}
	var pending []search.ServerID
	for _, x := range all {
		if len(x.PendingFaults) > 0 && x.Reservation == "" {
			pending = append(pending, x.ID)
		}
	}
	for _, res := range o.drainPending(ctx, pending) {
		results = append(results, res)
		if res.Err != nil {
			errs = append(errs, res.Err)
		}
	}
	return results, errors.Join(errs...)
}

// recoverOne finishes failover id from its journal.
func (o *Orchestrator) recoverOne(ctx context.Context, id string) (Result, error) {
	r := &run{o: o, id: id, start: o.cfg.clock.Now()}
	if !o.adopt(r) {
		// This instance is running it (or another Recover call is
		// recovering it): it is not crashed, and rolling its journal
		// back while it acts would undo its moves under its feet.
		return Result{ID: id}, nil
	}
	j, err := o.store.Journal(ctx, id)
	if err != nil {
		o.disown(r)
		return Result{ID: id}, fmt.Errorf("failover: recover %s: %w", id, err)
	}
	if err := r.load(j); err != nil {
		o.disown(r)
		return Result{ID: id}, fmt.Errorf("failover: recover %s: %w", id, err)
	}
	h := r.h
	res := Result{ID: id, Server: h.Server, Fault: h.Fault, Action: h.action(o)}
	fl := &flight{}
	if !o.claim(h.Members, fl) {
		// Another failover of this instance is acting on these servers
		// (a fault delivered before Recover): rolling this journal back
		// now would move their disks under it. Leave it for a later
		// Recover.
		o.disown(r)
		err := fmt.Errorf("failover: recover %s: %v being handled by another failover; call Recover again when it ends: %w", id, h.Members, ErrConflict)
		return Result{ID: id, Server: h.Server, Fault: h.Fault, Outcome: OutcomeInterrupted, Err: err}, err
	}
	defer o.release(fl)
	res, err = o.resume(ctx, r, res)
	o.release(fl)
	o.drainPending(ctx, r.drainable(res))
	return res, err
}

// resume carries a loaded run to its end: a journaled commit is rolled
// forward; otherwise the run is rolled back and, when its failed server
// still needs a replacement, carried out again in the same journal.
func (o *Orchestrator) resume(ctx context.Context, r *run, res Result) (Result, error) {
	id, h := r.id, r.h
	for _, p := range r.stack {
		if p.rec.Kind == kindCommit {
			if err := o.applyCommit(ctx, r, id, p.rec.Records); err != nil {
				res = r.finish(ctx, res, OutcomeInterrupted, fmt.Errorf("failover: recover %s: commit: %w", id, err))
				return res, res.Err
			}
			if p.rec.Plan != nil {
				res.Plan = *p.rec.Plan
			}
			res = r.finish(ctx, res, OutcomeDone, nil)
			o.emit(Event{Kind: EventRecovered, Failover: id, Server: h.Server, Detail: "commit rolled forward"})
			return res, res.Err
		}
	}
	if err := r.rollback(ctx); err != nil {
		res = r.finish(ctx, res, OutcomeInterrupted, err)
		return res, err
	}
	o.emit(Event{Kind: EventRecovered, Failover: id, Server: h.Server, Detail: "rolled back"})
	if h.Kind != kindFailover {
		// A failback rolled back: the workload runs where it was.
		res = r.finish(ctx, res, OutcomeFailed, fmt.Errorf("failover %s: interrupted and rolled back by Recover", id))
		if res.Outcome == OutcomeInterrupted {
			return res, res.Err
		}
		return res, nil
	}
	// Start over when the failed server still needs a replacement, in
	// this journal: it holds the fault, so the fault is not lost because
	// the process died before the server's record said Failed (a crash
	// right after PhaseBegin), nor because a Recover crashed.
	rec, err := o.store.Get(ctx, h.Server)
	if err != nil {
		res = r.finish(ctx, res, OutcomeInterrupted, fmt.Errorf("failover: recover %s: %w", id, err))
		return res, res.Err
	}
	claimed := rec.Reservation == id
	switch {
	case !claimed && (rec.MovedTo != "" || (rec.State != search.Failed && rec.State != search.Active)):
		res = r.finish(ctx, res, OutcomeFailed, fmt.Errorf("failover %s: rolled back by Recover; %s no longer needs it (%s)", id, h.Server, rec.State))
		return res, nil
	case !claimed && rec.State == search.Active && o.rule(h.Fault.Type).Action == ActReport:
		// The fault-action table (changed since the fault was taken)
		// says report only, and nothing was done to the server yet: it
		// was never claimed, so never fenced. A server already claimed
		// may be fenced, so its failover is carried out whatever the
		// table says now: leaving it would lose the workload.
		res.Action = ActReport
		o.emit(Event{Kind: EventFaultReported, Failover: id, Server: h.Server, Detail: describe(h.Fault) + " (recovered; the fault-action table says report)"})
		res = r.finish(ctx, res, OutcomeReported, nil)
		return res, res.Err
	}
	all, err := o.store.List(ctx)
	if err == nil {
		err = o.checkRecords(all)
	}
	if err != nil {
		res = r.finish(ctx, res, OutcomeInterrupted, fmt.Errorf("failover: recover %s: %w", id, err))
		return res, res.Err
	}
	res.Action = ActNow
	r, res, ok := r.claimAndFence(ctx, res, nil)
	if !ok {
		return res, res.Err
	}
	res = o.execute(ctx, r, nil)
	return res, res.Err
}
