package failover_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
	"github.com/coldstandby/coldstandby/failover/storetest"
	"github.com/coldstandby/coldstandby/storage"
)

// pairsWorld builds n active servers, each with a same-hardware standby,
// 20 pairs to a switch, 100 pairs to a disk array and its FC fabric (as
// drivers/fake.Generate sizes them), every OS shutting down at once.
func pairsWorld(tb testing.TB, n int, opts ...fake.Option) *fake.World {
	tb.Helper()
	w := fake.NewWorld(opts...)
	hw := fake.Hardware{CPUModel: "Xeon", CPUMHz: 2800, MemoryMiB: 65536, Chipset: "C602", NICPorts: 1, HBAPorts: 1}
	for i := 0; i < 2*n; i++ {
		id := fmt.Sprintf("s%05d", i)
		sw := fmt.Sprintf("sw-%03d", i/40)
		spec := fake.ServerSpec{
			ID: id, Hardware: hw, State: fake.StateStandby, Switch: sw,
			DiskArray: fmt.Sprintf("array-%02d", i/200), Fabric: fmt.Sprintf("fab-%02d", i/200),
			SwitchPorts: []string{fmt.Sprintf("eth1/%d", i%40)},
			Initiators:  []storage.Initiator{storage.MustParseInitiator(fmt.Sprintf("10:00:00:00:c9:%02x:%02x:01", i>>8, i&0xff))},
			VLAN:        fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 999},
		}
		if i%2 == 0 {
			spec.State, spec.Workload, spec.Priority = fake.StateActive, "wl-"+id, 5
			spec.Zones = []string{"z-" + id}
			spec.VLAN = fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 100 + i%50}
			spec.BootVolumes = []fake.Volume{{ID: storage.VolumeID(id + "-boot"), LUN: 0}}
		}
		if err := w.AddServer(spec); err != nil {
			tb.Fatal(err)
		}
	}
	return w
}

// BenchmarkThousandFailovers runs 1,000 simultaneous failovers (joint
// planning, concurrent execution) on zero-latency fakes. The servers lost
// power, so fencing confirms "off" at once; every other step runs in full.
func BenchmarkThousandFailovers(b *testing.B) {
	const n = 1000
	for b.Loop() {
		b.StopTimer()
		clk := fake.NewClock(t0)
		w := pairsWorld(b, n, fake.WithClock(clk))
		st := failover.NewMemStore()
		if _, err := st.Put(context.Background(), failovertest.Records(w)...); err != nil {
			b.Fatal(err)
		}
		o, err := failover.New(st, failovertest.Drivers(w), failover.WithClock(clk))
		if err != nil {
			b.Fatal(err)
		}
		faults := make([]bmc.Fault, n)
		for i := range faults {
			id := fmt.Sprintf("s%05d", 2*i)
			_ = w.FailServer(id, bmc.FaultPowerLost)
			faults[i] = bmc.Fault{Server: id, Type: bmc.FaultPowerLost}
		}
		b.StartTimer()
		results, err := o.HandleFaults(context.Background(), faults...)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range results {
			if r.Outcome != failover.OutcomeDone {
				b.Fatalf("%s: %s", r.Server, r.Outcome)
			}
		}
		b.StartTimer()
	}
}

// BenchmarkMakespan measures one exact failover on the patent's data
// centre with every driver call taking a fixed latency L in real time, and
// reports the makespan over the critical path: the longest chain of
// dependent calls (fence, then the slowest of storage, zoning and each
// NIC's VLAN, then boot), counted from the fake's operation log.
func BenchmarkMakespan(b *testing.B) {
	const L = 10 * time.Millisecond
	var ratio float64
	var chain int
	for b.Loop() {
		b.StopTimer()
		w, l := fake.PatentExample()
		for _, d := range []string{fake.DriverBMC, fake.DriverStorage, fake.DriverZoner, fake.DriverVLAN, fake.DriverPartition} {
			if _, err := w.SetLatency(d, "", "", L); err != nil {
				b.Fatal(err)
			}
		}
		_ = w.FailServer("srv01", bmc.FaultPowerLost)
		st := failover.NewMemStore()
		if _, err := st.Put(context.Background(), failovertest.Records(w)...); err != nil {
			b.Fatal(err)
		}
		o, err := failover.New(st, failovertest.Drivers(w), failover.WithSearchOptions(failovertest.SearchOptions(w, l)...))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		res, err := o.HandleFault(context.Background(), bmc.Fault{Server: "srv01", Type: bmc.FaultPowerLost})
		took := time.Since(start)
		b.StopTimer()
		if err != nil || res.Plan.Assignments[0].Spare != "srv02" {
			b.Fatal(res.Plan, err)
		}
		chain = criticalPath(w.Ops())
		ratio = float64(took) / float64(time.Duration(chain)*L)
		b.StartTimer()
	}
	b.ReportMetric(float64(chain), "calls-on-critical-path")
	b.ReportMetric(ratio, "makespan/critical-path")
}

// criticalPath counts the calls on the longest dependent chain of the
// srv01 -> srv02 failover from the operation log.
func criticalPath(ops []fake.Op) int {
	n := map[string]int{}
	for _, op := range ops {
		switch op.Driver {
		case fake.DriverBMC:
			n["bmc "+op.Target]++
		case fake.DriverStorage:
			n["storage"]++
		case fake.DriverZoner:
			n["zoner"]++ // one fabric: its steps share a transaction, one at a time
		case fake.DriverVLAN:
			n["vlan "+op.Target]++
		}
	}
	// NIC i of srv01 (eth1/1, eth1/2) pairs with NIC i of srv02 (eth1/3, eth1/4).
	vlan := max(n["vlan eth1/1"]+n["vlan eth1/3"], n["vlan eth1/2"]+n["vlan eth1/4"])
	return n["bmc srv01"] + max(n["storage"], n["zoner"], vlan) + n["bmc srv02"]
}

// BenchmarkMassFailure is the rack-scale restore of issue 17 on MemStore:
// 1,000 failures spread over 10 fabrics and arrays and 50 switches, or
// all on one, every driver call taking 5 ms, delivered as one HandleFaults
// call or as concurrent HandleFault calls; and 5,000 on zero-latency
// fakes.
func BenchmarkMassFailure(b *testing.B) {
	mem := func(*testing.B) failover.Store { return failover.NewMemStore() }
	for _, s := range []storetest.MassShape{
		{Failures: 1000, Fabrics: 10, Switches: 50, Latency: 5 * time.Millisecond},
		{Failures: 1000, Fabrics: 1, Switches: 1, Latency: 5 * time.Millisecond},
		{Failures: 200, Fabrics: 10, Switches: 50, Latency: 5 * time.Millisecond},
		{Failures: 200, Fabrics: 10, Switches: 50, Latency: 5 * time.Millisecond, Concurrent: true},
		{Failures: 200, Fabrics: 10, Switches: 50, Latency: 5 * time.Millisecond, Watcher: true},
		{Failures: 10, Fabrics: 10, Switches: 50},
		{Failures: 1000, Fabrics: 10, Switches: 50},
		{Failures: 5000, Fabrics: 10, Switches: 50},
	} {
		b.Run(s.String(), func(b *testing.B) { storetest.BenchmarkMassFailure(b, mem, s) })
	}
}
