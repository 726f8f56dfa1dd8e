package fake

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/coldstandby/coldstandby/internal/errs"
	"github.com/coldstandby/coldstandby/internal/opid"
)

// Driver names, as used in Fault.Driver, Op.Driver and Calls.
const (
	DriverBMC       = "bmc"
	DriverStorage   = "storage"
	DriverPartition = "partition"
	DriverZoner     = "zoner"
	DriverVLAN      = "vlan"
)

// methods lists each driver's methods, for validating faults.
var methods = map[string][]string{
	DriverBMC:       {"PowerState", "PowerOn", "Shutdown", "PowerOff", "NMI", "SetBootDevice", "Events", "DumpInProgress", "PowerRestorePolicy", "SetPowerRestorePolicy"},
	DriverStorage:   {"Mappings", "Map", "Unmap", "SwapInitiators"},
	DriverPartition: {"List", "Compose", "Decompose"},
	DriverZoner:     {"Zones", "AddMember", "RemoveMember", "Commit"},
	DriverVLAN:      {"PortVLAN", "SetPortVLAN"},
}

// readOnly methods have no effect to lose: a lost response is ErrTransient.
var readOnly = map[string]bool{
	"PowerState": true, "Events": true, "DumpInProgress": true, "PowerRestorePolicy": true,
	"Mappings": true, "List": true, "Zones": true, "PortVLAN": true,
}

// Fault is a rule that changes how matching driver calls behave.
//
// Matching: a call matches when Driver equals the call's driver (one of
// the Driver constants; required), Method is "" or the call's method name
// (as in the interface: "Map", "PowerOff", ...), and Target is "" or one
// of the names the call involves:
//
//   - bmc: the server ID.
//   - storage: the array name; for Map and Unmap also the volume ID; and
//     every initiator passed (its normalised String) and the ID of each
//     server or host object that owns one.
//   - partition: "" only for List; the logical server ID and every member
//     for Compose, the logical server ID for Decompose.
//   - zoner: the fabric name; the WWPN and its server for Zones, AddMember
//     and RemoveMember, and the zone for the latter two.
//   - vlan: the switch name, the port, and the server that owns the port.
//
// Counting: every matching call counts, whether or not the fault acts on
// it. The first After matching calls pass untouched; then the fault acts
// on the next Times calls (0: on every later call), each with Probability
// (0 or 1: always). The draw is a hash of the world's seed, the fault, the
// call's driver, method and target and how many times this fault has
// seen that target: it does not depend on the order in which goroutines
// call, so concurrent callers that each make a deterministic sequence of
// calls on their own targets get the same failures on every run. After
// and Times count across all matching calls: with concurrent callers,
// which call is the Nth depends on scheduling (use a Target to pin it).
//
// Acting: Latency is slept first (through the world's sleeper; if ctx ends
// during it the call returns ctx's error and nothing changes). Then, in
// order: PowerUnknown makes a BMC's PowerState answer PowerUnknown with a
// nil error; LostResponse applies the call and returns an error wrapping
// ErrOutcomeUnknown (and Err too when set; for a read, ErrTransient);
// otherwise a non-nil Err fails the call without changing anything, with
// an error wrapping Err. A fault with only Latency slows calls down.
// ResponseLatency is slept after the call took effect, before the answer:
// if ctx ends during it, the caller gets ctx's error, and for a call that
// changes something also ErrOutcomeUnknown (the request was carried out;
// the caller cannot know).
//
// When several faults match a call, all count it and all their latencies
// add up; the earliest injected one that acts with an outcome decides it.
type Fault struct {
	Driver string // DriverBMC, DriverStorage, DriverPartition, DriverZoner or DriverVLAN
	Method string // method name, "" for every method
	Target string // server, volume, array, initiator, zone, port...; "" for any

	Err         error         // error kind to fail with (storage.ErrTransient, ...)
	After       int           // matching calls that pass before the fault acts
	Times       int           // calls it acts on; 0 for every one
	Probability float64       // chance of acting on an eligible call; 0 means 1
	Latency     time.Duration // added delay when acting, before the request takes effect
	// ResponseLatency is added after the request took effect.
	ResponseLatency time.Duration
	LostResponse    bool // apply the change but return ErrOutcomeUnknown
	PowerUnknown    bool // bmc PowerState only: answer PowerUnknown, nil
	// LandLate, with LostResponse on a storage Map, Unmap or
	// SwapInitiators, holds the change back: the call answers
	// ErrOutcomeUnknown at once and the change takes effect only when
	// LandLate more storage calls of the same caller have started (any
	// method, any array), just before the last of them acts, as a request
	// queued in an array lands after its client gave up. The caller is
	// the failover named in the call's context (failover sets it), so a
	// change lands while the failover that sent it still runs (or is
	// recovered), or never; a call made outside a failover counts every
	// storage call. Reads meanwhile do not show it; a change that fails
	// when it lands (the volume is gone) is dropped. Op logs it as its own
	// entry ("landed late").
	LandLate int
	// Then, when set, runs after each call the fault acts on has ended,
	// outside the world's lock, in the caller's goroutine: a script of
	// events at a precise call, such as a fenced server that powers itself
	// on (SetPower, ACPowerRestored). A fault with only Then is valid.
	Then func()
}

// FaultID names an injected fault, for RemoveFault.
type FaultID int

type faultState struct {
	id    FaultID
	f     Fault
	seen  int               // matching calls
	acted int               // calls acted on
	per   map[string]uint64 // matching calls per driver/method/target, for the draws
}

// Inject adds a fault and returns its ID. It returns an error wrapping
// ErrInvalid for an unknown driver or method, negative counts, a
// probability outside 0..1, PowerUnknown on anything but bmc PowerState,
// or a fault that does nothing at all.
func (w *World) Inject(f Fault) (FaultID, error) {
	ms, ok := methods[f.Driver]
	if !ok {
		return 0, errorf(errs.Invalid, "inject: unknown driver %q", f.Driver)
	}
	if f.Method != "" && !slices.Contains(ms, f.Method) {
		return 0, errorf(errs.Invalid, "inject: driver %s has no method %q", f.Driver, f.Method)
	}
	if f.After < 0 || f.Times < 0 || f.Latency < 0 || f.ResponseLatency < 0 || f.Probability < 0 || f.Probability > 1 {
		return 0, errorf(errs.Invalid, "inject: negative count, latency or bad probability in %+v", f)
	}
	if f.PowerUnknown && (f.Driver != DriverBMC || f.Method != "PowerState") {
		return 0, errorf(errs.Invalid, "inject: PowerUnknown applies to bmc PowerState only")
	}
	if f.LandLate < 0 || (f.LandLate > 0 && (!f.LostResponse || f.Driver != DriverStorage || readOnly[f.Method])) {
		return 0, errorf(errs.Invalid, "inject: LandLate needs LostResponse on a storage write")
	}
	if f.Err == nil && !f.LostResponse && !f.PowerUnknown && f.Latency == 0 && f.ResponseLatency == 0 && f.Then == nil {
		return 0, errorf(errs.Invalid, "inject: fault has no effect")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.nextFault++
	w.faults = append(w.faults, &faultState{id: w.nextFault, f: f})
	return w.nextFault, nil
}

// RemoveFault removes an injected fault; an unknown ID is ignored.
func (w *World) RemoveFault(id FaultID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.faults = slices.DeleteFunc(w.faults, func(fs *faultState) bool { return fs.id == id })
}

// ClearFaults removes every injected fault.
func (w *World) ClearFaults() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.faults = nil
}

// FailCalls makes the next times calls of driver.method on target fail
// with an error wrapping kind (times 0: every call). Method and target may
// be "" for any.
func (w *World) FailCalls(driver, method, target string, kind error, times int) (FaultID, error) {
	return w.Inject(Fault{Driver: driver, Method: method, Target: target, Err: kind, Times: times})
}

// LoseResponses makes the next times calls of driver.method on target take
// effect but return an error wrapping ErrOutcomeUnknown.
func (w *World) LoseResponses(driver, method, target string, times int) (FaultID, error) {
	return w.Inject(Fault{Driver: driver, Method: method, Target: target, LostResponse: true, Times: times})
}

// SetLatency makes every call of driver.method on target take d longer.
func (w *World) SetLatency(driver, method, target string, d time.Duration) (FaultID, error) {
	return w.Inject(Fault{Driver: driver, Method: method, Target: target, Latency: d})
}

// PowerStateUnknown makes the next times PowerState reads of server's BMC
// answer PowerUnknown (times 0: until the fault is removed): a BMC that
// cannot confirm the power state.
func (w *World) PowerStateUnknown(server string, times int) (FaultID, error) {
	return w.Inject(Fault{Driver: DriverBMC, Method: "PowerState", Target: server, PowerUnknown: true, Times: times})
}

// call is one driver call in progress.
type call struct {
	w       *World
	driver  string
	method  string
	target  string
	args    string
	lost    bool
	lostErr error
	ro      bool
	ctx     context.Context
	respLat time.Duration
	late    int      // LandLate of the deciding fault
	then    []func() // Then hooks of the faults that acted
}

// landing is a storage change held back by Fault.LandLate.
type landing struct {
	left     int    // storage calls to start before it lands
	failover string // whose calls count ("" for every call)
	apply    func() error
	desc     string
}

// effectLocked carries out a call's change (fn, under the world's lock),
// or, for a call whose deciding fault says LandLate, queues it to land
// later and reports nothing done yet.
func (c *call) effectLocked(fn func() error) error {
	if c.late > 0 && !c.ro {
		c.w.landings = append(c.w.landings, &landing{left: c.late, failover: opid.From(c.ctx), apply: fn, desc: c.method + " " + c.target + " [" + c.args + "]"})
		return nil
	}
	return fn()
}

// landLocked counts a starting storage call of failover against the
// held-back changes and applies those whose time has come, oldest first.
func (w *World) landLocked(failover string) {
	kept := w.landings[:0]
	for _, l := range w.landings {
		if l.failover != "" && l.failover != failover {
			kept = append(kept, l)
			continue
		}
		l.left--
		if l.left > 0 {
			kept = append(kept, l)
			continue
		}
		w.landing = true // violations it causes say so
		err := l.apply()
		w.landing = false
		w.ops = append(w.ops, Op{Seq: len(w.ops) + 1, Driver: DriverStorage, Method: "(landed late)", Target: l.desc, Err: err})
	}
	clear(w.landings[len(kept):])
	w.landings = kept
}

// start begins a driver call: it honours ctx, counts the call, applies the
// matching faults' latency and error, and returns the call to finish. When
// it returns an error the call is over (and logged).
func (w *World) start(ctx context.Context, driver, method, target, args string, keys ...string) (*call, error) {
	c := &call{w: w, driver: driver, method: method, target: target, args: args, ro: readOnly[method], ctx: ctx}
	if ctx == nil {
		return nil, c.end(errorf(errs.Invalid, "%s %s %s: nil context", driver, method, target))
	}
	if err := ctx.Err(); err != nil {
		return nil, c.end(fmt.Errorf("fake: %s %s %s: %w", driver, method, target, err))
	}
	var latency time.Duration
	var decide *faultState
	w.mu.Lock()
	if driver == DriverStorage && len(w.landings) > 0 {
		w.landLocked(opid.From(ctx))
	}
	for _, fs := range w.faults {
		if !fs.matches(driver, method, target, keys) {
			continue
		}
		fs.seen++
		if fs.seen <= fs.f.After || (fs.f.Times > 0 && fs.acted >= fs.f.Times) {
			continue
		}
		if p := fs.f.Probability; p > 0 && p < 1 && w.draw(fs, driver, method, target) >= p {
			continue
		}
		fs.acted++
		if fs.f.Then != nil {
			c.then = append(c.then, fs.f.Then)
		}
		latency += fs.f.Latency
		c.respLat += fs.f.ResponseLatency
		if decide == nil && (fs.f.Err != nil || fs.f.LostResponse || fs.f.PowerUnknown) {
			decide = fs
		}
	}
	w.mu.Unlock()
	if latency > 0 {
		if err := w.cfg.sleep(ctx, latency); err != nil {
			if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
				err = fmt.Errorf("%w (%v)", ctx.Err(), err)
			}
			return nil, c.end(fmt.Errorf("fake: %s %s %s: %w", driver, method, target, err))
		}
	}
	if decide != nil {
		f := decide.f
		switch {
		case f.PowerUnknown:
			return c, errPowerUnknown
		case f.LostResponse:
			c.lost, c.lostErr, c.late = true, f.Err, f.LandLate
		default:
			return nil, c.end(fmt.Errorf("fake: %s %s %s: injected fault: %w", driver, method, target, f.Err))
		}
	}
	return c, nil
}

// errPowerUnknown tells PowerState to answer PowerUnknown; start returns it
// together with a live call.
var errPowerUnknown = errors.New("fake: power unknown")

// draw returns a number in [0, 1) determined by the seed, the fault and
// the how-manieth call of driver.method on target this is for the fault.
func (w *World) draw(fs *faultState, driver, method, target string) float64 {
	key := driver + "\x00" + method + "\x00" + target
	if fs.per == nil {
		fs.per = map[string]uint64{}
	}
	n := fs.per[key]
	fs.per[key] = n + 1
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	x := h.Sum64() ^ w.cfg.seed*0x9e3779b97f4a7c15 ^ uint64(fs.id)<<32 ^ n*0xbf58476d1ce4e5b9
	// splitmix64 finaliser
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

func (fs *faultState) matches(driver, method, target string, keys []string) bool {
	f := fs.f
	if f.Driver != driver || (f.Method != "" && f.Method != method) {
		return false
	}
	if f.Target == "" || f.Target == target {
		return true
	}
	return slices.Contains(keys, f.Target)
}

// finish ends a call whose effect was attempted with result err, turning
// it into a lost response when a fault said so.
func (c *call) finish(err error) error {
	if c.respLat > 0 {
		if serr := c.w.cfg.sleep(c.ctx, c.respLat); serr != nil {
			cerr := c.ctx.Err()
			if cerr == nil {
				cerr = serr
			}
			if c.ro {
				return c.end(fmt.Errorf("fake: %s %s %s: waiting for the answer: %w", c.driver, c.method, c.target, cerr))
			}
			c.lost = true
			return c.end(fmt.Errorf("fake: %s %s %s: waiting for the answer: %w: %w", c.driver, c.method, c.target, errs.OutcomeUnknown, cerr))
		}
	}
	if c.lost {
		kind := errs.OutcomeUnknown
		if c.ro {
			kind = errs.Transient
		}
		if c.lostErr != nil {
			err = fmt.Errorf("fake: %s %s %s: response lost: %w: %w", c.driver, c.method, c.target, kind, c.lostErr)
		} else {
			err = fmt.Errorf("fake: %s %s %s: response lost: %w", c.driver, c.method, c.target, kind)
		}
	}
	return c.end(err)
}

// end logs the call, runs the Then hooks and returns err.
func (c *call) end(err error) error {
	defer func() {
		for _, fn := range c.then {
			fn()
		}
	}()
	c.w.mu.Lock()
	c.w.calls[c.driver+"."+c.method]++
	c.w.ops = append(c.w.ops, Op{
		Seq:      len(c.w.ops) + 1,
		Driver:   c.driver,
		Method:   c.method,
		Target:   c.target,
		Args:     c.args,
		Err:      err,
		Lost:     c.lost,
		Failover: opid.From(c.ctx),
	})
	c.w.mu.Unlock()
	return err
}

// Op is one driver call as the world saw it.
type Op struct {
	Seq    int    // 1, 2, ... in the order calls ended
	Driver string // DriverBMC, DriverStorage, ...
	Method string // "PowerOff", "Map", ...
	Target string // the server, volume, logical server, zone or port
	Args   string // a short summary of the other arguments
	Err    error  // what the caller got
	Lost   bool   // the change was applied but the response lost
	// Failover is the ID of the failover that made the call, from the
	// call's context ("" for calls made outside one).
	Failover string
}

// String formats the op as "3 storage.Map vol-1 [lun 0 -> srv02]: error".
func (o Op) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s.%s %s", o.Seq, o.Driver, o.Method, o.Target)
	if o.Failover != "" {
		fmt.Fprintf(&b, " (%s)", o.Failover)
	}
	if o.Args != "" {
		fmt.Fprintf(&b, " [%s]", o.Args)
	}
	if o.Err != nil {
		fmt.Fprintf(&b, ": %v", o.Err)
	}
	return b.String()
}

// Ops returns the log of every driver call so far, oldest first.
func (w *World) Ops() []Op {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.ops)
}

// ResetOps empties the operation log and the call counters.
func (w *World) ResetOps() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ops = nil
	clear(w.calls)
}

// Calls counts the calls of driver.method so far (method "" counts every
// method of driver), including failed ones.
func (w *World) Calls(driver, method string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if method != "" {
		return w.calls[driver+"."+method]
	}
	n := 0
	for _, m := range methods[driver] {
		n += w.calls[driver+"."+m]
	}
	return n
}
