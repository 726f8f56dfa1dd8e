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
	req, err := inv.request(failed, nil)
	if err != nil {
		return Plan{}, err
	}
	o, ok := inv.bestIn(&req, allStages, nil)
	if !ok {
		reason := inv.explain(&req, nil)
		return Plan{Reason: reason}, fmt.Errorf("search: find %s: %s: %w", failed, reason, ErrNoSpare)
	}
	if o.stage != stgPreempt {
		return inv.basePlan(&req, &o), nil
	}
	plans := []Plan{inv.basePlan(&req, &o)}
	used := make(map[int32]bool, len(o.res)+1)
	for _, r := range o.res {
		used[r] = true
	}
	inv.relocate(plans, []victimRef{{0, o.res[0]}}, used)
	return plans[0], nil
}

func (inv *Inventory) request(id ServerID, excluded map[int32]bool) (request, error) {
	i, ok := inv.index(id)
	if !ok {
		return request{}, fmt.Errorf("search: find %s: unknown server: %w", id, ErrInvalid)
	}
	s := &inv.srvs[i]
	if s.state != stActive && s.state != stFailed {
		return request{}, fmt.Errorf("search: find %s: server is %s, not active or failed: %w", id, stateNames[s.state], ErrInvalid)
	}
	return request{
		self: i, ls: s.ls, fm: inv.lsMembers(s.ls),
		pol: inv.policies[inv.ls[s.ls].pol], prio: s.prio, excluded: excluded,
	}, nil
}

// bestIn returns the best option over stages in order: the first stage with
// an available candidate wins. used marks unavailable logical servers.
func (inv *Inventory) bestIn(req *request, stages []uint8, used map[int32]bool) (option, bool) {
	r := *req
	r.firstOnly = true
	req = &r
	var best option
	found := false
	for _, stage := range stages {
		inv.visit(req, stage, func(o *option) {
			for _, r := range o.res {
				if used[r] {
					return
				}
			}
			if !found || inv.rankCmp(o, &best) < 0 {
				best = *o
				if o.pairs != nil {
					best.pairs = slices.Clone(o.pairs)
				}
				found = true
			}
		})
		if found {
			return best, true
		}
	}
	return best, false
}

// relocation finds a standby logical server of the victim's node count that
// the victim's own policy accepts (never a composition, never preemption).
func (inv *Inventory) relocation(victim int32, used map[int32]bool) (option, bool) {
	m := inv.lsMembers(victim)
	pol := inv.policies[inv.ls[victim].pol]
	pol.AllowPartitionMismatch, pol.Preempt = false, false
	req := request{self: m[0], ls: victim, fm: m, pol: pol, prio: inv.srvs[m[0]].prio}
	return inv.bestIn(&req, relocateStages, used)
}

// explain counts, for every server outside the failed logical server, the
// first reason it could not serve req, in the order: state, disk array,
// chipset, NIC ports, HBA ports, CPU model, CPU MHz, memory, switch,
// priority, availability, logical-server fit. Attributes are compared with
// the requested server under its policy (the most permissive stage).
func (inv *Inventory) explain(req *request, taken map[int32]bool) string {
	f := &inv.srvs[req.self]
	pol := &req.pol
	hk := inv.hardOf(f)
	reasons := make(map[string]int)
	total := len(inv.srvs) - len(req.fm)
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
		reasons["other disk array"] += gt - cArr
		reasons["other chipset"] += cArr - cChip
		reasons["other NIC ports"] += cChip - cNic
		reasons["other HBA ports"] += cNic - cHba
		inGroups += gt
	}
	counted := func(s *srv) bool { return s.state == stStandby || (pol.Preempt && s.state == stActive) }
	for _, fi := range req.fm {
		m := &inv.srvs[fi]
		if !counted(m) {
			continue
		}
		inGroups--
		if r := hardReason(inv.hardOf(m), hk); r != "" {
			reasons[r]--
		}
	}
	notStandby := "not standby"
	if pol.Preempt {
		notStandby = "not standby or active"
	}
	reasons[notStandby] = total - inGroups
	scan := func(si int32) {
		s := &inv.srvs[si]
		if s.ls == req.ls {
			return
		}
		reasons[inv.attrReason(req, s, taken)]++
	}
	scanBuckets := func(bs []bucket) {
		for _, b := range bs {
			cr := inv.classReason(req, &inv.srvs[b.srv[0]])
			if cr == "" {
				for _, si := range b.srv {
					scan(si)
				}
				continue
			}
			n := len(b.srv)
			for _, fi := range req.fm {
				if inv.srvs[fi].hw == b.hw && slices.Contains(b.srv, fi) {
					n--
				}
			}
			reasons[cr] += n
		}
	}
	scanBuckets(inv.standbyHard[hk])
	if pol.Preempt {
		scanBuckets(inv.activeHard[hk])
	}
	for _, si := range inv.partSrvs {
		s := &inv.srvs[si]
		if counted(s) && inv.hardOf(s) == hk {
			scan(si)
		}
	}
	return formatReasons(0, total, reasons)
}

func formatReasons(ok, total int, reasons map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var list []kv
	for k, v := range reasons {
		if v != 0 {
			list = append(list, kv{k, v})
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

func hardReason(s, ref hardKey) string {
	switch {
	case s.arr != ref.arr:
		return "other disk array"
	case s.chip != ref.chip:
		return "other chipset"
	case s.nic != ref.nic:
		return "other NIC ports"
	case s.hba != ref.hba:
		return "other HBA ports"
	}
	return ""
}

// classReason says why servers of s's hardware class cannot serve req, or
// "" when the class is acceptable.
func (inv *Inventory) classReason(req *request, s *srv) string {
	f := &inv.srvs[req.self]
	pol := &req.pol
	fh, sh := &inv.hw[f.hw], &inv.hw[s.hw]
	switch {
	case !pol.AnyCPUModel && sh.CPUModel != fh.CPUModel:
		return "other CPU model"
	case pol.MinCPUMHz > 0 && sh.CPUMHz < pol.MinCPUMHz:
		return fmt.Sprintf("CPU MHz %d < %d", sh.CPUMHz, pol.MinCPUMHz)
	case pol.MinCPUMHz == 0 && sh.CPUMHz != fh.CPUMHz:
		return fmt.Sprintf("CPU MHz %d != %d", sh.CPUMHz, fh.CPUMHz)
	case pol.MinMemoryMiB > 0 && len(req.fm) == 1 && !inv.grouped(s) && sh.MemoryMiB < pol.MinMemoryMiB:
		return fmt.Sprintf("memory %d < %d", sh.MemoryMiB, pol.MinMemoryMiB)
	case pol.MinMemoryMiB == 0 && sh.MemoryMiB != fh.MemoryMiB:
		return fmt.Sprintf("memory %d != %d", sh.MemoryMiB, fh.MemoryMiB)
	}
	return ""
}

// attrReason says why s (same hard key as the requested server) was not
// used for req.
func (inv *Inventory) attrReason(req *request, s *srv, taken map[int32]bool) string {
	if r := inv.classReason(req, s); r != "" {
		return r
	}
	f := &inv.srvs[req.self]
	pol := &req.pol
	switch {
	case !pol.AnySwitch && s.sw != f.sw:
		return "other switch"
	case s.state == stActive && s.prio >= req.prio:
		return fmt.Sprintf("priority %d >= %d", s.prio, req.prio)
	case taken[s.ls]:
		return "taken by another failure"
	case req.excluded[s.ls]:
		return "failed too"
	}
	l := &inv.ls[s.ls]
	n := len(req.fm)
	switch {
	case l.state == lsOther:
		return "partition not all " + string(stateNames[s.state])
	case int(l.n) != n && !pol.AllowPartitionMismatch && !(n > 1 && l.n == 1 && s.state == stStandby):
		return fmt.Sprintf("node count %d != %d", l.n, n)
	case n > 1 && l.n == 1 && s.state == stStandby && !inv.inUsableCombo(int32(s.ls)):
		return "not in an allowed combination"
	}
	return "no fit as a logical server"
}

func (inv *Inventory) inUsableCombo(li int32) bool {
	si := inv.members[inv.ls[li].first]
	for _, ci := range inv.usableCombos {
		if slices.Contains(inv.combos[ci], si) {
			return true
		}
	}
	return false
}
