package search

import (
	"cmp"
	"math/bits"
	"slices"
	"strconv"
)

// The index answers "the best candidate of this kind" without scanning the
// candidates: the ranking's first terms are read from it.
//
// Standalone servers (logical servers of one) that are Standby or Active
// are grouped by hardware class, disk array, switch (and again with any
// switch), and for Active servers by priority and workload: every member of
// a group satisfies the hard constraints and has the same CPU and memory
// surplus for a given request, so within a group only the reconfigurations
// (zone and VLAN set) and the IDs rank. Each group lists its members in ID
// order, and again per VLAN set. Zones come from a second index: the
// servers of every zone shared by several servers; a zone with few servers
// of a state (smallZone) is read whole, a larger one has per-group lists.
// So the best member of a group is: the first of the zone's members in the
// group with the same VLAN set (0 reconfigurations), else the first member
// with the same zone or the same VLAN set (1), else the first member (2).
//
// Partitions are grouped the same way by their members' multiset of
// (class, disk array, switch), their signature; two-node partitions also
// have per-pattern lists (the VLAN set, and the zone when it is large, of
// one or both members), read level by level in the same way. Partitions of
// three or more nodes are scanned within their group.

// smallZone is the largest number of servers of one state in a zone that a
// search reads whole instead of through per-group lists.
const smallZone = 64

type span struct{ off, n int32 }

// gkey identifies a group of standalone servers: Standby ones by class,
// disk array and switch, Active ones also by priority and workload.
type gkey struct {
	hw, arr, sw int32 // sw -1: any switch
	work        int32 // -1 for Standby
	prio        int   // 0 for Standby
	st          uint8
}

type group struct {
	key   gkey
	all   span  // members, server indexes in ID order (into gmem)
	vl    span  // per VLAN set (into vsp), sorted by set; none for a small group
	small bool  // read whole: no per-VLAN-set or per-zone lists
	feat  int32 // its members' features: gfeat[feat : feat+all.n]
}

// memberFeat is what FindAll's pools read of a standalone group's member
// (its zone, VLAN set and logical server), kept beside the group so that
// building the pools of a group does not read its members' rows.
type memberFeat struct{ zone, vlans, ls int32 }

// smallGroup is the size up to which a standalone group is read whole.
const smallGroup = 16

// vspan lists the members of a group with one VLAN set.
type vspan struct {
	vlans int32
	s     span
}

// ckey finds the groups of one class: for Active servers, every priority
// and workload, sorted by priority then workload.
type ckey struct {
	hw, arr, sw int32
	st          uint8
}

type zinfo struct {
	off            int32 // into zmem: Standby members, then Active, then the others, each in ID order
	nSt, nAct, all int32
	// gm: per state (Standby, Active), a 128-bit filter of the groups
	// (standalone or partition, both switch forms) of the zone's members
	// in that state (see zoneMay): a search for one group's members in a
	// zone of many groups reads the zone's list only when the group's
	// bit is set.
	gm [2][2]uint64
}

// zoneBit returns the word and bit of group g in a zone's group filter.
func zoneBit(g int32) (int, uint64) {
	h := uint32(g) * 0x9E3779B1 >> 25 // 7 bits
	return int(h >> 6), 1 << (h & 63)
}

// zoneMay reports whether shared zone z may have a member of group g in
// state st (Standby, else Active); false means it has none. g is a
// standalone group or a partition group, of either switch form.
func (inv *Inventory) zoneMay(z int32, st uint8, g int32) bool {
	zi, ok := inv.zoneInfo(z)
	if !ok {
		return false
	}
	k := 1
	if st == stStandby {
		k = 0
	}
	w, b := zoneBit(g)
	return zi.gm[k][w]&b != 0
}

// bzKey and bzvKey are the per-group lists of a large zone.
type bzKey struct{ g, zone int32 }
type bzvKey struct{ g, zone, vlans int32 }

// pkey identifies a group of partitions (logical servers of two or more
// nodes) that are all Standby or all Active.
type pkey struct {
	sig  int32
	work int32
	prio int32
	st   uint8
}

// pgroup is a partition group: 64 bytes, with what an exact Find of a
// two-node partition reads of it and of its signature, so that it reads
// one line.
type pgroup struct {
	key pkey
	all span   // logical servers in ID order (into pmem)
	pat patRef // its patterns; pat.g is -1 when it has none
	// two: a two-node signature's slots (sigInfo.eks), when nodes is 2.
	two   [2]ek
	nodes uint8 // the signature's node count
}

// ek is one member's place in a signature.
type ek struct{ hw, arr, sw int32 }

type sigInfo struct {
	eks []ek // sorted
	hk  []hardKey
	mem int64 // total memory of a partition with this signature
}

// sigHW is a signature with the classes of its members in a hard key
// (see index.hkSigHW).
type sigHW struct {
	sig int32
	s   span // into index.sigHWs
}

// patKey is a pattern of a two-node partition group: per slot a zone (only
// large zones) and a VLAN set, -1 where the pattern does not care (mask
// says which are set). Entries are positions in pmem (so in pfeat) with
// bit 31 set when the second member fills slot 0.
type patKey struct {
	g              int32
	z1, v1, z2, v2 int32
	mask           uint8 // the fields set: 1 z1, 2 v1, 4 z2, 8 v2
}

// eclass lists, for explanations, the servers of one hard key, class and
// state group (Standby or Active), standalone or not, in ID order.
type eclass struct {
	hw   int32
	st   uint8
	part bool // members of partitions (else standalone servers)
	s    span // into emem
}

type index struct {
	groups []group
	gmem   []int32
	vsp    []vspan
	gidx   map[gkey]int32 // Standby groups only
	cls    map[ckey]span  // into cgs
	cgs    []int32
	// srvG: per server, its group and its any-switch group (-1: none).
	srvG [2][]int32
	// gfeat: per group, its members' features in ID order (group.feat).
	gfeat []memberFeat

	// zbits: per zone (string ID), bit 0 shared (by two servers or
	// more), bit 1 big for Standby, bit 2 big for Active, and from bit 3
	// a shared zone's place in zlist: read without hashing.
	zbits []uint32
	zlist []zinfo
	zmem  []int32
	// zgrp: per zmem entry and switch form, the member's standalone group,
	// or its partition's entry in pfeat (see zonePart; the entries of a
	// partition group are its span of pmem), -1 for neither: zones are
	// read sequentially, without the members' rows.
	zgrp [2][]int32
	bz   map[bzKey]span  // into gmem
	bzv  map[bzvKey]span // into gmem

	sigs    []sigInfo
	sigIdx  map[string]int32
	pgroups []pgroup
	pmem    []int32
	// pfeat: per pmem entry of a two-node partition, its members' zones
	// and VLAN sets in member order, and how the members lie against the
	// group's signature (bit 0: in its order, bit 1: the other way), so
	// that a small group is ranked without reading the members' rows.
	pfeat []partFeat
	pidx  map[pkey]int32
	pcls  map[ckey]span // ckey{hw: sig, arr: -1, sw: -1, st} into cgs
	sigCG []span        // pcls of Active (2*sig) and Standby (2*sig+1)
	// lsPG: per logical server, its partition group and its any-switch
	// partition group (-1: none). The Standby group of a partition's own
	// signature, the exact stage's only group, is in its members' rows
	// (srv.xg): a Standby group's key has no priority or workload, so a
	// signature has at most one, and Find reads it rather than the
	// signature's group list.
	lsPG  [2][]int32
	pats  []patSlot           // per group with patterns, a table of its own (patRef)
	patm  []uint32            // the rest of the pattern lists (see patSlot)
	hkSig map[hardKey][]int32 // signatures with a member of the hard key
	// hkSig2Model: the two-node signatures of hkSig[hk] whose members
	// both have CPU model m, keyed {hk, m} (see lsBest), in hkSig[hk]'s
	// order; hkSig2Pos: their positions in hkSig[hk] (see genList).
	hkSig2Model map[modelKey][]int32
	hkSig2Pos   map[modelKey][]int32
	// hkSigHW: per hard key, the signatures of hkSig[hk] that name their
	// switches, in that order, each with the classes of its members in
	// the hard key (sigHWs[s.off:s.off+s.n]): what explainWith reads of
	// every signature, in two arrays rather than per signature.
	hkSigHW map[hardKey][]sigHW
	sigHWs  []int32
	// hkSigHWModel: hkSigHW[hk] less the signatures with no member of
	// CPU model m in the hard key, keyed {hk, m}: without AnyCPUModel
	// every class of another model is rejected.
	hkSigHWModel map[modelKey][]sigHW
	hkCls        map[hardKey][]int32 // classes with Standby or Active standalone servers of the hard key
	// hkModel is hkCls split by CPU model (see candClasses).
	hkModel map[modelKey][]int32

	ecls map[hardKey][]eclass
	emem []int32
	// eclsModel: ecls[hk] split by CPU model ({hk, m}), in that order;
	// eclsN and eclsModelN: the servers of those entries, Standby and
	// Active. Without AnyCPUModel an explanation reads only its model's
	// entries and counts the others' servers at once (another model).
	eclsModel  map[modelKey][]eclass
	eclsN      map[hardKey][2]int32
	eclsModelN map[modelKey][2]int32
	// mixed: per hard key, the Standby or Active members of partitions
	// whose members are not all in one state (in no group).
	mixed map[hardKey][]int32

	// combos by a member's hard key: usable (all standalone Standby) and
	// lendable (all standalone, Standby or Active, at least one Active).
	usableBy, lendBy map[hardKey][]int32

	// wl: per workload, its Active logical servers and its scale-in
	// minimum (see Policy.ScaleInMin).
	wlActive map[int32]int32
	wlMin    map[int32]int
}

// cg is a group under its class key, for the class lists.
type cg struct {
	k ckey
	g int32
}

// appendSpans appends the groups of list (sorted by key) to cgs and
// records each key's span in m.
func appendSpans(m map[ckey]span, cgs []int32, list []cg) []int32 {
	for k, c := range list {
		if k == 0 || list[k-1].k != c.k {
			m[c.k] = span{int32(len(cgs)), 0}
		}
		sp := m[c.k]
		sp.n++
		m[c.k] = sp
		cgs = append(cgs, c.g)
	}
	return cgs
}

func stGroup(st uint8) (uint8, bool) {
	switch st {
	case stStandby:
		return 0, true
	case stActive:
		return 1, true
	}
	return 2, false
}

func (inv *Inventory) gkeyOf(s *srv, anySw bool) gkey {
	k := gkey{hw: s.hw, arr: s.arr, sw: s.sw, st: s.state, work: -1}
	if anySw {
		k.sw = -1
	}
	if s.state == stActive {
		k.prio, k.work = int(s.prio), s.work
	}
	return k
}

func (inv *Inventory) buildIndexes() {
	x := &inv.idx
	n := len(inv.srvs)
	*x = index{}

	// Standalone groups: count, then fill in ID order.
	gtmp := make(map[gkey]int32)
	for a := range 2 {
		x.srvG[a] = make([]int32, n)
	}
	var sizes []int32
	for i := range inv.srvs {
		s := &inv.srvs[i]
		x.srvG[0][i], x.srvG[1][i] = -1, -1
		if _, ok := stGroup(s.state); !ok || inv.grouped(s) {
			continue
		}
		for a := range 2 {
			k := inv.gkeyOf(s, a == 1)
			g, ok := gtmp[k]
			if !ok {
				g = int32(len(x.groups))
				gtmp[k] = g
				x.groups = append(x.groups, group{key: k})
				sizes = append(sizes, 0)
			}
			sizes[g]++
			x.srvG[a][i] = g
		}
	}
	x.gidx = make(map[gkey]int32)
	for k, g := range gtmp {
		if k.st == stStandby {
			x.gidx[k] = g
		}
	}
	// gmem: per group its members, then (large groups) per VLAN set.
	off := int32(0)
	for g := range x.groups {
		x.groups[g].all = span{off, 0}
		x.groups[g].small = int(sizes[g]) <= inv.smallG
		off += sizes[g]
		if !x.groups[g].small {
			off += sizes[g]
		}
	}
	x.gmem = make([]int32, off, off+off/8)
	type gv struct{ g, vlans int32 }
	vcount := make(map[gv]int32)
	for i := range inv.srvs {
		for a := range 2 {
			if g := x.srvG[a][i]; g >= 0 {
				gr := &x.groups[g]
				x.gmem[gr.all.off+gr.all.n] = int32(i)
				gr.all.n++
				if !gr.small {
					vcount[gv{g, inv.srvs[i].vlans}]++
				}
			}
		}
	}
	vkeys := make([]gv, 0, len(vcount))
	for k := range vcount {
		vkeys = append(vkeys, k)
	}
	slices.SortFunc(vkeys, func(a, b gv) int { return cmp.Or(cmp.Compare(a.g, b.g), cmp.Compare(a.vlans, b.vlans)) })
	x.vsp = make([]vspan, len(vkeys))
	vat := make(map[gv]int32, len(vkeys))
	for k, key := range vkeys {
		gr := &x.groups[key.g]
		if gr.vl.n == 0 {
			gr.vl.off = int32(k)
		}
		gr.vl.n++
		start := gr.all.off + gr.all.n
		if k > 0 && vkeys[k-1].g == key.g {
			p := x.vsp[k-1].s
			start = p.off + vcount[vkeys[k-1]]
		}
		x.vsp[k] = vspan{key.vlans, span{start, 0}}
		vat[key] = int32(k)
	}
	for g := range x.groups {
		gr := &x.groups[g]
		if gr.small {
			continue
		}
		for _, i := range x.gmem[gr.all.off : gr.all.off+gr.all.n] {
			v := &x.vsp[vat[gv{int32(g), inv.srvs[i].vlans}]]
			x.gmem[v.s.off+v.s.n] = i
			v.s.n++
		}
	}
	total := 0
	for g := range x.groups {
		total += int(x.groups[g].all.n)
	}
	x.gfeat = make([]memberFeat, 0, total)
	for g := range x.groups {
		gr := &x.groups[g]
		gr.feat = int32(len(x.gfeat))
		for _, i := range x.gmem[gr.all.off : gr.all.off+gr.all.n] {
			s := &inv.srvs[i]
			x.gfeat = append(x.gfeat, memberFeat{s.zone, s.vlans, s.ls})
		}
	}
	// Class lists, groups sorted by priority then workload.
	cgl := make([]cg, len(x.groups))
	for g := range x.groups {
		k := x.groups[g].key
		cgl[g] = cg{ckey{k.hw, k.arr, k.sw, k.st}, int32(g)}
	}
	slices.SortFunc(cgl, func(a, b cg) int {
		ka, kb := &x.groups[a.g].key, &x.groups[b.g].key
		return cmp.Or(cmp.Compare(a.k.hw, b.k.hw), cmp.Compare(a.k.arr, b.k.arr), cmp.Compare(a.k.sw, b.k.sw),
			cmp.Compare(a.k.st, b.k.st), cmp.Compare(ka.prio, kb.prio), cmp.Compare(ka.work, kb.work))
	})
	x.cls = make(map[ckey]span)
	x.cgs = appendSpans(x.cls, make([]int32, 0, 2*len(cgl)), cgl)
	// Switch -2: the switch-specific groups of a class on every switch,
	// by priority, workload, switch.
	var all []cg
	for _, c := range cgl {
		if c.k.sw >= 0 {
			c.k.sw = -2
			all = append(all, c)
		}
	}
	slices.SortStableFunc(all, func(a, b cg) int {
		ka, kb := &x.groups[a.g].key, &x.groups[b.g].key
		return cmp.Or(cmp.Compare(a.k.hw, b.k.hw), cmp.Compare(a.k.arr, b.k.arr), cmp.Compare(a.k.st, b.k.st),
			cmp.Compare(ka.prio, kb.prio), cmp.Compare(ka.work, kb.work), cmp.Compare(ka.sw, kb.sw))
	})
	x.cgs = appendSpans(x.cls, x.cgs, all)

	inv.buildZones()
	inv.buildPartitions()
	for a := range 2 {
		x.zgrp[a] = make([]int32, len(x.zmem))
		var feat []int32 // per logical server, its pfeat entry in its group of form a
		for k, i := range x.zmem {
			li := inv.srvs[i].ls
			g := x.lsPG[a][li]
			if g < 0 {
				x.zgrp[a][k] = x.srvG[a][i]
				continue
			}
			if feat == nil {
				feat = make([]int32, len(inv.ls))
				for _, pg := range x.pgroups {
					if (x.sigs[pg.key.sig].eks[0].sw < 0) == (a == 1) {
						for e := pg.all.off; e < pg.all.off+pg.all.n; e++ {
							feat[x.pmem[e]] = e
						}
					}
				}
			}
			if e, sp := feat[li], x.pgroups[g].all; e < sp.off || e >= sp.off+sp.n || x.pmem[e] != li {
				panic("search: a partition's index entry is not in its group")
			}
			x.zgrp[a][k] = ^(feat[li] + 1)
		}
	}
	for zk := range x.zlist {
		zi := &x.zlist[zk]
		for k, sub := range [2][2]int32{{zi.off, zi.off + zi.nSt}, {zi.off + zi.nSt, zi.off + zi.nSt + zi.nAct}} {
			for _, i := range x.zmem[sub[0]:sub[1]] {
				for a := range 2 {
					g := x.lsPG[a][inv.srvs[i].ls]
					if g < 0 {
						g = x.srvG[a][i]
					}
					if g >= 0 {
						w, b := zoneBit(g)
						zi.gm[k][w] |= b
					}
				}
			}
		}
	}
	inv.buildExplain()
	inv.buildCombos()
	inv.buildWorkloads()
}

func (inv *Inventory) buildZones() {
	x := &inv.idx
	count := make(map[int32]int32)
	for i := range inv.srvs {
		count[inv.srvs[i].zone]++
	}
	off := int32(0)
	zkeys := make([]int32, 0)
	for z, c := range count {
		if c >= 2 {
			zkeys = append(zkeys, z)
		}
	}
	slices.Sort(zkeys)
	x.zbits = make([]uint32, len(inv.strs))
	x.zlist = make([]zinfo, len(zkeys))
	for k, z := range zkeys {
		x.zlist[k] = zinfo{off: off}
		x.zbits[z] = uint32(k)<<3 | 1
		off += count[z]
	}
	x.zmem = make([]int32, off)
	// Fill in three passes so that each state group is in ID order.
	for pass := uint8(0); pass < 3; pass++ {
		for i := range inv.srvs {
			s := &inv.srvs[i]
			g, _ := stGroup(s.state)
			if g != pass {
				continue
			}
			zi, ok := inv.zoneInfo(s.zone)
			if !ok {
				continue
			}
			x.zmem[zi.off+zi.all] = int32(i)
			zi.all++
			switch pass {
			case 0:
				zi.nSt++
			case 1:
				zi.nAct++
			}
		}
	}
	for _, z := range zkeys {
		zi, _ := inv.zoneInfo(z)
		if zi.nSt > smallZone {
			x.zbits[z] |= 2
		}
		if zi.nAct > smallZone {
			x.zbits[z] |= 4
		}
	}
	for i := range inv.srvs {
		s := &inv.srvs[i]
		s.zflags = uint8(x.zbits[s.zone] & 7)
	}
	// Large zones: per-group lists (standalone groups, both switch forms).
	x.bz = make(map[bzKey]span)
	x.bzv = make(map[bzvKey]span)
	var bzl []bzKey
	var bzvl []bzvKey
	bzm := make(map[bzKey][]int32)
	bzvm := make(map[bzvKey][]int32)
	for _, z := range zkeys {
		zi, _ := inv.zoneInfo(z)
		for pass, sub := range [][]int32{
			x.zmem[zi.off : zi.off+zi.nSt],
			x.zmem[zi.off+zi.nSt : zi.off+zi.nSt+zi.nAct],
		} {
			_ = pass
			if len(sub) <= smallZone {
				continue
			}
			for _, i := range sub {
				for a := range 2 {
					g := x.srvG[a][i]
					if g < 0 || x.groups[g].small {
						continue
					}
					k := bzKey{g, z}
					if _, ok := bzm[k]; !ok {
						bzl = append(bzl, k)
					}
					bzm[k] = append(bzm[k], i)
					kv := bzvKey{g, z, inv.srvs[i].vlans}
					if _, ok := bzvm[kv]; !ok {
						bzvl = append(bzvl, kv)
					}
					bzvm[kv] = append(bzvm[kv], i)
				}
			}
		}
	}
	for _, k := range bzl {
		l := bzm[k]
		x.bz[k] = span{int32(len(x.gmem)), int32(len(l))}
		x.gmem = append(x.gmem, l...)
	}
	for _, k := range bzvl {
		l := bzvm[k]
		x.bzv[k] = span{int32(len(x.gmem)), int32(len(l))}
		x.gmem = append(x.gmem, l...)
	}
}

// zoneInfo returns shared zone z's entry (false: z is no shared zone).
func (inv *Inventory) zoneInfo(z int32) (*zinfo, bool) {
	x := &inv.idx
	if z < 0 || int(z) >= len(x.zbits) || x.zbits[z]&1 == 0 {
		return nil, false
	}
	return &x.zlist[x.zbits[z]>>3], true
}

// zonePart returns the pfeat entry a zgrp value names, false when it
// names a standalone group or nothing.
func zonePart(e int32) (int32, bool) { return ^e - 1, e <= -2 }

// zoneGroups returns zoneMembers(z, st) and, per member, its group in
// switch form a (a standalone group, or a partition's entry; see zgrp).
func (inv *Inventory) zoneGroups(z int32, st uint8, a int) ([]int32, []int32) {
	zi, ok := inv.zoneInfo(z)
	if !ok {
		return nil, nil
	}
	lo, hi := zi.off, zi.off+zi.nSt
	if st != stStandby {
		lo, hi = zi.off+zi.nSt, zi.off+zi.nSt+zi.nAct
	}
	return inv.idx.zmem[lo:hi], inv.idx.zgrp[a][lo:hi]
}

// zoneMembers returns the servers of zone z in state st (Standby or
// Active), in ID order, or nil when the zone has a single server.
func (inv *Inventory) zoneMembers(z int32, st uint8) []int32 {
	zi, ok := inv.zoneInfo(z)
	if !ok {
		return nil
	}
	if st == stStandby {
		return inv.idx.zmem[zi.off : zi.off+zi.nSt]
	}
	return inv.idx.zmem[zi.off+zi.nSt : zi.off+zi.nSt+zi.nAct]
}

func (inv *Inventory) sigKey(li int32, anySw bool, buf []byte, eks []ek) ([]byte, []ek) {
	eks = eks[:0]
	for _, m := range inv.lsMembers(li) {
		s := &inv.srvs[m]
		e := ek{s.hw, s.arr, s.sw}
		if anySw {
			e.sw = -1
		}
		eks = append(eks, e)
	}
	sortEKs(eks)
	return appendSig(buf[:0], eks), eks
}

func sortEKs(eks []ek) { slices.SortFunc(eks, cmpEK) }

func appendSig(buf []byte, eks []ek) []byte {
	for _, e := range eks {
		buf = strconv.AppendInt(buf, int64(e.hw), 36)
		buf = append(buf, '.')
		buf = strconv.AppendInt(buf, int64(e.arr), 36)
		buf = append(buf, '.')
		buf = strconv.AppendInt(buf, int64(e.sw), 36)
		buf = append(buf, ',')
	}
	return buf
}

func cmpEK(a, b ek) int {
	return cmp.Or(cmp.Compare(a.hw, b.hw), cmp.Compare(a.arr, b.arr), cmp.Compare(a.sw, b.sw))
}

func (inv *Inventory) buildPartitions() {
	x := &inv.idx
	x.sigIdx = make(map[string]int32)
	x.pidx = make(map[pkey]int32)
	x.hkSig = make(map[hardKey][]int32)
	for a := range 2 {
		x.lsPG[a] = make([]int32, len(inv.ls))
	}
	var buf []byte
	var eks, ekSlab []ek
	var sizes []int32
	for li := range inv.ls {
		x.lsPG[0][li], x.lsPG[1][li] = -1, -1
		l := &inv.ls[li]
		if l.n < 2 || l.state == lsOther {
			continue
		}
		m0 := &inv.srvs[inv.members[l.first]]
		for a := range 2 {
			buf, eks = inv.sigKey(int32(li), a == 1, buf, eks)
			sig, ok := x.sigIdx[string(buf)]
			if !ok {
				sig = int32(len(x.sigs))
				x.sigIdx[string(buf)] = sig
				// The signatures' eks from one slab, in chunks: the
				// generators and explanations read many signatures' in a
				// row, which a small allocation each scatters.
				if cap(ekSlab)-len(ekSlab) < len(eks) {
					ekSlab = make([]ek, 0, max(1024, len(eks)))
				}
				ekSlab = append(ekSlab, eks...)
				si := sigInfo{eks: ekSlab[len(ekSlab)-len(eks) : len(ekSlab) : len(ekSlab)]}
				for _, e := range eks {
					si.mem += int64(inv.hw[e.hw].MemoryMiB)
				}
				for _, m := range inv.lsMembers(int32(li)) {
					if hk := inv.hardOf(&inv.srvs[m]); !slices.Contains(si.hk, hk) {
						si.hk = append(si.hk, hk)
					}
				}
				x.sigs = append(x.sigs, si)
				for _, hk := range si.hk {
					x.hkSig[hk] = append(x.hkSig[hk], sig)
				}
			}
			k := pkey{sig: sig, work: -1, st: m0.state}
			if m0.state == stActive {
				k.prio, k.work = m0.prio, m0.work
			}
			g, ok := x.pidx[k]
			if !ok {
				g = int32(len(x.pgroups))
				x.pidx[k] = g
				pg := pgroup{key: k, pat: patRef{g: -1}, nodes: uint8(min(len(x.sigs[sig].eks), 255))}
				if pg.nodes == 2 {
					pg.two = [2]ek(x.sigs[sig].eks)
				}
				x.pgroups = append(x.pgroups, pg)
				sizes = append(sizes, 0)
			}
			sizes[g]++
			x.lsPG[a][li] = g
		}
	}
	x.hkSig2Model = make(map[modelKey][]int32)
	x.hkSig2Pos = make(map[modelKey][]int32)
	for hk, l := range x.hkSig {
		for sp, sig := range l {
			eks := x.sigs[sig].eks
			if m := inv.hw[eks[0].hw].CPUModel; len(eks) == 2 && inv.hw[eks[1].hw].CPUModel == m {
				k := modelKey{hk, m}
				x.hkSig2Model[k] = append(x.hkSig2Model[k], sig)
				x.hkSig2Pos[k] = append(x.hkSig2Pos[k], int32(sp))
			}
		}
	}
	x.hkSigHW = make(map[hardKey][]sigHW, len(x.hkSig))
	x.sigHWs = nil
	for hk, l := range x.hkSig {
		for _, sig := range l {
			eks := x.sigs[sig].eks
			if eks[0].sw < 0 {
				continue
			}
			s := sigHW{sig: sig, s: span{off: int32(len(x.sigHWs))}}
			for _, e := range eks {
				if h := &inv.hw[e.hw]; (hardKey{e.arr, h.chip, int32(h.NICPorts), int32(h.HBAPorts)}) == hk {
					x.sigHWs = append(x.sigHWs, e.hw)
					s.s.n++
				}
			}
			x.hkSigHW[hk] = append(x.hkSigHW[hk], s)
		}
	}
	x.hkSigHWModel = make(map[modelKey][]sigHW)
	var models []string
	for hk, l := range x.hkSigHW {
		for _, s := range l {
			models = models[:0]
			for _, hw := range x.sigHWs[s.s.off : s.s.off+s.s.n] {
				if m := inv.hw[hw].CPUModel; !slices.Contains(models, m) {
					models = append(models, m)
					k := modelKey{hk, m}
					x.hkSigHWModel[k] = append(x.hkSigHWModel[k], s)
				}
			}
		}
	}
	for i := range inv.srvs {
		inv.srvs[i].xg = -1
	}
	for li := range inv.ls {
		xg := int32(-1)
		if l := &inv.ls[li]; l.n == 1 {
			s := &inv.srvs[inv.members[l.first]]
			if g, ok := x.gidx[gkey{hw: s.hw, arr: s.arr, sw: s.sw, work: -1, st: stStandby}]; ok {
				xg = g
			}
		} else if l.n >= 2 {
			buf, eks = inv.sigKey(int32(li), false, buf, eks)
			if sig, ok := x.sigIdx[string(buf)]; ok {
				if g, ok := x.pidx[pkey{sig: sig, work: -1, st: stStandby}]; ok {
					xg = g
				}
			}
		}
		for _, m := range inv.lsMembers(int32(li)) {
			inv.srvs[m].xg = xg
		}
	}
	off := int32(0)
	for g := range x.pgroups {
		x.pgroups[g].all = span{off, 0}
		off += sizes[g]
	}
	x.pmem = make([]int32, off)
	x.pfeat = make([]partFeat, off)
	for li := range inv.ls {
		for a := range 2 {
			if g := x.lsPG[a][li]; g >= 0 {
				p := &x.pgroups[g]
				k := p.all.off + p.all.n
				x.pmem[k] = int32(li)
				p.all.n++
				if eks := x.sigs[p.key.sig].eks; inv.ls[li].n == 2 && len(eks) == 2 {
					m := inv.lsMembers(int32(li))
					s0, s1 := &inv.srvs[m[0]], &inv.srvs[m[1]]
					st, sw := inv.orientations(int32(li), eks, a == 1)
					f := partFeat{li: int32(li), z0: s0.zone, v0: s0.vlans, z1: s1.zone, v1: s1.vlans, m: [2]int32{m[0], m[1]}}
					if st {
						f.orient |= 1
					}
					if sw {
						f.orient |= 2
					}
					x.pfeat[k] = f
				}
			}
		}
	}
	// Class lists of partition groups, by priority then workload.
	var cgl []cg
	for g := range x.pgroups {
		k := x.pgroups[g].key
		cgl = append(cgl, cg{ckey{k.sig, -1, -1, k.st}, int32(g)})
	}
	slices.SortFunc(cgl, func(a, b cg) int {
		ka, kb := &x.pgroups[a.g].key, &x.pgroups[b.g].key
		return cmp.Or(cmp.Compare(a.k.hw, b.k.hw), cmp.Compare(a.k.st, b.k.st),
			cmp.Compare(ka.prio, kb.prio), cmp.Compare(ka.work, kb.work))
	})
	x.pcls = make(map[ckey]span)
	x.cgs = appendSpans(x.pcls, x.cgs, cgl)
	// The same spans by signature and state, read without hashing (a
	// two-node request of FindAll reads every signature of its hard key).
	x.sigCG = make([]span, len(x.sigs)*2)
	for k, sp := range x.pcls {
		if k.st <= stStandby && k.arr == -1 && k.sw == -1 {
			x.sigCG[int(k.hw)*2+int(k.st)] = sp
		}
	}
	inv.buildPatterns()
}

// patFeatures returns the zone (when large, else -1) and VLAN set of
// server i, a member of a partition group of state st.
func (inv *Inventory) patFeatures(i int32, st uint8) (z, v int32) {
	s := &inv.srvs[i]
	z = -1
	if s.bigZone(st) {
		z = s.zone
	}
	return z, s.vlans
}

// orientations returns the ways the two members of partition li fill the
// two slots of its signature: false = members in ID order, true = swapped.
func (inv *Inventory) orientations(li int32, eks []ek, anySw bool) (straight, swapped bool) {
	m := inv.lsMembers(li)
	e := func(i int32) ek {
		s := &inv.srvs[i]
		k := ek{s.hw, s.arr, s.sw}
		if anySw {
			k.sw = -1
		}
		return k
	}
	a, b := e(m[0]), e(m[1])
	return a == eks[0] && b == eks[1], b == eks[0] && a == eks[1]
}

// partFeat is what ranking a two-node partition for a request reads:
// its members' zones and VLAN sets (member order), and its orientation
// against its group's signature.
type partFeat struct {
	li             int32
	z0, v0, z1, v1 int32
	// m: the members in member order (ID order), which evalFeat hands
	// out as the option's replacement servers, so that Find reads
	// neither the member list nor a mate.
	m      [2]int32
	orient uint8
}

// pairFeat is what partFeat.reconfig reads of a two-node request and
// the pairings it may use, read once for a loop over a group's entries.
type pairFeat struct {
	z0, v0, z1, v1 int32
	b0, b1         bool // slot assignments 0 and 1 allowed (bits 0 and 1 of slotAssignments)
}

func pairFeatOf(req *request, assign uint8) pairFeat {
	f0, f1 := &req.nodes[0], &req.nodes[1]
	return pairFeat{f0.zone, f0.vlans, f1.zone, f1.vlans, assign&1 != 0, assign&2 != 0}
}

// reconfig is the fewest reconfigurations of q's two nodes on the
// partition, over the pairings q allows (slot assignments against the
// signature, see slotAssignments), or -1 when none does.
func (f *partFeat) reconfig(q *pairFeat) int64 {
	st, sw := f.orient&1 != 0, f.orient&2 != 0
	best := int64(-1)
	// Member order: m0 serves node 0 (straight) or node 1 (crossed).
	if (st && q.b0) || (sw && q.b1) {
		best = ne(q.z0, f.z0) + ne(q.v0, f.v0) + ne(q.z1, f.z1) + ne(q.v1, f.v1)
	}
	if (st && q.b1) || (sw && q.b0) {
		if re := ne(q.z1, f.z0) + ne(q.v1, f.v0) + ne(q.z0, f.z1) + ne(q.v0, f.v1); best < 0 || re < best {
			best = re
		}
	}
	return best
}

// ne is 1 when a and b differ, else 0.
func ne(a, b int32) int64 {
	if a != b {
		return 1
	}
	return 0
}

// smallPGroup is the size up to which a partition group is read whole
// rather than through patterns.
const smallPGroup = 16

func (inv *Inventory) buildPatterns() {
	x := &inv.idx
	type rec struct {
		k     patKey
		entry uint32
	}
	var recs []rec
	for g := range x.pgroups {
		x.pgroups[g].pat = patRef{g: -1}
		p := &x.pgroups[g]
		si := &x.sigs[p.key.sig]
		if len(si.eks) != 2 || int(p.all.n) <= inv.smallPG {
			continue
		}
		anySw := si.eks[0].sw < 0
		members := x.pmem[p.all.off : p.all.off+p.all.n]
		if anySw {
			// One switch: the same partitions as its switch's group, and
			// in the same orientations unless the switches tell the two
			// members apart there (the members' classes and arrays then
			// are the same, so any switch finds both orientations; the
			// switch group's patterns hold only one).
			g0 := x.lsPG[0][members[0]]
			e0 := x.sigs[x.pgroups[g0].key.sig].eks
			same := x.pgroups[g0].all.n == p.all.n && (e0[0] == e0[1]) == (si.eks[0] == si.eks[1])
			for _, li := range members {
				same = same && x.lsPG[0][li] == g0
			}
			if same {
				x.pgroups[g].pat.g = g0 // its table is placed below
				continue
			}
		}
		x.pgroups[g].pat.g = int32(g)
		for k, li := range members {
			m := inv.lsMembers(li)
			straight, swapped := inv.orientations(li, si.eks, anySw)
			for o := range 2 {
				if (o == 0 && !straight) || (o == 1 && !swapped) {
					continue
				}
				a, b := m[0], m[1]
				if o == 1 {
					a, b = b, a
				}
				za, va := inv.patFeatures(a, p.key.st)
				zb, vb := inv.patFeatures(b, p.key.st)
				entry := uint32(p.all.off + int32(k))
				if o == 1 {
					entry |= 1 << 31
				}
				for mask := 1; mask < 16; mask++ {
					k := patKey{g: int32(g), z1: -1, v1: -1, z2: -1, v2: -1, mask: uint8(mask)}
					if mask&1 != 0 {
						if za < 0 {
							continue
						}
						k.z1 = za
					}
					if mask&2 != 0 {
						k.v1 = va
					}
					if mask&4 != 0 {
						if zb < 0 {
							continue
						}
						k.z2 = zb
					}
					if mask&8 != 0 {
						k.v2 = vb
					}
					recs = append(recs, rec{k, entry})
				}
			}
		}
	}
	slices.SortFunc(recs, func(a, b rec) int {
		return cmp.Or(cmp.Compare(a.k.g, b.k.g), cmp.Compare(a.k.mask, b.k.mask), cmp.Compare(a.k.z1, b.k.z1), cmp.Compare(a.k.v1, b.k.v1),
			cmp.Compare(a.k.z2, b.k.z2), cmp.Compare(a.k.v2, b.k.v2), cmp.Compare(a.entry&^(1<<31), b.entry&^(1<<31)))
	})
	// Each group's table: a Standby group (read by every exact Find) at
	// most half full, an Active one (read by preemption) three quarters;
	// never full, so that a lookup of a missing key ends.
	rest, total := 0, 0
	for k := 0; k < len(recs); {
		g, keys := recs[k].k.g, 0
		for ; k < len(recs) && recs[k].k.g == g; k++ {
			if k == 0 || recs[k].k != recs[k-1].k {
				keys++
			} else if recs[k].entry&^(1<<31) != recs[k-1].entry&^(1<<31) {
				rest++
			}
		}
		n := keys*4/3 + 1
		if x.pgroups[g].key.st == stStandby {
			n = 2*keys + 1
		}
		x.pgroups[g].pat.off, x.pgroups[g].pat.n = int32(total), int32(n)
		total += n
	}
	x.pats = make([]patSlot, total)
	for g := range x.pgroups {
		if r := &x.pgroups[g].pat; r.g >= 0 && r.g != int32(g) {
			*r = x.pgroups[r.g].pat
		}
	}
	x.patm = make([]uint32, 0, rest)
	for k := 0; k < len(recs); {
		key := recs[k].k
		first, off := recs[k].entry, int32(-1)
		last := first &^ (1 << 31)
		for k++; k < len(recs) && recs[k].k == key; k++ {
			// Both orientations of one partition may give the same key.
			if e := recs[k].entry &^ (1 << 31); e != last {
				if off < 0 {
					off = int32(len(x.patm))
				}
				x.patm = append(x.patm, e)
				last = e
			}
		}
		if off >= 0 {
			x.patm[len(x.patm)-1] |= patLast
		}
		inv.patPut(key, patSlot{first: first, rest: off})
	}
}

// patLast marks the last entry of a pattern list's rest in patm.
const patLast = 1 << 31

// The pattern tables map pattern keys to their lists. Each group's
// table is a range of Index.pats of its own (so that the lookups of one
// Find, and of the Finds of one class, read a few pages, not the whole
// inventory's table): open addressing over slots of 12 bytes (a tag of
// the key's hash and mask, the list's first entry, and where the rest of
// the list starts in patm), a key checked on its list's first entry, so
// that the keys themselves are not stored. The check is exact: the tag
// holds the key's mask, every entry of a table is a partition of its
// group, and the first entry's features (read from pfeat, not from the
// members' rows) give every field the mask sets. A lookup that finds its
// key reads the slot and the first entry's pfeat, which ranking reads
// anyway; patm only when the first entry cannot be used.

// patRef is a group's pattern table: the group whose partitions its
// entries are (pfeat positions), and its slots pats[off:off+n].
type patRef struct{ g, off, n int32 }

// patSlot is a key's list: first is a pmem position with bit 31 set when
// the second member fills slot 0; the rest, in pmem order, are patm[rest:]
// up to the entry with patLast set (positions only), rest -1 when the
// list has one entry.
type patSlot struct {
	tag   uint32 // 0: empty
	first uint32
	rest  int32
}

func (k patKey) hash() uint64 {
	// The key in three words, folded with wyhash's mix (the high and low
	// halves of a 128-bit product, xored).
	a := uint64(uint32(k.g))<<32 | uint64(uint32(k.v1))
	b := uint64(uint32(k.v2))<<32 | uint64(uint32(k.z1))
	c := uint64(uint32(k.z2))<<8 | uint64(k.mask)
	return wymix(wymix(a^0xa0761d6478bd642f, b^0xe7037ed1a0b428db)^c, 0x8ebc6af09c88c6e3)
}

func wymix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// tagOf is a slot's tag: bits 1-4 the key's mask, bit 0 set (0 is an
// empty slot), the rest from the hash's high half.
func tagOf(h uint64, mask uint8) uint32 { return uint32(h>>32)&^0x1f | uint32(mask&15)<<1 | 1 }

// home is the slot where a lookup of hash h starts in a table of n
// slots: the low half of h scaled to n (Lemire's multiply-shift, so that
// n need not be a power of two).
func home(h uint64, n int32) int32 { return int32(uint64(uint32(h)) * uint64(n) >> 32) }

// patPut adds a key known to be new to its group's table.
func (inv *Inventory) patPut(k patKey, s patSlot) {
	r := inv.idx.pgroups[k.g].pat
	t := inv.idx.pats[r.off : r.off+r.n]
	h := k.hash()
	s.tag = tagOf(h, k.mask)
	for i := home(h, r.n); ; i++ {
		if i == r.n {
			i = 0
		}
		if t[i].tag == 0 {
			t[i] = s
			return
		}
	}
}

// patGet returns the slot of pattern key k in table r (k.g is r.g), nil
// when k has no list.
func (inv *Inventory) patGet(r *patRef, k patKey) *patSlot {
	t := inv.idx.pats[r.off : r.off+r.n]
	h := k.hash()
	tag := tagOf(h, k.mask)
	for i := home(h, r.n); ; i++ {
		if i == r.n {
			i = 0
		}
		sl := &t[i]
		if sl.tag == 0 {
			return nil
		}
		if sl.tag == tag && inv.patMatch(k, sl.first) {
			return sl
		}
	}
}

// patMatch reports whether pattern list entry e (a pmem position of a
// partition of group k.g, with its orientation bit) has the features key
// k sets. With the mask checked by the slot's tag, that makes the key's
// every field equal: the lookup is exact.
func (inv *Inventory) patMatch(k patKey, e uint32) bool {
	f := &inv.idx.pfeat[e&^(1<<31)]
	z0, v0, z1, v1 := f.z0, f.v0, f.z1, f.v1
	if e&(1<<31) != 0 {
		z0, v0, z1, v1 = z1, v1, z0, v0
	}
	return (k.mask&1 == 0 || k.z1 == z0) && (k.mask&2 == 0 || k.v1 == v0) &&
		(k.mask&4 == 0 || k.z2 == z1) && (k.mask&8 == 0 || k.v2 == v1)
}

func (inv *Inventory) buildExplain() {
	x := &inv.idx
	type key struct {
		hk   hardKey
		hw   int32
		st   uint8
		part bool
	}
	count := make(map[key]int32)
	var keys []key
	x.hkCls = make(map[hardKey][]int32)
	for i := range inv.srvs {
		s := &inv.srvs[i]
		if _, ok := stGroup(s.state); !ok {
			continue
		}
		k := key{inv.hardOf(s), s.hw, s.state, inv.grouped(s)}
		if count[k] == 0 {
			keys = append(keys, k)
		}
		count[k]++
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.hw, b.hw), cmp.Compare(a.st, b.st), boolCmp(a.part, b.part))
	})
	x.ecls = make(map[hardKey][]eclass)
	off := int32(0)
	at := make(map[key]int, len(keys))
	for _, k := range keys {
		at[k] = len(x.ecls[k.hk])
		x.ecls[k.hk] = append(x.ecls[k.hk], eclass{hw: k.hw, st: k.st, part: k.part, s: span{off, 0}})
		off += count[k]
		if l := x.hkCls[k.hk]; !k.part && (len(l) == 0 || l[len(l)-1] != k.hw) {
			x.hkCls[k.hk] = append(l, k.hw)
		}
	}
	x.hkModel = make(map[modelKey][]int32)
	for hk, l := range x.hkCls {
		for _, hw := range l {
			k := modelKey{hk, inv.hw[hw].CPUModel}
			x.hkModel[k] = append(x.hkModel[k], hw)
		}
	}
	x.emem = make([]int32, off)
	x.mixed = make(map[hardKey][]int32)
	for i := range inv.srvs {
		s := &inv.srvs[i]
		if _, ok := stGroup(s.state); !ok {
			continue
		}
		if inv.grouped(s) && inv.ls[s.ls].state == lsOther {
			hk := inv.hardOf(s)
			x.mixed[hk] = append(x.mixed[hk], int32(i))
		}
		k := key{inv.hardOf(s), s.hw, s.state, inv.grouped(s)}
		e := &x.ecls[k.hk][at[k]]
		x.emem[e.s.off+e.s.n] = int32(i)
		e.s.n++
	}
	x.eclsModel = make(map[modelKey][]eclass)
	x.eclsN = make(map[hardKey][2]int32)
	x.eclsModelN = make(map[modelKey][2]int32)
	for hk, l := range x.ecls {
		for _, e := range l {
			mk := modelKey{hk, inv.hw[e.hw].CPUModel}
			x.eclsModel[mk] = append(x.eclsModel[mk], e)
			gi := 0
			if e.st == stActive {
				gi = 1
			}
			n, nm := x.eclsN[hk], x.eclsModelN[mk]
			n[gi] += e.s.n
			nm[gi] += e.s.n
			x.eclsN[hk], x.eclsModelN[mk] = n, nm
		}
	}
}

func (inv *Inventory) buildCombos() {
	x := &inv.idx
	x.usableBy = make(map[hardKey][]int32)
	x.lendBy = make(map[hardKey][]int32)
	inv.usableCombos = inv.usableCombos[:0]
	for ci, c := range inv.combos {
		if len(c) < 2 {
			continue
		}
		usable, lendable := true, true
		active := 0
		for _, m := range c {
			s := &inv.srvs[m]
			if inv.grouped(s) {
				usable, lendable = false, false
				break
			}
			switch s.state {
			case stStandby:
			case stActive:
				usable = false
				active++
			default:
				usable, lendable = false, false
			}
		}
		if !usable && !(lendable && active > 0) {
			continue
		}
		if usable {
			inv.usableCombos = append(inv.usableCombos, int32(ci))
		}
		var hks []hardKey
		for _, m := range c {
			if hk := inv.hardOf(&inv.srvs[m]); !slices.Contains(hks, hk) {
				hks = append(hks, hk)
			}
		}
		for _, hk := range hks {
			if usable {
				x.usableBy[hk] = append(x.usableBy[hk], int32(ci))
			} else {
				x.lendBy[hk] = append(x.lendBy[hk], int32(ci))
			}
		}
	}
}

func (inv *Inventory) buildWorkloads() {
	x := &inv.idx
	x.wlActive = make(map[int32]int32)
	x.wlMin = make(map[int32]int)
	for li := range inv.ls {
		l := &inv.ls[li]
		w := inv.srvs[inv.members[l.first]].work
		if l.state == lsActive {
			x.wlActive[w]++
		}
		if m := inv.policies[l.pol].ScaleInMin; m > 0 && m > x.wlMin[w] {
			x.wlMin[w] = m
		}
	}
}

// groupVL returns the members of group g with VLAN set v.
func (inv *Inventory) groupVL(g, v int32) []int32 {
	x := &inv.idx
	gr := &x.groups[g]
	vl := x.vsp[gr.vl.off : gr.vl.off+gr.vl.n]
	// A binary search written out (slices.BinarySearchFunc calls its
	// comparison per step: a third of an exact Find on a group of many
	// VLAN sets).
	lo, n := 0, len(vl)
	for n > 1 {
		h := n / 2
		if vl[lo+h-1].vlans < v {
			lo += h
		}
		n -= h
	}
	if n == 0 || vl[lo].vlans != v {
		return nil
	}
	s := vl[lo].s
	return x.gmem[s.off : s.off+s.n]
}

func (inv *Inventory) spanOf(s span) []int32 { return inv.idx.gmem[s.off : s.off+s.n] }

// classGroups returns the groups of class (hw, arr, sw) in state st, by
// priority then workload.
func (inv *Inventory) classGroups(hw, arr, sw int32, st uint8) []int32 {
	sp, ok := inv.idx.cls[ckey{hw, arr, sw, st}]
	if !ok {
		return nil
	}
	return inv.idx.cgs[sp.off : sp.off+sp.n]
}

// sigGroups returns the partition groups of signature sig in state st, by
// priority then workload.
func (inv *Inventory) sigGroups(sig int32, st uint8) []int32 {
	var sp span
	if st <= stStandby {
		sp = inv.idx.sigCG[int(sig)*2+int(st)]
	} else {
		var ok bool
		if sp, ok = inv.idx.pcls[ckey{sig, -1, -1, st}]; !ok {
			return nil
		}
	}
	return inv.idx.cgs[sp.off : sp.off+sp.n]
}

func (inv *Inventory) pgroupLS(g int32) []int32 {
	p := &inv.idx.pgroups[g]
	return inv.idx.pmem[p.all.off : p.all.off+p.all.n]
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
