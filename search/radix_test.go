package search

import (
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
