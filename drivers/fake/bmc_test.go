package fake

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/partition"
)

func TestGracefulShutdownTakesItsTime(t *testing.T) {
	ctx := context.Background()
	clk := NewClock(t0)
	w := twoServers(t, WithClock(clk))
	a := w.BMC("a")
	must(t, a.Shutdown(ctx))
	if p, _ := a.PowerState(ctx); p != bmc.PowerOn {
		t.Fatalf("off at once, want after 30 s: %v", p)
	}
	clk.Advance(29 * time.Second)
	if st, _ := w.Server("a"); st.Power != bmc.PowerOn || !st.ShutdownPending {
		t.Fatalf("after 29 s: %+v", st)
	}
	clk.Advance(time.Second)
	if p, _ := a.PowerState(ctx); p != bmc.PowerOff {
		t.Fatalf("after 30 s: %v, want off", p)
	}
}

func TestRefusedAndHungShutdownNeedsPowerOff(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(w *World) error
	}{
		{"OS refuses", func(w *World) error { return w.RefuseShutdown("a", true) }},
		{"processor IERR hangs the OS", func(w *World) error { return w.FailServer("a", bmc.FaultProcessor) }},
		{"watchdog", func(w *World) error { return w.FailServer("a", bmc.FaultWatchdog) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := NewClock(t0)
			w := twoServers(t, WithClock(clk))
			must(t, tc.setup(w))
			must(t, w.BMC("a").Shutdown(ctx))
			clk.Advance(time.Hour)
			if p := w.Power("a"); p != bmc.PowerOn {
				t.Fatalf("power %v, want still on", p)
			}
			must(t, w.BMC("a").PowerOff(ctx))
			if p := w.Power("a"); p != bmc.PowerOff {
				t.Fatalf("power %v after PowerOff", p)
			}
		})
	}
}

func TestNMIDumpTakesDumpTime(t *testing.T) {
	ctx := context.Background()
	clk := NewClock(t0)
	w := twoServers(t, WithClock(clk))
	b := w.BMC("a")
	dr := b.(bmc.DumpReporter)
	must(t, b.NMI(ctx))
	for _, step := range []struct {
		advance time.Duration
		dumping bool
	}{{0, true}, {119 * time.Second, true}, {time.Second, false}} {
		clk.Advance(step.advance)
		d, err := dr.DumpInProgress(ctx)
		if err != nil || d != step.dumping {
			t.Fatalf("after +%v: dumping %v %v, want %v", step.advance, d, err, step.dumping)
		}
	}
	// The OS halted after the dump: a graceful shutdown does nothing.
	must(t, b.Shutdown(ctx))
	clk.Advance(time.Hour)
	if w.Power("a") != bmc.PowerOn {
		t.Fatal("a halted OS shut down gracefully")
	}
	must(t, b.PowerOff(ctx))
	if err := b.NMI(ctx); !errors.Is(err, bmc.ErrConflict) {
		t.Fatalf("NMI on an off server: %v", err)
	}
	w2 := twoServers(t)
	w2.mu.Lock()
	w2.servers["a"].os.NoNMI = true
	w2.mu.Unlock()
	if err := w2.BMC("a").NMI(ctx); !errors.Is(err, bmc.ErrUnsupported) {
		t.Fatalf("NMI without support: %v", err)
	}
}

func TestFailServerEffectsAndEvents(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		ft        bmc.FaultType
		power     bmc.PowerState
		sensor    uint8
		dumping   bool
		bmcErr    error
		powerOnOK bool
	}{
		{bmc.FaultProcessor, bmc.PowerOn, 0x07, false, nil, true},
		{bmc.FaultMemory, bmc.PowerOn, 0x0c, false, nil, true},
		{bmc.FaultOSStop, bmc.PowerOn, 0x20, true, nil, true},
		{bmc.FaultPowerSupply, bmc.PowerOff, 0x08, false, nil, false},
		{bmc.FaultPowerLost, bmc.PowerOff, 0x09, false, nil, true},
		{bmc.FaultTemperature, bmc.PowerOn, 0x01, false, nil, true},
		{bmc.FaultBMCUnreachable, bmc.PowerOn, 0, false, bmc.ErrTransient, false},
	} {
		t.Run(string(tc.ft), func(t *testing.T) {
			w := twoServers(t)
			must(t, w.FailServer("a", tc.ft))
			st, _ := w.Server("a")
			if st.Power != tc.power || st.DumpInProgress != tc.dumping || st.Fault != tc.ft {
				t.Fatalf("state %+v", st)
			}
			evs, cur, err := w.BMC("a").Events(ctx, "")
			if !errors.Is(err, tc.bmcErr) {
				t.Fatalf("Events: %v, want %v", err, tc.bmcErr)
			}
			if tc.bmcErr == nil {
				if len(evs) != 1 || evs[0].SensorType != tc.sensor || !evs[0].Asserted || evs[0].Raw == "" || cur != bmc.Cursor(evs[0].ID) {
					t.Fatalf("events %+v cursor %q", evs, cur)
				}
			}
			must(t, w.SetPower("a", bmc.PowerOff))
			if err := w.BMC("a").PowerOn(ctx); (err == nil) != tc.powerOnOK {
				t.Fatalf("PowerOn after %s: %v", tc.ft, err)
			}
			must(t, w.RepairServer("a"))
			must(t, w.BMC("a").PowerOn(ctx))
		})
	}
}

func TestEventsCursor(t *testing.T) {
	ctx := context.Background()
	w := twoServers(t)
	b := w.BMC("a")
	evs, cur, err := b.Events(ctx, "")
	if err != nil || len(evs) != 0 || cur != "" {
		t.Fatalf("empty log: %v %q %v", evs, cur, err)
	}
	for _, m := range []string{"one", "two"} {
		must(t, w.InjectEvent("a", bmc.Event{Message: m}))
	}
	evs, cur, _ = b.Events(ctx, cur)
	if len(evs) != 2 || evs[0].Message != "one" || evs[1].Message != "two" {
		t.Fatalf("events %+v", evs)
	}
	must(t, w.InjectEvent("a", bmc.Event{Message: "three"}))
	evs, cur2, _ := b.Events(ctx, cur)
	if len(evs) != 1 || evs[0].Message != "three" {
		t.Fatalf("after cursor: %+v", evs)
	}
	if evs, c, _ := b.Events(ctx, cur2); len(evs) != 0 || c != cur2 {
		t.Fatalf("nothing new: %+v %q", evs, c)
	}
	must(t, w.ClearEventLog("a"))
	must(t, w.InjectEvent("a", bmc.Event{Message: "four"}))
	if evs, _, _ := b.Events(ctx, cur2); len(evs) != 1 || evs[0].Message != "four" {
		t.Fatalf("after clear, restart from the beginning: %+v", evs)
	}
}

func TestBootDeviceAndBootVolume(t *testing.T) {
	ctx := context.Background()
	w := twoServers(t)
	must(t, w.SetPower("a", bmc.PowerOff))
	b := w.BMC("a")
	if err := b.SetBootDevice(ctx, "floppy", false); !errors.Is(err, bmc.ErrInvalid) {
		t.Fatalf("bad device: %v", err)
	}
	must(t, b.SetBootDevice(ctx, bmc.BootPXE, false))
	must(t, b.PowerOn(ctx))
	if st, _ := w.Server("a"); st.BootVolume != "" || st.BootDevice != bmc.BootDisk {
		t.Fatalf("PXE boot once: %+v", st)
	}
	must(t, b.PowerOff(ctx))
	must(t, b.PowerOn(ctx))
	if st, _ := w.Server("a"); st.BootVolume != "boot-a" {
		t.Fatalf("disk boot: %+v", st)
	}
	if _, err := w.BMC("nope").PowerState(ctx); !errors.Is(err, bmc.ErrNotFound) {
		t.Fatalf("unknown server: %v", err)
	}
}

func TestPartitionRules(t *testing.T) {
	ctx := context.Background()
	w, _ := PatentExample(WithStrictPartitions())
	pm := w.Partitions()
	if err := pm.Compose(ctx, "lp-x", []string{"srv10", "srv12"}); !errors.Is(err, partition.ErrConflict) {
		t.Fatalf("combination not in the table: %v", err)
	}
	must(t, pm.Compose(ctx, "lp-new", []string{"srv11", "srv10"}))
	must(t, pm.Compose(ctx, "lp-new", []string{"srv10", "srv11"}))
	if err := pm.Compose(ctx, "lp-other", []string{"srv10", "srv11"}); !errors.Is(err, partition.ErrConflict) {
		t.Fatalf("members of another partition: %v", err)
	}
	if err := pm.Compose(ctx, "lp-y", []string{"srv10", "srv10"}); !errors.Is(err, partition.ErrInvalid) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := pm.Compose(ctx, "lp-y", []string{"ghost"}); !errors.Is(err, partition.ErrNotFound) {
		t.Fatalf("unknown member: %v", err)
	}
	if err := pm.Decompose(ctx, "lp-db"); !errors.Is(err, partition.ErrConflict) {
		t.Fatalf("decompose with running members: %v", err)
	}
	must(t, pm.Decompose(ctx, "lp-new"))
	must(t, pm.Decompose(ctx, "lp-new"))
	ls, err := pm.List(ctx)
	must(t, err)
	if len(ls) != 1 || ls[0].ID != "lp-db" || !slices.Equal(ls[0].Members, []string{"srv03", "srv04"}) {
		t.Fatalf("List %+v", ls)
	}
}

// The records FailServer writes are realistic enough that the library's
// own classifier reads them back as the fault that was injected.
func TestFailServerRecordsClassifyBack(t *testing.T) {
	ctx := context.Background()
	types := []bmc.FaultType{bmc.FaultOther}
	for ft := range faultRecords {
		types = append(types, ft)
	}
	for _, ft := range types {
		w := twoServers(t)
		must(t, w.FailServer("a", ft))
		evs, _, err := w.BMC("a").Events(ctx, "")
		must(t, err)
		if len(evs) != 1 {
			t.Fatalf("%s: %d records", ft, len(evs))
		}
		got, isFault := bmc.Classify(evs[0])
		if !isFault || got != ft {
			t.Errorf("%s: record %+v classifies as %q (fault %v)", ft, evs[0], got, isFault)
		}
	}
}

func TestPowerRestorePolicyDecidesWhetherPowerReturnTurnsAServerOn(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		policy bmc.RestorePolicy // "" keeps the factory setting
		wantOn bool
	}{
		{"", true},
		{bmc.RestoreAlwaysOn, true},
		{bmc.RestorePrevious, false},
		{bmc.RestoreAlwaysOff, false},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			w := twoServers(t)
			a := w.BMC("a").(bmc.PowerRestorer)
			if tc.policy != "" {
				must(t, a.SetPowerRestorePolicy(ctx, tc.policy))
			}
			must(t, w.BMC("a").PowerOff(ctx))
			on, err := w.ACPowerRestored("a")
			must(t, err)
			if on != tc.wantOn || (w.Power("a") == bmc.PowerOn) != tc.wantOn {
				t.Fatalf("power returned: came on %v (power %s), want %v", on, w.Power("a"), tc.wantOn)
			}
			got, err := a.PowerRestorePolicy(ctx)
			must(t, err)
			if want := cmp.Or(tc.policy, bmc.RestoreAlwaysOn); got != want || w.RestorePolicyOf("a") != want {
				t.Fatalf("policy %q (world %q), want %q", got, w.RestorePolicyOf("a"), want)
			}
		})
	}
	w := twoServers(t)
	if err := w.BMC("a").(bmc.PowerRestorer).SetPowerRestorePolicy(ctx, "sometimes"); !errors.Is(err, bmc.ErrInvalid) {
		t.Fatalf("bad policy: %v, want ErrInvalid", err)
	}
}
