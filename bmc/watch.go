package bmc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// Target is one server whose BMC a Watcher polls.
type Target struct {
	Server string // the server's ID as the Orchestrator knows it
	BMC    BMC
}

// Watcher defaults.
const (
	DefaultWatchInterval    = 30 * time.Second
	DefaultWatchJitter      = 0.2
	DefaultWatchParallelism = 32
	DefaultUnreachableAfter = 3
	DefaultMaxBackoff       = 5 * time.Minute
	DefaultPollTimeout      = 30 * time.Second
)

// Watcher polls the event logs of many BMCs and delivers each fault once
// to a callback, the Orchestrator's fault entry point.
//
// Each BMC is polled every interval, jittered so that many BMCs do not
// answer at once, by at most a bounded number of goroutines. The first
// poll of a BMC only notes where its log ends (unless WithReplay): records
// from before the Watcher started are history, not new faults. A BMC whose
// polls fail with ErrTransient or ErrOutcomeUnknown is polled again with
// exponential backoff, and after WithUnreachableAfter failures in a row
// one FaultBMCUnreachable is delivered; it is delivered again only after
// the BMC answered in between.
//
// deliver may be called concurrently for different servers, never
// concurrently for one server.
type Watcher struct {
	targets     []*watchTarget
	deliver     func(context.Context, Fault)
	interval    time.Duration
	jitter      float64
	parallelism int
	unreachable int
	maxBackoff  time.Duration
	pollTimeout time.Duration
	clock       Clock
	classify    Classifier
	log         *slog.Logger
	replay      bool
	cursors     map[string]Cursor

	rmu sync.Mutex
	rnd *rand.Rand

	smu sync.Mutex // guards the schedule: watchTarget.nextDue and inFlight
}

type watchTarget struct {
	Target
	mu       sync.Mutex
	cursor   Cursor
	primed   bool
	failures int
	reported bool
	nextDue  time.Time // guarded by Watcher.smu
	inFlight bool      // guarded by Watcher.smu
}

// WatchOption configures NewWatcher.
type WatchOption func(*Watcher) error

func watchInvalid(format string, args ...any) error {
	return fmt.Errorf("bmc: watcher: %s: %w", fmt.Sprintf(format, args...), ErrInvalid)
}

// WithWatchInterval sets the poll interval (default 30 s).
func WithWatchInterval(d time.Duration) WatchOption {
	return func(w *Watcher) error {
		if d <= 0 {
			return watchInvalid("interval %v not positive", d)
		}
		w.interval = d
		return nil
	}
}

// WithWatchJitter sets the jitter as a fraction of the interval: each wait
// is interval × (1 ± jitter) (default 0.2; 0 turns it off).
func WithWatchJitter(frac float64) WatchOption {
	return func(w *Watcher) error {
		if frac < 0 || frac >= 1 {
			return watchInvalid("jitter %v outside [0, 1)", frac)
		}
		w.jitter = frac
		return nil
	}
}

// WithWatchParallelism bounds the polls (and deliveries) that run at once
// (default 32). A poll of an IPMI BMC takes about a second, so a site of
// n servers polled every interval needs about n/interval of them; a
// delivery that blocks (failover.Orchestrator.HandleFault, which returns
// when the failover has ended) holds its slot for minutes, which is why
// failover.Intake.Deliver returns as soon as the fault is taken.
func WithWatchParallelism(n int) WatchOption {
	return func(w *Watcher) error {
		if n < 1 {
			return watchInvalid("parallelism %d below 1", n)
		}
		w.parallelism = n
		return nil
	}
}

// WithUnreachableAfter sets how many failed polls in a row make a BMC
// unreachable (default 3).
func WithUnreachableAfter(n int) WatchOption {
	return func(w *Watcher) error {
		if n < 1 {
			return watchInvalid("unreachable threshold %d below 1", n)
		}
		w.unreachable = n
		return nil
	}
}

// WithMaxBackoff caps the wait between polls of a failing BMC (default
// 5 min).
func WithMaxBackoff(d time.Duration) WatchOption {
	return func(w *Watcher) error {
		if d <= 0 {
			return watchInvalid("max backoff %v not positive", d)
		}
		w.maxBackoff = d
		return nil
	}
}

// WithPollTimeout bounds one poll of one BMC (default 30 s). A poll that
// times out counts as a failure to answer.
func WithPollTimeout(d time.Duration) WatchOption {
	return func(w *Watcher) error {
		if d <= 0 {
			return watchInvalid("poll timeout %v not positive", d)
		}
		w.pollTimeout = d
		return nil
	}
}

// WithWatchClock sets the clock (default the system clock).
func WithWatchClock(c Clock) WatchOption {
	return func(w *Watcher) error {
		if c == nil {
			return watchInvalid("nil clock")
		}
		w.clock = c
		return nil
	}
}

// WithWatchSeed seeds the jitter's random source, for reproducible
// schedules (default: seeded from the clock at NewWatcher).
func WithWatchSeed(seed uint64) WatchOption {
	return func(w *Watcher) error {
		w.rnd = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		return nil
	}
}

// WithWatchClassifier replaces Classify.
func WithWatchClassifier(c Classifier) WatchOption {
	return func(w *Watcher) error {
		if c == nil {
			return watchInvalid("nil classifier")
		}
		w.classify = c
		return nil
	}
}

// WithWatchLogger sets the logger (default: discard).
func WithWatchLogger(l *slog.Logger) WatchOption {
	return func(w *Watcher) error {
		if l == nil {
			return watchInvalid("nil logger")
		}
		w.log = l
		return nil
	}
}

// WithReplay makes the first poll of each BMC deliver the faults already
// in its log (default: they are history and skipped).
func WithReplay() WatchOption {
	return func(w *Watcher) error {
		w.replay = true
		return nil
	}
}

// WithCursors resumes from cursors saved with Watcher.Cursors, so that a
// restarted Watcher neither misses nor repeats records. Servers with a
// cursor here are not primed: their first poll delivers what is new.
func WithCursors(c map[string]Cursor) WatchOption {
	return func(w *Watcher) error {
		w.cursors = c
		return nil
	}
}

// NewWatcher returns a Watcher for targets that delivers faults to
// deliver. Server IDs must be unique and non-empty.
func NewWatcher(targets []Target, deliver func(context.Context, Fault), opts ...WatchOption) (*Watcher, error) {
	if deliver == nil {
		return nil, watchInvalid("nil deliver function")
	}
	w := &Watcher{
		deliver:     deliver,
		interval:    DefaultWatchInterval,
		jitter:      DefaultWatchJitter,
		parallelism: DefaultWatchParallelism,
		unreachable: DefaultUnreachableAfter,
		maxBackoff:  DefaultMaxBackoff,
		pollTimeout: DefaultPollTimeout,
		clock:       SystemClock(),
		classify:    Classify,
		log:         slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		if err := o(w); err != nil {
			return nil, err
		}
	}
	if w.rnd == nil {
		s := uint64(w.clock.Now().UnixNano())
		w.rnd = rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))
	}
	seen := map[string]bool{}
	for i, t := range targets {
		if t.Server == "" || t.BMC == nil {
			return nil, watchInvalid("target %d: empty server ID or nil BMC", i)
		}
		if seen[t.Server] {
			return nil, watchInvalid("server %q listed twice", t.Server)
		}
		seen[t.Server] = true
		wt := &watchTarget{Target: t}
		if c, ok := w.cursors[t.Server]; ok {
			wt.cursor, wt.primed = c, true
		}
		w.targets = append(w.targets, wt)
	}
	return w, nil
}

// jittered returns d × (1 ± jitter).
func (w *Watcher) jittered(d time.Duration) time.Duration {
	if w.jitter == 0 {
		return d
	}
	w.rmu.Lock()
	r := w.rnd.Float64()
	w.rmu.Unlock()
	return time.Duration(float64(d) * (1 + w.jitter*(2*r-1)))
}

// backoff is the wait after failures failed polls in a row.
func (w *Watcher) backoff(failures int) time.Duration {
	d := w.interval
	for i := 0; i < failures && d < w.maxBackoff; i++ {
		d *= 2
	}
	return min(w.jittered(min(d, w.maxBackoff)), w.maxBackoff)
}

// Run polls until ctx is done, waits for the polls under way, then
// returns nil. Each BMC is polled on its own schedule: a slow BMC, or a
// deliver call that takes long (an Orchestrator running a failover), holds
// up only its own server and one parallelism slot, never the others.
func (w *Watcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, w.parallelism)
	// finished wakes the loop when a slot is free; a wake-up already
	// pending is enough, so a poll that ends never waits for the loop
	// (which, once ctx ended, waits for the polls).
	finished := make(chan struct{}, 1)
	wake := func() {
		select {
		case finished <- struct{}{}:
		default:
		}
	}
	for {
		w.launch(ctx, sem, &wg, wake, false)
		wait := w.untilNextDue()
		select {
		case <-ctx.Done():
			return nil
		case <-w.clock.After(wait):
		case <-finished: // a slot is free again
		}
	}
}

// launch starts a poll, in its own goroutine, of every target that is due
// and not being polled, while parallelism slots are free; with block it
// waits for slots instead of leaving the rest for later.
func (w *Watcher) launch(ctx context.Context, sem chan struct{}, wg *sync.WaitGroup, onDone func(), block bool) {
	now := w.clock.Now()
	for _, t := range w.targets {
		w.smu.Lock()
		due := !t.inFlight && !t.nextDue.After(now)
		w.smu.Unlock()
		if !due {
			continue
		}
		if block {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
		} else {
			select {
			case sem <- struct{}{}:
			default:
				return // no free slot: the next round takes the rest
			}
		}
		w.smu.Lock()
		t.inFlight = true
		w.smu.Unlock()
		wg.Go(func() {
			next := w.poll(ctx, t)
			w.smu.Lock()
			t.inFlight = false
			t.nextDue = next
			w.smu.Unlock()
			<-sem
			if onDone != nil {
				onDone()
			}
		})
	}
}

// untilNextDue is the wait until the earliest due target that is not
// being polled (the interval when all are being polled).
func (w *Watcher) untilNextDue() time.Duration {
	w.smu.Lock()
	defer w.smu.Unlock()
	found := false
	var next time.Time
	for _, t := range w.targets {
		if t.inFlight {
			continue
		}
		if !found || t.nextDue.Before(next) {
			next, found = t.nextDue, true
		}
	}
	if !found {
		return w.interval
	}
	return max(next.Sub(w.clock.Now()), 0)
}

// PollDue polls, with bounded parallelism, every BMC whose next poll is
// due by the Watcher's clock, and returns when they are done. Tests with a
// fake clock call it instead of Run.
func (w *Watcher) PollDue(ctx context.Context) {
	var wg sync.WaitGroup
	w.launch(ctx, make(chan struct{}, w.parallelism), &wg, nil, true)
	wg.Wait()
}

// isUnreachable tells whether a poll error means the BMC did not answer.
func isUnreachable(err error) bool {
	return errors.Is(err, ErrTransient) || errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, context.DeadlineExceeded)
}

// poll reads one BMC's new records, delivers their faults and returns
// when to poll it next.
func (w *Watcher) poll(ctx context.Context, t *watchTarget) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	pctx, cancel := context.WithTimeout(ctx, w.pollTimeout)
	evs, next, err := t.BMC.Events(pctx, t.cursor)
	cancel()
	now := w.clock.Now()
	if err != nil {
		if ctx.Err() != nil {
			return now // we are stopping; the BMC is not at fault
		}
		if !isUnreachable(err) {
			w.log.WarnContext(ctx, "event log poll failed", "server", t.Server, "err", err)
			return now.Add(w.backoff(1))
		}
		t.failures++
		next := now.Add(w.backoff(t.failures))
		w.log.DebugContext(ctx, "BMC did not answer", "server", t.Server, "failures", t.failures, "err", err)
		if t.failures >= w.unreachable && !t.reported {
			t.reported = true
			f := Fault{
				Server: t.Server,
				Type:   FaultBMCUnreachable,
				Time:   now,
				Detail: fmt.Sprintf("%s: %d polls in a row failed, last: %v", FaultBMCUnreachable, t.failures, err),
			}
			w.log.WarnContext(ctx, "BMC unreachable", "server", t.Server, "failures", t.failures)
			w.deliver(ctx, f)
		}
		return next
	}
	if t.reported {
		w.log.InfoContext(ctx, "BMC reachable again", "server", t.Server)
	}
	t.failures, t.reported = 0, false
	due := now.Add(w.jittered(w.interval))
	if !t.primed && !w.replay {
		t.primed, t.cursor = true, next
		return due
	}
	t.primed = true
	for _, e := range evs {
		f, ok := FaultFromEvent(t.Server, e, w.classify, now)
		if !ok {
			continue
		}
		w.log.InfoContext(ctx, "fault from event log", "server", t.Server, "fault", f.Type, "event", e.ID)
		w.deliver(ctx, f)
	}
	t.cursor = next
	return due
}

// Cursors returns each server's event-log cursor, to save and pass to
// WithCursors after a restart. Servers not yet polled are absent.
func (w *Watcher) Cursors() map[string]Cursor {
	out := map[string]Cursor{}
	for _, t := range w.targets {
		t.mu.Lock()
		if t.primed {
			out[t.Server] = t.cursor
		}
		t.mu.Unlock()
	}
	return out
}

// Servers returns the watched servers' IDs, sorted.
func (w *Watcher) Servers() []string {
	out := make([]string, 0, len(w.targets))
	for _, t := range w.targets {
		out = append(out, t.Server)
	}
	sort.Strings(out)
	return out
}
