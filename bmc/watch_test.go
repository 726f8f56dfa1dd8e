package bmc_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
)

// fakeClock moves only when the test says so.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(time.Duration) <-chan time.Time { return make(chan time.Time) }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// logBMC is a BMC whose event log and reachability the test controls.
// Only Events is used by the Watcher.
type logBMC struct {
	bmc.BMC // nil: the Watcher must not call anything else
	mu      sync.Mutex
	log     []bmc.Event
	down    bool
	calls   int
	active  *atomic.Int32
	peak    *atomic.Int32
	hold    time.Duration
}

func (b *logBMC) add(st, off uint8) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := fmt.Sprint(len(b.log) + 1)
	b.log = append(b.log, bmc.Event{ID: id, SensorType: st, EventType: 0x6f, Offset: off, Asserted: true, Raw: id})
}

func (b *logBMC) setDown(d bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down = d
}

func (b *logBMC) Events(ctx context.Context, after bmc.Cursor) ([]bmc.Event, bmc.Cursor, error) {
	if b.active != nil {
		n := b.active.Add(1)
		defer b.active.Add(-1)
		for {
			p := b.peak.Load()
			if n <= p || b.peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(b.hold)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.down {
		return nil, after, fmt.Errorf("fake: no answer: %w", bmc.ErrTransient)
	}
	start := 0
	if after != "" {
		fmt.Sscan(string(after), &start)
	}
	if start >= len(b.log) {
		return nil, after, nil
	}
	return append([]bmc.Event(nil), b.log[start:]...), bmc.Cursor(fmt.Sprint(len(b.log))), nil
}

func (b *logBMC) callCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

func TestWatcherDeliversNewFaultsOnce(t *testing.T) {
	clock := newFakeClock()
	a, b := &logBMC{}, &logBMC{}
	a.add(0x07, 0x00) // history: before the watcher started
	var c collector
	w, err := bmc.NewWatcher([]bmc.Target{{Server: "a", BMC: a}, {Server: "b", BMC: b}}, c.deliver,
		bmc.WithWatchClock(clock), bmc.WithWatchInterval(10*time.Second), bmc.WithWatchSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	w.PollDue(ctx)
	if got := c.got(); len(got) != 0 {
		t.Fatalf("history delivered: %+v", got)
	}
	a.add(0x0c, 0x01) // uncorrectable ECC
	a.add(0x1f, 0x01) // OS boot completed: not a fault
	b.add(0x23, 0x01) // watchdog 2 hard reset
	clock.Advance(15 * time.Second)
	w.PollDue(ctx)
	clock.Advance(15 * time.Second)
	w.PollDue(ctx) // nothing new
	got := c.got()
	slices.SortFunc(got, func(x, y bmc.Fault) int { return stringsCompare(x.Server, y.Server) })
	if len(got) != 2 || got[0].Server != "a" || got[0].Type != bmc.FaultMemory || got[1].Server != "b" || got[1].Type != bmc.FaultWatchdog {
		t.Fatalf("delivered %+v; want a memory fault on a and a watchdog fault on b", got)
	}
	if !got[0].Time.Equal(clock.Now().Add(-15 * time.Second)) {
		t.Errorf("fault time %v, want the poll time", got[0].Time)
	}
	cur := w.Cursors()
	if cur["a"] != "3" || cur["b"] != "1" {
		t.Errorf("cursors %v", cur)
	}
}

func stringsCompare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestWatcherReplayAndResume(t *testing.T) {
	clock := newFakeClock()
	a := &logBMC{}
	a.add(0x07, 0x00)
	a.add(0x20, 0x01)
	var c collector
	w, _ := bmc.NewWatcher([]bmc.Target{{Server: "a", BMC: a}}, c.deliver, bmc.WithWatchClock(clock), bmc.WithReplay())
	w.PollDue(t.Context())
	if got := c.got(); len(got) != 2 || got[0].Type != bmc.FaultProcessor || got[1].Type != bmc.FaultOSStop {
		t.Fatalf("replay delivered %+v", got)
	}
	// A restarted watcher resumes from the saved cursor: only the new record.
	a.add(0x08, 0x01)
	var c2 collector
	w2, _ := bmc.NewWatcher([]bmc.Target{{Server: "a", BMC: a}}, c2.deliver, bmc.WithWatchClock(clock), bmc.WithCursors(w.Cursors()))
	w2.PollDue(t.Context())
	if got := c2.got(); len(got) != 1 || got[0].Type != bmc.FaultPowerSupply {
		t.Fatalf("resumed watcher delivered %+v, want the PSU failure only", got)
	}
}

func TestWatcherUnreachableAfterThresholdWithBackoff(t *testing.T) {
	clock := newFakeClock()
	a := &logBMC{}
	var c collector
	w, _ := bmc.NewWatcher([]bmc.Target{{Server: "a", BMC: a}}, c.deliver, bmc.WithWatchClock(clock),
		bmc.WithWatchInterval(10*time.Second), bmc.WithWatchJitter(0), bmc.WithUnreachableAfter(3), bmc.WithMaxBackoff(time.Minute))
	ctx := t.Context()
	w.PollDue(ctx) // primes
	a.setDown(true)
	// Poll every second for five minutes: backoff must space the polls out.
	for range 300 {
		clock.Advance(time.Second)
		w.PollDue(ctx)
	}
	got := c.got()
	if len(got) != 1 || got[0].Type != bmc.FaultBMCUnreachable || got[0].Server != "a" {
		t.Fatalf("delivered %+v, want one bmc-unreachable fault", got)
	}
	// Without backoff there would be 30 polls (every 10 s); with it,
	// 20 s, 40 s, 60 s, 60 s, ...: 1 + about 6.
	if n := a.callCount(); n > 10 || n < 4 {
		t.Errorf("%d polls of an unreachable BMC in 5 min, want backoff to about 7", n)
	}
	// It answers again, then fails again: a second unreachable fault.
	a.setDown(false)
	clock.Advance(2 * time.Minute)
	w.PollDue(ctx)
	a.setDown(true)
	for range 300 {
		clock.Advance(time.Second)
		w.PollDue(ctx)
	}
	if got := c.got(); len(got) != 2 || got[1].Type != bmc.FaultBMCUnreachable {
		t.Fatalf("after recovery and a second outage: %+v, want two unreachable faults", got)
	}
}

func TestWatcherBoundsParallelism(t *testing.T) {
	var active, peak atomic.Int32
	var targets []bmc.Target
	for i := range 20 {
		targets = append(targets, bmc.Target{Server: fmt.Sprint("s", i), BMC: &logBMC{active: &active, peak: &peak, hold: 5 * time.Millisecond}})
	}
	var c collector
	w, _ := bmc.NewWatcher(targets, c.deliver, bmc.WithWatchClock(newFakeClock()), bmc.WithWatchParallelism(3))
	w.PollDue(t.Context())
	if p := peak.Load(); p != 3 {
		t.Fatalf("peak concurrent polls %d, want 3", p)
	}
}

// The schedule depends only on the seed.
func TestWatcherJitterIsSeeded(t *testing.T) {
	schedule := func(seed uint64) []int {
		clock := newFakeClock()
		var bmcs []*logBMC
		var targets []bmc.Target
		for i := range 5 {
			b := &logBMC{}
			bmcs = append(bmcs, b)
			targets = append(targets, bmc.Target{Server: fmt.Sprint("s", i), BMC: b})
		}
		var c collector
		w, _ := bmc.NewWatcher(targets, c.deliver, bmc.WithWatchClock(clock), bmc.WithWatchInterval(10*time.Second),
			bmc.WithWatchJitter(0.5), bmc.WithWatchSeed(seed), bmc.WithWatchParallelism(1))
		var out []int
		for range 200 {
			w.PollDue(t.Context())
			clock.Advance(500 * time.Millisecond)
		}
		for _, b := range bmcs {
			out = append(out, b.callCount())
		}
		return out
	}
	a, b := schedule(7), schedule(7)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different schedules: %v vs %v", a, b)
	}
	for _, n := range a {
		if n < 7 || n > 21 { // 100 s at 10 s ± 50 %
			t.Fatalf("poll counts %v outside the jittered interval", a)
		}
	}
	if slices.Equal(a, []int{a[0], a[0], a[0], a[0], a[0]}) && slices.Equal(a, schedule(8)) {
		t.Errorf("jitter has no effect: %v", a)
	}
}

func TestWatcherRunStopsWithContext(t *testing.T) {
	a := &logBMC{}
	var c collector
	w, _ := bmc.NewWatcher([]bmc.Target{{Server: "a", BMC: a}}, c.deliver, bmc.WithWatchInterval(5*time.Millisecond))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for a.callCount() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	a.add(0x07, 0x01)
	for len(c.got()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop after cancel")
	}
	if got := c.got(); len(got) != 1 || got[0].Type != bmc.FaultProcessor {
		t.Fatalf("Run delivered %+v, want the thermal trip", got)
	}
}

func TestNewWatcherRejectsBadInput(t *testing.T) {
	var c collector
	a := &logBMC{}
	for name, f := range map[string]func() error{
		"nil deliver": func() error { _, err := bmc.NewWatcher(nil, nil); return err },
		"duplicate": func() error {
			_, err := bmc.NewWatcher([]bmc.Target{{Server: "a", BMC: a}, {Server: "a", BMC: a}}, c.deliver)
			return err
		},
		"empty id":    func() error { _, err := bmc.NewWatcher([]bmc.Target{{BMC: a}}, c.deliver); return err },
		"nil BMC":     func() error { _, err := bmc.NewWatcher([]bmc.Target{{Server: "a"}}, c.deliver); return err },
		"jitter 1":    func() error { _, err := bmc.NewWatcher(nil, c.deliver, bmc.WithWatchJitter(1)); return err },
		"parallel 0":  func() error { _, err := bmc.NewWatcher(nil, c.deliver, bmc.WithWatchParallelism(0)); return err },
		"interval 0":  func() error { _, err := bmc.NewWatcher(nil, c.deliver, bmc.WithWatchInterval(0)); return err },
		"threshold 0": func() error { _, err := bmc.NewWatcher(nil, c.deliver, bmc.WithUnreachableAfter(0)); return err },
	} {
		if err := f(); !errors.Is(err, bmc.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func BenchmarkWatcherPoll1000(b *testing.B) {
	var targets []bmc.Target
	for i := range 1000 {
		l := &logBMC{}
		l.add(0x07, 0x07)
		targets = append(targets, bmc.Target{Server: fmt.Sprint("s", i), BMC: l})
	}
	clock := newFakeClock()
	w, _ := bmc.NewWatcher(targets, func(context.Context, bmc.Fault) {}, bmc.WithWatchClock(clock), bmc.WithWatchInterval(time.Second))
	b.ReportAllocs()
	for b.Loop() {
		w.PollDue(context.Background())
		clock.Advance(2 * time.Second)
	}
}

// An Orchestrator that takes long to handle one server's fault (a whole
// failover) must not stop the Watcher from polling the other servers.
func TestWatcherSlowDeliveryDoesNotStallOthers(t *testing.T) {
	a, b := &logBMC{}, &logBMC{}
	release := make(chan struct{})
	var delivered atomic.Int32
	w, _ := bmc.NewWatcher([]bmc.Target{{Server: "a", BMC: a}, {Server: "b", BMC: b}},
		func(_ context.Context, f bmc.Fault) {
			delivered.Add(1)
			if f.Server == "a" {
				<-release
			}
		}, bmc.WithWatchInterval(5*time.Millisecond), bmc.WithWatchParallelism(2))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(w.Servers()) == 2 && (a.callCount() < 1 || b.callCount() < 1) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	a.add(0x07, 0x00) // a's fault: its delivery blocks
	for delivered.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	before := b.callCount()
	for b.callCount() < before+5 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if b.callCount() < before+5 {
		t.Errorf("b polled %d times while a's fault was being handled, want it polled on", b.callCount()-before)
	}
	close(release)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
