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
// The IDs are copied into one string, each at its index times stride
// (when the longest fits in maxStride bytes), and the rows' IDs are
// substrings of it: the bytes a lookup compares are found from the slot
// alone, so the compare and the read of the row Find reads next wait on
// the slot, not on each other (two cache misses deep, not three). Longer
// IDs are compared on the rows.
type idTable struct {
	seed   maphash.Seed
	slots  []idSlot
	mask   uint64
	ids    string // stride > 0: the IDs, zero-padded to stride bytes each
	stride int
}

type idSlot struct {
	tag uint32 // 0: empty
	idx int32
}

// maxStride is the longest ID kept at a fixed stride (the copy costs
// stride bytes per server).
const maxStride = 64

// newIDTable builds the table of srvs' IDs (distinct) and points each
// row's ID into its copy.
func newIDTable(srvs []srv) idTable {
	n := 8
	for n < 2*len(srvs) {
		n *= 2
	}
	t := idTable{seed: maphash.MakeSeed(), slots: make([]idSlot, n), mask: uint64(n - 1)}
	longest := 0
	for i := range srvs {
		longest = max(longest, len(srvs[i].id))
	}
	if longest <= maxStride && len(srvs) > 0 {
		t.stride = (max(longest, 1) + 7) &^ 7
		var b strings.Builder
		b.Grow(t.stride * len(srvs))
		var pad [maxStride]byte
		for i := range srvs {
			b.WriteString(string(srvs[i].id))
			b.Write(pad[:t.stride-len(srvs[i].id)])
		}
		t.ids = b.String()
		for i := range srvs {
			o := i * t.stride
			srvs[i].id = ServerID(t.ids[o : o+len(srvs[i].id)])
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

// idIs reports whether slot s holds id: in the copy when there is one
// (the length from the tag, exact there since no ID in the copy is longer
// than stride: the zero padding does not match an ID's own zero bytes),
// else on the row.
func (t *idTable) idIs(srvs []srv, s idSlot, id ServerID) bool {
	if t.stride > 0 {
		if int(s.tag&0x7f) != len(id) {
			return false
		}
		o := int(s.idx) * t.stride
		return t.ids[o:o+len(id)] == string(id)
	}
	return srvs[s.idx].id == id
}
