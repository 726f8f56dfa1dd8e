package failover

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/internal/opid"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// run is one failover in progress.
type run struct {
	o  *Orchestrator
	id string
	h  header

	mu    sync.Mutex
	wmu   sync.Mutex // held while the journal is written (flush, note)
	seq   int64      // the last Seq written
	buf   []Entry    // entries numbered but not written yet (note)
	stack []pending  // step intents not yet undone, in journal order
	audit []AuditEntry
	dead  atomic.Bool
	why   error // why dead
	start time.Time

	parked    map[search.ServerID][]ParkedVolume // volumes of stopped victims
	partition string                             // the composed logical server

	// broken are servers of this run's plans that another fault report
	// named (see deferFault): the attempt using them fails.
	broken map[search.ServerID]bmc.Fault
	// vols are, per source server and array, the volumes it saw when
	// this failover first read them (journaled as a "volumes" step): what
	// must be moved, whatever the array shows later.
	vols map[volKey][]storage.Mapping
	// moves are the storage and park steps journaled so far, undone or
	// not: where earlier attempts put the volumes.
	moves []stepRec
	// portPrev are, per server taking a workload, its NICs' settings
	// before this failover changed them (Record.SpareVLANs).
	portPrev map[search.ServerID][]fabric.PortVLAN
	// used are the servers this run's plans reserved.
	used map[search.ServerID]bool
	// released: servers an undone reservation gave back, at the
	// revision it wrote (see settleVolumes).
	released map[search.ServerID]int64
	// next is a plan already reserved for the next attempt (joint
	// planning), nil when the attempt plans for itself.
	next *search.Plan
	// recs is the run's view of the records it read or wrote (know).
	recs map[search.ServerID]Record
	// closed: the journal's end was written with the commit.
	closed bool
}

// volKey names the volumes of one server on one disk array.
type volKey struct {
	server search.ServerID
	array  string
}

// markBroken records that a fault was reported for server, which this
// run holds: the attempt using it fails and it is set aside.
func (r *run) markBroken(server search.ServerID, f bmc.Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken == nil {
		r.broken = map[search.ServerID]bmc.Fault{}
	}
	r.broken[server] = f
}

// errBroken marks an attempt that failed because one of its servers
// reported a fault.
var errBroken = errors.New("reported a fault while this failover held it")

// brokenIn returns an error naming the first of servers (by ID) that
// reported a fault, or nil.
func (r *run) brokenIn(servers []search.ServerID) (search.ServerID, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range slices.Sorted(slices.Values(servers)) {
		if f, ok := r.broken[id]; ok {
			return id, fmt.Errorf("%s %w (%s)", id, errBroken, describe(f))
		}
	}
	return "", nil
}

// reserved notes that plan's servers are reserved for this run: the next
// attempt carries it out without planning again (a joint plan), and the
// plan is announced.
func (r *run) reserved(plan search.Plan) {
	r.mu.Lock()
	r.next = &plan
	r.mu.Unlock()
	r.announce(plan)
}

// announce emits the events of a plan whose servers were just reserved.
func (r *run) announce(plan search.Plan) {
	o := r.o
	o.emit(Event{Kind: EventPlanChosen, Failover: r.id, Server: r.h.Server, Plan: &plan, Detail: plan.String()})
	for _, v := range plan.Preemptions {
		d := "stopped"
		if v.RelocateTo != "" {
			d = "relocated to " + string(v.RelocateTo)
		}
		o.emit(Event{Kind: EventPreemption, Failover: r.id, Server: v.Victim, Spare: v.RelocateTo, Detail: fmt.Sprintf("workload %q prio %d %s", v.Workload, v.Priority, d)})
	}
}

// drainable returns the servers where faults may have been kept while
// the run held them: touched, less those of a committed plan (the commit
// is a compare-and-set that fails when one of them keeps a fault).
func (r *run) drainable(res Result) []search.ServerID {
	out := r.touched()
	if res.Outcome != OutcomeDone {
		return out
	}
	done := reservedSet(res.Plan)
	return slices.DeleteFunc(out, func(id search.ServerID) bool {
		return slices.Contains(done, id) || slices.Contains(r.h.Members, id)
	})
}

// touched returns the servers this run claimed or reserved, sorted: where
// faults may have been kept while it ran (drainPending).
func (r *run) touched() []search.ServerID {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.h.Members)
	for id := range r.used {
		out = append(out, id)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// errStopped marks work abandoned because the run is dead (lost
// leadership or journal failure).
var errStopped = errors.New("failover: stopped acting")

func (r *run) stopped() bool { return r.dead.Load() }

func (r *run) kill(err error) {
	r.mu.Lock()
	if r.why == nil {
		r.why = err
	}
	r.mu.Unlock()
	r.dead.Store(true)
}

func (r *run) deadErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.why == nil {
		return errStopped
	}
	return r.why
}

// mayAct returns nil when the run may make a driver call: it is not dead
// and the store (a LeaderChecker) does not report this instance deposed,
// which kills the run as ErrNotLeader would.
func (r *run) mayAct() error {
	if r.stopped() {
		return r.deadErr()
	}
	if lc := r.o.leader; lc != nil && lc.Deposed() {
		r.kill(fmt.Errorf("failover: %s: the store reports this instance deposed: %w", r.id, ErrNotLeader))
		return r.deadErr()
	}
	return nil
}

// storeErr checks an error from the store: ErrNotLeader kills the run.
func (r *run) storeErr(err error) error {
	if err != nil && errors.Is(err, ErrNotLeader) {
		r.kill(err)
	}
	return err
}

func (r *run) addAudit(a AuditEntry) {
	r.mu.Lock()
	r.audit = append(r.audit, a)
	r.mu.Unlock()
}

// step runs one journaled step of kind k: intent (with rec, which the
// rollback undoes through k's undo), fn, then done or failed. Its driver
// is k's.
func (r *run) step(ctx context.Context, k stepKind, target string, rec *stepRec, server, spare search.ServerID, fn func(ctx context.Context, a *AuditEntry) error) error {
	spec, ok := kinds[k]
	if !ok {
		return fmt.Errorf("unknown step kind %q: %w", k, ErrInvalid)
	}
	rec.Kind = k
	return r.run(ctx, string(k), target, spec.driver, rec, server, spare, fn)
}

// check runs fn as an unjournaled step named name (a read, a check, a
// commit that journals itself): audited and reported, never undone.
func (r *run) check(ctx context.Context, name, target, driver string, server, spare search.ServerID, fn func(ctx context.Context, a *AuditEntry) error) error {
	return r.run(ctx, name, target, driver, nil, server, spare, fn)
}

// run is step and check: the intent when rec is set, fn with its audit
// entry and events, then done or failed when rec is set.
func (r *run) run(ctx context.Context, kind, target, driver string, rec *stepRec, server, spare search.ServerID, fn func(ctx context.Context, a *AuditEntry) error) error {
	if r.stopped() {
		return r.deadErr()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", kind, target, err)
	}
	ctx = opid.With(ctx, r.id)
	a := AuditEntry{Step: kind, Target: target, Driver: driver, Start: r.o.cfg.clock.Now()}
	if rec != nil {
		seq, err := r.journal(ctx, PhaseIntent, kind, target, rec, nil)
		if err != nil {
			return err
		}
		r.push(seq, *rec)
	}
	r.o.emit(Event{Kind: EventStepStarted, Failover: r.id, Server: server, Spare: spare, Step: kind, Target: target, Driver: driver})
	err := fn(ctx, &a)
	if err != nil && !errors.Is(err, errStopped) && !errors.Is(err, ErrNotLeader) {
		err = fmt.Errorf("%s %s: %w", kind, target, err)
	}
	a.Duration = r.o.cfg.clock.Now().Sub(a.Start)
	if err != nil {
		a.Err = err.Error()
	}
	r.addAudit(a)
	r.o.emit(Event{Kind: EventStepFinished, Failover: r.id, Server: server, Spare: spare, Step: kind, Target: target, Driver: driver, Attempts: a.Attempts, Duration: a.Duration, Err: err})
	if rec != nil && !r.stopped() {
		phase := PhaseDone
		if err != nil {
			phase = PhaseFailed
		}
		if _, jerr := r.journal(ctx, phase, kind, target, rec, err); jerr != nil && err == nil {
			err = jerr
		}
	}
	if err == nil && r.stopped() {
		err = r.deadErr()
	}
	return err
}

// begin opens a new failover's journal under a fresh ID (IDs of other
// Orchestrator instances on the same store are skipped).
func (o *Orchestrator) begin(ctx context.Context, h header) (*run, error) {
	var err error
	for i := 0; i < 64; i++ {
		r := &run{o: o, id: o.newID(h.Server), start: o.cfg.clock.Now(), h: h,
			stack: make([]pending, 0, 16), audit: make([]AuditEntry, 0, 24)} // a failover's usual size
		// Live before its journal is visible, so that a concurrent
		// Recover never takes it for a crashed one; finish releases it.
		o.adopt(r)
		_, err = r.journal(ctx, PhaseBegin, "begin", string(h.Server), h, nil)
		if err == nil {
			return r, nil
		}
		o.disown(r)
		if !errors.Is(err, ErrConflict) {
			return nil, err
		}
	}
	return nil, err
}

// finish ends the run with outcome and fills res. A run that must stop
// (lost leadership, a journal it cannot write, its caller's ctx ended)
// ends as OutcomeInterrupted: its journal stays open, its claims stay,
// and Recover finishes it. Any other outcome first releases the claim on
// the failed servers, then closes the journal (in that order: a crash in
// between leaves an open journal, which Recover finishes, never a claim
// that no journal will release).
func (r *run) finish(ctx context.Context, res Result, out Outcome, err error) Result {
	res.ID = r.id
	res.Outcome = out
	res.Err = err
	if out != OutcomeDone && out != OutcomeInterrupted {
		switch {
		case r.stopped():
			res.Outcome = OutcomeInterrupted
			if res.Err == nil {
				res.Err = r.deadErr()
			}
		case ctx.Err() != nil:
			res.Outcome = OutcomeInterrupted
			if res.Err == nil || !errors.Is(res.Err, ctx.Err()) {
				res.Err = fmt.Errorf("failover %s: stopped, Recover finishes it: %w", r.id, ctxErr(ctx))
			}
		}
	}
	if res.Outcome == OutcomeInterrupted && ctx.Err() != nil && !errors.Is(res.Err, ctx.Err()) {
		res.Err = fmt.Errorf("%w (%w)", res.Err, ctxErr(ctx))
	}
	if res.Outcome != OutcomeInterrupted && res.Outcome != OutcomeDone {
		// Every volume this failover read must be back with its owner
		// (a write that landed after the rollback checked may have moved
		// one again: I3); otherwise it stays open for Recover.
		if verr := r.settleVolumes(context.WithoutCancel(ctx), func(search.ServerID) bool { return true }); verr != nil {
			res.Outcome = OutcomeInterrupted
			res.Err = errors.Join(res.Err, verr)
		}
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if res.Outcome != OutcomeInterrupted && !closed {
		// Release the claim and close the journal: together with a
		// Batcher, else in that order.
		data := map[string]string{"outcome": string(res.Outcome)}
		if res.Err != nil {
			data["error"] = res.Err.Error()
		}
		end, eerr := r.entry(PhaseEnd, "end", string(res.Outcome), data, res.Err)
		release := func(m map[search.ServerID]*Record) error {
			n := 0
			for _, x := range m {
				if x.Reservation == r.id {
					x.Reservation = ""
					n++
				}
			}
			if n == 0 {
				return errNoChange
			}
			return nil
		}
		wctx := context.WithoutCancel(ctx)
		var cerr error
		switch {
		case eerr != nil:
			cerr = eerr
		case r.o.unbatchedStore():
			if cerr = r.modify(wctx, r.h.Members, nil, release); cerr == nil {
				_, _, cerr = r.flush(wctx, &end, nil)
			}
		default:
			cerr = r.modify(wctx, r.h.Members, &end, release)
		}
		if cerr != nil {
			res.Outcome = OutcomeInterrupted
			res.Err = errors.Join(res.Err, cerr)
		}
	}
	r.mu.Lock()
	res.Audit = slices.Clone(r.audit)
	r.mu.Unlock()
	sortAudit(res.Audit)
	r.o.disown(r) // it acts no more: a later Recover may take over its journal
	res.Duration = r.o.cfg.clock.Now().Sub(r.start)
	switch res.Outcome {
	case OutcomeDone:
		r.o.emit(Event{Kind: EventFailoverDone, Failover: r.id, Server: res.Server, Plan: &res.Plan, Duration: res.Duration})
	case OutcomeNoSpare:
		r.o.emit(Event{Kind: EventNoSpare, Failover: r.id, Server: res.Server, Err: res.Err})
	case OutcomeFailed, OutcomeInterrupted, OutcomeFencingFailed:
		r.o.emit(Event{Kind: EventFailoverFailed, Failover: r.id, Server: res.Server, Err: res.Err, Detail: string(res.Outcome)})
	}
	return res
}

// settleVolumes checks that every server whose volumes this failover
// read, and that owns them at its end (all of them for a failover that
// ends without a commit, those owns says for one that commits), has them
// all back (reconcile). A server an earlier attempt released is checked
// only while its record is as this failover left it.
func (r *run) settleVolumes(ctx context.Context, owns func(search.ServerID) bool) error {
	r.mu.Lock()
	keys := make([]volKey, 0, len(r.vols))
	for k := range r.vols {
		if owns(k.server) {
			keys = append(keys, k)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(keys, func(a, b volKey) int { return cmp.Or(cmp.Compare(a.server, b.server), cmp.Compare(a.array, b.array)) })
	for _, k := range keys {
		r.mu.Lock()
		want := r.vols[k]
		r.mu.Unlock()
		dm, skip, err := r.o.diskMapper(k.array)
		if err != nil || skip != "" || len(want) == 0 {
			continue
		}
		src, err := r.o.store.Get(ctx, k.server)
		if err != nil {
			return r.storeErr(err)
		}
		if src.DiskArray != k.array {
			continue
		}
		if !r.holds(src) {
			// Released by an earlier attempt: checked while nobody has
			// changed it since (a write of this failover that landed
			// late is found), not once another failover took it (its
			// volumes are that one's to move, park and check).
			r.mu.Lock()
			rev, ok := r.released[src.ID]
			r.mu.Unlock()
			if !ok || rev != src.Revision {
				continue
			}
		}
		err = r.check(ctx, "storage.check", k.array+": "+string(k.server), "storage", k.server, "", func(ctx context.Context, a *AuditEntry) error {
			return r.reconcile(ctx, a, dm, src, want, "")
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// sortAudit puts an audit trail in an order that does not depend on
// which of the parallel steps finished first: by start time, then by the
// step's place in the failover sequence, then target and driver.
func sortAudit(a []AuditEntry) {
	slices.SortStableFunc(a, func(x, y AuditEntry) int {
		return cmp.Or(x.Start.Compare(y.Start), cmp.Compare(stepRank(x.Step), stepRank(y.Step)),
			cmp.Compare(x.Step, y.Step), cmp.Compare(x.Target, y.Target),
			cmp.Compare(x.Driver, y.Driver), cmp.Compare(x.Attempts, y.Attempts), cmp.Compare(x.Err, y.Err))
	})
}

// stepOrder is the failover sequence, for sortAudit.
var stepOrder = []string{"fence", "keep-off", "reserve", "storage.read", "volumes", "storage.check", "storage", "park",
	"zone.read", "zone", "vlan.read", "vlan", "compose", "storage.verify", "fenced", "boot", "commit"}

func stepRank(step string) int {
	undo := 0
	if rest, ok := strings.CutPrefix(step, "undo:"); ok {
		step, undo = rest, len(stepOrder)+1
	}
	if i := slices.Index(stepOrder, step); i >= 0 {
		return undo + i
	}
	return undo + len(stepOrder)
}

func (r *run) skipped(step, target, why string, server, spare search.ServerID) {
	r.addAudit(AuditEntry{Step: step, Target: target, Err: "skipped: " + why, Start: r.o.cfg.clock.Now()})
	r.o.emit(Event{Kind: EventStepSkipped, Failover: r.id, Server: server, Spare: spare, Step: step, Target: target, Detail: why})
}

// ctxErr is ctx's error with its cause (a leader's context ends with
// ErrNotLeader as its cause): errors.Is finds both.
func ctxErr(ctx context.Context) error {
	err, cause := ctx.Err(), context.Cause(ctx)
	if cause == nil || cause == err {
		return err
	}
	return fmt.Errorf("%w: %w", cause, err)
}
