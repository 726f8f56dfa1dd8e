// Package bmc defines the contract between coldstandby and one server's
// baseboard management controller (IPMI, Redfish or a vendor API): power,
// NMI, next boot device and the event log. It also names the fault types
// that the failover package acts on.
//
// Import it to write a BMC driver (bmc/bmctest is the conformance suite
// every driver must pass) or to deliver faults. drivers/bmclib implements
// it for real BMCs, drivers/fake for tests.
package bmc

import (
	"context"
	"time"

	"github.com/coldstandby/coldstandby/internal/errs"
)

// Error kinds, the same values as in storage, partition and fabric.
var (
	ErrNotFound       = errs.NotFound
	ErrConflict       = errs.Conflict
	ErrTransient      = errs.Transient
	ErrUnsupported    = errs.Unsupported
	ErrOutcomeUnknown = errs.OutcomeUnknown
	ErrInvalid        = errs.Invalid
)

// PowerState is the normalised chassis power state.
type PowerState string

// Power states. Anything a BMC reports that is not clearly on or off
// (Redfish "PoweringOn", "PoweringOff", "Paused", an unparsable answer) is
// PowerUnknown: fencing never treats it as off.
const (
	PowerUnknown PowerState = "unknown"
	PowerOn      PowerState = "on"
	PowerOff     PowerState = "off"
)

// BootDevice is the device a server boots from next.
type BootDevice string

// Boot devices. BootDisk covers SAN boot: the HBA's option ROM presents the
// SAN LUN as a disk (IPMI "disk", Redfish "Hdd").
const (
	BootDisk BootDevice = "disk"
	BootPXE  BootDevice = "pxe"
)

// Cursor marks a position in a BMC's event log; "" is the beginning.
// Drivers define its content (an IPMI SEL record id, a Redfish LogEntry
// id); callers only store it and pass it back.
type Cursor string

// Severity of an event record.
type Severity string

// Severities, following Redfish's Health values.
const (
	SeverityOK       Severity = "OK"
	SeverityWarning  Severity = "Warning"
	SeverityCritical Severity = "Critical"
)

// Event is one record of a BMC's event log, parsed.
type Event struct {
	ID         string    // record id within the log (IPMI SEL record id, LogEntry Id)
	Time       time.Time // when the BMC recorded it; zero if unknown
	SensorType uint8     // IPMI sensor type code (IPMI 2.0 table 42-3), 0 if none
	SensorName string    // sensor or component name, if known
	EventType  uint8     // IPMI event/reading type code (table 42-1), 0 if none
	Offset     uint8     // IPMI event offset within the sensor type (table 42-3)
	Asserted   bool      // true for an assertion, false for a deassertion
	Message    string    // human-readable description
	MessageID  string    // Redfish MessageId (e.g. "Platform.1.0.PowerSupplyFailed"), if any
	Severity   Severity
	Raw        string // the record as the BMC returned it, for audit
}

// BMC is one managed server's baseboard controller.
//
// Implementations must be safe for concurrent use, and every method must
// honour ctx: when ctx is done, return promptly with an error wrapping
// ctx.Err() (and ErrOutcomeUnknown when a state-changing request had
// already been sent). An unreachable BMC is ErrTransient; a server the
// BMC (or a multi-server driver) does not know is ErrNotFound.
type BMC interface {
	// PowerState reads the chassis power state. It never guesses: a state
	// it cannot read or parse is PowerUnknown with a nil error only when
	// the BMC answered something ambiguous; a failed read is an error.
	PowerState(ctx context.Context) (PowerState, error)

	// PowerOn turns the server on and returns once the BMC reports
	// PowerOn (drivers poll until ctx is done if the BMC answers early).
	// Idempotent: a server that is already on returns nil.
	PowerOn(ctx context.Context) error

	// Shutdown asks the operating system to shut down (ACPI soft off) and
	// returns once the request was delivered; it does not wait for the
	// server to go off, and the OS may ignore it. Callers poll PowerState.
	// Idempotent: a server that is already off returns nil.
	Shutdown(ctx context.Context) error

	// PowerOff cuts power at once (forced off) and returns once the BMC
	// reports PowerOff. Idempotent: a server that is already off returns
	// nil.
	PowerOff(ctx context.Context) error

	// NMI sends a diagnostic interrupt, which makes an OS configured for it
	// write a memory dump. BMCs that cannot return ErrUnsupported, whatever
	// the power state (it takes precedence). Precondition: the server is
	// on; otherwise ErrConflict.
	NMI(ctx context.Context) error

	// SetBootDevice sets the device the server boots from next (once, or
	// on every boot when persistent). Idempotent. An unknown device is
	// ErrInvalid, one the BMC cannot select ErrUnsupported.
	SetBootDevice(ctx context.Context, dev BootDevice, persistent bool) error

	// Events returns the event-log records after cursor, oldest first,
	// and the cursor to pass next time (unchanged when there are none).
	// A cursor that the log no longer holds (the log was cleared) restarts
	// from the beginning; it is not an error.
	Events(ctx context.Context, after Cursor) ([]Event, Cursor, error)
}

// DumpReporter is an optional capability of BMCs that can tell whether the
// operating system is writing a memory dump (for example from an OS
// critical-stop sensor or a vendor dump status). Fencing waits, bounded,
// while it reports true. Callers type-assert a BMC for it.
type DumpReporter interface {
	DumpInProgress(ctx context.Context) (bool, error)
}

// RestorePolicy is what a server does when mains power returns after an
// outage (IPMI "chassis policy", Redfish ComputerSystem
// PowerRestorePolicy).
type RestorePolicy string

// Restore policies.
const (
	// RestoreAlwaysOff keeps the server off when power returns (IPMI
	// always-off, Redfish AlwaysOff). Fencing sets it so that a fenced
	// server stays off.
	RestoreAlwaysOff RestorePolicy = "always-off"
	// RestoreAlwaysOn powers the server on when power returns (IPMI
	// always-on, Redfish AlwaysOn).
	RestoreAlwaysOn RestorePolicy = "always-on"
	// RestorePrevious returns the server to the state it had when power
	// was lost (IPMI previous, Redfish LastState).
	RestorePrevious RestorePolicy = "previous"
)

// PowerRestorer is an optional capability of BMCs that can read and set
// the power-restore policy. Fencing uses it to make a fenced server stay
// off (a server whose policy powers it on again when mains power returns
// would run beside the spare that took its disks); MarkStandby restores
// the policy it had. Callers type-assert a BMC for it.
type PowerRestorer interface {
	// PowerRestorePolicy reads the policy. A policy the BMC reports that
	// is none of the three (an OEM value) is returned as read, with a nil
	// error; callers compare it with the constants.
	//
	// Errors: ErrTransient; ErrUnsupported when this BMC cannot report it
	// after all (a driver over several protocols); ctx errors.
	PowerRestorePolicy(ctx context.Context) (RestorePolicy, error)

	// SetPowerRestorePolicy sets the policy and returns once the BMC
	// reports it set. Idempotent: setting the current policy returns nil.
	//
	// Errors: ErrInvalid for a policy other than the three constants;
	// ErrUnsupported when the BMC refuses that policy; ErrTransient;
	// ErrOutcomeUnknown; ctx errors. On error nothing was changed, except
	// with ErrOutcomeUnknown.
	SetPowerRestorePolicy(ctx context.Context, p RestorePolicy) error
}

// Valid reports whether p is one of the three restore policies.
func (p RestorePolicy) Valid() bool {
	return p == RestoreAlwaysOff || p == RestoreAlwaysOn || p == RestorePrevious
}
