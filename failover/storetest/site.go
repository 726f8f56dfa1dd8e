package storetest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
	"github.com/coldstandby/coldstandby/partition"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// Site is the patent example's fake data centre (drivers/fake) with what
// an Orchestrator needs to act on it, for store tests that run real
// failovers: crash tests (a process killed mid-failover, Recover on the
// reopened store) and high-availability tests (a leader deposed
// mid-failover). NewSite always builds the same world, so a parent process
// can rebuild the world a killed child acted on and Replay its operations.
type Site struct {
	World *fake.World
	Clock *fake.Clock
	// Base is the world as built, before any fault: the baseline of the
	// invariant checks.
	Base *fake.Snapshot
}

// SiteStart is the virtual time a Site's clock starts at.
var SiteStart = failovertest.Epoch

// NewSite builds the patent example on a virtual clock.
func NewSite() *Site {
	clk := fake.NewClock(SiteStart)
	w, _ := fake.PatentExample(fake.WithClock(clk))
	return &Site{World: w, Clock: clk, Base: w.Snapshot()}
}

// Records returns the Orchestrator records of the site's servers, to Put
// into an empty store.
func (s *Site) Records() []failover.Record { return failovertest.Records(s.World) }

// Drivers returns the site's fake drivers.
func (s *Site) Drivers() failover.Drivers { return failovertest.Drivers(s.World) }

// Options returns Orchestrator options for the site: its virtual clock
// and timeouts short enough for virtual-time polling.
func (s *Site) Options() []failover.Option {
	return []failover.Option{
		failover.WithClock(s.Clock),
		failover.WithTimeouts(failover.Timeouts{Shutdown: 30 * time.Second, Poll: 5 * time.Second, Dump: 2 * time.Minute, PowerOff: 20 * time.Second, Boot: 20 * time.Second}),
	}
}

// Check checks the world against the site's baseline (I1 to I3, including
// violations recorded as they happened) and the store: no failover left
// unfinished, no reservation left, every workload active on one server
// only, and that server on, holding the workload's boot volume.
func (s *Site) Check(ctx context.Context, st failover.Store) error {
	var probs []string
	if err := s.World.CheckInvariants(s.Base); err != nil {
		probs = append(probs, err.Error())
	}
	if u, err := st.Unfinished(ctx); err != nil || len(u) > 0 {
		probs = append(probs, fmt.Sprintf("unfinished failovers %v (%v)", u, err))
	}
	recs, err := st.List(ctx)
	if err != nil {
		return err
	}
	work := map[string][]search.ServerID{}
	for _, r := range recs {
		if r.Reservation != "" {
			probs = append(probs, fmt.Sprintf("I4: %s still reserved by %s", r.ID, r.Reservation))
		}
		if r.State == search.Active && r.Workload != "" && r.Partition == "" {
			work[r.Workload] = append(work[r.Workload], r.ID)
			if p := s.World.Power(string(r.ID)); p != bmc.PowerOn {
				probs = append(probs, fmt.Sprintf("%s runs %s but is %s", r.ID, r.Workload, p))
			}
		}
	}
	for wl, ids := range work {
		if len(ids) > 1 {
			probs = append(probs, fmt.Sprintf("I4: workload %s runs on %v", wl, ids))
		}
	}
	sort.Strings(probs)
	if len(probs) > 0 {
		return fmt.Errorf("storetest: site check: %d problem(s):\n\t%s", len(probs), strings.Join(probs, "\n\t"))
	}
	return nil
}

// Op is one mutating driver call, as Wrap reports it and Replay applies
// it. Only the fields the method takes are set.
type Op struct {
	At     time.Time `json:"at"`     // the virtual time the call started
	Driver string    `json:"driver"` // "bmc", "storage", "zoner", "vlan", "partition" (as drivers/fake)
	Method string    `json:"method"`
	// Target is the server (bmc), disk array (storage), fabric (zoner),
	// switch (vlan) or logical server (partition).
	Target     string              `json:"target"`
	Volume     storage.VolumeID    `json:"volume,omitempty"`
	Initiators []storage.Initiator `json:"initiators,omitempty"`
	To         []storage.Initiator `json:"to,omitempty"`
	LUN        int                 `json:"lun,omitempty"`
	Zone       string              `json:"zone,omitempty"`
	WWPN       storage.Initiator   `json:"wwpn,omitzero"`
	Port       string              `json:"port,omitempty"`
	VLAN       fabric.PortVLAN     `json:"vlan,omitzero"`
	Members    []string            `json:"members,omitempty"`
	Device     bmc.BootDevice      `json:"device,omitempty"`
	Persistent bool                `json:"persistent,omitempty"`
}

func (o Op) String() string { return o.Driver + "." + o.Method + " " + o.Target }

// Hooks observe the mutating driver calls of wrapped drivers.
type Hooks struct {
	// Before runs before the call; an error fails the call unsent. It may
	// block (a test holding a leader mid-step).
	Before func(ctx context.Context, op Op) error
	// After runs when the call returned nil (the change is made), before
	// the caller sees the result.
	After func(op Op)
}

// Wrap returns d with every mutating call (power, boot device, map,
// unmap, swap, zone edits and commits, port VLANs, compose, decompose)
// passed through h. clk stamps Op.At. Read calls pass straight through.
// Optional interfaces (bmc.DumpReporter, storage.InitiatorSwapper) are
// kept when d's drivers have them.
func Wrap(d failover.Drivers, clk failover.Clock, h Hooks) failover.Drivers {
	wr := &wrapper{clk: clk, h: h}
	out := failover.Drivers{DiskMappers: map[string]storage.DiskMapper{}, FCZoners: map[string]fabric.FCZoner{}, VLANSwitches: map[string]fabric.VLANSwitch{}}
	if d.BMC != nil {
		out.BMC = func(r failover.Record) (bmc.BMC, error) {
			b, err := d.BMC(r)
			if err != nil || b == nil {
				return b, err
			}
			rb := &wBMC{BMC: b, wr: wr, id: string(r.ID)}
			if dr, ok := b.(bmc.DumpReporter); ok {
				return &wBMCDump{wBMC: rb, DumpReporter: dr}, nil
			}
			return rb, nil
		}
	}
	for name, dm := range d.DiskMappers {
		m := &wMapper{DiskMapper: dm, wr: wr, array: name}
		if sw, ok := dm.(storage.InitiatorSwapper); ok {
			out.DiskMappers[name] = &wSwapper{wMapper: m, sw: sw}
		} else {
			out.DiskMappers[name] = m
		}
	}
	for name, z := range d.FCZoners {
		out.FCZoners[name] = &wZoner{FCZoner: z, wr: wr, fabric: name}
	}
	for name, sw := range d.VLANSwitches {
		out.VLANSwitches[name] = &wSwitch{VLANSwitch: sw, wr: wr, name: name}
	}
	if d.Partitions != nil {
		out.Partitions = &wPartitions{PartitionManager: d.Partitions, wr: wr}
	}
	return out
}

type wrapper struct {
	clk failover.Clock
	h   Hooks
}

func (w *wrapper) do(ctx context.Context, op Op, call func() error) error {
	op.At = w.clk.Now()
	if w.h.Before != nil {
		if err := w.h.Before(ctx, op); err != nil {
			return err
		}
	}
	err := call()
	if err == nil && w.h.After != nil {
		w.h.After(op)
	}
	return err
}

type wBMC struct {
	bmc.BMC
	wr *wrapper
	id string
}

func (b *wBMC) op(m string) Op { return Op{Driver: fake.DriverBMC, Method: m, Target: b.id} }

func (b *wBMC) PowerOn(ctx context.Context) error {
	return b.wr.do(ctx, b.op("PowerOn"), func() error { return b.BMC.PowerOn(ctx) })
}

func (b *wBMC) Shutdown(ctx context.Context) error {
	return b.wr.do(ctx, b.op("Shutdown"), func() error { return b.BMC.Shutdown(ctx) })
}

func (b *wBMC) PowerOff(ctx context.Context) error {
	return b.wr.do(ctx, b.op("PowerOff"), func() error { return b.BMC.PowerOff(ctx) })
}

func (b *wBMC) NMI(ctx context.Context) error {
	return b.wr.do(ctx, b.op("NMI"), func() error { return b.BMC.NMI(ctx) })
}

func (b *wBMC) SetBootDevice(ctx context.Context, dev bmc.BootDevice, persistent bool) error {
	op := b.op("SetBootDevice")
	op.Device, op.Persistent = dev, persistent
	return b.wr.do(ctx, op, func() error { return b.BMC.SetBootDevice(ctx, dev, persistent) })
}

type wBMCDump struct {
	*wBMC
	bmc.DumpReporter
}

type wMapper struct {
	storage.DiskMapper
	wr    *wrapper
	array string
}

func (m *wMapper) Map(ctx context.Context, v storage.VolumeID, ins []storage.Initiator, lun int) error {
	op := Op{Driver: fake.DriverStorage, Method: "Map", Target: m.array, Volume: v, Initiators: slices.Clone(ins), LUN: lun}
	return m.wr.do(ctx, op, func() error { return m.DiskMapper.Map(ctx, v, ins, lun) })
}

func (m *wMapper) Unmap(ctx context.Context, v storage.VolumeID, ins []storage.Initiator) error {
	op := Op{Driver: fake.DriverStorage, Method: "Unmap", Target: m.array, Volume: v, Initiators: slices.Clone(ins)}
	return m.wr.do(ctx, op, func() error { return m.DiskMapper.Unmap(ctx, v, ins) })
}

type wSwapper struct {
	*wMapper
	sw storage.InitiatorSwapper
}

func (m *wSwapper) SwapInitiators(ctx context.Context, from, to []storage.Initiator) error {
	op := Op{Driver: fake.DriverStorage, Method: "SwapInitiators", Target: m.array, Initiators: slices.Clone(from), To: slices.Clone(to)}
	return m.wr.do(ctx, op, func() error { return m.sw.SwapInitiators(ctx, from, to) })
}

type wZoner struct {
	fabric.FCZoner
	wr     *wrapper
	fabric string
}

func (z *wZoner) AddMember(ctx context.Context, zone string, wwpn storage.Initiator) error {
	op := Op{Driver: fake.DriverZoner, Method: "AddMember", Target: z.fabric, Zone: zone, WWPN: wwpn}
	return z.wr.do(ctx, op, func() error { return z.FCZoner.AddMember(ctx, zone, wwpn) })
}

func (z *wZoner) RemoveMember(ctx context.Context, zone string, wwpn storage.Initiator) error {
	op := Op{Driver: fake.DriverZoner, Method: "RemoveMember", Target: z.fabric, Zone: zone, WWPN: wwpn}
	return z.wr.do(ctx, op, func() error { return z.FCZoner.RemoveMember(ctx, zone, wwpn) })
}

func (z *wZoner) Commit(ctx context.Context) error {
	op := Op{Driver: fake.DriverZoner, Method: "Commit", Target: z.fabric}
	return z.wr.do(ctx, op, func() error { return z.FCZoner.Commit(ctx) })
}

type wSwitch struct {
	fabric.VLANSwitch
	wr   *wrapper
	name string
}

func (s *wSwitch) SetPortVLAN(ctx context.Context, port string, v fabric.PortVLAN) (fabric.PortVLAN, error) {
	op := Op{Driver: fake.DriverVLAN, Method: "SetPortVLAN", Target: s.name, Port: port, VLAN: v}
	op.VLAN.Trunk = slices.Clone(v.Trunk)
	var prev fabric.PortVLAN
	err := s.wr.do(ctx, op, func() error {
		var err error
		prev, err = s.VLANSwitch.SetPortVLAN(ctx, port, v)
		return err
	})
	return prev, err
}

type wPartitions struct {
	partition.PartitionManager
	wr *wrapper
}

func (p *wPartitions) Compose(ctx context.Context, id string, members []string) error {
	op := Op{Driver: fake.DriverPartition, Method: "Compose", Target: id, Members: slices.Clone(members)}
	return p.wr.do(ctx, op, func() error { return p.PartitionManager.Compose(ctx, id, members) })
}

func (p *wPartitions) Decompose(ctx context.Context, id string) error {
	op := Op{Driver: fake.DriverPartition, Method: "Decompose", Target: id}
	return p.wr.do(ctx, op, func() error { return p.PartitionManager.Decompose(ctx, id) })
}

// Replay applies op, reported by Wrap's After hook on a Site built the
// same way (possibly in another process), to this site's world: it moves
// the clock forward to op.At, then makes the same call. Replaying every
// reported op in order rebuilds the world as the reporting process left
// it, as far as its calls completed.
func (s *Site) Replay(op Op) error {
	if d := op.At.Sub(s.Clock.Now()); d > 0 {
		s.Clock.Advance(d)
	}
	ctx := context.Background()
	w := s.World
	var err error
	switch op.Driver + "." + op.Method {
	case "bmc.PowerOn":
		err = w.BMC(op.Target).PowerOn(ctx)
	case "bmc.Shutdown":
		err = w.BMC(op.Target).Shutdown(ctx)
	case "bmc.PowerOff":
		err = w.BMC(op.Target).PowerOff(ctx)
	case "bmc.NMI":
		err = w.BMC(op.Target).NMI(ctx)
	case "bmc.SetBootDevice":
		err = w.BMC(op.Target).SetBootDevice(ctx, op.Device, op.Persistent)
	case "storage.Map":
		err = w.DiskMapper(op.Target).Map(ctx, op.Volume, op.Initiators, op.LUN)
	case "storage.Unmap":
		err = w.DiskMapper(op.Target).Unmap(ctx, op.Volume, op.Initiators)
	case "storage.SwapInitiators":
		err = w.DiskMapper(op.Target).(storage.InitiatorSwapper).SwapInitiators(ctx, op.Initiators, op.To)
	case "zoner.AddMember":
		err = w.Zoner(op.Target).AddMember(ctx, op.Zone, op.WWPN)
	case "zoner.RemoveMember":
		err = w.Zoner(op.Target).RemoveMember(ctx, op.Zone, op.WWPN)
	case "zoner.Commit":
		err = w.Zoner(op.Target).Commit(ctx)
	case "vlan.SetPortVLAN":
		_, err = w.Switch(op.Target).SetPortVLAN(ctx, op.Port, op.VLAN)
	case "partition.Compose":
		err = w.Partitions().Compose(ctx, op.Target, op.Members)
	case "partition.Decompose":
		err = w.Partitions().Decompose(ctx, op.Target)
	default:
		return fmt.Errorf("storetest: replay %s: unknown operation: %w", op, failover.ErrInvalid)
	}
	if err != nil {
		return fmt.Errorf("storetest: replay %s: %w", op, err)
	}
	return nil
}
