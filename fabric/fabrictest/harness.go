// Package fabrictest is the conformance suite for fabric.FCZoner and
// fabric.VLANSwitch drivers.
//
// Import it from a driver's tests (drivers/fake, drivers/brocade,
// drivers/ovs, drivers/openconfig, or a driver of your own) and call
// RunZoner or RunVLAN with a function that builds a harness: a fresh
// driver plus fixtures on the switch and a direct view of its
// configuration. The suites check the normal path, idempotency, the
// documented error kinds, context cancellation and concurrent use, exactly
// as the doc comments of fabric.FCZoner and fabric.VLANSwitch promise.
//
// The suites follow gocloud's blob/drivertest and testing/fstest.TestFS.
package fabrictest

import (
	"context"
	"time"

	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/storage"
)

// ZonerHarness is one Fibre Channel fabric and the FCZoner under test.
//
// RunZoner calls newHarness once per subtest, so every subtest starts from
// a fresh harness; the harness releases what it holds through t.Cleanup.
type ZonerHarness interface {
	// MakeZoner returns the driver under test. The suite calls it once
	// per harness.
	MakeZoner(ctx context.Context) (fabric.FCZoner, error)

	// ZoneFixture returns two distinct zones that exist in both the
	// defined and the active configuration, which the suite may change
	// and commit freely, and n (at most 8) distinct WWPNs that are
	// members of no zone.
	ZoneFixture(ctx context.Context, n int) (zones [2]string, wwpns []storage.Initiator, err error)

	// ActiveZones returns the names of the zones that have wwpn as a
	// member in the switch's active (committed) configuration, read
	// directly (the switch's API or the simulator's state, not the driver
	// under test), in any order.
	ActiveZones(ctx context.Context, wwpn storage.Initiator) ([]string, error)
}

// CommitFailer is an optional ZonerHarness capability: make the driver's
// next Commit fail on the switch (a stale checksum, a transaction lock
// held by another session). The suite then checks that Commit returns
// fabric.ErrConflict or fabric.ErrTransient, that the active configuration
// is unchanged, and that the pending change was aborted (Zones shows the
// active configuration again).
type CommitFailer interface {
	FailNextCommit(ctx context.Context) error
}

// VLANHarness is one Ethernet switch and the VLANSwitch under test.
//
// RunVLAN calls newHarness once per subtest, so every subtest starts from
// a fresh harness; the harness releases what it holds through t.Cleanup.
type VLANHarness interface {
	// MakeSwitch returns the driver under test. The suite calls it once
	// per harness.
	MakeSwitch(ctx context.Context) (fabric.VLANSwitch, error)

	// VLANFixture returns n (at most 8) distinct ports that the suite may
	// reconfigure freely, and two valid settings a and b (Validate
	// returns nil; !a.Equal(b)) that every one of these ports accepts.
	// No port starts with a or b.
	VLANFixture(ctx context.Context, n int) (ports []string, a, b fabric.PortVLAN, err error)

	// ReadPort returns port's setting, read directly (ovs-vsctl, the
	// simulator's state, not the driver under test), normalised.
	ReadPort(ctx context.Context, port string) (fabric.PortVLAN, error)
}

// TransientFailer is an optional capability of ZonerHarness and
// VLANHarness: make the driver's next request to the switch fail as if
// the switch had been briefly unreachable or busy, without the request
// taking effect. The suite then checks that the driver reports
// fabric.ErrTransient, changed nothing, and succeeds when called again.
type TransientFailer interface {
	FailNext(ctx context.Context) error
}

// Staller is an optional Harness capability: the switch receives the
// driver's next request and holds it for d before carrying it out and
// answering, as an overloaded switch does. The suite cancels the caller's context while
// the request is held and checks that the driver returns promptly with an
// error wrapping context.Canceled and, unless that error also wraps
// fabric.ErrOutcomeUnknown, that the request never took effect (the
// suite looks again after d). It is an optional capability of
// ZonerHarness and VLANHarness alike.
type Staller interface {
	StallNext(ctx context.Context, d time.Duration) error
}
