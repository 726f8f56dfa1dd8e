package fake

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/partition"
	"github.com/coldstandby/coldstandby/storage"
)

func TestFaultAfterAndTimes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		after, time int
		want        []bool // per call: fails?
	}{
		{"fail every call", 0, 0, []bool{true, true, true, true}},
		{"fail after 2 calls", 2, 0, []bool{false, false, true, true}},
		{"fail 2 times then succeed", 0, 2, []bool{true, true, false, false}},
		{"after 1, once", 1, 1, []bool{false, true, false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := twoServers(t)
			if _, err := w.Inject(Fault{Driver: DriverBMC, Method: "PowerState", Target: "a", Err: bmc.ErrTransient, After: tc.after, Times: tc.time}); err != nil {
				t.Fatal(err)
			}
			var got []bool
			for range tc.want {
				_, err := w.BMC("a").PowerState(ctx)
				if err != nil && !errors.Is(err, bmc.ErrTransient) {
					t.Fatalf("error %v does not wrap ErrTransient", err)
				}
				got = append(got, err != nil)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("failures %v, want %v", got, tc.want)
			}
			// Other targets and methods are untouched.
			if _, err := w.BMC("b").PowerState(ctx); err != nil {
				t.Fatalf("other server: %v", err)
			}
			if err := w.BMC("a").SetBootDevice(ctx, bmc.BootDisk, false); err != nil {
				t.Fatalf("other method: %v", err)
			}
		})
	}
}

func TestFaultFailedCallChangesNothing(t *testing.T) {
	ctx := context.Background()
	w := twoServers(t)
	if _, err := w.FailCalls(DriverStorage, "Map", "boot-a", storage.ErrTransient, 1); err != nil {
		t.Fatal(err)
	}
	must(t, w.SetPower("a", bmc.PowerOff))
	must(t, w.DiskMapper("arr").Unmap(ctx, "boot-a", []storage.Initiator{wwpn(1), wwpn(2)}))
	err := w.DiskMapper("arr").Map(ctx, "boot-a", []storage.Initiator{wwpn(3), wwpn(4)}, 0)
	if !errors.Is(err, storage.ErrTransient) {
		t.Fatalf("Map: %v, want ErrTransient", err)
	}
	if h := w.VolumeHolders("arr", "boot-a"); len(h) != 0 {
		t.Fatalf("holders after failed Map: %v", h)
	}
	must(t, w.DiskMapper("arr").Map(ctx, "boot-a", []storage.Initiator{wwpn(3), wwpn(4)}, 0))
	if h := w.VolumeHolders("arr", "boot-a"); !slices.Equal(h, []string{"b"}) {
		t.Fatalf("holders after retry: %v", h)
	}
}

func TestFaultLostResponseAppliesChange(t *testing.T) {
	ctx := context.Background()
	w := twoServers(t)
	if _, err := w.LoseResponses(DriverBMC, "PowerOff", "a", 1); err != nil {
		t.Fatal(err)
	}
	err := w.BMC("a").PowerOff(ctx)
	if !errors.Is(err, bmc.ErrOutcomeUnknown) {
		t.Fatalf("PowerOff: %v, want ErrOutcomeUnknown", err)
	}
	if p := w.Power("a"); p != bmc.PowerOff {
		t.Fatalf("power %v: the change must happen", p)
	}
	ops := w.Ops()
	if last := ops[len(ops)-1]; !last.Lost || last.Method != "PowerOff" {
		t.Fatalf("last op %v", last)
	}

	// A lost response with an Err wraps both; on a read it is transient.
	if _, err := w.Inject(Fault{Driver: DriverVLAN, Target: "1/1", LostResponse: true, Err: context.DeadlineExceeded}); err != nil {
		t.Fatal(err)
	}
	_, err = w.Switch("sw1").SetPortVLAN(ctx, "1/1", fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 20})
	if !errors.Is(err, fabric.ErrOutcomeUnknown) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SetPortVLAN: %v", err)
	}
	if v, _ := w.PortVLAN("sw1", "1/1"); v.AccessVLAN != 20 {
		t.Fatalf("port %v: the change must happen", v)
	}
	if _, err := w.Switch("sw1").PortVLAN(ctx, "1/1"); !errors.Is(err, fabric.ErrTransient) {
		t.Fatalf("PortVLAN read with lost response: %v, want ErrTransient", err)
	}
}

func TestFaultMatchesTargetByAnyName(t *testing.T) {
	ctx := context.Background()
	for _, target := range []string{"arr", "boot-a", "b", wwpn(3).String(), ""} {
		t.Run("target="+target, func(t *testing.T) {
			w := twoServers(t)
			if _, err := w.FailCalls(DriverStorage, "Map", target, storage.ErrTransient, 0); err != nil {
				t.Fatal(err)
			}
			err := w.DiskMapper("arr").Map(ctx, "boot-a", []storage.Initiator{wwpn(3)}, 0)
			if !errors.Is(err, storage.ErrTransient) {
				t.Fatalf("Map matching %q: %v", target, err)
			}
		})
	}
	w := twoServers(t)
	if _, err := w.FailCalls(DriverStorage, "Map", "data-a", storage.ErrTransient, 0); err != nil {
		t.Fatal(err)
	}
	must(t, w.SetPower("a", bmc.PowerOff))
	if err := w.DiskMapper("arr").Map(ctx, "boot-a", []storage.Initiator{wwpn(5)}, 0); err != nil {
		t.Fatalf("Map of another volume must not match: %v", err)
	}
}

func TestFaultLatencyUsesSleeperAndHonoursContext(t *testing.T) {
	var mu sync.Mutex
	var slept []time.Duration
	sleep := func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		slept = append(slept, d)
		mu.Unlock()
		return ctx.Err()
	}
	w := twoServers(t, WithSleep(sleep))
	if _, err := w.SetLatency(DriverBMC, "", "a", 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := w.SetLatency(DriverBMC, "PowerOff", "", time.Second); err != nil {
		t.Fatal(err)
	}
	must(t, w.BMC("a").PowerOff(context.Background()))
	if !slices.Equal(slept, []time.Duration{4 * time.Second}) {
		t.Fatalf("slept %v, want one sleep of the summed latencies", slept)
	}

	// With the real sleeper, a cancelled ctx ends the wait and changes nothing.
	w = twoServers(t)
	w.cfg.sleep = realSleep
	if _, err := w.SetLatency(DriverBMC, "PowerOff", "a", time.Hour); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := w.BMC("a").PowerOff(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("PowerOff: %v after %v", err, time.Since(start))
	}
	if w.Power("a") != bmc.PowerOn {
		t.Fatal("a call cancelled during its latency must change nothing")
	}
}

func TestFaultPowerUnknown(t *testing.T) {
	ctx := context.Background()
	w := twoServers(t)
	if _, err := w.PowerStateUnknown("a", 2); err != nil {
		t.Fatal(err)
	}
	must(t, w.BMC("a").PowerOff(ctx))
	for i := range 3 {
		p, err := w.BMC("a").PowerState(ctx)
		want := bmc.PowerUnknown
		if i == 2 {
			want = bmc.PowerOff
		}
		if err != nil || p != want {
			t.Fatalf("read %d: %v %v, want %v", i, p, err, want)
		}
	}
	if n := w.Calls(DriverBMC, "PowerState"); n != 3 {
		t.Fatalf("counted %d PowerState calls, want 3", n)
	}
}

func TestFaultProbabilityIsSeeded(t *testing.T) {
	run := func(seed int64) []bool {
		w := twoServers(t, WithSeed(seed))
		if _, err := w.Inject(Fault{Driver: DriverPartition, Err: partition.ErrTransient, Probability: 0.5}); err != nil {
			t.Fatal(err)
		}
		var out []bool
		for range 64 {
			_, err := w.Partitions().List(context.Background())
			out = append(out, err != nil)
		}
		return out
	}
	a, b := run(7), run(7)
	if !slices.Equal(a, b) {
		t.Fatal("same seed, different failures")
	}
	n := 0
	for _, f := range a {
		if f {
			n++
		}
	}
	if n < 16 || n > 48 {
		t.Fatalf("%d/64 failures with probability 0.5", n)
	}
	if slices.Equal(a, run(8)) {
		t.Fatal("different seeds gave the same failures")
	}
}

func TestInjectRejectsBadFaults(t *testing.T) {
	w := NewWorld()
	for _, f := range []Fault{
		{Driver: "nope", Err: bmc.ErrTransient},
		{Driver: DriverBMC, Method: "Map", Err: bmc.ErrTransient},
		{Driver: DriverBMC, Err: bmc.ErrTransient, Times: -1},
		{Driver: DriverBMC, Err: bmc.ErrTransient, Probability: 2},
		{Driver: DriverBMC, Method: "PowerOff", PowerUnknown: true},
		{Driver: DriverBMC},
	} {
		if _, err := w.Inject(f); !errors.Is(err, bmc.ErrInvalid) {
			t.Errorf("Inject(%+v) = %v, want ErrInvalid", f, err)
		}
	}
}

func TestRemoveAndClearFaults(t *testing.T) {
	ctx := context.Background()
	w := twoServers(t)
	id, _ := w.FailCalls(DriverBMC, "", "", bmc.ErrTransient, 0)
	if _, err := w.BMC("a").PowerState(ctx); err == nil {
		t.Fatal("fault not applied")
	}
	w.RemoveFault(id)
	if _, err := w.BMC("a").PowerState(ctx); err != nil {
		t.Fatal(err)
	}
	_, _ = w.FailCalls(DriverBMC, "", "", bmc.ErrTransient, 0)
	w.ClearFaults()
	if _, err := w.BMC("a").PowerState(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestOpsLogAndCalls(t *testing.T) {
	ctx := context.Background()
	w := twoServers(t)
	_, _ = w.FailCalls(DriverZoner, "AddMember", "", fabric.ErrTransient, 1)
	_ = w.Zoner("fab").AddMember(ctx, "z-a", wwpn(3))
	must(t, w.Zoner("fab").AddMember(ctx, "z-a", wwpn(3)))
	must(t, w.Zoner("fab").Commit(ctx))
	must(t, w.BMC("b").PowerOn(ctx))
	var got []string
	for _, o := range w.Ops() {
		got = append(got, o.String())
	}
	want := []string{
		"1 zoner.AddMember z-a [21:00:00:24:ff:00:00:03]: fake: zoner AddMember z-a: injected fault: transient",
		"2 zoner.AddMember z-a [21:00:00:24:ff:00:00:03]",
		"3 zoner.Commit fab",
		"4 bmc.PowerOn b",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ops:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if w.Calls(DriverZoner, "AddMember") != 2 || w.Calls(DriverZoner, "") != 3 {
		t.Fatalf("calls %d %d", w.Calls(DriverZoner, "AddMember"), w.Calls(DriverZoner, ""))
	}
	w.ResetOps()
	if len(w.Ops()) != 0 || w.Calls(DriverBMC, "") != 0 {
		t.Fatal("ResetOps kept something")
	}
}

func TestCommitFailureAbortsTransaction(t *testing.T) {
	ctx := context.Background()
	w := twoServers(t)
	z := w.Zoner("fab")
	must(t, z.AddMember(ctx, "z-a", wwpn(3)))
	_, _ = w.FailCalls(DriverZoner, "Commit", "fab", fabric.ErrConflict, 1)
	if err := z.Commit(ctx); !errors.Is(err, fabric.ErrConflict) {
		t.Fatalf("Commit: %v", err)
	}
	if zs, _ := z.Zones(ctx, wwpn(3)); len(zs) != 0 {
		t.Fatalf("pending change survived a failed commit: %v", zs)
	}
	if zs := w.ActiveZonesOf("fab", wwpn(3)); len(zs) != 0 {
		t.Fatalf("active zones %v", zs)
	}
	// Another session's lock.
	release, err := w.HoldZoningLock("fab")
	must(t, err)
	if err := z.AddMember(ctx, "z-a", wwpn(3)); !errors.Is(err, fabric.ErrConflict) {
		t.Fatalf("AddMember under another session's lock: %v", err)
	}
	release()
	must(t, z.AddMember(ctx, "z-a", wwpn(3)))
	must(t, z.Commit(ctx))
	if zs := w.ActiveZonesOf("fab", wwpn(3)); !slices.Equal(zs, []string{"z-a"}) {
		t.Fatalf("active zones after commit %v", zs)
	}
}

func TestConcurrentFaultsAndCalls(t *testing.T) {
	ctx := context.Background()
	w, _ := PatentExample(WithClock(NewClock(t0)))
	_, _ = w.Inject(Fault{Driver: DriverStorage, Err: storage.ErrTransient, Probability: 0.3})
	_, _ = w.Inject(Fault{Driver: DriverBMC, LostResponse: true, Probability: 0.2})
	var wg sync.WaitGroup
	for _, s := range w.Servers() {
		wg.Go(func() {
			b := w.BMC(s.ID)
			for range 20 {
				_, _ = b.PowerState(ctx)
				_ = b.SetBootDevice(ctx, bmc.BootDisk, true)
				_, _, _ = b.Events(ctx, "")
				_, _ = w.DiskMapper(s.DiskArray).Mappings(ctx, s.Initiators)
				_ = w.Snapshot()
			}
		})
	}
	wg.Wait()
	if n := len(w.Ops()); n != 12*20*4 {
		t.Fatalf("%d ops", n)
	}
}

func BenchmarkPowerState(b *testing.B) {
	w, _ := PatentExample()
	bm := w.BMC("srv01")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bm.PowerState(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMapUnmapWithFaults(b *testing.B) {
	w, _, err := Generate(1000, 1)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 10 { // faults that do not match still cost a look
		_, _ = w.FailCalls(DriverStorage, "Map", fmt.Sprintf("nothing-%d", i), storage.ErrTransient, 0)
	}
	_ = w.AddVolume("array-01", "bench", 0)
	dm := w.DiskMapper("array-01")
	ins := []storage.Initiator{storage.MustParseInitiator("5f:ff:ff:00:00:00:00:01")}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := dm.Map(ctx, "bench", ins, 0); err != nil {
			b.Fatal(err)
		}
		if err := dm.Unmap(ctx, "bench", ins); err != nil {
			b.Fatal(err)
		}
	}
}

// The same seed and the same calls from one goroutine give the same
// operation log, errors included.
func TestSameSeedSameOpLog(t *testing.T) {
	run := func(seed int64) []string {
		clk := NewClock(t0)
		w, _, err := Generate(60, seed, WithClock(clk))
		must(t, err)
		_, _ = w.Inject(Fault{Driver: DriverStorage, Err: storage.ErrTransient, Probability: 0.3})
		_, _ = w.Inject(Fault{Driver: DriverBMC, Method: "PowerOff", LostResponse: true, Probability: 0.3, Latency: time.Second})
		ctx := context.Background()
		for _, s := range w.Servers() {
			b := w.BMC(s.ID)
			_ = b.Shutdown(ctx)
			_ = b.PowerOff(ctx)
			_, _ = w.DiskMapper(s.DiskArray).Mappings(ctx, s.Initiators)
		}
		var out []string
		for _, o := range w.Ops() {
			out = append(out, o.String())
		}
		return out
	}
	a, b := run(3), run(3)
	if !slices.Equal(a, b) {
		t.Fatal("same seed, different op logs")
	}
	if slices.Equal(a, run(4)) {
		t.Fatal("different seeds, same op log")
	}
}

func TestFaultResponseLatencyAfterTheChange(t *testing.T) {
	w := twoServers(t)
	w.cfg.sleep = realSleep
	if _, err := w.Inject(Fault{Driver: DriverBMC, Method: "PowerOff", Target: "a", ResponseLatency: time.Hour, Times: 1}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := w.BMC("a").PowerOff(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, bmc.ErrOutcomeUnknown) {
		t.Fatalf("PowerOff: %v, want deadline and outcome unknown", err)
	}
	if w.Power("a") != bmc.PowerOff {
		t.Fatal("the change must have happened")
	}
	// Reads just time out.
	if _, err := w.Inject(Fault{Driver: DriverBMC, Method: "PowerState", ResponseLatency: time.Hour, Times: 1}); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := w.BMC("a").PowerState(ctx2); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, bmc.ErrOutcomeUnknown) {
		t.Fatalf("PowerState: %v", err)
	}
}

// Probability draws do not depend on goroutine scheduling: concurrent
// callers on their own targets see the same failures on every run.
func TestProbabilityDrawsIgnoreScheduling(t *testing.T) {
	run := func() map[string][]bool {
		w, _ := PatentExample(WithSeed(11), WithClock(NewClock(t0)))
		_, _ = w.Inject(Fault{Driver: DriverBMC, Err: bmc.ErrTransient, Probability: 0.4})
		var mu sync.Mutex
		got := map[string][]bool{}
		var wg sync.WaitGroup
		for _, s := range w.Servers() {
			wg.Go(func() {
				var seq []bool
				for range 30 {
					_, err := w.BMC(s.ID).PowerState(context.Background())
					seq = append(seq, err != nil)
				}
				mu.Lock()
				got[s.ID] = seq
				mu.Unlock()
			})
		}
		wg.Wait()
		return got
	}
	first := run()
	for range 5 {
		if !reflect.DeepEqual(first, run()) {
			t.Fatal("failures changed with scheduling")
		}
	}
}

// BenchmarkFailoverAndBack is the driver side of one failover and its
// failback on the patent example (14 calls each way plus the checks the
// simulation runs), the fake's share of the Orchestrator's budget.
func BenchmarkFailoverAndBack(b *testing.B) {
	ctx := context.Background()
	w, _ := PatentExample(WithClock(NewClock(t0)))
	base := w.Snapshot()
	a, s := mustSpecB(b, w, "srv01"), mustSpecB(b, w, "srv02")
	dm := w.DiskMapper("array-1").(storage.InitiatorSwapper)
	z, sw := w.Zoner("fab-1"), w.Switch("sw-1")
	move := func(from, to ServerSpec) {
		fb, tb := w.BMC(from.ID), w.BMC(to.ID)
		_ = fb.Shutdown(ctx)
		_ = fb.PowerOff(ctx)
		if p, _ := fb.PowerState(ctx); p != bmc.PowerOff {
			b.Fatal("not fenced")
		}
		if err := dm.SwapInitiators(ctx, from.Initiators, to.Initiators); err != nil {
			b.Fatal(err)
		}
		for i := range to.Initiators {
			_ = z.AddMember(ctx, "z-srv01", to.Initiators[i])
			_ = z.RemoveMember(ctx, "z-srv01", from.Initiators[i])
		}
		_ = z.Commit(ctx)
		for i, p := range to.SwitchPorts {
			_, _ = sw.SetPortVLAN(ctx, p, a.VLAN)
			_, _ = sw.SetPortVLAN(ctx, from.SwitchPorts[i], fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 999})
		}
		_ = tb.SetBootDevice(ctx, bmc.BootDisk, true)
		_ = tb.PowerOn(ctx)
	}
	b.ReportAllocs()
	for b.Loop() {
		move(a, s)
		move(s, a)
		if err := w.CheckInvariants(base); err != nil {
			b.Fatal(err)
		}
		w.ResetOps()
	}
}

func mustSpecB(b *testing.B, w *World, id string) ServerSpec {
	s, ok := w.Spec(id)
	if !ok {
		b.Fatal(id)
	}
	return s
}

// A storage write whose answer was lost may land later, after its caller
// gave up and moved on: an unmap queued in the array that takes effect
// after the volume was mapped back.
func TestFaultLandLateAppliesTheChangeAfterLaterCalls(t *testing.T) {
	ctx := context.Background()
	w := twoServers(t)
	dm := w.DiskMapper("arr")
	a := []storage.Initiator{wwpn(1), wwpn(2)}
	if _, err := w.Inject(Fault{Driver: DriverStorage, Method: "Unmap", Target: "boot-a", LostResponse: true, LandLate: 3, Times: 1}); err != nil {
		t.Fatal(err)
	}
	if err := dm.Unmap(ctx, "boot-a", a); !errors.Is(err, storage.ErrOutcomeUnknown) {
		t.Fatalf("Unmap: %v, want ErrOutcomeUnknown", err)
	}
	sees := func() bool {
		t.Helper()
		ms, err := dm.Mappings(ctx, a)
		must(t, err)
		return slices.Contains(ms, storage.Mapping{Volume: "boot-a", LUN: 0})
	}
	if !sees() || !sees() { // calls 1 and 2 after the unmap: not landed yet
		t.Fatal("the unmap took effect at once")
	}
	if sees() { // call 3: it lands just before
		t.Fatal("the unmap never landed")
	}
	ops := w.Ops()
	if !slices.ContainsFunc(ops, func(o Op) bool { return o.Method == "(landed late)" && strings.Contains(o.Target, "boot-a") }) {
		t.Fatalf("no late landing in the op log: %v", ops)
	}
	for _, bad := range []Fault{
		{Driver: DriverStorage, Method: "Unmap", LandLate: 2},                        // not lost
		{Driver: DriverStorage, Method: "Mappings", LostResponse: true, LandLate: 2}, // a read
		{Driver: DriverBMC, Method: "PowerOff", LostResponse: true, LandLate: 2},     // not storage
	} {
		if _, err := w.Inject(bad); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("Inject(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestFaultThenScriptsAnEventAtACall(t *testing.T) {
	ctx := context.Background()
	w := twoServers(t)
	must(t, w.BMC("a").PowerOff(ctx))
	// The second power read after fencing: the server comes back on by
	// itself (a power-restore policy, an operator).
	if _, err := w.Inject(Fault{Driver: DriverBMC, Method: "PowerState", Target: "a", After: 1, Times: 1, Then: func() { _ = w.SetPower("a", bmc.PowerOn) }}); err != nil {
		t.Fatal(err)
	}
	var got []bmc.PowerState
	for range 3 {
		p, err := w.BMC("a").PowerState(ctx)
		must(t, err)
		got = append(got, p)
	}
	if want := []bmc.PowerState{bmc.PowerOff, bmc.PowerOff, bmc.PowerOn}; !slices.Equal(got, want) {
		t.Fatalf("power reads %v, want %v", got, want)
	}
}
