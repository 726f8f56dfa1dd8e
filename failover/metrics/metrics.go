// Package metrics is a Prometheus collector for coldstandby: counters and
// histograms fed by the Orchestrator's events, and gauges of the server
// inventory and its coverage. Register it on a registry of your own
// (prometheus.NewRegistry), never the global one, so that a program may
// run several and tests may read each alone:
//
//	c := metrics.New()
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(c)
//	o, err := failover.New(store, drivers, failover.WithObserver(c.Observe))
//	res, err := o.HandleFault(ctx, f)
//	c.ObserveResult(res)                 // coldstandby_faults_total
//	c.SetInventory(records, coverage)    // after failovers and periodically
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Who imports it: programs that embed the Orchestrator and export
// metrics; the coldstandby daemon (package daemon) does. It imports
// failover, search and the Prometheus client, and no driver.
//
// # Metrics
//
// Counters and histograms (from events and results):
//
//	coldstandby_faults_total{type,action}
//	    Faults handled, by fault type ("processor", "memory", ...) and the
//	    fault-action table's action ("now", "after-delay", "report"; "none"
//	    for a fault refused before the table applied, such as one without
//	    a server). Counted by ObserveResult.
//	coldstandby_failovers_total{outcome,plan_kind}
//	    Failovers that ended, by outcome ("done", "no-spare", "failed",
//	    "fencing-failed", "interrupted") and the kind of the last plan
//	    reserved ("exact", "recomposed", "relaxed", "preempted"; "none"
//	    when none was). An interrupted failover that Recover finishes later
//	    counts again with its final outcome.
//	coldstandby_failover_duration_seconds{plan_kind}
//	    Histogram of how long failovers took, by the Orchestrator's clock:
//	    from start to commit for done ones (as Recover saw it for a
//	    recovered one), from start to end for the others this collector
//	    saw start.
//	coldstandby_step_duration_seconds{step,driver}
//	    Histogram of each finished step ("fence", "storage", "zone", "vlan",
//	    "boot", "commit", "undo:storage", ...) by the driver that ran it
//	    ("bmc", "storage", "zoner", "vlan", "partition", "store"),
//	    retries included.
//	coldstandby_step_errors_total{step,driver,kind}
//	    Steps that failed, by error kind ("transient", "outcome-unknown",
//	    "conflict", "not-found", "unsupported", "invalid", "timeout",
//	    "canceled", "not-leader", "fencing-failed", "other").
//	coldstandby_fencing_failures_total
//	    Servers that could not be confirmed off (their disks stayed where
//	    they were: invariant I1).
//
// Gauges:
//
//	coldstandby_failovers_in_flight
//	    Failovers this process is running now (started or resumed, not
//	    ended).
//	coldstandby_servers{state}
//	    Servers by state ("active", "standby", "failed", "reserved",
//	    "maintenance"), every state always present. From SetInventory.
//	coldstandby_protected_servers{covered}
//	    Active servers that a spare would replace if they failed now
//	    (covered="true") and those that none would (covered="false"). From
//	    SetInventory.
//	coldstandby_spares_available{class}
//	    Per hardware class with active servers: how many of its active
//	    servers the standby pool can restore at once
//	    (search.ClassCoverage.Absorb). The class is named by WithClassName.
//	coldstandby_is_leader
//	    1 while this process leads (acts on faults), 0 otherwise.
//	coldstandby_build_info{version,revision,goversion}
//	    Always 1; the labels say which build runs.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

// Metric names.
const (
	namespace = "coldstandby"
)

// Histogram buckets, in seconds: failovers take seconds to tens of
// minutes (a memory dump, a slow boot); steps milliseconds to minutes.
var (
	failoverBuckets = []float64{1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600}
	stepBuckets     = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
)

// states are the server states, each always exported.
var states = []search.State{search.Active, search.Standby, search.Failed, search.Reserved, search.Maintenance}

// Collector is a prometheus.Collector of coldstandby's metrics. It is safe
// for concurrent use: Observe may be called from several goroutines at
// once (the Orchestrator does).
type Collector struct {
	className func(search.Hardware) string
	buildInfo prometheus.Metric

	faults        *prometheus.CounterVec
	failovers     *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	stepDuration  *prometheus.HistogramVec
	stepErrors    *prometheus.CounterVec
	fencingFailed prometheus.Counter

	descInFlight, descServers, descProtected, descSpares, descLeader *prometheus.Desc

	mu       sync.Mutex
	running  map[string]*flight // failovers seen running, by ID
	leader   bool
	invKnown bool
	byState  map[search.State]int
	covered  [2]int // [false, true]
	spares   map[string]int
}

// flight is what the collector remembers of a running failover.
type flight struct {
	started  time.Time // zero when it was not seen starting (resumed)
	planKind string
}

// Option configures New.
type Option func(*Collector)

// WithClassName names hardware classes in coldstandby_spares_available
// (the daemon uses the site file's class names). The default writes the
// CPU model, clock, memory and chipset.
func WithClassName(fn func(search.Hardware) string) Option {
	return func(c *Collector) {
		if fn != nil {
			c.className = fn
		}
	}
}

// WithBuildInfo sets coldstandby_build_info's labels (default: from the
// binary's build information).
func WithBuildInfo(version, revision string) Option {
	return func(c *Collector) { c.buildInfo = buildInfo(version, revision) }
}

// DefaultClassName is the default hardware class label.
func DefaultClassName(h search.Hardware) string {
	return fmt.Sprintf("%s %dMHz %dGiB %s", h.CPUModel, h.CPUMHz, h.MemoryMiB/1024, h.Chipset)
}

// New returns a Collector with every counter at zero.
func New(opts ...Option) *Collector {
	c := &Collector{
		className: DefaultClassName,
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "faults_total",
			Help: "Faults handled, by fault type and the fault-action table's action.",
		}, []string{"type", "action"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "failovers_total",
			Help: "Failovers that ended, by outcome and the kind of the last plan reserved.",
		}, []string{"outcome", "plan_kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "failover_duration_seconds",
			Help:    "How long failovers took, by plan kind (Orchestrator clock).",
			Buckets: failoverBuckets,
		}, []string{"plan_kind"}),
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "step_duration_seconds",
			Help:    "How long each failover step took, retries included, by step and driver.",
			Buckets: stepBuckets,
		}, []string{"step", "driver"}),
		stepErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "step_errors_total",
			Help: "Failover steps that failed, by step, driver and error kind.",
		}, []string{"step", "driver", "kind"}),
		fencingFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "fencing_failures_total",
			Help: "Servers that could not be confirmed off; their disks stayed where they were.",
		}),
		descInFlight: prometheus.NewDesc(namespace+"_failovers_in_flight",
			"Failovers this process is running now.", nil, nil),
		descServers: prometheus.NewDesc(namespace+"_servers",
			"Servers by state.", []string{"state"}, nil),
		descProtected: prometheus.NewDesc(namespace+"_protected_servers",
			"Active servers a spare would replace now (covered=true) or none would (covered=false).", []string{"covered"}, nil),
		descSpares: prometheus.NewDesc(namespace+"_spares_available",
			"Per hardware class: how many of its active servers the standby pool can restore at once.", []string{"class"}, nil),
		descLeader: prometheus.NewDesc(namespace+"_is_leader",
			"1 while this process leads and acts on faults.", nil, nil),
		running: map[string]*flight{},
		byState: map[search.State]int{},
		spares:  map[string]int{},
	}
	for _, o := range opts {
		o(c)
	}
	if c.buildInfo == nil {
		c.buildInfo = buildInfo("", "")
	}
	return c
}

// buildInfo is the build_info sample, labels from the binary unless given.
func buildInfo(version, revision string) prometheus.Metric {
	goVersion := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if version == "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && revision == "" {
				revision = s.Value
			}
		}
	}
	if version == "" {
		version = "(devel)"
	}
	if revision == "" {
		revision = "unknown"
	}
	d := prometheus.NewDesc(namespace+"_build_info", "Always 1; the labels say which build runs.",
		nil, prometheus.Labels{"version": version, "revision": revision, "goversion": goVersion})
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, 1)
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	c.faults.Describe(ch)
	c.failovers.Describe(ch)
	c.duration.Describe(ch)
	c.stepDuration.Describe(ch)
	c.stepErrors.Describe(ch)
	c.fencingFailed.Describe(ch)
	for _, d := range []*prometheus.Desc{c.descInFlight, c.descServers, c.descProtected, c.descSpares, c.descLeader} {
		ch <- d
	}
	ch <- c.buildInfo.Desc()
}

// Collect implements prometheus.Collector. It does no I/O: the inventory
// gauges show what SetInventory was last given (absent before the first
// call).
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.faults.Collect(ch)
	c.failovers.Collect(ch)
	c.duration.Collect(ch)
	c.stepDuration.Collect(ch)
	c.stepErrors.Collect(ch)
	c.fencingFailed.Collect(ch)
	ch <- c.buildInfo
	c.mu.Lock()
	defer c.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(c.descInFlight, prometheus.GaugeValue, float64(len(c.running)))
	leader := 0.0
	if c.leader {
		leader = 1
	}
	ch <- prometheus.MustNewConstMetric(c.descLeader, prometheus.GaugeValue, leader)
	if !c.invKnown {
		return
	}
	for _, s := range states {
		ch <- prometheus.MustNewConstMetric(c.descServers, prometheus.GaugeValue, float64(c.byState[s]), string(s))
	}
	ch <- prometheus.MustNewConstMetric(c.descProtected, prometheus.GaugeValue, float64(c.covered[0]), "false")
	ch <- prometheus.MustNewConstMetric(c.descProtected, prometheus.GaugeValue, float64(c.covered[1]), "true")
	for class, n := range c.spares {
		ch <- prometheus.MustNewConstMetric(c.descSpares, prometheus.GaugeValue, float64(n), class)
	}
}

// SetLeader sets coldstandby_is_leader.
func (c *Collector) SetLeader(leading bool) {
	c.mu.Lock()
	c.leader = leading
	c.mu.Unlock()
}

// SetInventory sets the inventory gauges from the store's records and
// the coverage the Orchestrator computed from them (Orchestrator.Coverage).
func (c *Collector) SetInventory(recs []failover.Record, cov search.Coverage) {
	byState := map[search.State]int{}
	for _, r := range recs {
		byState[r.State]++
	}
	var covered [2]int
	for _, s := range cov.Servers {
		if s.Plan.Kind != 0 {
			covered[1]++
		} else {
			covered[0]++
		}
	}
	spares := map[string]int{}
	for _, cl := range cov.Classes {
		spares[c.className(cl.Hardware)] += cl.Absorb
	}
	c.mu.Lock()
	c.invKnown, c.byState, c.covered, c.spares = true, byState, covered, spares
	c.mu.Unlock()
}

// ObserveResult counts the fault of a Result that HandleFault or
// HandleFaults returned, in coldstandby_faults_total. (Results of Recover
// and Failback are not faults: do not pass them.)
func (c *Collector) ObserveResult(res failover.Result) {
	action := "none"
	if res.Action != 0 {
		action = res.Action.String()
	}
	typ := string(res.Fault.Type)
	if typ == "" {
		typ = "unknown"
	}
	c.faults.WithLabelValues(typ, action).Inc()
}

// Observe takes one Orchestrator event: pass it to failover.WithObserver.
// It is quick and safe for concurrent use.
func (c *Collector) Observe(e failover.Event) {
	switch e.Kind {
	case failover.EventFailoverStarted, failover.EventFailbackStarted:
		c.mu.Lock()
		c.running[e.Failover] = &flight{started: e.Time}
		c.mu.Unlock()
	case failover.EventPlanChosen:
		c.mu.Lock()
		f := c.flightLocked(e.Failover)
		if e.Plan != nil {
			f.planKind = e.Plan.Kind.String()
		}
		c.mu.Unlock()
	case failover.EventStepStarted, failover.EventFenced, failover.EventRollback:
		c.mu.Lock()
		c.flightLocked(e.Failover)
		c.mu.Unlock()
	case failover.EventStepFinished:
		c.stepDuration.WithLabelValues(e.Step, e.Driver).Observe(e.Duration.Seconds())
		if e.Err != nil {
			c.stepErrors.WithLabelValues(e.Step, e.Driver, Kind(e.Err)).Inc()
		}
	case failover.EventFencingFailed:
		c.fencingFailed.Inc()
	case failover.EventFailoverDone:
		kind := planKind(e.Plan)
		c.failovers.WithLabelValues(string(failover.OutcomeDone), kind).Inc()
		c.duration.WithLabelValues(kind).Observe(e.Duration.Seconds())
		c.end(e.Failover)
	case failover.EventNoSpare:
		c.ended(e, string(failover.OutcomeNoSpare))
	case failover.EventFailoverFailed:
		outcome := e.Detail
		switch failover.Outcome(outcome) {
		case failover.OutcomeFailed, failover.OutcomeInterrupted, failover.OutcomeFencingFailed:
		default:
			// A preemption victim that could not be restarted, reported
			// while its failover goes on: not an end.
			return
		}
		c.ended(e, outcome)
	case failover.EventFaultReported:
		if e.Failover != "" {
			// Recover closed a journal as reported (the table changed).
			c.end(e.Failover)
		}
	}
}

// flightLocked returns the running failover id, adding it (as resumed)
// when unseen. c.mu is held.
func (c *Collector) flightLocked(id string) *flight {
	if id == "" {
		return &flight{}
	}
	f := c.running[id]
	if f == nil {
		f = &flight{}
		c.running[id] = f
	}
	return f
}

// ended counts a failover that ended without a commit.
func (c *Collector) ended(e failover.Event, outcome string) {
	c.mu.Lock()
	f := c.running[e.Failover]
	c.mu.Unlock()
	kind := planKind(e.Plan)
	if f != nil && f.planKind != "" && e.Plan == nil {
		kind = f.planKind
	}
	c.failovers.WithLabelValues(outcome, kind).Inc()
	if f != nil && !f.started.IsZero() && !e.Time.Before(f.started) {
		c.duration.WithLabelValues(kind).Observe(e.Time.Sub(f.started).Seconds())
	}
	c.end(e.Failover)
}

func (c *Collector) end(id string) {
	c.mu.Lock()
	delete(c.running, id)
	c.mu.Unlock()
}

func planKind(p *search.Plan) string {
	if p == nil {
		return search.Kind(0).String()
	}
	return p.Kind.String()
}

// Kind classifies an error for coldstandby_step_errors_total by the
// shared error kinds (errors.Is), the first that matches in this order:
// not-leader, outcome-unknown, timeout (a deadline), canceled, transient,
// conflict, not-found, unsupported, invalid, fencing-failed; "other"
// otherwise.
func Kind(err error) string {
	for _, k := range []struct {
		err  error
		name string
	}{
		{failover.ErrNotLeader, "not-leader"},
		{failover.ErrOutcomeUnknown, "outcome-unknown"},
		{context.DeadlineExceeded, "timeout"},
		{context.Canceled, "canceled"},
		{failover.ErrTransient, "transient"},
		{failover.ErrConflict, "conflict"},
		{failover.ErrNotFound, "not-found"},
		{failover.ErrUnsupported, "unsupported"},
		{failover.ErrInvalid, "invalid"},
		{failover.ErrFencingFailed, "fencing-failed"},
	} {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "other"
}
