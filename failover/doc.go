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
// hardware at once and the new leader's Recover takes over. Without
// leader election a second instance is misuse, but harmless for the
// failed server: its claim is a compare-and-set in the Store, so the
// second instance absorbs the fault.
//
// Zoning: the Orchestrator serialises zoning transactions per FCZoner
// instance and reads zones back after each commit, but cannot see other
// writers: it must be the only writer of a fabric's zoning through that
// FCZoner (see Drivers.FCZoners).
//
// # Safety invariants
//
// These hold whatever fails (DESIGN.md, "Safety invariants", explains
// each and where it is enforced):
//
//   - I1 Fence first. No server gets another server's disks until that
//     server is confirmed off through its BMC, and it is confirmed off
//     again before each storage request that moves them (retries
//     included) and before the server taking them boots. A fenced server
//     found on again (a power-restore policy, a watchdog, an operator) is
//     fenced again, at most twice; otherwise the failover stops as
//     fencing failed with the disks back where they were. Where the BMC
//     can (bmc.PowerRestorer), fencing sets the failed server's
//     power-restore policy to always-off, and MarkStandby gives the old
//     one back.
//   - I2 One writer. A boot volume is never masked to the initiators of
//     two servers at once (an initiator swap removes the old initiators
//     before it adds the new ones; a remap unmaps before it maps). A
//     server boots, or gets its volumes back, only seeing nothing but its
//     own: another server's volume found on it (a stray, such as another
//     failover's write that landed late) is taken off first when its
//     owner still sees it or this failover parked it, and otherwise the
//     boot is refused with the volume named (it may be the only copy).
//     A failover never fences a server it no longer holds; a volume it
//     finds on one is only taken off.
//   - I3 Nothing lost. When a failover ends (done, rolled back, or
//     crashed and recovered) every volume the failed server (or a
//     victim) had when the failover first read them is masked to exactly
//     one server, at its original LUN; the volumes of a stopped victim
//     are listed in its record (Record.Parked). The first read is
//     journaled, every later attempt reconciles the array with it, the
//     spare must see every volume at its LUN before it boots (its
//     mappings read last), a failover that commits checks that the
//     servers it read but no longer moves have theirs, and one that ends
//     without a commit checks they are all home.
//   - I4 No double allocation. A spare serves at most one failed server:
//     its reservation, and the failed server's claim, are compare-and-set
//     writes in the Store; HandleFaults reserves a joint plan in one.
//   - I5 Priority. Preemption takes only strictly lower-priority work,
//     and a victim is fenced before its server is reused.
//   - I6 Determinism. The same records and faults give the same plans
//     and the same audit order.
//   - I7 Durability. Each step's intent is journaled before it runs; a
//     restarted Orchestrator (or a new leader) finishes or rolls back
//     every unfinished failover, in the same journal, so a fault once
//     journaled is never lost, even when Recover itself crashes.
//
// Faults are never dropped: a fault for a server another failover holds is
// kept in the server's record and handled when that failover ends
// (OutcomeDeferred); one whose rule acts now ends the wait of a delayed
// one; a cancelled caller leaves the failover open for Recover
// (OutcomeInterrupted); a site whose records or drivers are invalid
// refuses the fault before anything changes (OutcomeRefused).
//
// # What the Orchestrator assumes of drivers
//
// Drivers keep the contracts of packages bmc, storage, partition and
// fabric, checked by their conformance suites. In particular:
//
//   - A BMC reports PowerOff only when the server is off; anything it
//     cannot read is an error or PowerUnknown, never off.
//   - Idempotent writes: repeating a request that took effect is
//     harmless, so a call answered ErrOutcomeUnknown is retried after a
//     read-back.
//   - A storage request lands whole or not at all. It may land after
//     the driver returned ErrOutcomeUnknown (storage.DiskMapper says
//     when); the Orchestrator finds and undoes such a write while the
//     failover runs, but cannot keep it from masking a volume to a second,
//     powered-off server for a moment.
//   - Every record's array, fabric, switch and partitions have a driver
//     or are declared unmanaged (WithUnmanaged): New and every fault
//     check it.
//   - Initiators are unique to one server (ValidateRecords checks it).
package failover
