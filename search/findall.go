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
	jp, err := inv.findJoint("find all", failed, nil)
	if jp == nil {
		return nil, err
	}
	return jp.Failures, err
}

// FindJoint plans failures and scale requests together: failures first
// (every failure that can be restored is, by priority as FindAll does),
// then the scale requests' logical servers by priority, then the ranking
// terms summed over everything. Nothing is used twice. It returns an error
// wrapping ErrInvalid and no plans for bad input (see FindAll and
// FindScale); an error wrapping ErrNoSpare when a failure or a requested
// logical server is unplaced (its plan has Kind 0 and a Reason), with
// every other plan valid.
func (inv *Inventory) FindJoint(failed []ServerID, scale ...ScaleRequest) (JointPlan, error) {
	jp, err := inv.findJoint("find joint", failed, scale)
	if jp == nil {
		return JointPlan{}, err
	}
	return *jp, err
}

func (inv *Inventory) findJoint(op string, failed []ServerID, scale []ScaleRequest) (*JointPlan, error) {
	sol, err := inv.solveJoint(op, failed, scale, true)
	if err != nil {
		return nil, err
	}
	jp := &JointPlan{Failures: make([]Plan, len(failed)), Scale: make([][]Plan, len(scale))}
	var missing []string
	for i := range failed {
		jp.Failures[i] = sol.plans[sol.reqOf[i]]
		if jp.Failures[i].Kind == 0 {
			missing = append(missing, fmt.Sprintf("%s (%s)", failed[i], jp.Failures[i].Reason))
		}
	}
	for si, units := range sol.scaleOf {
		jp.Scale[si] = make([]Plan, len(units))
		unplaced := 0
		for u, k := range units {
			jp.Scale[si][u] = sol.plans[k]
			if sol.plans[k].Kind == 0 {
				unplaced++
			}
		}
		if unplaced > 0 {
			missing = append(missing, fmt.Sprintf("%s %d of %d (%s)", scaleName(&scale[si]), unplaced, len(units), sol.plans[units[len(units)-1]].Reason))
		}
	}
	if len(missing) > 0 {
		n := len(failed)
		for _, u := range sol.scaleOf {
			n += len(u)
		}
		return jp, fmt.Errorf("search: %s: %d of %d unplaced: %s: %w", op, len(missing), n, strings.Join(missing, "; "), ErrNoSpare)
	}
	return jp, nil
}

// solution is FindJoint's internal result, also inspected by the tests.
type solution struct {
	reqs    []request // distinct requests, canonical order
	reqOf   []int     // caller's failure index -> reqs index
	scaleOf [][]int   // per scale request, its logical servers' reqs indexes
	chosen  []*option // per request, nil = unplaced
	plans   []Plan    // per request
	broken  bool      // the packed level terms left their range: solve unpacked
}

// termCount is the number of per-option cost terms after the priority
// levels: preempts (0 or 1), stage, victim priority, interrupted victims,
// victim servers, reconfigurations, MHz surplus, memory surplus. For one
// request the order is the ranking's, so FindAll of one failure agrees
// with Find.
const termCount = 8

// The places of the terms read or written one by one.
const (
	tStage       = 1
	tInterrupted = 3
	tReconfig    = 5
)

func terms(o *option) [termCount]int64 {
	var pre, vp int64
	if o.stage == stgPreempt {
		pre, vp = 1, int64(o.vprio)
	}
	return [termCount]int64{pre, int64(o.stage), vp, int64(o.interrupted), int64(o.victims), o.reconfig, o.surMHz, o.surMem}
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
	return inv.rankCmp(a, b)
}

// maxLeaves bounds the choices of compositions tried per group of
// competing requests: every subset of compatible compositions up to it,
// then the best found.
const maxLeaves = 64

func (inv *Inventory) solveJoint(op string, failed []ServerID, scale []ScaleRequest, lazy bool) (*solution, error) {
	sol, err := inv.solveJointAs(op, failed, scale, lazy, packLevels)
	if err == nil && sol.broken {
		// Never seen: the flow's invariants keep the packed terms in
		// range (see levelUnit and terms.go). Solved again with a word
		// per level and per option term.
		sol, err = inv.solveJointAs(op, failed, scale, lazy, false)
	}
	return sol, err
}

// packLevels packs the priority levels' terms and the option terms
// (tests turn it off to compare).
var packLevels = true

func (inv *Inventory) solveJointAs(op string, failed []ServerID, scale []ScaleRequest, lazy, pack bool) (*solution, error) {
	sol := &solution{reqOf: make([]int, len(failed)), scaleOf: make([][]int, len(scale)), reqs: make([]request, 0, len(failed))}
	excluded := inv.newLSSet()
	byLS := make(map[int32]int, len(failed))
	// The failures' server indexes (a set of them: lsSet holds any
	// indexes below n) and logical servers: each ID is looked up once.
	seen := &lsSet{n: len(inv.srvs)}
	lsOf := make([]int32, len(failed))
	// Their nodes, two a request in one slab (a larger partition's are
	// allocated on their own).
	slab := make([]fnode, 2*len(failed))
	for i, id := range failed {
		r, err := inv.failureRequestIn(op, id, slab[2*i:2*i:2*i+2])
		if err != nil {
			return nil, err
		}
		if seen.has(r.self) {
			return nil, fmt.Errorf("search: %s: %s named twice: %w", op, id, ErrInvalid)
		}
		seen.add(r.self)
		lsOf[i] = r.ls
		if k, ok := byLS[r.ls]; ok {
			if r.self < sol.reqs[k].self {
				sol.reqs[k].self, sol.reqs[k].ref = r.self, r.ref
			}
			continue
		}
		byLS[r.ls] = len(sol.reqs)
		excluded.add(r.ls)
		sol.reqs = append(sol.reqs, r)
	}
	for si := range scale {
		units, err := inv.scaleRequests(op, si, &scale[si])
		if err != nil {
			return nil, err
		}
		for _, u := range units {
			if u.kind == rkScaleUp {
				if excluded.has(u.ls) {
					return nil, fmt.Errorf("search: %s: %s is failed or scaled up twice: %w", op, scale[si].Like, ErrInvalid)
				}
				excluded.add(u.ls)
			}
		}
		sol.reqs = append(sol.reqs, units...)
	}
	for k := range sol.reqs {
		sol.reqs[k].excluded = excluded
	}
	// Canonical order: failures by priority then first member, then the
	// scale requests' logical servers by priority, request, unit. (No two
	// requests are equal: a failure's logical server is its own, a scale
	// request's unit too. The requests are large: their indexes are
	// sorted, then the requests moved once.)
	perm := make([]int32, len(sol.reqs))
	for k := range perm {
		perm[k] = int32(k)
	}
	slices.SortFunc(perm, func(x, y int32) int {
		a, b := &sol.reqs[x], &sol.reqs[y]
		if c := boolCmp(a.scale >= 0, b.scale >= 0); c != 0 {
			return c
		}
		if c := cmp.Compare(b.prio, a.prio); c != 0 {
			return c
		}
		if a.scale < 0 {
			return cmp.Compare(a.nodes[0].idx, b.nodes[0].idx)
		}
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.scale, b.scale), cmp.Compare(a.unit, b.unit))
	})
	sorted := make([]request, len(sol.reqs))
	for k, x := range perm {
		sorted[k] = sol.reqs[x]
	}
	sol.reqs = sorted
	type lv struct {
		scale bool
		prio  int
	}
	var levels []lv
	for k := range sol.reqs {
		l := lv{sol.reqs[k].scale >= 0, sol.reqs[k].prio}
		if len(levels) == 0 || levels[len(levels)-1] != l {
			levels = append(levels, l)
		}
		sol.reqs[k].level = len(levels) - 1
	}
	for k := range sol.reqs {
		r := &sol.reqs[k]
		if r.scale >= 0 {
			sol.scaleOf[r.scale] = append(sol.scaleOf[r.scale], k)
		} else {
			byLS[r.ls] = k
		}
	}
	for i, li := range lsOf {
		sol.reqOf[i] = byLS[li]
	}
	n := len(sol.reqs)
	sol.chosen = make([]*option, n)
	sol.plans = make([]Plan, n)
	if n == 0 {
		return sol, nil
	}
	if n == 1 {
		// One request: the same search as Find.
		p, o, ok := inv.findOne(&sol.reqs[0])
		sol.plans[0] = p
		if ok {
			sol.chosen[0] = &o
		}
		return sol, nil
	}

	j := &joint{inv: inv, reqs: sol.reqs, levels: len(levels), excluded: excluded,
		relZ: make(map[int32]bool), relV: make(map[int32]bool), clsCache: make(map[classKey][]classCosts), vicCache: make(map[victimKey][]victimGroup)}
	j.packed = pack && j.levels > 1
	j.lw = j.levels
	if j.packed {
		j.lw = (j.levels + levelsPerWord - 1) / levelsPerWord
	}
	if !pack || !j.layTerms(len(sol.reqs), inv.termBounds(sol.reqs)) {
		j.unpackedTerms()
	}
	j.K = j.lw + j.tw
	j.budget = inv.budgets(excluded)
	for k := range sol.reqs {
		for _, f := range sol.reqs[k].nodes {
			if f.zone >= 0 {
				j.relZ[f.zone] = true
			}
			if f.vlans >= 0 {
				j.relV[f.vlans] = true
			}
		}
	}
	j.zcls = make([]int32, len(inv.strs))
	for z := range j.zcls {
		j.zcls[z] = -1
	}
	j.vcls = make([]int32, len(inv.vlanSets))
	for v := range j.vcls {
		j.vcls[v] = -1
	}
	for v := range j.relV {
		j.vcls[v] = v
	}
	// Every request zone is a class: a zone of one server is a class of
	// at most one candidate (none for a failure's own zone; a scale-out
	// template may name another server's zone).
	for z := range j.relZ {
		j.zcls[z] = z
	}

	// Components: requests linked by a hard key (every candidate node
	// satisfies the hard constraints with a request node).
	parent := make([]int, n)
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
	owner := make(map[hardKey]int)
	for k := range sol.reqs {
		for m := range sol.reqs[k].nodes {
			hk := inv.hardOfNode(&sol.reqs[k].nodes[m])
			if o, ok := owner[hk]; ok {
				if a, b := find(o), find(k); a != b {
					parent[max(a, b)] = min(a, b)
				}
			} else {
				owner[hk] = k
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
	var victims []victimRef
	used := inv.newLSSet()
	for _, root := range roots {
		s := j.newSolver(comps[root], lazy)
		s.solve()
		if j.broken {
			sol.broken = true
			return sol, nil
		}
		victims = s.expand(sol, used, victims)
		s.release()
	}
	for k := range sol.reqs {
		if o := sol.chosen[k]; o != nil {
			sol.plans[k] = inv.basePlan(&sol.reqs[k], o)
		}
	}
	inv.settle(sol.plans, victims, used)
	var ex *explainer
	for k := range sol.reqs {
		if sol.chosen[k] == nil {
			if ex == nil {
				ex = inv.newExplainer(used, excluded)
			}
			sol.plans[k] = Plan{Reason: ex.explain(inv, &sol.reqs[k])}
		}
	}
	return sol, nil
}

func (j *joint) newSolver(reqs []int, lazy bool) *solver {
	s := getSolver()
	s.reset(j, reqs)
	j.putTerms(s.d.intr, &[termCount]int64{tInterrupted: 1})
	for ci, k := range reqs {
		r := &j.reqs[k]
		st := &s.st[ci]
		st.req = r
		st.nodeID = s.newNode(nReq, int32(ci))
		st.at = -2
		st.unplV = s.vec()
		w, x := j.levelUnit(r.level)
		st.unplV[w] = x
		st.str = s.newStream(r)
		st.comps = j.inv.composites(r)
		if !lazy {
			for {
				o, ok := st.str.pop()
				if !ok {
					break
				}
				if n := len(st.opts); n > 0 && slices.Compare(o.cost, st.opts[n-1].cost) < 0 {
					// The lazy reading relies on the order (a source's
					// bound above one of its options breaks it).
					panic("search: a request's options came out of order")
				}
				st.opts = append(st.opts, o)
			}
		}
	}
	return s
}

// composites lists the request's options that compose several logical
// servers: allowed combinations of Standby servers (exact, then under the
// policy) and, with Preempt, combinations lent by lower-priority
// workloads, in jointCmp order.
func (inv *Inventory) composites(req *request) []option {
	if len(req.nodes) == 1 && !req.pol.AllowPartitionMismatch {
		return nil // combinations have two or more servers
	}
	var out []option
	seen := make(map[int32]bool)
	zero := Policy{}
	hk := inv.hardOfNode(&req.nodes[0])
	n := len(req.nodes)
	try := func(list []int32, stage uint8, pol *Policy, mm bool) {
		for _, ci := range list {
			c := inv.combos[ci]
			if (len(c) != n && !mm) || seen[ci] || !inv.comboFree(req, ci, nil) {
				continue
			}
			o := option{stage: stage, combo: ci}
			if !inv.eval(req, c, pol, mm, &o) {
				continue
			}
			o.res = inv.comboRes(ci)
			if stage == stgPreempt {
				inv.victimTerms(&o, req.budgets(inv))
			}
			if o.pairs != nil {
				o.pairs = slices.Clone(o.pairs)
			}
			seen[ci] = true
			out = append(out, o)
		}
	}
	try(inv.idx.usableBy[hk], stgRecompose, &zero, false)
	try(inv.idx.usableBy[hk], stgRelaxedCompose, &req.pol, req.pol.AllowPartitionMismatch)
	if req.pol.Preempt {
		try(inv.idx.lendBy[hk], stgPreempt, &req.pol, req.pol.AllowPartitionMismatch)
	}
	slices.SortStableFunc(out, func(a, b option) int { return inv.jointCmp(&a, &b) })
	return out
}

// solve chooses, for the component, the compositions to use (every
// compatible subset up to maxLeaves) and assigns the rest by flow.
func (s *solver) solve() {
	type ref struct{ r, c int }
	var refs []ref
	for r := range s.st {
		for c := range s.st[r].comps {
			refs = append(refs, ref{r, c})
		}
	}
	var best []int64
	var bestFix []ref
	var fix []ref
	leaves := 0
	lastBest := false // the last leaf run is the best one
	blocked := make(map[int32]bool)
	fixed := make([]bool, len(s.st))
	var rec func(i int)
	rec = func(i int) {
		if leaves >= maxLeaves {
			return
		}
		if i == len(refs) {
			leaves++
			fx := make([][2]int, len(fix))
			for k, f := range fix {
				fx[k] = [2]int{f.r, f.c}
			}
			cost := s.leaf(fx)
			lastBest = best == nil || slices.Compare(cost, best) < 0
			if lastBest {
				best, bestFix = cost, slices.Clone(fix)
			}
			return
		}
		f := refs[i]
		o := &s.st[f.r].comps[f.c]
		free := !fixed[f.r]
		for _, li := range o.res {
			free = free && !blocked[li]
		}
		if free {
			for _, li := range o.res {
				blocked[li] = true
			}
			fixed[f.r] = true
			fix = append(fix, f)
			rec(i + 1)
			fix = fix[:len(fix)-1]
			fixed[f.r] = false
			for _, li := range o.res {
				delete(blocked, li)
			}
		}
		rec(i + 1)
	}
	rec(0)
	if lastBest {
		return
	}
	fx := make([][2]int, len(bestFix))
	for k, f := range bestFix {
		fx[k] = [2]int{f.r, f.c}
	}
	s.leaf(fx)
}

// leaf resets the flow, fixes the given compositions (request, composite)
// and adds the other requests; it returns the objective.
func (s *solver) leaf(fix [][2]int) []int64 {
	j := s.j
	// Pools a composition touches must exist before the reset.
	for _, f := range fix {
		for _, li := range s.st[f[0]].comps[f[1]].res {
			s.poolOfLS(li)
		}
	}
	for k := range int32(s.pools.n) {
		p := s.pools.at(k)
		p.cap, p.taken = p.cap0, p.taken0
		p.holders, p.viaB, p.dead = p.holders[:0], 0, false
	}
	s.levelMax = make([][]int64, j.levels)
	for k := range s.bud {
		b := &s.bud[k]
		b.used, b.pools = 0, b.pools[:0]
		b.cap = int32(j.budget[b.work])
	}
	s.delta = s.delta[:0]
	for k := range s.nodes {
		s.nodes[k].dOff = -1
	}
	// The objective counts the unplaced requests per level: one term each.
	cost := make([]int64, j.levels+termCount)
	for k := range s.st {
		s.st[k].at = -2
	}
	for _, f := range fix {
		st := &s.st[f[0]]
		st.at, st.fixed = -3, f[1]
		o := &st.comps[f[1]]
		for _, li := range o.res {
			if pi := s.poolOfLS(li); pi >= 0 {
				p := s.pools.at(pi)
				p.cap--
				p.taken = append(slices.Clip(p.taken), li)
			}
		}
		c := *o
		c.interrupted = s.takeTokens(o)
		t := terms(&c)
		for i := range t {
			cost[j.levels+i] += t[i]
		}
	}
	s.resetHubs()
	for k := range s.st {
		if s.st[k].at == -2 {
			s.augment(k)
		}
	}
	for k := range s.st {
		st := &s.st[k]
		switch {
		case st.at == -1:
			cost[st.req.level]++
		case st.at >= 0:
			for i, v := range j.termsOf(st.opts[st.at].cost) {
				cost[j.levels+i] += v
			}
		}
	}
	for k := range int32(s.pools.n) {
		p := s.pools.at(k)
		if p.budget >= 0 {
			cost[j.levels+tInterrupted] += int64(len(p.holders)) - int64(p.viaB)
		}
	}
	return cost
}

// takeTokens spends the scale-in budget on a fixed composition's victims,
// in order; it returns the victims left interrupted.
func (s *solver) takeTokens(o *option) int32 {
	inv := s.j.inv
	var n int32
	for _, li := range o.res {
		if inv.ls[li].state != lsActive {
			continue
		}
		w := inv.srvs[inv.members[inv.ls[li].first]].work
		if bi, ok := s.bnode[w]; ok && s.bud[bi].cap > 0 {
			s.bud[bi].cap--
			continue
		}
		n++
	}
	return n
}

// poolOfLS returns the pool holding logical server li (building it), or -1.
func (s *solver) poolOfLS(li int32) int32 {
	inv := s.j.inv
	switch inv.ls[li].n {
	case 1:
		return s.poolOfServer(inv.members[inv.ls[li].first])
	case 2:
		g := inv.idx.lsPG[0][li]
		if g < 0 {
			return -1
		}
		eks := inv.idx.sigs[inv.idx.pgroups[g].key.sig].eks
		if id, ok := s.partPools(g).find(s, s.partProfile(li, eks)); ok {
			return id
		}
		return -1
	}
	return s.onePool(li)
}

// expand turns the component's flow into options on concrete logical
// servers: in each pool, lower IDs to requests in canonical order; the
// first units through the budget are the ones scaled in.
func (s *solver) expand(sol *solution, used *lsSet, victims []victimRef) []victimRef {
	inv := s.j.inv
	type unit struct {
		li      int32
		scaleIn bool
	}
	got := make(map[int]unit)
	for pi := range int32(s.pools.n) {
		p := s.pools.at(pi)
		if len(p.holders) == 0 {
			continue
		}
		hs := slices.Clone(p.holders)
		slices.Sort(hs)
		lss := s.members(p, len(hs), used)
		for k, h := range hs {
			if k >= len(lss) {
				panic("search: a pool has fewer logical servers than units")
			}
			got[int(h)] = unit{lss[k], p.budget >= 0 && int32(k) < p.viaB}
			used.add(lss[k])
		}
	}
	tokens := make(map[int32]int32)
	for bi := range s.bud {
		tokens[s.bud[bi].work] = int32(s.j.budget[s.bud[bi].work]) - s.bud[bi].used
	}
	for ci, k := range s.reqs {
		st := &s.st[ci]
		req := &sol.reqs[k]
		switch {
		case st.at == -3:
			o := st.comps[st.fixed]
			o.interrupted = 0
			for _, li := range o.res {
				used.add(li)
				if inv.ls[li].state != lsActive {
					continue
				}
				w := inv.srvs[inv.members[inv.ls[li].first]].work
				in := tokens[w] > 0
				if in {
					tokens[w]--
				} else {
					o.interrupted++
				}
				victims = append(victims, victimRef{plan: k, ls: li, scaleIn: in})
			}
			sol.chosen[k] = &o
		case st.at >= 0:
			u := got[ci]
			so := &st.opts[st.at]
			ct := s.j.termsOf(so.cost)
			stage := uint8(ct[tStage])
			pol, mm := &req.pol, req.pol.AllowPartitionMismatch
			if stage == stgExact {
				pol, mm = &Policy{}, false
			}
			o := option{stage: stage, combo: -1}
			if !inv.eval(req, inv.lsMembers(u.li), pol, mm, &o) {
				panic("search: a pool's logical server does not fit")
			}
			if o.reconfig != ct[tReconfig] {
				panic("search: a pool's logical server costs other reconfigurations than its option")
			}
			if o.pairs != nil {
				o.pairs = slices.Clone(o.pairs)
			}
			o.res = inv.lsSelf(u.li)
			if stage == stgPreempt {
				p := s.pools.at(st.pool)
				o.vprio, o.victims = p.prio, inv.ls[u.li].n
				if !u.scaleIn {
					o.interrupted = 1
				}
				victims = append(victims, victimRef{plan: k, ls: u.li, scaleIn: u.scaleIn})
			}
			sol.chosen[k] = &o
		}
	}
	return victims
}

func scaleName(r *ScaleRequest) string {
	if r.Like != "" {
		return fmt.Sprintf("%s like %s", r.Kind, r.Like)
	}
	return fmt.Sprintf("%s of %q", r.Kind, r.Workload)
}
