package search

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNoSpare: no candidate satisfies the request. The wrapping error
	// explains, with counts per attribute, why the candidates were rejected.
	ErrNoSpare = errors.New("no spare")
	// ErrInvalid: the input is malformed (duplicate or unknown IDs, negative
	// sizes, a partition whose members disagree, a request for a server that
	// is not in service). Package search imports nothing of coldstandby, so
	// this is its own value: callers that need the shared kind translate it.
	ErrInvalid = errors.New("invalid argument")
)

// ServerID names one physical server (a blade, a node).
type ServerID string

// PartitionID names a logical server made of several physical servers.
type PartitionID string

// State is a server's role in the inventory.
type State string

const (
	// Active: the server runs a workload. Only Active servers can be
	// preemption victims.
	Active State = "active"
	// Standby: the server is an unused spare. Only Standby servers are spare
	// candidates.
	Standby State = "standby"
	// Failed: the server has failed and awaits (or went through) failover.
	Failed State = "failed"
	// Reserved: a spare that an in-flight failover has reserved; it is
	// neither a candidate nor a victim.
	Reserved State = "reserved"
	// Maintenance: set aside by an operator; neither a candidate nor a
	// victim.
	Maintenance State = "maintenance"
)

func (s State) valid() bool {
	switch s {
	case Active, Standby, Failed, Reserved, Maintenance:
		return true
	}
	return false
}

// Hardware is what a server is made of. Two servers match exactly when all
// fields are equal.
type Hardware struct {
	CPUModel  string // including stepping
	CPUMHz    int
	MemoryMiB int
	Chipset   string // chipset or server model
	NICPorts  int
	HBAPorts  int
}

// Server is one row of the patent's server management table.
type Server struct {
	ID        ServerID
	Hardware  Hardware
	Switch    string // the network switch the server is cabled to
	DiskArray string // the disk array that holds its boot disks
	Zone      string // its current FC zone
	VLANs     []int  // its current VLANs (a set: order and duplicates do not matter)
	State     State
	Workload  string
	Priority  int // larger = more important; at most MaxPriority in magnitude
	// Partition groups servers into one logical server; "" is a standalone
	// server (a logical server of one).
	Partition PartitionID
}

// Policy is the patent's per-server search policy. The zero value allows
// exact matching only. See the package documentation for the semantics.
type Policy struct {
	MinCPUMHz    int // 0 = each node must equal its failed node's MHz
	MinMemoryMiB int // 0 = memory must equal; otherwise the replacement's total
	AnyCPUModel  bool
	// AllowPartitionMismatch lets a logical server of another node count
	// take over.
	AllowPartitionMismatch bool
	AnySwitch              bool
	// Preempt may take servers running workloads of strictly lower
	// priority, whole logical servers or lent into an allowed combination.
	Preempt bool
	// ScaleInMin > 0 says that the server's workload tolerates losing
	// logical servers to preemption down to ScaleInMin logical servers in
	// service: such a victim is scaled in (its server taken, nothing
	// relocated, its other servers untouched) instead of being relocated
	// or stopped. A workload's minimum is the largest ScaleInMin among the
	// policies of its logical servers; 0 everywhere means never scaled in.
	ScaleInMin int
}

// Kind says which stage produced a plan.
type Kind int

const (
	// Exact: a standby logical server matching one to one.
	Exact Kind = iota + 1
	// Recomposed: an allowed combination of standby servers, composed first.
	Recomposed
	// Relaxed: a candidate accepted under the failed server's Policy.
	Relaxed
	// Preempted: servers taken from strictly lower-priority workloads.
	Preempted
)

// String returns "exact", "recomposed", "relaxed", "preempted", or "none"
// for the zero Kind (an unplaced request).
func (k Kind) String() string {
	switch k {
	case Exact:
		return "exact"
	case Recomposed:
		return "recomposed"
	case Relaxed:
		return "relaxed"
	case Preempted:
		return "preempted"
	case 0:
		return "none"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Assignment moves the boot disks of Failed to Spare.
type Assignment struct {
	Failed, Spare ServerID
}

// Preemption takes Victim (running Workload at Priority) so that its server
// can be used. Exactly one of three things happens to the victim:
//   - ScaleIn: its workload is scaled in (it tolerates the loss, see
//     Policy.ScaleInMin): the server is fenced and its boot disks are
//     parked, nothing is relocated, the workload's other servers go on;
//   - RelocateTo != "": the standby server that takes over the victim's
//     boot disks (a chained failover);
//   - neither: the victim is only stopped (fenced, disks parked).
//
// ScaleIn is omitted from the JSON form when false, so plans journaled
// before it existed read back unchanged.
type Preemption struct {
	Victim     ServerID
	Workload   string
	Priority   int
	RelocateTo ServerID
	ScaleIn    bool `json:",omitempty"`
}

// Plan is the answer for one failed (logical) server. An unplaced request has
// Kind 0 and no Assignments.
type Plan struct {
	Kind Kind
	// Assignments has one entry per member of the failed logical server,
	// in member ID order.
	Assignments []Assignment
	// Compose: compose Replacement into one logical server before use.
	Compose bool
	// Preemptions lists the victim servers in ID order.
	Preemptions []Preemption
	// Replacement lists every server of the replacement logical server in
	// ID order, including nodes that receive no boot disks under a
	// node-count mismatch.
	Replacement []ServerID
	// Reason explains, for an unplaced request, why no candidate was usable.
	Reason string
	// Scale is set for the answer to a ScaleRequest: ScaleOut plans have
	// no Assignments (the Replacement is a new logical server), ScaleUp
	// plans move the boot disks of the running logical server to the
	// bigger one. Zero for a failover, and then omitted from the JSON form.
	Scale ScaleKind `json:",omitempty"`
}

// String is a one-line human summary, for example
// `exact: r1-02 -> r1-09`,
// `preempted: db-1 -> batch-3 (victim batch-3 "batch" prio 10 relocated to s-11)`,
// `scale-out exact: new r1-10` or `scale-up relaxed: web-1 -> big-3`.
func (p Plan) String() string {
	if p.Kind == 0 {
		if p.Reason != "" {
			return "none: " + p.Reason
		}
		return "none"
	}
	var b strings.Builder
	if p.Scale != 0 {
		b.WriteString(p.Scale.String())
		b.WriteByte(' ')
	}
	b.WriteString(p.Kind.String())
	if p.Compose {
		b.WriteString(" (compose ")
		for i, id := range p.Replacement {
			if i > 0 {
				b.WriteByte('+')
			}
			b.WriteString(string(id))
		}
		b.WriteByte(')')
	}
	b.WriteString(": ")
	if len(p.Assignments) == 0 {
		b.WriteString("new ")
		for i, id := range p.Replacement {
			if i > 0 {
				b.WriteByte('+')
			}
			b.WriteString(string(id))
		}
	}
	for i, a := range p.Assignments {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(a.Failed))
		b.WriteString(" -> ")
		b.WriteString(string(a.Spare))
	}
	for _, v := range p.Preemptions {
		fmt.Fprintf(&b, " (victim %s %q prio %d ", v.Victim, v.Workload, v.Priority)
		switch {
		case v.ScaleIn:
			b.WriteString("scaled in)")
		case v.RelocateTo != "":
			fmt.Fprintf(&b, "relocated to %s)", v.RelocateTo)
		default:
			b.WriteString("stopped)")
		}
	}
	return b.String()
}

// ScaleKind says what a ScaleRequest asks for.
type ScaleKind int

const (
	// ScaleOut asks for more logical servers like a template.
	ScaleOut ScaleKind = iota + 1
	// ScaleUp asks for a bigger logical server to replace a running one.
	ScaleUp
)

// String returns "scale-out", "scale-up", or "" for the zero ScaleKind.
func (k ScaleKind) String() string {
	switch k {
	case ScaleOut:
		return "scale-out"
	case ScaleUp:
		return "scale-up"
	case 0:
		return ""
	}
	return fmt.Sprintf("ScaleKind(%d)", int(k))
}

// ScaleRequest asks the standby pool for capacity rather than for a
// failover (the patent's load-balancing use): the same stages, ranking,
// explanations and joint planning as a failure, with failures served
// first (see FindJoint).
type ScaleRequest struct {
	Kind ScaleKind
	// Like names a running (Active) server. ScaleOut: each new logical
	// server is like Like's logical server (hardware, switch, disk array,
	// zone and VLANs of each member), for its workload at its priority.
	// ScaleUp: Like's logical server is the one to replace by a bigger one
	// (its boot disks move; Assignments say where).
	Like ServerID
	// Template describes, for a ScaleOut without Like, the members of one
	// new logical server: Hardware, Switch, DiskArray, Zone and VLANs are
	// used, the other fields are ignored. The hardware, switches and so on
	// need not exist in the inventory.
	Template []Server
	// Workload and Priority of the new logical servers of a ScaleOut
	// without Like. Preemption takes only strictly lower priorities.
	Workload string
	Priority int
	// Count is the number of logical servers a ScaleOut asks for (0 means
	// one).
	Count int
	// MinCPUMHz (every node) and MinMemoryMiB (the total) of the bigger
	// logical server of a ScaleUp; 0 keeps the current value (the largest
	// node's MHz, the total memory). At least one must exceed it.
	MinCPUMHz, MinMemoryMiB int
	// Policy for the search. nil: the policy of Like's logical server, or
	// else of Workload (WithWorkloadPolicy), or the zero Policy. For a
	// ScaleUp the minimums above replace the policy's.
	Policy *Policy
}

// JointPlan is the answer of FindJoint.
type JointPlan struct {
	// Failures has one plan per failed server, as FindAll returns them.
	Failures []Plan
	// Scale has, per ScaleRequest, Count plans for a ScaleOut (one per
	// new logical server) or one plan for a ScaleUp; unplaced entries
	// have Kind 0 and a Reason.
	Scale [][]Plan
}
