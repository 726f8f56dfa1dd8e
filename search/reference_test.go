package search

import "slices"

// refOptions lists every option of req over all stages, each set of
// logical servers once (in its best stage), in jointCmp order, by reading
// every logical server and combination: the plain statement of what the
// stages accept, which the tests compare the indexed searches with.
func (inv *Inventory) refOptions(req *request) []option {
	var out []option
	seen := make(map[int32]bool)
	seenCombo := make(map[int32]bool)
	zero := Policy{}
	pol := &req.pol
	mm := pol.AllowPartitionMismatch
	n := len(req.nodes)
	add := func(o *option) {
		c := *o
		if o.pairs != nil {
			c.pairs = slices.Clone(o.pairs)
		}
		out = append(out, c)
	}
	free := func(li int32) bool { return li != req.ls && !req.excluded.has(li) }
	for _, stage := range allStages {
		p, m := pol, mm
		if stage == stgExact || stage == stgRecompose {
			p, m = &zero, false
		}
		var gen []int32
		switch stage {
		case stgExact, stgRelaxed, stgPreempt:
			want := lsStandby
			if stage == stgPreempt {
				if !pol.Preempt {
					continue
				}
				want = lsActive
			}
			for li := range inv.ls {
				l := &inv.ls[li]
				if l.state != want || !free(int32(li)) || seen[int32(li)] {
					continue
				}
				if want == lsActive && !req.victimOK(int(inv.srvs[inv.members[l.first]].prio)) {
					continue
				}
				o := option{stage: stage, combo: -1}
				if !inv.eval(req, inv.lsMembers(int32(li)), p, m, &o) {
					continue
				}
				o.res = inv.lsSelf(int32(li))
				if want == lsActive {
					inv.victimTerms(&o, req.budgets(inv))
				}
				add(&o)
				gen = append(gen, int32(li))
			}
		}
		switch stage {
		case stgRecompose, stgRelaxedCompose, stgPreempt:
			if stage == stgPreempt && !pol.Preempt {
				continue
			}
			for ci, c := range inv.combos {
				if len(c) < 2 || (len(c) != n && !m) || seenCombo[int32(ci)] {
					continue
				}
				active, ok := 0, true
				for _, si := range c {
					s := &inv.srvs[si]
					switch {
					case inv.grouped(s) || !free(s.ls):
						ok = false
					case s.state == stStandby:
					case s.state == stActive && stage == stgPreempt && req.victimOK(int(s.prio)):
						active++
					default:
						ok = false
					}
				}
				if !ok || (stage == stgPreempt) != (active > 0) {
					continue
				}
				o := option{stage: stage, combo: int32(ci)}
				if !inv.eval(req, c, p, m, &o) {
					continue
				}
				o.res = inv.comboRes(int32(ci))
				if stage == stgPreempt {
					inv.victimTerms(&o, req.budgets(inv))
				}
				add(&o)
				seenCombo[int32(ci)] = true
			}
		}
		for _, li := range gen {
			seen[li] = true
		}
	}
	slices.SortStableFunc(out, func(a, b option) int { return inv.jointCmp(&a, &b) })
	return out
}

// solveAll is FindAll's solution, for the tests.
func (inv *Inventory) solveAll(failed []ServerID) (*solution, error) {
	return inv.solveJoint("find all", failed, nil, true)
}

// solve is solveAll; lazy=false reads every option up front (for the test
// that the lazy reading changes nothing).
func (inv *Inventory) solve(failed []ServerID, lazy bool) (*solution, error) {
	return inv.solveJoint("find all", failed, nil, lazy)
}
