package search

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
)

func TestSlab(t *testing.T) {
	var sl slab[int64]
	// Runs come from one chunk until it is full, capped (an append does
	// not write into the next run), zeroed.
	a := sl.take(3, 8)
	b := sl.take(3, 8)
	if len(a) != 3 || cap(a) != 3 || len(b) != 3 || &a[0] == &b[0] || len(sl.chunks) != 1 {
		t.Fatalf("two runs of one chunk: %d %d %d, %d chunks", len(a), cap(a), len(b), len(sl.chunks))
	}
	a = append(a, 7)
	if b[0] != 0 {
		t.Fatal("an append to a run wrote into the next one")
	}
	c := sl.take(3, 8) // does not fit the first chunk's last two
	if len(sl.chunks) != 2 || len(c) != 3 {
		t.Fatalf("a run past a chunk: %d chunks", len(sl.chunks))
	}
	big := sl.take(20, 8) // larger than the chunk size: a chunk of its own
	if len(big) != 20 || len(sl.chunks) != 3 {
		t.Fatalf("an oversize run: len %d, %d chunks", len(big), len(sl.chunks))
	}
	for _, r := range [][]int64{b, c, big} {
		for i := range r {
			r[i] = 9
		}
	}
	sl.reset()
	// The same chunks again, zeroed, the oversize one too.
	b2 := sl.take(6, 8)
	if &b2[0] != &sl.chunks[0][0] {
		t.Fatal("reset did not reuse the first chunk")
	}
	for _, x := range append(b2, sl.chunks[1]...) {
		if x != 0 {
			t.Fatalf("reset left a value: %v", sl.chunks)
		}
	}
	sl.take(2, 8)
	sl.take(8, 8)
	if z := sl.take(20, 8); &z[0] != &big[0] || z[19] != 0 {
		t.Fatal("the oversize chunk was not reused zeroed")
	}
	// A run larger than the chunk it would reuse replaces it.
	sl.reset()
	sl.take(8, 8)
	if z := sl.take(12, 8); len(z) != 12 || len(sl.chunks[1]) < 12 {
		t.Fatalf("a run larger than the next chunk: %d", len(sl.chunks[1]))
	}
}

// TestRecycledSolversKeepPlans: a solver recycled from rounds of other
// inventories (other term widths, other pools and streams) plans as a new
// one does, on random instances and on matrix shapes.
func TestRecycledSolversKeepPlans(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 600
	}
	rng := rand.New(rand.NewPCG(7, 2026))
	var ins []instance
	for i := range n {
		kn := plainKnobs
		if i%2 == 1 {
			kn = lendKnobs
		}
		in := randInstanceWith(rng, kn)
		if i%3 == 2 {
			in = withTriples(rng, in, i)
		}
		ins = append(ins, in)
	}
	type result struct {
		sol *solution
		err error
	}
	run := func(in instance) result {
		inv, err := NewInventory(in.servers, in.opts...)
		if err != nil {
			t.Fatal(err)
		}
		sol, err := inv.solveJoint("test", in.failed, in.scale, true)
		return result{sol, err}
	}
	defer func() { recycle = true }()
	recycle = false
	want := make([]result, len(ins))
	for i, in := range ins {
		want[i] = run(in)
	}
	recycle = true
	// In another order, so that each solver comes from another instance.
	for _, i := range rng.Perm(len(ins)) {
		got := run(ins[i])
		if (got.err == nil) != (want[i].err == nil) || got.err != nil && got.err.Error() != want[i].err.Error() {
			t.Fatalf("instance %d: error %v, new solvers %v", i, got.err, want[i].err)
		}
		if got.err == nil && (!reflect.DeepEqual(got.sol.plans, want[i].sol.plans) || !reflect.DeepEqual(got.sol.chosen, want[i].sol.chosen)) {
			t.Fatalf("instance %d: recycled solvers plan\n%+v\nnew ones\n%+v", i, got.sol.plans, want[i].sol.plans)
		}
	}

	// Matrix shapes: large rounds, then small ones of other widths.
	var shapes []shape
	for i, sh := range matrixShapes() {
		if i%9 == 0 {
			shapes = append(shapes, sh)
		}
	}
	plans := func() [][]Plan {
		var out [][]Plan
		for _, sh := range shapes {
			servers, opts, ok := genShape(sh, 3000, 5)
			if !ok {
				continue
			}
			inv, err := NewInventory(servers, opts...)
			if err != nil {
				t.Fatal(err)
			}
			failed := exactIDs(inv, 150, 3)
			invF, err := NewInventory(withFailed(servers, failed), opts...)
			if err != nil {
				t.Fatal(err)
			}
			p, _ := invF.FindAll(failed...)
			out = append(out, p)
		}
		return out
	}
	recycle = false
	fresh := plans()
	recycle = true
	slices.Reverse(shapes)
	slices.Reverse(fresh)
	if got := plans(); !reflect.DeepEqual(got, fresh) {
		t.Fatal("recycled solvers plan matrix shapes otherwise than new ones")
	}
}

// withTriples adds three-node partitions to in: Standby and Active ones,
// and a failed one whose policy takes other node counts (their pools are
// a logical server each: see onePool).
func withTriples(rng *rand.Rand, in instance, k int) instance {
	in.servers = slices.Clone(in.servers)
	in.opts = slices.Clone(in.opts)
	add := func(name string, st State, prio int, work string) ServerID {
		part := PartitionID(fmt.Sprintf("t-%s-%d", name, k))
		hw := propHW[rng.IntN(2)]
		for m := range 3 {
			in.servers = append(in.servers, Server{ID: ServerID(fmt.Sprintf("t%s-%d", name, m)), Hardware: hw,
				Switch: "s1", DiskArray: "a1", Zone: "z1", VLANs: []int{10}, State: st, Workload: work, Priority: prio, Partition: part})
		}
		return ServerID(fmt.Sprintf("t%s-0", name))
	}
	for i := range 1 + rng.IntN(3) {
		add(fmt.Sprintf("s%d", i), Standby, 0, "")
	}
	for i := range rng.IntN(3) {
		add(fmt.Sprintf("v%d", i), Active, 5, "w5")
	}
	f := add("f", Failed, 30, "w30")
	in.failed = append(slices.Clone(in.failed), f)
	in.opts = append(in.opts, WithPolicy(f, Policy{AllowPartitionMismatch: true, Preempt: rng.IntN(2) == 0, AnySwitch: true}))
	return in
}

// TestRecycledSolversConcurrent: FindAll from several goroutines at once
// (each taking its own solvers) plans as one at a time does; under -race
// it checks that no two share a solver's memory.
func TestRecycledSolversConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 2026))
	type job struct {
		inv    *Inventory
		failed []ServerID
		want   []Plan
	}
	var jobs []job
	for len(jobs) < 40 {
		in := randInstanceWith(rng, lendKnobs)
		inv, err := NewInventory(in.servers, in.opts...)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := inv.FindAll(in.failed...)
		jobs = append(jobs, job{inv, in.failed, want})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 5 * len(jobs) {
				j := jobs[(k*7+g*13)%len(jobs)]
				if got, _ := j.inv.FindAll(j.failed...); !reflect.DeepEqual(got, j.want) {
					errs <- fmt.Errorf("goroutine %d: %+v, alone %+v", g, got, j.want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
