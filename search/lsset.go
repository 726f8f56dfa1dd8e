package search

import (
	"iter"
	"math/bits"
	"slices"
)

// lsSet is a set of logical servers (indexes into Inventory.ls): a short
// list while it holds few (a Find's plan marks two or three), a bitset
// over the inventory's logical servers once it holds more (a FindAll
// marks thousands, and its searches ask about each server they walk
// past: a bit read, not a map lookup). A nil *lsSet is empty; add needs
// one made by newLSSet.
type lsSet struct {
	few  []int32
	bits []uint64
	n    int // len(Inventory.ls)
	size int
}

// lsFew is how many servers lsSet lists before it switches to a bitset.
const lsFew = 16

func (inv *Inventory) newLSSet() *lsSet { return &lsSet{n: len(inv.ls)} }

func (s *lsSet) has(li int32) bool {
	if s == nil {
		return false
	}
	if s.bits != nil {
		return s.bits[li>>6]&(1<<(li&63)) != 0
	}
	return slices.Contains(s.few, li)
}

func (s *lsSet) add(li int32) {
	if s.has(li) {
		return
	}
	s.size++
	if s.bits == nil {
		if len(s.few) < lsFew {
			s.few = append(s.few, li)
			return
		}
		s.bits = make([]uint64, (s.n+63)/64)
		for _, x := range s.few {
			s.bits[x>>6] |= 1 << (x & 63)
		}
		s.few = nil
	}
	s.bits[li>>6] |= 1 << (li & 63)
}

func (s *lsSet) len() int {
	if s == nil {
		return 0
	}
	return s.size
}

// all yields the set's servers in ascending order.
func (s *lsSet) all() iter.Seq[int32] {
	return func(yield func(int32) bool) {
		if s == nil {
			return
		}
		if s.bits == nil {
			few := slices.Clone(s.few)
			slices.Sort(few)
			for _, li := range few {
				if !yield(li) {
					return
				}
			}
			return
		}
		for w, b := range s.bits {
			for b != 0 {
				k := bits.TrailingZeros64(b)
				if !yield(int32(w*64 + k)) {
					return
				}
				b &= b - 1
			}
		}
	}
}
