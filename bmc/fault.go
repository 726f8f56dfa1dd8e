package bmc

import "time"

// FaultType classifies a hardware or software failure of a server. The
// failover package's fault-action table maps each type to an action.
// Types outside this list are allowed (a user's own detector may invent
// them); the fault-action table's default applies to them.
type FaultType string

// Fault types, following the IPMI sensor types and Redfish message
// registries they are derived from.
const (
	FaultProcessor      FaultType = "processor"            // IPMI sensor type 0x07: IERR, thermal trip, FRB, machine check
	FaultMemory         FaultType = "memory"               // 0x0C: uncorrectable ECC, parity
	FaultPowerSupply    FaultType = "power-supply"         // 0x08: failure, AC lost
	FaultWatchdog       FaultType = "watchdog"             // 0x23: watchdog 2 expiry (hard reset, power down, ...)
	FaultOSStop         FaultType = "os-critical-stop"     // 0x20: OS stop / panic / bugcheck
	FaultPowerLost      FaultType = "unexpected-power-off" // the server went off without being asked
	FaultBMCUnreachable FaultType = "bmc-unreachable"      // the BMC stopped answering
	FaultTemperature    FaultType = "temperature"          // 0x01: upper critical / non-recoverable
	FaultBus            FaultType = "bus-error"            // 0x13: PCI PERR/SERR, bus uncorrectable or fatal, fatal NMI
	FaultCorrectable    FaultType = "correctable"          // correctable errors: report, do not fail over
	FaultOther          FaultType = "other"                // a record nobody classified; never dropped
)

// Fault is a failure of one server, as delivered to the failover
// Orchestrator's fault entry point.
type Fault struct {
	Server string    // the server's ID as the Orchestrator knows it
	Type   FaultType // what failed
	Time   time.Time // when it was observed (the event's time if known)
	Event  *Event    // the record it came from, if any
	Detail string    // a human-readable summary
}
