package search

import (
	"errors"
	"math/rand/v2"
	"reflect"
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
// each give the plans a word per level gives, the potentials never leave
// the packed range, and when the check says they did the round is solved
// again unpacked.
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
