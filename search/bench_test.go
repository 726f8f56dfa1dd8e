package search

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// genInventory builds n servers: about 5% standby, 20 hardware classes, 50
// switches, 4 disk arrays, 1% of servers in two-node partitions, 100
// combinations, priorities 10..100, and workload policies (a third relax
// memory and switch, high priorities may preempt).
func genInventory(n int, seed uint64) ([]Server, []Option) {
	rng := rand.New(rand.NewPCG(seed, 1))
	classes := make([]Hardware, 20)
	for i := range classes {
		classes[i] = Hardware{
			CPUModel: fmt.Sprintf("cpu%d", i%4), CPUMHz: 2000 + 100*(i%5), MemoryMiB: 32768 << (i % 3),
			Chipset: fmt.Sprintf("cs%d", i%3), NICPorts: 2 + 2*(i%2), HBAPorts: 2,
		}
	}
	vlanSets := [][]int{{10}, {20}, {10, 20}, {30}, {30, 40}, {50}, {60, 70}, {80}}
	servers := make([]Server, n)
	for i := range servers {
		st := Active
		if rng.IntN(20) == 0 {
			st = Standby
		}
		prio := 10 * (1 + rng.IntN(10))
		sw := rng.IntN(50)
		servers[i] = Server{
			ID: ServerID(fmt.Sprintf("r%03d-%05d", sw, i)), Hardware: classes[rng.IntN(20)],
			Switch: fmt.Sprintf("sw%02d", sw), DiskArray: fmt.Sprintf("vsp%d", rng.IntN(4)),
			Zone: fmt.Sprintf("z%d", rng.IntN(10)), VLANs: vlanSets[rng.IntN(len(vlanSets))],
			State: st, Priority: prio,
		}
		if st == Active {
			servers[i].Workload = fmt.Sprintf("w%d", prio)
		}
	}
	// Two-node partitions: 1% of the servers, same state, workload, priority.
	for i := 0; i+1 < n; i += 200 {
		a, b := &servers[i], &servers[i+1]
		b.State, b.Workload, b.Priority = a.State, a.Workload, a.Priority
		p := PartitionID(fmt.Sprintf("p%05d", i))
		a.Partition, b.Partition = p, p
	}
	var opts []Option
	var standalone []ServerID
	for _, s := range servers {
		if s.State == Standby && s.Partition == "" {
			standalone = append(standalone, s.ID)
		}
	}
	for i := 0; i+1 < len(standalone) && i < 200; i += 2 {
		opts = append(opts, WithCombination(standalone[i], standalone[i+1]))
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
	return servers, opts
}

var benchSizes = []int{1000, 10000, 100000}

func mustInventory(b *testing.B, servers []Server, opts []Option) *Inventory {
	inv, err := NewInventory(servers, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return inv
}

// BenchmarkFindExact: Find for servers that have an exact standby spare.
func BenchmarkFindExact(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			servers, opts := genInventory(n, 1)
			inv := mustInventory(b, servers, opts)
			var ids []ServerID
			for i := range inv.srvs {
				s := &inv.srvs[i]
				if _, ok := inv.idx.gidx[gkey{hw: s.hw, arr: s.arr, sw: s.sw, work: -1, st: stStandby}]; ok && s.state == stActive && s.part < 0 {
					ids = append(ids, s.id)
				}
			}
			if len(ids) == 0 {
				b.Fatal("no server with an exact spare")
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				p, err := inv.Find(ids[i%len(ids)])
				if err != nil || p.Kind != Exact {
					b.Fatalf("%v %v", p, err)
				}
			}
		})
	}
}

// BenchmarkFindWorst: a server whose policy relaxes everything (any CPU,
// any switch, node-count mismatch, preemption at the top priority) but asks
// for more memory than any server has: all four stages run, over the
// largest hard-key bucket, and the explanation is built.
func BenchmarkFindWorst(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			servers, opts := genInventory(n, 1)
			worst := servers[2] // standalone
			worst.ID, worst.State, worst.Priority, worst.Workload, worst.Switch = "zz-worst", Failed, 1000, "top", "sw-lonely"
			servers = append(servers, worst)
			opts = append(opts, WithPolicy("zz-worst", Policy{MinMemoryMiB: 1 << 30, MinCPUMHz: 1, AnyCPUModel: true,
				AllowPartitionMismatch: true, AnySwitch: true, Preempt: true}))
			inv := mustInventory(b, servers, opts)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := inv.Find("zz-worst"); err == nil {
					b.Fatal("found a spare")
				}
			}
		})
	}
}

// BenchmarkFindAll: 1,000 simultaneous failures over 100k servers, spread
// across the data centre or concentrated (every server of the first
// switches: a rack dies).
func BenchmarkFindAll(b *testing.B) {
	servers, opts := genInventory(100000, 1)
	for _, mode := range []string{"spread", "rack"} {
		b.Run(mode, func(b *testing.B) {
			s2 := slices.Clone(servers)
			var failed []ServerID
			rng := rand.New(rand.NewPCG(3, 3))
			idx := rng.Perm(len(s2))
			if mode == "rack" {
				slices.SortFunc(idx, func(a, c int) int { return cmpID(s2[a].ID, s2[c].ID) })
			}
			for _, i := range idx {
				if len(failed) == 1000 {
					break
				}
				if s2[i].State == Active && s2[i].Partition == "" {
					s2[i].State = Failed
					failed = append(failed, s2[i].ID)
				}
			}
			inv := mustInventory(b, s2, opts)
			b.ReportAllocs()
			b.ResetTimer()
			var placed int
			cpu0 := cpuTime()
			for b.Loop() {
				plans, _ := inv.FindAll(failed...)
				placed = 0
				for _, p := range plans {
					if p.Kind != 0 {
						placed++
					}
				}
			}
			b.ReportMetric(float64(placed), "placed")
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}

func cmpID(a, b ServerID) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

// BenchmarkNewInventory builds the snapshot and reports the memory it keeps
// per server (the input slice excluded).
func BenchmarkNewInventory(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			servers, opts := genInventory(n, 1)
			var ms0, ms1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms0)
			inv := mustInventory(b, servers, opts)
			runtime.GC()
			runtime.ReadMemStats(&ms1)
			kept := float64(ms1.HeapAlloc) - float64(ms0.HeapAlloc)
			runtime.KeepAlive(inv)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				mustInventory(b, servers, opts)
			}
			b.ReportMetric(kept/float64(n), "B/server")
		})
	}
}

// TestBenchInventoryShape keeps the generator honest.
func TestBenchInventoryShape(t *testing.T) {
	servers, opts := genInventory(10000, 1)
	inv, err := NewInventory(servers, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if inv.nStandby < 400 || inv.nStandby > 600 || len(inv.hw) != 20 || len(inv.usableCombos) == 0 {
		t.Fatalf("standby %d, classes %d, combos %d", inv.nStandby, len(inv.hw), len(inv.usableCombos))
	}
}

// BenchmarkWithStates: the Orchestrator marks 10 spares Reserved.
func BenchmarkWithStates(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			servers, opts := genInventory(n, 1)
			inv := mustInventory(b, servers, opts)
			var upd []Server
			for _, s := range inv.Servers() {
				if s.State == Standby && len(upd) < 10 {
					s.State = Reserved
					upd = append(upd, s)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := inv.With(upd...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCoverage: the what-if report over the whole inventory.
func BenchmarkCoverage(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			servers, opts := genInventory(n, 1)
			inv := mustInventory(b, servers, opts)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if c := inv.Coverage(); len(c.Servers) == 0 {
					b.Fatal("empty coverage")
				}
			}
		})
	}
}
