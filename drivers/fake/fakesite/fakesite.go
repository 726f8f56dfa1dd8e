// Package fakesite builds the simulated data centre of drivers/fake from
// a site file (package failover/site), so that tests and demos describe a
// site once: the same file gives the Orchestrator's records and options
// and the fake world they run against, dual A/B fabrics and several disk
// arrays included.
//
// Import it in tests of code that embeds coldstandby, and in demos;
// drivers/builtin uses it for the "fake" driver type. Production code
// never needs it.
//
//	s, _ := site.Load("site.yaml")
//	recs, _ := s.Records()
//	w, _ := fakesite.World(s, recs, fake.WithClock(clock))
//	store.Put(ctx, recs...)
//	o, _ := failover.New(store, fakesite.Drivers(w, s), append(s.Options(), failover.WithClock(clock))...)
package fakesite

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/site"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// World builds the simulated data centre of site s in the state recs
// describe (the records as a store holds them, runtime state included;
// nil means s.Records(), the site as declared):
//
//   - every server of recs with its hardware, its HBAs on their fabrics,
//     its NIC ports on its switch set to its VLANs (one VLAN: an access
//     port; several: a trunk with native VLAN 1; none: access 1), its
//     partition, and its simulation settings (defaults.simulation, then
//     the server's); active servers are on, the others off;
//   - each server's declared volumes created on its disk array and masked
//     at their LUNs to whoever holds them now: the active server whose
//     Home is that server (its workload moved there in a failover), none
//     when they are parked, else the server itself;
//   - active servers zoned in their Zone on each of their fabrics,
//     together with the disk array's target ports on that fabric;
//   - the allowed combinations.
//
// opts go to fake.NewWorld (a virtual clock, a seed). The error wraps
// failover.ErrInvalid when the records cannot be simulated (a server whose
// NICs are on several switches: the fake cables a server to one).
func World(s *site.Site, recs []failover.Record, opts ...fake.Option) (*fake.World, error) {
	if recs == nil {
		var err error
		if recs, err = s.Records(); err != nil {
			return nil, err
		}
	}
	recs = slices.Clone(recs)
	slices.SortFunc(recs, func(a, b failover.Record) int { return cmp.Compare(a.ID, b.ID) })
	declared := map[string]site.Server{}
	for _, sv := range s.Servers {
		declared[sv.ID] = sv
	}
	targets := map[string][]site.Target{}
	for _, a := range s.Arrays {
		targets[a.Name] = a.Targets
	}
	// Who holds each server's declared volumes now.
	holder := map[search.ServerID]search.ServerID{}
	parked := map[search.ServerID]bool{}
	for _, r := range recs {
		if _, ok := holder[r.ID]; !ok {
			holder[r.ID] = r.ID
		}
		if len(r.Parked) > 0 {
			parked[r.ID] = true
		}
		if r.Home != "" && r.State == search.Active {
			holder[r.Home] = r.ID
		}
	}
	held := map[search.ServerID][]fake.Volume{}
	type volRef struct {
		array string
		vol   fake.Volume
	}
	var loose []volRef // created, masked to nobody
	for _, r := range recs {
		sv := declared[string(r.ID)]
		for _, v := range sv.Volumes {
			fv := fake.Volume{ID: storage.VolumeID(v.ID), LUN: v.LUN, SizeBytes: int64(v.SizeGiB) << 30}
			if parked[r.ID] && holder[r.ID] == r.ID {
				loose = append(loose, volRef{r.DiskArray, fv})
				continue
			}
			h := holder[r.ID]
			held[h] = append(held[h], fv)
		}
		for _, p := range r.Parked {
			loose = append(loose, volRef{p.Array, fake.Volume{ID: p.Volume, LUN: p.LUN}})
		}
	}
	w := fake.NewWorld(opts...)
	def := s.Defaults.Simulation
	for _, r := range recs {
		sim := def
		if o := declared[string(r.ID)].Simulation; o != nil {
			sim.ShutdownDelay = cmp.Or(o.ShutdownDelay, sim.ShutdownDelay)
			sim.DumpTime = cmp.Or(o.DumpTime, sim.DumpTime)
			sim.RefuseShutdown = o.RefuseShutdown || sim.RefuseShutdown
			sim.ResourceZone = cmp.Or(o.ResourceZone, sim.ResourceZone)
		}
		spec := fake.ServerSpec{
			ID: string(r.ID),
			Hardware: fake.Hardware{CPUModel: r.Hardware.CPUModel, CPUMHz: r.Hardware.CPUMHz, MemoryMiB: r.Hardware.MemoryMiB,
				Chipset: r.Hardware.Chipset, NICPorts: r.Hardware.NICPorts, HBAPorts: r.Hardware.HBAPorts},
			State: string(r.State), Workload: r.Workload, Priority: r.Priority, Partition: string(r.Partition),
			ResourceZone: cmp.Or(sim.ResourceZone, r.Switch),
			DiskArray:    r.DiskArray,
			VLAN:         portVLAN(r.VLANs),
			BootVolumes:  held[r.ID],
			Power:        bmc.PowerOff,
			OS: fake.OS{ShutdownDelay: time.Duration(sim.ShutdownDelay), DumpTime: time.Duration(sim.DumpTime),
				RefuseShutdown: sim.RefuseShutdown},
		}
		if r.State == search.Active {
			spec.Power = bmc.PowerOn
		}
		for _, n := range r.NICs {
			if spec.Switch != "" && n.Switch != spec.Switch {
				return nil, fmt.Errorf("fakesite: server %s: NICs on switches %s and %s; the fake cables a server to one: %w", r.ID, spec.Switch, n.Switch, failover.ErrInvalid)
			}
			spec.Switch = n.Switch
			spec.SwitchPorts = append(spec.SwitchPorts, n.Port)
		}
		zoned := r.State == search.Active && r.Zone != "" && len(r.HBAs) > 0
		var fabrics []string
		for _, h := range r.HBAs {
			spec.Initiators = append(spec.Initiators, h.Initiator)
			spec.InitiatorFabrics = append(spec.InitiatorFabrics, h.Fabric)
			if h.Fabric == "" {
				zoned = false
			} else if !slices.Contains(fabrics, h.Fabric) {
				fabrics = append(fabrics, h.Fabric)
			}
		}
		if zoned {
			spec.Zones = []string{r.Zone}
		}
		if err := w.AddServer(spec); err != nil {
			return nil, fmt.Errorf("fakesite: %w", err)
		}
		if zoned {
			for _, f := range fabrics {
				var members []storage.Initiator
				for _, t := range targets[r.DiskArray] {
					if t.Fabric == f || t.Fabric == "" {
						members = append(members, storage.MustParseInitiator(t.WWPN))
					}
				}
				if err := w.AddZone(f, r.Zone, members...); err != nil {
					return nil, fmt.Errorf("fakesite: %w", err)
				}
			}
		}
	}
	for _, v := range loose {
		if slices.Contains(w.Volumes(v.array), v.vol.ID) {
			continue
		}
		if err := w.AddVolume(v.array, v.vol.ID, v.vol.SizeBytes); err != nil {
			return nil, fmt.Errorf("fakesite: %w", err)
		}
	}
	if len(s.Combinations) > 0 {
		w.SetCompositions(s.Combinations)
	}
	return w, nil
}

// portVLAN is the port setting of a server with vlans.
func portVLAN(vlans []int) fabric.PortVLAN {
	switch len(vlans) {
	case 0:
		return fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 1}
	case 1:
		return fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: vlans[0]}
	}
	return fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 1, Trunk: slices.Clone(vlans)}
}

// Drivers wires w's fake devices to every part of s that is not
// unmanaged, whatever its declared driver type: the BMC named by a
// record's BMC.Endpoint (its ID when empty), a DiskMapper per array, an
// FCZoner per fabric, a VLANSwitch per switch and the PartitionManager
// when the site declares one.
func Drivers(w *fake.World, s *site.Site) failover.Drivers {
	d := failover.Drivers{
		BMC:          BMC(w),
		DiskMappers:  map[string]storage.DiskMapper{},
		FCZoners:     map[string]fabric.FCZoner{},
		VLANSwitches: map[string]fabric.VLANSwitch{},
	}
	for _, a := range s.Arrays {
		if !a.Unmanaged {
			d.DiskMappers[a.Name] = w.DiskMapper(a.Name)
		}
	}
	for _, f := range s.Fabrics {
		if !f.Unmanaged {
			d.FCZoners[f.Name] = w.Zoner(f.Name)
		}
	}
	for _, sw := range s.Switches {
		if !sw.Unmanaged {
			d.VLANSwitches[sw.Name] = w.Switch(sw.Name)
		}
	}
	if p := s.Partitions; p != nil && !p.Unmanaged {
		d.Partitions = w.Partitions()
	}
	return d
}

// BMC returns the Drivers.BMC function of w: the fake BMC named by the
// record's BMC.Endpoint, or by its ID when the endpoint is empty.
func BMC(w *fake.World) func(failover.Record) (bmc.BMC, error) {
	return func(r failover.Record) (bmc.BMC, error) {
		return w.BMC(cmp.Or(r.BMC.Endpoint, string(r.ID))), nil
	}
}
