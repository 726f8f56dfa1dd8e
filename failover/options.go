package failover

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/search"
)

// Clock is the Orchestrator's time source: Now for durations and
// deadlines, Sleep for waits (backoff, polling, delayed fault actions),
// After for timers. It is bmc.Clock, the one clock the Orchestrator, the
// bmc.Watcher and the bmc.EventHandler share: drivers/fake.Clock
// satisfies it, which makes whole failovers, detection included, run in
// virtual time.
type Clock = bmc.Clock

// Action is what the Orchestrator does about a fault type.
type Action int

// Actions of the fault-action table.
const (
	// ActNow fails the server over at once.
	ActNow Action = iota + 1
	// ActAfterDelay waits for the rule's Delay and fails over unless the
	// server recovered meanwhile (see Orchestrator.Recovered and
	// WithRecoveryCheck).
	ActAfterDelay
	// ActReport only reports the fault (an EventFaultReported event).
	ActReport
)

func (a Action) String() string {
	switch a {
	case ActNow:
		return "now"
	case ActAfterDelay:
		return "after-delay"
	case ActReport:
		return "report"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Rule is one row of the fault-action table.
type Rule struct {
	Action Action
	Delay  time.Duration // for ActAfterDelay
	// Fence says how to fence the failed server (FenceGraceful, the zero
	// value, or FenceForce).
	Fence Fencing
}

// Fencing is how a failed server is fenced.
type Fencing int

const (
	// FenceGraceful asks the operating system to shut down first and
	// waits for it (Timeouts.Shutdown) before it forces the power off:
	// for faults that leave the OS running (a temperature alarm, a BMC
	// that stopped answering).
	FenceGraceful Fencing = iota
	// FenceForce skips the graceful shutdown: the OS is known to be hung
	// or crashed (a processor IERR, an uncorrectable memory error, a
	// watchdog, an OS critical stop) and will never shut down, so
	// waiting would only delay the takeover. A memory dump in progress is
	// still waited for (Timeouts.Dump), and an NMI sent first when
	// WithNMI says so; then the power is forced off and confirmed.
	FenceForce
)

func (f Fencing) String() string {
	switch f {
	case FenceGraceful:
		return "graceful"
	case FenceForce:
		return "force"
	}
	return fmt.Sprintf("Fencing(%d)", int(f))
}

// DefaultFaultActions returns the default fault-action table: hardware
// failures and OS stops fail over at once, temperature and a BMC that
// stopped answering after a delay (they often recover), correctable errors
// are only reported. Faults that mean a hung or crashed operating system
// (processor, memory, watchdog, OS stop, fatal bus error) are fenced
// without waiting for a graceful shutdown (FenceForce); a lost power
// supply or power leaves the server off already. Types not in the table
// take the default rule given to WithFaultActions (ActNow unless set).
func DefaultFaultActions() map[bmc.FaultType]Rule {
	return map[bmc.FaultType]Rule{
		bmc.FaultProcessor:      {Action: ActNow, Fence: FenceForce},
		bmc.FaultMemory:         {Action: ActNow, Fence: FenceForce},
		bmc.FaultPowerSupply:    {Action: ActNow},
		bmc.FaultWatchdog:       {Action: ActNow, Fence: FenceForce},
		bmc.FaultOSStop:         {Action: ActNow, Fence: FenceForce},
		bmc.FaultPowerLost:      {Action: ActNow},
		bmc.FaultBus:            {Action: ActNow, Fence: FenceForce},
		bmc.FaultBMCUnreachable: {Action: ActAfterDelay, Delay: 30 * time.Second},
		bmc.FaultTemperature:    {Action: ActAfterDelay, Delay: 60 * time.Second},
		bmc.FaultCorrectable:    {Action: ActReport},
		bmc.FaultOther:          {Action: ActReport},
	}
}

// Timeouts bounds the phases of a failover. Zero fields take the defaults
// of DefaultTimeouts.
type Timeouts struct {
	Step       time.Duration // one driver call (each attempt)
	Shutdown   time.Duration // graceful shutdown before forced power-off
	Dump       time.Duration // waiting for a memory dump to finish
	PowerOff   time.Duration // forced power-off until confirmed off
	Boot       time.Duration // power-on until confirmed on
	Health     time.Duration // the health check after boot
	Rollback   time.Duration // the whole rollback of one attempt
	Poll       time.Duration // interval between power-state polls
	RetryBase  time.Duration // first backoff after a transient error (doubles)
	RetryLimit time.Duration // largest backoff
}

// DefaultTimeouts returns the defaults:
//
//   - Step 30 s: one driver call; a BMC or array that has not answered by
//     then is retried (RetryBase, doubling to RetryLimit) or the step fails.
//   - Shutdown 2 min: a graceful shutdown (FenceGraceful faults) is given
//     this long before the power is forced off.
//   - Dump 10 min: a memory dump the BMC reports in progress is waited for
//     this long at most before the power is forced off.
//   - PowerOff 1 min: a forced power-off must be confirmed within this.
//   - Boot 5 min: a spare's power-on must be confirmed within this.
//   - Health 10 min: the health check (WithHealthCheck) after boot.
//   - Rollback 5 min: the whole rollback of one attempt.
//   - Poll 1 s: between power-state and dump-state reads.
//   - RetryBase 200 ms, RetryLimit 5 s: the backoff after a transient
//     error or a lost answer.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		Step:       30 * time.Second,
		Shutdown:   2 * time.Minute,
		Dump:       10 * time.Minute,
		PowerOff:   1 * time.Minute,
		Boot:       5 * time.Minute,
		Health:     10 * time.Minute,
		Rollback:   5 * time.Minute,
		Poll:       1 * time.Second,
		RetryBase:  200 * time.Millisecond,
		RetryLimit: 5 * time.Second,
	}
}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts()
	set := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	set(&t.Step, d.Step)
	set(&t.Shutdown, d.Shutdown)
	set(&t.Dump, d.Dump)
	set(&t.PowerOff, d.PowerOff)
	set(&t.Boot, d.Boot)
	set(&t.Health, d.Health)
	set(&t.Rollback, d.Rollback)
	set(&t.Poll, d.Poll)
	set(&t.RetryBase, d.RetryBase)
	set(&t.RetryLimit, d.RetryLimit)
	return t
}

// HealthCheck is called after a spare powered on; it returns nil once the
// workload is healthy on it (it may wait, within ctx). An error makes the
// boot step fail, which rolls the attempt back.
type HealthCheck func(ctx context.Context, spare Record) error

// RecoveryCheck reports whether a server whose fault had a delayed action
// has recovered (then the failover is cancelled).
type RecoveryCheck func(ctx context.Context, server Record, f bmc.Fault) (bool, error)

// Option configures an Orchestrator.
type Option func(*config) error

type config struct {
	log          *slog.Logger
	observers    []func(Event)
	clock        Clock
	timeouts     Timeouts
	attempts     int // step attempts (1 + retries)
	undoAttempts int
	candidates   int // spares tried per failover
	actions      map[bmc.FaultType]Rule
	defAction    Rule
	health       HealthCheck
	recovery     RecoveryCheck
	nmi          bool
	swap         bool
	searchOpts   []search.Option
	unmanaged    Unmanaged
	planWindow   time.Duration
}

func defaultConfig() config {
	return config{
		log:          slog.New(slog.DiscardHandler),
		clock:        bmc.SystemClock(),
		timeouts:     DefaultTimeouts(),
		attempts:     4,
		undoAttempts: 8,
		candidates:   3,
		actions:      DefaultFaultActions(),
		defAction:    Rule{Action: ActNow},
		swap:         true,
	}
}

// WithLogger sends the Orchestrator's log to l: every Event, as one
// record at the level its kind says (LevelOf), with the failover ID and
// the event's other fields as attributes (keys: failover, server, spare,
// step, target, driver, attempts, duration, plan, detail, err). The
// default discards it.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("failover: WithLogger(nil): %w", ErrInvalid)
		}
		c.log = l
		return nil
	}
}

// WithObserver adds fn to the functions called with every Event (several
// WithObserver options add several observers, called in the order given).
// Each is called synchronously and possibly from several goroutines at
// once; it must be quick and safe for concurrent use.
func WithObserver(fn func(Event)) Option {
	return func(c *config) error {
		if fn == nil {
			return fmt.Errorf("failover: WithObserver(nil): %w", ErrInvalid)
		}
		c.observers = append(c.observers, fn)
		return nil
	}
}

// WithClock replaces the real clock (for simulations: drivers/fake.Clock).
func WithClock(clk Clock) Option {
	return func(c *config) error {
		if clk == nil {
			return fmt.Errorf("failover: WithClock(nil): %w", ErrInvalid)
		}
		c.clock = clk
		return nil
	}
}

// WithTimeouts sets the timeouts; zero fields keep their defaults.
func WithTimeouts(t Timeouts) Option {
	return func(c *config) error {
		for _, d := range []time.Duration{t.Step, t.Shutdown, t.Dump, t.PowerOff, t.Boot, t.Health, t.Rollback, t.Poll, t.RetryBase, t.RetryLimit} {
			if d < 0 {
				return fmt.Errorf("failover: WithTimeouts: negative duration %v: %w", d, ErrInvalid)
			}
		}
		c.timeouts = t.withDefaults()
		return nil
	}
}

// WithRetries sets how many times a driver call is tried when it fails
// with ErrTransient or ErrOutcomeUnknown (steps: attempts >= 1, default 4;
// undo during rollback: undoAttempts >= 1, default 8).
func WithRetries(attempts, undoAttempts int) Option {
	return func(c *config) error {
		if attempts < 1 || undoAttempts < 1 {
			return fmt.Errorf("failover: WithRetries(%d, %d): want >= 1: %w", attempts, undoAttempts, ErrInvalid)
		}
		c.attempts, c.undoAttempts = attempts, undoAttempts
		return nil
	}
}

// WithCandidates sets how many plans (spares) one failover tries before it
// gives up (default 3). A spare whose step failed is set aside (its record
// becomes Failed with a note) and the next plan avoids it.
func WithCandidates(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("failover: WithCandidates(%d): want >= 1: %w", n, ErrInvalid)
		}
		c.candidates = n
		return nil
	}
}

// WithFaultActions replaces the fault-action table (see
// DefaultFaultActions) and sets the rule for fault types it does not
// list.
func WithFaultActions(table map[bmc.FaultType]Rule, def Rule) Option {
	return func(c *config) error {
		check := func(t bmc.FaultType, r Rule) error {
			switch {
			case r.Action < ActNow || r.Action > ActReport:
				return fmt.Errorf("failover: fault action for %q: unknown action %d: %w", t, r.Action, ErrInvalid)
			case r.Action == ActAfterDelay && r.Delay <= 0:
				return fmt.Errorf("failover: fault action for %q: after-delay needs a positive delay: %w", t, ErrInvalid)
			case r.Fence != FenceGraceful && r.Fence != FenceForce:
				return fmt.Errorf("failover: fault action for %q: unknown fencing %d: %w", t, r.Fence, ErrInvalid)
			}
			return nil
		}
		if err := check("(default)", def); err != nil {
			return err
		}
		m := make(map[bmc.FaultType]Rule, len(table))
		for t, r := range table {
			if err := check(t, r); err != nil {
				return err
			}
			m[t] = r
		}
		c.actions, c.defAction = m, def
		return nil
	}
}

// WithHealthCheck makes the boot step wait for fn after the spare is on.
func WithHealthCheck(fn HealthCheck) Option {
	return func(c *config) error {
		c.health = fn
		return nil
	}
}

// WithRecoveryCheck is asked, when a delayed fault action's delay has
// passed, whether the server recovered; true cancels the failover.
func WithRecoveryCheck(fn RecoveryCheck) Option {
	return func(c *config) error {
		c.recovery = fn
		return nil
	}
}

// WithNMI makes fencing send an NMI first, so that the operating system
// writes a memory dump before the server is powered off (fencing waits for
// the dump, bounded by Timeouts.Dump, when the BMC is a bmc.DumpReporter).
func WithNMI(on bool) Option {
	return func(c *config) error {
		c.nmi = on
		return nil
	}
}

// WithInitiatorSwap chooses whether storage moves use
// storage.InitiatorSwapper when the DiskMapper has it (default true).
func WithInitiatorSwap(on bool) Option {
	return func(c *config) error {
		c.swap = on
		return nil
	}
}

// WithSearchOptions passes options (policies, allowed combinations) to
// every search.NewInventory the Orchestrator builds.
func WithSearchOptions(opts ...search.Option) Option {
	return func(c *config) error {
		c.searchOpts = append(c.searchOpts, opts...)
		return nil
	}
}

// WithPlanWindow makes each planning round wait d (on the Orchestrator's
// clock) before it takes the failovers that wait for a plan, so that more
// of a burst of faults is planned together. The default, 0, plans at once
// what has arrived: faults that arrive while a round runs are planned
// together in the next one, whatever the window.
func WithPlanWindow(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("failover: WithPlanWindow(%v): negative: %w", d, ErrInvalid)
		}
		c.planWindow = d
		return nil
	}
}
