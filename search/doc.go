// Package search is the pure, deterministic spare-search engine of
// coldstandby: given an immutable inventory snapshot (servers, logical
// servers, the composition table and the per-server search policies) it
// decides which standby machine takes over a failed server's boot disks.
//
// Who imports it: the failover Orchestrator, and tools that want to ask
// "what would happen if this server failed now" (see Inventory.Coverage).
// It does no I/O, starts no goroutines and imports no other coldstandby
// package; every method of Inventory is safe for concurrent use because an
// Inventory never changes after NewInventory returns.
//
// # Logical servers
//
// Servers that share a non-empty Partition form one logical server; a server
// with an empty Partition, or alone in its partition, is a logical server of
// one (a standalone server). A failed partition
// member is always replaced together with its whole partition: the Plan has
// one Assignment per member of the failed logical server. Members of one
// partition must agree on Workload and Priority. A logical server is a spare
// only when all its members are Standby, and a preemption victim only when
// all its members are Active.
//
// # Stages
//
// Find tries four stages in order and the first that yields a candidate wins:
//
//  1. Exact: a standby logical server with the same node count whose members
//     match the failed members one to one on CPU model, CPU MHz, memory,
//     chipset, NIC ports and HBA ports, on the same switch.
//  2. Recomposed: an allowed combination (WithCombination) of exactly n
//     standalone standby servers, matched one to one as in stage 1; the plan
//     has Compose set (compose the combination into one logical server
//     first). A combination is used whole: the patent's partition-configurable
//     table lists, per server count, the allowed sets, so a subset of a
//     registered set is composable only if it is registered itself.
//  3. Relaxed: stage 1, then stage 2, again under the failed server's Policy
//     (CPU MHz and memory at least the policy's minimum, any CPU model, any
//     switch, another node count). Stages 1 and 2 use the zero Policy.
//  4. Preempted: only when the policy has Preempt: Active logical servers
//     whose workload priority is strictly lower than the failed server's,
//     matched as in stage 3 (no recomposition). Victims are ranked lowest
//     priority first, then fewest victim servers. Each victim is relocated to
//     a standby logical server of its own node count that its own policy
//     accepts (stages 1 and 3 for the victim, never preemption: victims are
//     never chained further) when one is free, otherwise it is only stopped.
//
// # Hard constraints
//
// Never relaxed, whatever the policy: the same DiskArray (the boot disks must
// stay reachable), the same Chipset, NIC port count and HBA port count, and
// the same Switch unless the policy has AnySwitch. Zone and VLAN differences
// are not constraints: the failover fixes them, and a spare that needs fewer
// changes is preferred.
//
// # Policy semantics
//
// MinCPUMHz applies to every node of the replacement (0: each node's MHz must
// equal its failed counterpart's). MinMemoryMiB applies to the replacement's
// total memory (0: each node's memory must equal its failed counterpart's,
// or with a node-count mismatch the totals must be equal). AnyCPUModel
// accepts any CPU model. AllowPartitionMismatch lets a logical server of
// another node count take over when its total memory and every node's CPU
// satisfy the policy and every pair of failed and replacement nodes
// satisfies the hard constraints.
//
// Boot-disk pairing under a node-count mismatch: the failed members, sorted
// by ID, are dealt round robin onto the replacement's members, sorted by ID:
// failed member i goes to replacement member i mod m. With fewer replacement
// nodes some receive the disks of several failed nodes; with more, the extra
// nodes get no disks (they are still consumed, and listed in
// Plan.Replacement). Every failed member's disks land somewhere.
//
// # Ranking
//
// Inside a stage candidates are ranked by, in this order: (preemption only)
// lower victim priority, then fewer victim servers; fewer reconfigurations
// (a node whose zone differs counts one, a node whose VLAN set differs counts
// one); closest fit (least MHz surplus over the requirement, summed over the
// nodes, then least memory surplus); then the replacement's server IDs
// compared in order. Never map order, input order or randomness.
//
// # Joint planning
//
// FindAll plans simultaneous failures jointly: no spare, victim or
// relocation target is used twice. The objective is lexicographic: first the
// number of restored failures of the highest priority, then of the next
// priority, and so on; then fewer failures served by preemption; then the
// sums, over the restored failures, of the per-failure ranking terms in
// ranking order (stage, victim priority, victim servers, reconfigurations,
// MHz surplus, memory surplus). For a single failure FindAll agrees with
// Find.
// Remaining ties are broken deterministically (failures in order of priority
// then ID, candidates in ranking order). Victims are relocated afterwards,
// higher priority first, onto the standby servers left over.
//
// # Errors
//
// A request that cannot be served returns an error wrapping ErrNoSpare with a
// counted explanation, for example
// `0/12 servers: 7 not standby, 3 memory 32768 < 65536, 1 other disk array, 1 other chipset`.
// Bad input (duplicate IDs, unknown IDs, a partition whose members disagree,
// negative sizes) returns an error wrapping ErrInvalid, never ErrNoSpare and
// never a panic.
package search
