package failover_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

// A fenced server can come back on by itself (a power-restore policy
// when mains power returns, a watchdog, an operator). The failover must
// see it before the disks move and before the spare boots, fence it
// again, and never let the spare have the disks while it runs (I1).
func TestFencedServerThatPowersBackOnIsFencedAgain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		swap   bool
		driver string // the call after which srv01 comes back on
		method string
	}{
		{"before the disks move, swap", true, fake.DriverStorage, "Mappings"},
		{"before the disks move, remap", false, fake.DriverStorage, "Mappings"},
		{"after the disks moved, before the spare boots", true, fake.DriverStorage, "SwapInitiators"},
		{"after the disks moved volume by volume", false, fake.DriverStorage, "Map"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := patentSite(t, failover.WithInitiatorSwap(tc.swap))
			if _, err := s.w.Inject(fake.Fault{Driver: tc.driver, Method: tc.method, Times: 1,
				Then: func() { _ = s.w.SetPower("srv01", bmc.PowerOn) }}); err != nil {
				t.Fatal(err)
			}
			res := s.fail("srv01", bmc.FaultProcessor)
			if res.Outcome != failover.OutcomeDone {
				t.Fatalf("%s: %v", res.Outcome, res.Err)
			}
			if p := s.w.Power("srv01"); p != bmc.PowerOff {
				t.Errorf("srv01 is %s after the failover", p)
			}
			if v := s.w.Violations(); len(v) > 0 {
				t.Errorf("violations: %v", v)
			}
			if st, _ := s.w.Server("srv02"); st.Power != bmc.PowerOn || st.BootVolume != "boot-srv01" {
				t.Errorf("spare %+v", st)
			}
			s.checkWorld()
		})
	}
}

// When the server that came back on cannot be fenced again, the
// failover stops with the disks where they were: on the running server.
func TestFencedServerThatPowersBackOnAndCannotBeFencedKeepsItsDisks(t *testing.T) {
	s := patentSite(t)
	if _, err := s.w.Inject(fake.Fault{Driver: fake.DriverStorage, Method: "Mappings", Times: 1, Then: func() {
		_ = s.w.SetPower("srv01", bmc.PowerOn)
		_, _ = s.w.Inject(fake.Fault{Driver: fake.DriverBMC, Method: "PowerOff", Target: "srv01", Err: bmc.ErrTransient})
		_ = s.w.RefuseShutdown("srv01", true)
	}}); err != nil {
		t.Fatal(err)
	}
	res := s.fail("srv01", bmc.FaultProcessor)
	if res.Outcome != failover.OutcomeFencingFailed || !errors.Is(res.Err, failover.ErrFencingFailed) {
		t.Fatalf("%s: %v", res.Outcome, res.Err)
	}
	if h := s.holders("array-1", "boot-srv01"); !slices.Equal(h, []string{"srv01"}) {
		t.Errorf("boot-srv01 held by %v, want srv01", h)
	}
	if r := s.rec("srv02"); r.State != search.Standby || r.Reservation != "" {
		t.Errorf("spare left %s reserved by %q", r.State, r.Reservation)
	}
	if p := s.w.Power("srv02"); p != bmc.PowerOff {
		t.Errorf("spare %s", p)
	}
	if u, _ := s.store.Unfinished(context.Background()); len(u) != 0 {
		t.Errorf("unfinished %v", u)
	}
	if v := s.w.Violations(); len(v) > 0 {
		t.Errorf("violations: %v", v)
	}
}

// Where the BMC can, fencing makes the failed server stay off when power
// returns, and MarkStandby gives its power-restore policy back.
func TestFencingKeepsTheServerOffWhenPowerReturns(t *testing.T) {
	s := patentSite(t)
	ctx := context.Background()
	if res := s.fail("srv01", bmc.FaultPowerLost); res.Outcome != failover.OutcomeDone {
		t.Fatalf("%s: %v", res.Outcome, res.Err)
	}
	if p := s.w.RestorePolicyOf("srv01"); p != bmc.RestoreAlwaysOff {
		t.Fatalf("srv01's power-restore policy %q after fencing", p)
	}
	if r := s.rec("srv01"); r.RestorePolicy != bmc.RestoreAlwaysOn {
		t.Fatalf("record keeps restore policy %q, want the factory always-on", r.RestorePolicy)
	}
	if on, _ := s.w.ACPowerRestored("srv01"); on {
		t.Fatal("srv01 came back on when mains power returned")
	}
	_ = s.w.RepairServer("srv01")
	_ = s.w.SetPower("srv01", bmc.PowerOff)
	if err := s.o.MarkStandby(ctx, "srv01"); err != nil {
		t.Fatal(err)
	}
	if p := s.w.RestorePolicyOf("srv01"); p != bmc.RestoreAlwaysOn {
		t.Errorf("policy %q after repair, want always-on back", p)
	}
	if r := s.rec("srv01"); r.RestorePolicy != "" || r.State != search.Standby {
		t.Errorf("record after repair: %s, restore policy %q", r.State, r.RestorePolicy)
	}
}

// A fault that means a hung operating system is fenced without waiting
// for a graceful shutdown that will never come: with the default
// timeouts, a processor IERR's spare is on within the dump wait plus 10 s
// (virtual time), where a graceful fencing would first wait out the
// 2-minute shutdown timeout.
func TestHungOSIsFencedWithoutTheGracefulWait(t *testing.T) {
	for _, tc := range []struct {
		fault bmc.FaultType
		max   time.Duration
	}{
		{bmc.FaultProcessor, failover.DefaultTimeouts().Dump + 10*time.Second},
		{bmc.FaultOSStop, failover.DefaultTimeouts().Dump + 10*time.Second},
	} {
		t.Run(string(tc.fault), func(t *testing.T) {
			clk := fake.NewClock(t0)
			w, l := fake.PatentExample(fake.WithClock(clk))
			s := newSite(t, w, l, clk, failover.WithTimeouts(failover.DefaultTimeouts()))
			_ = s.w.RefuseShutdown("srv01", true)
			start := clk.Now()
			res := s.fail("srv01", tc.fault)
			if res.Outcome != failover.OutcomeDone {
				t.Fatalf("%s: %v", res.Outcome, res.Err)
			}
			var on time.Time
			for _, a := range res.Audit {
				if a.Step == "boot" {
					on = a.Start.Add(a.Duration)
				}
			}
			if d := on.Sub(start); d > tc.max {
				t.Errorf("the spare was on %v after the fault, want at most %v", d, tc.max)
			}
			if n := s.w.Calls(fake.DriverBMC, "Shutdown"); n != 0 {
				t.Errorf("%d graceful shutdowns asked of a hung OS", n)
			}
			s.checkWorld()
		})
	}
	// A fault whose OS may still listen is shut down gracefully first.
	s2 := patentSite(t, failover.WithFaultActions(map[bmc.FaultType]failover.Rule{bmc.FaultTemperature: {Action: failover.ActNow}}, failover.Rule{Action: failover.ActNow}))
	if res := s2.fail("srv01", bmc.FaultTemperature); res.Outcome != failover.OutcomeDone {
		t.Fatalf("temperature: %s %v", res.Outcome, res.Err)
	}
	if n := s2.w.Calls(fake.DriverBMC, "Shutdown"); n == 0 {
		t.Error("no graceful shutdown asked for a temperature fault")
	}
}
