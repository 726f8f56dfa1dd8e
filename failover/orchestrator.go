package failover

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/partition"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// More error kinds of this package.
var (
	// ErrNoSpare: search found no replacement (the error explains why
	// each candidate was rejected). The same value as search.ErrNoSpare.
	ErrNoSpare = search.ErrNoSpare
	// ErrFencingFailed: the failed server (or a preemption victim) could
	// not be confirmed off, so its disks were left where they were (I1).
	ErrFencingFailed = errors.New("fencing failed")
	// ErrRollbackFailed: undoing a failed attempt did not complete; the
	// failover's journal stays open and Recover retries the rollback.
	ErrRollbackFailed = errors.New("rollback failed")
	// ErrOutcomeUnknown (a driver call or store write whose answer was
	// lost: it may or may not have taken effect) and ErrUnsupported, as in
	// the driver packages.
	ErrOutcomeUnknown = bmc.ErrOutcomeUnknown
	ErrUnsupported    = bmc.ErrUnsupported
)

// Drivers are the Orchestrator's ways to reach the hardware. Every field
// is optional: a failover skips the steps whose driver is missing (and the
// plan's step list says so), except BMC, without which no server can be
// fenced or booted, so every failover ends in fencing failed.
type Drivers struct {
	// BMC returns the BMC of a server, from its record (BMCRef).
	BMC func(Record) (bmc.BMC, error)
	// DiskMappers by disk array name (search.Server.DiskArray).
	DiskMappers map[string]storage.DiskMapper
	// Partitions composes logical servers (the Recomposed plans).
	Partitions partition.PartitionManager
	// FCZoners by fabric name (HBA.Fabric).
	//
	// An FCZoner's pending edits are shared by all its callers, and a
	// switch aborts them all when a commit fails, so the Orchestrator runs
	// one zoning transaction at a time per FCZoner instance (the same
	// instance registered under two fabric names is one), and reads the
	// zones back after each commit. It cannot see other writers: one
	// Orchestrator must be the only writer of a fabric's zoning through
	// that FCZoner (no second Orchestrator, operator script or other tool
	// sharing its session or zoning configuration while failovers run);
	// another writer's failed commit could drop edits the Orchestrator
	// already verified. Several Orchestrators sharing a Store must each
	// be leader-guarded (see LeaderChecker) so that only one acts.
	FCZoners map[string]fabric.FCZoner
	// VLANSwitches by switch name (NIC.Switch).
	VLANSwitches map[string]fabric.VLANSwitch
}

// Outcome is how a fault or failover ended.
type Outcome string

// Outcomes.
const (
	OutcomeDone          Outcome = "done"           // the spare runs the workload
	OutcomeReported      Outcome = "reported"       // the table says report only, or nothing to fail over
	OutcomeAbsorbed      Outcome = "absorbed"       // a repeated fault for a server already handled
	OutcomeCancelled     Outcome = "cancelled"      // a delayed action: the server recovered
	OutcomeFencingFailed Outcome = "fencing-failed" // I1: stopped, disks untouched
	OutcomeNoSpare       Outcome = "no-spare"       // fenced, but nothing can take over
	OutcomeFailed        Outcome = "failed"         // every candidate failed and was rolled back
	OutcomeInterrupted   Outcome = "interrupted"    // the store said ErrNotLeader (or ctx ended): Recover finishes it
	// OutcomeRefused: nothing was done because the site is invalid (a
	// bad record, a driver missing for a record; see Check): the error
	// wraps ErrInvalid and names the problems. Fix them and deliver the
	// fault again.
	OutcomeRefused Outcome = "refused"
	// OutcomeDeferred: the server is held by another failover (as its
	// spare, a victim or a relocation target). The fault is kept in the
	// server's record (Record.PendingFaults): the holding failover treats
	// the server as broken, and when it ends the fault is handled as if
	// delivered then.
	OutcomeDeferred Outcome = "deferred"
)

// AuditEntry is one step of a failover as it ran.
type AuditEntry struct {
	Step     string        // "fence", "reserve", "storage", "zone", "vlan", "boot", "commit", ... ("undo:" prefix in rollback)
	Target   string        // what it acted on
	Driver   string        // "bmc", "storage", "partition", "zoner", "vlan", "store"
	Attempts int           // driver-call attempts (retries included)
	Start    time.Time     // by the Orchestrator's clock
	Duration time.Duration // by the Orchestrator's clock
	Err      string        // "" when it succeeded
}

// Result is the outcome of one fault or failover.
type Result struct {
	ID       string // failover ID ("" when no failover was started)
	Server   search.ServerID
	Fault    bmc.Fault
	Action   Action
	Outcome  Outcome
	Plan     search.Plan // the plan that was committed (or last tried)
	Attempts int         // plans tried
	Audit    []AuditEntry
	Duration time.Duration
	Err      error
}

// Orchestrator runs failovers. It is safe for concurrent use: faults for
// different servers are handled concurrently, and the Store's
// compare-and-set keeps them from taking the same spare.
type Orchestrator struct {
	store  Store
	leader LeaderChecker // the store's, when it has one
	drv    Drivers
	cfg    config

	mu       sync.Mutex
	inflight map[search.ServerID]*flight // servers whose fault is being handled
	live     map[string]*run             // the failovers this instance is running (Recover leaves them alone)
	zoneQ    map[any]*zoneQueue          // per FCZoner instance: one zoning transaction at a time
	draining map[search.ServerID]bool    // servers whose kept faults are being handled
	pl       planner                     // plans and reserves, one round at a time
	ls       lister                      // coalesced reads of every record
	checked  struct {                    // the last site check (checkSite)
		sync.Mutex
		key   uint64
		n     int
		err   error
		valid bool
		// snap is the check of the snapshot last checked (lister shares
		// them): callers with the same snapshot wait for its result.
		snap *snapCheck
	}
	seq atomic.Int64
}

// flight is a fault being handled for a server (and its partition).
// Its fields are guarded by Orchestrator.mu.
type flight struct {
	servers []search.ServerID
	cancel  context.CancelFunc // ends the wait of a delayed action (nil when not waiting)
	// now is set when a fault whose rule says act now arrived during the
	// wait: the wait ends and the failover acts on that fault.
	now *bmc.Fault
}

// New returns an Orchestrator over store and drivers. It reads the
// store's records once (bounded by Timeouts.Step) and runs Check on them:
// it returns an error wrapping ErrInvalid for a nil store, a bad option,
// an invalid record, or an array, fabric, switch or partition that a
// record names with neither a driver nor an Unmanaged entry (each problem
// named), and the store's error when it cannot be read.
func New(store Store, drivers Drivers, opts ...Option) (*Orchestrator, error) {
	if store == nil {
		return nil, fmt.Errorf("failover: New: nil Store: %w", ErrInvalid)
	}
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	leader, _ := store.(LeaderChecker)
	o := &Orchestrator{
		store:    store,
		leader:   leader,
		drv:      drivers,
		cfg:      cfg,
		inflight: map[search.ServerID]*flight{},
		live:     map[string]*run{},
		zoneQ:    map[any]*zoneQueue{},
		draining: map[search.ServerID]bool{},
	}
	// Refuse a site the Orchestrator could not act on, before any fault
	// does: a bad record or a missing driver would otherwise be found
	// after a server was fenced.
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeouts.Step)
	defer cancel()
	if err := o.Check(ctx); err != nil {
		return nil, err
	}
	return o, nil
}

// Store returns the Orchestrator's store.
func (o *Orchestrator) Store() Store { return o.store }

func (o *Orchestrator) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = o.cfg.clock.Now()
	}
	logEvent(o.cfg.log, e)
	for _, fn := range o.cfg.observers {
		fn(e)
	}
}

func (o *Orchestrator) rule(t bmc.FaultType) Rule {
	if r, ok := o.cfg.actions[t]; ok {
		return r
	}
	return o.cfg.defAction
}

// claim registers servers as handled; it fails when one already is.
func (o *Orchestrator) claim(ids []search.ServerID, fl *flight) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, id := range ids {
		if _, busy := o.inflight[id]; busy {
			return false
		}
	}
	fl.servers = ids
	for _, id := range ids {
		o.inflight[id] = fl
	}
	return true
}

func (o *Orchestrator) release(fl *flight) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, id := range fl.servers {
		if o.inflight[id] == fl {
			delete(o.inflight, id)
		}
	}
}

// adopt registers r as run by this instance; it fails when its ID
// already is (Recover must not roll back a failover that is still
// acting).
func (o *Orchestrator) adopt(r *run) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.live[r.id] != nil {
		return false
	}
	o.live[r.id] = r
	return true
}

// disown ends adopt: the run has stopped acting.
func (o *Orchestrator) disown(r *run) {
	o.mu.Lock()
	if o.live[r.id] == r {
		delete(o.live, r.id)
	}
	o.mu.Unlock()
}

// liveRun returns the run of failover id if this instance runs it.
func (o *Orchestrator) liveRun(id string) *run {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.live[id]
}

// members returns the records of the logical server rec belongs to,
// sorted by ID.
func members(all []Record, rec Record) []Record {
	if rec.Partition == "" {
		return []Record{rec}
	}
	var out []Record
	for _, r := range all {
		if r.Partition == rec.Partition {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// membersOf returns the members of rec's logical server (listing the
// store only for a partition member).
func (o *Orchestrator) membersOf(ctx context.Context, rec Record) ([]Record, error) {
	if rec.Partition == "" {
		return []Record{rec}, nil
	}
	all, err := o.store.List(ctx)
	if err != nil {
		return nil, err
	}
	return members(all, rec), nil
}

func ids(recs []Record) []search.ServerID {
	out := make([]search.ServerID, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// newID makes a failover ID.
func (o *Orchestrator) newID(server search.ServerID) string {
	return fmt.Sprintf("%s-%d-%d", server, o.cfg.clock.Now().UnixNano(), o.seq.Add(1))
}
