package search

import "fmt"

// reqKind says what a request asks for.
type reqKind uint8

const (
	rkFailure reqKind = iota
	rkScaleOut
	rkScaleUp
)

// fnode is one node of a request: a failed member, a member of the logical
// server a scale-up replaces, or a node of a scale-out template. It has the
// compact fields of a server; for a template hw, sw, arr, zone and vlans
// are -1 when the inventory has no such value (nothing then equals them).
type fnode struct {
	srv
	h   *hwInfo
	idx int32 // server index, -1 for a template node
}

// request is one demand on the pool: a failed logical server, one new
// logical server of a scale-out, or the logical server a scale-up grows.
type request struct {
	kind  reqKind
	self  int32   // the server named by the caller, -1 for a template
	ls    int32   // its logical server, -1 for a template
	nodes []fnode // in ID order (templates: in the given order)
	pol   Policy
	prio  int
	// ref is the node explanations compare candidates with.
	ref int
	// excluded logical servers: the other requests of a FindJoint, or nil.
	excluded *lsSet
	// budget: per workload, how many logical servers may be scaled in.
	budget map[int32]int
	// level: FindJoint's priority level of the request.
	level int
	// unit: the index of this logical server within its scale request.
	unit int
	// scale: index of the ScaleRequest in FindJoint, -1 for a failure;
	// key orders scale requests of one priority by what they ask, so that
	// only identical requests depend on their position.
	scale int
	key   string
}

func (inv *Inventory) nodeOf(i int32) fnode {
	s := &inv.srvs[i]
	return fnode{srv: *s, h: &inv.hw[s.hw], idx: i}
}

func (r *request) node(k int) *fnode { return &r.nodes[k] }

// hardOfNode is the hard key of a request node.
func (inv *Inventory) hardOfNode(f *fnode) hardKey {
	return hardKey{f.arr, f.h.chip, int32(f.h.NICPorts), int32(f.h.HBAPorts)}
}

// failureRequest builds the request for the logical server of id.
func (inv *Inventory) failureRequest(op string, id ServerID) (request, error) {
	return inv.failureRequestIn(op, id, nil)
}

// failureRequestIn is failureRequest with the nodes in one's backing
// array when it has the capacity. It returns the request by value (not
// through a pointer parameter, a store the compiler treats as an escape)
// so that Find keeps one on its stack: Find does not allocate the request.
func (inv *Inventory) failureRequestIn(op string, id ServerID, one []fnode) (request, error) {
	i, ok := inv.index(id)
	if !ok {
		return request{}, fmt.Errorf("search: %s %s: unknown server: %w", op, id, ErrInvalid)
	}
	s := &inv.srvs[i]
	if s.state != stActive && s.state != stFailed {
		return request{}, fmt.Errorf("search: %s %s: server is %s, not active or failed: %w", op, id, stateNames[s.state], ErrInvalid)
	}
	r := request{kind: rkFailure, self: i, ls: s.ls, pol: inv.policies[s.pol], prio: int(s.prio), scale: -1}
	if s.part < 0 {
		// A standalone server: its logical server is itself.
		if cap(one) < 1 {
			one = make([]fnode, 1)
		}
		one = one[:1]
		one[0] = inv.nodeOf(i)
		r.nodes = one
		return r, nil
	}
	if m, ok := inv.pair(i); ok && cap(one) >= 2 {
		// Both rows from the mate: the member list is not read.
		r.nodes = one[:2]
		r.nodes[0], r.nodes[1] = inv.nodeOf(m[0]), inv.nodeOf(m[1])
		if m[1] == i {
			r.ref = 1
		}
		return r, nil
	}
	m := inv.lsMembers(s.ls)
	if len(m) <= cap(one) {
		r.nodes = one[:len(m)]
	} else {
		r.nodes = make([]fnode, len(m))
	}
	for k, mi := range m {
		r.nodes[k] = inv.nodeOf(mi)
		if mi == i {
			r.ref = k
		}
	}
	return r, nil
}

// isMember reports whether server i is one of the request's nodes.
func (r *request) isMember(i int32) bool {
	for k := range r.nodes {
		if r.nodes[k].idx == i {
			return true
		}
	}
	return false
}

// budgets computes, per workload with a scale-in minimum, how many of its
// Active logical servers may be taken by scale-in: those in service (not
// excluded) beyond the minimum.
func (inv *Inventory) budgets(excluded *lsSet) map[int32]int {
	var out map[int32]int
	for w, m := range inv.idx.wlMin {
		if m <= 0 {
			continue
		}
		n := int(inv.idx.wlActive[w])
		if n <= m {
			continue
		}
		if out == nil {
			out = make(map[int32]int)
		}
		out[w] = n - m
	}
	for li := range excluded.all() {
		if inv.ls[li].state != lsActive {
			continue
		}
		w := inv.srvs[inv.members[inv.ls[li].first]].work
		if _, ok := out[w]; ok {
			out[w]--
		}
	}
	for w, b := range out {
		if b <= 0 {
			delete(out, w)
		}
	}
	return out
}
