// Package storage defines the contract between coldstandby and a disk
// array's LUN masking: which volumes each host initiator sees, and under
// which host LUN number.
//
// Import it to write a storage driver (see storage/storagetest for the
// conformance suite every driver must pass) or to name initiators. The
// failover package is the only caller of DiskMapper inside coldstandby; it
// adds validation, retries, timeouts and journaling, so drivers stay thin.
package storage

import (
	"context"

	"github.com/coldstandby/coldstandby/internal/errs"
)

// Error kinds. Every error a driver returns should wrap one of them (or a
// context error) so that callers can decide with errors.Is. They are the
// same values as the ones exported by bmc, partition and fabric.
var (
	ErrNotFound       = errs.NotFound
	ErrConflict       = errs.Conflict
	ErrTransient      = errs.Transient
	ErrUnsupported    = errs.Unsupported
	ErrOutcomeUnknown = errs.OutcomeUnknown
	ErrInvalid        = errs.Invalid
)

// VolumeID names a logical volume inside one disk array (an ONTAP LUN path,
// a tgt target and LUN, a Pure volume name). Drivers document their format.
type VolumeID string

// Mapping is one volume as seen by a host: the volume and the host LUN
// number the host's initiators address it by. The LUN number is what a
// SAN-booting server's HBA BIOS and OS remember, so a failover keeps it.
type Mapping struct {
	Volume VolumeID
	LUN    int
}

// DiskMapper is LUN masking in one disk array.
//
// A "host" below is a set of initiators belonging to one server (its HBA
// ports). Host LUN numbers are per host: two hosts may use LUN 0 for
// different volumes, but one host sees each LUN number at most once.
//
// Implementations must be safe for concurrent use. Every method honours ctx:
// when ctx is done before the array answered, the method returns an error
// that wraps ctx.Err(); when the request had already been sent, the error
// also wraps ErrOutcomeUnknown.
//
// A request whose answer was lost: ErrOutcomeUnknown means the change
// may have taken effect, or may still take effect later (a request the
// array had queued when ctx ended: drivers return promptly on ctx and
// cannot always withdraw what they sent). It never means a partial
// change: the request lands whole or not at all. A driver settles the
// outcome where it can without outliving ctx (re-reading before it
// returns, or using an array that carries out each request before it
// answers the next one on the connection, as tgtd and ONTAP's synchronous
// REST calls do), and says in its package doc when a request may land
// after it returned. Callers re-read (Mappings) before acting again and
// must not take one read as final. The failover package journals the
// volumes it first read, reconciles the array with them on every attempt,
// before a spare boots, before it commits and before it gives up, so a
// write that lands late during a failover is found and undone (no volume
// is left masked to nobody, no spare boots without its disk, none boots
// seeing another server's volume); it cannot keep such a write from
// masking a volume to a second, powered-off, server for a moment.
type DiskMapper interface {
	// Mappings returns the volumes visible to any of the initiators, with
	// their host LUN numbers, sorted by LUN then volume. Initiators the
	// array does not know see nothing: the result is empty, not an error.
	//
	// Errors: ErrInvalid for an empty or zero initiator list;
	// ErrTransient; ctx errors.
	Mappings(ctx context.Context, initiators []Initiator) ([]Mapping, error)

	// Map makes volume visible to every one of initiators at host LUN lun
	// (0 <= lun <= 16383; an array with a smaller range, such as ONTAP's
	// 0..4095, refuses the rest with ErrInvalid; an array whose LUN numbers
	// are fixed per volume, such as tgt's, answers a different lun with
	// ErrConflict).
	//
	// Idempotent: mapping a volume that is already mapped to these
	// initiators at the same LUN returns nil and changes nothing.
	//
	// Errors: ErrNotFound for an unknown volume (and, for arrays that
	// require host objects, an initiator no host has); ErrConflict when
	// one of the initiators already sees another volume at lun, or already
	// sees this volume at another LUN; ErrInvalid for a LUN out of range,
	// an empty initiator list or a zero initiator; ErrTransient; ErrOutcomeUnknown; ctx errors. On
	// error nothing was changed, except with ErrOutcomeUnknown.
	Map(ctx context.Context, volume VolumeID, initiators []Initiator, lun int) error

	// Unmap hides volume from every one of initiators.
	//
	// Idempotent: unmapping a volume the initiators do not see returns nil.
	//
	// Errors: ErrNotFound for an unknown volume; ErrConflict when the
	// array cannot hide the volume from these initiators alone (an ONTAP
	// igroup shared with other initiators); ErrInvalid for an empty
	// initiator list or a zero initiator; ErrTransient; ErrOutcomeUnknown;
	// ctx errors.
	Unmap(ctx context.Context, volume VolumeID, initiators []Initiator) error
}

// InitiatorSwapper is an optional capability of arrays that keep host
// objects (ONTAP igroups, Pure and PowerStore hosts): replace the
// initiators of the host that holds from with to, leaving every mapping and
// LUN number as it is. It is the cheapest and safest way to move a failed
// server's disks to a spare. Callers type-assert a DiskMapper for it.
type InitiatorSwapper interface {
	// SwapInitiators finds the host object whose initiators are exactly
	// from, and makes its initiators exactly to. Afterwards the initiators
	// in to see every volume from saw, at the same LUN numbers, and from
	// sees nothing through that host.
	//
	// The host never holds initiators of both sets at once (I2: remove
	// from, then add to), and a swap cut short at any point (a crash, an
	// ErrOutcomeUnknown) is finished by calling SwapInitiators again with
	// the same arguments, even though the host then holds neither set.
	//
	// Idempotent: when a host already has exactly to (and none has from),
	// it returns nil. Drivers whose arrays allow an initiator in one host
	// only remove the initiators of to from any other host first, and
	// fail with ErrConflict if such a host still has mappings.
	//
	// Errors: ErrNotFound when no host has from (nor already to);
	// ErrConflict; ErrInvalid; ErrTransient; ErrOutcomeUnknown; ctx errors.
	SwapInitiators(ctx context.Context, from, to []Initiator) error
}
