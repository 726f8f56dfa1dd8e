package search

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"unsafe"
)

// refExplain is explain's definition: every server outside the request,
// its first reason, one by one.
func (inv *Inventory) refExplain(req *request, taken *lsSet) string {
	f := &req.nodes[req.ref]
	pol := &req.pol
	hk := inv.hardOfNode(f)
	reasons := &reasonBag{}
	total := 0
	notStandby := reason{kind: rNotStandby}
	if pol.Preempt {
		notStandby.kind = rNotStandbyOrActive
	}
	for i := range inv.srvs {
		if req.isMember(int32(i)) {
			continue
		}
		total++
		s := &inv.srvs[i]
		if !(s.state == stStandby || (pol.Preempt && s.state == stActive)) {
			reasons.add(notStandby, 1)
			continue
		}
		if r, ok := hardReason(inv.hardOf(s), hk); ok {
			reasons.add(r, 1)
			continue
		}
		reasons.add(inv.attrReason(req, s, taken), 1)
	}
	return formatReasons(0, total, reasons)
}

// zoneInstance is a random inventory of a few hundred servers whose zones
// are shared by many servers (so that the index reads them through
// per-group lists), with partitions of two and three nodes, several
// switches and disk arrays, policies, combinations and scale-in minimums.
func zoneInstance(rng *rand.Rand) ([]Server, []Option, []ServerID) {
	var servers []Server
	var opts []Option
	var failed []ServerID
	n := 150 + rng.IntN(500)
	// Zone "" is large (most servers: read through per-group lists), the
	// others small (read whole).
	zones := []string{"", "", "", "", "za", "zb", fmt.Sprint("zr", rng.IntN(3))}
	hws := propHW
	id := 0
	for id < n {
		size := 1
		switch r := rng.IntN(10); {
		case r < 2:
			size = 2
		case r == 2:
			size = 3
		}
		st := []State{Standby, Standby, Active, Active, Active, Failed, Maintenance}[rng.IntN(7)]
		if size > 1 && rng.IntN(3) == 0 {
			st = Standby
		}
		prio := 10 * (1 + rng.IntN(5))
		part := PartitionID("")
		if size > 1 {
			part = PartitionID(fmt.Sprint("p", id))
		}
		for m := range size {
			s := Server{
				ID: ServerID(fmt.Sprintf("s%04d", id)), Hardware: hws[rng.IntN(len(hws))],
				Switch: fmt.Sprint("sw", rng.IntN(2)), DiskArray: fmt.Sprint("a", rng.IntN(4)/3),
				Zone: zones[rng.IntN(len(zones))], VLANs: [][]int{{10}, {20}, {10, 20}}[rng.IntN(3)],
				State: st, Workload: fmt.Sprint("w", prio), Priority: prio, Partition: part,
			}
			if m > 0 && rng.IntN(6) == 0 && st != Failed {
				s.State = Maintenance // a mixed partition
			}
			if st == Standby {
				s.Workload, s.Priority = "", 0
			}
			if st == Failed && m == 0 {
				failed = append(failed, s.ID)
			}
			servers = append(servers, s)
			id++
		}
	}
	for p := 10; p <= 50; p += 10 {
		pol := Policy{}
		if rng.IntN(2) == 0 {
			pol = Policy{MinMemoryMiB: []int{32768, 65536}[rng.IntN(2)], AnyCPUModel: rng.IntN(2) == 0,
				AnySwitch: rng.IntN(2) == 0, Preempt: rng.IntN(2) == 0, AllowPartitionMismatch: rng.IntN(4) == 0,
				ScaleInMin: rng.IntN(3)}
		}
		opts = append(opts, WithWorkloadPolicy(fmt.Sprint("w", p), pol))
	}
	var single []ServerID
	for _, s := range servers {
		if s.Partition == "" && (s.State == Standby || s.State == Active) {
			single = append(single, s.ID)
		}
	}
	for range rng.IntN(6) {
		if len(single) < 3 {
			break
		}
		a, b := single[rng.IntN(len(single))], single[rng.IntN(len(single))]
		if a != b {
			opts = append(opts, WithCombination(a, b))
		}
	}
	return servers, opts, failed
}

// TestFindMatchesReference: on random inventories with large shared
// zones, partitions, switches, policies and combinations, Find chooses
// what the scan-based reference ranks first, and explains a missing spare
// exactly as the per-server definition does; FindAll's explanations of
// unplaced failures too.
func TestFindMatchesReference(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 60
	}
	rng := rand.New(rand.NewPCG(16, 1))
	checked, explained, templates := 0, 0, 0
	for it := range n {
		servers, opts, failed := zoneInstance(rng)
		// On odd instances every group is read through its lists.
		if it%2 == 1 {
			opts = append(opts, withSmallGroups(-1))
		}
		inv, err := NewInventory(servers, opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range failed {
			req, err := inv.failureRequest("find", id)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := inv.bestIn(&req, allStages, nil)
			ref := inv.refOptions(&req)
			if ok != (len(ref) > 0) {
				t.Fatalf("instance %d, %s: Find found %v, reference %d options", it, id, ok, len(ref))
			}
			if !ok {
				if g, w := inv.explain(&req, nil), inv.refExplain(&req, nil); g != w {
					t.Fatalf("instance %d, %s: explanation\n%s\nwant\n%s", it, id, g, w)
				}
				explained++
				continue
			}
			if inv.rankCmp(&got, &ref[0]) != 0 {
				t.Fatalf("instance %d, %s: Find chose stage %d %v %v, reference stage %d %v %v", it, id,
					got.stage, ids(inv, got.repl), terms(&got), ref[0].stage, ids(inv, ref[0].repl), terms(&ref[0]))
			}
			checked++
		}
		// A scale-out template of one or two nodes in a zone that is large,
		// small or no server's, its VLAN set sometimes one no server has
		// (the request then holds set -1): the same comparison.
		tmpl := make([]Server, 1+rng.IntN(2))
		for k := range tmpl {
			tmpl[k] = Server{ID: ServerID(fmt.Sprint("t", k)), Hardware: propHW[rng.IntN(len(propHW))],
				Switch: fmt.Sprint("sw", rng.IntN(2)), DiskArray: "a0", Zone: []string{"", "za", "zb", "znew"}[rng.IntN(4)],
				VLANs: [][]int{{10}, {20}, {10, 20}, {99}}[rng.IntN(4)]}
		}
		sr := ScaleRequest{Kind: ScaleOut, Template: tmpl, Count: 1, Priority: 10 * (1 + rng.IntN(5)), Workload: fmt.Sprint("w", 10*(1+rng.IntN(5)))}
		units, err := inv.scaleRequests("find", 0, &sr)
		if err != nil {
			t.Fatal(err)
		}
		for k := range units {
			req := &units[k]
			got, ok := inv.bestIn(req, allStages, nil)
			ref := inv.refOptions(req)
			if ok != (len(ref) > 0) {
				t.Fatalf("instance %d, template %v: found %v, reference %d options", it, tmpl, ok, len(ref))
			}
			if ok && inv.rankCmp(&got, &ref[0]) != 0 {
				t.Fatalf("instance %d, template %v: chose stage %d %v %v, reference stage %d %v %v", it, tmpl,
					got.stage, ids(inv, got.repl), terms(&got), ref[0].stage, ids(inv, ref[0].repl), terms(&ref[0]))
			}
			if ok {
				templates++
			}
		}
		if len(failed) > 1 {
			sol, err := inv.solveAll(failed)
			if err != nil {
				t.Fatal(err)
			}
			for k := range sol.reqs {
				if sol.chosen[k] != nil {
					continue
				}
				// Relocations may take more standby servers: compare with
				// the plans' own view of what is taken.
				if g, w := sol.plans[k].Reason, inv.refExplain(&sol.reqs[k], usedByPlans(inv, sol)); g != w {
					t.Fatalf("instance %d: FindAll explanation\n%s\nwant\n%s", it, g, w)
				}
				explained++
			}
		}
	}
	t.Logf("%d choices, %d template choices and %d explanations checked", checked, templates, explained)
	if checked < 200 || explained < 50 || templates < n/4 {
		t.Fatalf("the generator no longer exercises both: %d choices, %d explanations", checked, explained)
	}
}

// usedByPlans is every logical server a solution's plans use.
func usedByPlans(inv *Inventory, sol *solution) *lsSet {
	used := inv.newLSSet()
	for _, p := range sol.plans {
		for _, id := range p.Replacement {
			i, _ := inv.index(id)
			used.add(inv.srvs[i].ls)
		}
		for _, v := range p.Preemptions {
			if v.RelocateTo != "" {
				i, _ := inv.index(v.RelocateTo)
				used.add(inv.srvs[i].ls)
			}
		}
	}
	return used
}

func ids(inv *Inventory, l []int32) []ServerID {
	var out []ServerID
	for _, i := range l {
		out = append(out, inv.srvs[i].id)
	}
	return out
}

// reasonBag counts as a map does, below and above its linear limit.
func TestReasonBagCountsAsAMap(t *testing.T) {
	for _, distinct := range []int{1, 5, bagLinear, bagLinear + 1, 300} {
		b := &reasonBag{}
		want := map[reason]int{}
		for i := range 5000 {
			r := reason{kind: rMHzBelow, a: (i * 7) % distinct, b: 1}
			n := i%3 - 1
			b.add(r, n)
			want[r] += n
			if i%97 == 0 {
				b.set(r, 42)
				want[r] = 42
			}
		}
		if len(b.keys) != len(want) {
			t.Fatalf("%d distinct: %d keys, want %d", distinct, len(b.keys), len(want))
		}
		for i, k := range b.keys {
			if b.vals[i] != want[k] {
				t.Errorf("%d distinct: %v = %d, want %d", distinct, k, b.vals[i], want[k])
			}
		}
	}
}

// A server's row is one cache line: Find reads the failed server's and
// the spare's, each one miss at 100,000 servers. (Where int has 32 bits
// the row is smaller, and the rows do not keep to lines.)
func TestServerRowIsOneCacheLine(t *testing.T) {
	n := unsafe.Sizeof(srv{})
	if n > 64 || strconv.IntSize == 64 && n != 64 {
		t.Fatalf("srv is %d bytes, want 64", n)
	}
	// So is a partition group, which an exact Find of a partition reads
	// for its key, its signature's slots and its patterns.
	if n := unsafe.Sizeof(pgroup{}); n != 64 {
		t.Fatalf("pgroup is %d bytes, want 64", n)
	}
}

// A pattern lookup is exact. A key that asks slot 0 for VLAN set -1 (what
// a template's unknown set becomes) must find nothing, though the key
// that leaves slot 0 out finds the partitions with slot 1's set; before,
// the two keys were one, and a lookup counted an unmatched VLAN set as
// matched.
func TestPatternLookupIsExact(t *testing.T) {
	hw := Hardware{CPUModel: "c", CPUMHz: 2000, MemoryMiB: 32768, Chipset: "cs", NICPorts: 2, HBAPorts: 2}
	var servers []Server
	for p := range 40 {
		for m := range 2 {
			servers = append(servers, Server{
				ID: ServerID(fmt.Sprintf("s%03d-%d", p, m)), Hardware: hw, Switch: "sw", DiskArray: "a",
				Zone: "z", VLANs: []int{100 + (p+m)%3}, State: Standby, Partition: PartitionID(fmt.Sprintf("p%03d", p)),
			})
		}
	}
	inv, err := NewInventory(servers)
	if err != nil {
		t.Fatal(err)
	}
	x := &inv.idx
	g := x.lsPG[0][0]
	pr := &x.pgroups[g].pat
	pg := pr.g
	if pg < 0 {
		t.Fatal("the group has no patterns: the test needs more partitions")
	}
	get := func(k patKey) bool {
		k.g = pg
		return inv.patGet(pr, k) != nil
	}
	v := inv.srvs[inv.members[inv.ls[0].first+1]].vlans
	if !get(patKey{z1: -1, v1: -1, z2: -1, v2: v, mask: 8}) {
		t.Fatal("slot 1's VLAN set is not found")
	}
	if get(patKey{z1: -1, v1: -1, z2: -1, v2: v, mask: 10}) {
		t.Fatal("a key asking slot 0 for VLAN set -1 found a list")
	}
}

// poolStore's chunks double, then stay at poolChunkMax: every id has one
// place, and ids fill each chunk in order.
func TestPoolStoreChunks(t *testing.T) {
	var ps poolStore
	for id := range 20000 { // past chunk 64, where 16<<k overflows
		ps.add(pool{cap: int32(id)})
		k, i := chunkOf(id)
		if i < 0 || i >= chunkLen(k) || len(ps.chunks[k]) != chunkLen(k) {
			t.Fatalf("id %d: chunk %d place %d out of the chunk", id, k, i)
		}
		if id > 0 {
			pk, pi := chunkOf(id - 1)
			if !(k == pk && i == pi+1) && !(k == pk+1 && i == 0 && pi == chunkLen(pk)-1) {
				t.Fatalf("id %d at (%d, %d) does not follow id %d at (%d, %d)", id, k, i, id-1, pk, pi)
			}
		}
	}
	for id := range int32(20000) {
		if got := ps.at(id).cap; got != id {
			t.Fatalf("pool %d holds %d", id, got)
		}
	}
}

// A row's mate names the other member of its two-server logical server,
// the one the member list has; members more than 32,767 rows apart keep
// no mate, and Find reads the member list for them.
func TestMateMatchesMembers(t *testing.T) {
	hw := Hardware{CPUModel: "c", CPUMHz: 2000, MemoryMiB: 32768, Chipset: "cs", NICPorts: 2, HBAPorts: 2}
	var servers []Server
	add := func(id string, st State, part string) {
		s := Server{ID: ServerID(id), Hardware: hw, Switch: "sw", DiskArray: "a", Zone: "z-" + id,
			VLANs: []int{100}, State: st, Partition: PartitionID(part)}
		if st == Active {
			s.Workload, s.Priority = "w", 10
		}
		servers = append(servers, s)
	}
	// Far apart: "a-far" and "z-far" with 40,000 standalone servers
	// between them in ID order.
	add("a-far", Active, "far")
	for i := range 40000 {
		add(fmt.Sprintf("m-%05d", i), Standby, "")
	}
	add("z-far", Active, "far")
	for p := range 30 {
		st := Standby
		if p%3 == 0 {
			st = Active
		}
		add(fmt.Sprintf("p-%02d-0", p), st, fmt.Sprintf("p%02d", p))
		add(fmt.Sprintf("p-%02d-1", p), st, fmt.Sprintf("p%02d", p))
	}
	inv, err := NewInventory(servers)
	if err != nil {
		t.Fatal(err)
	}
	far := 0
	for i := range inv.srvs {
		m, ok := inv.pair(int32(i))
		l := &inv.ls[inv.srvs[i].ls]
		members := inv.lsMembers(inv.srvs[i].ls)
		switch {
		case l.n != 2 && ok:
			t.Fatalf("%s is alone in its logical server but has a mate", inv.srvs[i].id)
		case l.n == 2 && ok && (m[0] != members[0] || m[1] != members[1]):
			t.Fatalf("%s: mate gives %v, the member list %v", inv.srvs[i].id, m, members)
		case l.n == 2 && !ok:
			if members[1]-members[0] <= 32767 {
				t.Fatalf("%s: no mate for members %d rows apart", inv.srvs[i].id, members[1]-members[0])
			}
			far++
		}
	}
	if far != 2 {
		t.Fatalf("%d rows without a mate, want the 2 of partition far", far)
	}
	// Both kinds of partition are found by the exact stage.
	for _, id := range []ServerID{"a-far", "p-00-0", "p-03-1"} {
		p, err := inv.Find(id)
		if err != nil || p.Kind != Exact || len(p.Assignments) != 2 {
			t.Fatalf("Find(%s) = %v, %v; want an exact plan of two nodes", id, p, err)
		}
	}
}

// groupPools and partPools sort as packed words when the entries fit,
// else with a comparison: both give the same plans.
func TestPoolSortsPackedOrNot(t *testing.T) {
	for _, sh := range []shape{
		{spc: 10, classes: 4, rackZones: true, vlanSets: 7, partitions: true},
		{spc: 1, classes: 20, rackZones: false, vlanSets: 50, partitions: true},
		{spc: 10, classes: 4, rackZones: true, vlanSets: 7},
		{spc: 1, classes: 20, rackZones: false, vlanSets: 50},
	} {
		servers, opts, _ := genShape(sh, 4000, 1)
		inv, err := NewInventory(servers, opts...)
		if err != nil {
			t.Fatal(err)
		}
		failed := exactIDs(inv, 200, 3)
		want, _ := inv.FindAll(failed...)
		defer func(w int) { lookWord = w }(lookWord)
		lookWord = 0
		got, _ := inv.FindAll(failed...)
		lookWord = 64
		if !slices.EqualFunc(got, want, func(a, b Plan) bool { return a.String() == b.String() }) {
			t.Fatalf("%v: the plans differ between packed and compared sorts", sh)
		}
	}
}

// partBest reads a large group through its patterns and a small one
// whole: on random inventories with large and small shared zones, both
// choose the same partition for every two-node request and group of its
// signature, with random partitions skipped (as relocations and
// explanations skip the taken ones), so that a pattern list is walked
// past entries that cannot be used.
func TestPartBestPatternsMatchWholeRead(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 40
	}
	rng := rand.New(rand.NewPCG(2026, 12))
	zero, anySw := Policy{}, Policy{AnySwitch: true}
	compared, walked := 0, 0
	for it := range n {
		servers, opts, _ := zoneInstance(rng)
		pats, err := NewInventory(servers, append(slices.Clip(opts), withSmallGroups(-1))...)
		if err != nil {
			t.Fatal(err)
		}
		whole, err := NewInventory(servers, append(slices.Clip(opts), withSmallGroups(1<<30))...)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range servers {
			if s.Partition == "" || (s.State != Active && s.State != Failed) {
				continue
			}
			req, err := pats.failureRequest("find", s.ID)
			if err != nil || len(req.nodes) != 2 {
				continue
			}
			reqW, _ := whole.failureRequest("find", s.ID)
			x := &pats.idx
			for g := range x.pgroups {
				sig := x.pgroups[g].key.sig
				if len(x.sigs[sig].eks) != 2 || x.pgroups[g].pat.g < 0 {
					continue
				}
				// A group of any switch serves a policy that allows it.
				pol := &zero
				if x.sigs[sig].eks[0].sw < 0 {
					pol = &anySw
				}
				assign := pats.slotAssignments(&req, (*[2]ek)(x.sigs[sig].eks), pol)
				if assign == 0 {
					continue
				}
				for range 3 {
					skipped := map[int32]bool{}
					for _, li := range pats.pgroupLS(int32(g)) {
						if rng.IntN(2) == 0 {
							skipped[li] = true
						}
					}
					skip := skipSet(func(li int32) bool { return skipped[li] })
					var op, ow option
					okP := pats.partBest(int32(g), &req, pol, assign, skip, &op)
					okW := whole.partBest(int32(g), &reqW, pol, assign, skip, &ow)
					if okP != okW {
						t.Fatalf("instance %d, %s, group %d: patterns found %v, whole read %v", it, s.ID, g, okP, okW)
					}
					if !okP {
						continue
					}
					lp, lw := pats.srvs[op.repl[0]].ls, whole.srvs[ow.repl[0]].ls
					if lp != lw || op.reconfig != ow.reconfig {
						t.Fatalf("instance %d, %s, group %d: patterns chose %d (%d reconfigurations), whole read %d (%d)",
							it, s.ID, g, lp, op.reconfig, lw, ow.reconfig)
					}
					compared++
					if skipped[pats.pgroupLS(int32(g))[0]] {
						walked++
					}
				}
			}
		}
	}
	if compared < 20*n || walked < 5*n {
		t.Fatalf("only %d comparisons, %d with the group's first partition skipped, over %d instances", compared, walked, n)
	}
}
