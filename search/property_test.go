package search

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// instance is a random small inventory with failures and, sometimes, a
// scale request.
type instance struct {
	servers  []Server
	opts     []Option
	policies map[ServerID]Policy
	failed   []ServerID
	scale    []ScaleRequest
}

var propHW = []Hardware{
	{CPUModel: "A", CPUMHz: 2000, MemoryMiB: 32768, Chipset: "c1", NICPorts: 2, HBAPorts: 2},
	{CPUModel: "A", CPUMHz: 2400, MemoryMiB: 65536, Chipset: "c1", NICPorts: 2, HBAPorts: 2},
	{CPUModel: "B", CPUMHz: 2400, MemoryMiB: 32768, Chipset: "c1", NICPorts: 2, HBAPorts: 2},
	{CPUModel: "A", CPUMHz: 2000, MemoryMiB: 32768, Chipset: "c2", NICPorts: 4, HBAPorts: 2},
}

// knobs bias randInstance.
type knobs struct {
	maxSpares, maxVictims, maxLent int
	preempt                        int // in 1/4: a failure's policy has Preempt
	scaleIn                        int // in 1/3: a victim workload tolerates scale-in
	pairs                          int // in 1/5: a failed logical server has two nodes
	ownZone                        int // in 1/4: a server's zone is its own (0: never, no draw)
}

var plainKnobs = knobs{maxSpares: 13, maxVictims: 6, maxLent: 4, preempt: 2, scaleIn: 1, pairs: 1}

// lendKnobs bias toward lending and scale-in: few spares, more victims
// sharing workloads that tolerate scale-in, more combinations that lend,
// and failures whose policy preempts more often.
var lendKnobs = knobs{maxSpares: 5, maxVictims: 9, maxLent: 7, preempt: 3, scaleIn: 2, pairs: 3}

func randInstance(rng *rand.Rand) instance { return randInstanceWith(rng, plainKnobs) }

func randInstanceWith(rng *rand.Rand, kn knobs) instance {
	var in instance
	in.policies = make(map[ServerID]Policy)
	nextID := 0
	newID := func(prefix string) ServerID {
		nextID++
		return ServerID(fmt.Sprintf("%s%02d", prefix, nextID))
	}
	pick := func(p []string) string { return p[rng.IntN(len(p))] }
	hw := func() Hardware {
		switch rng.IntN(10) {
		case 0:
			return propHW[3]
		case 1, 2:
			return propHW[1]
		case 3:
			return propHW[2]
		}
		return propHW[0]
	}
	base := func(id ServerID, st State, prio int, work string) Server {
		arr := "a1"
		if rng.IntN(8) == 0 {
			arr = "a2"
		}
		sv := Server{
			ID: id, Hardware: hw(), Switch: pick([]string{"s1", "s1", "s1", "s2"}), DiskArray: arr,
			Zone: pick([]string{"z1", "z2"}), VLANs: [][]int{{10}, {20}, {10, 20}}[rng.IntN(3)],
			State: st, Workload: work, Priority: prio,
		}
		if kn.ownZone > 0 && rng.IntN(4) < kn.ownZone {
			sv.Zone = "z-" + string(id)
		}
		return sv
	}
	addLogical := func(prefix string, st State, prio int, work string) []ServerID {
		size := 1
		if r := rng.IntN(5); r == 0 || (prefix == "f" && r < kn.pairs) {
			size = 2
		}
		var ids []ServerID
		part := PartitionID("")
		if size > 1 || rng.IntN(10) == 0 { // a partition of one is standalone
			part = PartitionID(fmt.Sprintf("p-%s%d", prefix, nextID))
		}
		for range size {
			s := base(newID(prefix), st, prio, work)
			s.Partition = part
			in.servers = append(in.servers, s)
			ids = append(ids, s.ID)
		}
		return ids
	}
	randPolicy := func() Policy {
		if rng.IntN(3) == 0 {
			return Policy{}
		}
		var p Policy
		if rng.IntN(2) == 0 {
			p.MinCPUMHz = []int{2000, 2400}[rng.IntN(2)]
		}
		if rng.IntN(2) == 0 {
			p.MinMemoryMiB = []int{32768, 65536}[rng.IntN(2)]
		}
		p.AnyCPUModel = rng.IntN(2) == 0
		p.AllowPartitionMismatch = rng.IntN(3) == 0
		p.AnySwitch = rng.IntN(2) == 0
		p.Preempt = rng.IntN(4) < kn.preempt
		if rng.IntN(4) == 0 {
			p.ScaleInMin = 1 + rng.IntN(2)
		}
		return p
	}
	nFail := 1 + rng.IntN(8)
	for range nFail {
		prio := []int{10, 20, 30}[rng.IntN(3)]
		st := Failed
		if rng.IntN(4) == 0 {
			st = Active
		}
		ids := addLogical("f", st, prio, fmt.Sprintf("w%d", prio))
		in.failed = append(in.failed, ids[rng.IntN(len(ids))])
		if p := randPolicy(); p != (Policy{}) {
			in.policies[ids[0]] = p
			in.opts = append(in.opts, WithPolicy(ids[0], p))
		}
	}
	nSpare := rng.IntN(kn.maxSpares)
	var standalone []ServerID
	for count := 0; count < nSpare; {
		ids := addLogical("s", Standby, 0, "")
		count += len(ids)
		if len(ids) == 1 {
			standalone = append(standalone, ids[0])
		}
	}
	for range rng.IntN(6) {
		if len(standalone) < 2 {
			break
		}
		k := 2
		if rng.IntN(4) == 0 {
			k = min(3, len(standalone))
		}
		perm := rng.Perm(len(standalone))[:k]
		var c []ServerID
		for _, p := range perm {
			c = append(c, standalone[p])
		}
		in.opts = append(in.opts, WithCombination(c...))
	}
	var victims, lone []ServerID
	for range rng.IntN(kn.maxVictims) {
		prio := []int{5, 10, 20, 40}[rng.IntN(4)]
		ids := addLogical("v", Active, prio, fmt.Sprintf("w%d", prio))
		victims = append(victims, ids[0])
		if len(ids) == 1 {
			lone = append(lone, ids[0])
		}
		if rng.IntN(3) == 0 {
			p := randPolicy()
			in.policies[ids[0]] = p
			in.opts = append(in.opts, WithPolicy(ids[0], p))
		}
	}
	// Workloads that tolerate being scaled in.
	for _, prio := range []int{5, 10, 20, 40} {
		if rng.IntN(3) < kn.scaleIn {
			in.opts = append(in.opts, WithWorkloadPolicy(fmt.Sprintf("w%d", prio), Policy{ScaleInMin: 1 + rng.IntN(2)}))
		}
	}
	// Combinations that lend: a standby server and a victim, or two
	// victims.
	for range rng.IntN(kn.maxLent) {
		if len(lone) == 0 {
			break
		}
		pool := append(slices.Clone(standalone), lone...)
		v := lone[rng.IntN(len(lone))]
		o := pool[rng.IntN(len(pool))]
		if o != v {
			in.opts = append(in.opts, WithCombination(v, o))
		}
	}
	for range rng.IntN(3) {
		in.servers = append(in.servers, base(newID("m"), []State{Maintenance, Reserved}[rng.IntN(2)], 0, ""))
	}
	// Sometimes a scale request too.
	if rng.IntN(4) == 0 {
		var r ScaleRequest
		switch k := rng.IntN(3); {
		case k == 0 && len(victims) > 0:
			r = ScaleRequest{Kind: ScaleOut, Like: victims[rng.IntN(len(victims))], Count: 1 + rng.IntN(2)}
		case k == 1 && len(victims) > 0:
			r = ScaleRequest{Kind: ScaleUp, Like: victims[rng.IntN(len(victims))], MinMemoryMiB: 65536 << rng.IntN(2)}
		default:
			t := base("", Active, 0, "")
			r = ScaleRequest{Kind: ScaleOut, Template: []Server{t}, Priority: []int{15, 25, 45}[rng.IntN(3)], Workload: "new"}
		}
		if rng.IntN(2) == 0 {
			p := randPolicy()
			r.Policy = &p
		}
		in.scale = append(in.scale, r)
	}
	return in
}

// vec is a cost vector compared lexicographically.
type vec []int64

func (v vec) less(w vec) bool { return slices.Compare(v, w) < 0 }

// jointVec is the objective vector of a choice (levels: FindJoint's
// priority levels, failures first), with the interrupted victims counted
// jointly: a workload's victims beyond its scale-in budget.
func jointVec(inv *Inventory, reqs []request, chosen []*option) vec {
	return jointVecInto(nil, inv, reqs, chosen)
}

func levelCount(reqs []request) int {
	n := 0
	for _, r := range reqs {
		n = max(n, r.level+1)
	}
	return n
}

func jointVecInto(v vec, inv *Inventory, reqs []request, chosen []*option) vec {
	L := levelCount(reqs)
	if v == nil {
		v = make(vec, L+termCount)
	}
	clear(v)
	var budget map[int32]int
	if len(reqs) > 0 {
		budget = inv.budgets(reqs[0].excluded)
	}
	victims := make(map[int32]int)
	for k, r := range reqs {
		if chosen[k] == nil {
			v[r.level]++
			continue
		}
		t := terms(chosen[k])
		t[3] = 0
		for i := range t {
			v[L+i] += t[i]
		}
		if chosen[k].stage == stgPreempt {
			for _, li := range chosen[k].res {
				if inv.ls[li].state == lsActive {
					victims[inv.srvs[inv.members[inv.ls[li].first]].work]++
				}
			}
		}
	}
	for w, c := range victims {
		v[L+3] += int64(max(0, c-budget[w]))
	}
	return v
}

// bruteForce enumerates every choice of at most one option per request with
// disjoint resources and returns the least objective vector.
func bruteForce(t *testing.T, inv *Inventory, reqs []request, opts [][]option) vec {
	bit := make(map[int32]uint)
	for _, os := range opts {
		for _, o := range os {
			for _, r := range o.res {
				if _, ok := bit[r]; !ok {
					bit[r] = uint(len(bit))
				}
			}
		}
	}
	if len(bit) > 64 {
		t.Fatalf("too many resources for the brute force: %d", len(bit))
	}
	chosen := make([]*option, len(reqs))
	var best vec
	cur := make(vec, levelCount(reqs)+termCount)
	var rec func(k int, used uint64)
	rec = func(k int, used uint64) {
		if k == len(reqs) {
			jointVecInto(cur, inv, reqs, chosen)
			if best == nil || cur.less(best) {
				best = slices.Clone(cur)
			}
			return
		}
		chosen[k] = nil
		rec(k+1, used)
		for oi := range opts[k] {
			o := &opts[k][oi]
			var m uint64
			for _, r := range o.res {
				m |= 1 << bit[r]
			}
			if used&m != 0 {
				continue
			}
			chosen[k] = o
			rec(k+1, used|m)
		}
		chosen[k] = nil
	}
	rec(0, 0)
	return best
}

// hardOKPublic checks the never-relaxed constraints from the public view.
func hardOKPublic(f, s Server, anySwitch bool) bool {
	return f.DiskArray == s.DiskArray && f.Hardware.Chipset == s.Hardware.Chipset &&
		f.Hardware.NICPorts == s.Hardware.NICPorts && f.Hardware.HBAPorts == s.Hardware.HBAPorts &&
		(anySwitch || f.Switch == s.Switch)
}

func policyOf(in instance, inv *Inventory, id ServerID) Policy {
	s, _ := inv.Server(id)
	for _, o := range in.servers {
		if o.Partition != "" && o.Partition == s.Partition {
			if p, ok := in.policies[o.ID]; ok {
				return p
			}
		}
	}
	return in.policies[id]
}

func checkInstance(t *testing.T, in instance) {
	t.Helper()
	inv, err := NewInventory(in.servers, in.opts...)
	if err != nil {
		t.Fatalf("NewInventory: %v", err)
	}
	sol, err := inv.solveJoint("test", in.failed, in.scale, true)
	if errors.Is(err, ErrInvalid) && len(in.scale) > 0 {
		// A scale-up that asks for nothing bigger: drop it.
		in.scale = nil
		sol, err = inv.solveJoint("test", in.failed, nil, true)
	}
	if err != nil {
		t.Fatalf("solveJoint: %v", err)
	}
	// The brute force over the untruncated options.
	opts := make([][]option, len(sol.reqs))
	for k := range sol.reqs {
		opts[k] = inv.refOptions(&sol.reqs[k])
	}
	want := bruteForce(t, inv, sol.reqs, opts)
	got := jointVec(inv, sol.reqs, sol.chosen)
	if !slices.Equal(got, want) {
		t.Fatalf("objective %v, brute force %v\nfailed %v\nservers %+v", got, want, in.failed, in.servers)
	}

	jp, err := inv.FindJoint(in.failed, in.scale...)
	if err != nil && !isNoSpare(err) {
		t.Fatalf("FindJoint: %v", err)
	}
	plans := jp.Failures
	usedBy := make(map[ServerID]string)
	use := func(id ServerID, what string) {
		if prev, ok := usedBy[id]; ok {
			t.Fatalf("%s used twice: %s and %s", id, prev, what)
		}
		usedBy[id] = what
	}
	donePlan := make(map[string]bool)
	for i, p := range plans {
		f, _ := inv.Server(in.failed[i])
		pol := policyOf(in, inv, in.failed[i])
		key := fmt.Sprint(p)
		if p.Kind == 0 {
			if len(p.Assignments) != 0 || p.Reason == "" {
				t.Fatalf("unplaced plan %+v", p)
			}
			continue
		}
		if f.Partition != "" && donePlan[key] {
			continue // the same logical server named twice
		}
		donePlan[key] = true
		for _, id := range p.Replacement {
			use(id, "replacement for "+string(f.ID))
		}
		inRepl := make(map[ServerID]bool)
		for _, id := range p.Replacement {
			inRepl[id] = true
		}
		for _, a := range p.Assignments {
			fa, _ := inv.Server(a.Failed)
			sp, _ := inv.Server(a.Spare)
			if !inRepl[a.Spare] {
				t.Fatalf("spare %s not in the replacement %v", a.Spare, p.Replacement)
			}
			if !hardOKPublic(fa, sp, pol.AnySwitch && p.Kind != Exact && p.Kind != Recomposed) {
				t.Fatalf("%s: hard constraint broken: %+v -> %+v", p, fa, sp)
			}
			switch {
			case p.Kind == Preempted && !(sp.State == Active && sp.Priority < fa.Priority) && !(p.Compose && sp.State == Standby):
				t.Fatalf("%s: victim %+v not active lower priority (nor a standby member of a lent composition)", p, sp)
			case p.Kind == Preempted && sp.State == Active && !slices.ContainsFunc(p.Preemptions, func(v Preemption) bool { return v.Victim == sp.ID }):
				t.Fatalf("%s: %s taken but not listed as a victim", p, sp.ID)
			case p.Kind != Preempted && sp.State != Standby:
				t.Fatalf("%s: spare %+v not standby", p, sp)
			case (p.Kind == Exact || p.Kind == Recomposed) && sp.Hardware != fa.Hardware:
				t.Fatalf("%s: not exact", p)
			}
		}
		for _, v := range p.Preemptions {
			if v.ScaleIn && v.RelocateTo != "" {
				t.Fatalf("%s: %s scaled in and relocated", p, v.Victim)
			}
			if v.RelocateTo == "" {
				continue
			}
			use(v.RelocateTo, "relocation of "+string(v.Victim))
			vs, _ := inv.Server(v.Victim)
			rs, _ := inv.Server(v.RelocateTo)
			if rs.State != Standby || !hardOKPublic(vs, rs, true) || vs.DiskArray != rs.DiskArray {
				t.Fatalf("%s: bad relocation %+v -> %+v", p, vs, rs)
			}
		}
	}
	for _, ps := range jp.Scale {
		for _, p := range ps {
			for _, id := range p.Replacement {
				use(id, "scale "+p.String())
			}
			for _, v := range p.Preemptions {
				if v.RelocateTo != "" {
					use(v.RelocateTo, "relocation of "+string(v.Victim))
				}
				if vs, _ := inv.Server(v.Victim); vs.State != Active {
					t.Fatalf("%s: victim %+v not active", p, vs)
				}
			}
		}
	}
	// One failure alone: FindAll agrees with Find.
	id := in.failed[0]
	p1, err1 := inv.Find(id)
	pa, errA := inv.FindAll(id)
	if (err1 == nil) != (errA == nil) || fmt.Sprint(p1) != fmt.Sprint(pa[0]) {
		t.Fatalf("Find %v (%v) != FindAll %v (%v)", p1, err1, pa[0], errA)
	}
	// Options of standalone-to-standalone stages match an independent check.
	for k := range sol.reqs {
		req := &sol.reqs[k]
		if len(req.nodes) != 1 || req.kind != rkFailure {
			continue
		}
		f := inv.server(req.nodes[0].idx)
		got := make(map[ServerID]bool)
		for _, o := range opts[k] {
			if len(o.repl) == 1 && o.stage <= stgRelaxedCompose && !o.isCompose() {
				got[inv.srvs[o.repl[0]].id] = true
			}
		}
		for _, s := range inv.Servers() {
			if s.State != Standby || s.Partition != "" {
				continue
			}
			exact := s.Hardware == f.Hardware && hardOKPublic(f, s, false)
			p := req.pol
			h, fh := s.Hardware, f.Hardware
			relaxed := hardOKPublic(f, s, p.AnySwitch) &&
				(p.AnyCPUModel || h.CPUModel == fh.CPUModel) &&
				((p.MinCPUMHz == 0 && h.CPUMHz == fh.CPUMHz) || (p.MinCPUMHz > 0 && h.CPUMHz >= p.MinCPUMHz)) &&
				((p.MinMemoryMiB == 0 && h.MemoryMiB == fh.MemoryMiB) || (p.MinMemoryMiB > 0 && h.MemoryMiB >= p.MinMemoryMiB))
			if (exact || relaxed) != got[s.ID] {
				t.Fatalf("failed %+v policy %+v: spare %+v acceptable=%v, options say %v", f, p, s, exact || relaxed, got[s.ID])
			}
		}
	}
}

func isNoSpare(err error) bool {
	for e := err; e != nil; {
		if e == ErrNoSpare {
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// TestFindAllMatchesBruteForce: on random small instances (up to 8 failures,
// 12 spares, partitions, combinations, policies, victims), FindAll's
// objective equals an exhaustive enumeration, nothing is used twice, and
// every assignment satisfies the hard constraints.
func TestFindAllMatchesBruteForce(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 2000
	}
	rng := rand.New(rand.NewPCG(2026, 11))
	for i := range n {
		in := randInstance(rng)
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("instance %d panicked: %v\n%+v", i, r, in.servers)
				}
			}()
			checkInstance(t, in)
		}()
	}
}

// TestOwnZonesMatchBruteForce: the same check where half the servers are
// alone in their zone and most failures are two-node partitions: the
// shapes whose reconfigurations the streams bound from the zones (a node
// whose zone no member of a group shares), which the other generators
// rarely make. On odd instances every group is read through its lists
// and patterns (withSmallGroups), as in a large inventory.
func TestOwnZonesMatchBruteForce(t *testing.T) {
	n := 4000
	if testing.Short() {
		n = 800
	}
	kn := plainKnobs
	kn.pairs, kn.ownZone = 4, 2
	rng := rand.New(rand.NewPCG(2026, 17))
	own := 0
	for i := range n {
		in := randInstanceWith(rng, kn)
		for _, s := range in.servers {
			if strings.HasPrefix(s.Zone, "z-") && s.Partition != "" {
				own++
			}
		}
		if i%2 == 1 {
			in.opts = append(slices.Clip(in.opts), withSmallGroups(-1))
		}
		// Every request's options read up front come in ranking order
		// (newSolver panics otherwise).
		if inv, err := NewInventory(in.servers, in.opts...); err == nil {
			if _, err := inv.solve(in.failed, false); err != nil {
				t.Fatal(err)
			}
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("instance %d panicked: %v\n%+v", i, r, in.servers)
				}
			}()
			checkInstance(t, in)
		}()
	}
	if own < n {
		t.Fatalf("only %d partition members alone in their zone over %d instances", own, n)
	}
}

// TestLentAndScaleInMatchBruteForce: the same check on instances biased
// toward lending and scale-in: few spares, more victims sharing
// workloads that tolerate scale-in, more combinations that lend, and
// failures whose policy preempts more often.
func TestLentAndScaleInMatchBruteForce(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 2000
	}
	kn := lendKnobs
	rng := rand.New(rand.NewPCG(2026, 16))
	var lent, scaledIn int
	for i := range n {
		in := randInstanceWith(rng, kn)
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("instance %d panicked: %v\n%+v", i, r, in.servers)
				}
			}()
			checkInstance(t, in)
		}()
		inv, _ := NewInventory(in.servers, in.opts...)
		jp, _ := inv.FindJoint(in.failed, in.scale...)
		for _, ps := range append([][]Plan{jp.Failures}, jp.Scale...) {
			for _, p := range ps {
				if p.Kind == Preempted && p.Compose {
					lent++
				}
				for _, v := range p.Preemptions {
					if v.ScaleIn {
						scaledIn++
					}
				}
			}
		}
	}
	t.Logf("%d instances: %d plans with lent servers, %d victims scaled in", n, lent, scaledIn)
	if lent < n/40 || scaledIn < n/20 {
		t.Fatalf("the biased generator no longer exercises lending (%d) and scale-in (%d)", lent, scaledIn)
	}
}

// TestPropertyGeneratorCoversFeatures keeps the random instances honest:
// they must exercise preemption, composition, partitions, node-count
// mismatch and unplaced failures.
func TestPropertyGeneratorCoversFeatures(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 11))
	var unplaced, pre, comp, part, mism, total, multi, lent, scaledIn, scale, scalePlaced int
	for range 2000 {
		in := randInstance(rng)
		inv, _ := NewInventory(in.servers, in.opts...)
		sol, err := inv.solveJoint("test", in.failed, in.scale, true)
		if err != nil {
			sol, _ = inv.solveJoint("test", in.failed, nil, true)
		}
		for k, o := range sol.chosen {
			total++
			if sol.reqs[k].scale >= 0 {
				scale++
				if o != nil {
					scalePlaced++
				}
			}
			if o == nil {
				unplaced++
				continue
			}
			if o.stage == stgPreempt {
				pre++
				if o.isCompose() {
					lent++
				}
			}
			if o.isCompose() {
				comp++
			}
			if len(sol.reqs[k].nodes) > 1 {
				part++
			}
			if len(o.repl) != len(sol.reqs[k].nodes) {
				mism++
			}
			for _, v := range sol.plans[k].Preemptions {
				if v.ScaleIn {
					scaledIn++
				}
			}
		}
		if len(sol.reqs) > 1 {
			multi++
		}
	}
	t.Logf("total %d unplaced %d preempt %d (lent %d, victims scaled in %d) compose %d partition %d mismatch %d multi %d scale %d (placed %d)",
		total, unplaced, pre, lent, scaledIn, comp, part, mism, multi, scale, scalePlaced)
	if unplaced < 100 || pre < 50 || comp < 20 || part < 50 || mism < 20 || multi < 1000 ||
		lent < 10 || scaledIn < 20 || scale < 200 || scalePlaced < 50 {
		t.Fatal("the generator no longer covers every feature")
	}
}

// TestLazyOptionsKeepObjective: on medium instances (hundreds of servers,
// dozens of failures, too many for the brute force) reading each
// request's options only when a search needs them gives the same objective
// as reading them all up front.
func TestLazyOptionsKeepObjective(t *testing.T) {
	n := 30
	if testing.Short() {
		n = 5
	}
	for seed := range uint64(n) {
		servers, opts := genInventory(1500, seed)
		rng := rand.New(rand.NewPCG(seed, 9))
		var failed []ServerID
		for _, i := range rng.Perm(len(servers)) {
			if len(failed) == 200 {
				break
			}
			if servers[i].State == Active {
				servers[i].State = Failed
				failed = append(failed, servers[i].ID)
			}
		}
		inv, err := NewInventory(servers, opts...)
		if err != nil {
			t.Fatal(err)
		}
		a, err := inv.solve(failed, true)
		if err != nil {
			t.Fatal(err)
		}
		b, err := inv.solve(failed, false)
		if err != nil {
			t.Fatal(err)
		}
		if ga, gb := jointVec(inv, a.reqs, a.chosen), jointVec(inv, b.reqs, b.chosen); !slices.Equal(ga, gb) {
			t.Fatalf("seed %d: truncated %v, full %v", seed, ga, gb)
		}
	}
}

// TestRelocationMemo: skipping the relocation of a victim whose kind
// (relocKey) found none earlier in the round gives the plans searching
// every victim gives. The instances are short of spares, with failures
// that preempt victims of a few kinds (two hardware classes, two
// switches, three policies, partitions of one and two), and a few spares
// that relocate some of them (a victim relocates only to a spare its
// failure does not accept: the victim's policy accepts another switch,
// or more MHz and memory). Leaving any of relocKey's fields out fails it.
func TestRelocationMemo(t *testing.T) {
	n := 4000
	if testing.Short() {
		n = 1000
	}
	rng := rand.New(rand.NewPCG(616, 16))
	skipped, relocated := 0, 0
	for i := range n {
		var servers []Server
		var opts []Option
		var failed []ServerID
		id := 0
		add := func(prefix string, st State, prio int) []ServerID {
			size := 1 + rng.IntN(2)
			part := PartitionID("")
			if size == 2 {
				part = PartitionID(fmt.Sprintf("p%d", id))
			}
			hw, sw := propHW[rng.IntN(2)], []string{"s1", "s2"}[rng.IntN(2)]
			if st == Standby {
				hw = propHW[rng.IntN(3)]
			}
			var ids []ServerID
			for range size {
				id++
				sid := ServerID(fmt.Sprintf("%s%03d", prefix, id))
				servers = append(servers, Server{ID: sid, Hardware: hw, Switch: sw, DiskArray: "a1",
					Zone: []string{"z1", "z2", "z3"}[rng.IntN(3)], VLANs: [][]int{{10}, {20}}[rng.IntN(2)],
					State: st, Workload: fmt.Sprintf("w%d", prio), Priority: prio, Partition: part})
				ids = append(ids, sid)
			}
			return ids
		}
		for range 2 + rng.IntN(4) {
			ids := add("f", Failed, 50)
			failed = append(failed, ids[0])
			opts = append(opts, WithPolicy(ids[0], Policy{Preempt: true, AnySwitch: rng.IntN(2) == 0, AllowPartitionMismatch: rng.IntN(3) == 0}))
		}
		for range 4 + rng.IntN(9) {
			ids := add("v", Active, 10)
			// A victim's own policy may accept spares its failure does
			// not: another switch, or more MHz and memory.
			if p := []Policy{{}, {AnySwitch: true}, {MinCPUMHz: 2000, MinMemoryMiB: 32768}}[rng.IntN(3)]; p != (Policy{}) {
				opts = append(opts, WithPolicy(ids[0], p))
			}
		}
		for range rng.IntN(6) {
			add("s", Standby, 0)
		}
		inv, err := NewInventory(servers, opts...)
		if err != nil {
			t.Fatal(err)
		}
		relocMemo = false
		want, errW := inv.FindAll(failed...)
		relocMemo = true
		got, errG := inv.FindAll(failed...)
		if (errW == nil) != (errG == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("instance %d: with the memo\n%+v (%v)\nwithout\n%+v (%v)", i, got, errG, want, errW)
		}
		// Count the rounds the memo skipped a search in: a stopped
		// victim after a stopped one of its kind.
		stopped := map[relocKey]bool{}
		seen := map[int32]bool{}
		hit := false
		for _, p := range want {
			for _, v := range p.Preemptions {
				x, _ := inv.index(v.Victim)
				li := inv.srvs[x].ls
				if seen[li] {
					continue // another member of a victim counted
				}
				seen[li] = true
				if v.RelocateTo != "" {
					relocated++
				}
				if k, ok := inv.relocKeyOf(li); ok && v.RelocateTo == "" {
					hit = hit || stopped[k]
					stopped[k] = true
				}
			}
		}
		if hit {
			skipped++
		}
	}
	t.Logf("%d instances, %d with a relocation search skipped, %d victims relocated", n, skipped, relocated)
	if skipped < n/40 || relocated < n/20 {
		t.Fatalf("%d instances stop two victims of one kind, %d victims relocated: the memo is not exercised", skipped, relocated)
	}
}
