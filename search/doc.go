// Package search is the pure, deterministic spare-search engine of
// coldstandby: given an immutable inventory snapshot (servers, logical
// servers, the composition table and the per-server search policies) it
// decides which standby machine takes over a failed server's boot disks,
// and which servers a workload would get to scale out or up.
//
// Who imports it: the failover Orchestrator, and tools that want to ask
// "what would happen if this server failed now" (see Inventory.Coverage)
// or "where would two more servers like this one come from" (see
// Inventory.FindScale). It does no I/O, starts no goroutines and imports
// no other coldstandby package; every method of Inventory is safe for
// concurrent use because an Inventory never changes after NewInventory
// returns. The joint searches (FindAll, FindJoint, FindScale) recycle
// their working memory between calls through a sync.Pool (the collector
// frees it when calls stop), so repeated calls allocate mostly their
// plans.
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
//  4. Preempted: only when the policy has Preempt, matched as in stage 3,
//     either an Active logical server whose workload priority is strictly
//     lower than the failed server's (the victim), or an allowed
//     combination composed from standalone standby servers and standalone
//     servers lent by workloads of strictly lower priority (the lenders,
//     victims too; patent embodiment 4: used when no standby logical server
//     and no combination of standby servers fits). Every victim is, in this
//     order of preference: scaled in when its workload tolerates it (see
//     Scale-in); relocated to a standby logical server of its own node
//     count that its own policy accepts (stages 1 and 3 for the victim,
//     never preemption: victims are never chained further) when one is
//     free; otherwise only stopped. The plan's Preemptions say which.
//
// # Ranking
//
// Inside a stage candidates are ranked by, in this order: (preemption
// only) the highest victim priority, then fewer victims that cannot be
// scaled in (interrupted workloads), then fewer victim servers (fewest
// lent servers); fewer reconfigurations (a node whose zone differs counts
// one, a node whose VLAN set differs counts one); closest fit (least MHz
// surplus over the requirement, summed over the nodes, then least memory
// surplus); then the replacement's server IDs compared in order. Never map
// order, input order or randomness.
//
// # Scale-in
//
// Policy.ScaleInMin > 0 says a workload tolerates losing logical servers
// to preemption down to that many logical servers in service (its Active
// logical servers that are not being failed over); a workload's minimum is
// the largest among its logical servers' policies. While a workload is
// above its minimum, a victim of it is scaled in: its server is fenced and
// taken, its boot disks are parked, nothing is relocated, and its other
// servers are untouched (Preemption.ScaleIn). A round of joint planning
// never scales a workload in below its minimum: the victims beyond that
// are relocated or stopped, and counted as interrupted.
//
// # Scale requests
//
// A ScaleRequest asks for capacity rather than a failover: ScaleOut for
// Count more logical servers like a running one (Like) or like a template
// (the members' hardware, switch, disk array, zone and VLANs), ScaleUp for
// a bigger logical server to replace a running one (at least MinCPUMHz on
// every node and MinMemoryMiB in total). They go through the same stages
// and ranking as a failure, the request's nodes in place of the failed
// ones: exact means identical to the template, or for a scale-up
// identical to the running nodes but with exactly the sizes asked for
// (memory split evenly over the nodes); relaxed means under the policy
// (for a scale-up, with the minimums asked for); preemption takes only
// workloads of a strictly lower priority than the request's. A ScaleOut
// plan has no Assignments (Replacement is the new logical server); a
// ScaleUp plan moves the running logical server's boot disks.
//
// # Joint planning
//
// FindAll plans simultaneous failures jointly, and FindJoint plans
// failures and scale requests together: no spare, victim or relocation
// target is used twice. The objective is lexicographic: first the number
// of restored failures of the highest priority, then of the next
// priority, and so on; then the scale requests' logical servers placed,
// by priority in the same way (so a failure never loses a spare to a
// scale request); then fewer requests served by preemption; then the
// sums, over the served requests, of the per-request ranking terms in
// ranking order (stage, victim priority, interrupted victims, victim
// servers, reconfigurations, MHz surplus, memory surplus). Interrupted
// victims are counted jointly: a workload's victims beyond what it
// tolerates to lose. For a single failure FindAll agrees with Find.
// Victims are scaled in first come in canonical order, then relocated,
// higher priority first, onto the standby servers left over.
//
// Remaining ties are broken deterministically: requests in canonical
// order (failures by priority then ID, then scale requests by priority
// then content, position only between identical requests), each
// candidate set of equal servers in ID order.
//
// The joint plan is a minimum-cost flow with these vector costs, solved
// by successive shortest paths over pools: sets of logical servers that
// every request of the round sees alike (same group, same zone class and
// VLAN class with respect to the requests), so that thousands of
// equivalent spares are one node, reached through hubs (the pools of a
// group sharing a request's zone, its VLAN set, or none of them) so that
// a request has a few edges per group. Compositions (several logical servers
// in one option) are enumerated around the flow; with more than 64
// compatible subsets among the requests sharing hard keys, the best of
// the first 64 is used.
//
// # Index
//
// The exact stage, and within a class the relaxed and preemption stages,
// read the best candidate from an index instead of ranking every
// candidate: standalone servers are grouped by class, disk array and
// switch (and for Active ones priority and workload), listed in ID order
// overall, per VLAN set and per zone, so that the candidate with the
// fewest reconfigurations and then the lowest ID is the first of one of
// three lists; two-node partitions have the same per-pattern lists, in a
// hash table per group, so that the Finds of one class read a few pages
// of the index however large the inventory. Rows and partition groups
// are a cache line each. What is still read one by one: partitions of
// three or more nodes within their group, candidates of another node
// count (AllowPartitionMismatch), the classes of a hard key (each once
// per request), and combinations.
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
// # Errors
//
// A request that cannot be served returns an error wrapping ErrNoSpare with a
// counted explanation, for example
// `0/12 servers: 7 not standby, 3 memory 32768 < 65536, 1 other disk array, 1 other chipset`.
// Bad input (duplicate IDs, unknown IDs, a partition whose members disagree,
// negative sizes, a scale request without a running Like or template)
// returns an error wrapping ErrInvalid, never ErrNoSpare and never a panic.
package search
