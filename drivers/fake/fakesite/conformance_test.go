package fakesite_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/bmc/bmctest"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/drivers/fake/fakesite"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/fabric/fabrictest"
	"github.com/coldstandby/coldstandby/partition"
	"github.com/coldstandby/coldstandby/partition/partitiontest"
	"github.com/coldstandby/coldstandby/storage"
	"github.com/coldstandby/coldstandby/storage/storagetest"
)

// The drivers of a world built from a site (dual fabrics, two FC arrays
// and an iSCSI one) pass the conformance suites, on the devices the site
// declares, in real time.

func dualWorld(t *testing.T, opts ...fake.Option) *fake.World {
	t.Helper()
	w, err := fakesite.World(load(t, "testdata/dual.yaml"), nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

type bmcHarness struct{ w *fake.World }

func (h bmcHarness) MakeBMC(context.Context) (bmc.BMC, error) { return h.w.BMC("r01"), nil }
func (h bmcHarness) SetPower(_ context.Context, p bmc.PowerState) error {
	return h.w.SetPower("r01", p)
}
func (h bmcHarness) Power(context.Context) (bmc.PowerState, error) { return h.w.Power("r01"), nil }
func (h bmcHarness) IgnoreShutdown(context.Context) error          { return h.w.RefuseShutdown("r01", true) }

func TestSiteWorldConformanceBMC(t *testing.T) {
	bmctest.Run(t, func(t *testing.T) bmctest.Harness { return bmcHarness{dualWorld(t)} })
}

type storageHarness struct {
	w     *fake.World
	array string
	kind  storage.InitiatorKind
	n     atomic.Int64
}

func (h *storageHarness) MakeMapper(context.Context) (storage.DiskMapper, error) {
	return h.w.DiskMapper(h.array), nil
}
func (h *storageHarness) Volumes(_ context.Context, n int) ([]storage.VolumeID, error) {
	out := make([]storage.VolumeID, n)
	for i := range out {
		out[i] = storage.VolumeID(fmt.Sprintf("suite-vol-%d", h.n.Add(1)))
		if err := h.w.AddVolume(h.array, out[i], 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}
func (h *storageHarness) Hosts(_ context.Context, n int) ([][]storage.Initiator, error) {
	out := make([][]storage.Initiator, n)
	for i := range out {
		out[i] = storagetest.Initiators(h.kind, 2)
		if err := h.w.AddHost(h.array, fmt.Sprintf("suite-host-%d", h.n.Add(1)), out[i]...); err != nil {
			return nil, err
		}
	}
	return out, nil
}
func (h *storageHarness) Masking(_ context.Context, ins []storage.Initiator) ([]storage.Mapping, error) {
	want := map[storage.Initiator]bool{}
	for _, in := range ins {
		want[in] = true
	}
	seen := map[storage.Mapping]bool{}
	var out []storage.Mapping
	for _, m := range h.w.Masking(h.array) {
		mp := storage.Mapping{Volume: m.Volume, LUN: m.LUN}
		if want[m.Initiator] && !seen[mp] {
			seen[mp] = true
			out = append(out, mp)
		}
	}
	sortMappings(out)
	return out, nil
}
func (h *storageHarness) FailNext(context.Context) error {
	_, err := h.w.FailCalls(fake.DriverStorage, "", "", storage.ErrTransient, 1)
	return err
}

func sortMappings(ms []storage.Mapping) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && (ms[j].LUN < ms[j-1].LUN || ms[j].LUN == ms[j-1].LUN && ms[j].Volume < ms[j-1].Volume); j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

func TestSiteWorldConformanceStorage(t *testing.T) {
	for _, tc := range []struct {
		array string
		kind  storage.InitiatorKind
	}{{"array-b", storage.FC}, {"iscsi-1", storage.ISCSI}} {
		t.Run(tc.array, func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storagetest.Harness {
				return &storageHarness{w: dualWorld(t), array: tc.array, kind: tc.kind}
			})
		})
	}
}

type partitionHarness struct {
	w *fake.World
	n atomic.Int64
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

func TestSiteWorldConformancePartition(t *testing.T) {
	partitiontest.Run(t, func(t *testing.T) partitiontest.Harness {
		w := dualWorld(t, fake.WithStrictPartitions())
		w.SetCompositions(nil) // the suite composes members of its own
		return &partitionHarness{w: w}
	})
}

type zonerHarness struct {
	w      *fake.World
	fabric string
}

func (h zonerHarness) MakeZoner(context.Context) (fabric.FCZoner, error) {
	return h.w.Zoner(h.fabric), nil
}
func (h zonerHarness) ZoneFixture(_ context.Context, n int) ([2]string, []storage.Initiator, error) {
	return [2]string{"z-r01", "z-r03"}, storagetest.Initiators(storage.FC, n), nil
}
func (h zonerHarness) ActiveZones(_ context.Context, wwpn storage.Initiator) ([]string, error) {
	return h.w.ActiveZonesOf(h.fabric, wwpn), nil
}
func (h zonerHarness) FailNextCommit(context.Context) error {
	_, err := h.w.FailCalls(fake.DriverZoner, "Commit", "", fabric.ErrConflict, 1)
	return err
}

func TestSiteWorldConformanceZoner(t *testing.T) {
	for _, f := range []string{"fab-a", "fab-b"} {
		t.Run(f, func(t *testing.T) {
			fabrictest.RunZoner(t, func(t *testing.T) fabrictest.ZonerHarness { return zonerHarness{dualWorld(t), f} })
		})
	}
}

type vlanHarness struct {
	w *fake.World
	n atomic.Int64
}

func (h *vlanHarness) MakeSwitch(context.Context) (fabric.VLANSwitch, error) {
	return h.w.Switch("leaf-2"), nil
}
func (h *vlanHarness) VLANFixture(_ context.Context, n int) ([]string, fabric.PortVLAN, fabric.PortVLAN, error) {
	ports := make([]string, n)
	for i := range ports {
		ports[i] = fmt.Sprintf("9/%d", h.n.Add(1))
		if err := h.w.AddPort("leaf-2", ports[i], fabric.PortVLAN{}); err != nil {
			return nil, fabric.PortVLAN{}, fabric.PortVLAN{}, err
		}
	}
	return ports, fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10},
		fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 1, Trunk: []int{20, 30}}, nil
}
func (h *vlanHarness) ReadPort(_ context.Context, port string) (fabric.PortVLAN, error) {
	v, ok := h.w.PortVLAN("leaf-2", port)
	if !ok {
		return fabric.PortVLAN{}, fmt.Errorf("no port %s", port)
	}
	return v, nil
}
func (h *vlanHarness) FailNext(context.Context) error {
	_, err := h.w.FailCalls(fake.DriverVLAN, "", "", fabric.ErrTransient, 1)
	return err
}

func TestSiteWorldConformanceVLAN(t *testing.T) {
	fabrictest.RunVLAN(t, func(t *testing.T) fabrictest.VLANHarness { return &vlanHarness{w: dualWorld(t)} })
}
