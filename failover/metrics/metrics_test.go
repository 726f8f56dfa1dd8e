package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
	"github.com/coldstandby/coldstandby/failover/metrics"
	"github.com/coldstandby/coldstandby/internal/promtest"
	"github.com/coldstandby/coldstandby/search"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// rig is the patent's data centre on the fakes with a collector
// observing its Orchestrator.
type rig struct {
	world *fake.World
	store *failover.MemStore
	o     *failover.Orchestrator
	c     *metrics.Collector
	reg   *prometheus.Registry
}

func newRig(t *testing.T) *rig {
	t.Helper()
	clock := fake.NewClock(t0)
	world, layout := fake.PatentExample(fake.WithClock(clock))
	store := failover.NewMemStore()
	if _, err := store.Put(context.Background(), failovertest.Records(world)...); err != nil {
		t.Fatal(err)
	}
	c := metrics.New(metrics.WithBuildInfo("v1.2.3", "abc"))
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	o, err := failover.New(store, failovertest.Drivers(world), failover.WithClock(clock),
		failover.WithSearchOptions(failovertest.SearchOptions(world, layout)...), failover.WithObserver(c.Observe))
	if err != nil {
		t.Fatal(err)
	}
	return &rig{world: world, store: store, o: o, c: c, reg: reg}
}

func (r *rig) fault(t *testing.T, server string, ft bmc.FaultType) failover.Result {
	t.Helper()
	if err := r.world.FailServer(server, ft); err != nil {
		t.Fatal(err)
	}
	res, _ := r.o.HandleFault(context.Background(), bmc.Fault{Server: server, Type: ft})
	r.c.ObserveResult(res)
	return res
}

// value reads one sample (see promtest.Value); labels as a map.
func value(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	var pairs []string
	for k, v := range labels {
		pairs = append(pairs, k, v)
	}
	return promtest.Value(t, reg, name, pairs...)
}

func TestDoneFailoverIsCountedByOutcomePlanKindAndSteps(t *testing.T) {
	r := newRig(t)
	res := r.fault(t, "srv01", bmc.FaultPowerSupply)
	if res.Outcome != failover.OutcomeDone {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"coldstandby_faults_total", map[string]string{"type": "power-supply", "action": "now"}, 1},
		{"coldstandby_failovers_total", map[string]string{"outcome": "done", "plan_kind": "exact"}, 1},
		{"coldstandby_failover_duration_seconds", map[string]string{"plan_kind": "exact"}, 1},
		{"coldstandby_step_duration_seconds", map[string]string{"step": "fence", "driver": "bmc"}, 1},
		{"coldstandby_step_duration_seconds", map[string]string{"step": "storage", "driver": "storage"}, 1},
		{"coldstandby_step_duration_seconds", map[string]string{"step": "boot", "driver": "bmc"}, 1},
		{"coldstandby_failovers_in_flight", nil, 0},
		{"coldstandby_fencing_failures_total", nil, 0},
		{"coldstandby_build_info", map[string]string{"version": "v1.2.3", "revision": "abc"}, 1},
	} {
		if got := value(t, r.reg, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

func TestFencingFailureCountsTheFailureTheStepErrorAndTheOutcome(t *testing.T) {
	r := newRig(t)
	if err := r.world.RefuseShutdown("srv01", true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.world.Inject(fake.Fault{Driver: fake.DriverBMC, Method: "PowerOff", Target: "srv01", Err: bmc.ErrUnsupported}); err != nil {
		t.Fatal(err)
	}
	res := r.fault(t, "srv01", bmc.FaultProcessor)
	if res.Outcome != failover.OutcomeFencingFailed {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	if got := value(t, r.reg, "coldstandby_fencing_failures_total", nil); got != 1 {
		t.Errorf("fencing failures = %v, want 1", got)
	}
	if got := value(t, r.reg, "coldstandby_failovers_total", map[string]string{"outcome": "fencing-failed", "plan_kind": "none"}); got != 1 {
		t.Errorf("failovers_total{fencing-failed,none} = %v, want 1", got)
	}
	if got := value(t, r.reg, "coldstandby_step_errors_total", map[string]string{"step": "fence", "driver": "bmc"}); got != 1 {
		t.Errorf("step_errors_total{fence,bmc} = %v, want 1", got)
	}
	if got := value(t, r.reg, "coldstandby_failovers_in_flight", nil); got != 0 {
		t.Errorf("in flight after the end = %v", got)
	}
}

func TestReportedFaultCountsAsAFaultAndNoFailover(t *testing.T) {
	r := newRig(t)
	res := r.fault(t, "srv01", bmc.FaultCorrectable)
	if res.Outcome != failover.OutcomeReported {
		t.Fatalf("outcome %s", res.Outcome)
	}
	if got := value(t, r.reg, "coldstandby_faults_total", map[string]string{"type": "correctable", "action": "report"}); got != 1 {
		t.Errorf("faults_total{correctable,report} = %v", got)
	}
	if n := testutil.CollectAndCount(r.c, "coldstandby_failovers_total"); n != 0 {
		t.Errorf("%d failovers_total series after a reported fault", n)
	}
}

func TestFaultWithoutServerCountsWithActionNone(t *testing.T) {
	c := metrics.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	c.ObserveResult(failover.Result{Fault: bmc.Fault{Type: "processor"}})
	if got := value(t, reg, "coldstandby_faults_total", map[string]string{"type": "processor", "action": "none"}); got != 1 {
		t.Errorf("faults_total{processor,none} = %v", got)
	}
}

func TestInFlightCountsRunningFailoversOnly(t *testing.T) {
	c := metrics.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	c.Observe(failover.Event{Kind: failover.EventFailoverStarted, Failover: "a", Time: t0})
	c.Observe(failover.Event{Kind: failover.EventStepStarted, Failover: "b", Step: "fence"}) // resumed by Recover
	if got := value(t, reg, "coldstandby_failovers_in_flight", nil); got != 2 {
		t.Fatalf("in flight = %v, want 2", got)
	}
	// A victim that could not be restarted is no end of its failover.
	c.Observe(failover.Event{Kind: failover.EventFailoverFailed, Failover: "a", Detail: "preemption victim could not be restarted"})
	c.Observe(failover.Event{Kind: failover.EventPlanChosen, Failover: "a", Plan: &search.Plan{Kind: search.Relaxed}})
	c.Observe(failover.Event{Kind: failover.EventFailoverFailed, Failover: "a", Detail: "failed", Time: t0.Add(90 * time.Second), Err: errors.New("x")})
	c.Observe(failover.Event{Kind: failover.EventFaultReported, Failover: "b"})
	if got := value(t, reg, "coldstandby_failovers_in_flight", nil); got != 0 {
		t.Errorf("in flight = %v, want 0", got)
	}
	if got := value(t, reg, "coldstandby_failovers_total", map[string]string{"outcome": "failed", "plan_kind": "relaxed"}); got != 1 {
		t.Errorf("failovers_total{failed,relaxed} = %v", got)
	}
	if got := value(t, reg, "coldstandby_failover_duration_seconds", map[string]string{"plan_kind": "relaxed"}); got != 1 {
		t.Errorf("duration samples = %v", got)
	}
}

func TestInventoryGaugesComeFromRecordsAndCoverage(t *testing.T) {
	r := newRig(t)
	if n := testutil.CollectAndCount(r.c, "coldstandby_servers"); n != 0 {
		t.Fatalf("%d servers series before SetInventory", n)
	}
	recs, _ := r.store.List(context.Background())
	cov, err := r.o.Coverage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r.c.SetInventory(recs, cov)
	r.c.SetLeader(true)
	want := map[search.State]float64{}
	for _, x := range recs {
		want[x.State]++
	}
	for _, s := range []search.State{search.Active, search.Standby, search.Failed, search.Reserved, search.Maintenance} {
		if got := value(t, r.reg, "coldstandby_servers", map[string]string{"state": string(s)}); got != want[s] {
			t.Errorf("servers{%s} = %v, want %v", s, got, want[s])
		}
	}
	var covered, uncovered, absorb float64
	for _, s := range cov.Servers {
		if s.Plan.Kind != 0 {
			covered++
		} else {
			uncovered++
		}
	}
	for _, cl := range cov.Classes {
		absorb += float64(cl.Absorb)
	}
	if got := value(t, r.reg, "coldstandby_protected_servers", map[string]string{"covered": "true"}); got != covered || covered == 0 {
		t.Errorf("protected{true} = %v, want %v (> 0)", got, covered)
	}
	if got := value(t, r.reg, "coldstandby_protected_servers", map[string]string{"covered": "false"}); got != uncovered {
		t.Errorf("protected{false} = %v, want %v", got, uncovered)
	}
	var sum float64
	mfs, _ := r.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "coldstandby_spares_available" {
			for _, m := range mf.GetMetric() {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	if sum != absorb {
		t.Errorf("spares_available sums to %v, want %v", sum, absorb)
	}
	if got := value(t, r.reg, "coldstandby_is_leader", nil); got != 1 {
		t.Errorf("is_leader = %v", got)
	}
}

func TestClassNameLabelsSpares(t *testing.T) {
	c := metrics.New(metrics.WithClassName(func(h search.Hardware) string { return "class-" + h.Chipset }))
	c.SetInventory(nil, search.Coverage{Classes: []search.ClassCoverage{{Hardware: search.Hardware{Chipset: "C602"}, Absorb: 2}}})
	want := `
# HELP coldstandby_spares_available Per hardware class: how many of its active servers the standby pool can restore at once.
# TYPE coldstandby_spares_available gauge
coldstandby_spares_available{class="class-C602"} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "coldstandby_spares_available"); err != nil {
		t.Error(err)
	}
}

// Every metric follows the Prometheus naming guide (promlint).
func TestMetricsPassPromlint(t *testing.T) {
	r := newRig(t)
	r.fault(t, "srv01", bmc.FaultPowerSupply)
	recs, _ := r.store.List(context.Background())
	cov, _ := r.o.Coverage(context.Background())
	r.c.SetInventory(recs, cov)
	problems, err := testutil.CollectAndLint(r.c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestKindClassifiesErrorKinds(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("x: %w", failover.ErrNotLeader), "not-leader"},
		{fmt.Errorf("x: %w: %w", failover.ErrOutcomeUnknown, context.Canceled), "outcome-unknown"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("x: %w", context.Canceled), "canceled"},
		{fmt.Errorf("x: %w", failover.ErrTransient), "transient"},
		{fmt.Errorf("x: %w", failover.ErrConflict), "conflict"},
		{fmt.Errorf("x: %w", failover.ErrNotFound), "not-found"},
		{fmt.Errorf("x: %w", failover.ErrUnsupported), "unsupported"},
		{fmt.Errorf("x: %w", failover.ErrInvalid), "invalid"},
		{fmt.Errorf("x: %w", failover.ErrFencingFailed), "fencing-failed"},
		{errors.New("boom"), "other"},
	} {
		if got := metrics.Kind(c.err); got != c.want {
			t.Errorf("Kind(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}
