package search

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

var (
	allStages      = []uint8{stgExact, stgRecompose, stgRelaxed, stgRelaxedCompose, stgPreempt}
	relocateStages = []uint8{stgExact, stgRelaxed}
)

// Find plans the replacement of the logical server that failed belongs to.
// failed must be Active or Failed. It returns the best candidate of the
// first stage that has one (see the package documentation), an error
// wrapping ErrNoSpare with a counted explanation when there is none, or an
// error wrapping ErrInvalid for an unknown server or one that is not in
// service.
func (inv *Inventory) Find(failed ServerID) (Plan, error) {
	var buf [2]fnode // a standalone server or a two-node partition: no allocation
	req, err := inv.failureRequestIn("find", failed, buf[:0])
	if err != nil {
		return Plan{}, err
	}
	p, _, ok := inv.findOne(&req)
	if !ok {
		return p, fmt.Errorf("search: find %s: %s: %w", failed, p.Reason, ErrNoSpare)
	}
	return p, nil
}

// findOne serves one request alone: the best option of the first stage
// that has one, its victims scaled in, relocated or stopped.
func (inv *Inventory) findOne(req *request) (Plan, option, bool) {
	o, ok := inv.bestIn(req, allStages, nil)
	if !ok {
		return Plan{Reason: inv.explain(req, nil)}, o, false
	}
	plans := []Plan{inv.basePlan(req, &o)}
	if o.stage != stgPreempt {
		return plans[0], o, true
	}
	used := inv.newLSSet()
	for _, r := range o.res {
		used.add(r)
	}
	if req.ls >= 0 {
		used.add(req.ls)
	}
	budget := make(map[int32]int)
	for w, b := range req.budgets(inv) {
		budget[w] = b
	}
	var victims []victimRef
	for _, li := range o.res {
		if inv.ls[li].state != lsActive {
			continue
		}
		w := inv.srvs[inv.members[inv.ls[li].first]].work
		in := budget[w] > 0
		if in {
			budget[w]--
		}
		victims = append(victims, victimRef{plan: 0, ls: li, scaleIn: in})
	}
	inv.settle(plans, victims, used)
	return plans[0], o, true
}

// relocation finds a standby logical server of the victim's node count that
// the victim's own policy accepts (never a composition, never preemption).
func (inv *Inventory) relocation(victim int32, used *lsSet) (option, bool) {
	m := inv.lsMembers(victim)
	pol := inv.policies[inv.ls[victim].pol]
	pol.AllowPartitionMismatch, pol.Preempt = false, false
	req := request{self: m[0], ls: victim, pol: pol, prio: int(inv.srvs[m[0]].prio), scale: -1}
	req.nodes = make([]fnode, len(m))
	for k, mi := range m {
		req.nodes[k] = inv.nodeOf(mi)
	}
	return inv.bestIn(&req, relocateStages, used)
}

// relocKey is what decides whether a victim can be relocated, given the
// logical servers already used: its policy, and each member's hardware
// class, disk array and switch (relocation's stages read no other
// field of a member to decide whether a candidate fits; the members'
// zones and VLAN sets only rank the candidates).
type relocKey struct {
	pol int32
	n   int32
	m   [maxRelocKey]struct{ hw, arr, sw int32 }
}

// maxRelocKey is the most members a relocKey holds; larger victims are
// searched every time.
const maxRelocKey = 4

// relocMemo turns the memo of victims without a relocation on (tests
// compare the plans without it).
var relocMemo = true

// relocKeyOf returns victim li's relocKey; false when it has too many
// members for one.
func (inv *Inventory) relocKeyOf(li int32) (relocKey, bool) {
	m := inv.lsMembers(li)
	k := relocKey{pol: inv.ls[li].pol, n: int32(len(m))}
	if len(m) > maxRelocKey {
		return k, false
	}
	for i, mi := range m {
		s := &inv.srvs[mi]
		k.m[i].hw, k.m[i].arr, k.m[i].sw = s.hw, s.arr, s.sw
	}
	return k, true
}

type victimRef struct {
	plan    int
	ls      int32
	scaleIn bool
}

// smallPlan holds the lists of a plan of up to two nodes.
type smallPlan struct {
	a [2]Assignment
	r [2]ServerID
}

// basePlan is a Plan without relocations: the victims are stopped.
func (inv *Inventory) basePlan(req *request, o *option) Plan {
	p := Plan{Kind: kindOf(o.stage), Compose: o.isCompose()}
	switch req.kind {
	case rkScaleOut:
		p.Scale = ScaleOut
	case rkScaleUp:
		p.Scale = ScaleUp
	}
	if req.kind != rkScaleOut && len(req.nodes) <= 2 && len(o.repl) <= 2 {
		// The plan of a server or a two-node partition: both lists in
		// one allocation (each capped, so appending to one copies it).
		b := new(smallPlan)
		p.Assignments = b.a[:len(req.nodes):len(req.nodes)]
		p.Replacement = b.r[:len(o.repl):len(o.repl)]
	} else {
		if req.kind != rkScaleOut {
			p.Assignments = make([]Assignment, len(req.nodes))
		}
		p.Replacement = make([]ServerID, len(o.repl))
	}
	if req.kind != rkScaleOut {
		for k := range req.nodes {
			p.Assignments[k] = Assignment{Failed: req.nodes[k].id, Spare: inv.srvs[o.spareOf(k)].id}
		}
	}
	for k, r := range o.repl {
		p.Replacement[k] = inv.srvs[r].id
	}
	if o.stage == stgPreempt {
		for _, li := range o.res {
			if inv.ls[li].state != lsActive {
				continue
			}
			for _, m := range inv.lsMembers(li) {
				s := &inv.srvs[m]
				p.Preemptions = append(p.Preemptions, Preemption{Victim: s.id, Workload: inv.strs[s.work], Priority: int(s.prio)})
			}
		}
		slices.SortFunc(p.Preemptions, func(a, b Preemption) int { return cmp.Compare(a.Victim, b.Victim) })
	}
	return p
}

// settle marks the victims that are scaled in, then gives the others,
// higher priority first then by ID, the best standby logical server left
// in used (marking it used); the rest are stopped.
func (inv *Inventory) settle(plans []Plan, victims []victimRef, used *lsSet) {
	mark := func(v victimRef, f func(k int, p *Preemption)) {
		p := &plans[v.plan]
		for k, m := range inv.lsMembers(v.ls) {
			id := inv.srvs[m].id
			for j := range p.Preemptions {
				if p.Preemptions[j].Victim == id {
					f(k, &p.Preemptions[j])
				}
			}
		}
	}
	for _, v := range victims {
		if v.scaleIn {
			mark(v, func(_ int, p *Preemption) { p.ScaleIn = true })
		}
	}
	slices.SortFunc(victims, func(a, b victimRef) int {
		pa := inv.srvs[inv.members[inv.ls[a.ls].first]].prio
		pb := inv.srvs[inv.members[inv.ls[b.ls].first]].prio
		if c := cmp.Compare(pb, pa); c != 0 {
			return c
		}
		return cmp.Compare(inv.ls[a.ls].first, inv.ls[b.ls].first)
	})
	// A relocation that found nothing finds nothing for a later victim
	// of the same kind (relocKey) either: used only grows, and zones and
	// VLAN sets only rank the candidates. (A round short of spares
	// stops hundreds of victims of a few kinds, and searched each kind's
	// candidates once per victim: 0.5% of a FindAll's instructions on
	// S1/C500/zone-rack/V7/2-node, 0.9% on S1/C500/zone-rack/V50/standalone,
	// more where victims outnumber their kinds further.)
	var none map[relocKey]bool
	for _, v := range victims {
		if v.scaleIn {
			continue
		}
		k, keyed := inv.relocKeyOf(v.ls)
		if keyed && none[k] && relocMemo {
			continue
		}
		reloc, ok := inv.relocation(v.ls, used)
		if !ok {
			if keyed {
				if none == nil {
					none = make(map[relocKey]bool)
				}
				none[k] = true
			}
			continue
		}
		for _, r := range reloc.res {
			used.add(r)
		}
		mark(v, func(k int, p *Preemption) { p.RelocateTo = inv.srvs[reloc.spareOf(k)].id })
	}
}

// reason is one explanation of why a server could not serve a request.
type reason struct {
	kind rkind
	a, b int
}

type rkind uint8

const (
	rNotStandby rkind = iota
	rNotStandbyOrActive
	rOtherArray
	rOtherChipset
	rOtherNIC
	rOtherHBA
	rOtherCPUModel
	rMHzBelow
	rMHzOther
	rMemBelow
	rMemOther
	rOtherSwitch
	rPriority
	rTakenFailure
	rTakenRequest
	rFailedToo
	rPartitionNot // a: state
	rNodeCount
	rNotInCombo
	rNoFit
)

func (r reason) String() string {
	switch r.kind {
	case rNotStandby:
		return "not standby"
	case rNotStandbyOrActive:
		return "not standby or active"
	case rOtherArray:
		return "other disk array"
	case rOtherChipset:
		return "other chipset"
	case rOtherNIC:
		return "other NIC ports"
	case rOtherHBA:
		return "other HBA ports"
	case rOtherCPUModel:
		return "other CPU model"
	case rMHzBelow:
		return fmt.Sprintf("CPU MHz %d < %d", r.a, r.b)
	case rMHzOther:
		return fmt.Sprintf("CPU MHz %d != %d", r.a, r.b)
	case rMemBelow:
		return fmt.Sprintf("memory %d < %d", r.a, r.b)
	case rMemOther:
		return fmt.Sprintf("memory %d != %d", r.a, r.b)
	case rOtherSwitch:
		return "other switch"
	case rPriority:
		return fmt.Sprintf("priority %d >= %d", r.a, r.b)
	case rTakenFailure:
		return "taken by another failure"
	case rTakenRequest:
		return "taken by another request"
	case rFailedToo:
		return "failed too"
	case rPartitionNot:
		return "partition not all " + string(stateNames[r.a])
	case rNodeCount:
		return fmt.Sprintf("node count %d != %d", r.a, r.b)
	case rNotInCombo:
		return "not in an allowed combination"
	}
	return "no fit as a logical server"
}

// explain counts, for every server outside the request's logical server,
// the first reason it could not serve req, in the order: state, disk array,
// chipset, NIC ports, HBA ports, CPU model, CPU MHz, memory, switch,
// priority, availability, logical-server fit. Attributes are compared with
// the request's reference node under its policy (the most permissive
// stage). Servers of a class that fails are counted without being read.
func (inv *Inventory) explain(req *request, taken *lsSet) string {
	return inv.explainWith(req, taken, nil)
}

// explainer shares explain's work between the unplaced requests of one
// planning round: the servers whose reasons differ from their group's,
// per hard key, and the explanations of requests that are alike.
type explainer struct {
	taken   *lsSet
	special map[hardKey][]int32
	// codes: per special server, its members' class and whether they
	// are grouped (2*hw+grouped), when the members explain can count
	// have one; -1 when they differ, -2 when there are none. explain
	// skips the servers of a class the request rejects without reading
	// their rows (a round's specials are the thousands it took or
	// excluded; a request of one CPU model rejects most classes).
	codes map[hardKey][]int32
	cache map[explainKey]string
	// others: per hard key, the combinations' logical servers (see
	// comboLS) not among its specials
	others map[hardKey][]int32
}

type explainKey struct {
	hw, arr, sw int32
	h           Hardware
	n           int
	pol         Policy
	prio        int
	kind        reqKind
}

func (inv *Inventory) newExplainer(taken, excluded *lsSet) *explainer {
	e := &explainer{taken: taken, special: make(map[hardKey][]int32), codes: make(map[hardKey][]int32), cache: make(map[explainKey]string),
		others: make(map[hardKey][]int32)}
	add := func(li int32) {
		seen := hardKey{-2, -2, -2, -2}
		for _, m := range inv.lsMembers(li) {
			s := &inv.srvs[m]
			if s.state != stStandby && s.state != stActive {
				continue
			}
			if hk := inv.hardOf(s); hk != seen {
				e.special[hk] = append(e.special[hk], li)
				seen = hk
			}
		}
	}
	for li := range taken.all() {
		add(li)
	}
	for li := range excluded.all() {
		add(li)
	}
	for hk, list := range e.special {
		slices.Sort(list)
		list = slices.Compact(list)
		e.special[hk] = list
		codes := make([]int32, len(list))
		for k, li := range list {
			codes[k] = -2
			if inv.ls[li].state == lsOther {
				continue
			}
			for _, m := range inv.lsMembers(li) {
				s := &inv.srvs[m]
				if inv.hardOf(s) != hk {
					continue
				}
				c := 2 * s.hw
				if inv.grouped(s) {
					c++
				}
				switch codes[k] {
				case -2:
					codes[k] = c
				case c:
				default:
					codes[k] = -1
				}
			}
		}
		e.codes[hk] = codes
	}
	return e
}

// explain is inv.explain for a request of the round, cached when the
// request's own nodes are all Failed (alike requests then get alike
// counts).
func (e *explainer) explain(inv *Inventory, req *request) string {
	cacheable := true
	for k := range req.nodes {
		if i := req.nodes[k].idx; i >= 0 && inv.srvs[i].state != stFailed {
			cacheable = false
		}
	}
	f := &req.nodes[req.ref]
	key := explainKey{hw: f.hw, arr: f.arr, sw: f.sw, n: len(req.nodes), pol: req.pol, prio: req.prio, kind: req.kind}
	if f.hw < 0 {
		key.h = f.h.Hardware
	}
	if cacheable {
		if r, ok := e.cache[key]; ok {
			return r
		}
	}
	r := inv.explainWith(req, e.taken, e)
	if cacheable {
		e.cache[key] = r
	}
	return r
}

func (inv *Inventory) explainWith(req *request, taken *lsSet, ex *explainer) string {
	x := &inv.idx
	f := &req.nodes[req.ref]
	pol := &req.pol
	hk := inv.hardOfNode(f)
	reasons := &reasonBag{}
	own := 0
	for k := range req.nodes {
		if req.nodes[k].idx >= 0 {
			own++
		}
	}
	total := len(inv.srvs) - own
	inGroups := 0
	groups := []uint8{0}
	if pol.Preempt {
		groups = append(groups, 1)
	}
	for _, g := range groups {
		gt := inv.nStandby
		if g == 1 {
			gt = inv.nActive
		}
		cArr := int(inv.counts[countKey{g, hk.arr, -1, -1, -1}])
		cChip := int(inv.counts[countKey{g, hk.arr, hk.chip, -1, -1}])
		cNic := int(inv.counts[countKey{g, hk.arr, hk.chip, hk.nic, -1}])
		cHba := int(inv.counts[countKey{g, hk.arr, hk.chip, hk.nic, hk.hba}])
		reasons.add(reason{kind: rOtherArray}, gt-cArr)
		reasons.add(reason{kind: rOtherChipset}, cArr-cChip)
		reasons.add(reason{kind: rOtherNIC}, cChip-cNic)
		reasons.add(reason{kind: rOtherHBA}, cNic-cHba)
		inGroups += gt
	}
	counted := func(s *srv) bool { return s.state == stStandby || (pol.Preempt && s.state == stActive) }
	for k := range req.nodes {
		if req.nodes[k].idx < 0 {
			continue
		}
		m := &inv.srvs[req.nodes[k].idx]
		if !counted(m) {
			continue
		}
		inGroups--
		if r, ok := hardReason(inv.hardOf(m), hk); ok {
			reasons.add(r, -1)
		}
	}
	notStandby := reason{kind: rNotStandby}
	if pol.Preempt {
		notStandby.kind = rNotStandbyOrActive
	}
	reasons.set(notStandby, total-inGroups)
	// Servers of a class that passes are counted per group (every member
	// of a group has the same reason), then the few that differ are
	// moved: taken or excluded ones, members of combinations, of mixed
	// partitions, and the request's own nodes.
	isOwn := func(i int32) bool { return req.isMember(i) }
	// rejects memoizes whether classReason rejects class hw (grouped or
	// not): an explanation asks it of the same classes many times.
	memo := make([]int8, 2*len(inv.hw)) // 1: rejected, 2: passes
	rejects := func(hw int32, grouped bool) bool {
		c := 2 * hw
		if grouped {
			c++
		}
		if memo[c] == 0 {
			memo[c] = 2
			if _, r := inv.classReason(req, hw, grouped); r {
				memo[c] = 1
			}
		}
		return memo[c] == 1
	}
	ecls, sigs := x.ecls[hk], x.hkSigHW[hk]
	if !pol.AnyCPUModel {
		// Every class of another CPU model is rejected for it: their
		// servers are counted at once (less the request's own), and
		// only the model's classes and signatures are read.
		mk := modelKey{hk, f.h.CPUModel}
		n := 0
		for gi, st := range [2]uint8{stStandby, stActive} {
			if st == stStandby || pol.Preempt {
				n += int(x.eclsN[hk][gi] - x.eclsModelN[mk][gi])
			}
		}
		for k := range req.nodes {
			if i := req.nodes[k].idx; i >= 0 {
				if s := &inv.srvs[i]; counted(s) && inv.hardOf(s) == hk && inv.hw[s.hw].CPUModel != f.h.CPUModel {
					n--
				}
			}
		}
		reasons.add(reason{kind: rOtherCPUModel}, n)
		ecls, sigs = x.eclsModel[mk], x.hkSigHWModel[mk]
	}
	for _, e := range ecls {
		if e.st == stActive && !pol.Preempt {
			continue
		}
		members := x.emem[e.s.off : e.s.off+e.s.n]
		if cr, ok := inv.classReason(req, e.hw, e.part); ok {
			n := len(members)
			for k := range req.nodes {
				if i := req.nodes[k].idx; i >= 0 {
					if s := &inv.srvs[i]; s.hw == e.hw && s.state == e.st && inv.grouped(s) == e.part && inv.hardOf(s) == hk {
						n--
					}
				}
			}
			reasons.add(cr, n)
			continue
		}
		if !e.part {
			for _, g := range inv.classGroups(e.hw, hk.arr, -2, e.st) {
				gr := &x.groups[g]
				rep := &inv.srvs[x.gmem[gr.all.off]]
				reasons.add(inv.groupReason(req, rep), int(gr.all.n))
			}
		}
	}
	// Mixed partitions are in no group: each member on its own.
	for _, i := range x.mixed[hk] {
		s := &inv.srvs[i]
		if isOwn(i) || (s.state == stActive && !pol.Preempt) {
			continue
		}
		if !rejects(s.hw, true) {
			reasons.add(inv.attrReason(req, s, taken), 1)
		}
	}
	// Partition groups: per member of a class that passes.
	for _, sh := range sigs {
		// Members in the hard key whose class passes.
		slots := 0
		for _, hw := range x.sigHWs[sh.s.off : sh.s.off+sh.s.n] {
			if !rejects(hw, true) {
				slots++
			}
		}
		if slots == 0 {
			continue
		}
		sig := sh.sig
		si := &x.sigs[sig]
		if pol.MinMemoryMiB > 0 && si.mem < int64(pol.MinMemoryMiB) {
			// The whole signature: memory, counted without reading it.
			n := 0
			for _, st := range []uint8{stStandby, stActive} {
				if st == stActive && !pol.Preempt {
					continue
				}
				for _, g := range inv.sigGroups(sig, st) {
					n += int(x.pgroups[g].all.n)
				}
			}
			reasons.add(reason{rMemBelow, int(si.mem), pol.MinMemoryMiB}, n*slots)
			continue
		}
		for _, st := range []uint8{stStandby, stActive} {
			if st == stActive && !pol.Preempt {
				continue
			}
			for _, g := range inv.sigGroups(sig, st) {
				for _, m := range inv.lsMembers(inv.pgroupLS(g)[0]) {
					s := &inv.srvs[m]
					if inv.hardOf(s) != hk {
						continue
					}
					if !rejects(s.hw, true) {
						reasons.add(inv.groupReason(req, s), int(x.pgroups[g].all.n))
					}
				}
			}
		}
	}
	// The servers whose reason is not their group's.
	fix := func(li int32) {
		for _, i := range inv.lsMembers(li) {
			s := &inv.srvs[i]
			if !counted(s) || inv.hardOf(s) != hk || inv.ls[li].state == lsOther {
				continue
			}
			if rejects(s.hw, inv.grouped(s)) {
				continue
			}
			g := inv.groupReason(req, s)
			if isOwn(i) {
				reasons.add(g, -1)
				continue
			}
			if r := inv.attrReason(req, s, taken); r != g {
				reasons.add(g, -1)
				reasons.add(r, 1)
			}
		}
	}
	if ex != nil {
		// The round's specials, skipping the classes the request
		// rejects (see explainer.codes); then the combinations' servers
		// that are not among them.
		list, codes := ex.special[hk], ex.codes[hk]
		for k, li := range list {
			switch c := codes[k]; {
			case c == -2:
				continue
			case c >= 0:
				if rejects(c/2, c%2 == 1) {
					continue
				}
			}
			fix(li)
		}
		// The combinations' servers the round's specials do not hold
		// are the same for every request of the hard key.
		others, ok := ex.others[hk]
		if !ok {
			others = inv.comboLS(hk, nil)
			others = slices.DeleteFunc(others, func(li int32) bool {
				_, found := slices.BinarySearch(ex.special[hk], li)
				return found
			})
			ex.others[hk] = others
		}
		// (The request's own logical server is excluded, so among the
		// specials wherever a member of it counts.)
		for _, li := range others {
			fix(li)
		}
		return formatReasons(0, total, reasons)
	}
	var special []int32
	for li := range taken.all() {
		special = append(special, li)
	}
	for li := range req.excluded.all() {
		special = append(special, li)
	}
	if req.ls >= 0 {
		special = append(special, req.ls)
	}
	for _, li := range inv.comboLS(hk, special) {
		fix(li)
	}
	return formatReasons(0, total, reasons)
}

// comboLS appends to out the logical servers of the combinations a
// request of hard key hk may compose or borrow, and returns out sorted,
// without repeats.
func (inv *Inventory) comboLS(hk hardKey, out []int32) []int32 {
	x := &inv.idx
	for _, list := range [][]int32{x.usableBy[hk], x.lendBy[hk]} {
		for _, ci := range list {
			for _, m := range inv.combos[ci] {
				out = append(out, inv.srvs[m].ls)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// reasonBag counts reasons: a list searched from its end (the reasons of
// one explanation are few, and repeat), indexed by a map past
// bagLinear of them. A map from the start cost the worst case (every
// stage, 500 hardware classes) a third of its time in hashing.
type reasonBag struct {
	keys []reason
	vals []int
	m    map[reason]int
}

const bagLinear = 64

func (b *reasonBag) idx(r reason) int {
	if b.m != nil {
		if i, ok := b.m[r]; ok {
			return i
		}
	} else {
		for i := len(b.keys) - 1; i >= 0; i-- {
			if b.keys[i] == r {
				return i
			}
		}
	}
	b.keys, b.vals = append(b.keys, r), append(b.vals, 0)
	i := len(b.keys) - 1
	if b.m != nil {
		b.m[r] = i
	} else if len(b.keys) > bagLinear {
		b.m = make(map[reason]int, 2*len(b.keys))
		for k, key := range b.keys {
			b.m[key] = k
		}
	}
	return i
}

func (b *reasonBag) add(r reason, n int) { b.vals[b.idx(r)] += n }
func (b *reasonBag) set(r reason, n int) { b.vals[b.idx(r)] = n }

func formatReasons(ok, total int, reasons *reasonBag) string {
	type kv struct {
		k string
		v int
	}
	var list []kv
	for i, k := range reasons.keys {
		if v := reasons.vals[i]; v != 0 {
			list = append(list, kv{k.String(), v})
		}
	}
	slices.SortFunc(list, func(a, b kv) int {
		if c := cmp.Compare(b.v, a.v); c != 0 {
			return c
		}
		return cmp.Compare(a.k, b.k)
	})
	var b strings.Builder
	b.WriteString(strconv.Itoa(ok))
	b.WriteByte('/')
	b.WriteString(strconv.Itoa(total))
	b.WriteString(" servers")
	for i, e := range list {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(e.v))
		b.WriteByte(' ')
		b.WriteString(e.k)
	}
	return b.String()
}

func hardReason(s, ref hardKey) (reason, bool) {
	switch {
	case s.arr != ref.arr:
		return reason{kind: rOtherArray}, true
	case s.chip != ref.chip:
		return reason{kind: rOtherChipset}, true
	case s.nic != ref.nic:
		return reason{kind: rOtherNIC}, true
	case s.hba != ref.hba:
		return reason{kind: rOtherHBA}, true
	}
	return reason{}, false
}

// classReason says why servers of class hw cannot serve req (false when
// the class is acceptable). grouped: the servers belong to partitions
// (the memory minimum applies to a partition's total).
func (inv *Inventory) classReason(req *request, hw int32, grouped bool) (reason, bool) {
	f := &req.nodes[req.ref]
	pol := &req.pol
	fh, sh := f.h, &inv.hwc[hw]
	mhz, mem := int(sh.mhz), int(sh.mem)
	switch {
	case !pol.AnyCPUModel && sh.model != fh.model: // sh's is known: the strings differ
		return reason{kind: rOtherCPUModel}, true
	case pol.MinCPUMHz > 0 && mhz < pol.MinCPUMHz:
		return reason{rMHzBelow, mhz, pol.MinCPUMHz}, true
	case pol.MinCPUMHz == 0 && mhz != fh.CPUMHz:
		return reason{rMHzOther, mhz, fh.CPUMHz}, true
	case pol.MinMemoryMiB > 0 && len(req.nodes) == 1 && !grouped && mem < pol.MinMemoryMiB:
		return reason{rMemBelow, mem, pol.MinMemoryMiB}, true
	case pol.MinMemoryMiB == 0 && mem != fh.MemoryMiB:
		return reason{rMemOther, mem, fh.MemoryMiB}, true
	}
	return reason{}, false
}

// groupReason is attrReason for a server that is not taken, not
// excluded and in no combination: the same for every member of its group.
func (inv *Inventory) groupReason(req *request, s *srv) reason {
	if r, ok := inv.headReason(req, s); ok {
		return r
	}
	return inv.fitReason(req, s, false)
}

// headReason is the first part of attrReason, the same for every member of
// a group: class, partition memory, switch, priority.
func (inv *Inventory) headReason(req *request, s *srv) (reason, bool) {
	if r, ok := inv.classReason(req, s.hw, inv.grouped(s)); ok {
		return r, true
	}
	if r, ok := inv.partMemReason(req, s); ok {
		return r, true
	}
	switch {
	case !req.pol.AnySwitch && s.sw != req.nodes[req.ref].sw:
		return reason{kind: rOtherSwitch}, true
	case s.state == stActive && int(s.prio) >= req.prio:
		return reason{rPriority, int(s.prio), req.prio}, true
	}
	return reason{}, false
}

// fitReason is the logical-server part of attrReason; inCombo says whether
// s is in a combination that can be composed now.
func (inv *Inventory) fitReason(req *request, s *srv, inCombo bool) reason {
	pol := &req.pol
	l := &inv.ls[s.ls]
	n := len(req.nodes)
	single := n > 1 && l.n == 1 && (s.state == stStandby || pol.Preempt)
	switch {
	case l.state == lsOther:
		return reason{kind: rPartitionNot, a: int(s.state)}
	case int(l.n) != n && !pol.AllowPartitionMismatch && !single:
		return reason{rNodeCount, int(l.n), n}
	case single && !inCombo:
		return reason{kind: rNotInCombo}
	}
	return reason{kind: rNoFit}
}

// attrReason says why s (same hard key as the reference node) was not
// used for req.
func (inv *Inventory) attrReason(req *request, s *srv, taken *lsSet) reason {
	if r, ok := inv.headReason(req, s); ok {
		return r
	}
	switch {
	case taken.has(s.ls):
		if req.kind == rkFailure {
			return reason{kind: rTakenFailure}
		}
		return reason{kind: rTakenRequest}
	case req.excluded.has(s.ls):
		return reason{kind: rFailedToo}
	}
	return inv.fitReason(req, s, inv.inCombo(req, s.ls))
}

// partMemReason: a member of a partition whose total memory is below the
// request's minimum.
func (inv *Inventory) partMemReason(req *request, s *srv) (reason, bool) {
	min := req.pol.MinMemoryMiB
	if min == 0 || !inv.grouped(s) {
		return reason{}, false
	}
	tot := 0
	for _, m := range inv.lsMembers(s.ls) {
		tot += inv.hw[inv.srvs[m].hw].MemoryMiB
	}
	if tot >= min {
		return reason{}, false
	}
	return reason{rMemBelow, tot, min}, true
}

// inCombo reports whether standalone logical server li is in an allowed
// combination that req could compose now: of Standby servers, or with
// Preempt lent by strictly lower priorities.
func (inv *Inventory) inCombo(req *request, li int32) bool {
	si := inv.members[inv.ls[li].first]
	hk := inv.hardOf(&inv.srvs[si])
	lists := [][]int32{inv.idx.usableBy[hk]}
	if req.pol.Preempt {
		lists = append(lists, inv.idx.lendBy[hk])
	}
	for _, list := range lists {
		for _, ci := range list {
			if slices.Contains(inv.combos[ci], si) && inv.comboFree(req, ci, nil) {
				return true
			}
		}
	}
	return false
}
