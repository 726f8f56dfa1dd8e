package search

import (
	"cmp"
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

// option is one way to serve a request.
type option struct {
	stage uint8
	combo int32   // index into Inventory.combos, -1 if none
	res   []int32 // logical servers consumed (standby ones and victims)
	repl  []int32 // replacement servers, ID order
	pairs []int32 // replacement server per request node (nil: round robin)
	// victims: victim servers; vprio: the highest victim priority;
	// interrupted: victim logical servers that cannot be scaled in.
	victims     int32
	vprio       int
	interrupted int32
	reconfig    int64
	surMHz      int64
	surMem      int64
}

func (o *option) isCompose() bool { return o.combo >= 0 }

// spareOf returns the replacement server that gets node k's disks.
func (o *option) spareOf(k int) int32 {
	if o.pairs != nil {
		return o.pairs[k]
	}
	return o.repl[k%len(o.repl)]
}

// rankCmp orders options of one request: stage, then (preemption) victim
// priority, interrupted victims and victim servers, then
// reconfigurations, MHz surplus, memory surplus, IDs.
func (inv *Inventory) rankCmp(a, b *option) int {
	if c := inv.termCmp(a, b); c != 0 {
		return c
	}
	// Server indexes follow ID order.
	return slices.Compare(a.repl, b.repl)
}

// termCmp is rankCmp without the IDs.
func (inv *Inventory) termCmp(a, b *option) int {
	if c := cmp.Compare(a.stage, b.stage); c != 0 {
		return c
	}
	if c := cmp.Compare(a.vprio, b.vprio); c != 0 {
		return c
	}
	if c := cmp.Compare(a.interrupted, b.interrupted); c != 0 {
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
	return cmp.Compare(a.surMem, b.surMem)
}

// hardOK: the constraints never relaxed.
func (inv *Inventory) hardOK(f *fnode, r *srv, anySwitch bool) bool {
	return inv.hardOKOn(f, ek{r.hw, r.arr, r.sw}, anySwitch)
}

// hardOKOn is hardOK for a server of class e.hw on disk array e.arr and
// switch e.sw.
func (inv *Inventory) hardOKOn(f *fnode, e ek, anySwitch bool) bool {
	if f.arr != e.arr || (!anySwitch && f.sw != e.sw) {
		return false
	}
	if f.hw == e.hw {
		return true
	}
	rh := &inv.hw[e.hw]
	return f.h.chip == rh.chip && f.h.NICPorts == rh.NICPorts && f.h.HBAPorts == rh.HBAPorts
}

// cpuOK: CPU model and MHz under pol.
func (inv *Inventory) cpuOK(f *fnode, r *srv, pol *Policy) bool { return inv.cpuOKOf(f, r.hw, pol) }

// cpuOKOf is cpuOK for a server of class hw.
func (inv *Inventory) cpuOKOf(f *fnode, hw int32, pol *Policy) bool {
	if f.hw == hw {
		return pol.MinCPUMHz == 0 || inv.hw[hw].CPUMHz >= pol.MinCPUMHz
	}
	rh := &inv.hw[hw]
	if !pol.AnyCPUModel && f.h.model != rh.model { // rh's is known: the strings differ
		return false
	}
	if pol.MinCPUMHz == 0 {
		return f.h.CPUMHz == rh.CPUMHz
	}
	return rh.CPUMHz >= pol.MinCPUMHz
}

type modelKey struct {
	hk    hardKey
	model string
}

// candClasses returns the classes of hard key hk (node f's) that may pass
// classCost under pol: those of f's CPU model unless pol allows any model
// (cpuOK rejects the others; with hundreds of classes a model has few).
func (inv *Inventory) candClasses(hk hardKey, f *fnode, pol *Policy) []int32 {
	if pol.AnyCPUModel {
		return inv.idx.hkCls[hk]
	}
	return inv.idx.hkModel[modelKey{hk, f.h.CPUModel}]
}

// pairOK: node f may be served by r under pol with equal node counts
// (memory per node when MinMemoryMiB is 0; totals are checked apart).
func (inv *Inventory) pairOK(f *fnode, r *srv, pol *Policy) bool {
	return inv.pairOKOn(f, ek{r.hw, r.arr, r.sw}, pol, pol.AnySwitch)
}

// pairOKOn is pairOK for a server of class e.hw on disk array e.arr and
// switch e.sw, any switch when anySwitch.
func (inv *Inventory) pairOKOn(f *fnode, e ek, pol *Policy, anySwitch bool) bool {
	if !inv.hardOKOn(f, e, anySwitch) || !inv.cpuOKOf(f, e.hw, pol) {
		return false
	}
	return pol.MinMemoryMiB != 0 || f.h.MemoryMiB == inv.hw[e.hw].MemoryMiB
}

func reqMHz(f *fnode, pol *Policy) int64 {
	if pol.MinCPUMHz > 0 {
		return int64(pol.MinCPUMHz)
	}
	return int64(f.h.CPUMHz)
}

func reconfigOf(f *fnode, r *srv) int64 {
	var n int64
	if f.zone != r.zone {
		n++
	}
	if f.vlans != r.vlans {
		n++
	}
	return n
}

// eval checks whether the replacement repl (server indexes, ID order) can
// serve req under pol and fills o's cost terms and pairing. mismatch allows
// another node count. o.pairs is reused when it has the capacity.
func (inv *Inventory) eval(req *request, repl []int32, pol *Policy, mismatch bool, o *option) bool {
	n, m := len(req.nodes), len(repl)
	var totR int64
	for _, r := range repl {
		totR += int64(inv.hw[inv.srvs[r].hw].MemoryMiB)
	}
	if !memSurplus(totR, pol, o) {
		return false
	}
	o.repl = repl
	if n == m {
		if n == 1 {
			f, r := &req.nodes[0], &inv.srvs[repl[0]]
			if !inv.pairOK(f, r, pol) {
				return false
			}
			o.pairs = nil
			o.reconfig = reconfigOf(f, r)
			o.surMHz = int64(inv.hw[r.hw].CPUMHz) - reqMHz(f, pol)
			return true
		}
		if n == 2 {
			return inv.pairTwo(req, repl[0], repl[1], pol, o)
		}
		return inv.bestPairing(req, repl, pol, o)
	}
	if !mismatch {
		return false
	}
	var totF int64
	for k := range req.nodes {
		f := &req.nodes[k]
		totF += int64(f.h.MemoryMiB)
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
	o.pairs = nil
	o.reconfig, o.surMHz = 0, 0
	req0 := reqMHz(&req.nodes[0], pol)
	for _, ri := range repl {
		o.surMHz += int64(inv.hw[inv.srvs[ri].hw].CPUMHz) - req0
	}
	for k := range req.nodes {
		o.reconfig += reconfigOf(&req.nodes[k], &inv.srvs[repl[k%m]])
	}
	return true
}

// evalFeat is eval, without another node count, of the two-node
// partition of index entry f for a two-node request, from the entry's
// members: the partition's member list is not read. The option's
// replacement servers are the entry's (index memory, never written).
func (inv *Inventory) evalFeat(req *request, f *partFeat, pol *Policy, o *option) bool {
	if len(req.nodes) != 2 {
		return inv.eval(req, inv.lsMembers(f.li), pol, false, o)
	}
	r0, r1 := &inv.srvs[f.m[0]], &inv.srvs[f.m[1]]
	if !memSurplus(int64(inv.hw[r0.hw].MemoryMiB)+int64(inv.hw[r1.hw].MemoryMiB), pol, o) {
		return false
	}
	o.repl = f.m[:]
	return inv.pairTwo(req, f.m[0], f.m[1], pol, o)
}

// memSurplus sets o's memory surplus for a replacement of tot MiB under
// pol (0 without a minimum); false when tot is below the minimum.
func memSurplus(tot int64, pol *Policy, o *option) bool {
	if pol.MinMemoryMiB <= 0 {
		o.surMem = 0
		return true
	}
	if tot < int64(pol.MinMemoryMiB) {
		return false
	}
	o.surMem = tot - int64(pol.MinMemoryMiB)
	return true
}

// pairTwo is bestPairing for two nodes: the straight or the crossed
// pairing, fewer reconfigurations first, then less MHz surplus, then
// straight.
func (inv *Inventory) pairTwo(req *request, m0, m1 int32, pol *Policy, o *option) bool {
	f0, f1 := &req.nodes[0], &req.nodes[1]
	r0, r1 := &inv.srvs[m0], &inv.srvs[m1]
	best := -1
	var bRe, bMHz int64
	for p := range 2 {
		a, b := r0, r1
		if p == 1 {
			a, b = r1, r0
		}
		if !inv.pairOK(f0, a, pol) || !inv.pairOK(f1, b, pol) {
			continue
		}
		re := reconfigOf(f0, a) + reconfigOf(f1, b)
		mhz := int64(inv.hw[a.hw].CPUMHz) - reqMHz(f0, pol) + int64(inv.hw[b.hw].CPUMHz) - reqMHz(f1, pol)
		if best < 0 || re < bRe || (re == bRe && mhz < bMHz) {
			best, bRe, bMHz = p, re, mhz
		}
	}
	if best < 0 {
		return false
	}
	if cap(o.pairs) < 2 {
		o.pairs = make([]int32, 2)
	}
	o.pairs = o.pairs[:2]
	if best == 0 {
		o.pairs[0], o.pairs[1] = m0, m1
	} else {
		o.pairs[0], o.pairs[1] = m1, m0
	}
	o.reconfig, o.surMHz = bRe, bMHz
	return true
}

// pairingBudget bounds the search for the cheapest pairing of a large
// partition; past it the cheapest pairing found so far is used.
const pairingBudget = 1 << 14

// bestPairing finds the one-to-one pairing of request nodes to repl with
// the fewest reconfigurations, then the least MHz surplus; the first such
// pairing in node order wins. Feasibility is decided first by augmenting
// paths (polynomial); the cost search is a depth-first search bounded by
// pairingBudget steps (exhaustive for partitions of up to about 7 nodes),
// after which the best pairing found so far, or the feasible one, is used.
func (inv *Inventory) bestPairing(req *request, repl []int32, pol *Policy, o *option) bool {
	n := len(req.nodes)
	// Feasibility: a perfect matching (Kuhn's augmenting paths).
	ok := make([][]bool, n)
	for k := range req.nodes {
		ok[k] = make([]bool, n)
		any := false
		for j, ri := range repl {
			ok[k][j] = inv.pairOK(&req.nodes[k], &inv.srvs[ri], pol)
			any = any || ok[k][j]
		}
		if !any {
			return false
		}
	}
	owner := make([]int, n) // replacement -> request node, -1 free
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
		f, r := &req.nodes[k], &inv.srvs[repl[j]]
		best[k] = repl[j]
		bestRe += reconfigOf(f, r)
		bestMHz += int64(inv.hw[r.hw].CPUMHz) - reqMHz(f, pol)
	}
	// Cost: depth-first search in node order, never worse than the
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
		f := &req.nodes[k]
		for j, ri := range repl {
			if used[j] || !ok[k][j] {
				continue
			}
			r := &inv.srvs[ri]
			used[j] = true
			cur[k] = ri
			rec(k+1, re+reconfigOf(f, r), mhz+int64(inv.hw[r.hw].CPUMHz)-reqMHz(f, pol))
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

// classCost reports whether a standalone server of class hw (on the
// request's disk array, the switch ignored) can serve a one-node request
// under pol, and its MHz and memory surpluses, the same for every such
// server: eval depends on a candidate's class, disk array and switch
// only, zone and VLANs feed the reconfigurations alone.
func (inv *Inventory) classCost(req *request, hw int32, pol *Policy) (mhz, mem int64, ok bool) {
	f := &req.nodes[0]
	r := srv{hw: hw, arr: f.arr, sw: f.sw, zone: -1, vlans: -1}
	p := *pol
	p.AnySwitch = true
	if !inv.pairOK(f, &r, &p) {
		return 0, 0, false
	}
	mhz = int64(inv.hw[hw].CPUMHz) - reqMHz(f, pol)
	if pol.MinMemoryMiB > 0 {
		mem = int64(inv.hw[hw].MemoryMiB) - int64(pol.MinMemoryMiB)
		if mem < 0 {
			return 0, 0, false
		}
	}
	return mhz, mem, true
}

// victimTerms fills o's preemption terms from its consumed logical servers:
// the Active ones are victims. budget is the scale-in budget per workload
// (nil: none).
func (inv *Inventory) victimTerms(o *option, budget map[int32]int) {
	o.victims, o.vprio, o.interrupted = 0, 0, 0
	first := true
	var seenW []int32
	var seenN []int
	for _, li := range o.res {
		l := &inv.ls[li]
		if l.state != lsActive {
			continue
		}
		m0 := &inv.srvs[inv.members[l.first]]
		o.victims += l.n
		if first || int(m0.prio) > o.vprio {
			o.vprio, first = int(m0.prio), false
		}
		k := slices.Index(seenW, m0.work)
		if k < 0 {
			seenW = append(seenW, m0.work)
			seenN = append(seenN, 0)
			k = len(seenW) - 1
		}
		seenN[k]++
		if seenN[k] > budget[m0.work] {
			o.interrupted++
		}
	}
}
