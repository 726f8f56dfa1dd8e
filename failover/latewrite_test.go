package failover_test

import (
	"fmt"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// An unmap whose answer was lost may take effect later: after the
// attempt was rolled back and the volume mapped back to the failed
// server, say. Whenever it lands, the failover must end with every
// volume of srv01 masked to exactly one server at its LUN, and a done
// failover's spare must see them all: never a spare booted without its
// disk, never a volume masked to nobody (I3).
func TestLateLandingUnmapNeverLosesAVolume(t *testing.T) {
	for _, swap := range []bool{false, true} {
		method := "Unmap"
		if swap {
			method = "SwapInitiators"
		}
		for late := 1; late <= 24; late++ {
			t.Run(fmt.Sprintf("%s lands after %d calls", method, late), func(t *testing.T) {
				clk := fake.NewClock(t0)
				w, l := fake.PatentExample(fake.WithClock(clk))
				addSpare(t, w, "srv13")
				s := newSite(t, w, l, clk, failover.WithInitiatorSwap(swap))
				// srv02 cannot power on: its attempt is rolled back and
				// srv13 is tried next.
				_ = s.w.FailServer("srv02", bmc.FaultPowerSupply)
				if _, err := s.w.Inject(fake.Fault{Driver: fake.DriverStorage, Method: method, Times: 1, LostResponse: true, LandLate: late}); err != nil {
					t.Fatal(err)
				}
				res := s.fail("srv01", bmc.FaultProcessor)
				// Let any write still in flight land.
				for range 40 {
					_, _ = s.w.DiskMapper("array-1").Mappings(t.Context(), []storage.Initiator{storage.MustParseInitiator("21:00:00:24:ff:00:01:01")})
				}
				if res.Outcome == failover.OutcomeInterrupted {
					// It stopped, saying where the volumes are: Recover
					// takes over.
					results, err := s.newOrchestrator(s.store).Recover(t.Context())
					if err != nil || len(results) == 0 {
						t.Fatalf("interrupted (%v), then Recover: %+v %v", res.Err, results, err)
					}
					res = results[0]
				}
				if v := s.w.Violations(); len(v) > 0 {
					t.Errorf("violations: %v", v)
				}
				for _, vol := range []string{"boot-srv01", "data-srv01"} {
					h := s.holders("array-1", vol)
					if len(h) != 1 {
						t.Fatalf("%s: %s held by %v (%v)", res.Outcome, vol, h, res.Err)
					}
					if res.Outcome == failover.OutcomeDone && h[0] != string(res.Plan.Assignments[0].Spare) {
						t.Errorf("done on %s but %s is held by %v", res.Plan.Assignments[0].Spare, vol, h)
					}
				}
				if res.Outcome == failover.OutcomeDone {
					sp := res.Plan.Assignments[0].Spare
					if st, _ := s.w.Server(string(sp)); st.BootVolume != "boot-srv01" {
						t.Errorf("spare %s booted from %q", sp, st.BootVolume)
					}
				} else if r := s.rec("srv01"); r.State != search.Failed {
					t.Errorf("%s, srv01 %s", res.Outcome, r.State)
				}
				s.checkWorld()
			})
		}
	}
}
