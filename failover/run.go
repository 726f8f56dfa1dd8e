package failover

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/internal/opid"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// Kinds of failover, in the journal header.
const (
	kindFailover = "failover"
	kindFailback = "failback"
)

// header is the Data of a journal's PhaseBegin entry.
type header struct {
	Kind    string            `json:"kind"`
	Server  search.ServerID   `json:"server"`
	Members []search.ServerID `json:"members"`
	Fault   bmc.Fault         `json:"fault"`
	// Plan is fixed for a failback (no search).
	Plan *search.Plan `json:"plan,omitempty"`
}

// stepRec is the Data of a step's journal entries: everything needed to
// undo the step after a crash, from the journal alone.
type stepRec struct {
	Kind string `json:"kind"`
	// Of is, for undo entries, the Seq of the intent being undone.
	Of int64 `json:"of,omitempty"`

	Server search.ServerID `json:"server,omitempty"` // fenced, booted, or the source of a move
	Spare  search.ServerID `json:"spare,omitempty"`  // the destination of a move
	Victim bool            `json:"victim,omitempty"` // fence of a preemption victim
	WasOn  bool            `json:"was_on,omitempty"`

	Array  string              `json:"array,omitempty"`
	From   []storage.Initiator `json:"from,omitempty"`
	To     []storage.Initiator `json:"to,omitempty"`
	Swap   bool                `json:"swap,omitempty"`
	Maps   []storage.Mapping   `json:"maps,omitempty"`
	Volume storage.VolumeID    `json:"volume,omitempty"`
	LUN    int                 `json:"lun,omitempty"`
	Park   bool                `json:"park,omitempty"`

	Fabric      string            `json:"fabric,omitempty"`
	FailedWWPN  storage.Initiator `json:"failed_wwpn,omitzero"`
	SpareWWPN   storage.Initiator `json:"spare_wwpn,omitzero"`
	FailedZones []string          `json:"failed_zones,omitempty"`
	SpareZones  []string          `json:"spare_zones,omitempty"`

	Switch string           `json:"switch,omitempty"`
	Port   string           `json:"port,omitempty"`
	Set    *fabric.PortVLAN `json:"set,omitempty"`
	Prev   *fabric.PortVLAN `json:"prev,omitempty"`

	Partition string   `json:"partition,omitempty"`
	Members   []string `json:"members,omitempty"`

	Reserved []reservation `json:"reserved,omitempty"`
	Records  []Record      `json:"records,omitempty"`
	Plan     *search.Plan  `json:"plan,omitempty"`
}

type reservation struct {
	ID   search.ServerID `json:"id"`
	Prev search.State    `json:"prev"`
}

type pending struct {
	seq int64
	rec stepRec
}

// run is one failover in progress.
type run struct {
	o  *Orchestrator
	id string
	h  header

	mu    sync.Mutex
	seq   int64
	stack []pending // step intents not yet undone, in journal order
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
	// next is a plan already reserved for the next attempt (joint
	// planning), nil when the attempt plans for itself.
	next *search.Plan
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

// push adds a journaled intent to the rollback stack and remembers what
// it tells later attempts.
func (r *run) push(seq int64, rec stepRec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stack = append(r.stack, pending{seq: seq, rec: rec})
	r.remember(rec)
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

// journal appends an entry. A journal that cannot be written means the
// Orchestrator must stop acting: the run dies.
func (r *run) journal(ctx context.Context, phase Phase, step, target string, data any, stepErr error) (int64, error) {
	if r.stopped() {
		return 0, r.deadErr()
	}
	var raw json.RawMessage
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return 0, fmt.Errorf("failover: %s: journal %s: %w", r.id, step, err)
		}
		raw = b
	}
	e := Entry{Time: r.o.cfg.clock.Now(), Phase: phase, Step: step, Target: target, Data: raw}
	if stepErr != nil {
		e.Error = stepErr.Error()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e.Seq = r.seq + 1
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.cfg.timeouts.Step)
	defer cancel()
	var err error
	for i := 0; i < r.o.cfg.attempts; i++ {
		err = r.o.store.Append(wctx, r.id, e)
		if errors.Is(err, ErrOutcomeUnknown) {
			// The answer was lost: read the journal back before acting
			// again. Never assume the append failed.
			var again bool
			if again, err = r.o.appended(wctx, r.id, e, err); again {
				continue
			}
		}
		if err == nil || !errors.Is(err, ErrTransient) {
			break
		}
	}
	if err != nil {
		if r.why == nil {
			r.why = fmt.Errorf("failover: %s: journal: %w", r.id, err)
		}
		r.dead.Store(true)
		return 0, r.why
	}
	r.seq = e.Seq
	return e.Seq, nil
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

// step runs one journaled step: intent (with rec, which the rollback
// undoes), fn, then done or failed. A nil rec runs fn unjournaled (reads).
func (r *run) step(ctx context.Context, kind, target, driver string, rec *stepRec, server, spare search.ServerID, fn func(ctx context.Context, a *AuditEntry) error) error {
	if r.stopped() {
		return r.deadErr()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", kind, target, err)
	}
	ctx = opid.With(ctx, r.id)
	a := AuditEntry{Step: kind, Target: target, Driver: driver, Start: r.o.cfg.clock.Now()}
	if rec != nil {
		rec.Kind = kind
		seq, err := r.journal(ctx, PhaseIntent, kind, target, rec, nil)
		if err != nil {
			return err
		}
		r.push(seq, *rec)
	}
	r.o.emit(Event{Kind: EventStepStarted, Failover: r.id, Server: server, Spare: spare, Step: kind, Target: target, Driver: driver})
	r.o.cfg.log.Debug("step started", "failover", r.id, "step", kind, "target", target, "driver", driver, "server", server, "spare", spare)
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

// retryable reports whether a driver error may go away on retry.
func retryable(err error) bool {
	return errors.Is(err, ErrTransient) || errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, context.DeadlineExceeded)
}

// call runs fn with the per-call timeout, retrying transient and
// outcome-unknown errors with backoff. After ErrOutcomeUnknown it calls
// verify (when given) to re-read the device: true means the change is in
// place and the call succeeded.
func (r *run) call(ctx context.Context, a *AuditEntry, attempts int, fn func(context.Context) error, verify func(context.Context) (bool, error)) error {
	t := r.o.cfg.timeouts
	backoff := t.RetryBase
	var err error
	for i := 0; i < attempts; i++ {
		if derr := r.mayAct(); derr != nil {
			return derr
		}
		if a != nil {
			a.Attempts++
		}
		cctx, cancel := context.WithTimeout(ctx, t.Step)
		err = fn(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrOutcomeUnknown) && verify != nil {
			if derr := r.mayAct(); derr != nil {
				return derr
			}
			vctx, cancel := context.WithTimeout(ctx, t.Step)
			ok, verr := verify(vctx)
			cancel()
			if verr == nil && ok {
				return nil
			}
		}
		if !retryable(err) || ctx.Err() != nil || i == attempts-1 {
			break
		}
		if serr := r.o.cfg.clock.Sleep(ctx, backoff); serr != nil {
			break
		}
		backoff = min(backoff*2, t.RetryLimit)
	}
	return err
}

// parallel runs fns concurrently and combines their errors.
func parallel(fns ...func() error) error {
	if len(fns) == 1 {
		return fns[0]()
	}
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	var me *multierror.Error
	for _, e := range errs {
		if e != nil {
			me = multierror.Append(me, e)
		}
	}
	return me.ErrorOrNil()
}

// begin opens a new failover's journal under a fresh ID (IDs of other
// Orchestrator instances on the same store are skipped).
func (o *Orchestrator) begin(ctx context.Context, h header) (*run, error) {
	var err error
	for i := 0; i < 64; i++ {
		r := &run{o: o, id: o.newID(h.Server), start: o.cfg.clock.Now(), h: h}
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

// errNoChange makes update write nothing and succeed.
var errNoChange = errors.New("no change")

// update applies fn to the records ids in one compare-and-set, re-reading
// and retrying on conflict.
func (o *Orchestrator) update(ctx context.Context, r *run, idList []search.ServerID, fn func(map[search.ServerID]*Record) error) error {
	var err error
	for i := 0; i < 16; i++ {
		if r != nil && r.stopped() {
			return r.deadErr()
		}
		m := make(map[search.ServerID]*Record, len(idList))
		recs := make([]Record, 0, len(idList))
		for _, id := range idList {
			rec, gerr := o.store.Get(ctx, id)
			if gerr != nil {
				if r != nil {
					r.storeErr(gerr)
				}
				return gerr
			}
			recs = append(recs, rec)
		}
		for i := range recs {
			m[recs[i].ID] = &recs[i]
		}
		if err = fn(m); err != nil {
			if errors.Is(err, errNoChange) {
				return nil
			}
			return err
		}
		_, err = o.put(ctx, recs...)
		if err == nil || !(errors.Is(err, ErrConflict) || retryable(err)) {
			if r != nil {
				r.storeErr(err)
			}
			return err
		}
		if retryable(err) {
			// Nothing written, or a lost answer that could not be read
			// back: read everything again and apply fn again (it is
			// idempotent), after a pause.
			if i >= o.cfg.attempts || o.cfg.clock.Sleep(ctx, o.cfg.timeouts.RetryBase) != nil {
				return err
			}
		}
	}
	return err
}

// appended resolves an Append of e to journal id that returned
// ErrOutcomeUnknown (cause) by reading the journal back: nil when e is
// there (the append took effect), again when the journal still ends just
// before e (it did not: append again), otherwise an error (cause, or the
// read's error; ErrConflict when another entry took e's place).
func (o *Orchestrator) appended(ctx context.Context, id string, e Entry, cause error) (again bool, err error) {
	j, err := o.store.Journal(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound) && e.Seq == 1:
		return true, cause
	case err != nil:
		return false, fmt.Errorf("%w (reading the journal back: %w)", cause, err)
	case int64(len(j)) == e.Seq-1:
		return true, cause
	case int64(len(j)) >= e.Seq && sameEntry(j[e.Seq-1], e):
		return false, nil
	}
	return false, fmt.Errorf("failover: journal %s: entry %d is not ours after a lost answer: %w (%w)", id, e.Seq, ErrConflict, cause)
}

func sameEntry(a, b Entry) bool {
	return a.Seq == b.Seq && a.Phase == b.Phase && a.Step == b.Step && a.Target == b.Target &&
		a.Time.Equal(b.Time) && a.Error == b.Error && jsonEqual(a.Data, b.Data)
}

// jsonEqual compares two JSON documents by value (a store may re-encode).
func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// put is Store.Put that resolves ErrOutcomeUnknown (a write whose answer
// was lost) by reading the records back: when every record holds what
// was written, the write took effect; when every record still has the
// Revision it was read at, it did not, and is tried again; otherwise
// another writer changed them and put returns ErrConflict, so that the
// caller re-reads as after a lost compare-and-set. It never assumes the
// write failed.
func (o *Orchestrator) put(ctx context.Context, recs ...Record) ([]Record, error) {
	var err error
	for i := 0; i < o.cfg.attempts; i++ {
		var out []Record
		out, err = o.store.Put(ctx, recs...)
		if !errors.Is(err, ErrOutcomeUnknown) {
			return out, err
		}
		cause := err
		untouched, written := true, true
		out = make([]Record, len(recs))
		for k, want := range recs {
			got, gerr := o.store.Get(ctx, want.ID)
			if errors.Is(gerr, ErrNotFound) {
				written = false
				continue // untouched when it was new (Revision 0)
			}
			if gerr != nil {
				return nil, fmt.Errorf("%w (reading back %s: %w)", cause, want.ID, gerr)
			}
			if got.Revision != want.Revision {
				untouched = false
			}
			w := want.clone()
			w.Revision = got.Revision
			if !recordEqual(got, w) {
				written = false
			}
			out[k] = got
		}
		switch {
		case written && !untouched:
			return out, nil
		case untouched:
			err = cause
			continue
		}
		return nil, fmt.Errorf("failover: store put: changed by another writer after a lost answer: %w (%w)", ErrConflict, cause)
	}
	return nil, err
}

// recordEqual compares records by their JSON form (what a durable store
// keeps).
func recordEqual(a, b Record) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
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
				res.Err = fmt.Errorf("failover %s: stopped, Recover finishes it: %w", r.id, ctx.Err())
			}
		}
	}
	if res.Outcome == OutcomeInterrupted && ctx.Err() != nil && !errors.Is(res.Err, ctx.Err()) {
		res.Err = fmt.Errorf("%w (%w)", res.Err, ctx.Err())
	}
	if res.Outcome != OutcomeInterrupted {
		wctx := context.WithoutCancel(ctx)
		if cerr := r.o.update(wctx, r, r.h.Members, func(m map[search.ServerID]*Record) error {
			for _, x := range m {
				if x.Reservation == r.id {
					x.Reservation = ""
				}
			}
			return nil
		}); cerr != nil {
			res.Outcome = OutcomeInterrupted
			res.Err = errors.Join(res.Err, cerr)
		}
	}
	if res.Outcome != OutcomeInterrupted {
		end := map[string]string{"outcome": string(res.Outcome)}
		if res.Err != nil {
			end["error"] = res.Err.Error()
		}
		if _, jerr := r.journal(ctx, PhaseEnd, "end", string(res.Outcome), end, res.Err); jerr != nil {
			res.Outcome = OutcomeInterrupted
			if res.Err == nil {
				res.Err = jerr
			}
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
		r.o.cfg.log.Info("failover done", "failover", r.id, "server", res.Server, "plan", res.Plan.String())
	case OutcomeNoSpare:
		r.o.emit(Event{Kind: EventNoSpare, Failover: r.id, Server: res.Server, Err: res.Err})
	case OutcomeFailed, OutcomeInterrupted, OutcomeFencingFailed:
		r.o.emit(Event{Kind: EventFailoverFailed, Failover: r.id, Server: res.Server, Err: res.Err, Detail: string(res.Outcome)})
		r.o.cfg.log.Warn("failover ended", "failover", r.id, "server", res.Server, "outcome", res.Outcome, "err", res.Err)
	}
	return res
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
