// Package fabric defines the contracts between coldstandby and the
// networks a spare must join: Fibre Channel zoning (FCZoner) and Ethernet
// switch port VLANs (VLANSwitch).
//
// Import it to write a switch driver; fabric/fabrictest is the conformance
// suite. drivers/brocade, drivers/ovs and drivers/openconfig implement it
// for real switches, drivers/fake for tests.
package fabric

import (
	"context"

	"github.com/coldstandby/coldstandby/internal/errs"
	"github.com/coldstandby/coldstandby/storage"
)

// Error kinds, the same values as in bmc, storage and partition.
var (
	ErrNotFound       = errs.NotFound
	ErrConflict       = errs.Conflict
	ErrTransient      = errs.Transient
	ErrUnsupported    = errs.Unsupported
	ErrOutcomeUnknown = errs.OutcomeUnknown
	ErrInvalid        = errs.Invalid
)

// FCZoner edits the zoning of one Fibre Channel fabric (one principal
// switch, one virtual fabric).
//
// Switches edit zoning in a transaction: AddMember and RemoveMember change
// the defined (pending) configuration, and Commit makes it the active one.
// Nothing reaches the fabric before Commit. Implementations must be safe
// for concurrent use; changes made by concurrent callers through one
// FCZoner share its transaction and are committed together. Every method
// honours ctx (an error wrapping ctx.Err(), plus ErrOutcomeUnknown when a
// change had been sent).
type FCZoner interface {
	// Zones returns the names of the zones that have member wwpn in the
	// defined configuration (including uncommitted changes), sorted.
	// A WWPN in no zone gives an empty list, not an error.
	// Errors: ErrInvalid when wwpn is not an FC initiator; ErrTransient.
	Zones(ctx context.Context, wwpn storage.Initiator) ([]string, error)

	// AddMember adds wwpn to zone in the defined configuration.
	// Idempotent: a member already in the zone returns nil.
	// Errors: ErrNotFound for an unknown zone; ErrInvalid; ErrConflict when
	// another management session holds the switch's zoning transaction;
	// ErrTransient.
	AddMember(ctx context.Context, zone string, wwpn storage.Initiator) error

	// RemoveMember removes wwpn from zone in the defined configuration.
	// Idempotent: a WWPN that is not a member returns nil.
	// Errors as AddMember.
	RemoveMember(ctx context.Context, zone string, wwpn storage.Initiator) error

	// Commit saves the defined configuration and activates it. With
	// nothing pending it returns nil.
	//
	// When the commit fails (a stale checksum, a lock held by another
	// session, a switch error) the driver aborts its transaction, so that
	// the defined configuration equals the active one again and no change
	// of this FCZoner stays pending, and returns the error (ErrConflict or
	// ErrTransient). The caller re-reads with Zones and applies its changes
	// again before retrying; an aborted change never half-applies.
	// ErrOutcomeUnknown means the activation may have happened: re-read.
	Commit(ctx context.Context) error
}

// Aborter is an optional capability of an FCZoner: discard the pending
// changes of this FCZoner's transaction (the defined configuration
// becomes the active one again) and release what the transaction holds on
// the switch (a REST session, the fabric's zoning lock). Callers that made
// changes and then give up without Commit (a failed step, a rollback, a
// deposed leader) call it, under a context that survives their own
// cancellation. The FCZoner stays usable afterwards.
//
// Idempotent: with nothing pending it returns nil. Errors: ErrTransient,
// ErrOutcomeUnknown, ctx errors; after any error the switch's own session
// timeout still ends the transaction.
type Aborter interface {
	Abort(ctx context.Context) error
}

// VLANSwitch sets the VLANs of the ports of one Ethernet switch.
// Implementations must be safe for concurrent use and honour ctx.
type VLANSwitch interface {
	// PortVLAN reads port's VLAN setting, normalised (see PortVLAN).
	// Errors: ErrNotFound for an unknown port; ErrUnsupported for a
	// setting PortVLAN cannot express (a dot1q tunnel); ErrTransient.
	PortVLAN(ctx context.Context, port string) (PortVLAN, error)

	// SetPortVLAN replaces port's VLAN setting with v (declaratively: the
	// port ends up exactly as v says, whatever it was) and returns the
	// setting it had before, so that the caller can restore it.
	// Idempotent: setting what the port already has changes nothing and
	// returns it as prev. The read of prev and the replacement are atomic
	// per port: of two concurrent calls on one port, exactly one sees the
	// setting the port had before both.
	// Errors: ErrInvalid when v does not Validate; ErrNotFound for an
	// unknown port; ErrUnsupported for a valid setting the switch's model
	// cannot hold (OpenConfig has no trunk without tagged VLANs);
	// ErrTransient; ErrOutcomeUnknown; ctx errors.
	SetPortVLAN(ctx context.Context, port string, v PortVLAN) (prev PortVLAN, err error)
}
