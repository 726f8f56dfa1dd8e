package failover

import (
	"context"
	"sync"

	"github.com/coldstandby/coldstandby/bmc"
)

// Intake takes faults from detectors (a bmc.Watcher, a
// bmc.EventHandler) for an Orchestrator. Deliver returns as soon as the
// fault is durably taken, its failover's journal opened with its claim on
// the failed server (or the fault ended at once: reported, absorbed,
// deferred, refused, or cancelled after a delay); the failover goes on in
// the background, under the Intake's context. So a detector that delivers
// one fault at a time, or a few at once, is never held up by a failover
// that takes minutes, and the faults that arrive together are planned
// together (every failover waiting for a plan joins the same round).
//
// A fault whose rule waits (ActAfterDelay) is taken when its wait ends:
// Deliver blocks until then. Cancel the Intake's context to stop: the
// failovers in the background stop at their next step and stay open in
// the journal for Recover; Wait waits for them.
type Intake struct {
	o      *Orchestrator
	ctx    context.Context
	wg     sync.WaitGroup
	result func(Result)
}

// NewIntake returns an Intake whose background failovers run under ctx
// (the daemon's life, or a leader's term). result, when not nil, is
// called with the Result of every delivered fault when it ends (also
// reported to the observers as events).
func (o *Orchestrator) NewIntake(ctx context.Context, result func(Result)) *Intake {
	return &Intake{o: o, ctx: ctx, result: result}
}

// Deliver hands f to the Orchestrator and returns once it is durably
// taken (see Intake), or when ctx ends first (the fault then goes on,
// but the caller must not count it as taken). Its signature is the
// callback of bmc.NewWatcher and bmc.NewEventHandler.
func (in *Intake) Deliver(ctx context.Context, f bmc.Fault) {
	taken := make(chan struct{})
	var once sync.Once
	mark := func() { once.Do(func() { close(taken) }) }
	in.wg.Add(1)
	go func() {
		defer in.wg.Done()
		res, _ := in.o.HandleFault(withTaken(in.ctx, mark), f)
		mark()
		if in.result != nil {
			in.result(res)
		}
	}()
	select {
	case <-taken:
	case <-ctx.Done():
	}
}

// Wait waits for every failover the Intake started to end (or stop, when
// its context was cancelled).
func (in *Intake) Wait() { in.wg.Wait() }

type takenKey struct{}

// withTaken makes ctx carry fn, called once the fault of a HandleFault
// under ctx is durably taken.
func withTaken(ctx context.Context, fn func()) context.Context {
	return context.WithValue(ctx, takenKey{}, fn)
}

// taken tells the Intake whose context ctx is, if any, that its fault is
// durably taken.
func taken(ctx context.Context) {
	if fn, ok := ctx.Value(takenKey{}).(func()); ok {
		fn()
	}
}
