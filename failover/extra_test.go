package failover_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
	"github.com/coldstandby/coldstandby/search"
)

func TestSimultaneousFaultsArePlannedJointly(t *testing.T) {
	s := patentSite(t)
	var faults []bmc.Fault
	for _, sc := range s.layout.Scenarios {
		_ = s.w.FailServer(sc.Fail[0], sc.Fault)
		faults = append(faults, bmc.Fault{Server: sc.Fail[0], Type: sc.Fault})
	}
	results, err := s.o.HandleFaults(context.Background(), faults...)
	if err != nil {
		t.Fatal(err)
	}
	spares := map[search.ServerID]string{}
	for i, r := range results {
		if r.Outcome != failover.OutcomeDone {
			t.Fatalf("fault %d: %s", i, r.Outcome)
		}
		for _, a := range r.Plan.Assignments {
			if prev, dup := spares[a.Spare]; dup {
				t.Fatalf("spare %s given to %s and %s", a.Spare, prev, a.Failed)
			}
			spares[a.Spare] = string(a.Failed)
		}
		sc := s.layout.Scenarios[i]
		var got []string
		for _, a := range r.Plan.Assignments {
			got = append(got, string(a.Spare))
		}
		if !slices.Equal(got, sc.WantSpares) {
			t.Errorf("%s: spares %v, want %v", sc.Name, got, sc.WantSpares)
		}
	}
	s.checkWorld()
}

func TestConcurrentFaultsNeverShareASpare(t *testing.T) {
	// Two same-hardware failures, one spare: exactly one gets it.
	clk := fake.NewClock(t0)
	w, l := fake.PatentExample(fake.WithClock(clk))
	spec, _ := w.Spec("srv01")
	spec.ID, spec.Workload, spec.Priority = "srv14", "web2", 5
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
	s := newSite(t, w, l, clk)
	done := make(chan failover.Result, 2)
	for _, id := range []string{"srv01", "srv14"} {
		_ = s.w.FailServer(id, bmc.FaultProcessor)
		go func() {
			r, _ := s.o.HandleFault(context.Background(), bmc.Fault{Server: id, Type: bmc.FaultProcessor})
			done <- r
		}()
	}
	a, b := <-done, <-done
	n := 0
	for _, r := range []failover.Result{a, b} {
		if r.Outcome == failover.OutcomeDone {
			n++
		} else if !errors.Is(r.Err, failover.ErrNoSpare) {
			t.Errorf("%s: %s %v", r.Server, r.Outcome, r.Err)
		}
	}
	if n != 1 {
		t.Fatalf("%d failovers done, want 1", n)
	}
	s.checkWorld()
}

func TestDryRunTouchesNothing(t *testing.T) {
	s := patentSite(t)
	before, _ := s.store.List(context.Background())
	dr, err := s.o.DryRun(context.Background(), "srv06")
	if err != nil {
		t.Fatal(err)
	}
	if dr.Plan.Kind != search.Preempted {
		t.Fatalf("plan %v", dr.Plan)
	}
	var steps []string
	for _, st := range dr.Steps {
		steps = append(steps, st.Step)
		if st.Skipped != "" {
			t.Errorf("step %+v skipped", st)
		}
	}
	want := []string{"fence", "reserve", "fence", "storage", "zone", "zone", "vlan", "vlan", "vlan", "vlan", "boot", "storage", "zone", "zone", "vlan", "vlan", "vlan", "vlan", "boot", "commit"}
	if !slices.Equal(steps, want) {
		t.Errorf("steps %v\nwant  %v", steps, want)
	}
	if n := len(s.w.Ops()); n != 0 {
		t.Errorf("%d driver calls", n)
	}
	after, _ := s.store.List(context.Background())
	if !slices.EqualFunc(before, after, func(a, b failover.Record) bool { return a.Revision == b.Revision }) {
		t.Error("store changed")
	}
}

func TestNewRefusesRecordsWhoseDriversAreMissing(t *testing.T) {
	s := patentSite(t)
	recs, _ := s.store.List(context.Background())
	_, err := failover.New(s.store, failover.Drivers{})
	if !errors.Is(err, failover.ErrInvalid) {
		t.Fatalf("New without drivers: %v, want ErrInvalid", err)
	}
	for _, want := range []string{"no BMC driver", "disk array \"" + recs[0].DiskArray + "\" has no DiskMapper", "srv01", "WithUnmanaged"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	// A BMC alone, with every array, fabric and switch declared
	// unmanaged: the steps on them are listed as skipped, saying why.
	u := failover.Unmanaged{Partitions: true}
	for _, r := range recs {
		u.Arrays = append(u.Arrays, r.DiskArray)
		for _, h := range r.HBAs {
			u.Fabrics = append(u.Fabrics, h.Fabric)
		}
		for _, n := range r.NICs {
			u.Switches = append(u.Switches, n.Switch)
		}
	}
	d := failovertest.Drivers(s.w)
	o, err := failover.New(s.store, failover.Drivers{BMC: d.BMC}, failover.WithUnmanaged(u))
	if err != nil {
		t.Fatal(err)
	}
	dr, err := o.DryRun(context.Background(), "srv01")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range dr.Steps {
		managed := st.Driver == "bmc" || st.Driver == "store"
		if st.Step == "compose" {
			t.Errorf("srv01's plan composes: %+v", st)
		}
		if managed != (st.Skipped == "") || (!managed && !strings.Contains(st.Skipped, "unmanaged")) {
			t.Errorf("step %+v: skipped %q", st, st.Skipped)
		}
	}
}

func TestCoverage(t *testing.T) {
	s := patentSite(t)
	cov, err := s.o.Coverage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	plans := map[search.ServerID]search.Plan{}
	for _, c := range cov.Servers {
		plans[c.Server] = c.Plan
	}
	if p := plans["srv01"]; p.Kind != search.Exact || p.Assignments[0].Spare != "srv02" {
		t.Errorf("srv01: %v", p)
	}
	// After srv01's failover srv02 is taken: srv01's class has no spare.
	s.fail("srv01", bmc.FaultProcessor)
	cov, _ = s.o.Coverage(context.Background())
	for _, c := range cov.Servers {
		if c.Server == "srv02" && c.Plan.Kind != 0 {
			t.Errorf("srv02 (now active) covered by %v", c.Plan)
		}
	}
}

func TestRepairMarkStandbyAndFailback(t *testing.T) {
	s := patentSite(t)
	if res := s.fail("srv01", bmc.FaultProcessor); res.Outcome != failover.OutcomeDone {
		t.Fatal(res.Err)
	}
	ctx := context.Background()
	if _, err := s.o.Failback(ctx, "srv01"); !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("failback to a failed server: %v", err)
	}
	_ = s.w.RepairServer("srv01")
	if err := s.o.MarkStandby(ctx, "srv02"); !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("mark an active server standby: %v", err)
	}
	if err := s.o.MarkStandby(ctx, "srv01"); err != nil {
		t.Fatal(err)
	}
	if r := s.rec("srv01"); r.State != search.Standby || r.MovedTo != "" {
		t.Fatalf("srv01 %+v", r)
	}
	res, err := s.o.Failback(ctx, "srv01")
	if err != nil || res.Outcome != failover.OutcomeDone {
		t.Fatalf("failback: %s %v", res.Outcome, err)
	}
	st, _ := s.w.Server("srv01")
	if st.Power != bmc.PowerOn || st.BootVolume != "boot-srv01" {
		t.Errorf("srv01 %s booted %q", st.Power, st.BootVolume)
	}
	if p := s.w.Power("srv02"); p != bmc.PowerOff {
		t.Errorf("srv02 %s", p)
	}
	if r := s.rec("srv01"); r.State != search.Active || r.Workload != "web" || r.Home != "" {
		t.Errorf("srv01 %+v", r)
	}
	if r := s.rec("srv02"); r.State != search.Standby || r.Workload != "" {
		t.Errorf("srv02 %+v", r)
	}
	spec, _ := s.w.Spec("srv01")
	if z := s.w.ActiveZonesOf("fab-1", spec.Initiators[0]); !slices.Equal(z, []string{"z-srv01"}) {
		t.Errorf("srv01 zones %v", z)
	}
	// The world is back where it started.
	if err := s.w.CheckInvariants(s.base); err != nil {
		t.Fatal(err)
	}
	// And srv02 can serve again.
	if res := s.fail("srv01", bmc.FaultMemory); res.Outcome != failover.OutcomeDone {
		t.Fatalf("second failover: %s %v", res.Outcome, res.Err)
	}
}

func TestLoggerGetsFixedKeys(t *testing.T) {
	var buf bytes.Buffer
	s := patentSite(t, failover.WithLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	s.fail("srv01", bmc.FaultPowerLost)
	for _, want := range []string{"msg=failover-started", "server=srv01", "step=storage", "driver=zoner", "spare=srv02", "msg=failover-done"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, buf.String())
		}
	}
	if _, err := failover.New(s.store, failover.Drivers{}, failover.WithLogger(nil)); !errors.Is(err, failover.ErrInvalid) {
		t.Errorf("nil logger: %v", err)
	}
	if _, err := failover.New(nil, failover.Drivers{}); !errors.Is(err, failover.ErrInvalid) {
		t.Errorf("nil store: %v", err)
	}
}

// TestSameFaultsSameOutcome (I6): the same data centre and the same faults
// give the same plans, the same final masking and the same records, run
// after run, whatever the goroutine scheduling.
func TestSameFaultsSameOutcome(t *testing.T) {
	type outcome struct {
		plans   []string
		masking string
		records string
	}
	once := func() outcome {
		s := patentSite(t)
		var faults []bmc.Fault
		for _, sc := range s.layout.Scenarios {
			_ = s.w.FailServer(sc.Fail[0], sc.Fault)
			faults = append(faults, bmc.Fault{Server: sc.Fail[0], Type: sc.Fault})
		}
		results, err := s.o.HandleFaults(context.Background(), faults...)
		if err != nil {
			t.Fatal(err)
		}
		var out outcome
		for _, r := range results {
			out.plans = append(out.plans, r.Plan.String())
		}
		out.masking = fmt.Sprint(s.w.Masking(""))
		recs, _ := s.store.List(context.Background())
		for _, r := range recs {
			out.records += fmt.Sprintf("%s %s %s %d %s %s %v\n", r.ID, r.State, r.Workload, r.Priority, r.Home, r.MovedTo, r.Parked)
		}
		return out
	}
	first := once()
	for i := 0; i < 5; i++ {
		if got := once(); !reflect.DeepEqual(got, first) {
			t.Fatalf("run %d differs:\n%+v\nfirst:\n%+v", i, got, first)
		}
	}
}
