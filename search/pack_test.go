package search

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// TestLevelsOK: a unit of any level, or nothing, passes; anything else
// (two units, a negative one, a digit of 2, an odd shift) does not.
func TestLevelsOK(t *testing.T) {
	j := &joint{levels: 40, packed: true}
	for l := range 40 {
		w := make([]int64, 2)
		i, x := j.levelUnit(l)
		w[i] = x
		if !levelsOK(w) {
			t.Fatalf("level %d's unit %v rejected", l, w)
		}
		w[i] = -x
		if levelsOK(w) {
			t.Fatalf("level %d's negative unit %v accepted", l, w)
		}
		w[i] = 2 * x
		if levelsOK(w) {
			t.Fatalf("level %d's digit 2 %v accepted", l, w)
		}
	}
	for _, w := range [][]int64{{0, 0}, {1, 0}, {0, 1 << 60}} {
		if !levelsOK(w) {
			t.Fatalf("%v rejected", w)
		}
	}
	for _, w := range [][]int64{{1, 1}, {5, 0}, {2, 0}, {1 << 61, 0}, {4 + 16, 0}} {
		if levelsOK(w) {
			t.Fatalf("%v accepted", w)
		}
	}
}

// packCase is one round to plan.
type packCase struct {
	inv    *Inventory
	failed []ServerID
	scale  []ScaleRequest
}

func packCases(t *testing.T, n int) []packCase {
	var out []packCase
	rng := rand.New(rand.NewPCG(2026, 12))
	for i := range n {
		kn := plainKnobs
		if i%2 == 1 {
			kn = lendKnobs
		}
		in := randInstanceWith(rng, kn)
		inv, err := NewInventory(in.servers, in.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inv.solveJointAs("find joint", in.failed, in.scale, true, false); errors.Is(err, ErrInvalid) {
			continue // the generator's scale requests may be invalid
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, packCase{inv, in.failed, in.scale})
	}
	// Many levels and many unplaced: a short-spare shape of the matrix.
	for _, sh := range []shape{{spc: 1, classes: 20, rackZones: true, vlanSets: 7, partitions: true}, {spc: 100, classes: 4, vlanSets: 7}} {
		servers, opts, _ := genShape(sh, 4000, 1)
		inv, err := NewInventory(servers, opts...)
		if err != nil {
			t.Fatal(err)
		}
		ids := exactIDs(inv, 150, 3)
		fs := append([]Server(nil), servers...)
		failed := map[ServerID]bool{}
		for _, id := range ids {
			failed[id] = true
		}
		for i := range fs {
			if failed[fs[i].ID] || fs[i].Partition != "" && i > 0 && fs[i].Partition == fs[i-1].Partition && failed[fs[i-1].ID] {
				fs[i].State = Failed
			}
		}
		invF, err := NewInventory(fs, opts...)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, packCase{invF, ids, nil})
	}
	return out
}

// TestPackedLevelsMatchUnpacked: the priority levels' terms packed two bits
// each, and the option terms packed (terms.go), give the plans a word per
// level and per term gives, the potentials never leave the packed range,
// and when the check says they did the round is solved again unpacked.
func TestPackedLevelsMatchUnpacked(t *testing.T) {
	n := 4000
	if testing.Short() {
		n = 800
	}
	unplaced, multi := 0, 0
	solve := func(c packCase, pack bool) *solution {
		sol, err := c.inv.solveJointAs("find joint", c.failed, c.scale, true, pack)
		if err != nil {
			t.Fatal(err)
		}
		return sol
	}
	cases := packCases(t, n)
	for i, c := range cases {
		p, u := solve(c, true), solve(c, false)
		if p.broken {
			t.Fatalf("case %d: a potential left the packed range", i)
		}
		if !reflect.DeepEqual(p.plans, u.plans) {
			t.Fatalf("case %d: packed plans\n%+v\nunpacked\n%+v", i, p.plans, u.plans)
		}
		levels := map[int]bool{}
		for k := range p.reqs {
			levels[p.reqs[k].level] = true
			if p.chosen[k] == nil {
				unplaced++
			}
		}
		if len(levels) > 1 {
			multi++
		}
	}
	t.Logf("%d rounds, %d of several levels, %d requests unplaced", len(cases), multi, unplaced)
	if multi < len(cases)/4 || unplaced < len(cases)/4 {
		t.Fatalf("the cases no longer exercise the level terms: %d of several levels, %d unplaced", multi, unplaced)
	}

	// The fallback: a check that always fails gives the unpacked plans.
	levelsCheck = func([]int64) bool { return false }
	defer func() { levelsCheck = levelsOK }()
	fell := 0
	for i, c := range cases[:200] {
		p, err := c.inv.solveJoint("find joint", c.failed, c.scale, true)
		if err != nil {
			t.Fatal(err)
		}
		u := solve(c, false)
		if !reflect.DeepEqual(p.plans, u.plans) {
			t.Fatalf("case %d: plans after the fallback differ from unpacked", i)
		}
		if q := solve(c, true); q.broken {
			fell++
		}
	}
	if fell == 0 {
		t.Fatal("no round took the fallback")
	}
}

// TestTermLayout: packed option terms decode to what was put in; words
// compare as their digits do, lexicographically, for every digit the
// solver may keep (within ±2.5Q, see terms.go); add and subtract digit by
// digit; and termsOK accepts a potential's digits within ±Q only.
func TestTermLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 16))
	for round := range 300 {
		var mx [termCount]int64
		for k := range mx {
			mx[k] = rng.Int64N(1 << rng.IntN(20))
		}
		R := 1 + rng.IntN(5000)
		j := &joint{lw: 1 + rng.IntN(2)}
		if !j.layTerms(R, mx) {
			t.Fatalf("round %d: bounds %v, %d requests: not packed", round, mx, R)
		}
		K := j.lw + j.tw
		if j.tw >= termCount {
			t.Fatalf("round %d: %d words", round, j.tw)
		}
		// A random digit vector within ±lim[t] of each field, and its word.
		vecOf := func(lim func(t int) int64) ([termCount]int64, []int64) {
			var d [termCount]int64
			v := make([]int64, K)
			for k := range d {
				l := lim(k)
				switch rng.IntN(4) {
				case 0:
					d[k] = 0
				case 1:
					d[k] = l
				case 2:
					d[k] = -l
				default:
					d[k] = rng.Int64N(2*l+1) - l
				}
				v[j.lw+j.tf[k].w] += d[k] << j.tf[k].shift
			}
			return d, v
		}
		kept := func(k int) int64 { return 5 << j.tf[k].g >> 1 } // 2.5Q
		for range 50 {
			// Option terms (0..max) in and out.
			var x [termCount]int64
			for k := range x {
				x[k] = rng.Int64N(j.tf[k].max + 1)
			}
			v := make([]int64, K)
			j.putTerms(v, &x)
			if j.broken || j.termsOf(v) != x {
				t.Fatalf("round %d: put %v, read %v (broken %v)", round, x, j.termsOf(v), j.broken)
			}
			j.setTerm(v, 5, x[5]/2)
			x[5] /= 2
			if j.termsOf(v) != x {
				t.Fatalf("round %d: setTerm: read %v, want %v", round, j.termsOf(v), x)
			}
			// Order and arithmetic of kept vectors.
			da, a := vecOf(kept)
			db, b := vecOf(kept)
			if got, want := vcmp(a, b), slices.Compare(da[:], db[:]); got != want {
				t.Fatalf("round %d: %v vs %v: words compare %d, digits %d", round, da, db, got, want)
			}
			if j.termsOf(a) != da {
				t.Fatalf("round %d: digits %v read as %v", round, da, j.termsOf(a))
			}
			dh, h := vecOf(func(k int) int64 { return kept(k) / 2 })
			dg, g := vecOf(func(k int) int64 { return kept(k) / 2 })
			for i := range h {
				h[i] -= g[i]
			}
			for k := range dh {
				dh[k] -= dg[k]
			}
			if j.termsOf(h) != dh {
				t.Fatalf("round %d: difference read %v, want %v", round, j.termsOf(h), dh)
			}
			// The potentials' check.
			q := func(k int) int64 { return 1<<j.tf[k].g - 1 }
			if _, p := vecOf(q); !j.termsOK(p) {
				t.Fatalf("round %d: a potential within ±Q rejected", round)
			}
			bad := rng.IntN(termCount)
			_, p := vecOf(q)
			off := int64(1)<<j.tf[bad].g + rng.Int64N(5<<j.tf[bad].g)
			if rng.IntN(2) == 0 {
				off = -off - 1
			}
			p[j.lw+j.tf[bad].w] += off << j.tf[bad].shift
			if d := j.termsOf(p)[bad]; d >= -1<<j.tf[bad].g && d < 1<<j.tf[bad].g {
				continue // moved back into range
			}
			if j.termsOK(p) {
				t.Fatalf("round %d: term %d's potential %d accepted (Q = %d)", round, bad, j.termsOf(p)[bad], int64(1)<<j.tf[bad].g)
			}
		}
		// An option term above its bound marks the round.
		var x [termCount]int64
		x[rng.IntN(termCount)] = 1 << 40
		j.putTerms(make([]int64, K), &x)
		if !j.broken {
			t.Fatalf("round %d: term %v above its bound not caught", round, x)
		}
	}
	// Bounds that cannot be packed: unpacked.
	j := &joint{lw: 1}
	if j.layTerms(1000, [termCount]int64{1 << 50, 1 << 50}) {
		t.Fatal("terms of 2^50 packed")
	}
}

// TestPackedTermsFallback: when a potential's terms leave their range the
// round is solved again unpacked, with the unpacked plans.
func TestPackedTermsFallback(t *testing.T) {
	termsCheck = func(j *joint, v []int64) bool { return !j.tpacked }
	defer func() { termsCheck = (*joint).termsOK }()
	cases := packCases(t, 200)
	fell := 0
	for i, c := range cases {
		p, err := c.inv.solveJoint("find joint", c.failed, c.scale, true)
		if err != nil {
			t.Fatal(err)
		}
		u, err := c.inv.solveJointAs("find joint", c.failed, c.scale, true, false)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p.plans, u.plans) {
			t.Fatalf("case %d: plans after the fallback differ from unpacked", i)
		}
		if q, _ := c.inv.solveJointAs("find joint", c.failed, c.scale, true, true); q.broken {
			fell++
		}
	}
	if fell < len(cases)/2 {
		t.Fatalf("%d of %d rounds took the fallback", fell, len(cases))
	}
}

// TestPackedTermsWidePriorities: priorities scaled up to the largest an
// inventory takes (every comparison kept) widen the victim priority's
// field; the plans are still the unpacked ones.
func TestPackedTermsWidePriorities(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 16))
	packed := 0
	for i := range 600 {
		kn := plainKnobs
		if i%2 == 1 {
			kn = lendKnobs
		}
		in := randInstanceWith(rng, kn)
		shift := []uint{0, 12, 24}[i%3] // priorities up to 100 << 24 < MaxPriority
		for k := range in.servers {
			in.servers[k].Priority <<= shift
		}
		for k := range in.scale {
			in.scale[k].Priority <<= shift
		}
		inv, err := NewInventory(in.servers, in.opts...)
		if err != nil {
			t.Fatal(err)
		}
		p, err := inv.solveJointAs("find joint", in.failed, in.scale, true, true)
		if errors.Is(err, ErrInvalid) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		u, err := inv.solveJointAs("find joint", in.failed, in.scale, true, false)
		if err != nil {
			t.Fatal(err)
		}
		if p.broken {
			t.Fatalf("case %d (priorities << %d): a potential left the packed range", i, shift)
		}
		if !reflect.DeepEqual(p.plans, u.plans) {
			t.Fatalf("case %d (priorities << %d): packed plans\n%+v\nunpacked\n%+v", i, shift, p.plans, u.plans)
		}
		if j := (&joint{}); j.layTerms(len(p.reqs), inv.termBounds(p.reqs)) {
			packed++
		}
	}
	if packed < 500 {
		t.Fatalf("only %d of 600 rounds packed", packed)
	}
}
