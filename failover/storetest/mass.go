package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
	"github.com/coldstandby/coldstandby/storage"
)

// MassShape describes a mass failure for BenchmarkMassFailure: Failures
// failed servers, each with one same-hardware standby, spread evenly over
// Fabrics FC fabrics (an array per fabric, Arrays of them) and Switches
// Ethernet switches; every driver call takes Latency (real time).
// Concurrent delivers the faults as that many concurrent HandleFault
// calls instead of one HandleFaults call; Watcher has a bmc.Watcher find
// them in the BMCs' event logs (8 polls at a time) and deliver them
// through a failover.Intake.
type MassShape struct {
	Failures, Fabrics, Switches int
	Latency                     time.Duration
	Concurrent, Watcher         bool
}

func (s MassShape) String() string {
	how := "joint"
	switch {
	case s.Watcher:
		how = "watcher"
	case s.Concurrent:
		how = "concurrent"
	}
	return fmt.Sprintf("n=%d/fabrics=%d/switches=%d/lat=%v/%s", s.Failures, s.Fabrics, s.Switches, s.Latency, how)
}

// MassWorld builds the world of s: pairs s0000 (active) / s0001 (standby),
// s0002 / s0003, ..., a pair's two servers on the same fabric, array and
// switch, so that every failure has exactly one exact spare. The active
// servers lost power, so fencing confirms "off" at once.
func MassWorld(tb testing.TB, s MassShape, opts ...fake.Option) (*fake.World, []bmc.Fault) {
	tb.Helper()
	w := fake.NewWorld(opts...)
	hw := fake.Hardware{CPUModel: "Xeon", CPUMHz: 2800, MemoryMiB: 65536, Chipset: "C602", NICPorts: 1, HBAPorts: 1}
	var faults []bmc.Fault
	for i := 0; i < 2*s.Failures; i++ {
		pair := i / 2
		id := fmt.Sprintf("s%05d", i)
		fab := pair % max(s.Fabrics, 1)
		sw := pair % max(s.Switches, 1)
		spec := fake.ServerSpec{
			ID: id, Hardware: hw, State: fake.StateStandby, Switch: fmt.Sprintf("sw-%03d", sw),
			DiskArray: fmt.Sprintf("array-%03d", fab), Fabric: fmt.Sprintf("fab-%03d", fab),
			SwitchPorts: []string{fmt.Sprintf("eth1/%d", i)},
			Initiators:  []storage.Initiator{storage.MustParseInitiator(fmt.Sprintf("10:00:00:%02x:c9:%02x:%02x:01", i>>16&0xff, i>>8&0xff, i&0xff))},
			VLAN:        fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 999},
		}
		if i%2 == 0 {
			spec.State, spec.Workload, spec.Priority = fake.StateActive, "wl-"+id, 5
			spec.Zones = []string{"z-" + id}
			spec.VLAN = fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 100 + pair%50}
			spec.BootVolumes = []fake.Volume{{ID: storage.VolumeID(id + "-boot"), LUN: 0}}
		}
		if err := w.AddServer(spec); err != nil {
			tb.Fatal(err)
		}
		if i%2 == 0 {
			faults = append(faults, bmc.Fault{Server: id, Type: bmc.FaultPowerLost})
		}
	}
	if s.Latency > 0 {
		for _, d := range []string{fake.DriverBMC, fake.DriverStorage, fake.DriverZoner, fake.DriverVLAN} {
			if _, err := w.SetLatency(d, "", "", s.Latency); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return w, faults
}

// BenchmarkMassFailure fails s.Failures servers at once on a fresh store
// from newStore per iteration, with the Orchestrator on real time (the
// latency is real), and checks that every failover is done. It reports
// "roundtrips/failover" (store calls) and "s/run".
func BenchmarkMassFailure(b *testing.B, newStore func(b *testing.B) failover.Store, s MassShape) {
	ctx := context.Background()
	var total, runs int
	var secs float64
	for b.Loop() {
		b.StopTimer()
		w, faults := MassWorld(b, s)
		for _, f := range faults {
			if err := w.FailServer(f.Server, f.Type); err != nil {
				b.Fatal(err)
			}
		}
		st := NewCounting(newStore(b))
		if _, err := st.Put(ctx, failovertest.Records(w)...); err != nil {
			b.Fatal(err)
		}
		o, err := failover.New(st.AsStore(), failovertest.Drivers(w), failover.WithTimeouts(failover.Timeouts{Poll: time.Millisecond, RetryBase: time.Millisecond}))
		if err != nil {
			b.Fatal(err)
		}
		st.Reset()
		b.StartTimer()
		start := time.Now()
		results := make([]failover.Result, len(faults))
		if s.Watcher {
			results = WatchAndDeliver(b, w, o, faults)
		} else if s.Concurrent {
			var wg sync.WaitGroup
			for i, f := range faults {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i], _ = o.HandleFault(ctx, f)
				}()
			}
			wg.Wait()
		} else {
			results, _ = o.HandleFaults(ctx, faults...)
		}
		secs += time.Since(start).Seconds()
		b.StopTimer()
		failed := 0
		var first error
		for _, r := range results {
			if r.Outcome != failover.OutcomeDone {
				failed++
				if first == nil {
					first = fmt.Errorf("%s: %s: %v", r.Server, r.Outcome, r.Err)
				}
			}
		}
		if failed > 0 {
			b.Fatalf("%d of %d failovers not done; first: %v", failed, len(faults), first)
		}
		total += st.Total()
		runs++
		b.StartTimer()
	}
	b.ReportMetric(float64(total)/float64(runs*s.Failures), "roundtrips/failover")
	b.ReportMetric(secs/float64(runs), "s/run")
}

// WatchAndDeliver has a bmc.Watcher poll the BMCs of the failed servers
// once (8 at a time, the default) and deliver what it classifies as
// faults through an Intake, then waits for every failover. It returns
// their results in the order of faults.
func WatchAndDeliver(tb testing.TB, w *fake.World, o *failover.Orchestrator, faults []bmc.Fault) []failover.Result {
	tb.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	got := map[string]failover.Result{}
	in := o.NewIntake(ctx, func(r failover.Result) {
		mu.Lock()
		got[string(r.Server)] = r
		mu.Unlock()
	})
	targets := make([]bmc.Target, len(faults))
	for i, f := range faults {
		targets[i] = bmc.Target{Server: f.Server, BMC: w.BMC(f.Server)}
	}
	wt, err := bmc.NewWatcher(targets, in.Deliver, bmc.WithWatchJitter(0), bmc.WithReplay())
	if err != nil {
		tb.Fatal(err)
	}
	wt.PollDue(ctx)
	in.Wait()
	out := make([]failover.Result, len(faults))
	for i, f := range faults {
		out[i] = got[f.Server]
	}
	return out
}
