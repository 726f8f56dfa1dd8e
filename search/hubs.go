package search

// Hubs stand for many pools at once in the flow. A request's cost on a
// pool depends, within a group, only on how many of its zones and VLAN
// sets the pool's members share: a one-node request reaches the pool with
// its zone and VLAN set directly (no reconfiguration), the hub of the
// group's pools with its zone and the hub of those with its VLAN set at
// one reconfiguration, and the hub of all the group's pools at two. A
// hub's edges to its pools cost nothing, so the cheapest way to a pool is
// its true cost, and a request has a few edges per group instead of one
// per pool. Two-node requests read the pools sharing a zone with them one
// by one and the rest through hubs of a VLAN set in a signature slot, of
// a pair of VLAN sets, and of all pools.
//
// A unit that enters a pool through a hub is held in the pool: its
// reverse edge leads from the pool back to the request at the option's
// cost, which is the true cost (a shortest path never takes a dearer way
// to a pool than its cheapest).

// hubKey names a hub: a group (standalone or partition, by kind) and what
// its pools share.
type hubKey struct {
	kind uint8
	g    int32
	a, b int32
}

const (
	hkZone uint8 = iota // standalone group g, zone class a
	hkVLAN              // standalone group g, VLAN class a
	hkAll               // standalone group g
	hkSlot              // two-node group g, VLAN class b in slot a
	hkPair              // two-node group g, VLAN classes a and b in slots 0 and 1
	hkPAll              // two-node group g
)

type hub struct {
	pools  []int32 // in a fixed order
	node   int32
	free   int32 // pools with a free unit
	cap0   int32 // units before any composition was fixed
	budget bool  // its pools spend a scale-in budget (one group: all or none)
	dead   bool  // no free exit is reachable from it
}

// poolHubs is the room a pool's list of hubs starts with.
const poolHubs = 7

// hubOf returns the flow node of the hub k over pools, creating it on
// first use; -1 when its pools have no unit.
func (s *solver) hubOf(k hubKey, pools []int32) int32 {
	if id, ok := s.hubAt[k]; ok {
		return s.hubs[id].node
	}
	id := int32(len(s.hubs))
	h := hub{pools: pools, node: -1}
	for _, pi := range pools {
		p := s.pools.at(pi)
		h.cap0 += p.cap0
		if int32(len(p.holders)) < p.cap {
			h.free++
		}
		h.budget = p.budget >= 0
	}
	if h.cap0 > 0 {
		h.node = s.newNode(nHub, id)
		for _, pi := range pools {
			p := s.pools.at(pi)
			if p.hubs == nil {
				// A pool is in a few hubs (a standalone one in up to
				// three, a two-node one in up to seven): room for
				// them from one slab, not a slice grown per pool.
				p.hubs = s.hubSlab.take(poolHubs, 1024*poolHubs)[:0]
			}
			p.hubs = append(p.hubs, id)
		}
	}
	s.hubAt[k] = id
	s.hubs = append(s.hubs, h)
	return h.node
}

// hold puts request r's unit in pool pi; unhold takes it out. They keep
// the hubs' counts of free pools.
func (s *solver) hold(r, pi int32) {
	p := s.pools.at(pi)
	p.holders = append(p.holders, r)
	s.st[r].pool = pi
	if int32(len(p.holders)) == p.cap {
		for _, h := range p.hubs {
			s.hubs[h].free--
		}
	}
}

func (s *solver) unhold(r, pi int32) {
	p := s.pools.at(pi)
	full := int32(len(p.holders)) == p.cap
	for k, h := range p.holders {
		if h == r {
			p.holders = append(p.holders[:k], p.holders[k+1:]...)
			break
		}
	}
	if full {
		for _, h := range p.hubs {
			s.hubs[h].free++
		}
	}
}

// resetHubs recounts the hubs' free pools after the pools were reset.
func (s *solver) resetHubs() {
	for k := range s.hubs {
		h := &s.hubs[k]
		h.free, h.dead = 0, false
		for _, pi := range h.pools {
			if p := s.pools.at(pi); int32(len(p.holders)) < p.cap {
				h.free++
			}
		}
	}
}

// freeExit reports whether flow node v leads to the sink at once: a pool
// or a hub with a free unit and no scale-in budget.
func (s *solver) freeExit(v int32) bool {
	n := &s.nodes[v]
	switch n.kind {
	case nIn:
		p := s.pools.at(n.ref)
		return p.out < 0 && int32(len(p.holders)) < p.cap
	case nHub:
		h := &s.hubs[n.ref]
		return h.free > 0 && !h.budget
	}
	return false
}

// expandHub relaxes the edges of hub u to its pools. With a free pool
// and no budget only the first free pool is offered: it reaches the sink
// at the hub's distance, which no other pool beats.
func (s *solver) expandHub(u int32, du, base []int64) {
	h := &s.hubs[s.nodes[u].ref]
	if h.dead && !s.swapBelow(du) {
		// Its pools are dead, and none is close enough for a swap.
		return
	}
	zero := s.zeroV
	if h.free > 0 && !h.budget {
		for _, pi := range h.pools {
			if p := s.pools.at(pi); int32(len(p.holders)) < p.cap {
				s.relax(base, zero, p.in, prevEdge{u, eHub, pi})
				return
			}
		}
		panic("search: a hub counts a free pool it does not have")
	}
	for _, pi := range h.pools {
		p := s.pools.at(pi)
		if p.cap == 0 && len(p.holders) == 0 {
			continue
		}
		s.relax(base, zero, p.in, prevEdge{u, eHub, pi})
	}
}

// swapBelow reports whether a node at distance du may still lead to a
// swap with a request of the current request's priority level (see the
// dead pools in expandNode).
func (s *solver) swapBelow(du []int64) bool {
	m := s.levelMax[s.st[s.nodes[s.cur].ref].req.level]
	return m != nil && vcmp(du, m) < 0
}
