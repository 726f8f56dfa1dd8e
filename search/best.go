package search

import (
	"math/bits"
	"slices"
)

// skipSet reports logical servers a search must not use (nil: none).
type skipSet func(li int32) bool

func (s skipSet) has(li int32) bool { return s != nil && s(li) }

// groupBest returns the member of standalone group g with the fewest
// reconfigurations for node f, then the lowest ID, that skip allows: the
// first of the zone's members in the group with f's VLAN set (0), else
// the first member with f's zone or f's VLAN set (1), else the first
// member (2). It reads the index; it walks past only servers that skip
// excludes or that a lower level already offered.
func (inv *Inventory) groupBest(g int32, f *fnode, skip skipSet) (int32, int64, bool) {
	x := &inv.idx
	gr := &x.groups[g]
	if gr.small {
		// Read whole: the fewest reconfigurations, then the lowest ID.
		best, bestRe := int32(-1), int64(3)
		for _, i := range inv.spanOf(gr.all) {
			s := &inv.srvs[i]
			if re := reconfigOf(f, s); re < bestRe && !skip.has(s.ls) {
				best, bestRe = i, re
				if re == 0 {
					break
				}
			}
		}
		return best, bestRe, best >= 0
	}
	a := 0
	if gr.key.sw < 0 {
		a = 1
	}
	zBest, zRe := int32(-1), int64(3)
	if f.sharedZone() {
		if f.bigZone(gr.key.st) {
			if sp, ok := x.bzv[bzvKey{g, f.zone, f.vlans}]; ok {
				for _, i := range inv.spanOf(sp) {
					if !skip.has(inv.srvs[i].ls) {
						return i, 0, true
					}
				}
			}
			if sp, ok := x.bz[bzKey{g, f.zone}]; ok {
				for _, i := range inv.spanOf(sp) {
					if !skip.has(inv.srvs[i].ls) {
						zBest, zRe = i, 1
						break
					}
				}
			}
		} else if inv.zoneMay(f.zone, gr.key.st, g) {
			zm, zg := inv.zoneGroups(f.zone, gr.key.st, a)
			zm = zm[:len(zg)]
			for k, zgk := range zg {
				if zgk != g {
					continue // the loop reads only zg until a member of g
				}
				i := zm[k]
				if skip.has(inv.srvs[i].ls) {
					continue
				}
				if inv.srvs[i].vlans == f.vlans {
					return i, 0, true
				}
				if zRe > 1 {
					zBest, zRe = i, 1
				}
			}
		}
	}
	for _, i := range inv.groupVL(g, f.vlans) {
		s := &inv.srvs[i]
		if s.zone == f.zone || skip.has(s.ls) {
			continue
		}
		if zRe == 1 && zBest < i {
			return zBest, 1, true
		}
		return i, 1, true
	}
	if zRe == 1 {
		return zBest, 1, true
	}
	for _, i := range inv.spanOf(gr.all) {
		s := &inv.srvs[i]
		if s.zone == f.zone || s.vlans == f.vlans || skip.has(s.ls) {
			continue
		}
		return i, 2, true
	}
	return -1, 0, false
}

// sigOf returns the signature of the request's nodes (with any switch if
// anySw), or -1 when the inventory has no partition group with it. For
// an inventory's logical server without anySw, it is -1 also when no
// Standby group has the signature: the callers read only that group.
func (inv *Inventory) sigOf(req *request, anySw bool) int32 {
	if len(req.nodes) < 2 {
		return -1
	}
	if !anySw && req.rowNodes() {
		// The failed (or running) logical server's own signature, from
		// its Standby group.
		if g := req.nodes[0].xg; g >= 0 {
			return inv.idx.pgroups[g].key.sig
		}
		return -1
	}
	var buf []byte
	eks := make([]ek, 0, len(req.nodes))
	for k := range req.nodes {
		f := &req.nodes[k]
		if f.hw < 0 || f.arr < 0 || f.sw < 0 {
			return -1
		}
		e := ek{f.hw, f.arr, f.sw}
		if anySw {
			e.sw = -1
		}
		eks = append(eks, e)
	}
	sortEKs(eks)
	buf = appendSig(buf, eks)
	sig, ok := inv.idx.sigIdx[string(buf)]
	if !ok {
		return -1
	}
	return sig
}

// slotAssignments returns, for a two-node request and a two-node
// signature's slots eks, the ways the request's nodes can fill the slots
// under pol (considering class, disk array and switch only): bit 0 = node
// 0 to slot 0 and node 1 to slot 1, bit 1 = crossed.
func (inv *Inventory) slotAssignments(req *request, eks *[2]ek, pol *Policy) uint8 {
	ok := func(f *fnode, e ek) bool { return inv.pairOKOn(f, e, pol, pol.AnySwitch || e.sw < 0) }
	var out uint8
	f0, f1 := &req.nodes[0], &req.nodes[1]
	if ok(f0, eks[0]) && ok(f1, eks[1]) {
		out |= 1
	}
	if ok(f1, eks[0]) && ok(f0, eks[1]) {
		out |= 2
	}
	return out
}

// sigSurplus is eval for a two-node request over any partition of
// signature sig (every such partition has the same hardware, arrays and
// switches, the only things eval's answer and surpluses depend on): ok
// when a pairing fits pol, the slot assignments that fit
// (slotAssignments), and the MHz and memory surpluses, which do not
// depend on the pairing.
func (inv *Inventory) sigSurplus(req *request, sig int32, pol *Policy) (surMHz, surMem int64, assign uint8, ok bool) {
	si := &inv.idx.sigs[sig]
	if len(si.eks) != 2 || len(req.nodes) != 2 || si.eks[0].sw < 0 || si.eks[1].sw < 0 {
		panic("search: sigSurplus needs a two-node signature with its switches")
	}
	if pol.MinMemoryMiB > 0 {
		if si.mem < int64(pol.MinMemoryMiB) {
			return 0, 0, 0, false
		}
		surMem = si.mem - int64(pol.MinMemoryMiB)
	}
	if assign = inv.slotAssignments(req, (*[2]ek)(si.eks), pol); assign == 0 {
		return 0, 0, 0, false
	}
	surMHz = int64(inv.hw[si.eks[0].hw].CPUMHz) + int64(inv.hw[si.eks[1].hw].CPUMHz) -
		reqMHz(&req.nodes[0], pol) - reqMHz(&req.nodes[1], pol)
	return surMHz, surMem, assign, true
}

// levelMasks lists, per number of reconfigurations, the pattern masks
// (1 zone of slot 0, 2 its VLAN set, 4 zone of slot 1, 8 its VLAN set)
// that leave that many features unmatched, highest first; first indexed
// by the slots whose zone a pattern may name (bit 0: slot 0's, bit 1:
// slot 1's; a zone that is not big is in no pattern), so that a lookup
// loop reads only the masks it may look up.
var levelMasks = func() (out [4][5][]int) {
	for zk := range 4 {
		for mask := 15; mask >= 0; mask-- {
			if (mask&1 != 0 && zk&1 == 0) || (mask&4 != 0 && zk&2 == 0) {
				continue
			}
			l := 4 - bits.OnesCount(uint(mask))
			out[zk][l] = append(out[zk][l], mask)
		}
	}
	return out
}()

// levelFirst is, per zk, the first level of levelMasks[zk] with a mask:
// partBest's levels before it read nothing.
var levelFirst = func() (out [4]int64) {
	for zk := range 4 {
		out[zk] = 4
		for l := 4; l >= 0; l-- {
			if len(levelMasks[zk][l]) > 0 {
				out[zk] = int64(l)
			}
		}
	}
	return out
}()

// fewestReconfig returns the first of feats (a partition group's entries,
// in ID order) with the fewest reconfigurations for q that skip allows,
// and their number; -1 when none allows a pairing. It stops at an entry
// of none: no later one can win.
func fewestReconfig(feats []partFeat, q *pairFeat, skip skipSet) (int, int64) {
	best, bestRe := -1, int64(-1)
	for k := range feats {
		fe := &feats[k]
		re := fe.reconfig(q)
		if re < 0 || (best >= 0 && re >= bestRe) || skip.has(fe.li) {
			continue
		}
		best, bestRe = k, re
		if re == 0 {
			break
		}
	}
	return best, bestRe
}

// partBest returns the partition of two-node group g that ranks first for
// req under pol (fewest reconfigurations, then IDs; the surpluses are the
// same for the whole group), skip allowed. Partitions sharing a small
// zone with a request node are read from the zone; the others level by
// level from the group's patterns.
func (inv *Inventory) partBest(g int32, req *request, pol *Policy, assign uint8, skip skipSet, o *option) bool {
	x := &inv.idx
	pr := &x.pgroups[g].pat
	if pr.g < 0 {
		// A small group: every partition, costed.
		best := int32(-1)
		var bestRe int64
		if len(req.nodes) == 2 && x.pgroups[g].nodes == 2 {
			// From the group's features (no member row read): every
			// partition of the group has the same hardware, so assign
			// says which pairings fit; only the best is evaluated.
			p := &x.pgroups[g]
			q := pairFeatOf(req, assign)
			k, _ := fewestReconfig(x.pfeat[p.all.off:p.all.off+p.all.n], &q, skip)
			return k >= 0 && inv.evalFeat(req, &x.pfeat[p.all.off+int32(k)], pol, o)
		}
		var tmp option
		tmp.pairs = o.pairs
		for _, li := range inv.pgroupLS(g) {
			if skip.has(li) || !inv.eval(req, inv.lsMembers(li), pol, false, &tmp) {
				continue
			}
			if best < 0 || tmp.reconfig < bestRe {
				best, bestRe = li, tmp.reconfig
			}
		}
		return best >= 0 && inv.eval(req, inv.lsMembers(best), pol, false, o)
	}
	st := x.pgroups[g].key.st
	a := 0
	if x.pgroups[g].two[0].sw < 0 {
		a = 1
	}
	var near []int32 // partitions sharing a small zone with a request node
	bestLS, bestRe, bestF := int32(-1), int64(1<<62), int32(-1)
	var tmp option
	tmp.pairs = o.pairs
	// A two-node request on a two-node group: every partition has the
	// same hardware, so assign says which pairings fit, and a partition
	// is costed from its index entry (no member row read); only the one
	// chosen is evaluated.
	byFeat := len(req.nodes) == 2 && x.pgroups[g].nodes == 2
	var q pairFeat
	if byFeat {
		q = pairFeatOf(req, assign)
	}
	gs := x.pgroups[g].all
	for k := range req.nodes {
		f := &req.nodes[k]
		if !f.sharedZone() || f.bigZone(st) || !inv.zoneMay(f.zone, st, g) {
			continue
		}
		_, zf := inv.zoneGroups(f.zone, st, a)
		for _, e := range zf {
			fe, ok := zonePart(e)
			if !ok || fe < gs.off || fe >= gs.off+gs.n {
				continue // not a partition of g
			}
			li := x.pfeat[fe].li
			if skip.has(li) || slices.Contains(near, li) {
				continue
			}
			near = append(near, li)
			if byFeat {
				if re := x.pfeat[fe].reconfig(&q); re >= 0 && (re < bestRe || (re == bestRe && li < bestLS)) {
					bestLS, bestRe, bestF = li, re, fe
				}
			} else if inv.eval(req, inv.lsMembers(li), pol, false, &tmp) && (tmp.reconfig < bestRe || (tmp.reconfig == bestRe && li < bestLS)) {
				bestLS, bestRe = li, tmp.reconfig
			}
		}
	}
	isNear := func(li int32) bool { return slices.Contains(near, li) }
	if eks := &x.pgroups[g].two; eks[0] == eks[1] && assign&1 != 0 {
		// Both orientations of every partition are in the patterns: the
		// straight assignment finds the crossed pairings too.
		assign = 1
	}
	type feat struct{ z, v int32 }
	var slots [2][2]feat // per assignment, per slot
	var zks [2]int       // per assignment, the slots with a big zone (levelMasks)
	first := int64(4)    // the first level with a pattern
	for s := range 2 {
		if assign&(1<<s) == 0 {
			continue
		}
		for slot := range 2 {
			f := &req.nodes[slot]
			if s == 1 {
				f = &req.nodes[1-slot]
			}
			z := int32(-1)
			if f.bigZone(st) {
				z = f.zone
				zks[s] |= 1 << slot
			}
			slots[s][slot] = feat{z, f.vlans}
		}
		first = min(first, levelFirst[zks[s]])
	}
	for level := min(first, bestRe); level <= 4 && level <= bestRe; level++ {
		found, foundF := int32(-1), int32(-1) // foundF: its index entry, -1 when evaluated on its members
		if level == bestRe {
			found, foundF = bestLS, bestF
		}
		for s := range 2 {
			if assign&(1<<s) == 0 {
				continue
			}
			fs := &slots[s]
			for _, mask := range levelMasks[zks[s]][level] {
				if mask == 0 {
					for _, li := range inv.pgroupLS(g) {
						if found >= 0 && li >= found {
							break
						}
						if !skip.has(li) && !isNear(li) {
							found, foundF = li, -1
							break
						}
					}
					continue
				}
				k := patKey{g: pr.g, z1: -1, v1: -1, z2: -1, v2: -1, mask: uint8(mask)}
				if mask&1 != 0 {
					k.z1 = fs[0].z
				}
				if mask&2 != 0 {
					k.v1 = fs[0].v
				}
				if mask&4 != 0 {
					k.z2 = fs[1].z
				}
				if mask&8 != 0 {
					k.v2 = fs[1].v
				}
				sl := inv.patGet(pr, k)
				if sl == nil {
					continue
				}
				// The list in pmem order (so in ID order): the first entry
				// from the slot, the rest from patm.
				fe, rest := int32(sl.first&^(1<<31)), sl.rest
				for {
					li := x.pfeat[fe].li
					if found >= 0 && li >= found {
						break
					}
					if !skip.has(li) && !isNear(li) {
						found, foundF = li, fe
						break
					}
					if rest < 0 {
						break
					}
					e := x.patm[rest]
					fe, rest = int32(e&^patLast), rest+1
					if e&patLast != 0 {
						rest = -1
					}
				}
			}
		}
		if foundF >= 0 && len(req.nodes) == 2 {
			return inv.evalFeat(req, &x.pfeat[foundF], pol, o)
		}
		if found >= 0 {
			return inv.eval(req, inv.lsMembers(found), pol, false, o)
		}
	}
	return false
}
