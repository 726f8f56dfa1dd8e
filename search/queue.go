package search

import "slices"

// queue is Dijkstra's priority queue: entries come out by key (a cost
// vector, compared lexicographically), then by rank, then in push order
// (a strict total order: the same searches whatever the queue's shape).
//
// Many entries share a key: a hub's pools, a full pool's holders and
// their next options are pushed at one distance (on two-node shapes of the
// matrix, ten pushes per distinct key in an augment). So an entry goes
// into its key's bucket, and the live buckets are ordered by key:
// distinct keys only. A bucket keeps a first-in-first-out list per rank,
// so popping its least rank's head keeps the order above.
//
// The live buckets are few (on S1/C500/zone-rack/V7/2-node nine on
// average when one is added, and half the new keys are the least): they
// are kept sorted, the least last, so that a pop compares nothing and a
// key's bucket is found, or its place for a new one, by searching them
// from the end (no hashing). Past sortedMax live buckets the array
// becomes a binary heap (its reverse, least first, is one), whose
// buckets are found by hashing their keys, for the rest of the search.
type queue struct {
	K    int
	keys []int64  // bucket keys, K terms each
	bk   []bucket // every bucket of this search (the live ones are in heap)
	heap []int32  // live buckets: sorted by key, the greatest first; a binary heap when isHeap
	// isHeap: heap is a binary heap by key (the least first)
	isHeap bool
	ents   []qent
	tab    []qslot // key hash -> bucket when isHeap, open addressing (len a power of two)
	gen    int32   // tab's slots of other generations are empty
	used   int     // tab's slots of this generation
	n      int     // entries queued
	last   int32   // the bucket bucketOf returned last (-1: none), tried first
}

type bucket struct {
	key         int32 // offset in keys
	nz          uint8 // index of the key's first non-zero term (K when none)
	first, last [nRanks]int32
	count       int32
}

// nRanks is the number of ranks (see solver.push).
const nRanks = 4

type qent struct {
	node, lazy, next int32
}

type qslot struct {
	hash uint64
	gen  int32
	b    int32
}

// reset empties the queue for a search with keys of K terms.
func (q *queue) reset(K int) {
	q.K = K
	q.keys, q.bk, q.heap, q.ents = q.keys[:0], q.bk[:0], q.heap[:0], q.ents[:0]
	q.n, q.used, q.last = 0, 0, -1
	q.isHeap = false
	q.gen++
	if q.tab == nil {
		q.tab = make([]qslot, 64)
	}
}

func (q *queue) empty() bool { return q.n == 0 }

func keyHash(key []int64) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	for _, x := range key {
		h = (h ^ uint64(x)) * 0xff51afd7ed558ccd
		h ^= h >> 29
	}
	return h
}

// push queues an entry at key with rank.
func (q *queue) push(key []int64, node, lazy int32, rank uint8) {
	b := q.bucketOf(key)
	bk := &q.bk[b]
	e := int32(len(q.ents))
	q.ents = append(q.ents, qent{node, lazy, -1})
	if bk.last[rank] >= 0 {
		q.ents[bk.last[rank]].next = e
	} else {
		bk.first[rank] = e
	}
	bk.last[rank] = e
	bk.count++
	q.n++
}

// bucketOf returns key's live bucket, making one (and queuing it) if
// there is none.
func (q *queue) bucketOf(key []int64) int32 {
	// Pushes come in runs at one key (a hub's pools, a pool's holders):
	// the last bucket is tried first.
	if b := q.last; b >= 0 {
		if bk := &q.bk[b]; bk.count > 0 && vcmp(key, q.keys[bk.key:bk.key+int32(q.K)]) == 0 {
			return b
		}
	}
	var b int32
	if q.isHeap {
		b = q.bucketOfHashed(key)
	} else {
		b = q.bucketOfSorted(key)
	}
	q.last = b
	return b
}

// bucketOfSorted is bucketOf while the live buckets are sorted: the key
// is searched among them (most keys are the least or close to it: the
// last two are tried first), and a new bucket goes where the search
// ended.
func (q *queue) bucketOfSorted(key []int64) int32 {
	h := q.heap
	K := int32(q.K)
	n := len(h)
	i := n
	for i > 0 && n-i < 2 {
		x := &q.bk[h[i-1]]
		c := vcmp(key, q.keys[x.key:x.key+K])
		if c == 0 {
			return h[i-1]
		}
		if c < 0 {
			break
		}
		i--
	}
	if i > 0 && n-i == 2 {
		// The first position in h[:i] whose key is below key (h is
		// sorted greatest first).
		lo, hi := 0, i
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			x := &q.bk[h[m]]
			switch c := vcmp(key, q.keys[x.key:x.key+K]); {
			case c == 0:
				return h[m]
			case c > 0:
				hi = m
			default:
				lo = m + 1
			}
		}
		i = lo
	}
	b := q.newBucket(key)
	q.heap = slices.Insert(h, i, b)
	if len(q.heap) > sortedMax {
		q.toHeap()
	}
	return b
}

// toHeap turns the sorted live buckets into a binary heap (reversed,
// least first, they are one) found through the hash table from then on.
func (q *queue) toHeap() {
	slices.Reverse(q.heap)
	q.isHeap = true
	K := int32(q.K)
	for _, b := range q.heap {
		x := &q.bk[b]
		h := keyHash(q.keys[x.key : x.key+K])
		mask := len(q.tab) - 1
		i := int(h) & mask
		for q.tab[i].gen == q.gen {
			i = (i + 1) & mask
		}
		q.fill(i, h, b)
	}
}

// fill puts bucket b, of key hash h, in the table's empty slot i.
func (q *queue) fill(i int, h uint64, b int32) {
	q.tab[i] = qslot{h, q.gen, b}
	q.used++
	if 2*q.used > len(q.tab) {
		q.rehash()
	}
}

// bucketOfHashed is bucketOf through the hash table (once the live
// buckets are a heap).
func (q *queue) bucketOfHashed(key []int64) int32 {
	h := keyHash(key)
	mask := len(q.tab) - 1
	i := int(h) & mask
	for {
		sl := &q.tab[i]
		if sl.gen != q.gen {
			break
		}
		if sl.hash == h {
			b := sl.b
			if bk := &q.bk[b]; vcmp(key, q.keys[bk.key:bk.key+int32(q.K)]) == 0 {
				if bk.count > 0 {
					return b
				}
				// Its bucket emptied and left the heap: a new one
				// takes the slot.
				nb := q.newBucket(key)
				q.heapPush(nb)
				q.tab[i].b = nb
				return nb
			}
		}
		i = (i + 1) & mask
	}
	nb := q.newBucket(key)
	q.heapPush(nb)
	q.fill(i, h, nb)
	return nb
}

// newBucket makes an empty bucket of key (the caller queues it).
func (q *queue) newBucket(key []int64) int32 {
	nz := 0
	for nz < len(key) && key[nz] == 0 {
		nz++
	}
	bk := bucket{key: int32(len(q.keys)), nz: uint8(min(nz, 255))}
	for r := range bk.first {
		bk.first[r], bk.last[r] = -1, -1
	}
	q.keys = append(q.keys, key...)
	b := int32(len(q.bk))
	q.bk = append(q.bk, bk)
	return b
}

// sortedMax is the number of live buckets up to which they are kept
// sorted.
const sortedMax = 128

// heapPush queues bucket b in the heap.
func (q *queue) heapPush(b int32) {
	q.heap = append(q.heap, b)
	q.up(len(q.heap) - 1)
}

// rehash doubles the table, keeping this generation's slots.
func (q *queue) rehash() {
	old := q.tab
	q.tab = make([]qslot, 2*len(old))
	mask := len(q.tab) - 1
	for _, sl := range old {
		if sl.gen != q.gen {
			continue
		}
		i := int(sl.hash) & mask
		for q.tab[i].gen == q.gen {
			i = (i + 1) & mask
		}
		q.tab[i] = sl
	}
}

// pop removes the least entry; it returns its key's offset in keys, its
// node, lazy request and rank.
func (q *queue) pop() (key, node, lazy int32, rank uint8) {
	var b int32
	if q.isHeap {
		b = q.heap[0]
	} else {
		b = q.heap[len(q.heap)-1]
	}
	bk := &q.bk[b]
	r := 0
	for bk.first[r] < 0 {
		r++
	}
	e := q.ents[bk.first[r]]
	bk.first[r] = e.next
	if e.next < 0 {
		bk.last[r] = -1
	}
	bk.count--
	q.n--
	key = bk.key
	if bk.count == 0 {
		if q.isHeap {
			q.popTop()
		} else {
			q.heap = q.heap[:len(q.heap)-1]
		}
	}
	return key, e.node, e.lazy, uint8(r)
}

// less orders buckets by key (live buckets' keys differ).
func (q *queue) less(a, b int32) bool {
	x, y := &q.bk[a], &q.bk[b]
	from := int32(min(x.nz, y.nz))
	K := int32(q.K)
	return vcmp(q.keys[x.key+from:x.key+K], q.keys[y.key+from:y.key+K]) < 0
}

func (q *queue) up(i int) {
	h := q.heap
	x := h[i]
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(x, h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = x
}

// popTop removes the heap's root: the hole goes down along the lesser
// children, then the last bucket fills it and goes up (about log n
// comparisons; the last one mostly belongs near the bottom).
func (q *queue) popTop() {
	h := q.heap
	n := len(h) - 1
	last := h[n]
	h = h[:n]
	q.heap = h
	if n == 0 {
		return
	}
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		if r := l + 1; r < n && q.less(h[r], h[l]) {
			l = r
		}
		h[i] = h[l]
		i = l
	}
	h[i] = last
	q.up(i)
}
