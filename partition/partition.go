// Package partition defines the contract between coldstandby and the
// platform that composes several physical servers into one logical server
// (the patent's partitions: a multi-node SMP, a Redfish composed system).
//
// Import it to write a composition driver; partition/partitiontest is the
// conformance suite. drivers/redfish implements it over the Redfish
// CompositionService, drivers/fake for tests.
package partition

import (
	"context"

	"github.com/coldstandby/coldstandby/internal/errs"
)

// Error kinds, the same values as in bmc, storage and fabric.
var (
	ErrNotFound       = errs.NotFound
	ErrConflict       = errs.Conflict
	ErrTransient      = errs.Transient
	ErrUnsupported    = errs.Unsupported
	ErrOutcomeUnknown = errs.OutcomeUnknown
	ErrInvalid        = errs.Invalid
)

// LogicalServer is a composed server: an ID and its member servers, in the
// order the platform lists them (members[0] is the boot node where the
// platform has one).
type LogicalServer struct {
	ID      string
	Members []string
}

// PartitionManager lists, composes and decomposes logical servers.
//
// Member names are the physical servers' IDs as the platform knows them
// (drivers that need another name, such as a Redfish resource block, map
// them in their configuration). Implementations must be safe for
// concurrent use and honour ctx (an error wrapping ctx.Err(), plus
// ErrOutcomeUnknown when a change had already been sent).
type PartitionManager interface {
	// List returns every logical server, sorted by ID.
	List(ctx context.Context) ([]LogicalServer, error)

	// Compose makes a logical server id from members (at least one; no
	// duplicates).
	//
	// Idempotent: when id already exists with the same members (in any
	// order) it returns nil.
	//
	// Errors: ErrNotFound for an unknown member; ErrConflict when id exists
	// with other members, when a member belongs to another logical server,
	// or when the platform forbids the combination (different resource
	// zones); ErrInvalid for an empty id or member list or a duplicate
	// member; ErrTransient; ErrOutcomeUnknown; ctx errors.
	Compose(ctx context.Context, id string, members []string) error

	// Decompose dissolves logical server id, freeing its members.
	// Idempotent: an id that does not exist returns nil. The platform may
	// require the members to be off; then a running one is ErrConflict.
	Decompose(ctx context.Context, id string) error
}
