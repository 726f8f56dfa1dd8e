package failover_test

import (
	"context"
	"fmt"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
)

// A server of the patent's example data centre fails; the Orchestrator
// fences it, finds its same-hardware spare, moves its boot disks, zones
// and VLAN, and boots the spare from the same disks.
func ExampleOrchestrator_HandleFault() {
	ctx := context.Background()
	clock := fake.NewClock(t0)
	world, layout := fake.PatentExample(fake.WithClock(clock))

	store := failover.NewMemStore()
	if _, err := store.Put(ctx, failovertest.Records(world)...); err != nil {
		panic(err)
	}
	o, err := failover.New(store, failovertest.Drivers(world),
		failover.WithClock(clock),
		failover.WithSearchOptions(failovertest.SearchOptions(world, layout)...))
	if err != nil {
		panic(err)
	}

	_ = world.FailServer("srv01", bmc.FaultPowerSupply)
	res, err := o.HandleFault(ctx, bmc.Fault{Server: "srv01", Type: bmc.FaultPowerSupply})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Outcome, res.Plan)
	st, _ := world.Server("srv02")
	fmt.Println("srv02", st.Power, "booted from", st.BootVolume)
	spare, _ := store.Get(ctx, "srv02")
	fmt.Println("srv02 runs", spare.Workload, "for", spare.Home)
	// Output:
	// done exact: srv01 -> srv02
	// srv02 on booted from boot-srv01
	// srv02 runs web for srv01
}

// DryRun shows what a failover would do, without touching anything.
func ExampleOrchestrator_DryRun() {
	ctx := context.Background()
	world, layout := fake.PatentExample()
	store := failover.NewMemStore()
	_, _ = store.Put(ctx, failovertest.Records(world)...)
	o, _ := failover.New(store, failovertest.Drivers(world), failover.WithSearchOptions(failovertest.SearchOptions(world, layout)...))

	dr, err := o.DryRun(ctx, "srv05")
	if err != nil {
		panic(err)
	}
	fmt.Println(dr.Plan)
	for _, s := range dr.Steps {
		fmt.Println(s.Step, s.Target)
	}
	// Output:
	// relaxed: srv05 -> srv12
	// fence srv05
	// reserve srv12
	// storage array-1: srv05 -> srv12
	// zone fab-1: 21:00:00:24:ff:00:05:01 -> 21:00:00:24:ff:00:0c:01
	// zone fab-1: 21:00:00:24:ff:00:05:02 -> 21:00:00:24:ff:00:0c:02
	// vlan sw-1/eth1/9 -> sw-1/eth1/15
	// vlan sw-1/eth1/10 -> sw-1/eth1/16
	// boot srv12
	// commit srv12
}
