package search

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestSortWords: the byte-wise sort agrees with slices.Sort on lengths
// around radixMin, words of few and many varying bits, and repeats.
func TestSortWords(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 5, radixMin - 1, radixMin, radixMin + 1, radixAlways - 1, radixAlways, 3000, 70000} {
		for _, bitsUsed := range []int{1, 7, 9, 20, 30, 51, 64} {
			w := make([]uint64, n)
			for i := range w {
				w[i] = rng.Uint64() >> (64 - bitsUsed)
				if i > 0 && rng.IntN(4) == 0 {
					w[i] = w[rng.IntN(i)] // repeats
				}
				if bitsUsed == 51 {
					w[i] |= 0xff << 40 // a constant byte in the middle
				}
			}
			want := slices.Clone(w)
			slices.Sort(want)
			sortWords(w)
			if !slices.Equal(w, want) {
				t.Fatalf("n=%d bits=%d: sorted wrongly", n, bitsUsed)
			}
		}
	}
}

func BenchmarkSortWords(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1200, 2000, 5000, 100000} {
		for _, bitsUsed := range []int{30, 48, 64} { // 4, 6 and 8 passes
			src := make([]uint64, n)
			for i := range src {
				src[i] = rng.Uint64() >> (64 - bitsUsed)
			}
			w := make([]uint64, n)
			name := strconv.Itoa(n) + "/" + strconv.Itoa(bitsUsed) + "bits"
			b.Run("sortWords/"+name, func(b *testing.B) {
				for range b.N {
					copy(w, src)
					sortWords(w)
				}
			})
			b.Run("pdq/"+name, func(b *testing.B) {
				for range b.N {
					copy(w, src)
					slices.Sort(w)
				}
			})
		}
	}
}

// TestSortGenEntries: genList's packed sort orders entries as the
// comparison it replaces does, on lists of few and many signatures,
// priorities close together (packed) and far apart (compared), with and
// without the memory term.
func TestSortGenEntries(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for it := range 2000 {
		nsig := 1 + rng.IntN(40)
		byMem := rng.IntN(2) == 0
		type sigv struct{ mhz, mem, sp int64 }
		sigs := make([]sigv, nsig)
		sps := rng.Perm(nsig + 5)
		for i := range sigs {
			sigs[i] = sigv{int64(rng.IntN(4)) * 1000, int64(rng.IntN(3)) * 512, int64(sps[i])}
		}
		prioSpan := 10
		if it%5 == 0 {
			prioSpan = 1 << (strconv.IntSize - 2) // 1<<62 where int has 64 bits
		}
		var l []genEntry
		for i, sg := range sigs {
			for gp := range rng.IntN(8) {
				p := rng.IntN(prioSpan)
				if it%7 == 0 {
					p = -p
				}
				l = append(l, genEntry{sig: int32(i), g: int32(len(l)), fi: int32(i), prio: p, intr: rng.IntN(2) == 0,
					mhz: sg.mhz, mem: sg.mem, ord: ordPreempt | sg.sp<<ordSig | int64(gp)})
			}
		}
		rng.Shuffle(len(l), func(a, b int) { l[a], l[b] = l[b], l[a] })
		want := slices.Clone(l)
		slices.SortFunc(want, func(a, b genEntry) int {
			c := cmp.Or(cmp.Compare(a.prio, b.prio), boolCmp(a.intr, b.intr), cmp.Compare(a.mhz, b.mhz))
			if c == 0 && byMem {
				c = cmp.Compare(a.mem, b.mem)
			}
			return cmp.Or(c, cmp.Compare(a.ord, b.ord))
		})
		if got := sortGenEntries(slices.Clone(l), nsig, byMem); !slices.Equal(got, want) {
			t.Fatalf("instance %d (%d signatures, byMem %v): sorted wrongly", it, nsig, byMem)
		}
	}
}

// TestPPoolsLook: the branch-free search returns the run of equal keys
// slices.BinarySearch finds, for keys present, absent, below and above
// all, on tables of 0 to 40 keys with repeats.
func TestPPoolsLook(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for it := range 3000 {
		n := rng.IntN(41)
		pp := &ppools{keys: make([]uint64, n), ids: make([]int32, n)}
		for i := range pp.keys {
			pp.keys[i] = uint64(rng.IntN(30)) << 60 >> uint(rng.IntN(2)) // high bits set: the unsigned order matters
			pp.ids[i] = int32(i)
		}
		slices.Sort(pp.keys)
		for range 8 {
			k := uint64(rng.IntN(32)) << 60 >> uint(rng.IntN(2))
			lo, _ := slices.BinarySearch(pp.keys, k)
			hi := lo
			for hi < n && pp.keys[hi] == k {
				hi++
			}
			if got := pp.look(k); !slices.Equal(got, pp.ids[lo:hi]) {
				t.Fatalf("instance %d: look(%#x) = %v, want %v", it, k, got, pp.ids[lo:hi])
			}
		}
	}
}

// TestGenSkip: from an entry of a sorted genList whose MHz is below a
// request's need (or, exact, above it), genSkip lands where a scan one
// entry at a time would first find one that may fit: the same block with
// at least (exact: exactly) the need, else the next block's first entry.
func TestGenSkip(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	checked := 0
	for it := range 3000 {
		nsig := 1 + rng.IntN(30)
		mhzs := make([]int64, nsig)
		for i := range mhzs {
			mhzs[i] = int64(1+rng.IntN(5)) * 1000
		}
		var l []genEntry
		for i := range nsig {
			for gp := range rng.IntN(6) {
				l = append(l, genEntry{sig: int32(i), g: int32(len(l)), fi: int32(i), prio: rng.IntN(4), intr: rng.IntN(2) == 0,
					mhz: mhzs[i], ord: ordPreempt | int64(i)<<ordSig | int64(gp)})
			}
		}
		l = sortGenEntries(l, nsig, false)
		need, exact := int64(1+rng.IntN(5))*1000, rng.IntN(2) == 0
		fits := func(e *genEntry) bool { return e.mhz >= need && (!exact || e.mhz == need) }
		for pos := range l {
			if fits(&l[pos]) {
				continue
			}
			// The scan: the next entry that fits, or that starts a
			// block (the scan cannot tell a later block's entries
			// apart before reading them).
			want := pos + 1
			for want < len(l) && !fits(&l[want]) && l[want].prio == l[pos].prio && l[want].intr == l[pos].intr {
				want++
			}
			if got := genSkip(l, pos, need, exact); got != want {
				t.Fatalf("instance %d: from %d (need %d, exact %v): genSkip %d, scan %d\n%+v", it, pos, need, exact, got, want, l)
			}
			checked++
		}
	}
	if checked < 10000 {
		t.Fatalf("only %d skips checked", checked)
	}
}

// TestSortVictims: the packed sort of victim groups gives the order of
// their comparison (priority, scale-in, class place, group), with
// priorities of any span (a span too wide to pack is compared).
func TestSortVictims(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for it := range 2000 {
		nc, ng := 1+rng.IntN(30), 1+rng.IntN(5000)
		span := 20
		if it%5 == 0 {
			span = 1 << (strconv.IntSize - 2)
		}
		var v []victimGroup
		for _, g := range rng.Perm(ng)[:rng.IntN(min(ng, 300))] {
			p := rng.IntN(span)
			if it%7 == 0 {
				p = -p
			}
			v = append(v, victimGroup{g: int32(g), prio: p, intr: int32(rng.IntN(2)), ci: int32(rng.IntN(nc)), hw: int32(rng.IntN(9))})
		}
		want := slices.Clone(v)
		slices.SortFunc(want, func(a, b victimGroup) int {
			return cmp.Or(cmp.Compare(a.prio, b.prio), cmp.Compare(a.intr, b.intr), cmp.Compare(a.ci, b.ci), cmp.Compare(a.g, b.g))
		})
		if got := sortVictims(v, nc, ng); !slices.Equal(got, want) {
			t.Fatalf("instance %d (%d groups, span %d): sorted wrongly", it, len(v), span)
		}
	}
}
