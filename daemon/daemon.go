package daemon

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/metrics"
	"github.com/coldstandby/coldstandby/failover/site"
	"github.com/coldstandby/coldstandby/search"
)

// Elector elects one leader among daemons that share a store (etcd);
// drivers/etcdstore.Elector implements it. Without one, a daemon leads
// for ever (a bbolt store, which one process locks).
type Elector interface {
	// RunTerm blocks until this instance leads or ctx ends, then calls
	// lead with the store fenced to this term (failover.LeaderChecker)
	// and a context that ends as soon as leadership is lost or ctx ends.
	// It returns once lead has returned, having resigned if it still
	// led, with lead's error, or an error when leadership was lost, ctx
	// ended or no campaign could start.
	RunTerm(ctx context.Context, lead func(ctx context.Context, st failover.Store) error) error
	// Leader names the instance that leads now ("" when none does). It
	// may do I/O and must honour ctx.
	Leader(ctx context.Context) (string, error)
}

// Config configures a Daemon. SitePath, Registry and Store are required;
// the rest have defaults.
type Config struct {
	// SitePath is the site file. New loads it; Reload reads it again.
	SitePath string
	// Registry builds the site's drivers (drivers/builtin.Registry()).
	Registry *site.Registry
	// BuildOptions are passed to site.Build (site.WithStore is added).
	BuildOptions []site.BuildOption
	// Store is the site's store, opened by the caller (site.OpenStore)
	// and closed by the caller after Run returns. It must be unfenced:
	// the daemon reads through it, and acts through it when there is no
	// Elector (with one, it acts through the store RunTerm gives).
	Store failover.Store
	// Elector, when set, elects the daemon that acts among those
	// sharing Store; the others serve reads and name the leader.
	Elector Elector
	// Name names this instance in the API and the logs (default: the
	// host name).
	Name string

	// Token is the bearer token that mutating calls need, or TokenRef a
	// reference to it in the site's credential syntax ("env:VAR" or
	// "file:PATH", a path relative to the site file). At least 16 bytes.
	// Without either, mutating calls are refused (403).
	Token, TokenRef string
	// EventSecret (or EventSecretRef, as TokenRef) turns on the Redfish
	// event receiver at POST /events/redfish: BMCs subscribed with this
	// secret in the EventSecretHeader header (default "X-Event-Secret")
	// push their events there. At least 16 bytes.
	EventSecret, EventSecretRef string
	EventSecretHeader           string

	// Logger receives the daemon's structured log (default: discard).
	Logger *slog.Logger
	// Version is the build's version, shown in the API and metrics.
	Version string

	// WatchInterval is how often the watcher polls each BMC's event log
	// (default bmc.DefaultWatchInterval); WatchOptions are added to the
	// watcher's.
	WatchInterval time.Duration
	WatchOptions  []bmc.WatchOption
	// RecoverInterval is how often the leader runs Recover again, to
	// finish failovers that a failed rollback or a crashed peer left
	// open (default 1 min).
	RecoverInterval time.Duration
	// RefreshInterval is how often the inventory gauges are read again
	// from the store (default 15 s; also after every failover).
	RefreshInterval time.Duration
	// PageRefresh is how often the status page reloads its data
	// (default 5 s).
	PageRefresh time.Duration
	// AcceptWait bounds how long POST /v1/faults waits for the failover
	// ID before answering 202 without it (default 3 s).
	AcceptWait time.Duration
	// DrainTimeout bounds how long a stopping daemon waits for its
	// failovers to reach a journaled step (default 30 s); past it, what
	// still runs is left to the next Recover, as after a crash.
	DrainTimeout time.Duration
	// Options are added to the Orchestrator's (after the site's).
	Options []failover.Option
}

func (c *Config) defaults() {
	c.WatchInterval = cmp.Or(c.WatchInterval, bmc.DefaultWatchInterval)
	c.RecoverInterval = cmp.Or(c.RecoverInterval, time.Minute)
	c.RefreshInterval = cmp.Or(c.RefreshInterval, 15*time.Second)
	c.PageRefresh = cmp.Or(c.PageRefresh, 5*time.Second)
	c.AcceptWait = cmp.Or(c.AcceptWait, 3*time.Second)
	c.DrainTimeout = cmp.Or(c.DrainTimeout, 30*time.Second)
	c.EventSecretHeader = cmp.Or(c.EventSecretHeader, "X-Event-Secret")
	c.Version = cmp.Or(c.Version, "(devel)")
	if c.Name == "" {
		c.Name, _ = os.Hostname()
		c.Name = cmp.Or(c.Name, "coldstandby")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Daemon is coldstandby's service: see the package documentation. Build
// it with New, serve Handler over HTTP, and call Run.
type Daemon struct {
	cfg     Config
	log     *slog.Logger
	store   failover.Store
	token   []byte
	metrics *metrics.Collector
	reg     *prometheus.Registry
	intake  *intake
	events  *eventReceiver
	handler http.Handler
	history *history
	kick    chan struct{} // asks for an inventory refresh

	reloadMu sync.Mutex // one reload at a time

	mu       sync.Mutex
	site     *site.Site
	parts    *site.Parts
	reader   *failover.Orchestrator // over the unfenced store: coverage, dry runs
	term     *term                  // the current term while this daemon leads
	draining bool
	running  bool
	old      []*generation // replaced generations still running failovers
}

// generation is an acting Orchestrator over one build of the site; a
// reload makes a new one while the old one finishes what it runs.
type generation struct {
	o     *failover.Orchestrator
	parts *site.Parts
	busy  sync.WaitGroup
	calls atomic.Int64
}

// term is one term of leadership.
type term struct {
	ctx       context.Context
	store     failover.Store // fenced, when elected
	gen       *generation
	watcher   *bmc.Watcher
	wcancel   context.CancelFunc
	wdone     chan struct{}
	recovered chan struct{} // closed once the first Recover returned
}

// New loads and validates the site file, applies it to an empty store
// (as the coldstandby command does), builds its drivers and returns a
// Daemon that does not act yet (Run does). Errors wrap failover.ErrInvalid
// for a bad configuration or site file (a *site.Error lists the site's
// problems with their lines), and the store's or a driver's errors.
func New(ctx context.Context, cfg Config) (*Daemon, error) {
	if cfg.SitePath == "" || cfg.Registry == nil || cfg.Store == nil {
		return nil, fmt.Errorf("daemon: New: SitePath, Registry and Store are required: %w", failover.ErrInvalid)
	}
	if cfg.Token != "" && cfg.TokenRef != "" || cfg.EventSecret != "" && cfg.EventSecretRef != "" {
		return nil, fmt.Errorf("daemon: New: give a token or secret, or a reference to it, not both: %w", failover.ErrInvalid)
	}
	cfg.defaults()
	s, err := site.Load(cfg.SitePath)
	if err != nil {
		return nil, err
	}
	if err := ensureApplied(ctx, s, cfg.Store, cfg.Logger); err != nil {
		return nil, err
	}
	parts, err := build(ctx, s, cfg)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Daemon, error) {
		_ = parts.Close()
		return nil, err
	}
	reader, err := parts.Orchestrator(cfg.Options...)
	if err != nil {
		return fail(err)
	}
	token, err := secret(parts, cfg.Token, cfg.TokenRef, "token")
	if err != nil {
		return fail(err)
	}
	evSecret, err := secret(parts, cfg.EventSecret, cfg.EventSecretRef, "event secret")
	if err != nil {
		return fail(err)
	}
	d := &Daemon{
		cfg:     cfg,
		log:     cfg.Logger,
		store:   cfg.Store,
		token:   []byte(token),
		site:    s,
		parts:   parts,
		reader:  reader,
		history: newHistory(cfg.Store),
		kick:    make(chan struct{}, 1),
	}
	d.metrics = metrics.New(metrics.WithClassName(d.className), metrics.WithBuildInfo(cfg.Version, ""))
	d.reg = prometheus.NewRegistry()
	d.reg.MustRegister(d.metrics, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d.intake = newIntake(d)
	if evSecret != "" {
		d.events, err = newEventReceiver(d, cfg.EventSecretHeader, evSecret)
		if err != nil {
			return fail(err)
		}
	}
	d.handler = d.routes()
	d.refreshInventory(ctx)
	return d, nil
}

// secret returns a token or secret given literally or by reference.
func secret(p *site.Parts, literal, ref, what string) (string, error) {
	v := literal
	if ref != "" {
		c, err := site.ParseCredentialRef(ref)
		if err != nil {
			return "", fmt.Errorf("daemon: %s: %w", what, err)
		}
		if _, v, err = p.Env().Secret(c); err != nil {
			return "", fmt.Errorf("daemon: %s: %w", what, err)
		}
	}
	if v != "" && len(v) < 16 {
		return "", fmt.Errorf("daemon: %s: %d bytes, want at least 16: %w", what, len(v), failover.ErrInvalid)
	}
	return v, nil
}

// ensureApplied applies the site to a store with no records; another
// daemon doing the same at once is no error.
func ensureApplied(ctx context.Context, s *site.Site, st failover.Store, log *slog.Logger) error {
	recs, err := st.List(ctx)
	if err != nil || len(recs) > 0 {
		return err
	}
	if _, err := s.Apply(ctx, st); err != nil {
		if errors.Is(err, failover.ErrConflict) {
			if recs, lerr := st.List(ctx); lerr == nil && len(recs) > 0 {
				return nil
			}
		}
		return err
	}
	log.Info("the store was empty: applied the site", "servers", len(s.Servers))
	return nil
}

func build(ctx context.Context, s *site.Site, cfg Config) (*site.Parts, error) {
	opts := append(slices.Clone(cfg.BuildOptions), site.WithStore(cfg.Store))
	return site.Build(ctx, s, cfg.Registry, opts...)
}

// className names a hardware class after the site's, when it has one.
func (d *Daemon) className(h search.Hardware) string {
	d.mu.Lock()
	s := d.site
	d.mu.Unlock()
	for _, c := range s.HardwareClasses {
		if c.CPUModel == h.CPUModel && c.CPUMHz == h.CPUMHz && c.MemoryMiB == h.MemoryMiB &&
			c.Chipset == h.Chipset && c.NICPorts == h.NICPorts && c.HBAPorts == h.HBAPorts {
			return c.Name
		}
	}
	return metrics.DefaultClassName(h)
}

// Close closes the drivers the daemon built (sessions with devices),
// after Run has returned. The store is the caller's to close.
func (d *Daemon) Close() error {
	d.mu.Lock()
	p := d.parts
	d.mu.Unlock()
	return p.Close()
}

// Handler returns the daemon's HTTP handler: the API, /metrics, the
// status page and, when configured, the Redfish event receiver.
func (d *Daemon) Handler() http.Handler { return d.handler }

// Registry returns the daemon's own Prometheus registry (served at
// /metrics).
func (d *Daemon) Registry() *prometheus.Registry { return d.reg }

// Metrics returns the daemon's collector.
func (d *Daemon) Metrics() *metrics.Collector { return d.metrics }

// Name returns this instance's name.
func (d *Daemon) Name() string { return d.cfg.Name }

// Run acts until ctx ends: without an Elector it leads at once; with one
// it campaigns, leads while elected, and campaigns again after a term.
// Leading means: build the Orchestrator on the term's store, run Recover
// first (faults that arrive meanwhile wait for it), watch every server's
// BMC event log, take faults from the API and the Redfish event
// receiver, and run Recover again every RecoverInterval. Whatever leads
// or not, it keeps the inventory gauges fresh.
//
// When ctx ends, the daemon stops taking faults, cancels its failovers
// (each stops at its next step, its journal left open for the next
// Recover: this daemon's after a restart, or the new leader's), waits
// for them up to DrainTimeout, and returns nil. Run may be called once.
func (d *Daemon) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.running {
		d.mu.Unlock()
		return fmt.Errorf("daemon: Run called twice: %w", failover.ErrConflict)
	}
	d.running = true
	d.mu.Unlock()
	stop := context.AfterFunc(ctx, d.beginDrain)
	defer stop()
	var bg sync.WaitGroup
	bg.Go(func() { d.refreshLoop(ctx) })
	defer bg.Wait()
	if d.cfg.Elector == nil {
		if err := d.lead(ctx, d.store); err != nil && ctx.Err() == nil {
			return err
		}
		return nil
	}
	backoff := time.Second
	for ctx.Err() == nil {
		start := time.Now()
		err := d.cfg.Elector.RunTerm(ctx, d.lead)
		if ctx.Err() != nil {
			break
		}
		d.log.Warn("leadership term ended", "err", err)
		if time.Since(start) > time.Minute {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
	return nil
}

// beginDrain stops taking faults (the API answers 503 from now on).
func (d *Daemon) beginDrain() {
	d.mu.Lock()
	first := !d.draining
	d.draining = true
	d.mu.Unlock()
	if first {
		d.log.Info("stopping: no more faults taken; failovers under way stop at their next step and stay journaled for Recover")
	}
}

// Draining reports whether the daemon is stopping.
func (d *Daemon) Draining() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.draining
}

// lead runs one term of leadership over st until ctx ends.
func (d *Daemon) lead(ctx context.Context, st failover.Store) error {
	// Under reloadMu: a reload sees this term, or built the parts it
	// starts with.
	d.reloadMu.Lock()
	d.mu.Lock()
	parts := d.parts
	d.mu.Unlock()
	gen, err := d.newGeneration(parts, st)
	if err != nil {
		d.reloadMu.Unlock()
		return fmt.Errorf("daemon: lead: %w", err)
	}
	t := &term{ctx: ctx, store: st, gen: gen, recovered: make(chan struct{})}
	d.mu.Lock()
	d.term = t
	d.mu.Unlock()
	d.metrics.SetLeader(true)
	d.log.Info("leading", "name", d.cfg.Name)
	d.intake.startTerm(ctx, t.recovered)
	d.startWatcher(t, nil)
	d.reloadMu.Unlock()
	var evDone chan struct{}
	if d.events != nil {
		evDone = d.events.startTerm(ctx)
	}

	d.recover(t, "start")
	close(t.recovered)
	tick := time.NewTicker(d.cfg.RecoverInterval)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			d.recover(t, "periodic")
		}
	}

	// Drain: the watcher and receiver stop taking faults, the failovers
	// under way stop at their next step (ctx ended), then they are
	// waited for.
	d.stopWatcher(t)
	if evDone != nil {
		<-evDone
	}
	d.mu.Lock()
	d.term = nil
	gens := append([]*generation{t.gen}, d.old...)
	d.mu.Unlock()
	d.metrics.SetLeader(false)
	d.intake.endTerm()
	waited := make(chan struct{})
	go func() {
		d.intake.wait()
		for _, g := range gens {
			g.busy.Wait()
		}
		close(waited)
	}()
	select {
	case <-waited:
		d.log.Info("term ended: nothing left running")
	case <-time.After(d.cfg.DrainTimeout):
		d.log.Error("term ended with failovers still running after the drain timeout; the next Recover finishes them",
			"drain_timeout", d.cfg.DrainTimeout, "running", d.intake.running())
	}
	return nil
}

// newGeneration builds an acting Orchestrator over parts and st.
func (d *Daemon) newGeneration(parts *site.Parts, st failover.Store) (*generation, error) {
	opts := append(slices.Clone(parts.Options), d.cfg.Options...)
	opts = append(opts, failover.WithObserver(d.observe))
	o, err := failover.New(st, parts.Drivers, opts...)
	if err != nil {
		return nil, err
	}
	return &generation{o: o, parts: parts}, nil
}

// acting returns the generation that takes new work, marked busy, or nil
// when this daemon does not lead. The caller calls done.
func (d *Daemon) acting() (*generation, func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.term == nil {
		return nil, func() {}
	}
	g := d.term.gen
	g.busy.Add(1)
	g.calls.Add(1)
	return g, func() { g.calls.Add(-1); g.busy.Done() }
}

// recover runs Recover on the acting generation, unless a replaced
// generation still runs failovers (their journals are open and not this
// Orchestrator's: Recover would take them for crashed ones).
func (d *Daemon) recover(t *term, why string) {
	d.mu.Lock()
	d.old = slices.DeleteFunc(d.old, func(g *generation) bool { return g.calls.Load() == 0 })
	busyOld := len(d.old) > 0
	d.mu.Unlock()
	if busyOld {
		d.log.Info("recover postponed: a reload's previous Orchestrator still runs failovers", "why", why)
		return
	}
	g, done := d.acting()
	if g == nil {
		return
	}
	defer done()
	results, err := g.o.Recover(t.ctx)
	for _, r := range results {
		if r.ID == "" && r.Outcome == "" {
			continue
		}
		d.log.Info("recovered", "why", why, "failover", r.ID, "server", r.Server, "outcome", r.Outcome, "err", errString(r.Err))
	}
	if err != nil && t.ctx.Err() == nil {
		d.log.Warn("recover left failovers open; it runs again", "why", why, "err", err, "every", d.cfg.RecoverInterval)
	}
	d.refresh()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// startWatcher starts the BMC watcher of a term over the store's
// servers, resuming from cursors (a reload's previous watcher).
func (d *Daemon) startWatcher(t *term, cursors map[string]bmc.Cursor) {
	recs, err := d.store.List(t.ctx)
	if err != nil {
		d.log.Error("watcher not started: cannot list the servers", "err", err)
		return
	}
	d.mu.Lock()
	drv := d.parts.Drivers
	d.mu.Unlock()
	var targets []bmc.Target
	for _, r := range recs {
		b, err := drv.BMC(r)
		if err != nil {
			d.log.Error("server not watched: no BMC driver", "server", r.ID, "err", err)
			continue
		}
		targets = append(targets, bmc.Target{Server: string(r.ID), BMC: b})
	}
	opts := []bmc.WatchOption{bmc.WithWatchInterval(d.cfg.WatchInterval), bmc.WithWatchLogger(d.log.With("component", "watcher"))}
	if cursors != nil {
		opts = append(opts, bmc.WithCursors(cursors))
	}
	w, err := bmc.NewWatcher(targets, func(_ context.Context, f bmc.Fault) {
		d.intake.deliver(f, "watcher")
	}, append(opts, d.cfg.WatchOptions...)...)
	if err != nil {
		d.log.Error("watcher not started", "err", err)
		return
	}
	wctx, cancel := context.WithCancel(t.ctx)
	done := make(chan struct{})
	d.mu.Lock()
	t.watcher, t.wcancel, t.wdone = w, cancel, done
	d.mu.Unlock()
	go func() {
		defer close(done)
		_ = w.Run(wctx)
	}()
	d.log.Info("watching BMC event logs", "servers", len(targets), "interval", d.cfg.WatchInterval)
}

// stopWatcher stops a term's watcher and returns its cursors.
func (d *Daemon) stopWatcher(t *term) map[string]bmc.Cursor {
	d.mu.Lock()
	w, cancel, done := t.watcher, t.wcancel, t.wdone
	t.watcher = nil
	d.mu.Unlock()
	if w == nil {
		return nil
	}
	cancel()
	<-done
	return w.Cursors()
}

// watched reports how many servers the watcher polls and how many it
// has read once (before that, it cannot see new faults of the server).
func (d *Daemon) watched() (servers, primed int) {
	d.mu.Lock()
	var w *bmc.Watcher
	if d.term != nil {
		w = d.term.watcher
	}
	d.mu.Unlock()
	if w == nil {
		return 0, 0
	}
	return len(w.Servers()), len(w.Cursors())
}

// observe is every acting Orchestrator's observer.
func (d *Daemon) observe(e failover.Event) {
	if e.Kind == failover.EventFailoverStarted || e.Kind == failover.EventFailbackStarted || e.Kind == failover.EventStepStarted {
		d.history.note(e.Failover)
	}
	d.metrics.Observe(e)
	logEvent(d.log, e)
	d.intake.observe(e)
	switch e.Kind {
	case failover.EventFailoverDone, failover.EventFailoverFailed, failover.EventNoSpare,
		failover.EventPlanChosen, failover.EventFaultDeferred, failover.EventSpareSetAside:
		d.refresh()
	}
}

// refresh asks the refresh loop to read the inventory again.
func (d *Daemon) refresh() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *Daemon) refreshLoop(ctx context.Context) {
	tick := time.NewTicker(d.cfg.RefreshInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-d.kick:
		}
		d.refreshInventory(ctx)
	}
}

// refreshInventory sets the inventory gauges from the store.
func (d *Daemon) refreshInventory(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	recs, err := d.store.List(ctx)
	if err != nil {
		d.log.Warn("inventory gauges not refreshed", "err", err)
		return
	}
	cov, err := d.currentReader().Coverage(ctx)
	if err != nil {
		d.log.Warn("inventory gauges not refreshed", "err", err)
		return
	}
	d.metrics.SetInventory(recs, cov)
}

func (d *Daemon) currentReader() *failover.Orchestrator {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reader
}

func (d *Daemon) currentSite() *site.Site {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.site
}

// leading reports whether this daemon leads now.
func (d *Daemon) leading() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.term != nil
}

// recovering reports whether the leader's first Recover still runs.
func (d *Daemon) recovering() bool {
	d.mu.Lock()
	t := d.term
	d.mu.Unlock()
	if t == nil {
		return false
	}
	select {
	case <-t.recovered:
		return false
	default:
		return true
	}
}

// leader names the instance that leads.
func (d *Daemon) leader(ctx context.Context) (string, error) {
	if d.cfg.Elector == nil {
		return d.cfg.Name, nil
	}
	if d.leading() {
		return d.cfg.Name, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return d.cfg.Elector.Leader(ctx)
}

// authorized checks a request's bearer token in constant time.
func (d *Daemon) authorized(r *http.Request) bool {
	const prefix = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) <= len(prefix) || !equalFoldASCII(h[:len(prefix)], prefix) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(h[len(prefix):]), d.token) == 1
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}
