package search

import (
	"hash/maphash"
	"strings"
)

// idTable maps server IDs to their index in srvs: open addressing over
// slots of 8 bytes (a tag of the ID's hash and length, and the index), at
// most half full. A Go map of 100,000 string keys costs two or three
// cache misses per lookup (control word, key header, key bytes) before
// the row is read; this costs the slot, then the ID's bytes.
//
// The IDs are copied into one string, each at its index times stride,
// and the rows' IDs are substrings of it: the bytes a lookup compares are
// found from the slot alone, so the compare and the read of the row Find
// reads next wait on the slot, not on each other (two cache misses deep,
// not three). stride covers all IDs but the longest 1% (at most
// maxStride bytes; 0 when even that does not cover 99%): the longer ones
// are compared on their rows, so that a few long IDs do not make every
// server pay their length.
type idTable struct {
	seed   maphash.Seed
	slots  []idSlot
	mask   uint64
	ids    string // IDs of up to stride bytes, zero-padded to stride bytes each
	stride int
}

type idSlot struct {
	tag uint32 // 0: empty
	idx int32
}

// maxStride is the longest stride (the copy costs stride bytes per
// server).
const maxStride = 64

// newIDTable builds the table of srvs' IDs (distinct) and points the
// rows' IDs of up to stride bytes into its copy.
func newIDTable(srvs []srv) idTable {
	n := 8
	for n < 2*len(srvs) {
		n *= 2
	}
	t := idTable{seed: maphash.MakeSeed(), slots: make([]idSlot, n), mask: uint64(n - 1)}
	t.stride = idStride(srvs)
	if t.stride > 0 {
		var b strings.Builder
		b.Grow(t.stride * len(srvs))
		var pad [maxStride]byte
		for i := range srvs {
			id := srvs[i].id
			if len(id) > t.stride {
				id = ""
			}
			b.WriteString(string(id))
			b.Write(pad[:t.stride-len(id)])
		}
		t.ids = b.String()
		for i := range srvs {
			if l := len(srvs[i].id); l <= t.stride {
				o := i * t.stride
				srvs[i].id = ServerID(t.ids[o : o+l])
			}
		}
	}
	for i := range srvs {
		h := maphash.String(t.seed, string(srvs[i].id))
		for k := h & t.mask; ; k = (k + 1) & t.mask {
			if t.slots[k].tag == 0 {
				t.slots[k] = idSlot{idTag(h, len(srvs[i].id)), int32(i)}
				break
			}
		}
	}
	return t
}

// idStride is the shortest multiple of 8 bytes, up to maxStride, that
// holds all of srvs' IDs but the longest 1%; 0 when there is none.
func idStride(srvs []srv) int {
	var count [maxStride + 2]int // per length; the last: longer
	for i := range srvs {
		count[min(len(srvs[i].id), maxStride+1)]++
	}
	longer := len(srvs)
	for l := 0; l <= maxStride; l++ {
		longer -= count[l]
		if l > 0 && l%8 == 0 && longer <= len(srvs)/100 {
			return l
		}
	}
	return 0
}

// idTag keeps 24 bits of the hash and the length (up to 127), never 0.
func idTag(h uint64, n int) uint32 { return uint32(h>>32)&^0xff | 0x80 | uint32(min(n, 127)) }

// lookup returns the index of id in srvs (the slice the table was built
// from, or one with the same IDs at the same indexes).
func (t *idTable) lookup(srvs []srv, id ServerID) (int32, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	h := maphash.String(t.seed, string(id))
	tag := idTag(h, len(id))
	for k := h & t.mask; ; k = (k + 1) & t.mask {
		s := t.slots[k]
		if s.tag == 0 {
			return 0, false
		}
		if s.tag == tag && t.idIs(srvs, s, id) {
			return s.idx, true
		}
	}
}

// idIs reports whether slot s holds id: in the copy when it is there
// (the tag's length, which matched id's, is the stored ID's; exact
// there, since the copy's IDs are at most stride bytes: the zero padding
// does not match an ID's own zero bytes), else on the row.
func (t *idTable) idIs(srvs []srv, s idSlot, id ServerID) bool {
	if int(s.tag&0x7f) != min(len(id), 127) {
		return false
	}
	if len(id) <= t.stride {
		o := int(s.idx) * t.stride
		return t.ids[o:o+len(id)] == string(id)
	}
	return srvs[s.idx].id == id
}
