package fake_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/bmc/bmctest"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/fabric/fabrictest"
	"github.com/coldstandby/coldstandby/partition"
	"github.com/coldstandby/coldstandby/partition/partitiontest"
	"github.com/coldstandby/coldstandby/storage"
	"github.com/coldstandby/coldstandby/storage/storagetest"
)

// The harnesses drive the fakes through the conformance suites in real
// time (the suites wait for a graceful shutdown with real clocks).

type bmcHarness struct {
	w  *fake.World
	id string
}

func newBMCHarness(t *testing.T) bmctest.Harness {
	w := fake.NewWorld()
	if err := w.AddServer(fake.ServerSpec{
		ID: "srv", State: fake.StateActive,
		OS: fake.OS{ShutdownDelay: 20 * time.Millisecond, DumpTime: 50 * time.Millisecond},
	}); err != nil {
		t.Fatal(err)
	}
	return &bmcHarness{w: w, id: "srv"}
}

func (h *bmcHarness) MakeBMC(context.Context) (bmc.BMC, error) { return h.w.BMC(h.id), nil }
func (h *bmcHarness) SetPower(_ context.Context, p bmc.PowerState) error {
	return h.w.SetPower(h.id, p)
}
func (h *bmcHarness) Power(context.Context) (bmc.PowerState, error) { return h.w.Power(h.id), nil }
func (h *bmcHarness) IgnoreShutdown(context.Context) error          { return h.w.RefuseShutdown(h.id, true) }
func (h *bmcHarness) BootDevice(context.Context) (bmc.BootDevice, bool, error) {
	st, _ := h.w.Server(h.id)
	return st.BootDevice, st.BootPersistent, nil
}
func (h *bmcHarness) AddEvent(context.Context) error {
	return h.w.InjectEvent(h.id, bmc.Event{SensorType: 0x07, SensorName: "CPU0 Status", EventType: 0x6f, Message: "Processor IERR", Asserted: true, Severity: bmc.SeverityCritical})
}
func (h *bmcHarness) ClearEvents(context.Context) error { return h.w.ClearEventLog(h.id) }
func (h *bmcHarness) RestorePolicy(context.Context) (bmc.RestorePolicy, error) {
	return h.w.RestorePolicyOf(h.id), nil
}
func (h *bmcHarness) FailNext(context.Context) error {
	_, err := h.w.FailCalls(fake.DriverBMC, "", h.id, bmc.ErrTransient, 1)
	return err
}

// StallNext holds the next request for d after it took effect: a caller
// that gives up meanwhile gets ErrOutcomeUnknown.
func (h *bmcHarness) StallNext(_ context.Context, d time.Duration) error {
	_, err := h.w.Inject(fake.Fault{Driver: fake.DriverBMC, ResponseLatency: d, Times: 1})
	return err
}

func TestConformanceBMC(t *testing.T) { bmctest.Run(t, newBMCHarness) }

type storageHarness struct {
	w     *fake.World
	vols  atomic.Int64
	hosts atomic.Int64
}

func newStorageHarness(t *testing.T) storagetest.Harness {
	return &storageHarness{w: fake.NewWorld()}
}

func (h *storageHarness) MakeMapper(context.Context) (storage.DiskMapper, error) {
	return h.w.DiskMapper("arr"), nil
}

func (h *storageHarness) Volumes(_ context.Context, n int) ([]storage.VolumeID, error) {
	out := make([]storage.VolumeID, n)
	for i := range out {
		out[i] = storage.VolumeID(fmt.Sprintf("vol-%d", h.vols.Add(1)))
		if err := h.w.AddVolume("arr", out[i], 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (h *storageHarness) Hosts(_ context.Context, n int) ([][]storage.Initiator, error) {
	out := make([][]storage.Initiator, n)
	for i := range out {
		out[i] = storagetest.Initiators(storage.FC, 2)
		if err := h.w.AddHost("arr", fmt.Sprintf("host-%d", h.hosts.Add(1)), out[i]...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (h *storageHarness) Masking(ctx context.Context, ins []storage.Initiator) ([]storage.Mapping, error) {
	// Read the world directly, not through the driver under test.
	seen := map[storage.Mapping]bool{}
	var out []storage.Mapping
	for _, m := range h.w.Masking("arr") {
		for _, in := range ins {
			mp := storage.Mapping{Volume: m.Volume, LUN: m.LUN}
			if m.Initiator == in && !seen[mp] {
				seen[mp] = true
				out = append(out, mp)
			}
		}
	}
	sortMappings(out)
	return out, nil
}

func sortMappings(ms []storage.Mapping) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && (ms[j].LUN < ms[j-1].LUN || ms[j].LUN == ms[j-1].LUN && ms[j].Volume < ms[j-1].Volume); j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

func (h *storageHarness) FailNext(context.Context) error {
	_, err := h.w.FailCalls(fake.DriverStorage, "", "", storage.ErrTransient, 1)
	return err
}

// StallNext holds the next request for d after it took effect: a caller
// that gives up meanwhile gets ErrOutcomeUnknown.
func (h *storageHarness) StallNext(_ context.Context, d time.Duration) error {
	_, err := h.w.Inject(fake.Fault{Driver: fake.DriverStorage, ResponseLatency: d, Times: 1})
	return err
}

func TestConformanceStorage(t *testing.T) { storagetest.Run(t, newStorageHarness) }

type partitionHarness struct {
	w *fake.World
	n atomic.Int64
}

func newPartitionHarness(t *testing.T) partitiontest.Harness {
	w := fake.NewWorld(fake.WithStrictPartitions())
	// A logical server of the platform's own, which the suite must leave.
	for _, id := range []string{"own-1", "own-2"} {
		if err := w.AddServer(fake.ServerSpec{ID: id, State: fake.StateActive, Partition: "own"}); err != nil {
			t.Fatal(err)
		}
	}
	return &partitionHarness{w: w}
}

func (h *partitionHarness) MakeManager(context.Context) (partition.PartitionManager, error) {
	return h.w.Partitions(), nil
}

func (h *partitionHarness) Members(_ context.Context, n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("node-%d", h.n.Add(1))
		if err := h.w.AddServer(fake.ServerSpec{ID: out[i], State: fake.StateStandby}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (h *partitionHarness) LogicalServers(context.Context) ([]partition.LogicalServer, error) {
	return h.w.LogicalServers(), nil
}

func (h *partitionHarness) FailNext(context.Context) error {
	_, err := h.w.FailCalls(fake.DriverPartition, "", "", partition.ErrTransient, 1)
	return err
}

// ForbiddenPair adds two servers in different resource zones.
func (h *partitionHarness) ForbiddenPair(context.Context) ([2]string, error) {
	var pair [2]string
	for i := range pair {
		pair[i] = fmt.Sprintf("zoned-%d", h.n.Add(1))
		if err := h.w.AddServer(fake.ServerSpec{ID: pair[i], State: fake.StateStandby, ResourceZone: fmt.Sprintf("rz-%d", i)}); err != nil {
			return pair, err
		}
	}
	return pair, nil
}

// StallNext holds the next request for d after it took effect: a caller
// that gives up meanwhile gets ErrOutcomeUnknown.
func (h *partitionHarness) StallNext(_ context.Context, d time.Duration) error {
	_, err := h.w.Inject(fake.Fault{Driver: fake.DriverPartition, ResponseLatency: d, Times: 1})
	return err
}

func TestConformancePartition(t *testing.T) { partitiontest.Run(t, newPartitionHarness) }

type zonerHarness struct {
	w *fake.World
}

func newZonerHarness(t *testing.T) fabrictest.ZonerHarness {
	w := fake.NewWorld()
	for _, z := range []string{"zone-a", "zone-b"} {
		if err := w.AddZone("fab", z, storage.MustParseInitiator("50:0a:09:80:00:00:00:01")); err != nil {
			t.Fatal(err)
		}
	}
	return &zonerHarness{w: w}
}

func (h *zonerHarness) MakeZoner(context.Context) (fabric.FCZoner, error) {
	return h.w.Zoner("fab"), nil
}
func (h *zonerHarness) ZoneFixture(_ context.Context, n int) ([2]string, []storage.Initiator, error) {
	return [2]string{"zone-a", "zone-b"}, storagetest.Initiators(storage.FC, n), nil
}
func (h *zonerHarness) ActiveZones(_ context.Context, wwpn storage.Initiator) ([]string, error) {
	return h.w.ActiveZonesOf("fab", wwpn), nil
}
func (h *zonerHarness) FailNextCommit(context.Context) error {
	_, err := h.w.FailCalls(fake.DriverZoner, "Commit", "", fabric.ErrConflict, 1)
	return err
}
func (h *zonerHarness) FailNext(context.Context) error {
	_, err := h.w.FailCalls(fake.DriverZoner, "", "", fabric.ErrTransient, 1)
	return err
}

// StallNext holds the next request for d after it took effect: a caller
// that gives up meanwhile gets ErrOutcomeUnknown.
func (h *zonerHarness) StallNext(_ context.Context, d time.Duration) error {
	_, err := h.w.Inject(fake.Fault{Driver: fake.DriverZoner, ResponseLatency: d, Times: 1})
	return err
}

func TestConformanceZoner(t *testing.T) { fabrictest.RunZoner(t, newZonerHarness) }

type vlanHarness struct {
	w *fake.World
	n atomic.Int64
}

func newVLANHarness(t *testing.T) fabrictest.VLANHarness { return &vlanHarness{w: fake.NewWorld()} }

func (h *vlanHarness) MakeSwitch(context.Context) (fabric.VLANSwitch, error) {
	return h.w.Switch("sw"), nil
}
func (h *vlanHarness) VLANFixture(_ context.Context, n int) ([]string, fabric.PortVLAN, fabric.PortVLAN, error) {
	ports := make([]string, n)
	for i := range ports {
		ports[i] = fmt.Sprintf("1/%d", h.n.Add(1))
		if err := h.w.AddPort("sw", ports[i], fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 1}); err != nil {
			return nil, fabric.PortVLAN{}, fabric.PortVLAN{}, err
		}
	}
	return ports,
		fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10},
		fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 1, Trunk: []int{20, 30, 31}}, nil
}
func (h *vlanHarness) ReadPort(_ context.Context, port string) (fabric.PortVLAN, error) {
	v, ok := h.w.PortVLAN("sw", port)
	if !ok {
		return fabric.PortVLAN{}, fmt.Errorf("no port %s", port)
	}
	return v, nil
}
func (h *vlanHarness) FailNext(context.Context) error {
	_, err := h.w.FailCalls(fake.DriverVLAN, "", "", fabric.ErrTransient, 1)
	return err
}

// StallNext holds the next request for d after it took effect: a caller
// that gives up meanwhile gets ErrOutcomeUnknown.
func (h *vlanHarness) StallNext(_ context.Context, d time.Duration) error {
	_, err := h.w.Inject(fake.Fault{Driver: fake.DriverVLAN, ResponseLatency: d, Times: 1})
	return err
}

func TestConformanceVLAN(t *testing.T) { fabrictest.RunVLAN(t, newVLANHarness) }
