// Package fake is an in-memory simulated data centre, and fake
// implementations of every coldstandby driver interface that share it:
// bmc.BMC (with bmc.DumpReporter), storage.DiskMapper (with
// storage.InitiatorSwapper), partition.PartitionManager, fabric.FCZoner and
// fabric.VLANSwitch.
//
// Import it to test code that uses coldstandby (the failover Orchestrator,
// or your own tool that embeds it) and to run demos. It is a simulation,
// not a mock: powering a server off through its fake BMC is what the fake
// storage sees, a volume masked to a powered-on server's initiators is in
// use, a zoning change is invisible until committed. Production code should
// never import it.
//
// # The world
//
// A World holds servers (power state, next boot device, operating-system
// behaviour, memory dump, event log, HBA initiators, switch ports), disk
// arrays (volumes, per-initiator LUN masking, host objects), Fibre Channel
// fabrics (defined and active zoning), Ethernet switches (port VLANs) and
// logical servers (partitions). Build one by hand with NewWorld and
// AddServer, AddVolume, AddZone, AddPort..., or take a ready one:
// PatentExample (the 12-server data centre of the patent's embodiments) or
// Generate (an N-server data centre from a seed).
//
// The drivers are views onto the world: w.BMC(id), w.DiskMapper(array),
// w.Zoner(fabric), w.Switch(name), w.Partitions(). They may be taken before
// the thing they name exists; calls then fail with ErrNotFound.
//
// # Time
//
// Every delay (injected latency, an operating system's shutdown time, a
// memory dump's duration) is measured with the world's clock and waited for
// with its sleeper. The defaults are real time. WithClock(NewClock(t0)) makes
// time virtual: sleeping advances the clock at once, so a simulation of
// thousands of failovers runs in milliseconds and is repeatable.
//
// # Faults
//
// Inject adds a Fault: a rule that matches calls by driver, method and
// target and makes them slow, fail with an error kind, lose their response
// (the change happens, the caller gets ErrOutcomeUnknown) or, for a BMC's
// PowerState, answer PowerUnknown. See Fault for the matching rules.
// Server behaviours (refusing a graceful shutdown, a dump that takes T, a
// hardware failure with its event-log record) are set on the world:
// RefuseShutdown, SetDumpTime, FailServer, InjectEvent.
//
// # Observing
//
// Ops returns the ordered log of every driver call, Calls counts them, and
// CheckInvariants (with a Snapshot taken before) reports every violation
// of the safety invariants I1 (fence first), I2 (one writer) and I3
// (nothing lost) in the current state and in every state the world went
// through since it was built. The states checked as they happen are every
// masking change (a volume masked to two servers; a volume given to a
// server while its previous holder is not off) and every power-on (a
// server that powers on seeing a volume a running server holds too).
//
// Every method of World and of the drivers is safe for concurrent use.
// Given a seed and a virtual clock, a sequence of calls made from one
// goroutine gives the same results and the same operation log every time,
// and probabilistic faults hit the same calls of each target however
// goroutines interleave; every list the package returns is sorted.
package fake
