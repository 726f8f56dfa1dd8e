package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/daemon"
	"github.com/coldstandby/coldstandby/drivers/builtin"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/drivers/fake/fakesite"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/site"
	"github.com/coldstandby/coldstandby/internal/promtest"
	"github.com/coldstandby/coldstandby/partition"
	"github.com/coldstandby/coldstandby/storage"
)

const (
	demoFile = "../examples/site/demo.yaml"
	token    = "test-token-0123456789abcdef"
)

// writeSite copies the demo site into a new directory (its bbolt file
// lands there), with edits (old -> new) applied, and returns its path.
func writeSite(t *testing.T, edits ...string) string {
	t.Helper()
	b, err := os.ReadFile(demoFile)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(s, edits[i]) {
			t.Fatalf("the demo site has no %q", edits[i])
		}
		s = strings.Replace(s, edits[i], edits[i+1], 1)
	}
	path := filepath.Join(t.TempDir(), "site.yaml")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sim is one simulated data centre that every daemon of a test drives,
// as several managers drive the same hardware: a Registry whose fake
// driver type returns views of one world, in virtual time.
type sim struct {
	world *fake.World
	clock *fake.Clock
	reg   *site.Registry
}

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func newSim(t *testing.T, sitePath string) *sim {
	t.Helper()
	s, err := site.Load(sitePath)
	if err != nil {
		t.Fatal(err)
	}
	clock := fake.NewClock(t0)
	w, err := fakesite.World(s, nil, fake.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	r := builtin.Registry()
	withClock := func(env *site.Env) {
		_, _ = env.Shared("sim-clock", func() (any, error) {
			env.AddOptions(failover.WithClock(clock))
			return clock, nil
		})
	}
	r.BMCs["fake"] = func(env *site.Env, rec failover.Record) (bmc.BMC, error) {
		withClock(env)
		return fakesite.BMC(w)(rec)
	}
	r.Arrays["fake"] = func(_ context.Context, env *site.Env, a site.Array) (storage.DiskMapper, error) {
		withClock(env)
		return w.DiskMapper(a.Name), nil
	}
	r.Fabrics["fake"] = func(_ context.Context, env *site.Env, d site.Device) (fabric.FCZoner, error) {
		withClock(env)
		return w.Zoner(d.Name), nil
	}
	r.Switches["fake"] = func(_ context.Context, env *site.Env, d site.Device) (fabric.VLANSwitch, error) {
		withClock(env)
		return w.Switch(d.Name), nil
	}
	r.Partitions["fake"] = func(_ context.Context, env *site.Env, _ site.Device) (partition.PartitionManager, error) {
		withClock(env)
		return w.Partitions(), nil
	}
	return &sim{world: w, clock: clock, reg: r}
}

// logBuffer collects a daemon's JSON log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the log lines decoded.
func (l *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// rig is a daemon served by an httptest server, running in the
// background.
type rig struct {
	path   string // the site file
	d      *daemon.Daemon
	srv    *httptest.Server
	log    *logBuffer
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// config returns a daemon configuration for the site at path on st,
// with fast intervals.
func config(path string, reg *site.Registry, st failover.Store, log *logBuffer) daemon.Config {
	return daemon.Config{
		SitePath: path, Registry: reg, Store: st, Name: "d1", Token: token,
		Logger:          slog.New(slog.NewJSONHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		WatchInterval:   20 * time.Millisecond,
		WatchOptions:    []bmc.WatchOption{bmc.WithWatchJitter(0)},
		RefreshInterval: 50 * time.Millisecond,
		AcceptWait:      5 * time.Second,
		DrainTimeout:    10 * time.Second,
	}
}

// openStore opens the site's store (closed in cleanup unless closed
// before).
func openStore(t *testing.T, path string, reg *site.Registry) (failover.Store, func() error) {
	t.Helper()
	s, err := site.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	st, closeStore, err := s.OpenStore(context.Background(), reg)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var cerr error
	c := func() error { once.Do(func() { cerr = closeStore() }); return cerr }
	t.Cleanup(func() { _ = c() })
	return st, c
}

// start builds and runs a daemon; it stops in cleanup.
func start(t *testing.T, cfg daemon.Config, log *logBuffer) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("daemon.New: %v", err)
	}
	r := &rig{d: d, srv: httptest.NewServer(d.Handler()), log: log, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

func (r *rig) stop() {
	r.once.Do(func() {
		r.cancel()
		<-r.done
		r.srv.Close()
		_ = r.d.Close()
	})
}

// call makes a request and decodes a JSON answer into out (if not nil).
func call(t *testing.T, base, method, path string, body any, out any, headers ...string) int {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

var auth = []string{"Authorization", "Bearer " + token}

// postFault posts a fault with the token.
func postFault(t *testing.T, base string, f map[string]any) (int, daemon.Fault) {
	t.Helper()
	var out daemon.Fault
	code := call(t, base, "POST", "/v1/faults", f, &out, auth...)
	return code, out
}

// eventually polls cond every 20 ms for up to 20 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func status(t *testing.T, base string) daemon.Status {
	t.Helper()
	var st daemon.Status
	call(t, base, "GET", "/v1/status", nil, &st)
	return st
}

// waitLeading waits until the daemon leads, its first Recover ended and
// its watcher read every event log once.
func waitLeading(t *testing.T, base string) daemon.Status {
	t.Helper()
	var st daemon.Status
	eventually(t, "the daemon to lead and watch every BMC", func() bool {
		st = status(t, base)
		return st.Leading && !st.Recovering && st.Watched > 0 && st.Primed == st.Watched
	})
	return st
}

// failoverOf reads one failover.
func failoverOf(t *testing.T, base, id string) failover.FailoverInfo {
	t.Helper()
	var fd daemon.FailoverDetail
	if code := call(t, base, "GET", "/v1/failovers/"+id, nil, &fd); code != http.StatusOK {
		t.Fatalf("GET /v1/failovers/%s: %d", id, code)
	}
	return fd.Failover.FailoverInfo
}

// waitOutcome waits for failover id to end and returns it.
func waitOutcome(t *testing.T, base, id string) failover.FailoverInfo {
	t.Helper()
	var info failover.FailoverInfo
	eventually(t, "failover "+id+" to end", func() bool {
		info = failoverOf(t, base, id)
		return !info.Unfinished()
	})
	return info
}

// metric reads one sample from a registry (see promtest.Value).
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	return promtest.Value(t, reg, name, labels...)
}

// scrape returns the /metrics text.
func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var _ = fmt.Sprint

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	return ln
}

// httpServe serves h until the test ends and returns its base URL.
func httpServe(t *testing.T, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

// demo runs a daemon (changed by change) on a copy of the demo site with
// its own simulated data centre, and waits until it leads and watches
// every BMC.
func demo(t *testing.T, change ...func(*daemon.Config)) (*sim, *rig) {
	t.Helper()
	path := writeSite(t)
	sm := newSim(t, path)
	st, _ := openStore(t, path, sm.reg)
	log := &logBuffer{}
	cfg := config(path, sm.reg, st, log)
	for _, c := range change {
		c(&cfg)
	}
	r := start(t, cfg, log)
	r.path = path
	waitLeading(t, r.srv.URL)
	return sm, r
}
