package metrics_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
	"github.com/coldstandby/coldstandby/failover/metrics"
	"github.com/coldstandby/coldstandby/internal/promtest"
)

// The collector on a registry of the program's own, fed by the
// Orchestrator's events and its results.
func ExampleCollector() {
	ctx := context.Background()
	clock := fake.NewClock(t0)
	world, layout := fake.PatentExample(fake.WithClock(clock))
	store := failover.NewMemStore()
	_, _ = store.Put(ctx, failovertest.Records(world)...)

	c := metrics.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	o, _ := failover.New(store, failovertest.Drivers(world), failover.WithClock(clock),
		failover.WithSearchOptions(failovertest.SearchOptions(world, layout)...), failover.WithObserver(c.Observe))

	res, _ := o.HandleFault(ctx, bmc.Fault{Server: "srv01", Type: bmc.FaultPowerSupply})
	c.ObserveResult(res)
	recs, _ := store.List(ctx)
	cov, _ := o.Coverage(ctx)
	c.SetInventory(recs, cov)

	get := func(name string, labels ...string) float64 { v, _ := promtest.Get(reg, name, labels...); return v }
	fmt.Println("failovers done, exact:", get("coldstandby_failovers_total", "outcome", "done", "plan_kind", "exact"))
	fmt.Println("faults power-supply, now:", get("coldstandby_faults_total", "type", "power-supply", "action", "now"))
	fmt.Println("failed servers:", get("coldstandby_servers", "state", "failed"))
	// Output:
	// failovers done, exact: 1
	// faults power-supply, now: 1
	// failed servers: 1
}

func BenchmarkObserveStepFinished(b *testing.B) {
	c := metrics.New()
	e := failover.Event{Kind: failover.EventStepFinished, Failover: "f1", Step: "storage", Driver: "storage", Duration: 1500 * time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		c.Observe(e)
	}
}
