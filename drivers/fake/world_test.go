package fake

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/storage"
)

var t0 = time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC)

func wwpn(n int) storage.Initiator {
	return storage.MustParseInitiator(fmt.Sprintf("21:00:00:24:ff:00:00:%02x", n))
}

// twoServers is a world with an active server a (boot volume boot-a at
// LUN 0) and a standby spare b, on one array, fabric and switch.
func twoServers(t *testing.T, opts ...Option) *World {
	t.Helper()
	w := NewWorld(append([]Option{WithClock(NewClock(t0))}, opts...)...)
	must(t, w.AddServer(ServerSpec{
		ID: "a", State: StateActive, Workload: "web", Priority: 5,
		Switch: "sw1", SwitchPorts: []string{"1/1"}, VLAN: fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10},
		DiskArray: "arr", Fabric: "fab", Zones: []string{"z-a"},
		Initiators:  []storage.Initiator{wwpn(1), wwpn(2)},
		BootVolumes: []Volume{{ID: "boot-a", LUN: 0}, {ID: "data-a", LUN: 1}},
		OS:          OS{ShutdownDelay: 30 * time.Second, DumpTime: 2 * time.Minute},
	}))
	must(t, w.AddServer(ServerSpec{
		ID: "b", State: StateStandby,
		Switch: "sw1", SwitchPorts: []string{"1/2"}, VLAN: fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 999},
		DiskArray: "arr", Fabric: "fab",
		Initiators: []storage.Initiator{wwpn(3), wwpn(4)},
	}))
	return w
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSharedWorldFailoverByRemap(t *testing.T) {
	ctx := context.Background()
	w := twoServers(t)
	base := w.Snapshot()
	a, b := w.BMC("a"), w.BMC("b")
	dm := w.DiskMapper("arr")

	if p, err := a.PowerState(ctx); err != nil || p != bmc.PowerOn {
		t.Fatalf("a: %v %v, want on", p, err)
	}
	must(t, a.PowerOff(ctx))
	ms, err := dm.Mappings(ctx, []storage.Initiator{wwpn(1), wwpn(2)})
	must(t, err)
	if len(ms) != 2 || ms[0] != (storage.Mapping{Volume: "boot-a", LUN: 0}) || ms[1] != (storage.Mapping{Volume: "data-a", LUN: 1}) {
		t.Fatalf("mappings %v", ms)
	}
	for _, m := range ms {
		must(t, dm.Unmap(ctx, m.Volume, []storage.Initiator{wwpn(1), wwpn(2)}))
		must(t, dm.Map(ctx, m.Volume, []storage.Initiator{wwpn(3), wwpn(4)}, m.LUN))
	}
	must(t, b.SetBootDevice(ctx, bmc.BootDisk, true))
	must(t, b.PowerOn(ctx))
	st, _ := w.Server("b")
	if st.Power != bmc.PowerOn || st.BootVolume != "boot-a" {
		t.Fatalf("spare state %+v, want on and booted from boot-a", st)
	}
	if srv, ok := w.VolumeInUse("arr", "boot-a"); !ok || srv != "b" {
		t.Fatalf("VolumeInUse = %q %v, want b", srv, ok)
	}
	if err := w.CheckInvariants(base); err != nil {
		t.Fatal(err)
	}
	if n := w.Calls(DriverStorage, ""); n != 5 {
		t.Fatalf("storage calls %d, want 5", n)
	}
}

func TestSwapInitiatorsKeepsLUNs(t *testing.T) {
	ctx := context.Background()
	w := twoServers(t)
	base := w.Snapshot()
	must(t, w.SetPower("a", bmc.PowerOff))
	sw := w.DiskMapper("arr").(storage.InitiatorSwapper)
	from, to := []storage.Initiator{wwpn(2), wwpn(1)}, []storage.Initiator{wwpn(3), wwpn(4)}
	must(t, sw.SwapInitiators(ctx, from, to))
	must(t, sw.SwapInitiators(ctx, from, to)) // idempotent
	if got := w.VolumeHolders("arr", "data-a"); len(got) != 1 || got[0] != "b" {
		t.Fatalf("holders %v", got)
	}
	if err := w.CheckInvariants(base); err != nil {
		t.Fatal(err)
	}
	if err := sw.SwapInitiators(ctx, []storage.Initiator{wwpn(9)}, []storage.Initiator{wwpn(8)}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown host: %v", err)
	}
}

// checkIndex verifies the masking index against the per-initiator tables.
func checkIndex(t *testing.T, a *array) {
	t.Helper()
	n := 0
	for in, tab := range a.masks {
		if len(tab) == 0 {
			t.Fatalf("empty table kept for %s", in)
		}
		for l, v := range tab {
			n++
			if got, ok := a.byVol[v][in]; !ok || got != l {
				t.Fatalf("index: %s sees %s at %d, index says %d %v", in, v, l, got, ok)
			}
		}
	}
	m := 0
	for v, ins := range a.byVol {
		if len(ins) == 0 {
			t.Fatalf("empty index kept for %s", v)
		}
		m += len(ins)
	}
	if n != m {
		t.Fatalf("%d masks, %d index entries", n, m)
	}
}

// Random Map, Unmap and SwapInitiators calls keep the masking consistent,
// keep one LUN per volume per initiator and one volume per LUN, and never
// leave a failed call half-applied.
func TestStorageRandomOpsKeepMaskingConsistent(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(20) {
		rng := newRand(seed)
		w := NewWorld()
		hosts := make([][]storage.Initiator, 4)
		for i := range hosts {
			hosts[i] = []storage.Initiator{wwpn(10*i + 1), wwpn(10*i + 2)}
			must(t, w.AddHost("arr", fmt.Sprintf("h%d", i), hosts[i]...))
		}
		for v := range 5 {
			must(t, w.AddVolume("arr", storage.VolumeID(fmt.Sprintf("v%d", v)), 0))
		}
		dm := w.DiskMapper("arr")
		for range 200 {
			h := hosts[rng.IntN(len(hosts))]
			vol := storage.VolumeID(fmt.Sprintf("v%d", rng.IntN(5)))
			before := w.Masking("arr")
			var err error
			switch rng.IntN(4) {
			case 0, 1:
				err = dm.Map(ctx, vol, h[:1+rng.IntN(2)], rng.IntN(3))
			case 2:
				err = dm.Unmap(ctx, vol, h)
			case 3:
				to := []storage.Initiator{wwpn(100 + rng.IntN(50)), wwpn(200 + rng.IntN(50))}
				err = dm.(storage.InitiatorSwapper).SwapInitiators(ctx, h, to)
				if err == nil {
					for i := range hosts {
						if slices.Equal(sortedInitiators(hosts[i]), sortedInitiators(h)) {
							hosts[i] = to
						}
					}
				}
			}
			if err != nil && !reflect.DeepEqual(before, w.Masking("arr")) {
				t.Fatalf("seed %d: failed call changed the masking: %v", seed, err)
			}
			w.mu.Lock()
			checkIndex(t, w.arrays["arr"])
			w.mu.Unlock()
		}
	}
}

func TestISCSIServer(t *testing.T) {
	ctx := context.Background()
	w := NewWorld()
	iqn := storage.MustParseInitiator("iqn.2026-01.com.example:host-7")
	must(t, w.AddServer(ServerSpec{ID: "i7", State: StateActive, DiskArray: "tgt", Initiators: []storage.Initiator{iqn},
		BootVolumes: []Volume{{ID: "iqn-boot", LUN: 0}}}))
	ms, err := w.DiskMapper("tgt").Mappings(ctx, []storage.Initiator{iqn})
	must(t, err)
	if len(ms) != 1 || ms[0].Volume != "iqn-boot" {
		t.Fatalf("mappings %v", ms)
	}
	// iSCSI initiators cannot be zoned.
	err = w.AddServer(ServerSpec{ID: "i8", Fabric: "fab", Zones: []string{"z"}, Initiators: []storage.Initiator{storage.MustParseInitiator("iqn.2026-01.com.example:host-8")}})
	if !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("zoned iSCSI initiator: %v", err)
	}
	if err := w.AddServer(ServerSpec{ID: "i7"}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate ID: %v", err)
	}
	if err := w.AddServer(ServerSpec{ID: "i9", Initiators: []storage.Initiator{iqn}}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("initiator of another server: %v", err)
	}
	if _, ok := w.Spec("i9"); ok {
		t.Fatal("a refused server was added")
	}
}

func TestWorldAccessorsFollowTheDrivers(t *testing.T) {
	ctx := context.Background()
	w := twoServers(t)
	if got := w.Volumes("arr"); !slices.Equal(got, []storage.VolumeID{"boot-a", "data-a"}) {
		t.Fatalf("Volumes %v", got)
	}
	if id, ok := w.ServerOf(wwpn(3)); !ok || id != "b" {
		t.Fatalf("ServerOf %q %v", id, ok)
	}
	if !w.Now().Equal(t0) {
		t.Fatalf("Now %v", w.Now())
	}

	// Zoning: pending in the defined configuration until Commit.
	z := w.Zoner("fab")
	must(t, z.AddMember(ctx, "z-a", wwpn(3)))
	must(t, z.RemoveMember(ctx, "z-a", wwpn(1)))
	zoneOf := func(zs []Zone) []storage.Initiator {
		for _, x := range zs {
			if x.Name == "z-a" {
				return x.Members
			}
		}
		return nil
	}
	if got := zoneOf(w.DefinedZones("fab")); !slices.Equal(got, []storage.Initiator{wwpn(2), wwpn(3)}) {
		t.Fatalf("defined z-a %v", got)
	}
	if got := zoneOf(w.ActiveZones("fab")); !slices.Equal(got, []storage.Initiator{wwpn(1), wwpn(2)}) {
		t.Fatalf("active z-a before commit %v", got)
	}
	must(t, z.Commit(ctx))
	if got := zoneOf(w.ActiveZones("fab")); !slices.Equal(got, []storage.Initiator{wwpn(2), wwpn(3)}) {
		t.Fatalf("active z-a after commit %v", got)
	}

	// VLAN: the spare's port takes the failed server's setting.
	prev, err := w.Switch("sw1").SetPortVLAN(ctx, "1/2", fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10})
	must(t, err)
	if prev.AccessVLAN != 999 {
		t.Fatalf("prev %v", prev)
	}
	if v, _ := w.PortVLAN("sw1", "1/2"); v.AccessVLAN != 10 {
		t.Fatalf("port %v", v)
	}

	// Host objects follow a swap.
	must(t, w.SetPower("a", bmc.PowerOff))
	must(t, w.DiskMapper("arr").(storage.InitiatorSwapper).SwapInitiators(ctx, []storage.Initiator{wwpn(1), wwpn(2)}, []storage.Initiator{wwpn(3), wwpn(4)}))
	hosts := w.Hosts("arr")
	if !slices.Equal(hosts["a"], []storage.Initiator{wwpn(3), wwpn(4)}) || len(hosts["b"]) != 0 {
		t.Fatalf("hosts %v", hosts)
	}
	if len(w.Violations()) != 0 {
		t.Fatalf("violations %v", w.Violations())
	}
	st, _ := w.Server("b")
	if !slices.Equal(st.Volumes, []storage.Mapping{{Volume: "boot-a", LUN: 0}, {Volume: "data-a", LUN: 1}}) ||
		!slices.Equal(st.Zones, []string{"z-a"}) || len(st.PortVLANs) != 1 || st.PortVLANs[0].AccessVLAN != 10 {
		t.Fatalf("spare's live wiring %+v", st)
	}
	if st, _ := w.Server("a"); len(st.Volumes) != 0 || !slices.Equal(st.Zones, []string{"z-a"}) { // wwpn 2 is still zoned
		t.Fatalf("failed server's live wiring %+v", st)
	}
}

func TestDumpAndShutdownSettings(t *testing.T) {
	ctx := context.Background()
	clk := NewClock(t0)
	w := twoServers(t, WithClock(clk))
	must(t, w.SetShutdownDelay("a", 0))
	must(t, w.BMC("a").Shutdown(ctx))
	if w.Power("a") != bmc.PowerOff {
		t.Fatal("a zero shutdown delay must be off at once")
	}
	must(t, w.SetPower("a", bmc.PowerOn))
	must(t, w.SetDumpTime("a", 10*time.Second))
	must(t, w.FailServer("a", bmc.FaultOSStop))
	if st, _ := w.Server("a"); !st.DumpInProgress || st.DumpTime != 10*time.Second {
		t.Fatalf("after an OS stop: %+v", st)
	}
	clk.Advance(10 * time.Second)
	if st, _ := w.Server("a"); st.DumpInProgress || !st.Hung || st.Power != bmc.PowerOn {
		t.Fatalf("after the dump: %+v", st)
	}
	if err := w.StartDump("b", time.Second); !errors.Is(err, bmc.ErrConflict) {
		t.Fatalf("StartDump on an off server: %v", err)
	}
	must(t, w.StartDump("a", time.Minute))
	if d, _ := w.BMC("a").(bmc.DumpReporter).DumpInProgress(ctx); !d {
		t.Fatal("StartDump did not start a dump")
	}
	if err := w.SetDumpTime("ghost", 0); !errors.Is(err, bmc.ErrNotFound) {
		t.Fatalf("unknown server: %v", err)
	}
}

// A Snapshot built by hand (from Masks only) works as a baseline.
func TestHandMadeSnapshot(t *testing.T) {
	w := twoServers(t, WithNow(func() time.Time { return t0 }))
	base := &Snapshot{Masks: w.Masking("")}
	must(t, w.DiskMapper("arr").Unmap(context.Background(), "boot-a", []storage.Initiator{wwpn(1), wwpn(2)}))
	wantViolations(t, w.CheckNothingLost(base), "I3: volume arr/boot-a was masked to a and is masked to nobody")
	must(t, w.CheckFenced(base))
}
