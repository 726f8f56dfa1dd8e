package failover

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/internal/errs"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// Error kinds shared with the driver packages (the same values as
// bmc.ErrConflict, storage.ErrConflict, ...).
var (
	// ErrNotFound: no record or failover with that ID.
	ErrNotFound = errs.NotFound
	// ErrConflict: a compare-and-set lost (a stale Revision, a journal
	// sequence number already used), or a request contradicts the state
	// (a spare reserved by another failover).
	ErrConflict = errs.Conflict
	// ErrTransient: the store or a device failed before acting; retrying
	// may succeed.
	ErrTransient = errs.Transient
	// ErrInvalid: malformed input (an empty ID, a bad record).
	ErrInvalid = errs.Invalid
)

// ErrNotLeader is returned by a Store shared by several Orchestrators
// (etcd) when this instance is no longer the leader: its fencing token is
// stale, so none of its writes took effect and none will. The Orchestrator
// stops acting at once when it sees it: it runs no further driver call and
// no rollback, and leaves the failover to the new leader's Recover.
var ErrNotLeader = errors.New("failover: this instance is not the leader")

// LeaderChecker is an optional capability of a Store shared by several
// Orchestrators (etcd, with an election): it tells the Orchestrator that
// this instance has lost leadership without waiting for a store write to
// fail with ErrNotLeader. The Orchestrator makes driver calls with no
// store write between them (a forced power-off after a failed shutdown,
// retries, the edits of one zoning transaction, parallel steps), so a
// deposed instance that learned it only from writes could keep acting on
// the hardware while the new leader already recovers the same failover.
//
// When the Store implements LeaderChecker, the Orchestrator calls Deposed
// before every driver call attempt; once it returns true the failover
// stops as on ErrNotLeader: no further driver call, no rollback, outcome
// OutcomeInterrupted with an error wrapping ErrNotLeader, the journal left
// open for the new leader's Recover.
//
// Deposed must be cheap and must not block (no I/O: it is called before
// every device call; report a flag kept up to date by the store's session
// or lease watcher), be safe for concurrent use, and be conservative:
// return true as soon as leadership may be lost (a lease about to expire,
// a session whose keep-alive failed), and keep returning true for the
// life of the Store value (a new term needs a new Store and Orchestrator).
type LeaderChecker interface {
	Deposed() bool
}

// BMCRef says how to reach a server's BMC. The Orchestrator does not
// interpret it: Drivers.BMC turns a Record into a bmc.BMC.
type BMCRef struct {
	Driver      string `json:"driver,omitempty"`      // e.g. "ipmi", "redfish", "fake"
	Endpoint    string `json:"endpoint,omitempty"`    // host[:port] or URL
	Credentials string `json:"credentials,omitempty"` // a reference to a secret (never the secret)
}

// HBA is one host bus adapter port of a server: the initiator the disk
// array masks LUNs to, and, for Fibre Channel, the fabric it is cabled to.
// A failed server's HBA i is replaced by the spare's HBA i (search
// guarantees equal HBA port counts).
type HBA struct {
	Initiator storage.Initiator `json:"initiator"`
	Fabric    string            `json:"fabric,omitempty"` // FC fabric name; "" for iSCSI/NVMe-TCP or no zoning
}

// NIC is one network port of a server and the switch port it is cabled
// to. A failed server's NIC i is replaced by the spare's NIC i.
type NIC struct {
	Switch string `json:"switch"` // the VLANSwitch name in Drivers
	Port   string `json:"port"`
}

// Record is one row of the patent's server management table plus the
// wiring the Orchestrator needs to act on the server. Values are
// JSON-serialisable so that durable stores can keep them as documents.
type Record struct {
	// Server is what the spare search sees (hardware, switch, disk array,
	// zone, VLANs, state, workload, priority, partition).
	search.Server

	BMC  BMCRef `json:"bmc"`
	HBAs []HBA  `json:"hbas,omitempty"`
	NICs []NIC  `json:"nics,omitempty"`

	// Reservation is the ID of the failover that holds this server (as
	// the spare it is turning into, as a preemption victim, or as a
	// relocation target). While it is set no other failover may use the
	// server (I4). Set and cleared only by compare-and-set.
	Reservation string `json:"reservation,omitempty"`

	// MovedTo is, for a failed or preempted server, the server that now
	// runs its workload ("" when the workload was only stopped).
	MovedTo search.ServerID `json:"moved_to,omitempty"`
	// Home is, for a server running a workload taken over in a failover,
	// the server the workload originally ran on (used by Failback).
	Home search.ServerID `json:"home,omitempty"`
	// Parked lists the volumes that were unmapped from this server when
	// a higher-priority failover preempted it and its workload was only
	// stopped (not relocated): what to map back, with the same LUNs, to
	// restart that workload. They are masked to no server meanwhile.
	Parked []ParkedVolume `json:"parked,omitempty"`
	// Note is a short human-readable reason for the current state
	// ("fencing failed: ...", "preempted by r01", ...).
	Note string `json:"note,omitempty"`

	// PendingFaults are faults delivered for this server while a
	// failover held it (as its spare, a victim or a relocation target):
	// that failover treats the server as broken, and when it ends the
	// faults are handled as if delivered then. Kept in the record so a
	// crash does not lose them.
	PendingFaults []bmc.Fault `json:"pending_faults,omitempty"`
	// RestorePolicy is, for a fenced server whose BMC can keep it off
	// (bmc.PowerRestorer), the power-restore policy it had before fencing
	// set it to stay off; MarkStandby gives it back.
	RestorePolicy bmc.RestorePolicy `json:"restore_policy,omitempty"`
	// SpareVLANs are, for a server that took over a workload, the
	// settings of its NICs' switch ports before it did (in NIC order);
	// Failback gives them back.
	SpareVLANs []fabric.PortVLAN `json:"spare_vlans,omitempty"`

	// Revision is the store's version of this record: 0 for a record that
	// was never written; set by the store on every write. A write carries
	// the Revision it read and fails with ErrConflict if the stored one
	// differs.
	Revision int64 `json:"revision"`
}

// ParkedVolume is a volume taken from a preempted server: the disk array,
// the volume and the host LUN number it had.
type ParkedVolume struct {
	Array  string           `json:"array"`
	Volume storage.VolumeID `json:"volume"`
	LUN    int              `json:"lun"`
}

// Phase is where a journaled step stands.
type Phase string

// Journal phases. A step is journaled as Intent before it runs and as
// Done or Failed after it; an undo during rollback is journaled as Undo
// (intent) and Undone after.
const (
	PhaseIntent Phase = "intent"
	PhaseDone   Phase = "done"
	PhaseFailed Phase = "failed"
	PhaseUndo   Phase = "undo"
	PhaseUndone Phase = "undone"
	// PhaseBegin opens a failover's journal (Data holds its header) and
	// PhaseEnd closes it (Data holds the outcome). A failover whose
	// journal has PhaseBegin and no PhaseEnd is unfinished.
	PhaseBegin Phase = "begin"
	PhaseEnd   Phase = "end"
)

// Entry is one record of a failover's write-ahead journal.
type Entry struct {
	// Seq is the entry's position in its failover's journal, from 1,
	// without gaps. The writer chooses it (the next number); the store
	// rejects a Seq that is not exactly one more than the last entry with
	// ErrConflict, which makes two writers on one failover impossible.
	Seq   int64     `json:"seq"`
	Time  time.Time `json:"time"`
	Phase Phase     `json:"phase"`
	// Step names the step ("fence", "reserve", "storage.move", ...) and
	// Target what it acts on ("r01", "array1:vol7", "fabricA:zone3").
	Step   string `json:"step,omitempty"`
	Target string `json:"target,omitempty"`
	// Data is step-specific state needed to redo or undo the step after a
	// crash (the masking saved before a move, a port's previous VLAN).
	Data json.RawMessage `json:"data,omitempty"`
	// Error is the failure message for PhaseFailed entries.
	Error string `json:"error,omitempty"`
}

// Store keeps the Orchestrator's state: server records with
// compare-and-set, and one write-ahead journal per failover.
//
// Implementations must be safe for concurrent use by several goroutines
// (and, for shared stores, several processes), honour ctx, and make every
// successful write durable before returning (the journal is what keeps a
// boot disk from being lost when the process dies: I7). Returned values
// are copies; callers may modify them.
//
// Every method may return ErrNotLeader (a shared store whose leadership
// this instance lost: nothing was written), ErrTransient (nothing was
// written), or a ctx error.
//
// The writes (Put, Append) may also return ErrOutcomeUnknown: the request
// was sent but its answer was lost (a timeout or a dropped connection to
// etcd), so the write may or may not have taken effect, or may take
// effect later. A store returns it rather than guess; it must never
// report ErrTransient or success for a write it cannot vouch for. Callers
// must re-read (Get, Journal) before acting again and never assume the
// write failed. The Orchestrator does so: after a lost Put it reads the
// records back (what it wrote: done; the Revisions it read: not done, so
// it writes again; anything else: another writer, handled as ErrConflict);
// after a lost Append it reads the journal back (its entry there: done;
// the journal one short: append again; anything else: it stops, leaving
// the failover to Recover). The compare-and-set on Revisions and journal
// Seqs is what makes a late-applying lost write harmless.
type Store interface {
	// Get returns the record of server id. Errors: ErrNotFound.
	Get(ctx context.Context, id search.ServerID) (Record, error)

	// List returns every record, sorted by ID.
	List(ctx context.Context) ([]Record, error)

	// Put writes recs atomically (all or none), each as a compare-and-set:
	// a record's Revision must equal the stored one (0 for a record that
	// must not exist yet). On success it returns the records as stored,
	// with their new Revisions (strictly increasing; any scheme, such as
	// a store-wide counter or etcd's ModRevision, will do). Writing a
	// record unchanged still bumps its Revision.
	//
	// Errors: ErrConflict when any Revision is stale (nothing written);
	// ErrInvalid for an empty ID or the same ID twice in recs;
	// ErrOutcomeUnknown when the answer was lost (all or none of recs may
	// have been written: re-read them with Get).
	Put(ctx context.Context, recs ...Record) ([]Record, error)

	// Append adds e to the journal of failover id, durably. e.Seq must be
	// one more than the journal's last Seq (1 for a new journal, whose
	// first entry must be PhaseBegin). A journal closed by PhaseEnd takes
	// no more entries.
	//
	// Errors: ErrConflict for a wrong Seq, an append to a closed journal,
	// or a new journal that does not start with PhaseBegin; ErrInvalid for
	// an empty id; ErrOutcomeUnknown when the answer was lost (e may or
	// may not be in the journal: re-read it with Journal).
	Append(ctx context.Context, id string, e Entry) error

	// Journal returns the entries of failover id, in Seq order.
	// Errors: ErrNotFound when the failover has no journal.
	Journal(ctx context.Context, id string) ([]Entry, error)

	// Unfinished returns the IDs of the failovers whose journal is not
	// closed by PhaseEnd, sorted.
	Unfinished(ctx context.Context) ([]string, error)
}

// Deleter is an optional capability of a Store: deleting records,
// atomically (all or none), each as a compare-and-set on its Revision like
// Put. Applying a site file removes the servers that left it through it.
// The Orchestrator never deletes; a caller must not delete a record a
// failover holds (Reservation) or an unfinished journal names.
//
// Errors: ErrConflict when a Revision is stale (nothing deleted);
// ErrNotFound for a record that does not exist (nothing deleted);
// ErrInvalid for an empty ID or the same ID twice; ErrOutcomeUnknown when
// the answer was lost (re-read with Get).
type Deleter interface {
	Delete(ctx context.Context, recs ...Record) error
}

// Batch is one atomic write of a Batcher: entries appended to journals,
// and records written with compare-and-set.
type Batch struct {
	// Appends are journal entries, per failover, each appended as
	// Store.Append would (Seq rules, PhaseBegin first, none after
	// PhaseEnd), in order.
	Appends []Append
	// Puts are records written as Store.Put writes them.
	Puts []Record
}

// Append is the entries of one failover's journal in a Batch.
type Append struct {
	ID      string
	Entries []Entry
}

// Batcher is an optional capability of a Store: one atomic, durable write
// of journal entries and records together (one round trip to a remote
// store, one transaction of an embedded one). The Orchestrator uses it to
// journal a step's intent together with the results of the steps before
// it, to open a failover's journal together with its claim on the failed
// server, and to reserve a joint plan together with each failover's
// intent: it takes a failover from about 35 store round trips to about
// 10. Without it the Orchestrator writes the same things one by one, in
// an order that stays safe after a crash.
//
// Errors: those of Put and Append. ErrConflict when a Revision is stale,
// a Seq is not the next one, a journal is closed or a new journal does not
// start with PhaseBegin: nothing was written; ErrInvalid as Put and Append
// say; ErrOutcomeUnknown when the answer was lost (all or nothing may
// have been written: re-read).
type Batcher interface {
	Write(ctx context.Context, b Batch) ([]Record, error)
}
