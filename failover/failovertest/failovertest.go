// Package failovertest wires the simulated data centre of drivers/fake to
// the failover Orchestrator: the records a Store needs, the Drivers, and
// the search options of a fake.Layout.
//
// Import it in tests and demos of code that embeds coldstandby, so that
// they run real failovers on the fakes in a few lines:
//
//	world, layout := fake.PatentExample()
//	store := failover.NewMemStore()
//	store.Put(ctx, failovertest.Records(world)...)
//	o, err := failover.New(store, failovertest.Drivers(world),
//		failover.WithSearchOptions(failovertest.SearchOptions(world, layout)...))
package failovertest

import (
	"time"

	"slices"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// Record turns a simulated server into its Orchestrator record: the
// patent's server management table (hardware, switch, disk array, zone,
// VLANs, state, workload, priority, partition) plus the wiring (a "fake"
// BMC reference named after the server, its HBAs on its fabric, its NIC
// ports on its switch). The first zone is the record's Zone; an access
// port's VLAN or a trunk's VLAN list is its VLANs.
func Record(s fake.ServerSpec) failover.Record {
	r := failover.Record{
		Server: search.Server{
			ID: search.ServerID(s.ID),
			Hardware: search.Hardware{CPUModel: s.Hardware.CPUModel, CPUMHz: s.Hardware.CPUMHz, MemoryMiB: s.Hardware.MemoryMiB,
				Chipset: s.Hardware.Chipset, NICPorts: s.Hardware.NICPorts, HBAPorts: s.Hardware.HBAPorts},
			Switch: s.Switch, DiskArray: s.DiskArray,
			State: search.State(s.State), Workload: s.Workload, Priority: s.Priority,
			Partition: search.PartitionID(s.Partition),
		},
		BMC: failover.BMCRef{Driver: "fake", Endpoint: s.ID},
	}
	if s.VLAN.Mode == fabric.Access {
		r.VLANs = []int{s.VLAN.AccessVLAN}
	} else {
		r.VLANs = slices.Clone(s.VLAN.Trunk)
	}
	if len(s.Zones) > 0 {
		r.Zone = s.Zones[0]
	}
	for _, in := range s.Initiators {
		r.HBAs = append(r.HBAs, failover.HBA{Initiator: in, Fabric: s.Fabric})
	}
	for _, p := range s.SwitchPorts {
		r.NICs = append(r.NICs, failover.NIC{Switch: s.Switch, Port: p})
	}
	return r
}

// Records returns the records of every server of w, sorted by ID, to Put
// into an empty Store.
func Records(w *fake.World) []failover.Record {
	servers := w.Servers()
	out := make([]failover.Record, len(servers))
	for i, s := range servers {
		out[i] = Record(s)
	}
	return out
}

// Drivers wires w's fake devices: the BMC named by a record's
// BMC.Endpoint, one DiskMapper per disk array, one FCZoner per fabric,
// one VLANSwitch per switch, and w's PartitionManager.
func Drivers(w *fake.World) failover.Drivers {
	d := failover.Drivers{
		BMC:          func(r failover.Record) (bmc.BMC, error) { return w.BMC(r.BMC.Endpoint), nil },
		DiskMappers:  map[string]storage.DiskMapper{},
		FCZoners:     map[string]fabric.FCZoner{},
		VLANSwitches: map[string]fabric.VLANSwitch{},
		Partitions:   w.Partitions(),
	}
	for _, s := range w.Servers() {
		if s.DiskArray != "" {
			d.DiskMappers[s.DiskArray] = w.DiskMapper(s.DiskArray)
		}
		if s.Fabric != "" {
			d.FCZoners[s.Fabric] = w.Zoner(s.Fabric)
		}
		if s.Switch != "" {
			d.VLANSwitches[s.Switch] = w.Switch(s.Switch)
		}
	}
	return d
}

// SearchOptions turns l's search policy table and allowed combinations
// into search options. Every server may preempt strictly lower-priority
// work when it fails (Policy.Preempt), with or without a policy of its
// own, as in the patent's fourth embodiment (a standby gets the same
// policy, which applies once it runs a workload). A policy applies to a whole
// logical server (search refuses members with different policies): a
// partition takes the policy of its first member, by ID, that has one.
func SearchOptions(w *fake.World, l fake.Layout) []search.Option {
	byServer := map[string]fake.Policy{}
	for _, p := range l.Policies {
		byServer[p.Server] = p
	}
	servers := w.Servers() // sorted by ID
	byPartition := map[string]fake.Policy{}
	for _, s := range servers {
		if p, ok := byServer[s.ID]; ok && s.Partition != "" {
			if _, set := byPartition[s.Partition]; !set {
				byPartition[s.Partition] = p
			}
		}
	}
	var opts []search.Option
	for _, s := range servers {
		p, ok := byServer[s.ID]
		if s.Partition != "" {
			p, ok = byPartition[s.Partition]
		}
		pol := search.Policy{Preempt: true}
		if ok {
			pol = search.Policy{
				MinCPUMHz: p.MinCPUMHz, MinMemoryMiB: p.MinMemoryMiB, AnyCPUModel: p.AllowOtherCPUModel,
				AllowPartitionMismatch: p.AllowOtherNodeCount, AnySwitch: !p.SameSwitch, Preempt: true,
			}
		}
		opts = append(opts, search.WithPolicy(search.ServerID(s.ID), pol))
	}
	for _, c := range l.Compositions {
		ids := make([]search.ServerID, len(c))
		for i, x := range c {
			ids[i] = search.ServerID(x)
		}
		opts = append(opts, search.WithCombination(ids...))
	}
	return opts
}

// Epoch is a fixed start for a fake.Clock, so that timelines printed by
// tests and demos read the same on every run.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
