package fake

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/internal/errs"
	"github.com/coldstandby/coldstandby/storage"
)

// Policy is a search policy of the patent's search policy table, as plain
// data: what a spare for Server (a server ID, or a logical server ID) may
// differ in. The Orchestrator's tests convert it to package search's type.
type Policy struct {
	Server              string
	MinCPUMHz           int  // a spare needs at least this CPU clock (0: the failed server's)
	MinMemoryMiB        int  // and at least this memory (0: the failed server's)
	AllowOtherCPUModel  bool // another CPU model (or stepping) is acceptable
	AllowOtherNodeCount bool // a logical server of another node count is acceptable
	SameSwitch          bool // the spare must be on the failed server's switch (claim 3)
}

// Scenario is one failure the example data centre is built to show.
type Scenario struct {
	Name         string        // "exact", "recompose", "relaxed", "preempt"
	Description  string        // one line for a demo
	Fail         []string      // the servers that fail (all members of a logical server)
	Fault        bmc.FaultType // how they fail (for FailServer)
	WantSpares   []string      // the servers that should take over, in member order
	WantVictim   string        // the server preempted, "" for none
	WantVictimTo string        // where the victim's workload should move, "" for none
}

// Layout is the metadata of a built world: the search policies, the
// platform's allowed combinations (also set on the world) and, for the
// patent example, the scenarios.
type Layout struct {
	Policies     []Policy   // sorted by Server
	Compositions [][]string // each sorted; sorted
	Scenarios    []Scenario
}

// Hardware classes of the example data centre.
var (
	hwA = Hardware{CPUModel: "Xeon E5-2680 v2 (SR1A6)", CPUMHz: 2800, MemoryMiB: 65536, Chipset: "C602", NICPorts: 2, HBAPorts: 2}
	hwB = Hardware{CPUModel: "Xeon E7-8870 (SLC3E)", CPUMHz: 2400, MemoryMiB: 262144, Chipset: "E7-8800 QPI", NICPorts: 2, HBAPorts: 2}
	hwC = Hardware{CPUModel: "Xeon E5-2620 v3 (SR207)", CPUMHz: 2400, MemoryMiB: 32768, Chipset: "C612", NICPorts: 2, HBAPorts: 2}
	hwD = Hardware{CPUModel: "Xeon E5-2690 v3 (SR20Q)", CPUMHz: 2600, MemoryMiB: 131072, Chipset: "C612", NICPorts: 2, HBAPorts: 2}
	hwE = Hardware{CPUModel: "Xeon E5-2667 v4 (SR2P5)", CPUMHz: 3200, MemoryMiB: 262144, Chipset: "C612", NICPorts: 4, HBAPorts: 2}
	hwF = Hardware{CPUModel: "Xeon E5-2630 v4 (SR2R7)", CPUMHz: 2200, MemoryMiB: 65536, Chipset: "C612", NICPorts: 4, HBAPorts: 2}
)

// arrayTarget is the target port of the example arrays, a member of
// every server zone (zones pair initiators with the array's port).
func arrayTarget(array int) storage.Initiator {
	return storage.MustParseInitiator(fmt.Sprintf("50:06:0e:80:10:%02x:%02x:00", array>>8&0xff, array&0xff))
}

// PatentExample builds the 12-server data centre of the patent's
// embodiments and returns it with its Layout. Every server has two FC
// HBA ports (WWPNs 21:00:00:24:ff:00:NN:0P), one NIC per switch port,
// boot volume "boot-srvNN" at LUN 0 (some a data volume at LUN 1) on its
// array, active servers are zoned ("z-srvNN" with the array's target port)
// and on their workload's VLAN, standbys are unzoned, off and on the
// parking VLAN 999. Graceful shutdowns take 20 s and dumps 90 s (virtual
// with WithClock).
//
//	srv01 A active web (prio 5)      srv02 A standby: same hardware (exact; srv01 needs the same switch)
//	srv03+srv04 B logical server lp-db (prio 8): srv10, srv11 B standby, composable (recompose)
//	srv05 C active app (prio 4), policy >= 2400 MHz, >= 32 GiB, any CPU model: srv12 D standby (relaxed)
//	srv06 E active trading (prio 9), no spare: preempts srv07 E batch (prio 2),
//	      whose policy accepts srv08 F standby (preempt, with relocation)
//	srv09 A standby on array-2: rejected for srv01 (other disk array)
func PatentExample(opts ...Option) (*World, Layout) {
	w := NewWorld(opts...)
	type row struct {
		n        int
		hw       Hardware
		state    string
		workload string
		prio     int
		part     string
		sw       string
		array    int
		vlan     fabric.PortVLAN
		dataLUN  bool
	}
	access := func(id int) fabric.PortVLAN { return fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: id} }
	park := access(999)
	rows := []row{
		{n: 1, hw: hwA, state: StateActive, workload: "web", prio: 5, sw: "sw-1", array: 1, vlan: access(10), dataLUN: true},
		{n: 2, hw: hwA, state: StateStandby, sw: "sw-1", array: 1, vlan: park},
		{n: 3, hw: hwB, state: StateActive, workload: "db", prio: 8, part: "lp-db", sw: "sw-1", array: 1, vlan: fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 1, Trunk: []int{30, 31}}, dataLUN: true},
		{n: 4, hw: hwB, state: StateActive, workload: "db", prio: 8, part: "lp-db", sw: "sw-1", array: 1, vlan: fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 1, Trunk: []int{30, 31}}},
		{n: 5, hw: hwC, state: StateActive, workload: "app", prio: 4, sw: "sw-1", array: 1, vlan: access(20)},
		{n: 6, hw: hwE, state: StateActive, workload: "trading", prio: 9, sw: "sw-2", array: 1, vlan: access(40), dataLUN: true},
		{n: 7, hw: hwE, state: StateActive, workload: "batch", prio: 2, sw: "sw-2", array: 1, vlan: access(50)},
		{n: 8, hw: hwF, state: StateStandby, sw: "sw-2", array: 1, vlan: park},
		{n: 9, hw: hwA, state: StateStandby, sw: "sw-2", array: 2, vlan: park},
		{n: 10, hw: hwB, state: StateStandby, sw: "sw-1", array: 1, vlan: park},
		{n: 11, hw: hwB, state: StateStandby, sw: "sw-1", array: 1, vlan: park},
		{n: 12, hw: hwD, state: StateStandby, sw: "sw-1", array: 1, vlan: park},
	}
	ports := map[string]int{}
	for _, r := range rows {
		id := fmt.Sprintf("srv%02d", r.n)
		spec := ServerSpec{
			ID: id, Hardware: r.hw, State: r.state, Workload: r.workload, Priority: r.prio,
			Partition: r.part, ResourceZone: "chassis-" + r.sw,
			Switch: r.sw, VLAN: r.vlan,
			DiskArray: fmt.Sprintf("array-%d", r.array), Fabric: fmt.Sprintf("fab-%d", r.array),
			OS: OS{ShutdownDelay: 20 * time.Second, DumpTime: 90 * time.Second},
		}
		for p := 1; p <= r.hw.NICPorts; p++ {
			ports[r.sw]++
			spec.SwitchPorts = append(spec.SwitchPorts, fmt.Sprintf("eth1/%d", ports[r.sw]))
		}
		for p := 1; p <= r.hw.HBAPorts; p++ {
			spec.Initiators = append(spec.Initiators, storage.MustParseInitiator(fmt.Sprintf("21:00:00:24:ff:00:%02x:%02x", r.n, p)))
		}
		if r.state == StateActive {
			spec.Zones = []string{"z-" + id}
			spec.BootVolumes = []Volume{{ID: storage.VolumeID("boot-" + id), LUN: 0, SizeBytes: 200 << 30}}
			if r.dataLUN {
				spec.BootVolumes = append(spec.BootVolumes, Volume{ID: storage.VolumeID("data-" + id), LUN: 1, SizeBytes: 1 << 40})
			}
		}
		if err := w.AddServer(spec); err != nil {
			panic(err) // the table above is fixed; a failure is a bug in this package
		}
		for _, z := range spec.Zones {
			_ = w.AddZone(spec.Fabric, z, arrayTarget(r.array))
		}
	}
	// The parking VLAN and a spare port on each switch, unused.
	_ = w.AddPort("sw-1", "eth1/48", park)
	_ = w.AddPort("sw-2", "eth1/48", park)
	combos := [][]string{{"srv03", "srv04"}, {"srv10", "srv11"}}
	w.SetCompositions(combos)
	layout := Layout{
		Policies: []Policy{
			{Server: "srv01", SameSwitch: true},
			{Server: "srv05", MinCPUMHz: 2400, MinMemoryMiB: 32768, AllowOtherCPUModel: true},
			{Server: "srv07", MinCPUMHz: 2000, MinMemoryMiB: 65536, AllowOtherCPUModel: true},
		},
		Compositions: w.Compositions(),
		Scenarios: []Scenario{
			{Name: "exact", Description: "srv01 (web) fails; standby srv02 has the same hardware on the same switch",
				Fail: []string{"srv01"}, Fault: bmc.FaultProcessor, WantSpares: []string{"srv02"}},
			{Name: "recompose", Description: "logical server lp-db (srv03+srv04) fails; standbys srv10 and srv11 are composed into one",
				Fail: []string{"srv03", "srv04"}, Fault: bmc.FaultMemory, WantSpares: []string{"srv10", "srv11"}},
			{Name: "relaxed", Description: "srv05 (app) fails; no same-hardware spare, its policy lets the bigger srv12 take over",
				Fail: []string{"srv05"}, Fault: bmc.FaultPowerSupply, WantSpares: []string{"srv12"}},
			{Name: "preempt", Description: "srv06 (trading, priority 9) fails with no spare; it takes srv07 (batch, priority 2), whose work moves to srv08",
				Fail: []string{"srv06"}, Fault: bmc.FaultOSStop, WantSpares: []string{"srv07"}, WantVictim: "srv07", WantVictimTo: "srv08"},
		},
	}
	return w, layout
}

// generated hardware classes: Generate draws from these.
var genClasses = []struct {
	hw     Hardware
	weight int
	smp    bool // servers of this class may form 2-node logical servers
}{
	{hwA, 30, false},
	{hwC, 25, false},
	{hwD, 15, false},
	{hwE, 10, false},
	{hwF, 10, false},
	{hwB, 10, true},
}

// Generate builds an n-server data centre from seed and returns it with
// its Layout (no Scenarios). The same n and seed give the same world.
//
// Servers are "s0001".."sNNNN", 40 to a switch ("sw-01", ...; one
// resource zone per switch), 100 to an array and its fabric ("array-01",
// "fab-01"). Hardware is drawn from six classes; about 7% of servers are
// standby (at least one when n >= 2), off, unzoned, on parking VLAN 999,
// with no volumes. Active servers are on, zoned ("z-sNNNN"), on their
// workload's VLAN (a trunk for some), with boot volume "sNNNN-boot" at
// LUN 0 and for about a third "sNNNN-data" at LUN 1; pairs of active
// servers of the SMP class form logical servers ("lp-NNN"). About a fifth
// of the active servers get a relaxed Policy; Compositions lists the
// existing logical servers and every pair of SMP standbys of one switch.
// Operating systems take 5-30 s to shut down and 30-120 s to dump; about
// 3% refuse a graceful shutdown. opts are passed to NewWorld (a WithSeed
// among them seeds Fault.Probability, not the layout).
func Generate(n int, seed int64, opts ...Option) (*World, Layout, error) {
	if n < 1 || n > 99999 {
		return nil, Layout{}, errorf(errs.Invalid, "generate: %d servers, want 1..99999", n)
	}
	w := NewWorld(append([]Option{WithSeed(seed)}, opts...)...)
	rng := newRand(uint64(seed) ^ 0x5eed)
	total := 0
	for _, c := range genClasses {
		total += c.weight
	}
	standby := make([]bool, n)
	nStandby := 0
	for i := range standby {
		standby[i] = rng.Float64() < 0.07
		if standby[i] {
			nStandby++
		}
	}
	if nStandby == 0 && n >= 2 {
		standby[n-1] = true
	}
	var layout Layout
	var smpActive []string // SMP servers waiting for a partner
	smpStandbyBySwitch := map[string][]string{}
	lp := 0
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("s%04d", i+1)
		r := rng.IntN(total)
		ci := 0
		for r >= genClasses[ci].weight {
			r -= genClasses[ci].weight
			ci++
		}
		cls := genClasses[ci]
		sw := fmt.Sprintf("sw-%02d", i/40+1)
		arr := i/100 + 1
		spec := ServerSpec{
			ID: id, Hardware: cls.hw, State: StateActive, ResourceZone: "rz-" + sw,
			Switch: sw, DiskArray: fmt.Sprintf("array-%02d", arr), Fabric: fmt.Sprintf("fab-%02d", arr),
			OS: OS{
				ShutdownDelay:  time.Duration(5+rng.IntN(26)) * time.Second,
				DumpTime:       time.Duration(30+rng.IntN(91)) * time.Second,
				RefuseShutdown: rng.Float64() < 0.03,
			},
		}
		for p := 1; p <= cls.hw.NICPorts; p++ {
			spec.SwitchPorts = append(spec.SwitchPorts, fmt.Sprintf("eth%d/%d", p, i%40+1))
		}
		for p := 1; p <= cls.hw.HBAPorts; p++ {
			spec.Initiators = append(spec.Initiators, storage.MustParseInitiator(fmt.Sprintf("10:00:00:%02x:c9:%02x:%02x:%02x", (i+1)>>16&0xff, (i+1)>>8&0xff, (i+1)&0xff, p)))
		}
		if standby[i] {
			spec.State = StateStandby
			spec.VLAN = fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 999}
			if cls.smp {
				smpStandbyBySwitch[sw] = append(smpStandbyBySwitch[sw], id)
			}
		} else {
			group := rng.IntN(20)
			spec.Workload = fmt.Sprintf("wl-%04d", i+1)
			spec.Priority = 1 + rng.IntN(9)
			spec.VLAN = fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 100 + group}
			if rng.IntN(5) == 0 {
				spec.VLAN = fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 1, Trunk: []int{100 + group, 200 + group}}
			}
			spec.Zones = []string{"z-" + id}
			spec.BootVolumes = []Volume{{ID: storage.VolumeID(id + "-boot"), LUN: 0}}
			if rng.IntN(3) == 0 {
				spec.BootVolumes = append(spec.BootVolumes, Volume{ID: storage.VolumeID(id + "-data"), LUN: 1})
			}
			if cls.smp && rng.IntN(2) == 0 {
				// Pair with the previous waiting SMP server of this switch.
				if k := len(smpActive); k > 0 && mustSpec(w, smpActive[k-1]).Switch == sw {
					partner := smpActive[k-1]
					smpActive = smpActive[:k-1]
					ps := mustSpec(w, partner)
					lp++
					spec.Partition = fmt.Sprintf("lp-%03d", lp)
					spec.Workload, spec.Priority = ps.Workload, ps.Priority
					// The partner was added alone; make it a member now.
					w.mu.Lock()
					w.servers[partner].spec.Partition = spec.Partition
					w.partitions[spec.Partition] = []string{partner}
					w.mu.Unlock()
					layout.Compositions = append(layout.Compositions, []string{partner, id})
				} else {
					smpActive = append(smpActive, id)
				}
			}
			if rng.IntN(5) == 0 {
				layout.Policies = append(layout.Policies, Policy{
					Server: id, MinCPUMHz: cls.hw.CPUMHz, MinMemoryMiB: cls.hw.MemoryMiB,
					AllowOtherCPUModel: true, SameSwitch: rng.IntN(4) == 0,
				})
			}
		}
		if err := w.AddServer(spec); err != nil {
			return nil, Layout{}, err
		}
		for _, z := range spec.Zones {
			if err := w.AddZone(spec.Fabric, z, arrayTarget(arr)); err != nil {
				return nil, Layout{}, err
			}
		}
	}
	for _, sw := range slices.Sorted(maps.Keys(smpStandbyBySwitch)) {
		ids := smpStandbyBySwitch[sw]
		for a := 0; a < len(ids); a++ {
			for b := a + 1; b < len(ids); b++ {
				layout.Compositions = append(layout.Compositions, []string{ids[a], ids[b]})
			}
		}
	}
	for _, c := range layout.Compositions {
		slices.Sort(c)
	}
	slices.SortFunc(layout.Compositions, slices.Compare)
	w.SetCompositions(layout.Compositions)
	slices.SortFunc(layout.Policies, func(a, b Policy) int { return cmp.Compare(a.Server, b.Server) })
	return w, layout, nil
}

func mustSpec(w *World, id string) ServerSpec {
	s, _ := w.Spec(id)
	return s
}
