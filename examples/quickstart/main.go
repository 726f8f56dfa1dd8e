// Command quickstart plays the failover embodiments of the patent on a
// simulated data centre (drivers/fake): a same-hardware spare takes over,
// a two-node logical server is replaced by two standbys composed into one,
// a policy lets a bigger server take over, and a high-priority server with
// no spare takes a low-priority one whose workload moves on.
//
// For each it prints the failover ID, the plan in one line and why its
// spare won (what search would pick without it, and how many candidates
// each attribute ruled out), the timeline of the steps (step, target,
// start, duration, driver calls), what the spares hold now (volumes with
// their LUN numbers, zones, port VLANs), the outcome, the invariant check,
// and the server table before and after. Time is virtual (the fake's clock), so the output is the same
// on every run.
//
//	go run ./examples/quickstart                 # every scenario, one after another
//	go run ./examples/quickstart -scenario preempt
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
	"github.com/coldstandby/coldstandby/internal/report"
	"github.com/coldstandby/coldstandby/search"
)

func main() {
	scenario := flag.String("scenario", "all", "scenario to play: all, exact, recompose, relaxed or preempt")
	flag.Parse()
	if err := run(os.Stdout, *scenario); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// start is the virtual clock's origin.
var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// run builds the data centre and plays the scenarios.
func run(w io.Writer, which string) error {
	ctx := context.Background()
	clock := fake.NewClock(start)
	world, layout := fake.PatentExample(fake.WithClock(clock))

	// The Orchestrator's records: the patent's server management table,
	// plus how to reach each server (BMC, HBAs and their fabric, switch
	// ports). A real deployment fills them from its inventory.
	store := failover.NewMemStore()
	if _, err := store.Put(ctx, failovertest.Records(world)...); err != nil {
		return err
	}
	drivers := failovertest.Drivers(world)
	searchOpts := failovertest.SearchOptions(world, layout)
	o, err := failover.New(store, drivers,
		failover.WithClock(demoClock{clock}),
		failover.WithSearchOptions(searchOpts...),
		failover.WithTimeouts(failover.Timeouts{Shutdown: 30 * time.Second, Poll: 5 * time.Second}),
	)
	if err != nil {
		return err
	}

	var scenarios []fake.Scenario
	for _, sc := range layout.Scenarios {
		if which == "all" || which == sc.Name {
			scenarios = append(scenarios, sc)
		}
	}
	if len(scenarios) == 0 {
		return fmt.Errorf("unknown scenario %q (want all, exact, recompose, relaxed or preempt)", which)
	}
	// srv04, the healthy half of the failing logical server, shuts down
	// at once when asked; its partner hangs and is forced off after the
	// shutdown timeout.
	_ = world.SetShutdownDelay("srv04", 0)

	for i, sc := range scenarios {
		if i > 0 {
			fmt.Fprintln(w)
		}
		before := table(ctx, store, world)
		fmt.Fprintf(w, "== %s: %s\n", sc.Name, sc.Description)
		// One server fails; a logical server is replaced as a whole.
		if err := world.FailServer(sc.Fail[0], sc.Fault); err != nil {
			return err
		}
		fmt.Fprintf(w, "fault: %s %s\n", sc.Fail[0], sc.Fault)
		recs, err := store.List(ctx)
		if err != nil {
			return err
		}
		why, err := report.Explain(recs, search.ServerID(sc.Fail[0]), searchOpts...)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.Name, err)
		}
		res, err := o.HandleFault(ctx, bmc.Fault{Server: sc.Fail[0], Type: sc.Fault, Time: clock.Now()})
		if err != nil {
			return fmt.Errorf("%s: %w", sc.Name, err)
		}
		fmt.Fprintf(w, "failover %s\n", res.ID)
		fmt.Fprintf(w, "plan:  %s\n", res.Plan)
		report.WriteWhy(w, why)
		fmt.Fprintln(w, "timeline:")
		report.WriteTimeline(w, report.Timeline(res))
		fmt.Fprintln(w, "now:")
		report.WriteSpares(w, report.Spares(ctx, drivers, store, res.Plan))
		fmt.Fprintf(w, "outcome: %s in %s\n", res.Outcome, res.Duration)
		if err := world.CheckInvariants(nil); err != nil {
			return err
		}
		fmt.Fprintln(w, "invariants: I1 fence first, I2 one writer, I3 nothing lost: hold")
		fmt.Fprintln(w, "servers (before -> after):")
		diff(w, before, table(ctx, store, world))
	}
	return nil
}

// demoClock is the fake's virtual clock, except that each sleep first
// yields for a few real milliseconds: steps that run in parallel with a
// waiting one (the healthy member's fencing while its partner's shutdown
// times out) finish before virtual time moves on, so the timeline reads
// the same on every run.
type demoClock struct{ *fake.Clock }

func (c demoClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(10 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	return c.Clock.Sleep(ctx, d)
}

// row is one server as an operator sees it.
type row struct {
	id, state, workload, power, boot string
}

func table(ctx context.Context, st failover.Store, w *fake.World) []row {
	recs, _ := st.List(ctx)
	out := make([]row, len(recs))
	for i, r := range recs {
		s, _ := w.Server(string(r.ID))
		wl := "-"
		if r.Workload != "" {
			wl = fmt.Sprintf("%s(%d)", r.Workload, r.Priority)
		}
		state := string(r.State)
		if r.Partition != "" {
			state += "/" + string(r.Partition)
		}
		boot := string(s.BootVolume)
		if boot == "" {
			boot = "-"
		}
		out[i] = row{string(r.ID), state, wl, string(s.Power), boot}
	}
	return out
}

func diff(w io.Writer, before, after []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  \tserver\tstate\tworkload\tpower\tbooted from\t\tstate\tworkload\tpower\tbooted from\t")
	for i, b := range before {
		a := after[i]
		mark := " "
		if a != b {
			mark = "*"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t->\t%s\t%s\t%s\t%s\t\n", mark, b.id, b.state, b.workload, b.power, b.boot, a.state, a.workload, a.power, a.boot)
	}
	tw.Flush()
}
