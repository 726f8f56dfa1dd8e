package search

import "hash/maphash"

// idTable maps server IDs to their index in srvs: open addressing over
// slots of 8 bytes (a tag of the ID's hash and the index), at most half
// full, the ID itself checked on the server's row. A Go map of 100,000
// string keys costs two or three cache misses per lookup (control word,
// key header, key bytes) before the row is read; this costs the slot,
// then the row Find reads anyway, and the ID's bytes.
type idTable struct {
	seed  maphash.Seed
	slots []idSlot
	mask  uint64
}

type idSlot struct {
	tag uint32 // 0: empty
	idx int32
}

func newIDTable(srvs []srv) idTable {
	n := 8
	for n < 2*len(srvs) {
		n *= 2
	}
	t := idTable{seed: maphash.MakeSeed(), slots: make([]idSlot, n), mask: uint64(n - 1)}
	for i := range srvs {
		h := maphash.String(t.seed, string(srvs[i].id))
		for k := h & t.mask; ; k = (k + 1) & t.mask {
			if t.slots[k].tag == 0 {
				t.slots[k] = idSlot{idTag(h), int32(i)}
				break
			}
		}
	}
	return t
}

func idTag(h uint64) uint32 { return uint32(h>>32) | 1 }

// lookup returns the index of id in srvs (the slice the table was built
// from, or one with the same IDs at the same indexes).
func (t *idTable) lookup(srvs []srv, id ServerID) (int32, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	h := maphash.String(t.seed, string(id))
	tag := idTag(h)
	for k := h & t.mask; ; k = (k + 1) & t.mask {
		s := t.slots[k]
		if s.tag == 0 {
			return 0, false
		}
		if s.tag == tag && srvs[s.idx].id == id {
			return s.idx, true
		}
	}
}
