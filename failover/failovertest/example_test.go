package failovertest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
)

// The README's usage example: a simulated data centre, an Orchestrator
// over it, one server failing and a same-hardware spare taking over.
func Example() {
	ctx := context.Background()
	clock := fake.NewClock(failovertest.Epoch) // virtual time: a 30 s shutdown timeout passes at once
	world, layout := fake.PatentExample(fake.WithClock(clock))

	store := failover.NewMemStore() // or drivers/boltstore, or drivers/etcdstore for several managers
	if _, err := store.Put(ctx, failovertest.Records(world)...); err != nil {
		log.Fatal(err)
	}
	o, err := failover.New(store, failovertest.Drivers(world), failover.WithClock(clock),
		failover.WithSearchOptions(failovertest.SearchOptions(world, layout)...))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := o.Recover(ctx); err != nil { // finish what a crash left unfinished
		log.Fatal(err)
	}

	world.FailServer("srv01", bmc.FaultProcessor) // the OS hangs; the BMC logs an IERR
	res, err := o.HandleFault(ctx, bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Outcome, "-", res.Plan, "in", res.Duration)
	fmt.Println("invariants:", world.CheckInvariants(nil))
	// Output:
	// done - exact: srv01 -> srv02 in 0s
	// invariants: <nil>
}
