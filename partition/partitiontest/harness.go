// Package partitiontest is the conformance suite for
// partition.PartitionManager drivers.
//
// Import it from a driver's tests (drivers/fake, drivers/redfish, or a
// driver of your own) and call Run with a function that builds a Harness:
// a fresh driver plus free member servers and a direct view of the
// platform's logical servers. The suite checks the normal path,
// idempotency, the documented error kinds, context cancellation and
// concurrent use, exactly as partition.PartitionManager's doc comments
// promise.
//
// The suite follows gocloud's blob/drivertest and testing/fstest.TestFS.
package partitiontest

import (
	"context"
	"time"

	"github.com/coldstandby/coldstandby/partition"
)

// Harness is one composition platform and the driver under test.
//
// Run calls newHarness once per subtest, so every subtest starts from a
// fresh harness; the harness releases what it holds through t.Cleanup.
// The platform may hold logical servers of its own when the harness is
// made; the suite leaves them alone and only composes from the members
// that Members returns, with IDs starting "conformance-".
type Harness interface {
	// MakeManager returns the driver under test. The suite calls it once
	// per harness.
	MakeManager(ctx context.Context) (partition.PartitionManager, error)

	// Members returns n (at most 8) distinct member names, each in no
	// logical server, any combination of which the platform allows to be
	// composed into one logical server (same resource zone, powered off
	// if the platform requires it).
	Members(ctx context.Context, n int) ([]string, error)

	// LogicalServers returns the platform's logical servers, read
	// directly (the platform's API or the simulator's state, not the
	// driver under test), in any order; the suite compares member sets.
	LogicalServers(ctx context.Context) ([]partition.LogicalServer, error)
}

// Forbidder is an optional Harness capability of platforms that restrict
// which servers may be composed together (Redfish resource zones): it
// returns two free members, disjoint from anything Members returned, that
// the platform refuses to compose into one logical server. The suite then
// checks that Compose returns partition.ErrConflict and composes nothing.
type Forbidder interface {
	ForbiddenPair(ctx context.Context) ([2]string, error)
}

// TransientFailer is an optional Harness capability: make the driver's
// next request to the platform fail as if the platform had been briefly
// unreachable or busy, without the request taking effect. The suite then
// checks that the driver reports partition.ErrTransient, changed nothing,
// and succeeds when called again.
type TransientFailer interface {
	FailNext(ctx context.Context) error
}

// Staller is an optional Harness capability: the platform receives the
// driver's next request and holds it for d before carrying it out and
// answering, as an overloaded service does. The suite cancels the caller's context while
// the request is held and checks that the driver returns promptly with an
// error wrapping context.Canceled and, unless that error also wraps
// partition.ErrOutcomeUnknown, that the request never took effect (the
// suite looks again after d).
type Staller interface {
	StallNext(ctx context.Context, d time.Duration) error
}
