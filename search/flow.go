package search

import (
	"math/bits"
	"slices"
)

// The joint plan is a minimum-cost flow: each request sends one unit to
// the sink, through one of its options (a pool, whose capacity is its
// number of logical servers) or directly ("unplaced", which costs one
// unit of its priority level). Costs are vectors compared
// lexicographically: the unplaced requests per priority level, then the
// option terms summed. A victim pool of a workload that tolerates scale-in
// sends its units to the sink through the workload's budget node
// (capacity: how many logical servers it may lose) at no cost, or directly
// at the cost of one interrupted victim.
//
// A request reaches the pools of a group through hubs (see hubs.go), a
// few edges per group whatever the number of pools.
//
// Requests are added one at a time, in canonical order, each along a
// shortest path in the residual graph (successive shortest paths), found
// by Dijkstra over reduced costs (potentials kept as their distance
// below the sink's). A request's options are materialized only when a
// path could use them: its next option's cost, a lower bound of every
// option not yet read, waits in the queue as a node of its own.

// The priority levels' terms are packed, 31 to a word, two bits each:
// level l is the word l/31's digit 30-l%31 in base 4, the most
// significant first. A word read as an integer orders its digits
// lexicographically, and adds and subtracts them digit by digit, while
// every digit of every vector computed stays in -1..1 (base 3 would do;
// base 4 is shifts). It does, because of where level terms come from:
//
//   - Only a request's unplaced edge (into the sink) has a level term, a
//     unit; option costs, their reverse edges and the pool, exit and
//     budget edges have none. So a path's cost has no level term until
//     it reaches the sink, and then one unit or none.
//   - A node's distance is its path's cost plus its potential minus the
//     source's (the reduced costs telescope): its level terms are the
//     potentials' difference. The sink's adds its path's unit.
//   - A potential starts at zero and moves to the sink's distance minus
//     the node's, plus itself: the source's potential cancels, leaving
//     the sink path's unit or nothing. So every potential's level terms
//     are a unit or zero, and every distance's are a difference of two
//     such (digits -1..1).
//
// augment checks the potentials it writes (one word compare each); one out
// of range marks the round, which is solved again with a word per level.
// levelsPerWord is the number of levels in a word.
const levelsPerWord = 31

// levelUnit returns the word and the value of one unplaced request of
// level l.
func (j *joint) levelUnit(l int) (int, int64) {
	if !j.packed {
		return l, 1
	}
	return l / levelsPerWord, 1 << (2 * (levelsPerWord - 1 - l%levelsPerWord))
}

// levelsCheck is levelsOK (tests replace it to exercise the fallback).
var levelsCheck = levelsOK

// levelsOK reports whether packed level words hold a unit or nothing.
func levelsOK(w []int64) bool {
	seen := false
	for _, x := range w {
		if x == 0 {
			continue
		}
		if seen || x < 0 || x&(x-1) != 0 || bits.TrailingZeros64(uint64(x))%2 != 0 {
			return false
		}
		seen = true
	}
	return true
}

// flow edge kinds, for the path.
const (
	eOpt     uint8 = iota // request -> pool or hub (ref: option index)
	eUnpl                 // request -> sink
	eRev                  // pool -> request holding a unit (ref: request)
	eInSink               // pool -> sink
	eIn2Out               // pool -> its exit node
	eOut2B                // exit -> budget
	eOutSink              // exit -> sink (interrupted)
	eOut2In               // exit -> pool (undo)
	eB2Sink               // budget -> sink
	eB2Out                // budget -> exit (undo; ref: pool)
	eHub                  // hub -> pool (ref: pool)
)

type prevEdge struct {
	from int32
	kind uint8
	ref  int32
}

// hentry is a queued entry, as pop returns it.
type hentry struct {
	key  int32 // offset in the queue's keys
	node int32 // flow node, or -1 for the sink
	lazy int32 // request whose next option this is, -1 otherwise
}

// dij is Dijkstra's reusable state.
type dij struct {
	q       queue
	dist    []int64
	prev    []prevEdge
	stamp   int32
	settled []int32
	sink    []int64
	sinkSet bool
	sinkP   prevEdge
	tmp     []int64
	tmp2    []int64
	base    []int64    // the node being expanded: its distance less its potential
	intr    []int64    // the cost of one interrupted victim
	lazyKey []int64    // the key of the lazy entry being materialized
	path    []prevEdge // apply's path, reused
}

// vcmp compares two cost vectors of the same length lexicographically.
func vcmp(a, b []int64) int {
	b = b[:len(a)]
	for i, x := range a {
		if y := b[i]; x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// push queues node (or the sink, or request lazy's next options) at key.
// Its rank breaks ties between equal keys: the sink, then pools with a
// free exit (they reach the sink at once), then a request's next options,
// then the rest (full pools fan out to their holders).
func (s *solver) push(key []int64, node, lazy int32) {
	var rank uint8
	switch {
	case lazy >= 0:
		rank = 2
	case node < 0:
		rank = 0
	case s.freeExit(node):
		rank = 1
	default:
		rank = 3
	}
	s.d.q.push(key, node, lazy, rank)
}

func (d *dij) pop() hentry {
	k, n, l, _ := d.q.pop()
	return hentry{k, n, l}
}

func (s *solver) grow() {
	d := &s.d
	for len(d.prev) < len(s.nodes) {
		d.prev = append(d.prev, prevEdge{})
	}
}

// distOf is node v's distance in the current search (v must be seen).
func (s *solver) distOf(v int32) []int64 {
	K := int32(s.j.K)
	o := s.nodes[v].xOff
	return s.d.dist[o : o+K]
}

// see marks v seen in the current search and returns its distance slot.
func (s *solver) see(v int32) []int64 {
	d := &s.d
	if n := &s.nodes[v]; n.seen != d.stamp {
		n.seen = d.stamp
		n.xOff = int32(len(d.dist))
		d.dist = append(d.dist, s.zeroV...)
	}
	return s.distOf(v)
}

// deltaOf is node v's potential below the sink's (read only).
func (s *solver) deltaOf(v int32) []int64 {
	o := s.nodes[v].dOff
	if o < 0 {
		return s.zeroV
	}
	return s.delta[o : o+int32(s.j.K)]
}

// deltaW is deltaOf for writing.
func (s *solver) deltaW(v int32) []int64 {
	if s.nodes[v].dOff < 0 {
		s.nodes[v].dOff = int32(len(s.delta))
		s.delta = append(s.delta, s.zeroV...)
	}
	return s.deltaOf(v)
}

// setBase sets and returns the base of u's edges: d(u) - delta(u).
func (s *solver) setBase(u int32) []int64 {
	b := s.d.base
	du, dr := s.distOf(u)[:len(b)], s.deltaOf(u)[:len(b)]
	for i := range b {
		b[i] = du[i] - dr[i]
	}
	return b
}

// relax offers node v (the sink when v < 0) the distance base + c +
// delta(v), base being setBase's for the edge's tail.
func (s *solver) relax(base, c []int64, v int32, pe prevEdge) {
	d := &s.d
	if v >= 0 && s.nodes[v].done == d.stamp {
		return
	}
	t := d.tmp
	base, c = base[:len(t)], c[:len(t)]
	if v < 0 {
		for i := range t {
			t[i] = base[i] + c[i]
		}
		if d.sinkSet && vcmp(t, d.sink) >= 0 {
			return
		}
		copy(d.sink, t)
		d.sinkSet, d.sinkP = true, pe
		s.push(t, -1, -1)
		return
	}
	n := &s.nodes[v]
	if n.dOff >= 0 {
		dv := s.delta[n.dOff:][:len(t)]
		for i := range t {
			t[i] = base[i] + c[i] + dv[i]
		}
	} else {
		for i := range t {
			t[i] = base[i] + c[i]
		}
	}
	if n.seen == d.stamp {
		dist := d.dist[n.xOff:][:len(t)]
		if vcmp(t, dist) >= 0 {
			return
		}
		copy(dist, t)
	} else {
		n.seen = d.stamp
		n.xOff = int32(len(d.dist))
		d.dist = append(d.dist, t...)
	}
	d.prev[v] = pe
	s.push(t, v, -1)
}

// augment adds request r (component index) along a shortest path.
func (s *solver) augment(r int) {
	d := &s.d
	K := s.j.K
	s.grow()
	d.stamp++
	d.q.reset(K)
	d.settled, d.dist = d.settled[:0], d.dist[:0]
	d.sinkSet = false
	src := s.st[r].nodeID
	s.cur = src
	s.push(s.see(src), src, -1)
	for !d.q.empty() {
		e := d.pop()
		key := d.q.keys[e.key : e.key+int32(K)]
		if e.lazy >= 0 {
			// materialize pushes onto the queue, which may move the
			// keys: the key is read from a copy.
			s.d.lazyKey = append(s.d.lazyKey[:0], key...)
			s.materialize(e.lazy, s.d.lazyKey)
			continue
		}
		if e.node < 0 {
			break // the sink
		}
		u := e.node
		if s.nodes[u].done == d.stamp || vcmp(key, s.distOf(u)) > 0 {
			continue
		}
		s.nodes[u].done = d.stamp
		d.settled = append(d.settled, u)
		s.expandNode(u)
		s.grow()
	}
	if !d.sinkSet {
		panic("search: no path to the sink") // the unplaced edge always exists
	}
	if d.sinkP.kind == eUnpl {
		// No free exit is reachable from any pool settled: they stay so
		// (free capacity only shrinks while requests are added).
		for _, v := range d.settled {
			switch n := s.nodes[v]; n.kind {
			case nIn:
				s.pools.at(n.ref).dead = true
			case nHub:
				s.hubs[n.ref].dead = true
			}
		}
		if d.sinkP.from == src {
			// The request is unplaced: no flow moves, the potentials
			// stay valid (nothing can reach it).
			s.st[r].at = -1
			return
		}
	}
	// Potentials: a node settled before the sink moves up to it.
	for _, v := range d.settled {
		dv := s.distOf(v)
		if vcmp(dv, d.sink) >= 0 {
			continue
		}
		pv := s.deltaW(v)
		for i := range pv {
			pv[i] += d.sink[i] - dv[i]
		}
		if s.j.packed && !levelsCheck(pv[:s.j.lw]) || !termsCheck(s.j, pv) {
			s.j.broken = true
		}
		if n := s.nodes[v]; n.kind == nReq {
			l := s.st[n.ref].req.level
			if m := s.levelMax[l]; m == nil || slices.Compare(pv, m) > 0 {
				s.levelMax[l] = slices.Clone(pv)
			}
		}
	}
	s.apply()
}

// expandNode relaxes the residual edges out of node u.
func (s *solver) expandNode(u int32) {
	d := &s.d
	du := s.distOf(u)
	base := s.setBase(u)
	n := s.nodes[u]
	zero := s.zeroV
	switch n.kind {
	case nReq:
		r := n.ref
		st := &s.st[r]
		own := int32(-1)
		if st.at >= 0 {
			own = s.pools.at(st.pool).in
		}
		for oi := range st.opts {
			o := &st.opts[oi]
			if o.node == own {
				continue
			}
			s.relax(base, o.cost, o.node, prevEdge{u, eOpt, int32(oi)})
		}
		if st.at != -1 {
			s.relax(base, st.unplV, -1, prevEdge{u, eUnpl, r})
		}
		s.pushLazy(r, base)
	case nIn:
		p := s.pools.at(n.ref)
		if p.dead && !s.swapBelow(du) {
			// Only a swap with a request of the same priority level can
			// go through it, and only to a holder j with d(j) < delta(j);
			// d(j) >= d(pool).
			return
		}
		if int32(len(p.holders)) < p.cap {
			if p.out < 0 {
				// A free pool without a scale-in budget: no path through
				// its holders beats its exit (the flow has no negative
				// cycle), so they are not read.
				s.relax(base, zero, -1, prevEdge{u, eInSink, n.ref})
				return
			}
			s.relax(base, zero, p.out, prevEdge{u, eIn2Out, n.ref})
		}
		for _, h := range p.holders {
			st := &s.st[h]
			c := d.tmp2
			for i, v := range st.opts[st.at].cost {
				c[i] = -v
			}
			s.relax(base, c, st.nodeID, prevEdge{u, eRev, h})
		}
	case nOut:
		p := s.pools.at(n.ref)
		b := &s.bud[p.budget]
		s.relax(base, zero, b.id, prevEdge{u, eOut2B, n.ref})
		s.relax(base, d.intr, -1, prevEdge{u, eOutSink, n.ref})
		if len(p.holders) > 0 {
			s.relax(base, zero, p.in, prevEdge{u, eOut2In, n.ref})
		}
	case nHub:
		s.expandHub(u, du, base)
	case nBud:
		b := &s.bud[n.ref]
		if b.used < b.cap {
			s.relax(base, zero, -1, prevEdge{u, eB2Sink, n.ref})
		}
		for _, pi := range b.pools {
			if p := s.pools.at(pi); p.viaB > 0 {
				s.relax(base, zero, p.out, prevEdge{u, eB2Out, pi})
			}
		}
	}
}

// pushLazy queues request r's options not yet materialized, at the lowest
// reduced distance they could have: from a lower bound of the next one's
// cost that costs nothing to compute (its stream's position).
func (s *solver) pushLazy(r int32, base []int64) {
	st := &s.st[r]
	lb, ok := st.str.lower()
	if !ok {
		return
	}
	t := s.d.tmp
	for i := range t {
		t[i] = base[i] + lb[i]
	}
	s.push(t, -1, r)
}

// materialize reads request r's next option and relaxes its edge, unless
// its cost is above the bound it was queued at: then it is queued again at
// its cost.
func (s *solver) materialize(r int32, key []int64) {
	st := &s.st[r]
	u := st.nodeID
	base := s.setBase(u)
	t := s.d.tmp
	for {
		o, ok := st.str.peek()
		if !ok {
			return
		}
		for i := range t {
			t[i] = base[i] + o.cost[i]
		}
		if vcmp(t, key) > 0 {
			s.push(t, -1, r)
			return
		}
		// The options of the key's cost are read at once: each would be
		// the next entry of the queue.
		st.str.pop()
		// Grown from the solver's slab (a request reads about ten on a
		// short-spare site, a few hundred at most; growing a slice of
		// its own from one was 3% of a FindAll).
		st.opts = s.soptSlab.add(st.opts, o, 1024)
		s.grow()
		s.relax(base, o.cost, o.node, prevEdge{u, eOpt, int32(len(st.opts) - 1)})
		if s.freeExit(o.node) {
			// A free pool: the rest waits behind it.
			s.pushLazy(r, base)
			return
		}
	}
}

// apply moves the flow along the path found.
func (s *solver) apply() {
	d := &s.d
	path := d.path[:0]
	e := d.sinkP
	for {
		path = append(path, e)
		if e.from == s.cur {
			break
		}
		e = d.prev[e.from]
	}
	d.path = path
	slices.Reverse(path)
	entering := int32(-1) // the request whose unit goes through a hub
	for _, e := range path {
		switch e.kind {
		case eOpt:
			r := s.nodes[e.from].ref
			st := &s.st[r]
			st.at = e.ref
			if v := st.opts[e.ref].node; s.nodes[v].kind == nIn {
				s.hold(r, s.nodes[v].ref)
			} else {
				entering = r
			}
		case eHub:
			s.hold(entering, e.ref)
		case eUnpl:
			s.st[e.ref].at = -1
		case eRev:
			s.unhold(e.ref, s.nodes[e.from].ref)
		case eOut2B:
			p := s.pools.at(e.ref)
			b := &s.bud[p.budget]
			p.viaB++
			b.used++
			if !slices.Contains(b.pools, e.ref) {
				b.pools = append(b.pools, e.ref)
			}
		case eB2Out:
			p := s.pools.at(e.ref)
			p.viaB--
			s.bud[p.budget].used--
		}
	}
}
