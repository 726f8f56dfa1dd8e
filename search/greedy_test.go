package search

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestGreedyRestoresMoreOnlyByPriority compares FindAll with the obvious
// alternative: failures served first come, first served (Find for each in
// input order, what earlier plans took set aside). On many random
// instances FindAll restores, priority level by priority level from the
// highest, at least as many failures as greedy; where greedy restores more
// in total, FindAll restored more at a higher priority: the difference
// comes from the lexicographic priority objective, never from a loss.
func TestGreedyRestoresMoreOnlyByPriority(t *testing.T) {
	n := 5000
	if testing.Short() {
		n = 1000
	}
	rng := rand.New(rand.NewPCG(2026, 12))
	var greedyMore, jointMore, equal int
	for i := range n {
		in := randInstance(rng)
		failedSet := make(map[ServerID]bool)
		for _, id := range in.failed {
			failedSet[id] = true
		}
		// Every named failure is Failed (never a victim of another).
		parts := make(map[PartitionID]bool)
		for _, s := range in.servers {
			if failedSet[s.ID] && s.Partition != "" {
				parts[s.Partition] = true
			}
		}
		for k := range in.servers {
			s := &in.servers[k]
			if failedSet[s.ID] || (s.Partition != "" && parts[s.Partition]) {
				s.State = Failed
			}
		}
		inv, err := NewInventory(in.servers, in.opts...)
		if err != nil {
			t.Fatal(err)
		}
		prioOf := func(id ServerID) int { s, _ := inv.Server(id); return s.Priority }

		greedy := make(map[int]int)
		cur := inv
		for _, id := range in.failed {
			p, err := cur.Find(id)
			if err != nil {
				continue
			}
			greedy[prioOf(id)]++
			var upd []Server
			take := func(id ServerID) {
				if s, ok := cur.Server(id); ok && s.State != Reserved {
					s.State = Reserved
					upd = append(upd, s)
				}
			}
			for _, id := range p.Replacement {
				take(id)
			}
			for _, v := range p.Preemptions {
				take(v.Victim)
				if v.RelocateTo != "" {
					take(v.RelocateTo)
				}
			}
			if cur, err = cur.With(upd...); err != nil {
				t.Fatal(err)
			}
		}
		plans, _ := inv.FindAll(in.failed...)
		joint := make(map[int]int)
		for k, p := range plans {
			if p.Kind != 0 {
				joint[prioOf(in.failed[k])]++
			}
		}
		var prios []int
		for _, id := range in.failed {
			prios = append(prios, prioOf(id))
		}
		slices.SortFunc(prios, func(a, b int) int { return cmp.Compare(b, a) })
		prios = slices.Compact(prios)
		gv, jv := make([]int, len(prios)), make([]int, len(prios))
		gt, jt := 0, 0
		for k, p := range prios {
			gv[k], jv[k] = greedy[p], joint[p]
			gt += gv[k]
			jt += jv[k]
		}
		if c := slices.Compare(jv, gv); c < 0 {
			t.Fatalf("instance %d: FindAll restored %v per priority %v, greedy %v", i, jv, prios, gv)
		}
		switch {
		case gt > jt:
			greedyMore++
			// The first level where they differ: FindAll restored more.
			k := slices.IndexFunc(prios, func(p int) bool { return greedy[p] != joint[p] })
			if k < 0 || jv[k] <= gv[k] {
				t.Fatalf("instance %d: greedy restored more (%v) without FindAll restoring more at a higher priority (%v)", i, gv, jv)
			}
		case jt > gt:
			jointMore++
		default:
			equal++
		}
	}
	t.Logf("%d instances: greedy restored more in total %d times (each time FindAll restored more of a higher priority), FindAll more %d times, as many %d times",
		n, greedyMore, jointMore, equal)
	if greedyMore == 0 || jointMore == 0 {
		t.Fatal("the instances no longer show both cases")
	}
}
