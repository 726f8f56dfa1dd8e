package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

// Fault states, as Fault.State says.
const (
	// FaultQueued: taken, waiting for the leader's first Recover to end.
	FaultQueued = "queued"
	// FaultWaiting: handed to the Orchestrator, no failover started yet
	// (an after-delay action waits, or the answer is being decided).
	FaultWaiting = "waiting"
	// FaultFailingOver: a failover handles it (Fault.Failover).
	FaultFailingOver = "failing-over"
	// FaultHandled: the Orchestrator returned (Fault.Outcome says how).
	FaultHandled = "handled"
	// FaultNotHandled: the daemon stopped, or lost leadership, before
	// the Orchestrator acted on it: deliver it again (a fault whose
	// failover had begun is not in this state: its journal holds it).
	FaultNotHandled = "not-handled"
)

// Fault is a fault the daemon took, and what became of it.
type Fault struct {
	// ID is the client's idempotency key (POST /v1/faults "id"), or one
	// the daemon made.
	ID       string    `json:"id"`
	Server   string    `json:"server"`
	Type     string    `json:"type"`
	Detail   string    `json:"detail,omitempty"`
	Time     time.Time `json:"time"`     // when it was observed
	Received time.Time `json:"received"` // when the daemon took it
	Source   string    `json:"source"`   // "api", "watcher" or "redfish"
	State    string    `json:"state"`
	// Failover is the failover that handles it, when one does (or the
	// one that holds the server, for an absorbed or deferred fault).
	Failover string `json:"failover,omitempty"`
	// Outcome is how the Orchestrator ended it (failover.Outcome).
	Outcome string `json:"outcome,omitempty"`
	Error   string `json:"error,omitempty"`
	// Duplicate, in an answer to POST /v1/faults: this fault was taken
	// before (the same id, or the same server and type while the first is
	// being handled); the answer is the first one's.
	Duplicate bool `json:"duplicate,omitempty"`
}

// maxRecent bounds the faults kept for GET /v1/faults and for
// deduplication by id.
const maxRecent = 512

var (
	errNotLeader = errors.New("this daemon is not the leader")
	errDraining  = errors.New("the daemon is stopping")
)

// intake takes faults from the API, the watcher and the event receiver,
// hands each to the acting Orchestrator in a goroutine of its own, and
// deduplicates them: the same client id, or the same server and type
// while the first is being handled (the Orchestrator would absorb it),
// get the first one's answer. A fault of another type for a server being
// handled goes to the Orchestrator (a fault that acts now ends the wait
// of a delayed one). The failover ID comes from the Orchestrator's
// failover-started event for the server, which the fault that first
// claimed the server (its owner) takes.
type intake struct {
	d *Daemon

	mu        sync.Mutex
	ctx       context.Context // the term's; nil between terms
	gate      <-chan struct{} // closed once the term's first Recover returned
	inflight  map[string]*faultRec
	owner     map[search.ServerID]*faultRec
	byID      map[string]*faultRec
	recent    []*faultRec // oldest first
	failbacks map[search.ServerID]chan string
	wg        sync.WaitGroup
}

type faultRec struct {
	v       Fault
	key     string        // server and type
	started chan struct{} // closed once Failover is known or the fault ended
}

func newIntake(d *Daemon) *intake {
	return &intake{d: d, inflight: map[string]*faultRec{}, owner: map[search.ServerID]*faultRec{},
		byID: map[string]*faultRec{}, failbacks: map[search.ServerID]chan string{}}
}

func (in *intake) startTerm(ctx context.Context, gate <-chan struct{}) {
	in.mu.Lock()
	in.ctx, in.gate = ctx, gate
	in.mu.Unlock()
}

func (in *intake) endTerm() {
	in.mu.Lock()
	in.ctx = nil
	in.mu.Unlock()
}

// wait waits for every fault and failback goroutine.
func (in *intake) wait() { in.wg.Wait() }

// running lists the faults still being handled.
func (in *intake) running() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, r := range in.inflight {
		out = append(out, r.v.Server+" "+r.v.Type+" "+r.v.Failover)
	}
	slices.Sort(out)
	return out
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "f-" + hex.EncodeToString(b[:])
}

// deliver takes a fault from the watcher or the event receiver.
func (in *intake) deliver(f bmc.Fault, source string) {
	if _, _, err := in.submit(f, source, ""); err != nil {
		in.d.log.Error("fault not taken: deliver it again", "server", f.Server, "fault", f.Type, "source", source, "reason", err)
	}
}

// submit takes a fault. It returns the record that answers for it, and
// whether that is an earlier fault's (a duplicate). Errors: errDraining,
// errNotLeader.
func (in *intake) submit(f bmc.Fault, source, id string) (*faultRec, bool, error) {
	if in.d.Draining() {
		return nil, false, errDraining
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.ctx == nil {
		return nil, false, errNotLeader
	}
	key := f.Server + "\x00" + string(f.Type)
	if id != "" {
		if r := in.byID[id]; r != nil {
			return r, true, nil
		}
	}
	if r := in.inflight[key]; r != nil {
		if id != "" {
			in.byID[id] = r
		}
		return r, true, nil
	}
	now := time.Now()
	if f.Time.IsZero() {
		f.Time = now
	}
	if id == "" {
		id = newID()
	}
	r := &faultRec{key: key, started: make(chan struct{}),
		v: Fault{ID: id, Server: f.Server, Type: string(f.Type), Detail: f.Detail, Time: f.Time, Received: now, Source: source, State: FaultQueued}}
	in.inflight[key] = r
	if in.owner[search.ServerID(f.Server)] == nil {
		in.owner[search.ServerID(f.Server)] = r
	}
	in.byID[id] = r
	in.recent = append(in.recent, r)
	if len(in.recent) > maxRecent {
		old := in.recent[0]
		in.recent = in.recent[1:]
		for k, x := range in.byID {
			if x == old && in.inflight[old.key] != old {
				delete(in.byID, k)
			}
		}
	}
	ctx, gate := in.ctx, in.gate
	in.d.log.Debug("fault taken", "id", id, "server", f.Server, "fault", f.Type, "source", source)
	in.wg.Go(func() { in.run(ctx, gate, r, f) })
	return r, false, nil
}

// run hands one fault to the Orchestrator.
func (in *intake) run(ctx context.Context, gate <-chan struct{}, r *faultRec, f bmc.Fault) {
	select {
	case <-gate:
	case <-ctx.Done():
		in.notHandled(r, "the daemon stopped before its first Recover ended")
		return
	}
	g, done := in.d.acting()
	if g == nil {
		in.notHandled(r, "leadership ended before the fault was handed over")
		return
	}
	in.mu.Lock()
	if r.v.State == FaultQueued {
		r.v.State = FaultWaiting
	}
	in.mu.Unlock()
	res, err := g.o.HandleFault(ctx, f)
	done()
	in.d.metrics.ObserveResult(res)
	if res.ID == "" && res.Outcome == "" && ctx.Err() != nil {
		// Cut during an after-delay wait: nothing journaled it.
		in.notHandled(r, "the daemon stopped during the fault's after-delay wait")
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if r.v.Failover == "" {
		r.v.Failover = res.ID
	}
	r.v.State, r.v.Outcome, r.v.Error = FaultHandled, string(res.Outcome), errString(err)
	in.endLocked(r)
}

// notHandled ends a fault that the Orchestrator never acted on.
func (in *intake) notHandled(r *faultRec, why string) {
	in.mu.Lock()
	r.v.State, r.v.Error = FaultNotHandled, why
	in.endLocked(r)
	v := r.v
	in.mu.Unlock()
	in.d.log.Error("fault not handled: deliver it again", "id", v.ID, "server", v.Server, "fault", v.Type,
		"detail", v.Detail, "time", v.Time, "source", v.Source, "reason", why)
}

// endLocked removes a finished fault from the in-flight maps.
func (in *intake) endLocked(r *faultRec) {
	if in.inflight[r.key] == r {
		delete(in.inflight, r.key)
	}
	srv := search.ServerID(r.v.Server)
	if in.owner[srv] == r {
		delete(in.owner, srv)
		for _, x := range in.inflight {
			if x.v.Server == r.v.Server {
				in.owner[srv] = x
				break
			}
		}
	}
	select {
	case <-r.started:
	default:
		close(r.started)
	}
}

// observe takes the Orchestrator's events that answer faults and
// failbacks.
func (in *intake) observe(e failover.Event) {
	switch {
	case e.Kind == failover.EventFailoverStarted:
		in.mu.Lock()
		defer in.mu.Unlock()
		r := in.owner[e.Server]
		if r == nil || r.v.Failover != "" {
			return
		}
		r.v.Failover, r.v.State = e.Failover, FaultFailingOver
		close(r.started)
	case e.Kind == failover.EventFailbackStarted:
		in.mu.Lock()
		defer in.mu.Unlock()
		if ch := in.failbacks[e.Spare]; ch != nil {
			select {
			case ch <- e.Failover:
			default:
			}
		}
	}
}

// view returns a copy of a fault's record.
func (in *intake) view(r *faultRec) Fault {
	in.mu.Lock()
	defer in.mu.Unlock()
	return r.v
}

// get returns the fault with id.
func (in *intake) get(id string) (Fault, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	r := in.byID[id]
	if r == nil {
		return Fault{}, false
	}
	return r.v, true
}

// list returns the recent faults, newest first.
func (in *intake) list() []Fault {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]Fault, 0, len(in.recent))
	for i := len(in.recent) - 1; i >= 0; i-- {
		out = append(out, in.recent[i].v)
	}
	return out
}

// termCtx returns the term's context, or an error when there is none.
func (in *intake) termCtx() (context.Context, error) {
	if in.d.Draining() {
		return nil, errDraining
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.ctx == nil {
		return nil, errNotLeader
	}
	return in.ctx, nil
}

// failbackAnswer is what POST /v1/failbacks learnt within AcceptWait.
type failbackAnswer struct {
	ID  string
	Res *failover.Result // set when Failback returned
	Err error
}

// failback runs Failback of home in a goroutine and returns once its
// failover ID is known, it returned, or wait passed.
func (in *intake) failback(home search.ServerID, wait time.Duration) (failbackAnswer, error) {
	ctx, err := in.termCtx()
	if err != nil {
		return failbackAnswer{}, err
	}
	ch := make(chan string, 1)
	in.mu.Lock()
	if in.failbacks[home] != nil {
		in.mu.Unlock()
		return failbackAnswer{}, fmt.Errorf("a failback of %s is being started: %w", home, failover.ErrConflict)
	}
	in.failbacks[home] = ch
	in.mu.Unlock()
	unwatch := func() {
		in.mu.Lock()
		if in.failbacks[home] == ch {
			delete(in.failbacks, home)
		}
		in.mu.Unlock()
	}
	ended := make(chan failbackAnswer, 1)
	in.wg.Go(func() {
		g, done := in.d.acting()
		if g == nil {
			ended <- failbackAnswer{Err: errNotLeader}
			unwatch()
			return
		}
		res, err := g.o.Failback(ctx, home)
		done()
		unwatch()
		ended <- failbackAnswer{ID: res.ID, Res: &res, Err: err}
	})
	select {
	case id := <-ch:
		return failbackAnswer{ID: id}, nil
	case a := <-ended:
		return a, nil
	case <-time.After(wait):
		return failbackAnswer{}, nil
	}
}

// markStandby runs MarkStandby on the acting Orchestrator.
func (in *intake) markStandby(server search.ServerID) error {
	ctx, err := in.termCtx()
	if err != nil {
		return err
	}
	g, done := in.d.acting()
	if g == nil {
		return errNotLeader
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return g.o.MarkStandby(ctx, server)
}
