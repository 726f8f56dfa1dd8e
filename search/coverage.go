package search

import (
	"cmp"
	"slices"
)

// Coverage is a what-if report over an inventory: what Find would answer
// now for each Active server, and how deep the standby pool is per hardware
// class.
type Coverage struct {
	// Servers has one entry per Active server, in ID order.
	Servers []ServerCoverage
	// Classes has one entry per hardware class that has Active servers,
	// ordered by CPU model, MHz, memory, chipset, NIC and HBA ports.
	Classes []ClassCoverage
}

// ServerCoverage is what Find would return if the server failed now.
type ServerCoverage struct {
	Server ServerID
	// Plan is Find's plan; Kind 0 (with Plan.Reason saying why) when Find
	// would return ErrNoSpare.
	Plan Plan
}

// ClassCoverage counts, for one hardware class, how many simultaneous
// failures the standby pool can absorb.
type ClassCoverage struct {
	Hardware Hardware
	Active   int // Active servers of the class
	Standby  int // Standby servers of the class
	// Absorb is the largest number of the class's Active standalone servers
	// that can be restored at the same time from the standby pool alone:
	// existing standby logical servers accepted exactly or under each
	// server's policy (no composition, no preemption), each used once.
	// It is a maximum: which servers fail matters, and some sets of Absorb
	// failures may not all be served.
	Absorb int
}

// Coverage computes the report. It is deterministic; it runs Find once per
// group of Active servers that are alike (same hardware, disk array, switch,
// zone, VLANs, priority and policy), so its cost depends on how varied the
// inventory is rather than on its size alone.
func (inv *Inventory) Coverage() Coverage {
	var cov Coverage
	type likeKey struct {
		hw, arr, sw, zone, vlans, pol int32
		prio                          int
	}
	cache := make(map[likeKey]Plan)
	// Whether a server can be served at all, and the explanation when it
	// cannot, do not depend on its zone and VLANs (they only rank).
	none := make(map[likeKey]Plan)
	lsPlan := make(map[int32]Plan)
	for i := range inv.srvs {
		s := &inv.srvs[i]
		if s.state != stActive {
			continue
		}
		var p Plan
		if s.part >= 0 {
			lp, ok := lsPlan[s.ls]
			if !ok {
				lp, _ = inv.Find(s.id)
				lsPlan[s.ls] = lp
			}
			p = lp
		} else {
			k := likeKey{s.hw, s.arr, s.sw, s.zone, s.vlans, inv.ls[s.ls].pol, int(s.prio)}
			coarse := k
			coarse.zone, coarse.vlans = -1, -1
			cp, ok := cache[k]
			if !ok {
				cp, ok = none[coarse]
			}
			if !ok {
				cp, _ = inv.Find(s.id)
				cache[k] = cp
				if cp.Kind == 0 {
					none[coarse] = cp
				}
				p = cp
			} else {
				p = cp
				if p.Kind != 0 {
					p.Assignments = []Assignment{{Failed: s.id, Spare: cp.Assignments[0].Spare}}
					p.Replacement = slices.Clone(cp.Replacement)
					p.Preemptions = slices.Clone(cp.Preemptions)
				}
			}
		}
		cov.Servers = append(cov.Servers, ServerCoverage{Server: s.id, Plan: p})
	}

	// Per class: active and standby counts, then the absorb matching.
	nClass := len(inv.hw)
	active := make([]int, nClass)
	standby := make([]int, nClass)
	for i := range inv.srvs {
		switch inv.srvs[i].state {
		case stActive:
			active[inv.srvs[i].hw]++
		case stStandby:
			standby[inv.srvs[i].hw]++
		}
	}
	for c := range nClass {
		if active[c] == 0 {
			continue
		}
		cov.Classes = append(cov.Classes, ClassCoverage{
			Hardware: inv.hw[c].Hardware, Active: active[c], Standby: standby[c],
			Absorb: inv.absorb(int32(c)),
		})
	}
	slices.SortFunc(cov.Classes, func(a, b ClassCoverage) int {
		x, y := a.Hardware, b.Hardware
		return cmp.Or(cmp.Compare(x.CPUModel, y.CPUModel), cmp.Compare(x.CPUMHz, y.CPUMHz),
			cmp.Compare(x.MemoryMiB, y.MemoryMiB), cmp.Compare(x.Chipset, y.Chipset),
			cmp.Compare(x.NICPorts, y.NICPorts), cmp.Compare(x.HBAPorts, y.HBAPorts))
	})
	return cov
}

// absorb is a maximum flow from groups of alike Active standalone servers
// of class c (capacity: the group's size) to standby logical servers
// (capacity one).
func (inv *Inventory) absorb(c int32) int {
	type gkey struct{ arr, sw, pol int32 }
	idx := make(map[gkey]int)
	var reps []int32
	var capac []int
	for i := range inv.srvs {
		s := &inv.srvs[i]
		if s.state != stActive || s.hw != c || inv.grouped(s) {
			continue
		}
		k := gkey{s.arr, s.sw, inv.ls[s.ls].pol}
		g, ok := idx[k]
		if !ok {
			g = len(reps)
			idx[k] = g
			reps = append(reps, int32(i))
			capac = append(capac, 0)
		}
		capac[g]++
	}
	adj := make([][]int32, len(reps))
	for g, ri := range reps {
		s := &inv.srvs[ri]
		req := request{self: ri, ls: s.ls, pol: inv.policies[inv.ls[s.ls].pol], prio: int(s.prio), scale: -1,
			nodes: []fnode{inv.nodeOf(ri)}}
		adj[g] = inv.standbyCandidates(&req)
	}
	owner := make(map[int32]int) // standby logical server -> group
	used := make([]int, len(reps))
	var visited []bool
	var augment func(g int) bool
	augment = func(g int) bool {
		if visited[g] {
			return false
		}
		visited[g] = true
		for _, r := range adj[g] {
			if _, ok := owner[r]; !ok {
				owner[r] = g
				return true
			}
		}
		for _, r := range adj[g] {
			if h := owner[r]; h != g && augment(h) {
				owner[r] = g
				return true
			}
		}
		return false
	}
	total := 0
	for g := range reps {
		for used[g] < capac[g] {
			visited = make([]bool, len(reps))
			if !augment(g) {
				break
			}
			used[g]++
			total++
		}
	}
	return total
}

// standbyCandidates lists the standby logical servers that a one-node
// request accepts exactly or under its policy (no composition, no
// preemption), in index order.
func (inv *Inventory) standbyCandidates(req *request) []int32 {
	x := &inv.idx
	f := &req.nodes[0]
	var out []int32
	if g := inv.exactGroup(req); g >= 0 {
		for _, i := range inv.spanOf(x.groups[g].all) {
			out = append(out, inv.srvs[i].ls)
		}
	}
	pol := &req.pol
	for _, hw := range inv.candClasses(inv.hardOfNode(f), f, pol) {
		if _, _, ok := inv.classCost(req, hw, pol); !ok {
			continue
		}
		for _, g := range inv.classGroups(hw, f.arr, anySw(f, pol), stStandby) {
			for _, i := range inv.spanOf(x.groups[g].all) {
				out = append(out, inv.srvs[i].ls)
			}
		}
	}
	if pol.AllowPartitionMismatch {
		var o option
		for _, sig := range x.hkSig[inv.hardOfNode(f)] {
			if (x.sigs[sig].eks[0].sw < 0) != pol.AnySwitch {
				continue
			}
			for _, g := range inv.sigGroups(sig, stStandby) {
				for _, li := range inv.pgroupLS(g) {
					if inv.eval(req, inv.lsMembers(li), pol, true, &o) {
						out = append(out, li)
					}
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
