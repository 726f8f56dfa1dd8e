package search

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// The benchmark matrix of issue 16: exact Find, the worst case and FindAll
// over inventory shapes that vary what the exact stage depends on. It is
// slow (it builds hundreds of inventories of 100,000 servers), so it runs
// only when asked:
//
//	go test ./search -run TestMatrix -search.matrix=all        # every cell
//	go test ./search -run TestMatrix -search.matrix=C20        # cells whose name contains C20
//
// and prints a markdown table; it fails when a cell misses a target.
var matrixFlag = flag.String("search.matrix", "", `run the benchmark matrix: "all", or a substring of the cell names to run`)

// shape is one cell of the matrix.
type shape struct {
	spc        int  // standby logical servers per hardware class, at 100,000 servers
	classes    int  // hardware classes
	rackZones  bool // zones shared per rack of 40 servers (else one per server)
	vlanSets   int  // distinct VLAN sets
	partitions bool // every logical server is a 2-node partition (else standalone)
}

func (s shape) String() string {
	z, p := "zone-unique", "standalone"
	if s.rackZones {
		z = "zone-rack"
	}
	if s.partitions {
		p = "2-node"
	}
	return fmt.Sprintf("S%d/C%d/%s/V%d/%s", s.spc, s.classes, z, s.vlanSets, p)
}

func (s shape) nodes() int {
	if s.partitions {
		return 2
	}
	return 1
}

// spares returns the standby logical servers per class for an inventory
// of n servers (the same standby share as at 100,000, at least one), and
// whether the shape fits: at least half the servers stay active.
func (s shape) spares(n int) (int, bool) {
	per := max(1, (s.spc*n+50000)/100000)
	return per, s.classes*per*s.nodes()*2 <= n
}

// smallSize is the size of the small inventory the ratio target divides
// by: 1,000 servers, or the smallest power-of-two multiple of it the shape
// fits in.
func (s shape) smallSize() int {
	n := 1000
	for {
		if _, ok := s.spares(n); ok {
			return n
		}
		n *= 2
	}
}

func matrixShapes() []shape {
	var out []shape
	for _, p := range []bool{false, true} {
		for _, c := range []int{1, 4, 20, 500} {
			for _, spc := range []int{1, 10, 100, 1000, 5000} {
				for _, rz := range []bool{false, true} {
					for _, v := range []int{1, 7, 50} {
						out = append(out, shape{spc, c, rz, v, p})
					}
				}
			}
		}
	}
	return out
}

// matrixHW is hardware class c: every class differs, classes share two
// chipsets (so relaxed and preemption stages see many classes at once).
func matrixHW(c int) Hardware {
	return Hardware{
		CPUModel: fmt.Sprintf("cpu%d", c/40), CPUMHz: 2000 + 100*(c%8), MemoryMiB: 32768 << ((c / 8) % 5),
		Chipset: fmt.Sprintf("cs%d", c%2), NICPorts: 4, HBAPorts: 2,
	}
}

// genShape builds n servers of the given shape: one disk array and one
// switch (every spare of a class is an exact candidate for every server of
// the class, the hardest case for a scan), racks of 40 servers, priorities
// 10..100 with the same workload policies as genInventory, and in the
// standalone shapes 100 allowed combinations of standby servers. It
// returns false when the shape does not fit in n servers.
func genShape(sh shape, n int, seed uint64) ([]Server, []Option, bool) {
	per, ok := sh.spares(n)
	if !ok {
		return nil, nil, false
	}
	rng := rand.New(rand.NewPCG(seed, uint64(sh.classes)))
	vsets := make([][]int, sh.vlanSets)
	for i := range vsets {
		vsets[i] = []int{100 + i, 2000 + i%3}
	}
	nodes := sh.nodes()
	nls := n / nodes
	// Logical server j holds servers j*nodes ...; the first classes*per
	// of a random order are the spares, per per class.
	order := rng.Perm(nls)
	class := make([]int, nls)
	standby := make([]bool, nls)
	for k, j := range order {
		if k < sh.classes*per {
			class[j], standby[j] = k%sh.classes, true
		} else {
			class[j] = rng.IntN(sh.classes)
		}
	}
	servers := make([]Server, 0, n)
	for j := range nls {
		prio := 10 * (1 + rng.IntN(10))
		for m := range nodes {
			i := j*nodes + m
			rack := i / 40
			s := Server{
				ID: ServerID(fmt.Sprintf("r%04d-%02d", rack, i%40)), Hardware: matrixHW(class[j]),
				Switch: "sw1", DiskArray: "vsp1", VLANs: vsets[rng.IntN(len(vsets))],
				State: Active, Workload: fmt.Sprintf("w%d", prio), Priority: prio,
			}
			if sh.rackZones {
				s.Zone = fmt.Sprintf("z-r%04d", rack)
			} else {
				s.Zone = "z-" + string(s.ID)
			}
			if standby[j] {
				s.State, s.Workload, s.Priority = Standby, "", 0
			}
			if nodes > 1 {
				s.Partition = PartitionID(fmt.Sprintf("p%06d", j))
			}
			servers = append(servers, s)
		}
	}
	var opts []Option
	if !sh.partitions {
		var sb []ServerID
		for _, s := range servers {
			if s.State == Standby {
				sb = append(sb, s.ID)
			}
		}
		for i := 0; i+1 < len(sb) && i < 200; i += 2 {
			opts = append(opts, WithCombination(sb[i], sb[i+1]))
		}
	}
	for p := 10; p <= 100; p += 10 {
		w := fmt.Sprintf("w%d", p)
		switch p % 30 {
		case 0:
			opts = append(opts, WithWorkloadPolicy(w, Policy{MinMemoryMiB: 32768, MinCPUMHz: 2000, AnySwitch: true, Preempt: p >= 60}))
		case 10:
			opts = append(opts, WithWorkloadPolicy(w, Policy{MinMemoryMiB: 65536, Preempt: p >= 60}))
		}
	}
	return servers, opts, true
}

// addWorst adds a failed server (a 2-node partition in the partition
// shapes) whose policy relaxes everything but asks for more memory than
// any server has: every stage runs and the explanation is built.
func addWorst(sh shape, servers []Server, opts []Option) ([]Server, []Option, ServerID) {
	for m := range sh.nodes() {
		w := servers[0]
		w.ID = ServerID(fmt.Sprintf("zz-worst-%d", m))
		w.State, w.Priority, w.Workload = Failed, 1000, "top"
		w.Hardware = matrixHW(0)
		w.Hardware.CPUModel = "cpu-none" // no exact spare
		if sh.partitions {
			w.Partition = "zz-worst"
		}
		servers = append(servers, w)
	}
	opts = append(opts, WithPolicy("zz-worst-0", Policy{MinMemoryMiB: 1 << 30, MinCPUMHz: 1, AnyCPUModel: true,
		AllowPartitionMismatch: true, AnySwitch: true, Preempt: true}))
	return servers, opts, "zz-worst-0"
}

// withFailed returns a copy of servers with the failed ones Failed, and
// the member after a failed one in its partition too (as a caller's
// inventory would say of a failed logical server).
func withFailed(servers []Server, failed []ServerID) []Server {
	isFailed := make(map[ServerID]bool, len(failed))
	for _, id := range failed {
		isFailed[id] = true
	}
	fs := slices.Clone(servers)
	for i := range fs {
		if isFailed[fs[i].ID] || (fs[i].Partition != "" && i > 0 && fs[i].Partition == fs[i-1].Partition && isFailed[fs[i-1].ID]) {
			fs[i].State = Failed
		}
	}
	return fs
}

// exactIDs picks up to k active logical servers (their first member) in a
// random order. The IDs are fresh copies, as a caller's are: an ID that
// arrives in an event or a request, not the inventory's own string (whose
// bytes a lookup would read, cold, to hash it and then compare it with
// itself by pointer).
func exactIDs(inv *Inventory, k int, seed uint64) []ServerID {
	var ids []ServerID
	for li := range inv.ls {
		l := &inv.ls[li]
		if l.state == lsActive {
			ids = append(ids, inv.srvs[inv.members[l.first]].id)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 5))
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	ids = ids[:min(k, len(ids))]
	for i := range ids {
		ids[i] = ServerID(strings.Clone(string(ids[i])))
	}
	return ids
}

func median(d []time.Duration) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}

// findRounds and roundPause: the exact Finds of a cell are timed in 9
// rounds 30 ms apart (and its FindAlls 30 ms apart).
const (
	findRounds = 9
	roundPause = 30 * time.Millisecond
)

// medianFinds times exact Finds on two inventories, the small one the
// ratio divides by and the large one, in alternating rounds (each timed
// over ids, one call at a time, after an untimed pass that warms the
// caches for that inventory), so that a slow spell of a shared machine
// falls on both sides of the ratio rather than on one. The rounds are
// spread over a quarter of a second, and each inventory's figure is the
// median of its rounds' medians: a spell of the machine (longer than a
// round of a few milliseconds, and slowing a large inventory's cache
// misses more than a small one's hits) falls on some rounds, not on all,
// and decides nothing unless it lasts through half of them.
func medianFinds(t testing.TB, rounds int, invs [2]*Inventory, ids [2][]ServerID) [2]time.Duration {
	// The inventories were just built: collect their garbage now, so
	// that the collector's background work does not run in the timed
	// calls.
	runtime.GC()
	var meds [2][]time.Duration
	d := make([]time.Duration, 0, max(len(ids[0]), len(ids[1])))
	for r := range rounds {
		if r > 0 {
			time.Sleep(roundPause)
		}
		for k, inv := range invs {
			for _, id := range ids[k] {
				if p, err := inv.Find(id); err != nil || p.Kind != Exact {
					t.Fatalf("Find(%s) = %v, %v; want an exact plan", id, p, err)
				}
			}
			d = d[:0]
			for _, id := range ids[k] {
				t0 := time.Now()
				inv.Find(id)
				d = append(d, time.Since(t0))
			}
			meds[k] = append(meds[k], median(d))
		}
	}
	return [2]time.Duration{median(meds[0]), median(meds[1])}
}

type cellResult struct {
	sh                  shape
	small               int // servers in the small inventory
	find1k, find100k    time.Duration
	worst, findAll      time.Duration
	findAllCPU          time.Duration // on the calling thread
	placed, bytesPerSrv float64
}

func runCell(t testing.TB, sh shape) (cellResult, bool) {
	r := cellResult{sh: sh}
	big := 100000
	servers, opts, ok := genShape(sh, big, 1)
	if !ok {
		return r, false
	}
	small := sh.smallSize()
	r.small = small
	ss, so, _ := genShape(sh, small, 1)
	invS, err := NewInventory(ss, so...)
	if err != nil {
		t.Fatal(err)
	}

	ws, wo, worst := addWorst(sh, servers, opts)
	r.bytesPerSrv = keptBytes(func() any {
		inv, err := NewInventory(ws, wo...)
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}) / float64(len(ws))
	inv, err := NewInventory(ws, wo...)
	if err != nil {
		t.Fatal(err)
	}
	f := medianFinds(t, findRounds, [2]*Inventory{invS, inv}, [2][]ServerID{exactIDs(invS, 1000, 2), exactIDs(inv, 1000, 2)})
	r.find1k, r.find100k = f[0], f[1]
	var wd []time.Duration
	runtime.GC()
	for range 200 {
		t0 := time.Now()
		if _, err := inv.Find(worst); err == nil {
			p, _ := inv.Find(worst)
			t.Fatalf("the worst case found a spare: %v", p)
		}
		wd = append(wd, time.Since(t0))
	}
	r.worst = median(wd)

	// 1,000 failures spread over the inventory.
	failed := exactIDs(inv, 1000, 3)
	invF, err := NewInventory(withFailed(servers, failed), opts...)
	if err != nil {
		t.Fatal(err)
	}
	var fd, fc []time.Duration
	runtime.GC()
	for run := range 5 { // the median of five, spread as medianFinds' rounds are: one slow spell of a shared machine does not decide
		if run > 0 {
			time.Sleep(roundPause)
		}
		var plans []Plan
		t0 := time.Now()
		c := threadCPU(func() { plans, _ = invF.FindAll(failed...) })
		fd = append(fd, time.Since(t0))
		fc = append(fc, time.Duration(c))
		r.placed = 0
		for _, p := range plans {
			if p.Kind != 0 {
				r.placed++
			}
		}
	}
	r.findAll, r.findAllCPU = median(fd), median(fc)
	return r, true
}

// Targets of issue 16.
const (
	targetFind    = time.Microsecond
	targetRatio   = 2.0
	targetWorst   = 50 * time.Microsecond
	targetFindAll = 20 * time.Millisecond
	targetBytes   = 256
)

func TestMatrix(t *testing.T) {
	if *matrixFlag == "" {
		t.Skip("the benchmark matrix runs with -search.matrix (see matrix_test.go)")
	}
	var b strings.Builder
	b.WriteString("| cell | small | Find small | Find 100k | ratio | worst 100k | FindAll 1000/100k wall (thread CPU) | placed | B/server |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	var missed []string
	for _, sh := range matrixShapes() {
		if *matrixFlag != "all" && !strings.Contains(sh.String(), *matrixFlag) {
			continue
		}
		r, ok := runCell(t, sh)
		if !ok {
			fmt.Fprintf(&b, "| %s | n/a: the spares do not fit in 100,000 servers with half of them active |||||||\n", sh)
			continue
		}
		ratio := float64(r.find100k) / float64(r.find1k)
		line := fmt.Sprintf("| %s | %d | %v | %v | %.2f | %v | %.1f ms (%.1f ms) | %.0f | %.0f |", sh, r.small,
			r.find1k, r.find100k, ratio, r.worst, float64(r.findAll)/1e6, float64(r.findAllCPU)/1e6, r.placed, r.bytesPerSrv)
		b.WriteString(line + "\n")
		t.Log(line)
		fa := r.findAll
		if r.findAllCPU > 0 {
			fa = r.findAllCPU
		}
		if r.find100k > targetFind || ratio > targetRatio || r.worst > targetWorst || fa > targetFindAll || r.bytesPerSrv > targetBytes {
			missed = append(missed, line)
		}
	}
	fmt.Println(b.String())
	if len(missed) > 0 {
		t.Errorf("%d cells miss a target:\n%s", len(missed), strings.Join(missed, "\n"))
	}
}

// keptBytes is the heap that build's result keeps alive.
func keptBytes(build func() any) float64 {
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	runtime.KeepAlive(v)
	return float64(ms1.HeapAlloc) - float64(ms0.HeapAlloc)
}

// BenchmarkMatrix runs, for each cell named by -search.matrix, FindAll of
// 1,000 failures over 100,000 servers, exact Find and the worst case, and
// reports the calling thread's CPU time per FindAll (steadier than wall
// time on a shared machine):
//
//	go test ./search -run XXX -bench Matrix -search.matrix=S100/C20/zone-unique/V7/standalone
//	go test ./search -run XXX -bench 'Matrix//Find$' -search.matrix=all   # exact Find on every cell
//	go test ./search -run XXX -bench 'Matrix//coldFind$' -search.matrix=C4/zone-unique/V1/2-node
//
// Even the thread's CPU time moves by up to 2x on a shared machine. The
// instructions a FindAll runs do not: count them under valgrind's
// cachegrind, for -benchtime=1x and 3x (the setup is the same, so half
// the difference is one FindAll), with one P, no collection, no
// asynchronous preemption and no RDTSCP (valgrind does not decode it):
//
//	go test -c -o /tmp/s.test ./search
//	GOMAXPROCS=1 GOGC=off GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off valgrind --tool=cachegrind \
//	    /tmp/s.test -test.run XXX -test.bench 'Matrix/.*/FindAll$' -search.matrix=S1/C500/zone-rack/V1/standalone -test.benchtime=3x
func BenchmarkMatrix(b *testing.B) {
	if *matrixFlag == "" {
		b.Skip("name cells with -search.matrix")
	}
	for _, sh := range matrixShapes() {
		if *matrixFlag != "all" && !strings.Contains(sh.String(), *matrixFlag) {
			continue
		}
		servers, opts, ok := genShape(sh, 100000, 1)
		if !ok {
			continue
		}
		ws, wo, worst := addWorst(sh, servers, opts)
		inv := mustInventory(b, ws, wo)
		failed := exactIDs(inv, 1000, 3)
		invF := mustInventory(b, withFailed(servers, failed), opts)
		name := strings.ReplaceAll(sh.String(), "/", "_")
		b.Run(name+"/FindAll", func(b *testing.B) {
			var cpu int64
			n := 0
			for b.Loop() {
				cpu += threadCPU(func() { invF.FindAll(failed...) })
				n++
			}
			b.ReportMetric(float64(cpu)/float64(n)/1e6, "cpu-ms/op")
		})
		ids := exactIDs(inv, 1000, 2)
		// Exact Find on the small inventory the matrix's ratio divides by.
		ss, so, _ := genShape(sh, sh.smallSize(), 1)
		invS := mustInventory(b, ss, so)
		idsS := exactIDs(invS, 1000, 2)
		b.Run(name+"/smallFind", func(b *testing.B) {
			cpu := threadCPU(func() {
				for i := 0; b.Loop(); i++ {
					invS.Find(idsS[i%len(idsS)])
				}
			})
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		})
		b.Run(name+"/Find", func(b *testing.B) {
			cpu := threadCPU(func() {
				for i := 0; b.Loop(); i++ {
					inv.Find(ids[i%len(ids)])
				}
			})
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		})
		// Over 50,000 distinct failures the working set does not fit in
		// the caches (Find above reuses 1,000, which partly stay cached):
		// this shows the cache misses a Find costs.
		cold := exactIDs(inv, 50000, 2)
		b.Run(name+"/coldFind", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				inv.Find(cold[i%len(cold)])
			}
		})
		b.Run(name+"/worst", func(b *testing.B) {
			cpu := threadCPU(func() {
				for b.Loop() {
					inv.Find(worst)
				}
			})
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
