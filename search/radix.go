package search

import (
	"math/bits"
	"slices"
)

// sortWords sorts w ascending. The solver sorts packed keys by the
// thousands (a large group's pools and their lookup entries, up to a
// hundred thousand); when there are enough of them for the few bytes they
// differ in, it sorts them a byte at a time (least significant first,
// skipping the bytes no two words differ in): a pass reads and writes
// each word once, where a comparison sort reads it log n times.
func sortWords(w []uint64) {
	if len(w) < radixMin {
		slices.Sort(w)
		return
	}
	var and, or uint64 = ^uint64(0), 0
	for _, x := range w {
		and &= x
		or |= x
	}
	diff := and ^ or // the bits that vary
	passes := 0
	for shift := uint(0); shift < 64; shift += 8 {
		if (diff>>shift)&0xff != 0 {
			passes++
		}
	}
	// Measured on this package's benchmark: on short slices a pass costs
	// about 2.5 times what one level of a comparison sort does, per word.
	// From radixAlways words on, the comparison sort's mispredicted
	// branches cost more than eight passes (BenchmarkSortWords: on 2,000
	// to 20,000 random words of 48 bits, six passes take 0.2-0.5 of the
	// comparison sort's time; on 1,024 words, 1.4 of it).
	if len(w) < radixAlways && 5*passes > 2*bits.Len(uint(len(w))) {
		slices.Sort(w)
		return
	}
	buf := make([]uint64, len(w))
	src, dst := w, buf
	for shift := uint(0); shift < 64; shift += 8 {
		if (diff>>shift)&0xff == 0 {
			continue
		}
		var count [257]int
		for _, x := range src {
			count[(x>>shift)&0xff+1]++
		}
		for i := 1; i < 257; i++ {
			count[i] += count[i-1]
		}
		for _, x := range src {
			b := (x >> shift) & 0xff
			dst[count[b]] = x
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &w[0] {
		copy(w, src)
	}
}

// radixMin is the length from which sortWords may sort by bytes, and
// radixAlways the one from which it always does.
const (
	radixMin    = 1024
	radixAlways = 2048
)
