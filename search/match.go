package search

import (
	"cmp"
	"math"
	"slices"
)

// stages, in the order Find tries them.
const (
	stgExact uint8 = iota + 1
	stgRecompose
	stgRelaxed
	stgRelaxedCompose
	stgPreempt
)

func kindOf(stage uint8) Kind {
	switch stage {
	case stgExact:
		return Exact
	case stgRecompose:
		return Recomposed
	case stgRelaxed, stgRelaxedCompose:
		return Relaxed
	case stgPreempt:
		return Preempted
	}
	return 0
}

// request is one failed logical server.
type request struct {
	self int32   // the server named by the caller
	ls   int32   // its logical server
	fm   []int32 // failed members, ID order
	pol  Policy
	prio int
	// excluded logical servers (other failures of a FindAll), or nil.
	excluded map[int32]bool
	// firstOnly: only the best option is wanted, so victims of a higher
	// priority than one already found may be skipped.
	firstOnly bool
	// hasCap, vcap: victims of a priority above vcap cannot enter the
	// result any more and are skipped.
	hasCap bool
	vcap   int
	// thrSet, thr: the worst option still kept when the result is full
	// (see all); candidates that rank after it are skipped.
	thrSet bool
	thr    option
}

// pruned reports whether standby servers of a class whose surpluses are
// (mhz, mem) cannot enter the result in stage: even with no
// reconfiguration they rank after the threshold option.
func (r *request) pruned(stage uint8, mhz, mem int64) bool {
	if !r.thrSet {
		return false
	}
	t := &r.thr
	lb := [...]int64{int64(stage), 0, 0, 0, mhz, mem}
	th := [...]int64{int64(t.stage), int64(t.vprio), int64(t.victims), t.reconfig, t.surMHz, t.surMem}
	return slices.Compare(th[:], lb[:]) < 0
}

// capped reports whether victims of priority p are skipped.
func (r *request) capped(p int) bool { return r.hasCap && p > r.vcap }

// option is one way to serve a request.
type option struct {
	stage    uint8
	combo    int32   // index into Inventory.combos, -1 if none
	res      []int32 // logical servers consumed (the victim for stgPreempt)
	repl     []int32 // replacement servers, ID order
	pairs    []int32 // replacement server per failed member (nil: round robin)
	victims  int32   // victim servers (stgPreempt)
	vprio    int
	reconfig int64
	surMHz   int64
	surMem   int64
}

func (o *option) isCompose() bool { return o.combo >= 0 }

// spareOf returns the replacement server that gets failed member k's disks.
func (o *option) spareOf(k int) int32 {
	if o.pairs != nil {
		return o.pairs[k]
	}
	return o.repl[k%len(o.repl)]
}

// rankCmp orders options of one request: stage, then (preemption) victim
// priority and count, reconfigurations, MHz surplus, memory surplus, IDs.
func (inv *Inventory) rankCmp(a, b *option) int {
	if c := cmp.Compare(a.stage, b.stage); c != 0 {
		return c
	}
	if c := cmp.Compare(a.vprio, b.vprio); c != 0 {
		return c
	}
	if c := cmp.Compare(a.victims, b.victims); c != 0 {
		return c
	}
	if c := cmp.Compare(a.reconfig, b.reconfig); c != 0 {
		return c
	}
	if c := cmp.Compare(a.surMHz, b.surMHz); c != 0 {
		return c
	}
	if c := cmp.Compare(a.surMem, b.surMem); c != 0 {
		return c
	}
	// Server indexes follow ID order.
	return slices.Compare(a.repl, b.repl)
}

// hardOK: the constraints never relaxed.
func (inv *Inventory) hardOK(f, r *srv, anySwitch bool) bool {
	if f.arr != r.arr || (!anySwitch && f.sw != r.sw) {
		return false
	}
	if f.hw == r.hw {
		return true
	}
	fh, rh := &inv.hw[f.hw], &inv.hw[r.hw]
	return fh.chip == rh.chip && fh.NICPorts == rh.NICPorts && fh.HBAPorts == rh.HBAPorts
}

// cpuOK: CPU model and MHz under pol.
func (inv *Inventory) cpuOK(f, r *srv, pol *Policy) bool {
	if f.hw == r.hw {
		return pol.MinCPUMHz == 0 || inv.hw[r.hw].CPUMHz >= pol.MinCPUMHz
	}
	fh, rh := &inv.hw[f.hw], &inv.hw[r.hw]
	if !pol.AnyCPUModel && fh.CPUModel != rh.CPUModel {
		return false
	}
	if pol.MinCPUMHz == 0 {
		return fh.CPUMHz == rh.CPUMHz
	}
	return rh.CPUMHz >= pol.MinCPUMHz
}

// pairOK: failed node f may be served by r under pol with equal node
// counts (memory per node when MinMemoryMiB is 0; totals are checked apart).
func (inv *Inventory) pairOK(f, r *srv, pol *Policy) bool {
	if !inv.hardOK(f, r, pol.AnySwitch) || !inv.cpuOK(f, r, pol) {
		return false
	}
	return pol.MinMemoryMiB != 0 || inv.hw[f.hw].MemoryMiB == inv.hw[r.hw].MemoryMiB
}

func (inv *Inventory) reqMHz(f *srv, pol *Policy) int64 {
	if pol.MinCPUMHz > 0 {
		return int64(pol.MinCPUMHz)
	}
	return int64(inv.hw[f.hw].CPUMHz)
}

func (inv *Inventory) reconfigOf(f, r *srv) int64 {
	var n int64
	if f.zone != r.zone {
		n++
	}
	if f.vlans != r.vlans {
		n++
	}
	return n
}

// classOK reports whether servers of r's hardware class (on r's disk
// array) can serve req under pol when the switch is ignored: eval depends on
// a candidate's class, disk array and switch only, zone and VLANs feed the
// costs alone.
func (inv *Inventory) classOK(req *request, r int32, pol *Policy, mismatch bool) bool {
	_, _, ok := inv.classCost(req, r, pol, mismatch)
	return ok
}

// classCost is classOK with the class's MHz and memory surpluses, the same
// for every standalone server of the class.
func (inv *Inventory) classCost(req *request, r int32, pol *Policy, mismatch bool) (mhz, mem int64, ok bool) {
	p := *pol
	p.AnySwitch = true
	var o option
	ok = inv.eval(req, inv.lsMembers(inv.srvs[r].ls), &p, mismatch, &o)
	return o.surMHz, o.surMem, ok
}

// eval checks whether the replacement repl (server indexes, ID order) can
// serve req under pol and fills o's cost terms and pairing. mismatch allows
// another node count.
func (inv *Inventory) eval(req *request, repl []int32, pol *Policy, mismatch bool, o *option) bool {
	n, m := len(req.fm), len(repl)
	var totF, totR int64
	for _, r := range repl {
		totR += int64(inv.hw[inv.srvs[r].hw].MemoryMiB)
	}
	if pol.MinMemoryMiB > 0 {
		if totR < int64(pol.MinMemoryMiB) {
			return false
		}
		o.surMem = totR - int64(pol.MinMemoryMiB)
	} else {
		o.surMem = 0
	}
	o.repl = repl
	o.pairs = nil
	if n == m {
		if n == 1 {
			f, r := &inv.srvs[req.fm[0]], &inv.srvs[repl[0]]
			if !inv.pairOK(f, r, pol) {
				return false
			}
			o.reconfig = inv.reconfigOf(f, r)
			o.surMHz = int64(inv.hw[r.hw].CPUMHz) - inv.reqMHz(f, pol)
			return true
		}
		return inv.bestPairing(req, repl, pol, o)
	}
	if !mismatch {
		return false
	}
	for _, fi := range req.fm {
		f := &inv.srvs[fi]
		totF += int64(inv.hw[f.hw].MemoryMiB)
		for _, ri := range repl {
			r := &inv.srvs[ri]
			if !inv.hardOK(f, r, pol.AnySwitch) || !inv.cpuOK(f, r, pol) {
				return false
			}
		}
	}
	if pol.MinMemoryMiB == 0 && totF != totR {
		return false
	}
	o.reconfig, o.surMHz = 0, 0
	req0 := inv.reqMHz(&inv.srvs[req.fm[0]], pol)
	for _, ri := range repl {
		o.surMHz += int64(inv.hw[inv.srvs[ri].hw].CPUMHz) - req0
	}
	for k, fi := range req.fm {
		o.reconfig += inv.reconfigOf(&inv.srvs[fi], &inv.srvs[repl[k%m]])
	}
	return true
}

// pairingBudget bounds the search for the cheapest pairing of a large
// partition; past it the cheapest pairing found so far is used.
const pairingBudget = 1 << 14

// bestPairing finds the one-to-one pairing of failed members to repl with
// the fewest reconfigurations, then the least MHz surplus; the first such
// pairing in member order wins. Feasibility is decided first by augmenting
// paths (polynomial); the cost search is a depth-first search bounded by
// pairingBudget steps (exhaustive for partitions of up to about 7 nodes),
// after which the best pairing found so far, or the feasible one, is used.
func (inv *Inventory) bestPairing(req *request, repl []int32, pol *Policy, o *option) bool {
	n := len(req.fm)
	// Feasibility: a perfect matching (Kuhn's augmenting paths).
	ok := make([][]bool, n)
	for k, fi := range req.fm {
		ok[k] = make([]bool, n)
		any := false
		for j, ri := range repl {
			ok[k][j] = inv.pairOK(&inv.srvs[fi], &inv.srvs[ri], pol)
			any = any || ok[k][j]
		}
		if !any {
			return false
		}
	}
	owner := make([]int, n) // replacement -> failed member, -1 free
	for j := range owner {
		owner[j] = -1
	}
	var seen []bool
	var augment func(k int) bool
	augment = func(k int) bool {
		for j := range n {
			if ok[k][j] && !seen[j] {
				seen[j] = true
				if owner[j] < 0 || augment(owner[j]) {
					owner[j] = k
					return true
				}
			}
		}
		return false
	}
	for k := range n {
		seen = make([]bool, n)
		if !augment(k) {
			return false
		}
	}
	best := make([]int32, n)
	var bestRe, bestMHz int64
	for j, k := range owner {
		f, r := &inv.srvs[req.fm[k]], &inv.srvs[repl[j]]
		best[k] = repl[j]
		bestRe += inv.reconfigOf(f, r)
		bestMHz += int64(inv.hw[r.hw].CPUMHz) - inv.reqMHz(f, pol)
	}
	// Cost: depth-first search in member order, never worse than the
	// feasible pairing; the first cheapest pairing wins.
	kRe, kMHz := bestRe, bestMHz
	found := false
	dfsBest := make([]int32, n)
	cur := make([]int32, n)
	used := make([]bool, n)
	steps := 0
	var rec func(k int, re, mhz int64)
	rec = func(k int, re, mhz int64) {
		steps++
		if steps > pairingBudget || re > kRe || (re == kRe && mhz > kMHz) {
			return
		}
		if found && (re > bestRe || (re == bestRe && mhz >= bestMHz)) {
			return
		}
		if k == n {
			found, bestRe, bestMHz = true, re, mhz
			copy(dfsBest, cur)
			return
		}
		f := &inv.srvs[req.fm[k]]
		for j, ri := range repl {
			if used[j] || !ok[k][j] {
				continue
			}
			r := &inv.srvs[ri]
			used[j] = true
			cur[k] = ri
			rec(k+1, re+inv.reconfigOf(f, r), mhz+int64(inv.hw[r.hw].CPUMHz)-inv.reqMHz(f, pol))
			used[j] = false
		}
	}
	rec(0, 0, 0)
	if found {
		best = dfsBest
	} else {
		bestRe, bestMHz = kRe, kMHz
	}
	o.pairs, o.reconfig, o.surMHz = best, bestRe, bestMHz
	return true
}

// visit calls fn for every option of req in the given stage. The option
// passed to fn is reused: fn must copy what it keeps.
func (inv *Inventory) visit(req *request, stage uint8, fn func(*option)) {
	var o option
	n := len(req.fm)
	f0 := &inv.srvs[req.fm[0]]
	zero := Policy{}
	pol := &req.pol
	single := func(li int32) []int32 { return inv.lsMembers(li) }
	emit := func(res []int32, repl []int32, p *Policy, mismatch bool, combo int32) {
		o = option{stage: stage, combo: combo}
		if !inv.eval(req, repl, p, mismatch, &o) {
			return
		}
		o.res = res
		if stage == stgPreempt {
			o.victims = int32(len(repl))
			o.vprio = inv.srvs[repl[0]].prio
			if req.firstOnly && (!req.hasCap || o.vprio < req.vcap) {
				req.hasCap, req.vcap = true, o.vprio
			}
		}
		fn(&o)
	}
	switch stage {
	case stgExact:
		if n == 1 {
			for _, ri := range inv.exact[exactKey{f0.hw, f0.arr, f0.sw}] {
				li := inv.srvs[ri].ls
				emit(inv.lsSelf(li), single(li), &zero, false, -1)
			}
			return
		}
		for _, li := range inv.standbyParts[partKey{int32(n), inv.hardOf(f0)}] {
			emit(inv.lsSelf(li), single(li), &zero, false, -1)
		}
	case stgRecompose:
		for _, ci := range inv.usableCombos {
			if c := inv.combos[ci]; len(c) == n {
				emit(inv.comboRes(ci), c, &zero, false, ci)
			}
		}
	case stgRelaxed:
		mm := pol.AllowPartitionMismatch
		if n == 1 || mm {
			for _, b := range inv.standbyHard[inv.hardOf(f0)] {
				mhz, mem, ok := inv.classCost(req, b.srv[0], pol, mm)
				if !ok || req.pruned(stage, mhz, mem) {
					continue
				}
				list := b.srv
				if !pol.AnySwitch {
					list = inv.exact[exactKey{b.hw, f0.arr, f0.sw}]
				}
				for _, ri := range list {
					li := inv.srvs[ri].ls
					emit(inv.lsSelf(li), single(li), pol, mm, -1)
				}
			}
		}
		for _, li := range inv.standbyParts[inv.partKeyFor(n, f0, mm)] {
			emit(inv.lsSelf(li), single(li), pol, mm, -1)
		}
	case stgRelaxedCompose:
		mm := pol.AllowPartitionMismatch
		for _, ci := range inv.usableCombos {
			if c := inv.combos[ci]; len(c) == n || mm {
				emit(inv.comboRes(ci), c, pol, mm, ci)
			}
		}
	case stgPreempt:
		if !pol.Preempt {
			return
		}
		mm := pol.AllowPartitionMismatch
		if n == 1 || mm {
			for _, b := range inv.activeHard[inv.hardOf(f0)] {
				if p0 := inv.srvs[b.srv[0]].prio; p0 >= req.prio || req.capped(p0) || !inv.classOK(req, b.srv[0], pol, mm) {
					continue
				}
				list := b.srv
				if !pol.AnySwitch {
					list = inv.activeSw[exactKey{b.hw, f0.arr, f0.sw}]
				}
				for _, ri := range list {
					r := &inv.srvs[ri]
					if r.prio >= req.prio || req.capped(r.prio) {
						break
					}
					if req.excluded != nil && req.excluded[r.ls] {
						continue
					}
					emit(inv.lsSelf(r.ls), single(r.ls), pol, mm, -1)
				}
			}
		}
		for _, li := range inv.activeParts[inv.partKeyFor(n, f0, mm)] {
			m0 := &inv.srvs[inv.members[inv.ls[li].first]]
			if m0.prio >= req.prio || req.capped(m0.prio) || (req.excluded != nil && req.excluded[li]) {
				continue
			}
			emit(inv.lsSelf(li), single(li), pol, mm, -1)
		}
	}
}

// partKeyFor is the partition index key for a request of n nodes whose
// first failed member is f0: every candidate partition has a member with
// f0's hard key (each failed node pairs with one that satisfies the hard
// constraints).
func (inv *Inventory) partKeyFor(n int, f0 *srv, mismatch bool) partKey {
	if mismatch {
		return partKey{0, inv.hardOf(f0)}
	}
	return partKey{int32(n), inv.hardOf(f0)}
}

// lsSelf returns a one-element slice holding li, without allocating.
func (inv *Inventory) lsSelf(li int32) []int32 {
	return inv.lsIdx[li : li+1 : li+1]
}

func (inv *Inventory) comboRes(ci int32) []int32 {
	c := inv.combos[ci]
	out := make([]int32, len(c))
	for k, s := range c {
		out[k] = inv.srvs[s].ls
	}
	return out
}

// scratch is reusable memory for all: per logical server and combination,
// the stamp of the last call that generated it.
type scratch struct {
	seen, combo []int32
	stamp       int32
	buf         []option
}

// all returns the options of req over all stages, each resource set once
// (in its best stage), ordered by jointCmp. With limit > 0 only the best
// limit single-resource options are kept (compositions are all kept), and
// victims that cannot enter that set are not even evaluated.
func (inv *Inventory) all(req *request, limit int, sc *scratch) []option {
	r := *req
	req = &r
	if sc == nil {
		sc = &scratch{seen: make([]int32, len(inv.ls)), combo: make([]int32, len(inv.combos))}
	}
	sc.stamp++
	stamp := sc.stamp
	out := sc.buf[:0] // built in reusable memory, copied out at the end
	singles := 0
	trim := func() {
		if limit <= 0 || singles <= limit {
			return
		}
		slices.SortFunc(out, func(a, b option) int { return inv.jointCmp(&a, &b) })
		kept := out[:0]
		singles = 0
		var last *option
		for k := range out {
			if !out[k].isCompose() {
				if singles >= limit {
					continue
				}
				singles++
			}
			kept = append(kept, out[k])
			if !out[k].isCompose() {
				last = &kept[len(kept)-1]
			}
		}
		out = kept
		if singles >= limit && last != nil {
			req.thr, req.thrSet = *last, true
			req.hasCap = true
			req.vcap = math.MinInt
			if last.stage == stgPreempt {
				req.vcap = last.vprio
			}
		}
	}
	var gen, genCombo []int32
	for stage := stgExact; stage <= stgPreempt; stage++ {
		if stage == stgPreempt && req.hasCap && req.vcap == math.MinInt {
			break
		}
		gen, genCombo = gen[:0], genCombo[:0]
		inv.visit(req, stage, func(o *option) {
			if o.isCompose() {
				if sc.combo[o.combo] == stamp {
					return
				}
				genCombo = append(genCombo, o.combo)
			} else {
				if sc.seen[o.res[0]] == stamp {
					return
				}
				gen = append(gen, o.res[0])
				singles++
			}
			c := *o
			if o.pairs != nil {
				c.pairs = slices.Clone(o.pairs)
			}
			out = append(out, c)
			if limit > 0 && singles > 2*limit+32 {
				trim()
			}
		})
		for _, g := range gen {
			sc.seen[g] = stamp
		}
		for _, g := range genCombo {
			sc.combo[g] = stamp
		}
		trim()
	}
	slices.SortFunc(out, func(a, b option) int { return inv.jointCmp(&a, &b) })
	sc.buf = out[:0]
	return slices.Clone(out)
}
