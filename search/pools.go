package search

import (
	"cmp"
	"math/bits"
	"slices"
)

// Pools are what FindJoint assigns: sets of logical servers that every
// request of the planning round sees alike (same cost, same feasibility),
// so that only their number matters. A standalone pool is the part of a
// standalone group (class, disk array, switch; priority and workload for
// Active servers) whose zone is one of the requests' zones (or none of
// them) and whose VLAN set is one of the requests' sets (or none of them).
// A two-node partition pool is the part of a partition group whose members
// have, in ID order, the same such zone and VLAN classes and the same
// places in the signature. A partition of three or more nodes is a pool
// of its own.

type pool struct {
	kind  uint8 // plStandalone, plPart2, plOne
	g     int32 // standalone group, or partition group (-1 for plOne)
	zc    int32 // standalone: zone class (-1: none of the requests' zones)
	vc    int32 // standalone: VLAN class (-1: none of the requests' sets)
	prof  [5]int32
	rep   int32   // a logical server of the pool (costs are computed on it)
	mem   []int32 // its logical servers, ID order (not plOne)
	cap   int32
	st    uint8
	prio  int
	work  int32
	taken []int32 // logical servers removed (excluded, or in a fixed composition)
	// cap0, taken0: before any composition was fixed.
	cap0   int32
	taken0 []int32

	// flow state
	dead    bool    // no free exit is reachable from it
	holders []int32 // requests holding a unit, in arrival order
	viaB    int32   // units scaled in (through the workload's budget)
	budget  int32   // budget node, -1: none
	in, out int32   // flow nodes (out: only with a budget)
	hubs    []int32 // the hubs it is in
}

const (
	plStandalone uint8 = iota
	plPart2
	plOne
)

// gpools are the pools of one standalone group, in (zone class, VLAN
// class) order, and for a group of more than hubMin pools again in (VLAN
// class, zone class) order: the pools of a zone class, or of a VLAN
// class, are a run of one of them (levelTargets reads a smaller group
// whole).
type gpools struct {
	all  []int32
	byVC []int32
}

func (s *solver) zvCmp(id int32, z, v int32) int {
	p := s.pools.at(id)
	return cmp.Or(cmp.Compare(p.zc, z), cmp.Compare(p.vc, v))
}

// find returns the pool of zone class z and VLAN class v.
func (gp *gpools) find(s *solver, z, v int32) (int32, bool) {
	k, ok := slices.BinarySearchFunc(gp.all, [2]int32{z, v}, func(id int32, t [2]int32) int { return s.zvCmp(id, t[0], t[1]) })
	if !ok {
		return 0, false
	}
	return gp.all[k], true
}

// withZone returns the pools of zone class z, withVLAN those of VLAN
// class v (groups of more than hubMin pools).
func (gp *gpools) withZone(s *solver, z int32) []int32 {
	lo, _ := slices.BinarySearchFunc(gp.all, z, func(id int32, z int32) int { return cmp.Compare(s.pools.at(id).zc, z) })
	hi, _ := slices.BinarySearchFunc(gp.all, z+1, func(id int32, z int32) int { return cmp.Compare(s.pools.at(id).zc, z) })
	return gp.all[lo:hi:hi]
}

func (gp *gpools) withVLAN(s *solver, v int32) []int32 {
	lo, _ := slices.BinarySearchFunc(gp.byVC, v, func(id int32, v int32) int { return cmp.Compare(s.pools.at(id).vc, v) })
	hi, _ := slices.BinarySearchFunc(gp.byVC, v+1, func(id int32, v int32) int { return cmp.Compare(s.pools.at(id).vc, v) })
	return gp.byVC[lo:hi:hi]
}

// ppools are the pools of one two-node partition group, in profile
// order, and for a group of more than hubMin pools the lookups of the
// pools sharing a member zone class, a VLAN class in a signature slot, or
// a pair of VLAN classes (buildPart2 reads a smaller group whole).
type ppools struct {
	all []int32
	// keys and ids, sorted by key then pool: the lookups' entries
	keys []uint64
	ids  []int32
}

// lookWord is the width groupPools and partPools pack a sort entry into
// (a test lowers it to take the other path).
var lookWord = 64

// ppKey is a lookup of ppools: ppZone (a: zone class), ppSlot (a: slot,
// b: the VLAN class of the member in that slot of the signature) or
// ppPair (a, b: the VLAN classes in slots 0 and 1); a and b are not
// negative.
func ppKey(kind uint8, a, b int32) uint64 {
	return uint64(kind)<<62 | uint64(a)<<31 | uint64(b)
}

const (
	ppZone uint8 = iota
	ppSlot
	ppPair
)

// look returns the pools of key k, in pool order (nil when none).
func (pp *ppools) look(k uint64) []int32 {
	// The first key not below k, by a binary search without a branch
	// per step (the borrow of a subtraction says which half):
	// slices.BinarySearch's branch mispredicts on about half the steps,
	// on the tens of thousands of lookups of a FindAll.
	keys := pp.keys
	lo, n := 0, len(keys)
	for n > 1 {
		h := n / 2
		_, lt := bits.Sub64(keys[lo+h-1], k, 0) // 1 when below k
		lo += h & -int(lt)
		n -= h
	}
	if n == 1 && keys[lo] < k {
		lo++
	}
	hi := lo
	for hi < len(pp.keys) && pp.keys[hi] == k {
		hi++
	}
	return pp.ids[lo:hi:hi]
}

// joint holds what FindJoint shares between the components of one round.
type joint struct {
	inv    *Inventory
	reqs   []request
	levels int // priority levels
	// A cost vector is lw words of priority levels' terms, then the
	// option terms (K in all); see levelUnit. broken records that a
	// potential left the packed encoding's range (see augment).
	lw, K  int
	packed bool
	broken bool
	// the option terms' words (tw of them) and fields; see terms.go
	tf           [termCount]termField
	tw           int
	tpacked      bool
	tbias, tmask [termCount]int64 // per term word: termsOK's check
	relZ         map[int32]bool
	relV         map[int32]bool
	zcls         []int32 // per interned string: its zone class (see zclass)
	vcls         []int32 // per VLAN set: its class
	excluded     *lsSet
	budget       map[int32]int
	// caches of classesFor and victimsFor
	clsCache map[classKey][]classCosts
	vicCache map[victimKey][]victimGroup
	gens     map[genKey]genTable     // see genList
	sigFits  map[sigFitsKey]*sigFits // see sigFitsFor
	// scratch of victimsFor and genList (their lists before sorting)
	vgBuf []victimGroup
	geBuf []genEntry
	// room for sigFitsFor's checks
	atSlab slab[int32]
	soSlab slab[sigOK]
}

// solver is one component's flow problem.
type solver struct {
	j *joint
	// slabs the streams' sources and cost vectors are carved from
	srcSlab  slab[source]
	soptSlab slab[sopt]
	segSlab  slab[seg]
	srcPtrs  slab[*source] // the streams' source heaps
	genSlab  slab[genState]
	vecArena slab[int64]
	reqs     []int // the component's requests, canonical order
	pools    poolStore
	// per standalone and two-node partition group, its pools once built
	// (gpUsed, ppUsed: the groups built, cleared on release)
	gp             []*gpools
	pp             []*ppools
	gpUsed, ppUsed []int32
	// room for the groups' pools, member lists and lookup tables, and
	// groupPools' and partPools' scratch
	gpSlab  slab[gpools]
	ppSlab  slab[ppools]
	i32Slab slab[int32]
	u64Slab slab[uint64]
	gpEnts  []gpEnt
	ppEnts  []ppEnt
	order   []int32
	one     map[int32]int32 // logical server -> plOne pool
	bnode   map[int32]int32 // workload -> budget node
	bud     []bnode
	st      []rstate // per component request
	// flow graph
	nodes []fnode2
	delta []int64 // K per node
	d     dij
	cur   int32 // the request node being added
	zeroV []int64
	lbBuf []int64 // a stream's lower bound (see structuredLower)
	// levelMax: per priority level, a bound of its requests' potentials.
	levelMax [][]int64
	hubs     []hub
	hubAt    map[hubKey]int32
	hubSlab  slab[int32] // room for pools' hub lists (see hubOf)
	wbuf     []uint64    // scratch (see words)
}

type bnode struct {
	work      int32
	cap, used int32
	pools     []int32 // pools of the workload with a unit through it
	id        int32
}

// rstate is one request in the flow problem.
type rstate struct {
	req    *request
	opts   []sopt // materialized options, in stream order
	str    stream
	at     int32 // option held (index into opts), -1 unplaced, -2 not added, -3 fixed composition
	pool   int32 // the pool holding its unit when at >= 0
	comps  []option
	fixed  int // index into comps when at == -3
	unplV  []int64
	nodeID int32
}

// sopt is one materialized option: a flow node (a pool's entry or a
// hub) and its cost.
type sopt struct {
	node int32
	cost []int64
}

// fnode2 is a flow node. Its potential (delta) and its distance in the
// current search live in slabs, allocated when first needed.
type fnode2 struct {
	kind uint8 // nReq, nIn, nOut, nBud, nHub
	ref  int32
	dOff int32 // into solver.delta, -1: zero
	xOff int32 // into dij.dist, valid while seen == stamp
	// seen and done: the dij.stamp of the search that reached and that
	// settled the node (kept here, not in arrays of their own, so that
	// a relaxation reads one line of the node's state).
	seen, done int32
}

const (
	nReq uint8 = iota
	nIn
	nOut
	nBud
	nHub
)

func (s *solver) newNode(kind uint8, ref int32) int32 {
	id := int32(len(s.nodes))
	s.nodes = append(s.nodes, fnode2{kind: kind, ref: ref, dOff: -1, xOff: -1})
	return id
}

// poolStore holds a solver's pools in chunks: adding one never copies
// the others (a pool is a couple of hundred bytes, and a round may make
// tens of thousands) and a pointer to one stays valid. The first chunks
// double in size (16, 32, 64: a small round allocates little); the rest
// hold poolChunkMax each, under 32 KB, so that a large round neither
// allocates and zeroes chunks of megabytes nor leaves half of the last
// one unused.
type poolStore struct {
	chunks [][]pool
	n      int
}

const (
	poolChunk0   = 16
	poolChunkMax = 128
	// poolDoubled is the number of pools in the doubling chunks (16, 32,
	// 64: every one smaller than poolChunkMax).
	poolDoubled = poolChunk0 * (poolChunkMax/poolChunk0 - 1)
)

// chunkLen is the length of chunk k.
func chunkLen(k int) int {
	if poolChunk0<<min(k, 8) >= poolChunkMax { // (a shift of k would overflow)
		return poolChunkMax
	}
	return poolChunk0 << k
}

// chunkOf returns the chunk holding pool id and its place in it: chunk
// k < 3 holds ids poolChunk0*(2^k-1) up to poolChunk0*(2^(k+1)-1), the
// later ones poolChunkMax ids each from poolDoubled on.
func chunkOf(id int) (int, int) {
	if id >= poolDoubled {
		id -= poolDoubled
		return bits.Len(poolChunkMax/poolChunk0) - 1 + id/poolChunkMax, id % poolChunkMax
	}
	k := bits.Len(uint(id/poolChunk0+1)) - 1
	return k, id - poolChunk0*(1<<k-1)
}

func (ps *poolStore) at(id int32) *pool {
	k, i := chunkOf(int(id))
	return &ps.chunks[k][i]
}

// reset empties the store, keeping its chunks.
func (ps *poolStore) reset() {
	if ps.n > 0 {
		last, _ := chunkOf(ps.n - 1)
		for k := 0; k <= last; k++ {
			clear(ps.chunks[k])
		}
	}
	ps.n = 0
}

func (ps *poolStore) add(p pool) {
	k, i := chunkOf(ps.n)
	if k == len(ps.chunks) {
		ps.chunks = append(ps.chunks, make([]pool, chunkLen(k)))
	}
	ps.chunks[k][i] = p
	ps.n++
}

func (s *solver) addPool(p pool) int32 {
	id := int32(s.pools.n)
	p.taken = slices.Clip(p.taken)
	p.cap0, p.taken0 = p.cap, p.taken
	p.in = s.newNode(nIn, id)
	p.out, p.budget = -1, -1
	if p.st == stActive {
		if b, ok := s.j.budget[p.work]; ok && b > 0 {
			bi, ok := s.bnode[p.work]
			if !ok {
				bi = int32(len(s.bud))
				s.bnode[p.work] = bi
				s.bud = append(s.bud, bnode{work: p.work, cap: int32(b)})
				s.bud[bi].id = s.newNode(nBud, bi)
			}
			p.budget = bi
			p.out = s.newNode(nOut, id)
		}
	}
	s.pools.add(p)
	return id
}

// words returns a scratch slice of n words (its contents undefined),
// valid until the next call: partPools' packed sort keys.
func (s *solver) words(n int) []uint64 {
	if cap(s.wbuf) < n {
		s.wbuf = make([]uint64, n)
	}
	return s.wbuf[:n]
}

// zclass and vclass are a server's zone and VLAN classes: its zone when
// it is a request's, its VLAN set when it is a request's, else -1.
func (j *joint) zclass(i int32) int32 { return j.zcls[j.inv.srvs[i].zone] }

func (j *joint) vclass(i int32) int32 { return j.vcls[j.inv.srvs[i].vlans] }

// gpEnt and ppEnt are a member of a group being built: its classes (a
// two-node one's profile) and its position in the group.
type gpEnt struct{ zc, vc, pos int32 }

type ppEnt struct {
	k   [5]int32
	pos int32
}

// i32Chunk is the size of the chunks of the solver's int32 and uint64
// slabs.
const i32Chunk = 4096

// groupPools builds the pools of standalone group g on first use: its
// members (but the excluded ones) by zone and VLAN classes, read from the
// index's member features (no row); its pools share one member list.
func (s *solver) groupPools(g int32) *gpools {
	if gp := s.gp[g]; gp != nil {
		return gp
	}
	j, inv := s.j, s.j.inv
	gr := &inv.idx.groups[g]
	// Members by class, each class's members in ID order (the order of
	// feats, kept by the position in the sort key).
	type ent = gpEnt
	feats := inv.idx.gfeat[gr.feat : gr.feat+gr.all.n]
	ents := s.gpEnts[:0]
	var maxC int32
	for e, f := range feats {
		if !j.excluded.has(f.ls) {
			zc, vc := j.zcls[f.zone], j.vcls[f.vlans]
			ents = append(ents, ent{zc, vc, int32(e)})
			maxC = max(maxC, zc+1, vc+1)
		}
	}
	// Sorted as packed words when the classes (offset by one: -1 is
	// none) and the position fit in one (see partPools), else compared.
	lc, lp := bits.Len32(uint32(maxC)), bits.Len(uint(len(feats)))
	if 2*lc+lp <= lookWord {
		w := s.words(len(ents))
		for k, e := range ents {
			w[k] = uint64(e.zc+1)<<(lc+lp) | uint64(e.vc+1)<<lp | uint64(e.pos)
		}
		sortWords(w)
		m := uint64(1)<<lc - 1
		for k, x := range w {
			ents[k] = ent{int32(x>>(lc+lp)&m) - 1, int32(x>>lp&m) - 1, int32(x & (1<<lp - 1))}
		}
	} else {
		slices.SortFunc(ents, func(a, b ent) int {
			return cmp.Or(cmp.Compare(a.zc, b.zc), cmp.Compare(a.vc, b.vc), cmp.Compare(a.pos, b.pos))
		})
	}
	s.gpEnts = ents
	lis := s.i32Slab.take(len(ents), i32Chunk)
	for k := range ents {
		lis[k] = feats[ents[k].pos].ls
	}
	gp := &s.gpSlab.take(1, 256)[0]
	for a := 0; a < len(ents); {
		b := a + 1
		for b < len(ents) && ents[b].zc == ents[a].zc && ents[b].vc == ents[a].vc {
			b++
		}
		id := s.addPool(pool{kind: plStandalone, g: g, zc: ents[a].zc, vc: ents[a].vc, cap: int32(b - a), st: gr.key.st,
			prio: gr.key.prio, work: gr.key.work, rep: lis[a], mem: lis[a:b:b]})
		gp.all = s.i32Slab.add(gp.all, id, i32Chunk)
		a = b
	}
	if len(gp.all) > hubMin {
		gp.byVC = append(s.i32Slab.take(len(gp.all), i32Chunk)[:0], gp.all...)
		if lr := bits.Len(uint(len(gp.all))); 2*lc+lr <= lookWord {
			// Packed as above, by VLAN class then zone class (a pool's
			// pair of classes is its own), with its position in all.
			w := s.words(len(gp.all))
			for k, id := range gp.all {
				p := s.pools.at(id)
				w[k] = uint64(p.vc+1)<<(lc+lr) | uint64(p.zc+1)<<lr | uint64(k)
			}
			sortWords(w)
			for k, x := range w {
				gp.byVC[k] = gp.all[x&(1<<lr-1)]
			}
		} else {
			slices.SortFunc(gp.byVC, func(a, b int32) int {
				pa, pb := s.pools.at(a), s.pools.at(b)
				return cmp.Or(cmp.Compare(pa.vc, pb.vc), cmp.Compare(pa.zc, pb.zc))
			})
		}
	}
	s.gp[g] = gp
	s.gpUsed = append(s.gpUsed, g)
	return gp
}

// poolOfServer returns the pool holding standalone server i (building its
// group's pools), or -1.
func (s *solver) poolOfServer(i int32) int32 {
	g := s.j.inv.idx.srvG[0][i]
	if g < 0 {
		return -1
	}
	gp := s.groupPools(g)
	id, ok := gp.find(s, s.j.zclass(i), s.j.vclass(i))
	if !ok {
		return -1
	}
	return id
}

// featProfile is partProfile from a partition's index features (pfeat of
// its switch-specific group).
func (j *joint) featProfile(f *partFeat) [5]int32 {
	o := int32(1)
	if f.orient&1 != 0 {
		o = 0
	}
	return [5]int32{j.zcls[f.z0], j.vcls[f.v0], j.zcls[f.z1], j.vcls[f.v1], o}
}

// partProfile is the pool key of two-node partition li: per member in ID
// order its zone and VLAN classes, and whether the members are in the
// signature's order.
func (s *solver) partProfile(li int32, eks []ek) [5]int32 {
	j := s.j
	m := j.inv.lsMembers(li)
	straight, _ := j.inv.orientations(li, eks, false)
	o := int32(0)
	if !straight {
		o = 1
	}
	return [5]int32{j.zclass(m[0]), j.vclass(m[0]), j.zclass(m[1]), j.vclass(m[1]), o}
}

// partPools builds the pools of two-node partition group g on first use.
func (s *solver) partPools(g int32) *ppools {
	if pp := s.pp[g]; pp != nil {
		return pp
	}
	j, inv := s.j, s.j.inv
	pg := &inv.idx.pgroups[g]
	if inv.idx.sigs[pg.key.sig].eks[0].sw < 0 {
		panic("search: partPools needs a switch-specific group")
	}
	// The profiles come from the index's per-entry features: no member
	// row is read (a group of Active partitions may hold thousands). The
	// members are sorted by profile, each profile's in ID order (the
	// position in the group breaks ties).
	type ent = ppEnt
	feats := inv.idx.pfeat[pg.all.off : pg.all.off+pg.all.n]
	lss := inv.pgroupLS(g)
	ents := s.ppEnts[:0]
	var maxZ, maxV int32
	for e, li := range lss {
		if !j.excluded.has(li) {
			k := j.featProfile(&feats[e])
			ents = append(ents, ent{k, int32(e)})
			maxZ, maxV = max(maxZ, k[0]+1, k[2]+1), max(maxV, k[1]+1, k[3]+1)
		}
	}
	// Sorted as packed words when the profile (its classes offset by
	// one: -1 is none) and the entry's index fit in one (see lookWord),
	// else compared term by term. order holds ents' indexes in profile
	// order, each profile's in ID order (ents are in group order).
	s.ppEnts = ents
	lz, lv, lp := bits.Len32(uint32(maxZ)), bits.Len32(uint32(maxV)), bits.Len(uint(len(ents)))
	order := slices.Grow(s.order[:0], len(ents))[:len(ents)]
	s.order = order
	if 2*(lz+lv)+1+lp <= lookWord {
		w := s.words(len(ents))
		for k, e := range ents {
			x := uint64(0)
			for t, b := range [4]int{lz, lv, lz, lv} {
				x = x<<b | uint64(e.k[t]+1)
			}
			w[k] = (x<<1|uint64(e.k[4]))<<lp | uint64(k)
		}
		sortWords(w)
		for k, x := range w {
			order[k] = int32(x & (1<<lp - 1))
		}
	} else {
		for k := range order {
			order[k] = int32(k)
		}
		slices.SortFunc(order, func(a, b int32) int {
			return cmp.Or(slices.Compare(ents[a].k[:], ents[b].k[:]), cmp.Compare(a, b))
		})
	}
	lis := s.i32Slab.take(len(ents), i32Chunk)
	for k, o := range order {
		lis[k] = lss[ents[o].pos]
	}
	pp := &s.ppSlab.take(1, 256)[0]
	for a := 0; a < len(order); {
		k := &ents[order[a]].k
		b := a + 1
		for b < len(order) && ents[order[b]].k == *k {
			b++
		}
		id := s.addPool(pool{kind: plPart2, g: g, prof: *k, cap: int32(b - a), st: pg.key.st, prio: int(pg.key.prio),
			work: pg.key.work, rep: lis[a], mem: lis[a:b:b], zc: -1, vc: -1})
		pp.all = s.i32Slab.add(pp.all, id, i32Chunk)
		a = b
	}
	if len(pp.all) > hubMin {
		// buildPart2 reads a smaller group whole. Sorting a few entries
		// per pool costs less than maps of lists: per pool, its zone
		// classes (ppZone), its VLAN class per signature slot (ppSlot)
		// and its pair of them (ppPair), each with the pool's position
		// in pp.all, sorted by key then pool. No key term exceeds the
		// largest class or slot (lab bits). When kind, the terms and the
		// position fit in one word they are sorted as integers (several
		// times faster than a comparison function on the thousands of
		// pools of a large group); else with one.
		lab, lr := bits.Len32(uint32(max(maxZ, maxV, 2))), bits.Len(uint(len(pp.all)))
		packed := 2+2*lab+lr <= lookWord
		type look struct {
			kind uint8
			a, b int32
			rel  int32
		}
		var w []uint64
		var ls []look
		add := func(kind uint8, a, b int32, rel int) {
			if packed {
				w = append(w, uint64(kind)<<(2*lab+lr)|uint64(a)<<(lab+lr)|uint64(b)<<lr|uint64(rel))
			} else {
				ls = append(ls, look{kind, a, b, int32(rel)})
			}
		}
		if packed {
			w = s.words(5 * len(pp.all))[:0]
		}
		for rel, id := range pp.all {
			k := &s.pools.at(id).prof
			if k[0] >= 0 {
				add(ppZone, k[0], 0, rel)
			}
			if k[2] >= 0 && k[2] != k[0] {
				add(ppZone, k[2], 0, rel)
			}
			sv := slotVLANs(k)
			for slot, v := range sv {
				if v >= 0 {
					add(ppSlot, int32(slot), v, rel)
				}
			}
			if sv[0] >= 0 && sv[1] >= 0 {
				add(ppPair, sv[0], sv[1], rel)
			}
		}
		if packed {
			sortWords(w)
			pp.keys, pp.ids = s.u64Slab.take(len(w), i32Chunk), s.i32Slab.take(len(w), i32Chunk)
			m := uint64(1)<<lab - 1
			for k, x := range w {
				pp.keys[k] = ppKey(uint8(x>>(2*lab+lr)), int32(x>>(lab+lr)&m), int32(x>>lr&m))
				pp.ids[k] = pp.all[x&(1<<lr-1)]
			}
		} else {
			slices.SortFunc(ls, func(x, y look) int {
				return cmp.Or(cmp.Compare(x.kind, y.kind), cmp.Compare(x.a, y.a), cmp.Compare(x.b, y.b), cmp.Compare(x.rel, y.rel))
			})
			pp.keys, pp.ids = s.u64Slab.take(len(ls), i32Chunk), s.i32Slab.take(len(ls), i32Chunk)
			for k, l := range ls {
				pp.keys[k], pp.ids[k] = ppKey(l.kind, l.a, l.b), pp.all[l.rel]
			}
		}
	}
	s.pp[g] = pp
	s.ppUsed = append(s.ppUsed, g)
	return pp
}

// find returns the pool of profile k (pp.all is in profile order).
func (pp *ppools) find(s *solver, k [5]int32) (int32, bool) {
	i, ok := slices.BinarySearchFunc(pp.all, k, func(id int32, k [5]int32) int {
		p := &s.pools.at(id).prof
		return slices.Compare(p[:], k[:])
	})
	if !ok {
		return 0, false
	}
	return pp.all[i], true
}

// slotVLANs returns the VLAN classes of a two-node profile's members in
// signature slot order.
func slotVLANs(prof *[5]int32) [2]int32 {
	if prof[4] == 1 {
		return [2]int32{prof[3], prof[1]}
	}
	return [2]int32{prof[1], prof[3]}
}

// onePool returns the pool of logical server li alone.
func (s *solver) onePool(li int32) int32 {
	if id, ok := s.one[li]; ok {
		return id
	}
	inv := s.j.inv
	m0 := &inv.srvs[inv.members[inv.ls[li].first]]
	st, prio, work := m0.state, 0, int32(-1)
	if st == stActive {
		prio, work = int(m0.prio), m0.work
	}
	id := s.addPool(pool{kind: plOne, g: -1, rep: li, cap: 1, st: st, prio: prio, work: work, zc: -1, vc: -1})
	s.one[li] = id
	return id
}

// members returns up to need logical servers of pool p, lowest IDs first,
// skipping the pool's taken ones and those in skip.
func (s *solver) members(p *pool, need int, skip *lsSet) []int32 {
	j := s.j
	var out []int32
	ok := func(li int32) bool { return !skip.has(li) && !slices.Contains(p.taken, li) && !j.excluded.has(li) }
	switch p.kind {
	case plOne:
		if ok(p.rep) {
			out = append(out, p.rep)
		}
	case plPart2:
		for _, li := range p.mem {
			if len(out) == need {
				break
			}
			if ok(li) {
				out = append(out, li)
			}
		}
	case plStandalone:
		for _, li := range p.mem {
			if len(out) == need {
				break
			}
			if ok(li) {
				out = append(out, li)
			}
		}
	}
	return out
}
