package search

import (
	"cmp"
	"math/bits"
	"slices"
	"sort"
)

// A stream yields a request's pool options in ranking order (the joint
// objective's terms), lazily: the solver asks for the next one only when
// its cost could still matter. A one-node request reads its classes level
// by level (zone and VLAN matches, as Find does); a partition request
// merges, per partition group, the pools sharing a zone or VLAN class
// with it (costed and sorted) and then the group's other pools; candidates
// of another node count (AllowPartitionMismatch) and partitions of three
// or more nodes are costed one by one.

type stream struct {
	s    *solver
	req  *request
	head sopt
	has  bool
	done bool

	// one-node structured enumeration
	phase  int // next block: 0 exact, 1 relaxed, 2 victims, 3 done
	loaded bool
	t      int // level
	// t0 is the first level that can hold a pool: 1 when no Standby or
	// Active server shares the node's zone and VLAN set (its zone is its
	// own server's alone, or it has no zone or VLAN class).
	t0   int
	ci   int   // victim block position
	segs []seg // the block's groups
	si   int
	cur  []int32 // pools of the current segment, and position
	cp   int
	cost []int64
	g0   int32 // the exact group, skipped when relaxed

	// merged sources (partitions, other node counts)
	src srcHeap
}

// seg is a group read at one level: every pool of it at that level has
// the same cost for the request, its option terms with the level's
// reconfigurations (a block's segments are many and few are read: the
// cost vector is made when one is).
type seg struct {
	g  int32
	gp *gpools // the group's pools, once read
	t  [termCount]int64
}

// source is a sorted run of options, built when first needed.
type source struct {
	lb    []int64 // lower bound before expansion
	exp   bool
	build func(*source) // nil for a two-node group (part2)
	list  []sopt
	pos   int
	ord   int64
	// part2: the two-node group and its slot assignments (buildPart2)
	g      int32
	assign uint8
	// gen, when set, makes this source a generator of part2 sources
	// (see genState): its lb and ord are those of the next one.
	gen *genState
}

// Source order blocks: a two-node request's exact groups, its relaxed
// and preemption groups (ord = block | signature position << 20 | group
// position, the order they were listed in), then the other sources.
const (
	ordRelaxed int64 = 1 << 40
	ordPreempt int64 = 2 << 40
	ordOther   int64 = 3 << 40
	// ordSig is the shift of the signature position; the group position
	// is below it (ordGroup its mask).
	ordSig   = 20
	ordGroup = 1<<ordSig - 1
)

// newSource returns a zeroed source from the solver's slab (one
// allocation per srcChunk sources: a two-node request has one source per
// compatible group, hundreds in a site of many classes).
func (s *solver) newSource() *source {
	return &s.srcSlab.take(1, srcChunk)[0]
}

const srcChunk = 256

// vec returns a zeroed cost vector from the solver's arena.
func (s *solver) vec() []int64 {
	K := s.j.K
	return s.vecArena.take(K, max(64*K, 4096))
}

// sopts returns an empty slice with room for n options, from the solver's
// slab (a two-node request's sources are built by the thousand, each a
// few options).
func (s *solver) sopts(n int) []sopt {
	return s.soptSlab.take(n, 1024)[:0]
}

func (x *source) headCost() []int64 {
	if x.exp && x.pos < len(x.list) {
		return x.list[x.pos].cost
	}
	return x.lb
}

// srcHeap is a stream's sources, a binary heap ordered by head cost then
// ord (the same moves as container/heap, without its interface calls).
// The costs compared are a source's terms only, from lv (the priority
// levels' words, before it, are zero in every option's cost).
type srcHeap []*source

func (h srcHeap) less(a, b, lv int) bool {
	if c := vcmp(h[a].headCost()[lv:], h[b].headCost()[lv:]); c != 0 {
		return c < 0
	}
	return h[a].ord < h[b].ord
}

func (h srcHeap) up(j, lv int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i, lv) {
			break
		}
		h[i], h[j] = h[j], h[i]
		j = i
	}
}

func (h srcHeap) down(i, lv int) {
	n := len(h)
	for {
		j := 2*i + 1
		if j >= n {
			return
		}
		if j2 := j + 1; j2 < n && h.less(j2, j, lv) {
			j = j2
		}
		if !h.less(j, i, lv) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

func (h srcHeap) init(lv int) {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i, lv)
	}
}

// fixTop restores the order after the top source's head changed.
func (h srcHeap) fixTop(lv int) { h.down(0, lv) }

// popTop removes the top source.
func (h *srcHeap) popTop(lv int) {
	old := *h
	n := len(old) - 1
	old[0], old[n] = old[n], nil
	*h = old[:n]
	h.down(0, lv)
}

func (h *srcHeap) push(s *solver, x *source, lv int) {
	*h = s.srcPtrs.add(*h, x, 4096)
	h.up(len(*h)-1, lv)
}

func (s *solver) costVec(o *option) []int64 {
	v := s.vec()
	t := terms(o)
	s.j.putTerms(v, &t)
	return v
}

// segCost writes into v (K words, level terms zero) the cost of a
// segment's options at level t.
func (s *solver) segCost(terms *[termCount]int64, t int, v []int64) []int64 {
	x := *terms
	x[tReconfig] = int64(t)
	clear(v[s.j.lw:])
	s.j.putTerms(v, &x)
	return v
}

// peek returns the next option without consuming it.
func (st *stream) peek() (sopt, bool) {
	if !st.has && !st.done {
		st.head, st.has = st.advance()
		st.done = !st.has
	}
	return st.head, st.has
}

func (st *stream) pop() (sopt, bool) {
	o, ok := st.peek()
	st.has = false
	return o, ok
}

// advance produces the next option of the merged stream: the structured
// one-node enumeration and the sources.
func (st *stream) advance() (sopt, bool) {
	a, okA := st.peekStructured()
	b, okB := st.peekSources()
	switch {
	case okA && (!okB || slices.Compare(a.cost, b.cost) <= 0):
		st.cp++
		return a, true
	case okB:
		st.popSource()
		return b, true
	}
	return sopt{}, false
}

func (st *stream) peekSources() (sopt, bool) {
	for len(st.src) > 0 {
		x := st.src[0]
		if x.gen != nil && !x.gen.started {
			st.topReady()
			continue
		}
		if x.gen != nil {
			st.s.emit(st, x)
			continue
		}
		if !x.exp {
			x.exp = true
			if x.build != nil {
				x.build(x)
			} else {
				st.s.buildPart2(x, st.req)
			}
			st.src.fixTop(st.s.j.lw)
			continue
		}
		if x.pos < len(x.list) {
			return x.list[x.pos], true
		}
		st.src.popTop(st.s.j.lw)
	}
	return sopt{}, false
}

func (st *stream) popSource() {
	st.src[0].pos++
	st.src.fixTop(st.s.j.lw)
}

// peekStructured returns the next pool of the one-node enumeration.
func (st *stream) peekStructured() (sopt, bool) {
	if st.phase == 3 && !st.loaded && st.cp >= len(st.cur) {
		return sopt{}, false
	}
	for {
		if st.cp < len(st.cur) {
			return sopt{node: st.cur[st.cp], cost: st.cost}, true
		}
		if !st.nextSeg() {
			return sopt{}, false
		}
	}
}

// newStream prepares the request's stream.
func (s *solver) newStream(req *request) stream {
	st := stream{s: s, req: req, g0: -1, phase: 3}
	n := len(req.nodes)
	if n == 1 {
		st.phase = 0
		if f := &req.nodes[0]; f.zone < 0 || f.vlans < 0 || (f.idx >= 0 && !f.sharedZone()) {
			st.t0 = 1
		}
	}
	if n == 2 {
		s.partSources(&st)
	}
	if req.pol.AllowPartitionMismatch || n >= 3 {
		s.otherSources(&st)
	}
	st.src.init(s.j.lw)
	return st
}

// nextSeg moves the one-node enumeration to its next non-empty segment:
// within a block (the exact group; the relaxed classes; the victim groups
// of one priority and scale-in outcome) level by level, each level's
// groups in ranking order.
func (st *stream) nextSeg() bool {
	f := &st.req.nodes[0]
	for {
		if !st.loaded {
			if !st.loadBlock() {
				return false
			}
			st.loaded, st.t, st.si = true, st.t0, 0
		}
		if st.si < len(st.segs) {
			sg := &st.segs[st.si]
			st.si++
			if sg.gp == nil {
				sg.gp = st.s.groupPools(sg.g)
			}
			if tg := st.s.levelTargets(sg.g, sg.gp, f, st.t, st.cur[:0]); len(tg) > 0 {
				st.cur, st.cp = tg, 0
				st.cost = st.s.segCost(&sg.t, st.t, st.s.vec())
				return true
			}
			continue
		}
		if st.t < 2 {
			st.t++
			st.si = 0
			continue
		}
		st.loaded = false
	}
}

// loadBlock loads the next block's segments; false when the enumeration is
// over.
func (st *stream) loadBlock() bool {
	s, req := st.s, st.req
	inv := s.j.inv
	f := &req.nodes[0]
	st.segs = st.segs[:0]
	switch st.phase {
	case 0:
		st.phase = 1
		if g := inv.exactGroup(req); g >= 0 {
			st.g0 = g
			o := option{stage: stgExact}
			st.segs = s.appendSeg(st.segs, seg{g: g, t: terms(&o)})
		}
		return true
	case 1:
		st.phase = 2
		for _, c := range s.j.classesFor(req) {
			for _, g := range s.j.swGroups(c.hw, f, &req.pol, stStandby) {
				if g == st.g0 {
					continue
				}
				o := option{stage: stgRelaxed, surMHz: c.mhz, surMem: c.mem}
				st.segs = s.appendSeg(st.segs, seg{g: g, t: terms(&o)})
			}
		}
		return true
	case 2:
		if !req.pol.Preempt {
			st.phase = 3
			return false
		}
		vs := s.j.victimsFor(req)
		if st.ci >= len(vs) {
			st.phase = 3
			return false
		}
		b := vs[st.ci]
		k := st.ci
		for k < len(vs) && vs[k].prio == b.prio && vs[k].intr == b.intr {
			v := vs[k]
			o := option{stage: stgPreempt, vprio: v.prio, interrupted: v.intr, victims: 1, surMHz: v.mhz, surMem: v.mem}
			st.segs = s.appendSeg(st.segs, seg{g: v.g, t: terms(&o)})
			k++
		}
		st.ci = k
		return true
	}
	return false
}

// appendSeg appends x to a stream's segments, growing them from the
// solver's slab (a request of a site of hundreds of classes reads a
// relaxed block of hundreds of groups: growing a slice of its own was a
// fifth of a standalone FindAll's allocation).
func (s *solver) appendSeg(segs []seg, x seg) []seg {
	return s.segSlab.add(segs, x, 1024)
}

// hubMin is the number of pools up to which a group's pools are offered
// one by one rather than through hubs.
const hubMin = 3

// levelTargets appends to out the flow nodes through which node f reaches
// the pools gp of standalone group g with t reconfigurations: 0 = the pool
// of f's zone and VLAN set, 1 = the hubs of f's zone and of f's VLAN set,
// 2 = the hub of all the group's pools.
func (s *solver) levelTargets(g int32, gp *gpools, f *fnode, t int, out []int32) []int32 {
	z, v := f.zone, f.vlans
	add := func(n int32) {
		if n >= 0 {
			out = append(out, n)
		}
	}
	if len(gp.all) <= hubMin {
		// Few pools: each at its own level.
		for _, id := range gp.all {
			p := s.pools.at(id)
			re := 0
			if z < 0 || p.zc != z {
				re++
			}
			if v < 0 || p.vc != v {
				re++
			}
			if re == t && p.cap0 > 0 {
				add(p.in)
			}
		}
		return out
	}
	switch t {
	case 0:
		// (-1 is no class: a template's zone or VLAN set that no server
		// has never matches.)
		if id, ok := gp.find(s, z, v); ok && z >= 0 && v >= 0 && s.pools.at(id).cap0 > 0 {
			add(s.pools.at(id).in)
		}
	case 1:
		if z >= 0 {
			if ps := gp.withZone(s, z); len(ps) > 0 {
				add(s.hubOf(hubKey{hkZone, g, z, -1}, ps))
			}
		}
		if v >= 0 {
			if ps := gp.withVLAN(s, v); len(ps) > 0 {
				add(s.hubOf(hubKey{hkVLAN, g, v, -1}, ps))
			}
		}
	default:
		if len(gp.all) > 0 {
			add(s.hubOf(hubKey{hkAll, g, -1, -1}, gp.all))
		}
	}
	return out
}

// classCosts is a compatible class and its surpluses.
type classCosts struct {
	hw       int32
	mhz, mem int64
}

// classKey is what classesFor depends on: the request node's hard key,
// its attributes the policy does not relax, and the policy (not the node's
// class: requests of many classes share a list when their policy relaxes
// what tells the classes apart).
type classKey struct {
	hk    hardKey
	model string // the CPU model, "" under AnyCPUModel
	mhz   int    // the CPU MHz, -1 when the policy sets a minimum
	mem   int    // the memory, -1 when the policy sets a minimum
	pol   Policy
}

func (j *joint) classKeyOf(req *request) classKey {
	f := &req.nodes[0]
	k := classKey{hk: j.inv.hardOfNode(f), mhz: -1, mem: -1, pol: req.pol}
	if !req.pol.AnyCPUModel {
		k.model = f.h.CPUModel
	}
	if req.pol.MinCPUMHz == 0 {
		k.mhz = f.h.CPUMHz
	}
	if req.pol.MinMemoryMiB == 0 {
		k.mem = f.h.MemoryMiB
	}
	return k
}

// victimKey is what victimsFor's list depends on: classKey and the
// switch the request's groups are on (-2: any).
type victimKey struct {
	classKey
	sw int32
}

// classesFor returns the classes of the request's hard key that its policy
// accepts, by MHz surplus, memory surplus, class. (classCost reads the
// node's hardware only through classKey's fields: a node's own class
// passes the same checks as another class with its attributes.)
func (j *joint) classesFor(req *request) []classCosts {
	k := j.classKeyOf(req)
	if c, ok := j.clsCache[k]; ok {
		return c
	}
	f := &req.nodes[0]
	var out []classCosts
	cand := j.inv.candClasses(k.hk, f, &req.pol)
	if !req.pol.AnyCPUModel && k.mhz >= 0 && k.mem >= 0 {
		// The policy pins every attribute: only the node's own class
		// (the one with all of them) can pass, none for a template
		// of a class the inventory does not have.
		cand = nil
		if f.hw >= 0 {
			cand = []int32{f.hw}
		}
	}
	for _, hw := range cand {
		if mhz, mem, ok := j.inv.classCost(req, hw, &req.pol); ok {
			out = append(out, classCosts{hw, mhz, mem})
		}
	}
	slices.SortFunc(out, func(a, b classCosts) int {
		return cmp.Or(cmp.Compare(a.mhz, b.mhz), cmp.Compare(a.mem, b.mem), cmp.Compare(a.hw, b.hw))
	})
	j.clsCache[k] = out
	return out
}

// swGroups returns the switch-specific groups of class hw on f's disk
// array in state st: on f's switch, or on every switch under AnySwitch.
func (j *joint) swGroups(hw int32, f *fnode, pol *Policy, st uint8) []int32 {
	sw := f.sw
	if sw < 0 {
		sw = noSwitch
	}
	if pol.AnySwitch {
		sw = -2
	}
	return j.inv.classGroups(hw, f.arr, sw, st)
}

type victimGroup struct {
	g        int32
	prio     int
	intr     int32
	mhz, mem int64
	hw       int32
	ci       int32 // its class's place in classesFor's order (by surpluses, then class)
}

// sortVictims sorts a request's victim groups by priority, then scale-in
// (a victim scaled in first), its class's place ci (below nc), then group
// (below ng): as packed words (the priority offset by the least, the
// entry's index last) when they fit in one, else compared. (A site of
// hundreds of classes sorts thousands of them per round: packed, a
// FindAll on S1/C500/zone-rack/V50/standalone runs 1.5% fewer
// instructions.)
func sortVictims(v []victimGroup, nc, ng int) []victimGroup {
	if len(v) < 2 {
		return v
	}
	minP, maxP := v[0].prio, v[0].prio
	for k := range v {
		minP, maxP = min(minP, v[k].prio), max(maxP, v[k].prio)
	}
	lp, lc, lg, ln := bits.Len64(uint64(maxP)-uint64(minP)), bits.Len(uint(nc)), bits.Len(uint(ng)), bits.Len(uint(len(v)))
	if maxP-minP < 0 || lp+1+lc+lg+ln > 64 {
		slices.SortFunc(v, func(a, b victimGroup) int {
			return cmp.Or(cmp.Compare(a.prio, b.prio), cmp.Compare(a.intr, b.intr), cmp.Compare(a.ci, b.ci), cmp.Compare(a.g, b.g))
		})
		return v
	}
	w := make([]uint64, len(v))
	for k := range v {
		e := &v[k]
		x := (uint64(e.prio)-uint64(minP))<<1 | uint64(e.intr)
		x = x<<lc | uint64(e.ci)
		x = x<<lg | uint64(e.g)
		w[k] = x<<ln | uint64(k)
	}
	return permuteByWords(v, w, ln)
}

// permuteByWords sorts w, words whose low ln bits are an index into v,
// and returns v's elements in the words' order.
func permuteByWords[T any](v []T, w []uint64, ln int) []T {
	sortWords(w)
	sorted := make([]T, len(v))
	for k, x := range w {
		sorted[k] = v[x&(1<<ln-1)]
	}
	return sorted
}

// victimsFor returns the Active standalone groups a one-node request may
// take, in ranking order: priority, scale-in, surpluses, class, group.
// The list of all priorities is shared by the requests of a victimKey;
// each reads the prefix below its own priority.
func (j *joint) victimsFor(req *request) []victimGroup {
	f := &req.nodes[0]
	k := victimKey{j.classKeyOf(req), f.sw}
	if f.sw < 0 {
		k.sw = noSwitch
	}
	if req.pol.AnySwitch {
		k.sw = -2
	}
	out, ok := j.vicCache[k]
	if !ok {
		// Listed in the round's scratch; the sorted copy is kept.
		out = j.vgBuf[:0]
		cls := j.classesFor(req)
		for ci, c := range cls {
			for _, g := range j.swGroups(c.hw, f, &req.pol, stActive) {
				gk := &j.inv.idx.groups[g].key
				intr := int32(1)
				if j.budget[gk.work] > 0 {
					intr = 0
				}
				out = append(out, victimGroup{g, gk.prio, intr, c.mhz, c.mem, c.hw, int32(ci)})
			}
		}
		j.vgBuf = out
		out = sortVictims(out, len(cls), len(j.inv.idx.groups))
		if len(out) > 0 && &out[0] == &j.vgBuf[0] {
			out = slices.Clone(out) // sorted in place
		}
		j.vicCache[k] = out
	}
	n, _ := slices.BinarySearchFunc(out, req.prio, func(v victimGroup, p int) int { return cmp.Compare(v.prio, p) })
	return out[:n] // victimOK: a strictly lower priority
}

// partSources adds, for a request of two or more nodes, one source per
// partition group of its node count that can serve it, by stage.
func (s *solver) partSources(st *stream) {
	inv, req := s.j.inv, st.req
	zero := Policy{}
	exactSig := inv.sigOf(req, false)
	st.g0 = -1
	if exactSig >= 0 {
		so, ok := s.sigCheck(req, exactSig, &zero)
		for _, g := range inv.sigGroups(exactSig, stStandby) {
			st.g0 = g
			if ok {
				s.pushPart2(st, stgExact, g, so, int64(len(st.src)))
			}
		}
	}
	// The relaxed and preemption groups of the hard key, generated in
	// the order of their lower bounds (genList): a request reads only
	// the groups a path could use, not the hundreds a site of many
	// hardware classes has.
	hk := inv.hardOfNode(&req.nodes[0])
	// Without AnyCPUModel a node takes only its own CPU model (cpuOK):
	// when both nodes have one model, a signature of another fits in no
	// slot assignment, and the list leaves it out.
	byCPU, cpu := false, int32(-1)
	if h0, h1 := req.nodes[0].h, req.nodes[1].h; !req.pol.AnyCPUModel && h0.CPUModel == h1.CPUModel {
		byCPU, cpu = true, h0.model
	}
	for _, stage := range []uint8{stgRelaxed, stgPreempt} {
		if stage == stgPreempt && !req.pol.Preempt {
			continue
		}
		// The generator starts unread (see startGen): most requests
		// are served by their exact groups and never read it.
		src := s.newSource()
		src.gen = &s.genSlab.take(1, 256)[0]
		*src.gen = genState{key: genKey{hk, stage, req.pol.MinMemoryMiB > 0, byCPU, cpu}, stage: stage}
		lb := option{stage: stage}
		src.ord = ordRelaxed
		if stage == stgPreempt {
			lb.vprio, src.ord = inv.minPrio, ordPreempt
		}
		src.lb = s.costVec(&lb)
		st.src = s.srcPtrs.add(st.src, src, 4096)
	}
}

// startGen reads the first group of generator src, which was queued at
// a lower bound of every group of its stage (the stage alone, and the
// first position of the stage's order block): its lb and ord become
// that group's, which are no lower. False when the generator has no
// group for the request.
func (s *solver) startGen(st *stream, src *source) bool {
	g := src.gen
	g.started = true
	g.list, g.nsig = s.genList(g.key)
	return s.genNext(st, src)
}

// topReady makes the head of st's sources a started one (starting, and
// dropping when empty, the generators that reach the head unread), so
// that its cost is exact or a built source's lower bound, as if every
// generator had been started up front: a bound below the true one never
// reorders the merge, it only defers the reading.
func (st *stream) topReady() {
	for len(st.src) > 0 {
		x := st.src[0]
		if x.gen == nil || x.gen.started {
			return
		}
		if st.s.startGen(st, x) {
			st.src.fixTop(st.s.j.lw)
		} else {
			st.src.popTop(st.s.j.lw)
		}
	}
}

// pushPart2 adds the source of two-node group g at stage for st's
// request, whose signature check gave so.
func (s *solver) pushPart2(st *stream, stage uint8, g int32, so sigOK, ord int64) {
	src := s.newSource()
	src.lb, src.ord = s.part2Bound(s.part2LB(st.req, stage, g, so), st.req, g, so.assign), ord
	src.g, src.assign = g, so.assign
	st.src.push(s, src, s.j.lw)
}

// part2Bound is the bound a source of two-node group g starts at for
// req under slot assignments assign: lb (the group's surpluses, victims
// and priority) with its reconfigurations raised to a lower bound, on a
// small group the fewest of any partition's, read from the group's
// index entries as partBest reads them, else zoneTight's. The entries
// hold every partition of the group and compare the request's zones and
// VLAN sets with the members' own (a pool's profile names only the
// requests' classes, so it counts at least as many, and zoneLB's nodes
// match no member): the bound is at most the cost buildPart2 gives any
// option of the group. With zoneLB alone a source's head came out one or
// two reconfigurations (the VLAN sets) above its bound, and a stream
// built every source of equal bound before it could yield one. (Raising
// a source's bound only when it reached the top of its stream cost
// S1/C500/zone-rack/V50/2-node 11% more instructions: the source moves in
// the heap twice, and the stream's lower bound is looser.)
func (s *solver) part2Bound(lb []int64, req *request, g int32, assign uint8) []int64 {
	idx := &s.j.inv.idx
	pg := &idx.pgroups[g]
	if pg.all.n > smallPGroup || len(req.nodes) != 2 || len(idx.sigs[pg.key.sig].eks) != 2 {
		return s.zoneTight(lb, req, g)
	}
	q := pairFeatOf(req, assign)
	if _, re := fewestReconfig(idx.pfeat[pg.all.off:pg.all.off+pg.all.n], &q, nil); re > s.j.term(lb, tReconfig) {
		return s.withReconfig(lb, re)
	}
	return lb
}

// zoneTight returns lb, a lower bound of the options of two-node group g
// for req, raised to zoneLB's reconfigurations when they are more: a
// source then waits in its stream at a bound closer to its options', and
// is not built (its pools, its hubs) only to sink below the next one.
// (A generator's own bound stays as it is: it bounds the groups after
// its next one too, which zoneLB does not.)
func (s *solver) zoneTight(lb []int64, req *request, g int32) []int64 {
	if zb := s.zoneLB(req, g); zb > s.j.term(lb, tReconfig) {
		return s.withReconfig(lb, zb)
	}
	return lb
}

// withReconfig returns a new vector: c with re reconfigurations.
func (s *solver) withReconfig(c []int64, re int64) []int64 {
	v := s.vec()
	copy(v, c)
	s.j.setTerm(v, tReconfig, re)
	return v
}

// zoneLB is a lower bound of the reconfigurations of two-node request req
// on any partition of two-node group g: a node of the request whose zone
// no member of g is in changes zone whatever the partition (a failed
// node's zone of its own server alone, or a small zone read through its
// members' index entries). Template nodes and big zones count nothing.
func (s *solver) zoneLB(req *request, g int32) int64 {
	inv := s.j.inv
	x := &inv.idx
	pg := &x.pgroups[g]
	st := pg.key.st
	a := 0
	if x.sigs[pg.key.sig].eks[0].sw < 0 {
		a = 1
	}
	gs := pg.all
	var n int64
	for k := range req.nodes {
		f := &req.nodes[k]
		switch {
		case f.idx < 0 || f.zone < 0:
			continue
		case !f.sharedZone():
			n++ // the zone is f's server's alone
			continue
		case f.bigZone(st):
			continue
		case !inv.zoneMay(f.zone, st, g):
			n++ // no member of g is in f's zone
			continue
		}
		_, zf := inv.zoneGroups(f.zone, st, a)
		in := false
		for _, e := range zf {
			if fe, ok := zonePart(e); ok && fe >= gs.off && fe < gs.off+gs.n {
				in = true
				break
			}
		}
		if !in {
			n++
		}
	}
	return n
}

// part2LB is the lower bound of every option of two-node group g.
func (s *solver) part2LB(req *request, stage uint8, g int32, so sigOK) []int64 {
	pg := &s.j.inv.idx.pgroups[g]
	var lb option
	lb.stage = stage
	if pg.key.st == stActive {
		lb.vprio, lb.victims = int(pg.key.prio), int32(len(req.nodes))
		if s.j.budget[pg.key.work] <= 0 {
			lb.interrupted = 1
		}
	}
	lb.surMHz, lb.surMem = so.mhz, so.mem
	return s.costVec(&lb)
}

// sigOK is what every group of one signature shares for a two-node
// request under one policy: the slot assignments that fit, and the
// surpluses.
type sigOK struct {
	mhz, mem int64
	assign   uint8
}

func (s *solver) sigCheck(req *request, sig int32, pol *Policy) (sigOK, bool) {
	mhz, mem, assign, ok := s.j.inv.sigSurplus(req, sig, pol)
	return sigOK{mhz, mem, assign}, ok
}

// genEntry is a relaxed or preemption group of a hard key, with what its
// lower bound for a two-node request depends on besides the request.
type genEntry struct {
	sig, g   int32
	fi       int32 // the signature's position in the list the generator reads (its slot in sigFits.at)
	prio     int
	intr     bool  // no scale-in budget: a victim is interrupted
	mhz, mem int64 // the signature's totals
	ord      int64
}

type genKey struct {
	hk    hardKey
	stage uint8
	byMem bool // the policy asks for memory: the memory surplus ranks
	// byCPU: only signatures of CPU model cpu (hwInfo.model; -1, a model
	// no server has, leaves none) (see partSources).
	byCPU bool
	cpu   int32
}

// genList returns the relaxed (Standby) or preemption (Active) two-node
// groups of hard key hk in the order of their lower bounds for any
// two-node request of that hard key: the bound's terms that vary between
// groups are the victims' priority and interruption, then the MHz and
// memory surpluses, which are the signature's totals less what the
// request asks (the same for every group); equal bounds keep the order
// the groups are listed in (ord). Built once per FindAll. nsig is the
// number of signatures it read the groups from (the hard key's, or the
// CPU model's): a request's signature checks have a slot each (fi).
func (s *solver) genList(k genKey) (list []genEntry, nsig int) {
	j := s.j
	if t, ok := j.gens[k]; ok {
		return t.l, t.nsig
	}
	hk, stage, byMem := k.hk, k.stage, k.byMem
	inv := j.inv
	x := &inv.idx
	st, base := stStandby, ordRelaxed
	if stage == stgPreempt {
		st, base = stActive, ordPreempt
	}
	// A CPU model's signatures from their own list (a site of hundreds
	// of classes has hundreds of models; both members of each are of the
	// model), with their positions in the hard key's list (sp), which the
	// order uses; the checks' slots (fi) are positions in the list read.
	sigs, pos := x.hkSig[hk], []int32(nil)
	if k.byCPU {
		sigs = nil
		if k.cpu >= 0 {
			mk := modelKey{hk, inv.strs[k.cpu]}
			sigs, pos = x.hkSig2Model[mk], x.hkSig2Pos[mk]
		}
	}
	// Each signature's groups, read once, to size the list.
	sgs := make([][]int32, len(sigs))
	n := 0
	for i, sig := range sigs {
		if si := &x.sigs[sig]; len(si.eks) == 2 && si.eks[0].sw >= 0 && si.eks[1].sw >= 0 {
			sgs[i] = inv.sigGroups(sig, st)
			n += len(sgs[i])
		}
	}
	// Listed in the round's scratch; the sorted copy is kept.
	l := slices.Grow(j.geBuf[:0], n)
	for i, sig := range sigs {
		sp := i
		if pos != nil {
			sp = int(pos[i])
		}
		si := &x.sigs[sig]
		var mhz int64
		for _, e := range si.eks {
			mhz += int64(inv.hw[e.hw].CPUMHz)
		}
		for gp, g := range sgs[i] {
			pg := &x.pgroups[g]
			e := genEntry{sig: sig, g: g, fi: int32(i), mhz: mhz, mem: si.mem, ord: base | int64(sp)<<ordSig | int64(gp)}
			if st == stActive {
				e.prio, e.intr = int(pg.key.prio), j.budget[pg.key.work] <= 0
			}
			l = append(l, e)
		}
	}
	j.geBuf = l
	l = sortGenEntries(l, len(sigs), byMem)
	if len(l) > 0 && &l[0] == &j.geBuf[0] {
		l = slices.Clone(l) // sorted in place
	}
	if j.gens == nil {
		j.gens = make(map[genKey]genTable)
	}
	j.gens[k] = genTable{l, len(sigs)}
	return l, len(sigs)
}

// sortGenEntries sorts a genList by victims' priority, interruption,
// MHz, memory when byMem, then ord. The entries of one signature (fi,
// below nsig) share MHz, memory and ord's signature position: the
// signatures are ranked first, and the entries sorted as packed words
// (priority offset by the least, interruption, the signature's rank, the
// group's position in ord, the entry's index) when those fit in one, else
// compared.
func sortGenEntries(l []genEntry, nsig int, byMem bool) []genEntry {
	// sigCmp orders signatures: by MHz, memory when byMem, then position.
	sigCmp := func(a, b *genEntry) int {
		c := cmp.Compare(a.mhz, b.mhz)
		if c == 0 && byMem {
			c = cmp.Compare(a.mem, b.mem)
		}
		return cmp.Or(c, cmp.Compare(a.ord>>ordSig, b.ord>>ordSig))
	}
	if len(l) < 2 {
		return l
	}
	// One entry per signature, with its rank.
	first := make([]int32, nsig)
	for i := range first {
		first[i] = -1
	}
	minP, maxP, maxGP := l[0].prio, l[0].prio, int64(0)
	for k := range l {
		e := &l[k]
		if first[e.fi] < 0 {
			first[e.fi] = int32(k)
		}
		minP, maxP, maxGP = min(minP, e.prio), max(maxP, e.prio), max(maxGP, e.ord&ordGroup)
	}
	reps := make([]int32, 0, nsig)
	for _, k := range first {
		if k >= 0 {
			reps = append(reps, k)
		}
	}
	slices.SortFunc(reps, func(a, b int32) int { return sigCmp(&l[a], &l[b]) })
	rank := first // reused: per signature its rank
	for r, k := range reps {
		rank[l[k].fi] = int32(r)
	}
	span := uint64(maxP) - uint64(minP)
	lp, ls, lg, ln := bits.Len64(span), bits.Len(uint(len(reps))), bits.Len64(uint64(maxGP)), bits.Len(uint(len(l)))
	if maxP-minP < 0 || lp+1+ls+lg+ln > 64 {
		slices.SortFunc(l, func(a, b genEntry) int {
			return cmp.Or(cmp.Compare(a.prio, b.prio), boolCmp(a.intr, b.intr), sigCmp(&a, &b), cmp.Compare(a.ord&ordGroup, b.ord&ordGroup))
		})
		return l
	}
	w := make([]uint64, len(l))
	for k := range l {
		e := &l[k]
		x := uint64(e.prio) - uint64(minP)
		x <<= 1
		if e.intr {
			x |= 1
		}
		x = x<<ls | uint64(rank[e.fi])
		x = x<<lg | uint64(e.ord&ordGroup)
		w[k] = x<<ln | uint64(k)
	}
	return permuteByWords(l, w, ln)
}

// genTable is a genList result.
type genTable struct {
	l    []genEntry
	nsig int
}

// genState is a request's position in a genList, with the checks of the
// signatures it read.
type genState struct {
	key     genKey
	started bool // list and pos are read (see startGen)
	list    []genEntry
	pos     int
	stage   uint8
	nsig    int      // signatures in the list genList read (see genList)
	fits    *sigFits // the checks of those signatures
}

// sigFitsKey is what a two-node request's signature checks depend on:
// its nodes' classes, disk arrays and switches, and its policy. They
// also fix the list its generators read (the hard key's signatures, or
// its CPU model's: see partSources), whose positions index sigFits.at.
type sigFitsKey struct {
	e0, e1 ek
	pol    Policy
}

// sigFitsFor returns the signature checks (see sigFits) for req:
// shared by the requests of a round that have the same sigFitsKey (and
// so the same hard key), each signature checked once for them all.
func (j *joint) sigFitsFor(req *request, nsig int) *sigFits {
	f0, f1 := &req.nodes[0], &req.nodes[1]
	if f0.hw < 0 || f1.hw < 0 {
		return &sigFits{at: j.atSlab.take(nsig, 4096)}
	}
	k := sigFitsKey{ek{f0.hw, f0.arr, f0.sw}, ek{f1.hw, f1.arr, f1.sw}, req.pol}
	if c, ok := j.sigFits[k]; ok {
		if len(c.at) != nsig {
			panic("search: one sigFitsKey, generators of two signature lists")
		}
		return c
	}
	if j.sigFits == nil {
		j.sigFits = make(map[sigFitsKey]*sigFits)
	}
	c := &sigFits{at: j.atSlab.take(nsig, 4096)}
	j.sigFits[k] = c
	return c
}

// sigFits holds the checks of a hard key's signatures for the requests of
// one sigFitsKey. A request reads few of the signatures, and a round has
// a key per class pair and policy: the results are kept only for the
// signatures that fit, not in a slot per signature.
type sigFits struct {
	at []int32 // per signature of the generators' list (genEntry.fi): 0 not checked, -1 does not fit, k > 0: so[k-1]
	so []sigOK
}

// genNext moves generator src to the next group its request may use and
// sets src's lb and ord to that group's; false when there is none.
//
// The list is in order of priority, interruption, then the signature's
// MHz: a signature fits only when it has at least the MHz the request
// needs (each node's candidate has at least the node's, or the policy's
// minimum), exactly that when the policy sets no minimum (each has the
// node's). So the entries of a block (one priority and interruption)
// below the need are skipped at once, and without a minimum those above
// it; and the victims' priorities rise, so the first one the request may
// not take ends the list. (A request of a site of many classes skipped
// hundreds of entries one by one, checking each signature's slots.)
func (s *solver) genNext(st *stream, src *source) bool {
	g, req := src.gen, st.req
	need := reqMHz(&req.nodes[0], &req.pol) + reqMHz(&req.nodes[1], &req.pol)
	exact := req.pol.MinCPUMHz == 0
	for ; g.pos < len(g.list); g.pos++ {
		e := &g.list[g.pos]
		if g.stage == stgPreempt && !req.victimOK(e.prio) {
			g.pos = len(g.list)
			return false
		}
		if e.mhz < need || (exact && e.mhz > need) {
			g.pos = genSkip(g.list, g.pos, need, exact) - 1
			continue
		}
		if e.g == st.g0 || e.mem < int64(req.pol.MinMemoryMiB) {
			continue
		}
		if g.fits == nil {
			g.fits = s.j.sigFitsFor(req, g.nsig)
		}
		c := g.fits
		k := c.at[e.fi]
		if k == 0 {
			k = -1
			if so, fits := s.sigCheck(req, e.sig, &req.pol); fits {
				c.so = s.j.soSlab.add(c.so, so, 1024)
				k = int32(len(c.so))
			}
			c.at[e.fi] = k
		}
		if k < 0 {
			continue
		}
		src.lb, src.ord = s.part2LB(req, g.stage, e.g, c.so[k-1]), e.ord
		return true
	}
	return false
}

// genSkip returns the first position after pos in l whose entry may have
// need MHz (exact: exactly need), pos's entry having less (or, exact,
// more): the first of its block with enough (exact: with the need), else
// the next block's first (see genNext).
func genSkip(l []genEntry, pos int, need int64, exact bool) int {
	e := &l[pos]
	// The block's end: the first entry of a later priority or
	// interruption.
	end := pos + sort.Search(len(l)-pos, func(i int) bool {
		x := &l[pos+i]
		return x.prio != e.prio || x.intr != e.intr
	})
	if e.mhz > need {
		return end // exact: the rest of the block has more
	}
	p := pos + sort.Search(end-pos, func(i int) bool { return l[pos+i].mhz >= need })
	if exact && p < end && l[p].mhz > need {
		return end // none has exactly the need
	}
	return p
}

// emit turns generator src, at the top of st's heap, into the source of
// its group, and moves it on to the next.
func (s *solver) emit(st *stream, src *source) {
	g := src.gen
	e := &g.list[g.pos]
	lb, ord := src.lb, src.ord
	g.pos++
	if s.genNext(st, src) {
		st.src.fixTop(s.j.lw)
	} else {
		st.src.popTop(s.j.lw)
	}
	out := s.newSource()
	assign := g.fits.so[g.fits.at[e.fi]-1].assign
	out.lb, out.ord = s.part2Bound(lb, st.req, e.g, assign), ord
	out.g, out.assign = e.g, assign
	st.src.push(s, out, s.j.lw)
}

// buildPart2 lists the options of two-node group g: the pools sharing a
// zone with the request, each at its cost; then, the zones differing,
// the hubs of the pools matching both VLAN sets (two reconfigurations),
// one of them (three), and all pools (four), for each slot assignment
// the stage's policy allows (the surpluses are the group's, in lb).
func (s *solver) buildPart2(x *source, req *request) {
	g, assign := x.g, x.assign
	pp := s.partPools(g)
	var costs [5][]int64
	cost := func(re int) []int64 {
		if costs[re] == nil {
			costs[re] = s.withReconfig(x.lb, int64(re))
		}
		return costs[re]
	}
	if len(pp.all) <= hubMin {
		// Few pools: each at its own cost.
		x.list = s.sopts(len(pp.all))
		for _, id := range pp.all {
			if p := s.pools.at(id); p.cap0 > 0 {
				x.list = append(x.list, sopt{node: p.in, cost: cost(s.profileReconfig(req, &p.prof, assign))})
			}
		}
		slices.SortStableFunc(x.list, func(a, b sopt) int { return slices.Compare(a.cost, b.cost) })
		return
	}
	// Up to the pools of two zones, then at most seven hubs (a pair,
	// two slots for each assignment; all).
	var nearBuf [16]int32
	near := nearBuf[:0]
	for k := range req.nodes {
		if z := req.nodes[k].zone; z >= 0 {
			for _, id := range pp.look(ppKey(ppZone, z, 0)) {
				if !slices.Contains(near, id) {
					near = append(near, id)
				}
			}
		}
	}
	slices.Sort(near)
	x.list = s.sopts(len(near) + 7)
	for _, id := range near {
		if s.pools.at(id).cap0 > 0 {
			re := s.profileReconfig(req, &s.pools.at(id).prof, assign)
			x.list = append(x.list, sopt{node: s.pools.at(id).in, cost: cost(re)})
		}
	}
	var hubsBuf [7]int32
	hubs := hubsBuf[:0]
	add := func(n int32, re int) {
		if n >= 0 && !slices.Contains(hubs, n) {
			hubs = append(hubs, n)
			x.list = append(x.list, sopt{node: n, cost: cost(re)})
		}
	}
	for a := range 2 {
		if assign&(1<<a) == 0 {
			continue
		}
		// The request's node in each slot.
		v := [2]int32{req.nodes[0].vlans, req.nodes[1].vlans}
		if a == 1 {
			v[0], v[1] = v[1], v[0]
		}
		if v[0] >= 0 && v[1] >= 0 {
			if ps := pp.look(ppKey(ppPair, v[0], v[1])); len(ps) > 0 {
				add(s.hubOf(hubKey{hkPair, g, v[0], v[1]}, ps), 2)
			}
		}
		for slot := range 2 {
			if v[slot] < 0 {
				continue
			}
			if ps := pp.look(ppKey(ppSlot, int32(slot), v[slot])); len(ps) > 0 {
				add(s.hubOf(hubKey{hkSlot, g, int32(slot), v[slot]}, ps), 3)
			}
		}
	}
	if len(pp.all) > 0 {
		add(s.hubOf(hubKey{hkPAll, g, -1, -1}, pp.all), 4)
	}
	slices.SortStableFunc(x.list, func(a, b sopt) int { return slices.Compare(a.cost, b.cost) })
}

// profileReconfig is the fewest reconfigurations of a two-node request on a
// partition of profile prof, over the slot assignments allowed.
func (s *solver) profileReconfig(req *request, prof *[5]int32, assign uint8) int {
	// The pool's members in signature slot order.
	z := [2]int32{prof[0], prof[2]}
	v := [2]int32{prof[1], prof[3]}
	if prof[4] == 1 {
		z[0], z[1], v[0], v[1] = z[1], z[0], v[1], v[0]
	}
	best := 4
	for a := range 2 {
		if assign&(1<<a) == 0 {
			continue
		}
		re := 0
		for slot := range 2 {
			f := &req.nodes[slot]
			if a == 1 {
				f = &req.nodes[1-slot]
			}
			if z[slot] < 0 || f.zone != z[slot] {
				re++
			}
			if v[slot] < 0 || f.vlans != v[slot] {
				re++
			}
		}
		best = min(best, re)
	}
	return best
}

// victimOpt sets an option's victim terms from its pool.
func (s *solver) victimOpt(o *option, p *pool, n int) {
	if p.st != stActive {
		o.vprio, o.victims, o.interrupted = 0, 0, 0
		return
	}
	o.vprio, o.victims = p.prio, int32(n)
	o.interrupted = 0
	if s.j.budget[p.work] <= 0 {
		o.interrupted = 1
	}
}

// buildOnes costs logical servers one by one (each its own pool, or its
// two-node pool) and sorts them.
func (s *solver) buildOnes(x *source, req *request, lss []int32, stage uint8, pol *Policy, mm bool) {
	inv := s.j.inv
	seen := make(map[int32]bool)
	var o option
	for _, li := range lss {
		if s.j.excluded.has(li) || li == req.ls {
			continue
		}
		var id int32
		switch {
		case inv.ls[li].n == 1:
			id = s.poolOfServer(inv.members[inv.ls[li].first])
		case inv.ls[li].n == 2:
			g := inv.idx.lsPG[0][li]
			eks := inv.idx.sigs[inv.idx.pgroups[g].key.sig].eks
			var ok bool
			if id, ok = s.partPools(g).find(s, s.partProfile(li, eks)); !ok {
				id = -1
			}
		default:
			id = s.onePool(li)
		}
		if id < 0 || seen[id] {
			continue
		}
		seen[id] = true
		p := s.pools.at(id)
		if !inv.eval(req, inv.lsMembers(li), pol, mm, &o) {
			continue
		}
		o.stage = stage
		n := int(inv.ls[li].n)
		s.victimOpt(&o, p, n)
		x.list = append(x.list, sopt{node: p.in, cost: s.costVec(&o)})
	}
	slices.SortStableFunc(x.list, func(a, b sopt) int { return slices.Compare(a.cost, b.cost) })
}

// otherSources adds the candidates of another node count (under
// AllowPartitionMismatch) and, for partitions of three or more nodes,
// those of the same count, costed one by one.
func (s *solver) otherSources(st *stream) {
	inv, req := s.j.inv, st.req
	x := &inv.idx
	n := len(req.nodes)
	mm := req.pol.AllowPartitionMismatch
	f0 := &req.nodes[0]
	hk := inv.hardOfNode(f0)
	zero := Policy{}
	type batch struct {
		stage uint8
		st    uint8
		pol   *Policy
		mm    bool
	}
	batches := []batch{}
	if n >= 3 {
		batches = append(batches, batch{stgExact, stStandby, &zero, false})
	}
	batches = append(batches, batch{stgRelaxed, stStandby, &req.pol, mm})
	if req.pol.Preempt {
		batches = append(batches, batch{stgPreempt, stActive, &req.pol, mm})
	}
	for _, b := range batches {
		var lss []int32
		if n >= 2 && mm {
			for _, hw := range x.hkCls[hk] {
				for _, g := range inv.classGroups(hw, f0.arr, -2, b.st) {
					if b.st == stActive && !req.victimOK(x.groups[g].key.prio) {
						continue
					}
					for _, i := range inv.spanOf(x.groups[g].all) {
						lss = append(lss, inv.srvs[i].ls)
					}
				}
			}
		}
		for _, sig := range x.hkSig[hk] {
			si := &x.sigs[sig]
			if si.eks[0].sw < 0 || si.mem < int64(b.pol.MinMemoryMiB) {
				continue
			}
			if len(si.eks) == n && n <= 2 {
				continue // the same node count has its own enumeration
			}
			if len(si.eks) != n && !b.mm {
				continue
			}
			for _, g := range inv.sigGroups(sig, b.st) {
				if b.st == stActive && !req.victimOK(int(x.pgroups[g].key.prio)) {
					continue
				}
				lss = append(lss, inv.pgroupLS(g)...)
			}
		}
		if len(lss) == 0 {
			continue
		}
		b := b
		lb := option{stage: b.stage}
		if b.stage == stgPreempt {
			lb.vprio = inv.minPrio // victims' priorities may be negative
		}
		src := &source{lb: s.costVec(&lb), ord: ordOther + int64(len(st.src))}
		src.build = func(x *source) { s.buildOnes(x, req, lss, b.stage, b.pol, b.mm) }
		st.src = s.srcPtrs.add(st.src, src, 4096)
	}
}

// lower returns a lower bound of the next option's cost without reading
// anything new (false: the stream is over): the head when it is known,
// else the position of the enumeration and of the sources.
func (st *stream) lower() ([]int64, bool) {
	if st.has {
		return st.head.cost, true
	}
	if st.done {
		return nil, false
	}
	var best []int64
	if lb := st.structuredLower(); lb != nil {
		best = lb
	}
	st.topReady()
	if len(st.src) > 0 {
		if c := st.src[0].headCost(); best == nil || slices.Compare(c, best) < 0 {
			best = c
		}
	}
	if best == nil {
		// Nothing cheap to say: read the next option.
		o, ok := st.peek()
		return o.cost, ok
	}
	return best, true
}

// structuredLower is a lower bound of the one-node enumeration's next
// option, or nil when it is over.
func (st *stream) structuredLower() []int64 {
	j := st.s.j
	if st.cp < len(st.cur) {
		return st.cost
	}
	if st.loaded {
		// (lbBuf: lower's callers read the bound before the next.)
		if st.si < len(st.segs) {
			return st.s.segCost(&st.segs[st.si].t, st.t, st.s.lbBuf)
		}
		if st.t < 2 && len(st.segs) > 0 {
			return st.s.segCost(&st.segs[0].t, st.t+1, st.s.lbBuf)
		}
	}
	var o option
	switch st.phase {
	case 0:
		o.stage = stgExact
	case 1:
		o.stage = stgRelaxed
	case 2:
		if !st.req.pol.Preempt {
			return nil
		}
		vs := j.victimsFor(st.req)
		if st.ci >= len(vs) {
			return nil
		}
		o.stage, o.vprio, o.interrupted = stgPreempt, vs[st.ci].prio, vs[st.ci].intr
	default:
		return nil
	}
	t := terms(&o)
	return st.s.segCost(&t, st.t0, st.s.lbBuf)
}
