package search

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Option configures NewInventory.
type Option func(*config)

type config struct {
	// smallGroups overrides the sizes up to which groups are read whole
	// (tests; 0: the defaults, negative: none).
	smallGroups int
	policies    []serverPolicy
	workloads   []workloadPolicy
	combos      [][]ServerID
	optionErrs  []string
}

type serverPolicy struct {
	id ServerID
	p  Policy
}

type workloadPolicy struct {
	workload string
	p        Policy
}

// WithPolicy sets the search policy of one server. A policy set on a
// partition member applies to the whole logical server; members of one
// partition must not be given different policies. Given twice for the same
// server, the last one wins.
func WithPolicy(id ServerID, p Policy) Option {
	return func(c *config) { c.policies = append(c.policies, serverPolicy{id, p}) }
}

// WithWorkloadPolicy sets the policy of every server running workload; a
// WithPolicy for the server itself takes precedence.
func WithWorkloadPolicy(workload string, p Policy) Option {
	return func(c *config) { c.workloads = append(c.workloads, workloadPolicy{workload, p}) }
}

// WithCombination registers one allowed combination of the patent's
// partition-configurable table: a set of servers that may be composed into
// one logical server. Recomposition uses a combination whole, and only while
// all its servers are standalone Standby servers; register subsets
// separately if they may be composed on their own. A combination of one
// server is accepted and has no effect.
func WithCombination(ids ...ServerID) Option {
	ids = slices.Clone(ids)
	return func(c *config) { c.combos = append(c.combos, ids) }
}

// state codes of the compact representation.
const (
	stActive uint8 = iota
	stStandby
	stFailed
	stReserved
	stMaintenance
)

var stateNames = [...]State{Active, Standby, Failed, Reserved, Maintenance}

func stateCode(s State) uint8 {
	switch s {
	case Active:
		return stActive
	case Standby:
		return stStandby
	case Failed:
		return stFailed
	case Reserved:
		return stReserved
	}
	return stMaintenance
}

// srv is the compact form of a Server (about 56 bytes).
type srv struct {
	id                ServerID
	prio              int32
	hw, sw, arr, zone int32
	vlans, work, ls   int32
	part              int32 // index into Inventory.partNames, -1 = standalone
	state             uint8
	// zflags: its zone's bits 0-2 of index.zbits (shared, big for
	// Standby, big for Active), so that a request node's zone is judged
	// from the row Find reads anyway.
	zflags uint8
	// mate: for a member of a two-server logical server, the other
	// member's index less this one's, when it fits (0 otherwise: read
	// Inventory.members), so that Find reads both rows without reading
	// the logical server's member list.
	mate int16
	pol  int32 // its logical server's policy (a copy of lserver.pol)
	// xg: the exact stage's only group, so that Find reads it from the
	// row: for a standalone server the Standby group of its class, disk
	// array and switch (index.gidx), for a member of a partition the
	// Standby partition group of its partition's own signature; -1 when
	// there is none.
	xg int32
}

// pair returns the members of i's two-server logical server in member
// order (index order), read from the rows' mate; false when i's row does
// not have it.
func (inv *Inventory) pair(i int32) ([2]int32, bool) {
	d := int32(inv.srvs[i].mate)
	switch {
	case d > 0:
		return [2]int32{i, i + d}, true
	case d < 0:
		return [2]int32{i + d, i}, true
	}
	return [2]int32{}, false
}

// sharedZone reports whether s's zone has two servers or more.
func (s *srv) sharedZone() bool { return s.zflags&1 != 0 }

// bigZone reports whether s's zone has more than smallZone servers in
// state st (Standby, else Active): its members are then read through
// per-group lists.
func (s *srv) bigZone(st uint8) bool {
	if st == stStandby {
		return s.zflags&2 != 0
	}
	return s.zflags&4 != 0
}

// logical-server states.
const (
	lsStandby uint8 = iota
	lsActive
	lsOther
)

type lserver struct {
	first, n int32 // members: Inventory.members[first : first+n]
	pol      int32 // index into Inventory.policies; 0 = the zero Policy
	state    uint8
}

type hardKey struct{ arr, chip, nic, hba int32 }

// hwClass is what classReason reads of a class: an explanation reads it
// for every class of a hard key, so it is kept apart from hwInfo (whose
// entries are five times the size), in one small array.
type hwClass struct {
	model, mhz int32 // hwInfo.model, CPUMHz (at most maxMHz)
	mem        int64
}

type hwInfo struct {
	Hardware
	chip int32
	// model is CPUModel interned (an index into Inventory.strs, -1 for a
	// model no server has): the hot checks compare it, not the string,
	// whose bytes are elsewhere in memory.
	model int32
}

// Inventory is an immutable snapshot of the server management table, the
// composition table and the search policies. Build it with NewInventory;
// all methods are safe for concurrent use.
type Inventory struct {
	srvs      []srv // sorted by ID
	byID      idTable
	hw        []hwInfo
	hwc       []hwClass // per hw, what classReason reads, packed
	strs      []string  // interned switch, disk array, zone, workload, chipset and CPU model names
	vlanSets  [][]int
	partNames []PartitionID
	ls        []lserver
	lsIdx     []int32 // 0, 1, 2, ...: backing store for one-element slices
	ident     []int32 // 0, 1, 2, ... per server: the same
	members   []int32 // server indexes, grouped per logical server, ID order
	policies  []Policy
	combos    [][]int32 // server indexes, ID order
	// usable combos: size >= 2, all members standalone Standby.
	usableCombos []int32

	idx     index
	smallPG int // see smallPGroup
	smallG  int // see smallGroup
	hwIdx   map[Hardware]int32
	// For scale templates: the interned strings sorted, the VLAN sets,
	// and the policy of each workload given WithWorkloadPolicy.
	strSorted []int32
	vlanIdx   map[string]int32
	wlPolicy  map[int32]int32
	counts    map[countKey]int32 // for explanations
	nStandby  int
	nActive   int
	minPrio   int // the lowest priority of an Active server (0: none)
	// the largest magnitude of an Active server's priority, and the most
	// members of a logical server in service (bounds of option terms)
	maxPrio, maxLS int

	opts []Option // kept for With
}

// countKey counts servers by group (standby or active) and a prefix of the
// hard key; -1 is a wildcard.
type countKey struct {
	g                   uint8
	arr, chip, nic, hba int32
}

type interner struct {
	m    map[string]int32
	strs *[]string
}

func (in interner) id(s string) int32 {
	if v, ok := in.m[s]; ok {
		return v
	}
	v := int32(len(*in.strs))
	*in.strs = append(*in.strs, s)
	in.m[s] = v
	return v
}

// Upper bounds on sizes: far above any real server, low enough that sums
// over an inventory cannot overflow.
const (
	maxMHz   = 1 << 20        // 1 THz
	maxMiB   = int64(1 << 40) // 1 EiB
	maxPorts = 1 << 16
)

// MaxPriority bounds a priority's magnitude (a Server's, a scale-out's):
// far above any real ranking, low enough that a round's sums of victims'
// priorities cannot overflow, and the largest int where int has 32 bits.
const MaxPriority = 1<<31 - 1

func invalid(format string, args ...any) error {
	return fmt.Errorf("search: "+format+": %w", append(args, ErrInvalid)...)
}

// NewInventory validates servers and builds an immutable, indexed snapshot.
// The input slice is not retained (VLAN slices are copied). The cost is
// O(n log n) in the number of servers (some 150-250 ms for 100,000 servers
// on a small shared machine, less when the input is already sorted by ID),
// and it keeps 160 to 250 bytes per server depending on the shape (an ID
// table with a copy of the IDs, each padded to a multiple of 8 bytes, a
// compact record and the search indexes; see the package documentation's
// Index; small inventories pay a fixed overhead on top).
//
// It returns an error wrapping ErrInvalid for an empty or duplicate ID, an
// unknown State, a negative or absurd (above 1 THz, 1 EiB, 65536 ports) CPU
// MHz, memory size or port count, a VLAN outside 0-4094, members of one partition that disagree on Workload or
// Priority or have conflicting policies, and unknown or duplicate IDs in
// WithPolicy or WithCombination.
func NewInventory(servers []Server, opts ...Option) (*Inventory, error) {
	var cfg config
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	inv := &Inventory{opts: slices.Clone(opts), smallPG: smallPGroup, smallG: smallGroup}
	if cfg.smallGroups != 0 {
		inv.smallPG, inv.smallG = max(cfg.smallGroups, -1), max(cfg.smallGroups, -1)
	}
	type keyed struct {
		id ServerID
		i  int32
	}
	ks := make([]keyed, len(servers))
	for i := range servers {
		ks[i] = keyed{servers[i].ID, int32(i)}
	}
	byID := func(a, b keyed) int { return cmp.Compare(a.id, b.id) }
	if !slices.IsSortedFunc(ks, byID) {
		slices.SortFunc(ks, byID)
	}
	order := make([]int32, len(servers))
	for k := range ks {
		order[k] = ks[k].i
	}
	ks = nil

	strIn := interner{m: make(map[string]int32), strs: &inv.strs}
	hwIdx := make(map[Hardware]int32)
	vlanIdx := make(map[string]int32)
	partIdx := make(map[PartitionID]int32)
	inv.srvs = make([]srv, len(servers))
	var vbuf []int
	var kb []byte
	for k, oi := range order {
		s := &servers[oi]
		if s.ID == "" {
			return nil, invalid("server %d: empty ID", oi)
		}
		if k > 0 && servers[order[k-1]].ID == s.ID {
			return nil, invalid("duplicate server ID %q", s.ID)
		}
		if !s.State.valid() {
			return nil, invalid("server %s: unknown state %q", s.ID, s.State)
		}
		h := s.Hardware
		if h.CPUMHz < 0 || h.MemoryMiB < 0 || h.NICPorts < 0 || h.HBAPorts < 0 {
			return nil, invalid("server %s: negative hardware size", s.ID)
		}
		if h.CPUMHz > maxMHz || int64(h.MemoryMiB) > maxMiB || h.NICPorts > maxPorts || h.HBAPorts > maxPorts {
			return nil, invalid("server %s: hardware size out of range", s.ID)
		}
		if s.Priority > MaxPriority || s.Priority < -MaxPriority {
			return nil, invalid("server %s: priority %d out of range (±%d)", s.ID, s.Priority, MaxPriority)
		}
		hw, ok := hwIdx[h]
		if !ok {
			hw = int32(len(inv.hw))
			hwIdx[h] = hw
			inv.hw = append(inv.hw, hwInfo{Hardware: h, chip: strIn.id(h.Chipset), model: strIn.id(h.CPUModel)})
			inv.hwc = append(inv.hwc, hwClass{model: inv.hw[hw].model, mhz: int32(h.CPUMHz), mem: int64(h.MemoryMiB)})
		}
		vbuf = append(vbuf[:0], s.VLANs...)
		slices.Sort(vbuf)
		vbuf = slices.Compact(vbuf)
		kb = kb[:0]
		for _, v := range vbuf {
			if v < 0 || v > 4094 {
				return nil, invalid("server %s: VLAN %d out of range", s.ID, v)
			}
			kb = strconv.AppendInt(kb, int64(v), 10)
			kb = append(kb, ',')
		}
		vl, ok := vlanIdx[string(kb)]
		if !ok {
			vl = int32(len(inv.vlanSets))
			vlanIdx[string(kb)] = vl
			inv.vlanSets = append(inv.vlanSets, slices.Clone(vbuf))
		}
		part := int32(-1)
		if s.Partition != "" {
			p, ok := partIdx[s.Partition]
			if !ok {
				p = int32(len(inv.partNames))
				partIdx[s.Partition] = p
				inv.partNames = append(inv.partNames, s.Partition)
			}
			part = p
		}
		inv.srvs[k] = srv{
			id: s.ID, prio: int32(s.Priority), hw: hw, // Priority is validated: within ±MaxPriority
			sw: strIn.id(s.Switch), arr: strIn.id(s.DiskArray), zone: strIn.id(s.Zone),
			vlans: vl, work: strIn.id(s.Workload), part: part, state: stateCode(s.State),
		}
	}

	inv.byID = newIDTable(inv.srvs)

	// Logical servers: standalone servers, then partitions, in order of
	// their first member's ID.
	partLS := make([]int32, len(inv.partNames))
	for i := range partLS {
		partLS[i] = -1
	}
	partCount := make([]int32, len(inv.partNames))
	for i := range inv.srvs {
		if p := inv.srvs[i].part; p >= 0 {
			partCount[p]++
		}
	}
	inv.ls = make([]lserver, 0, len(inv.srvs)-sumPartExtra(partCount))
	inv.members = make([]int32, len(inv.srvs))
	next := int32(0)
	fill := make([]int32, len(inv.partNames))
	for i := range inv.srvs {
		s := &inv.srvs[i]
		if s.part < 0 {
			s.ls = int32(len(inv.ls))
			inv.ls = append(inv.ls, lserver{first: next, n: 1})
			inv.members[next] = int32(i)
			next++
			continue
		}
		if partLS[s.part] < 0 {
			partLS[s.part] = int32(len(inv.ls))
			inv.ls = append(inv.ls, lserver{first: next, n: partCount[s.part]})
			next += partCount[s.part]
		}
		s.ls = partLS[s.part]
		l := &inv.ls[s.ls]
		m0 := inv.srvs[inv.members[l.first]]
		if fill[s.part] > 0 && (m0.work != s.work || m0.prio != s.prio) {
			return nil, invalid("partition %s: members %s and %s disagree on workload or priority", inv.partNames[s.part], m0.id, s.id)
		}
		inv.members[l.first+fill[s.part]] = int32(i)
		fill[s.part]++
	}
	for li := range inv.ls {
		if l := &inv.ls[li]; l.n == 2 {
			m0, m1 := inv.members[l.first], inv.members[l.first+1]
			if d := m1 - m0; d <= math.MaxInt16 {
				inv.srvs[m0].mate, inv.srvs[m1].mate = int16(d), int16(-d)
			}
		}
	}
	// Policies: index 0 is the zero policy.
	inv.policies = []Policy{{}}
	polIdx := map[Policy]int32{{}: 0}
	polOf := func(p Policy) int32 {
		if v, ok := polIdx[p]; ok {
			return v
		}
		v := int32(len(inv.policies))
		inv.policies = append(inv.policies, p)
		polIdx[p] = v
		return v
	}
	checkPol := func(p Policy) error {
		if p.MinCPUMHz < 0 || p.MinMemoryMiB < 0 || p.ScaleInMin < 0 || p.MinCPUMHz > maxMHz || int64(p.MinMemoryMiB) > maxMiB {
			return invalid("policy: minimum out of range")
		}
		return nil
	}
	if len(cfg.workloads) > 0 {
		wp := make(map[int32]int32)
		for _, w := range cfg.workloads {
			if err := checkPol(w.p); err != nil {
				return nil, err
			}
			wp[strIn.id(w.workload)] = polOf(w.p)
		}
		inv.wlPolicy = wp
		for li := range inv.ls {
			if p, ok := wp[inv.srvs[inv.members[inv.ls[li].first]].work]; ok {
				inv.ls[li].pol = p
			}
		}
	}
	if len(cfg.policies) > 0 {
		per := make(map[int32]serverPolicy) // server -> last policy
		for _, sp := range cfg.policies {
			i, ok := inv.index(sp.id)
			if !ok {
				return nil, invalid("policy for unknown server %q", sp.id)
			}
			if err := checkPol(sp.p); err != nil {
				return nil, fmt.Errorf("search: server %s: %w", sp.id, ErrInvalid)
			}
			per[i] = sp
		}
		keys := make([]int32, 0, len(per))
		for k := range per {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		set := make(map[int32]ServerID)
		for _, i := range keys {
			li := inv.srvs[i].ls
			p := polOf(per[i].p)
			if prev, ok := set[li]; ok && inv.ls[li].pol != p {
				return nil, invalid("servers %s and %s of one partition have different policies", prev, inv.srvs[i].id)
			}
			set[li] = inv.srvs[i].id
			inv.ls[li].pol = p
		}
	}

	// Combinations.
	for ci, c := range cfg.combos {
		if len(c) == 0 {
			return nil, invalid("combination %d is empty", ci)
		}
		idx := make([]int32, len(c))
		for k, id := range c {
			i, ok := inv.index(id)
			if !ok {
				return nil, invalid("combination %d: unknown server %q", ci, id)
			}
			idx[k] = i
		}
		slices.Sort(idx)
		for k := 1; k < len(idx); k++ {
			if idx[k] == idx[k-1] {
				return nil, invalid("combination %d: server %q twice", ci, inv.srvs[idx[k]].id)
			}
		}
		inv.combos = append(inv.combos, idx)
	}
	for i := range inv.srvs {
		inv.srvs[i].pol = inv.ls[inv.srvs[i].ls].pol
	}
	slices.SortFunc(inv.combos, func(a, b []int32) int { return slices.Compare(a, b) })
	inv.combos = slices.CompactFunc(inv.combos, func(a, b []int32) bool { return slices.Equal(a, b) })
	inv.hwIdx = hwIdx
	inv.vlanIdx = vlanIdx
	inv.strSorted = make([]int32, len(inv.strs))
	for k := range inv.strSorted {
		inv.strSorted[k] = int32(k)
	}
	slices.SortFunc(inv.strSorted, func(a, b int32) int { return cmp.Compare(inv.strs[a], inv.strs[b]) })
	inv.lsIdx = make([]int32, len(inv.ls))
	for li := range inv.lsIdx {
		inv.lsIdx[li] = int32(li)
	}
	inv.ident = make([]int32, len(inv.srvs))
	for i := range inv.ident {
		inv.ident[i] = int32(i)
	}
	inv.derive()
	return inv, nil
}

// derive computes everything that depends on the servers' states: the
// logical servers' states, the usable combinations and the indexes.
func (inv *Inventory) derive() {
	for li := range inv.ls {
		l := &inv.ls[li]
		st := inv.srvs[inv.members[l.first]].state
		l.state = lsOther
		if st == stStandby || st == stActive {
			l.state = lsActive
			if st == stStandby {
				l.state = lsStandby
			}
			for _, m := range inv.members[l.first : l.first+l.n] {
				if inv.srvs[m].state != st {
					l.state = lsOther
				}
			}
		}
	}

	inv.countStates()
	inv.buildIndexes()
}

func sumPartExtra(counts []int32) int {
	n := 0
	for _, c := range counts {
		n += int(c) - 1
	}
	return n
}

// grouped reports whether s belongs to a logical server of several nodes;
// a partition of one node is treated as a standalone server.
func (inv *Inventory) grouped(s *srv) bool { return inv.ls[s.ls].n > 1 }

func (inv *Inventory) hardOf(s *srv) hardKey {
	h := &inv.hw[s.hw]
	return hardKey{s.arr, h.chip, int32(h.NICPorts), int32(h.HBAPorts)}
}

// countStates counts Standby and Active servers by hard-key prefix, for
// explanations.
func (inv *Inventory) countStates() {
	inv.counts = make(map[countKey]int32)
	inv.nStandby, inv.nActive, inv.minPrio = 0, 0, 0
	inv.maxPrio, inv.maxLS = 0, 0
	for i := range inv.srvs {
		s := &inv.srvs[i]
		var g uint8
		switch s.state {
		case stStandby:
			g = 0
			inv.nStandby++
		case stActive:
			g = 1
			if inv.nActive == 0 || int(s.prio) < inv.minPrio {
				inv.minPrio = int(s.prio)
			}
			inv.maxPrio = max(inv.maxPrio, int(s.prio), -int(s.prio))
			inv.nActive++
		default:
			continue
		}
		inv.maxLS = max(inv.maxLS, int(inv.ls[s.ls].n))
		hk := inv.hardOf(s)
		inv.counts[countKey{g, hk.arr, -1, -1, -1}]++
		inv.counts[countKey{g, hk.arr, hk.chip, -1, -1}]++
		inv.counts[countKey{g, hk.arr, hk.chip, hk.nic, -1}]++
		inv.counts[countKey{g, hk.arr, hk.chip, hk.nic, hk.hba}]++
	}
}

// index returns the position of id in srvs.
func (inv *Inventory) index(id ServerID) (int32, bool) {
	return inv.byID.lookup(inv.srvs, id)
}

// Len returns the number of servers in the inventory.
func (inv *Inventory) Len() int { return len(inv.srvs) }

// Server returns the server with the given ID as it was given to
// NewInventory (VLANs sorted and deduplicated, in a fresh slice).
func (inv *Inventory) Server(id ServerID) (Server, bool) {
	i, ok := inv.index(id)
	if !ok {
		return Server{}, false
	}
	return inv.server(i), true
}

func (inv *Inventory) server(i int32) Server {
	s := &inv.srvs[i]
	out := Server{
		ID: s.id, Hardware: inv.hw[s.hw].Hardware,
		Switch: inv.strs[s.sw], DiskArray: inv.strs[s.arr], Zone: inv.strs[s.zone],
		VLANs: slices.Clone(inv.vlanSets[s.vlans]), State: stateNames[s.state],
		Workload: inv.strs[s.work], Priority: int(s.prio),
	}
	if s.part >= 0 {
		out.Partition = inv.partNames[s.part]
	}
	return out
}

// Servers returns every server in ID order.
func (inv *Inventory) Servers() []Server {
	out := make([]Server, len(inv.srvs))
	for i := range inv.srvs {
		out[i] = inv.server(int32(i))
	}
	return out
}

// With returns a new Inventory in which each update replaces the server with
// the same ID (or adds it), keeping the options given to NewInventory. The
// receiver is unchanged. This is how the Orchestrator marks spares Reserved
// or Maintenance.
//
// When every update only changes the State of an existing server, the
// snapshot's interned tables and validation are reused and only the
// state-dependent indexes are rebuilt (about half of NewInventory's
// cost: some 140 ms for 100,000 servers on a small shared machine);
// otherwise it is NewInventory over the merged servers. Both are O(n):
// batch the updates of one planning round into one call.
func (inv *Inventory) With(updates ...Server) (*Inventory, error) {
	if next, ok := inv.withStates(updates); ok {
		return next, nil
	}
	all := inv.Servers()
	for _, u := range updates {
		i, ok := inv.index(u.ID)
		if ok {
			all[i] = u
		} else {
			all = append(all, u)
		}
	}
	return NewInventory(all, inv.opts...)
}

// withStates is With's fast path for state-only updates.
func (inv *Inventory) withStates(updates []Server) (*Inventory, bool) {
	type change struct {
		i  int32
		st uint8
	}
	changes := make([]change, 0, len(updates))
	for _, u := range updates {
		i, ok := inv.index(u.ID)
		if !ok || !u.State.valid() {
			return nil, false
		}
		cur := inv.server(i)
		cur.State = u.State
		if !sameServer(cur, u) {
			return nil, false
		}
		changes = append(changes, change{i, stateCode(u.State)})
	}
	next := &Inventory{
		hw: inv.hw, hwc: inv.hwc, strs: inv.strs, vlanSets: inv.vlanSets, partNames: inv.partNames, byID: inv.byID,
		members: inv.members, lsIdx: inv.lsIdx, ident: inv.ident, policies: inv.policies, combos: inv.combos, opts: inv.opts,
		smallPG: inv.smallPG, smallG: inv.smallG, hwIdx: inv.hwIdx, strSorted: inv.strSorted, vlanIdx: inv.vlanIdx, wlPolicy: inv.wlPolicy,
		srvs: slices.Clone(inv.srvs), ls: slices.Clone(inv.ls),
	}
	for _, c := range changes {
		next.srvs[c.i].state = c.st
	}
	next.derive()
	return next, true
}

func sameServer(a, b Server) bool {
	va, vb := slices.Clone(a.VLANs), slices.Clone(b.VLANs)
	slices.Sort(vb)
	vb = slices.Compact(vb)
	return a.ID == b.ID && a.Hardware == b.Hardware && a.Switch == b.Switch && a.DiskArray == b.DiskArray &&
		a.Zone == b.Zone && a.State == b.State && a.Workload == b.Workload && a.Priority == b.Priority &&
		a.Partition == b.Partition && slices.Equal(va, vb)
}

func (inv *Inventory) lsMembers(li int32) []int32 {
	l := &inv.ls[li]
	return inv.members[l.first : l.first+l.n]
}

// withSmallGroups sets the size up to which standalone and partition
// groups are read whole (negative: none; every group gets its lists).
func withSmallGroups(n int) Option { return func(c *config) { c.smallGroups = n } }
