package search

// Best-first search of one stage over the index: what Find, relocations
// and Coverage use.

// picker keeps the best option offered.
type picker struct {
	inv   *Inventory
	best  option
	found bool
	pairs []int32
}

// offer keeps o when it ranks before the best so far. It takes o's pairs
// buffer (o's evaluations would overwrite it) and leaves o the picker's
// spare one, so that keeping an option copies and allocates nothing.
func (p *picker) offer(o *option) {
	if p.found && p.inv.rankCmp(o, &p.best) >= 0 {
		return
	}
	spare := p.pairs
	p.best = *o
	p.pairs = o.pairs
	o.pairs = spare[:0]
	p.found = true
}

// result returns the best option; the picker must not be used after.
func (p *picker) result() option { return p.best }

// anySw is the switch a group key uses under pol: the request node's, or
// -1 (any) when the policy has AnySwitch.
func anySw(f *fnode, pol *Policy) int32 {
	if pol.AnySwitch {
		return -1
	}
	if f.sw < 0 {
		return noSwitch
	}
	return f.sw
}

// stageBest offers p the best option of req in stage; skip names logical
// servers that cannot be used.
func (inv *Inventory) stageBest(req *request, stage uint8, skip skipSet, p *picker) {
	zero := Policy{}
	pol := &req.pol
	switch stage {
	case stgExact:
		inv.lsBest(req, stage, &zero, false, stStandby, skip, p)
	case stgRecompose:
		inv.comboBest(req, stage, &zero, false, skip, p)
	case stgRelaxed:
		inv.lsBest(req, stage, pol, pol.AllowPartitionMismatch, stStandby, skip, p)
	case stgRelaxedCompose:
		inv.comboBest(req, stage, pol, pol.AllowPartitionMismatch, skip, p)
	case stgPreempt:
		if !pol.Preempt {
			return
		}
		inv.lsBest(req, stage, pol, pol.AllowPartitionMismatch, stActive, skip, p)
		inv.comboBest(req, stage, pol, pol.AllowPartitionMismatch, skip, p)
	}
}

// victimOK reports whether Active logical servers of priority prio may be
// taken by req.
func (req *request) victimOK(prio int) bool { return prio < req.prio }

// lsBest offers the best logical server of each group of state st that can
// serve req under pol (mm: of another node count too): standby candidates,
// or victims of a strictly lower priority.
func (inv *Inventory) lsBest(req *request, stage uint8, pol *Policy, mm bool, st uint8, skip skipSet, p *picker) {
	x := &inv.idx
	n := len(req.nodes)
	f0 := &req.nodes[0]
	var o option
	o.combo = -1
	o.stage = stage
	if n == 2 && stage == stgExact && req.rowNodes() && pol.MinMemoryMiB == 0 {
		// The failed (or running) partition's own signature has one
		// Standby group, srv.xg: read it, not the signature's group list
		// (the signature has the request's node count and switches, and
		// no memory minimum to check).
		if g := f0.xg; g >= 0 {
			if assign := inv.slotAssignments(req, &x.pgroups[g].two, pol); assign != 0 && inv.partBest(g, req, pol, assign, skip, &o) {
				o.res = inv.lsSelf(inv.srvs[o.repl[0]].ls)
				p.offer(&o)
			}
		}
		return
	}
	var hk hardKey // only the stages after the exact one read classes by hard key
	if stage != stgExact || mm {
		hk = inv.hardOfNode(f0)
	}
	sw := anySw(f0, pol)
	capped := func(prio int) bool {
		// Victims of a higher priority than the best found rank after it.
		return st == stActive && (!req.victimOK(prio) || (p.found && p.best.stage == stage && prio > p.best.vprio))
	}
	// offer offers o (res set), with its victim terms.
	offer := func() {
		if st == stActive {
			inv.victimTerms(&o, req.budgets(inv))
		}
		p.offer(&o)
	}
	// offerLS costs logical server li and offers it when it fits.
	offerLS := func(li int32, mismatch bool) {
		if !skip.has(li) && inv.eval(req, inv.lsMembers(li), pol, mismatch, &o) {
			o.res = inv.lsSelf(li)
			offer()
		}
	}
	if n == 1 {
		if stage == stgExact {
			if g := inv.exactGroup(req); g >= 0 {
				if i, re, ok := inv.groupBest(g, f0, skip); ok {
					li := inv.srvs[i].ls
					o.res, o.repl, o.pairs = inv.lsSelf(li), inv.srvSelf(i), nil
					o.reconfig, o.surMHz, o.surMem = re, 0, 0
					p.offer(&o)
				}
			}
		} else {
			for _, hw := range inv.candClasses(hk, f0, pol) {
				mhz, mem, ok := inv.classCost(req, hw, pol)
				if !ok {
					continue
				}
				for _, g := range inv.classGroups(hw, f0.arr, sw, st) {
					prio := x.groups[g].key.prio
					if capped(prio) {
						if st == stActive {
							break
						}
						continue
					}
					i, re, ok := inv.groupBest(g, f0, skip)
					if !ok {
						continue
					}
					li := inv.srvs[i].ls
					o.res, o.repl, o.pairs = inv.lsSelf(li), inv.srvSelf(i), nil
					o.reconfig, o.surMHz, o.surMem = re, mhz, mem
					offer()
				}
			}
		}
	}
	if n >= 2 {
		// Partitions of the same node count.
		var sigs []int32
		switch m := req.nodes[0].h.CPUModel; {
		case stage == stgExact:
			if sig := inv.sigOf(req, false); sig >= 0 {
				sigs = []int32{sig}
			}
		case n == 2 && !pol.AnyCPUModel && req.nodes[1].h.CPUModel == m:
			// Both nodes keep one CPU model (cpuOK): a signature with
			// a member of another fits in no slot assignment.
			sigs = x.hkSig2Model[modelKey{hk, m}]
		default:
			sigs = x.hkSig[hk]
		}
		for _, sig := range sigs {
			si := &x.sigs[sig]
			if len(si.eks) != n || (si.eks[0].sw < 0) != (sw < 0) || si.mem < int64(pol.MinMemoryMiB) {
				continue
			}
			var assign uint8
			if n == 2 {
				if assign = inv.slotAssignments(req, (*[2]ek)(si.eks), pol); assign == 0 {
					continue
				}
			}
			for _, g := range inv.sigGroups(sig, st) {
				if capped(int(x.pgroups[g].key.prio)) {
					if st == stActive {
						break
					}
					continue
				}
				if n == 2 {
					if inv.partBest(g, req, pol, assign, skip, &o) {
						o.res = inv.lsSelf(inv.srvs[o.repl[0]].ls)
						offer()
					}
					continue
				}
				for _, li := range inv.pgroupLS(g) {
					offerLS(li, false)
				}
			}
		}
	}
	if !mm {
		return
	}
	// Another node count: read every candidate of the hard key.
	if n >= 2 {
		for _, hw := range x.hkCls[hk] {
			for _, g := range inv.classGroups(hw, f0.arr, sw, st) {
				if capped(x.groups[g].key.prio) {
					if st == stActive {
						break
					}
					continue
				}
				for _, i := range inv.spanOf(x.groups[g].all) {
					offerLS(inv.srvs[i].ls, true)
				}
			}
		}
	}
	for _, sig := range x.hkSig[hk] {
		si := &x.sigs[sig]
		if len(si.eks) == n || (si.eks[0].sw < 0) != (sw < 0) || si.mem < int64(pol.MinMemoryMiB) {
			continue
		}
		for _, g := range inv.sigGroups(sig, st) {
			if capped(int(x.pgroups[g].key.prio)) {
				if st == stActive {
					break
				}
				continue
			}
			for _, li := range inv.pgroupLS(g) {
				offerLS(li, true)
			}
		}
	}
}

// comboBest offers the best allowed combination: in the composition
// stages of Standby servers only, in the preemption stage lent ones (some
// members Active with a strictly lower priority).
func (inv *Inventory) comboBest(req *request, stage uint8, pol *Policy, mm bool, skip skipSet, p *picker) {
	x := &inv.idx
	n := len(req.nodes)
	hk := inv.hardOfNode(&req.nodes[0])
	list := x.usableBy[hk]
	if stage == stgPreempt {
		list = x.lendBy[hk]
	}
	var o option
	for _, ci := range list {
		c := inv.combos[ci]
		if len(c) != n && !mm {
			continue
		}
		if !inv.comboFree(req, ci, skip) {
			continue
		}
		o = option{stage: stage, combo: ci}
		if !inv.eval(req, c, pol, mm, &o) {
			continue
		}
		o.res = inv.comboRes(ci)
		if stage == stgPreempt {
			inv.victimTerms(&o, req.budgets(inv))
		}
		p.offer(&o)
	}
}

// comboFree reports whether every member of combination ci may be used by
// req: not skipped, not another request's, and Active members of a
// strictly lower priority.
func (inv *Inventory) comboFree(req *request, ci int32, skip skipSet) bool {
	for _, m := range inv.combos[ci] {
		s := &inv.srvs[m]
		if skip.has(s.ls) || req.excluded.has(s.ls) {
			return false
		}
		if s.state == stActive && !req.victimOK(int(s.prio)) {
			return false
		}
	}
	return true
}

// budgets returns the request's scale-in budgets, computing them once.
func (req *request) budgets(inv *Inventory) map[int32]int {
	if req.budget == nil && len(inv.idx.wlMin) > 0 {
		ex := req.excluded
		if ex == nil && req.ls >= 0 {
			ex = inv.newLSSet()
			ex.add(req.ls)
		}
		req.budget = inv.budgets(ex)
		if req.budget == nil {
			req.budget = map[int32]int{}
		}
	}
	return req.budget
}

func (inv *Inventory) lsSelf(li int32) []int32 { return inv.lsIdx[li : li+1 : li+1] }

// srvSelf returns a one-element slice holding server i, without
// allocating (the members of a standalone server's logical server).
func (inv *Inventory) srvSelf(i int32) []int32 { return inv.ident[i : i+1 : i+1] }

func (inv *Inventory) comboRes(ci int32) []int32 {
	c := inv.combos[ci]
	out := make([]int32, len(c))
	for k, s := range c {
		out[k] = inv.srvs[s].ls
	}
	return out
}

// bestIn returns the best option over stages in order: the first stage
// with a candidate wins. used marks unavailable logical servers.
func (inv *Inventory) bestIn(req *request, stages []uint8, used *lsSet) (option, bool) {
	var skip skipSet
	if used.len() > 0 || req.excluded.len() > 0 {
		skip = func(li int32) bool { return used.has(li) || req.excluded.has(li) }
	}
	p := picker{inv: inv}
	for _, st := range stages {
		inv.stageBest(req, st, skip, &p)
		if p.found {
			return p.result(), true
		}
	}
	return option{}, false
}

// noSwitch is a switch no group has: the switch of a template node the
// inventory does not know (-1 and -2 mean any switch in the index).
const noSwitch = -3

// exactKey is the key of the group of Standby servers exactly like node f
// (on its switch); it matches nothing when f's class, disk array or switch
// is unknown.
// rowNodes reports whether req's nodes are its logical server's rows as
// they are (not a template's, not a scale-up's grown ones), so that their
// srv.xg names the exact stage's group.
func (req *request) rowNodes() bool { return req.kind != rkScaleUp && req.nodes[0].idx >= 0 }

// exactGroup returns the Standby group a one-node request's exact stage
// reads: the row's srv.xg, or for nodes that are not rows the group of
// the node's exact key; -1 when there is none.
func (inv *Inventory) exactGroup(req *request) int32 {
	f := &req.nodes[0]
	if req.rowNodes() {
		return f.xg
	}
	if g, ok := inv.idx.gidx[exactKey(f)]; ok && f.hw >= 0 {
		return g
	}
	return -1
}

func exactKey(f *fnode) gkey {
	k := gkey{hw: f.hw, arr: f.arr, sw: f.sw, work: -1, st: stStandby}
	if f.hw < 0 || f.arr < 0 || f.sw < 0 {
		k.hw = -1
	}
	return k
}
