package search

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// FindAll plans simultaneous failures jointly; result i is the plan for
// failed[i]. No spare, victim or relocation target is used twice. The
// objective (see the package documentation) restores as many failures of
// the highest priority as possible, then of the next priority, and so on;
// then preempts for fewer of them; then has the smallest sums of the
// ranking terms. Members of one partition named together share one plan (the
// results are equal). Unplaced entries have Kind 0, no Assignments and a
// Reason, and the returned error wraps ErrNoSpare; the other entries are
// valid plans. Unknown, duplicate or out-of-service IDs return an error
// wrapping ErrInvalid and no plans.
func (inv *Inventory) FindAll(failed ...ServerID) ([]Plan, error) {
	sol, err := inv.solveAll(failed)
	if err != nil {
		return nil, err
	}
	plans := make([]Plan, len(failed))
	var missing []string
	for i := range failed {
		plans[i] = sol.plans[sol.reqOf[i]]
		if plans[i].Kind == 0 {
			missing = append(missing, fmt.Sprintf("%s (%s)", failed[i], plans[i].Reason))
		}
	}
	if len(missing) > 0 {
		return plans, fmt.Errorf("search: find all: %d of %d unplaced: %s: %w",
			len(missing), len(failed), strings.Join(missing, "; "), ErrNoSpare)
	}
	return plans, nil
}

// solution is FindAll's internal result, also inspected by the tests.
type solution struct {
	reqs   []request // distinct failed logical servers, canonical order
	reqOf  []int     // caller's index -> reqs index
	chosen []*option // per request, nil = unplaced
	plans  []Plan    // per request
}

// termCount is the number of per-option cost terms after the priority
// levels: preempts (0 or 1), stage, victim priority, victim servers,
// reconfigurations, MHz surplus, memory surplus. For one request the order
// is the ranking's, so FindAll of one failure agrees with Find.
const termCount = 7

func terms(o *option) [termCount]int64 {
	var pre, vp int64
	if o.stage == stgPreempt {
		pre, vp = 1, int64(o.vprio)
	}
	return [termCount]int64{pre, int64(o.stage), vp, int64(o.victims), o.reconfig, o.surMHz, o.surMem}
}

// jointCmp orders one request's options by their contribution to the joint
// objective (the terms above, in order), then by ranking.
func (inv *Inventory) jointCmp(a, b *option) int {
	pa, pb := a.stage == stgPreempt, b.stage == stgPreempt
	if pa != pb {
		if pa {
			return 1
		}
		return -1
	}
	// From here the terms are in ranking order (vprio is 0 outside
	// preemption on both sides).
	return inv.rankCmp(a, b)
}

func (inv *Inventory) solveAll(failed []ServerID) (*solution, error) {
	return inv.solve(failed, true)
}

// solve is solveAll; limited=false keeps every option (for the tests that
// check the truncation).
func (inv *Inventory) solve(failed []ServerID, limited bool) (*solution, error) {
	sol := &solution{reqOf: make([]int, len(failed))}
	excluded := make(map[int32]bool, len(failed))
	byLS := make(map[int32]int, len(failed))
	seen := make(map[ServerID]bool, len(failed))
	for _, id := range failed {
		if seen[id] {
			return nil, fmt.Errorf("search: find all: %s named twice: %w", id, ErrInvalid)
		}
		seen[id] = true
		r, err := inv.request(id, excluded)
		if err != nil {
			return nil, err
		}
		if k, ok := byLS[r.ls]; ok {
			if r.self < sol.reqs[k].self {
				sol.reqs[k].self = r.self
			}
			continue
		}
		byLS[r.ls] = len(sol.reqs)
		excluded[r.ls] = true
		sol.reqs = append(sol.reqs, r)
	}
	slices.SortFunc(sol.reqs, func(a, b request) int {
		if c := cmp.Compare(b.prio, a.prio); c != 0 {
			return c
		}
		return cmp.Compare(a.fm[0], b.fm[0])
	})
	for k := range sol.reqs {
		byLS[sol.reqs[k].ls] = k
	}
	for i, id := range failed {
		j, _ := inv.index(id)
		sol.reqOf[i] = byLS[inv.srvs[j].ls]
	}

	n := len(sol.reqs)
	limits := inv.optionLimits(sol.reqs)
	if !limited {
		clear(limits)
	}
	opts := make([][]option, n)
	sc := &scratch{seen: make([]int32, len(inv.ls)), combo: make([]int32, len(inv.combos))}
	for k := range sol.reqs {
		opts[k] = inv.all(&sol.reqs[k], limits[k], sc)
	}

	// Components: requests linked by a shared logical server.
	parent := make([]int, n)
	for k := range parent {
		parent[k] = k
	}
	var find func(int) int
	find = func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	owner := make(map[int32]int)
	for k := range opts {
		for oi := range opts[k] {
			for _, r := range opts[k][oi].res {
				if j, ok := owner[r]; ok {
					if a, b := find(j), find(k); a != b {
						parent[max(a, b)] = min(a, b)
					}
				} else {
					owner[r] = k
				}
			}
		}
	}
	comps := make(map[int][]int)
	var roots []int
	for k := range sol.reqs {
		r := find(k)
		if _, ok := comps[r]; !ok {
			roots = append(roots, r)
		}
		comps[r] = append(comps[r], k)
	}

	sol.chosen = make([]*option, n)
	for _, root := range roots {
		members := comps[root]
		// Truncation: request k keeps its best 1 + (resources the others
		// of its component can take) single-resource options; a worse one
		// is never needed, since one of those is always left free for it.
		maxRes := make([]int, len(members))
		sum := 0
		for mi, k := range members {
			for oi := range opts[k] {
				maxRes[mi] = max(maxRes[mi], len(opts[k][oi].res))
			}
			sum += maxRes[mi]
		}
		for mi, k := range members {
			keep := 1 + sum - maxRes[mi]
			if !limited {
				keep = len(opts[k])
			}
			out := opts[k][:0]
			singles := 0
			for _, o := range opts[k] {
				if len(o.res) == 1 {
					if singles >= keep {
						continue
					}
					singles++
				}
				out = append(out, o)
			}
			opts[k] = out
		}
		solveComponent(sol, members, opts)
	}

	// Plans: consume what was chosen, relocate victims on what is left.
	used := make(map[int32]bool)
	for _, o := range sol.chosen {
		if o != nil {
			for _, r := range o.res {
				used[r] = true
			}
		}
	}
	sol.plans = make([]Plan, n)
	var victims []victimRef
	for k := range sol.reqs {
		o := sol.chosen[k]
		if o == nil {
			continue
		}
		sol.plans[k] = inv.basePlan(&sol.reqs[k], o)
		if o.stage == stgPreempt {
			victims = append(victims, victimRef{k, o.res[0]})
		}
	}
	inv.relocate(sol.plans, victims, used)
	for k := range sol.reqs {
		if sol.chosen[k] == nil {
			sol.plans[k] = Plan{Reason: inv.explain(&sol.reqs[k], used)}
		}
	}
	return sol, nil
}

// optionLimits bounds how many single-resource options each request needs:
// two requests can compete for a logical server only if their members share
// a hard key (disk array, chipset, NIC and HBA ports), since every
// candidate node satisfies the hard constraints with a failed node. In an
// optimal plan the other requests of a group take at most one logical
// server each (a composition: as many as the largest combination) of a
// request's candidates, so one more than that always leaves one of its
// best free, and a worse one is never needed.
func (inv *Inventory) optionLimits(reqs []request) []int {
	maxRes := 1
	for _, ci := range inv.usableCombos {
		maxRes = max(maxRes, len(inv.combos[ci]))
	}
	keyOwner := make(map[hardKey]int)
	parent := make([]int, len(reqs))
	for k := range parent {
		parent[k] = k
	}
	find := func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for k := range reqs {
		for _, m := range reqs[k].fm {
			hk := inv.hardOf(&inv.srvs[m])
			if j, ok := keyOwner[hk]; ok {
				if a, b := find(j), find(k); a != b {
					parent[max(a, b)] = min(a, b)
				}
			} else {
				keyOwner[hk] = k
			}
		}
	}
	// A request composes only when it is a partition or accepts another
	// node count; otherwise each of its options takes one logical server.
	takes := func(r *request) int {
		if len(r.fm) == 1 && !r.pol.AllowPartitionMismatch {
			return 1
		}
		return maxRes
	}
	sum := make(map[int]int)
	for k := range reqs {
		sum[find(k)] += takes(&reqs[k])
	}
	out := make([]int, len(reqs))
	for k := range reqs {
		out[k] = 1 + sum[find(k)] - takes(&reqs[k])
	}
	return out
}

type victimRef struct {
	plan int
	ls   int32
}

// basePlan is a Plan without relocations.
func (inv *Inventory) basePlan(req *request, o *option) Plan {
	p := Plan{Kind: kindOf(o.stage), Compose: o.isCompose()}
	p.Assignments = make([]Assignment, len(req.fm))
	for k, fi := range req.fm {
		p.Assignments[k] = Assignment{Failed: inv.srvs[fi].id, Spare: inv.srvs[o.spareOf(k)].id}
	}
	p.Replacement = make([]ServerID, len(o.repl))
	for k, r := range o.repl {
		p.Replacement[k] = inv.srvs[r].id
	}
	if o.stage == stgPreempt {
		vm := inv.lsMembers(o.res[0])
		p.Preemptions = make([]Preemption, len(vm))
		for k, m := range vm {
			s := &inv.srvs[m]
			p.Preemptions[k] = Preemption{Victim: s.id, Workload: inv.strs[s.work], Priority: s.prio}
		}
	}
	return p
}

// relocate gives victims, higher priority first then by ID, the best
// standby logical server left in used, and marks it used.
func (inv *Inventory) relocate(plans []Plan, victims []victimRef, used map[int32]bool) {
	slices.SortFunc(victims, func(a, b victimRef) int {
		pa := inv.srvs[inv.members[inv.ls[a.ls].first]].prio
		pb := inv.srvs[inv.members[inv.ls[b.ls].first]].prio
		if c := cmp.Compare(pb, pa); c != 0 {
			return c
		}
		return cmp.Compare(inv.ls[a.ls].first, inv.ls[b.ls].first)
	})
	for _, v := range victims {
		reloc, ok := inv.relocation(v.ls, used)
		if !ok {
			continue
		}
		for _, r := range reloc.res {
			used[r] = true
		}
		p := &plans[v.plan]
		for k := range p.Preemptions {
			p.Preemptions[k].RelocateTo = inv.srvs[reloc.spareOf(k)].id
		}
	}
}

// solveComponent chooses at most one option per request of one component,
// resources disjoint, minimising the lexicographic cost vector: unplaced
// requests per priority level (highest first), then the option terms
// summed. Compositions (several resources) are enumerated; the rest is a
// min-cost assignment solved by successive shortest paths.
func solveComponent(sol *solution, members []int, opts [][]option) {
	// Priority levels, highest first.
	var levels []int
	for _, k := range members {
		levels = append(levels, sol.reqs[k].prio)
	}
	slices.Sort(levels)
	levels = slices.Compact(levels)
	slices.Reverse(levels)
	L := len(levels)
	K := L + termCount
	levelOf := make([]int, len(members))
	for mi, k := range members {
		levelOf[mi], _ = slices.BinarySearchFunc(levels, sol.reqs[k].prio, func(a, b int) int { return cmp.Compare(b, a) })
	}
	optCost := func(o *option) vec {
		v := make(vec, K)
		t := terms(o)
		copy(v[L:], t[:])
		return v
	}

	// Composition choices.
	type comp struct {
		mi  int
		o   *option
		res []int32
	}
	var comps []comp
	for mi, k := range members {
		for oi := range opts[k] {
			if len(opts[k][oi].res) > 1 {
				comps = append(comps, comp{mi, &opts[k][oi], opts[k][oi].res})
			}
		}
	}
	var best vec
	bestChoice := make([]*option, len(members))
	choice := make([]*option, len(members))
	blocked := make(map[int32]bool)
	fixed := make([]bool, len(members))
	var rec func(ci int, base vec)
	rec = func(ci int, base vec) {
		if ci == len(comps) {
			total, assign := assignSSP(members, opts, fixed, blocked, levelOf, K, L)
			total.add(base)
			if best == nil || total.less(best) {
				best = total
				for mi := range members {
					if fixed[mi] {
						bestChoice[mi] = choice[mi]
					} else {
						bestChoice[mi] = assign[mi]
					}
				}
			}
			return
		}
		// Taking the composition first: options come best first, so on
		// equal objectives the better-ranked composition wins.
		c := comps[ci]
		free := !fixed[c.mi]
		for _, r := range c.res {
			if blocked[r] {
				free = false
			}
		}
		if free {
			for _, r := range c.res {
				blocked[r] = true
			}
			fixed[c.mi], choice[c.mi] = true, c.o
			nb := slices.Clone(base)
			nb.add(optCost(c.o))
			rec(ci+1, nb)
			fixed[c.mi], choice[c.mi] = false, nil
			for _, r := range c.res {
				delete(blocked, r)
			}
		}
		rec(ci+1, base)
	}
	rec(0, make(vec, K))
	for mi, k := range members {
		sol.chosen[k] = bestChoice[mi]
	}
}

// vec is a cost vector compared lexicographically.
type vec []int64

func (v vec) add(w vec) {
	for i := range v {
		v[i] += w[i]
	}
}

func (v vec) less(w vec) bool { return slices.Compare(v, w) < 0 }

// assignSSP solves the min-cost assignment of the non-fixed members to
// single-resource options (or to "unplaced", which costs one unit at the
// member's priority level), resources in blocked excluded. Members are
// added one at a time along a shortest augmenting path (Bellman-Ford on the
// residual graph, deterministic tie-breaks), which keeps the assignment of
// the members added so far of minimum cost. Cost vectors live in flat
// slabs of K int64 each.
func assignSSP(members []int, opts [][]option, fixed []bool, blocked map[int32]bool,
	levelOf []int, K, L int) (vec, []*option) {
	m := len(members)
	type edge struct {
		right int // index into rights
		o     *option
		cost  vec
	}
	rightOf := make(map[int32]int)
	var rights []int32
	edges := make([][]edge, m)
	nEdges := 0
	for mi, k := range members {
		if fixed[mi] {
			continue
		}
		for oi := range opts[k] {
			if o := &opts[k][oi]; len(o.res) == 1 && !blocked[o.res[0]] {
				nEdges++
			}
		}
	}
	slab := make([]int64, (nEdges+m)*K)
	next := func() vec {
		v := vec(slab[:K:K])
		slab = slab[K:]
		return v
	}
	unplacedCost := make([]vec, m)
	for mi, k := range members {
		if fixed[mi] {
			continue
		}
		unplacedCost[mi] = next()
		unplacedCost[mi][levelOf[mi]] = 1
		for oi := range opts[k] {
			o := &opts[k][oi]
			if len(o.res) != 1 || blocked[o.res[0]] {
				continue
			}
			r, ok := rightOf[o.res[0]]
			if !ok {
				r = len(rights)
				rightOf[o.res[0]] = r
				rights = append(rights, o.res[0])
			}
			c := next()
			t := terms(o)
			copy(c[L:], t[:])
			edges[mi] = append(edges[mi], edge{right: r, o: o, cost: c})
		}
	}
	nR := len(rights)
	matchR := make([]int, nR) // right -> member, -1 free
	for i := range matchR {
		matchR[i] = -1
	}
	matchL := make([]int, m) // member -> edge index; -2 unplaced, -3 not added
	for i := range matchL {
		matchL[i] = -3
	}
	edgeCost := func(mi, e int) vec {
		if e == -2 {
			return unplacedCost[mi]
		}
		return edges[mi][e].cost
	}
	distLs := make([]int64, m*K)
	distRs := make([]int64, nR*K)
	setL := make([]bool, m)
	setR := make([]bool, nR)
	dL := func(i int) vec { return distLs[i*K : (i+1)*K : (i+1)*K] }
	dR := func(i int) vec { return distRs[i*K : (i+1)*K : (i+1)*K] }
	prevR := make([]int, nR) // member that reaches right, via edge prevRE
	prevRE := make([]int, nR)
	prevL := make([]int, m) // right through which member was reached
	inQ := make([]bool, m)
	tmp := make(vec, K)
	tmp2 := make(vec, K)
	bestD := make(vec, K)
	var queue []int
	for mi := 0; mi < m; mi++ {
		if fixed[mi] {
			continue
		}
		clear(setL)
		clear(setR)
		clear(dL(mi))
		setL[mi] = true
		prevL[mi] = -1
		queue = append(queue[:0], mi)
		inQ[mi] = true
		for len(queue) > 0 {
			u := queue[0]
			queue = queue[1:]
			inQ[u] = false
			for e, ed := range edges[u] {
				if matchL[u] == e {
					continue
				}
				copy(tmp, dL(u))
				tmp.add(ed.cost)
				r := ed.right
				if setR[r] && !tmp.less(dR(r)) {
					continue
				}
				copy(dR(r), tmp)
				setR[r] = true
				prevR[r], prevRE[r] = u, e
				w := matchR[r]
				if w < 0 {
					continue
				}
				// Go back along w's matched edge.
				c := edgeCost(w, matchL[w])
				for i := range tmp {
					tmp[i] -= c[i]
				}
				if !setL[w] || tmp.less(dL(w)) {
					copy(dL(w), tmp)
					setL[w] = true
					prevL[w] = r
					if !inQ[w] {
						inQ[w] = true
						queue = append(queue, w)
					}
				}
			}
		}
		// The cheapest end: a free resource, or a reached member (other than
		// one already unplaced) that gives up and becomes unplaced.
		bestEnd, bestIsR, have := -1, false, false
		for r := range nR {
			if matchR[r] < 0 && setR[r] && (!have || dR(r).less(bestD)) {
				copy(bestD, dR(r))
				bestEnd, bestIsR, have = r, true, true
			}
		}
		for w := 0; w < m; w++ {
			if !setL[w] || matchL[w] == -2 {
				continue
			}
			copy(tmp2, dL(w))
			tmp2.add(unplacedCost[w])
			if !have || tmp2.less(bestD) {
				copy(bestD, tmp2)
				bestEnd, bestIsR, have = w, false, true
			}
		}
		// Augment.
		var r int
		if bestIsR {
			r = bestEnd
		} else {
			w := bestEnd
			r = prevL[w]
			matchL[w] = -2
			if r < 0 { // w is the new member itself
				continue
			}
		}
		for {
			u, e := prevR[r], prevRE[r]
			nextR := prevL[u]
			matchR[r] = u
			matchL[u] = e
			if nextR < 0 || u == mi {
				break
			}
			r = nextR
		}
	}
	total := make(vec, K)
	out := make([]*option, m)
	for mi := 0; mi < m; mi++ {
		if fixed[mi] {
			continue
		}
		total.add(edgeCost(mi, matchL[mi]))
		if matchL[mi] >= 0 {
			out[mi] = edges[mi][matchL[mi]].o
		}
	}
	return total, out
}
