package failover_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
)

// TestFailedZoneStepAbortsItsEdits: a zoning step that fails after some
// of its edits are pending aborts them (fabric.Aborter), so they are not
// activated by the next Commit on that fabric.
func TestFailedZoneStepAbortsItsEdits(t *testing.T) {
	ctx := context.Background()
	clock := fake.NewClock(failovertest.Epoch)
	world, layout := fake.PatentExample(fake.WithClock(clock))
	store := failover.NewMemStore()
	if _, err := store.Put(ctx, failovertest.Records(world)...); err != nil {
		t.Fatal(err)
	}
	o, err := failover.New(store, failovertest.Drivers(world), failover.WithClock(clock),
		failover.WithTimeouts(failover.Timeouts{Shutdown: 30 * time.Second, Poll: 5 * time.Second}),
		failover.WithSearchOptions(failovertest.SearchOptions(world, layout)...))
	if err != nil {
		t.Fatal(err)
	}
	// Removing srv01's WWPN fails for good: the spare's WWPN was already
	// added to the zone (pending) when it does.
	if _, err := world.Inject(fake.Fault{Driver: fake.DriverZoner, Method: "RemoveMember", Err: fabric.ErrInvalid}); err != nil {
		t.Fatal(err)
	}
	world.FailServer("srv01", bmc.FaultProcessor)
	res, _ := o.HandleFault(ctx, bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor})
	if res.Outcome == failover.OutcomeDone {
		t.Fatalf("outcome %s with every RemoveMember failing", res.Outcome)
	}
	for _, fab := range []string{"fab-1"} {
		if d, a := world.DefinedZones(fab), world.ActiveZones(fab); !reflect.DeepEqual(d, a) {
			t.Errorf("%s: edits of the failed step left pending:\ndefined %v\nactive  %v", fab, d, a)
		}
	}
	if world.Calls(fake.DriverZoner, "Abort") == 0 {
		t.Error("the failed zoning step never called Abort")
	}
	if err := world.CheckInvariants(nil); err != nil {
		t.Error(err)
	}
}
