// Package bmctest is the conformance suite for bmc.BMC drivers.
//
// Import it from a driver's tests (drivers/fake, drivers/bmclib, or a
// driver of your own) and call Run with a function that builds a Harness:
// a fresh driver plus direct access to the server behind it. The suite
// checks the normal path, idempotency, the documented error kinds,
// context cancellation and concurrent use, exactly as bmc.BMC's doc
// comments promise. Optional parts run only when the harness (or the
// driver) has the matching capability, which the suite discovers by type
// assertion; they are skipped, with the reason, otherwise.
//
// The suite follows gocloud's blob/drivertest and testing/fstest.TestFS.
package bmctest

import (
	"context"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
)

// Harness is one managed server, its BMC and the driver under test.
//
// Run calls newHarness once per group of subtests (PowerOn, Shutdown,
// Context/cancelled, ...) and for each subtest that needs a server of its
// own (the event log, an OS told to ignore shutdown); subtests of a group
// share the server and set the power state they start from with SetPower,
// which keeps the suite fast against slow simulators. The harness releases
// what it holds through t.Cleanup of the t it was given.
// SetPower and Power work on the server directly, without the driver under
// test (for example through ipmitool, the simulator's own API or the fake
// world), so that the suite can set up a state and check what the driver
// really did.
//
// The server's operating system honours a graceful shutdown (ACPI soft
// off): after the driver's Shutdown the server goes off within a few
// seconds, unless the harness implements ShutdownIgnorer and was told to
// ignore it.
type Harness interface {
	// MakeBMC returns the driver under test, connected to the server.
	// The suite calls it once per harness.
	MakeBMC(ctx context.Context) (bmc.BMC, error)

	// SetPower puts the server into state (bmc.PowerOn or bmc.PowerOff)
	// and returns once the server is in it.
	SetPower(ctx context.Context, state bmc.PowerState) error

	// Power reads the server's power state.
	Power(ctx context.Context) (bmc.PowerState, error)
}

// ShutdownIgnorer is an optional Harness capability: make the server's
// operating system ignore graceful shutdown requests from now on, as a
// hung OS does. The suite then checks that Shutdown still returns nil, the
// server stays on, and PowerOff turns it off.
type ShutdownIgnorer interface {
	IgnoreShutdown(ctx context.Context) error
}

// BootDeviceReader is an optional Harness capability: read the next boot
// device and whether it is persistent, directly from the server. With it
// the suite checks that SetBootDevice really changed the setting; without
// it, only that SetBootDevice answers as documented.
type BootDeviceReader interface {
	BootDevice(ctx context.Context) (dev bmc.BootDevice, persistent bool, err error)
}

// EventLogger is an optional Harness capability: write records into the
// BMC's event log and clear it, directly (for example with
// "ipmitool sel add" and "ipmitool sel clear"). With it the suite checks
// Events' cursor semantics: new records only, oldest first, and a restart
// from the beginning after the log was cleared.
type EventLogger interface {
	// AddEvent appends one record to the event log.
	AddEvent(ctx context.Context) error
	// ClearEvents empties the event log.
	ClearEvents(ctx context.Context) error
}

// TransientFailer is an optional Harness capability: make the driver's
// next request to the BMC fail as if the BMC had been briefly unreachable,
// without the request taking effect. The suite then checks that the driver
// reports bmc.ErrTransient, changed nothing, and succeeds when called
// again.
type TransientFailer interface {
	FailNext(ctx context.Context) error
}

// Staller is an optional Harness capability: the BMC receives the
// driver's next request and holds it for d before carrying it out and
// answering, as an overloaded BMC does. The suite cancels the caller's context while
// the request is held and checks that the driver returns promptly with an
// error wrapping context.Canceled and, unless that error also wraps
// bmc.ErrOutcomeUnknown, that the request never took effect (the
// suite looks again after d).
type Staller interface {
	StallNext(ctx context.Context, d time.Duration) error
}

// RestorePolicyReader is an optional Harness capability: read the
// server's power-restore policy directly from the BMC, without the driver
// (for example from "ipmitool chassis status"). With it the suite checks
// that SetPowerRestorePolicy really changed the setting and that
// PowerRestorePolicy reports what the BMC holds; without it, only that
// the driver reads back what it set.
type RestorePolicyReader interface {
	RestorePolicy(ctx context.Context) (bmc.RestorePolicy, error)
}
