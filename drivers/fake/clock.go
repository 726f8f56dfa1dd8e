package fake

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
)

// Option configures a World.
type Option func(*config)

type config struct {
	seed  uint64
	sleep func(context.Context, time.Duration) error
	now   func() time.Time
	// strictDecompose makes Decompose refuse while a member is on.
	strictDecompose bool
}

// WithSeed seeds the draws of Fault.Probability (Generate seeds its layout
// with its own argument). The default seed is 1: a world is deterministic
// unless told otherwise.
func WithSeed(seed int64) Option {
	return func(c *config) { c.seed = uint64(seed) }
}

// WithSleep replaces the function every simulated delay waits with (an
// injected latency, a fake driver waiting for nothing else). It must honour
// ctx: return ctx.Err() (or an error wrapping it) when ctx is done before d
// has passed. A nil fn keeps the default, which waits in real time.
func WithSleep(fn func(ctx context.Context, d time.Duration) error) Option {
	return func(c *config) {
		if fn != nil {
			c.sleep = fn
		}
	}
}

// WithNow replaces the world's clock, which decides when a pending
// graceful shutdown completes and when a memory dump ends. A nil fn keeps
// the default, time.Now.
func WithNow(fn func() time.Time) Option {
	return func(c *config) {
		if fn != nil {
			c.now = fn
		}
	}
}

// WithClock makes the world use c for both its clock and its sleeper, so
// that delays are virtual: sleeping d advances c by d at once.
func WithClock(c *Clock) Option {
	return func(cfg *config) {
		if c != nil {
			cfg.now = c.Now
			cfg.sleep = c.Sleep
		}
	}
}

// WithStrictPartitions makes the fake PartitionManager behave like
// platforms that require members to be off: Decompose of a logical server
// with a member that is not off fails with ErrConflict.
func WithStrictPartitions() Option {
	return func(c *config) { c.strictDecompose = true }
}

func defaultConfig() config {
	return config{seed: 1, sleep: realSleep, now: time.Now}
}

func realSleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Clock is a virtual clock for simulations (a bmc.Clock, and so a
// failover.Clock). Sleep advances it instead of waiting, so simulated
// seconds cost nothing; After's channel receives when the clock has been
// advanced (by Advance or by anyone's Sleep) to its time. It is safe for
// concurrent use; concurrent sleepers each advance it, so virtual time
// runs at least as fast as the longest chain of sleeps.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []clockTimer
}

type clockTimer struct {
	at time.Time
	ch chan time.Time
}

var _ bmc.Clock = (*Clock)(nil)

// NewClock returns a virtual clock that reads start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (a negative d is ignored) and
// fires the timers (After) that are due.
func (c *Clock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			keep = append(keep, t)
			continue
		}
		t.ch <- c.now // buffered, and sent once
	}
	clear(c.timers[len(keep):])
	c.timers = keep
}

// Sleep advances the clock by d and returns at once, or returns ctx.Err()
// without advancing when ctx is already done.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

// After returns a channel that receives the clock's time once the clock
// has been advanced by d from now (at once for d <= 0). Nothing advances
// a virtual clock by itself: a simulation advances it (Advance, Sleep).
func (c *Clock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, clockTimer{at: c.now.Add(d), ch: ch})
	return ch
}

// Waiters returns how many After channels have not fired yet: a test
// advances the clock once the goroutine it drives is waiting.
func (c *Clock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// newRand returns the deterministic random source for a seed.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// errorf wraps kind once with the operation and target, the house format.
func errorf(kind error, format string, a ...any) error {
	return fmt.Errorf("fake: %s: %w", fmt.Sprintf(format, a...), kind)
}
