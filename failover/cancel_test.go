package failover_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
)

// Cancelling a failover's context (a graceful shutdown) at any point
// leaves it open in the journal as interrupted, with an error that wraps
// the context's; the next Recover finishes it.
func TestCancelledFailoverIsInterruptedAndRecoverFinishesIt(t *testing.T) {
	points := []struct {
		driver, method string
		after          int
	}{
		{fake.DriverBMC, "PowerOff", 0},     // fencing
		{fake.DriverBMC, "PowerState", 3},   // fencing, confirming
		{fake.DriverStorage, "Mappings", 0}, // the storage read
		{fake.DriverStorage, "SwapInitiators", 0},
		{fake.DriverZoner, "Commit", 0},
		{fake.DriverVLAN, "SetPortVLAN", 0},
		{fake.DriverBMC, "SetBootDevice", 0}, // the boot
		{fake.DriverBMC, "PowerOn", 0},
	}
	for _, p := range points {
		t.Run(fmt.Sprintf("%s.%s after %d", p.driver, p.method, p.after), func(t *testing.T) {
			s := patentSite(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if _, err := s.w.Inject(fake.Fault{Driver: p.driver, Method: p.method, After: p.after, Times: 1, Then: cancel}); err != nil {
				t.Fatal(err)
			}
			_ = s.w.FailServer("srv01", bmc.FaultProcessor)
			res, err := s.o.HandleFault(ctx, bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor})
			if res.Outcome != failover.OutcomeInterrupted || !errors.Is(err, context.Canceled) {
				t.Fatalf("%s: %v; want interrupted, wrapping context.Canceled", res.Outcome, err)
			}
			if u, _ := s.store.Unfinished(context.Background()); len(u) != 1 || u[0] != res.ID {
				t.Fatalf("unfinished %v, want %s open", u, res.ID)
			}
			results, err := s.newOrchestrator(s.store).Recover(context.Background())
			if err != nil || len(results) != 1 || results[0].Outcome != failover.OutcomeDone {
				t.Fatalf("Recover: %+v %v", results, err)
			}
			if err := workloadMoved(s.store, s.w, "srv01", "web"); err != nil {
				t.Fatal(err)
			}
			s.checkWorld()
		})
	}
}
