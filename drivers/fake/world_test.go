package fake

import (
	"context"
	"errors"
	"fmt"
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
