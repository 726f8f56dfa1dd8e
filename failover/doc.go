// Package failover is the Orchestrator: it takes a server fault, decides
// by the fault-action table whether to act, fences the failed server
// through its BMC, plans a replacement with package search, reserves the
// spares atomically in a Store, moves the boot disks' LUN masking to the
// spare with the same LUN numbers, fixes FC zoning and switch VLANs, boots
// the spare and commits, journaling every step so that a restarted
// Orchestrator can finish or roll back what a crash interrupted.
//
// Import it to run failovers: build a Store (NewMemStore, or a durable one
// from drivers/), fill it with Records, pass the drivers in Drivers, and
// call New. Fault detectors call HandleFault; a process that starts up
// calls Recover first. Driver authors do not need this package.
//
// Several Orchestrators may share one Store (etcd) with one leader acting
// at a time: the Store answers ErrNotLeader to a deposed instance's
// writes, and, when it implements LeaderChecker, tells the Orchestrator
// before every driver call, so a deposed instance stops touching the
// hardware at once and the new leader's Recover takes over.
//
// Zoning: the Orchestrator serialises zoning transactions per FCZoner
// instance and reads zones back after each commit, but cannot see other
// writers: it must be the only writer of a fabric's zoning through that
// FCZoner (see Drivers.FCZoners).
//
// Safety invariants (DESIGN.md, "Safety invariants"): the spare never
// gets the disks before the failed server is confirmed off (I1); a boot
// volume is never masked to two servers (I2) nor left masked to none
// (I3); a spare serves one failure (I4); preemption takes only strictly
// lower-priority work and fences the victim first (I5); plans are
// deterministic (I6); every step is journaled before it runs (I7).
package failover
