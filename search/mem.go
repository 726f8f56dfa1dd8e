package search

import "sync"

// A solver's memory is recycled: FindAll of a thousand two-node failures
// builds tens of thousands of sources, option lists, cost vectors, pools
// and flow nodes, megabytes a call. A solver is taken from solvers and
// returned when its component's options are expanded (nothing of it is
// referred to after expand: the plans are built from options of their
// own), so the next component, and the next call, carve from the same
// chunks instead of allocating and zeroing new ones for the collector to
// reclaim.
var solvers = sync.Pool{New: func() any { return new(solver) }}

// recycle turns the recycling on (tests compare with fresh solvers).
var recycle = true

// getSolver returns a solver to reset: a recycled one, or a new one.
func getSolver() *solver {
	if !recycle {
		return new(solver)
	}
	return solvers.Get().(*solver)
}

// slab hands out runs of T from chunks it keeps across reuses.
type slab[T any] struct {
	chunks [][]T
	k      int // the chunk in use
	n      int // elements of it handed out
}

// take returns n elements, zeroed, from a chunk of at least size.
func (sl *slab[T]) take(n, size int) []T {
	if sl.k < len(sl.chunks) && sl.n+n <= len(sl.chunks[sl.k]) {
		out := sl.chunks[sl.k][sl.n : sl.n+n : sl.n+n]
		sl.n += n
		return out
	}
	return sl.next(n, size)
}

// next moves to the next chunk (one of at least max(n, size) elements).
func (sl *slab[T]) next(n, size int) []T {
	if sl.k < len(sl.chunks) {
		sl.k++
	}
	if sl.k == len(sl.chunks) {
		sl.chunks = append(sl.chunks, make([]T, max(n, size)))
	} else if len(sl.chunks[sl.k]) < n {
		sl.chunks[sl.k] = make([]T, max(n, size))
	}
	sl.n = n
	return sl.chunks[sl.k][:n:n]
}

// add appends x to v, a run of sl (or nil), moving v to a run twice as
// long when it is full: a list grown by one element at a time costs a
// few runs of the slab, not an allocation per doubling.
func (sl *slab[T]) add(v []T, x T, size int) []T {
	if len(v) == cap(v) {
		v = append(sl.take(max(8, 2*cap(v)), size)[:0], v...)
	}
	return append(v, x)
}

// reset makes every chunk available again, zeroing what was handed out
// (nothing handed out is referred to any more).
func (sl *slab[T]) reset() {
	for k := 0; k <= sl.k && k < len(sl.chunks); k++ {
		c := sl.chunks[k]
		if k == sl.k {
			c = c[:sl.n]
		}
		clear(c)
	}
	sl.k, sl.n = 0, 0
}

// reset readies a solver, new or recycled, for j's requests reqs.
func (s *solver) reset(j *joint, reqs []int) {
	s.j, s.reqs = j, reqs
	if s.one == nil {
		s.one, s.bnode = make(map[int32]int32), make(map[int32]int32)
		s.hubAt = make(map[hubKey]int32)
	}
	s.gp = grown(s.gp, len(j.inv.idx.groups))
	s.pp = grown(s.pp, len(j.inv.idx.pgroups))
	K := j.K
	for _, v := range []*[]int64{&s.zeroV, &s.lbBuf, &s.d.tmp, &s.d.tmp2, &s.d.base, &s.d.sink, &s.d.intr} {
		if cap(*v) < K {
			*v = make([]int64, K)
		}
		*v = (*v)[:K]
		clear(*v)
	}
	if cap(s.st) < len(reqs) {
		s.st = make([]rstate, len(reqs))
	}
	s.st = s.st[:len(reqs)]
}

// grown returns v (all nil) with length n.
func grown[T any](v []*T, n int) []*T {
	if cap(v) < n {
		return make([]*T, n)
	}
	return v[:n]
}

// release returns s to solvers, dropping what it refers to outside its
// own memory (the inventory, the requests).
func (s *solver) release() {
	s.srcSlab.reset()
	s.soptSlab.reset()
	s.segSlab.reset()
	s.srcPtrs.reset()
	s.genSlab.reset()
	s.vecArena.reset()
	s.hubSlab.reset()
	s.pools.reset()
	s.j, s.reqs = nil, nil
	for _, g := range s.gpUsed {
		s.gp[g] = nil
	}
	for _, g := range s.ppUsed {
		s.pp[g] = nil
	}
	s.gpUsed, s.ppUsed = s.gpUsed[:0], s.ppUsed[:0]
	s.gpSlab.reset()
	s.ppSlab.reset()
	s.i32Slab.reset()
	s.u64Slab.reset()
	clear(s.one)
	clear(s.bnode)
	clear(s.hubAt)
	clear(s.bud)
	s.bud = s.bud[:0]
	clear(s.st)
	s.st = s.st[:0]
	s.nodes, s.delta = s.nodes[:0], s.delta[:0]
	clear(s.hubs)
	s.hubs = s.hubs[:0]
	s.levelMax = nil
	s.cur = 0
	// The stamps start again: the next nodes are new (and the queue's
	// table is cleared before its generations could wrap).
	s.d.stamp = 0
	if s.d.q.gen > 1<<30 {
		clear(s.d.q.tab)
		s.d.q.gen = 0
	}
	s.d.dist, s.d.prev, s.d.settled = s.d.dist[:0], s.d.prev[:0], s.d.settled[:0]
	s.d.sinkSet = false
	if recycle {
		solvers.Put(s)
	}
}
