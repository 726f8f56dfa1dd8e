package search

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestQueueOrder: the queue pops by key, then rank, then push order, as a
// list kept sorted does: over many searches (the table's generations),
// interleaved pushes and pops, keys repeated (and pushed again after their
// bucket emptied), and more distinct keys than the table first holds.
func TestQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var q queue
	type ref struct {
		key        []int64
		rank       uint8
		seq        int
		node, lazy int32
	}
	for search := range 60 {
		K := 1 + rng.IntN(9)
		q.reset(K)
		nkeys := 1 + rng.IntN(300)
		ops := 3000
		if search%10 == 0 {
			// Many live keys: the buckets become a heap found through
			// the hash table, which grows.
			nkeys, ops = 2000, 12000
		}
		pool := make([][]int64, nkeys)
		for i := range pool {
			pool[i] = make([]int64, K)
			for j := range pool[i] {
				if rng.IntN(3) == 0 {
					pool[i][j] = int64(rng.IntN(7) - 3)
				}
			}
		}
		var want []ref
		seq := 0
		for range ops {
			if len(want) == 0 || rng.IntN(3) > 0 {
				k := pool[rng.IntN(len(pool))]
				r := uint8(rng.IntN(nRanks))
				seq++
				e := ref{k, r, seq, int32(seq), int32(rng.IntN(5) - 1)}
				q.push(k, e.node, e.lazy, r)
				want = append(want, e)
				continue
			}
			best := 0
			for i, e := range want {
				b := want[best]
				if c := vcmp(e.key, b.key); c < 0 || c == 0 && (e.rank < b.rank || e.rank == b.rank && e.seq < b.seq) {
					best = i
				}
			}
			w := want[best]
			want = slices.Delete(want, best, best+1)
			key, node, lazy, rank := q.pop()
			if got := q.keys[key : key+int32(K)]; vcmp(got, w.key) != 0 || node != w.node || lazy != w.lazy || rank != w.rank {
				t.Fatalf("search %d: popped %v node %d lazy %d rank %d, want %v node %d lazy %d rank %d",
					search, got, node, lazy, rank, w.key, w.node, w.lazy, w.rank)
			}
		}
		if q.empty() != (len(want) == 0) {
			t.Fatalf("search %d: empty %v with %d queued", search, q.empty(), len(want))
		}
	}
	if len(q.tab) <= 64 {
		t.Fatal("the table never grew")
	}
}
