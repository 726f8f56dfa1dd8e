package search

import "math/bits"

// The option terms of a cost vector (see termCount) are packed too, when
// they fit: each term is a field of a word, the first term the most
// significant, in a balanced representation (a field's digit is signed,
// and a word is the sum of its digits times their place values). A word
// read as an integer then orders its digits lexicographically and adds
// and subtracts them digit by digit, as the level words do, provided
// every digit of every vector the solver keeps stays below a quarter of
// its field's range (the fields below a digit then sum to less than half
// its place value). The matrix's rounds go from eight term words to
// three, and most of FindAll's Dijkstra work is adding, comparing,
// copying and hashing these vectors.
//
// The digits stay in range because every vector the solver keeps is a
// bounded sum. With M the largest term of any option (checked where an
// option's vector is made, by putTerms) and R the round's requests:
//
//   - A path's cost (a request's source to a node) crosses each request
//     node at most once: at most R option edges forward (+0..M each), R
//     backward (-M..0), and one lower bound or one interrupted victim
//     (0..M): within ±(R+2)M.
//   - A node's distance is its path's cost plus two potentials (see the
//     level terms' proof in flow.go); a potential is checked, where
//     augment writes it, to stay within ±Q, Q the power of two
//     above 2(R+2)M (termsCheck). So a distance, a queue key and the
//     sink's distance are below (R+2)M + 2Q < 2.5Q, option costs and
//     lower bounds within 0..M.
//
// A field whose potentials stay below Q = 1<<g has g+4 bits: every digit
// the solver keeps is below 2.5Q, a quarter of the field's range. The
// check is one add and one mask per word: a digit below Q plus Q leaves
// the field's bits from g+1 up clear, and carries nothing into the next
// field. A potential out of its range (never seen: potentials are
// differences of shortest distances, within ±(R+2)M), or an option term
// above M, marks the round, which is solved again unpacked (see
// solveJoint).

// termField is where an option term lives in a cost vector: word w of the
// term words, its digit's place value 1<<shift, its field's width; max
// bounds the term of one option.
type termField struct {
	w     int
	shift uint
	bits  uint
	max   int64
	g     uint // a potential's digit is below 1<<g in magnitude
}

// maxTermWord is the bits a word of packed terms may use (a word's value
// stays within a quarter of int64's range).
const maxTermWord = 62

// layTerms lays out the option terms for a round of R requests whose
// options' terms are at most mx: packed into as few words as fit, or
// one word each (false) when packing does not save a word.
func (j *joint) layTerms(R int, mx [termCount]int64) bool {
	var f [termCount]termField
	w, used := 0, uint(0)
	for t := range termCount {
		m := mx[t]
		if m < 1 {
			m = 1
		}
		p := 2 * (int64(R) + 2) * m
		if p/m != 2*(int64(R)+2) || p > 1<<56 {
			return false // overflows: unpacked
		}
		g := uint(bits.Len64(uint64(p)))
		b := g + 4
		if used+b > maxTermWord {
			w, used = w+1, 0
		}
		f[t] = termField{w: w, bits: b, max: m, g: g}
		used += b
	}
	if w+1 >= termCount {
		return false
	}
	// Shifts: within a word, the first term is the most significant.
	var bias, mask [termCount]int64
	for t := termCount - 1; t >= 0; t-- {
		if t+1 < termCount && f[t+1].w == f[t].w {
			f[t].shift = f[t+1].shift + f[t+1].bits
		}
		bias[f[t].w] += 1 << (f[t].g + f[t].shift)
		mask[f[t].w] |= (1<<f[t].bits - 1) &^ (1<<(f[t].g+1) - 1) << f[t].shift
	}
	j.tf, j.tw, j.tpacked = f, w+1, true
	j.tbias, j.tmask = bias, mask
	return true
}

// unpackedTerms lays out one word per term.
func (j *joint) unpackedTerms() {
	for t := range termCount {
		j.tf[t] = termField{w: t, bits: 64}
	}
	j.tw, j.tpacked = termCount, false
}

// putTerms adds option terms x into v's term words (v's are zero for a
// new vector); a term above its bound marks the round.
func (j *joint) putTerms(v []int64, x *[termCount]int64) {
	tv := v[j.lw : j.lw+j.tw]
	if !j.tpacked {
		for t := range termCount {
			tv[t] += x[t]
		}
		return
	}
	for t := range termCount {
		f := &j.tf[t]
		if x[t] > f.max || x[t] < -f.max {
			j.broken = true
		}
		tv[f.w] += x[t] << f.shift
	}
}

// termsOf reads the terms of v.
func (j *joint) termsOf(v []int64) [termCount]int64 {
	var out [termCount]int64
	for t := range out {
		out[t] = j.term(v, t)
	}
	return out
}

// term reads term t of v. The fields below it sum to less than half its
// place value in magnitude (see above): adding that half and shifting
// leaves its digit plus a multiple of its field's range, whose balanced
// remainder is the digit.
func (j *joint) term(v []int64, t int) int64 {
	if !j.tpacked {
		return v[j.lw+t]
	}
	f := &j.tf[t]
	x := v[j.lw+f.w]
	if f.shift > 0 {
		x = (x + 1<<(f.shift-1)) >> f.shift
	}
	d := x & (1<<f.bits - 1)
	if d >= 1<<(f.bits-1) {
		d -= 1 << f.bits
	}
	return d
}

// setTerm sets term t of v to x.
func (j *joint) setTerm(v []int64, t int, x int64) {
	f := &j.tf[t]
	if j.tpacked && (x > f.max || x < -f.max) {
		j.broken = true
	}
	v[j.lw+f.w] += (x - j.term(v, t)) << f.shift
}

// termsCheck is termsOK (tests replace it to exercise the fallback).
var termsCheck = (*joint).termsOK

// termsOK reports whether a potential's packed terms are within their
// bounds.
func (j *joint) termsOK(v []int64) bool {
	if !j.tpacked {
		return true
	}
	for w, x := range v[j.lw : j.lw+j.tw] {
		if (x+j.tbias[w])&j.tmask[w] != 0 {
			return false
		}
	}
	return true
}

// termBounds bounds the terms of any option of reqs: one preemption, the
// last stage, a victim's priority, the victims and reconfigurations of
// the largest logical server, and its surpluses (a surplus is at most
// the candidate's own MHz or memory).
func (inv *Inventory) termBounds(reqs []request) [termCount]int64 {
	n := inv.maxLS
	for k := range reqs {
		n = max(n, len(reqs[k].nodes))
	}
	var mhz, mem int64
	for h := range inv.hw {
		mhz = max(mhz, int64(inv.hw[h].CPUMHz))
		mem = max(mem, int64(inv.hw[h].MemoryMiB))
	}
	N := int64(n)
	return [termCount]int64{1, int64(stgPreempt), int64(inv.maxPrio), N, N, 2 * N, N * mhz, N * mem}
}
