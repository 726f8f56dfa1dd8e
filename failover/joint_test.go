package failover_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

// oneSpareTwoFailures is the patent site with srv14, a second web server
// of srv01's hardware but of higher priority, and srv09 out of the way:
// srv02 is the only spare both can take.
func oneSpareTwoFailures(t *testing.T) *site {
	clk := fake.NewClock(t0)
	w, l := fake.PatentExample(fake.WithClock(clk))
	spec, _ := w.Spec("srv01")
	spec.ID, spec.Workload, spec.Priority = "srv14", "shop", 7
	spec.SwitchPorts = []string{"eth1/42", "eth1/43"}
	spec.Initiators = nil
	spec.Zones = []string{"z-srv14"}
	spec.BootVolumes = []fake.Volume{{ID: "boot-srv14", LUN: 0}}
	for _, in := range []string{"21:00:00:24:ff:00:14:01", "21:00:00:24:ff:00:14:02"} {
		spec.Initiators = append(spec.Initiators, mustInit(in))
	}
	if err := w.AddServer(spec); err != nil {
		t.Fatal(err)
	}
	// Without preemption srv14 cannot take srv01's place or the reverse.
	l.Policies = append(l.Policies, fake.Policy{Server: "srv14", SameSwitch: true})
	return newSite(t, w, l, clk)
}

// HandleFaults keeps its joint plan: the one spare goes to the higher
// priority whatever the order of the faults and the scheduling, and the
// other failure is explained the same way every time.
func TestJointPlanServesHigherPriorityFirstEveryTime(t *testing.T) {
	var why string
	for run := range 30 {
		s := oneSpareTwoFailures(t)
		faults := []bmc.Fault{{Server: "srv01", Type: bmc.FaultProcessor}, {Server: "srv14", Type: bmc.FaultProcessor}}
		if run%2 == 1 {
			slices.Reverse(faults)
		}
		for _, f := range faults {
			_ = s.w.FailServer(f.Server, f.Type)
		}
		results, _ := s.o.HandleFaults(context.Background(), faults...)
		got := map[string]failover.Result{}
		for _, r := range results {
			got[string(r.Server)] = r
		}
		if r := got["srv14"]; r.Outcome != failover.OutcomeDone || r.Plan.Assignments[0].Spare != "srv02" {
			t.Fatalf("run %d: srv14 (prio 7): %s %v %v", run, r.Outcome, r.Plan, r.Err)
		}
		r := got["srv01"]
		if r.Outcome != failover.OutcomeNoSpare {
			t.Fatalf("run %d: srv01 (prio 5): %s %v", run, r.Outcome, r.Err)
		}
		if why == "" {
			why = r.Err.Error()
		} else if r.Err.Error() != why {
			t.Fatalf("run %d: explanation changed:\n%s\nwas\n%s", run, r.Err, why)
		}
		s.checkWorld()
	}
}

// On a generated 300-server site with a rack's worth of failures, no
// server is ever given to two failures, every reservation is released,
// and the results are the same on every run.
func TestJointPlanOnAGeneratedSiteIsKeptAndRepeatable(t *testing.T) {
	var first []string
	for run := range 4 {
		clk := fake.NewClock(t0)
		w, l, err := fake.Generate(300, 7, fake.WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		s := newSite(t, w, l, clk)
		var faults []bmc.Fault
		for _, sp := range w.Servers() {
			if sp.State == fake.StateActive && sp.Switch == "sw-02" {
				_ = w.FailServer(sp.ID, bmc.FaultPowerLost)
				faults = append(faults, bmc.Fault{Server: sp.ID, Type: bmc.FaultPowerLost})
			}
		}
		results, _ := s.o.HandleFaults(context.Background(), faults...)
		var got []string
		used := map[search.ServerID]search.ServerID{}
		for _, r := range results {
			got = append(got, fmt.Sprintf("%s %s %v", r.Server, r.Outcome, r.Plan))
			if r.Outcome != failover.OutcomeDone {
				continue
			}
			for _, id := range failoverServers(r.Plan) {
				if prev, dup := used[id]; dup {
					t.Fatalf("run %d: %s given to %s and %s", run, id, prev, r.Server)
				}
				used[id] = r.Server
			}
		}
		if first == nil {
			first = got
		} else if !slices.Equal(first, got) {
			t.Fatalf("run %d differs:\n%s\nfirst:\n%s", run, strings.Join(got, "\n"), strings.Join(first, "\n"))
		}
		s.checkWorld()
	}
}

// failoverServers lists the servers a plan takes: spares, replacement
// nodes, victims and relocation targets.
func failoverServers(p search.Plan) []search.ServerID {
	var out []search.ServerID
	for _, a := range p.Assignments {
		out = append(out, a.Spare)
	}
	out = append(out, p.Replacement...)
	for _, v := range p.Preemptions {
		out = append(out, v.Victim)
		if v.RelocateTo != "" {
			out = append(out, v.RelocateTo)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
