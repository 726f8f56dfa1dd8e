package daemon_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/daemon"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
)

// hold makes the next call of driver.method on target stop, after it
// took effect, until release is closed; reached is closed when it does.
func hold(t *testing.T, w *fake.World, driver, method, target string) (reached, release chan struct{}) {
	t.Helper()
	reached, release = make(chan struct{}), make(chan struct{})
	_, err := w.Inject(fake.Fault{Driver: driver, Method: method, Target: target, Times: 1, Then: func() {
		close(reached)
		<-release
	}})
	must(t, err)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return reached, release
}

// SIGTERM in the middle of a failover: the daemon stops taking faults,
// the failover stops at its next step with its journal open, the daemon
// exits; a new daemon on the same store finishes it in the same journal.
func TestSIGTERMMidFailoverThenANewDaemonFinishesIt(t *testing.T) {
	path := writeSite(t)
	sm := newSim(t, path)
	st, closeStore := openStore(t, path, sm.reg)
	log1 := &logBuffer{}
	d1, err := daemon.New(context.Background(), config(path, sm.reg, st, log1))
	must(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	base := "http://" + ln.Addr().String()
	sig := make(chan os.Signal, 1)
	served := make(chan error, 1)
	go func() { served <- d1.Serve(context.Background(), ln, sig) }()
	waitLeading(t, base)

	reached, release := hold(t, sm.world, fake.DriverStorage, "SwapInitiators", "srv01")
	code, f := postFault(t, base, map[string]any{"server": "srv01", "type": "processor"})
	if code != http.StatusAccepted || f.Failover == "" {
		t.Fatalf("POST /v1/faults: %d %+v", code, f)
	}
	select {
	case <-reached:
	case <-time.After(20 * time.Second):
		t.Fatal("the failover never moved srv01's disks")
	}

	var open struct{ Failovers []daemon.Failover }
	call(t, base, "GET", "/v1/failovers?unfinished=true", nil, &open)
	if len(open.Failovers) != 1 || open.Failovers[0].ID != f.Failover || !open.Failovers[0].Unfinished() {
		t.Errorf("GET /v1/failovers?unfinished=true mid-failover: %+v", open.Failovers)
	}
	sig <- syscall.SIGTERM
	eventually(t, "the daemon to stop taking faults", func() bool { return d1.Draining() })
	if code, _ := postFault(t, base, map[string]any{"server": "srv05", "type": "processor"}); code != http.StatusServiceUnavailable {
		t.Errorf("a fault posted while stopping: %d, want 503", code)
	}
	if code := call(t, base, "GET", "/readyz", nil, nil); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while stopping: %d, want 503", code)
	}
	close(release) // the driver call returns; the failover must stop now
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the daemon did not stop after SIGTERM")
	}
	must(t, d1.Close())
	unfinished, err := st.Unfinished(context.Background())
	if err != nil || !slices.Contains(unfinished, f.Failover) {
		t.Fatalf("after SIGTERM the journal of %s should stay open: unfinished %v, %v", f.Failover, unfinished, err)
	}
	ended := 0
	for _, l := range log1.lines(t) {
		if l["msg"] == "failover ended" && l["failover"] == f.Failover {
			ended++
			if l["outcome"] != string(failover.OutcomeInterrupted) {
				t.Errorf("the stopped failover ended %v, want interrupted", l["outcome"])
			}
		}
	}
	if ended != 1 {
		t.Errorf("%d lines say how the stopped failover ended, want 1", ended)
	}
	must(t, closeStore())

	// A new daemon on the same store (and the same hardware) finishes it.
	st2, _ := openStore(t, path, sm.reg)
	log2 := &logBuffer{}
	cfg := config(path, sm.reg, st2, log2)
	cfg.Name = "d2"
	r2 := start(t, cfg, log2)
	info := waitOutcome(t, r2.srv.URL, f.Failover)
	if info.Outcome != failover.OutcomeDone {
		t.Fatalf("recovered failover: %s %s", info.Outcome, info.Err)
	}
	recovered := false
	for _, l := range log2.lines(t) {
		recovered = recovered || l["msg"] == "recovered" && l["failover"] == f.Failover && l["outcome"] == string(failover.OutcomeDone)
	}
	if !recovered {
		t.Errorf("the new daemon's log does not say it recovered %s", f.Failover)
	}
	if got := metric(t, r2.d.Registry(), "coldstandby_failovers_total", "outcome", "done"); got != 1 {
		t.Errorf("new daemon's failovers_total{done} = %v", got)
	}
	var servers struct{ Servers []daemon.Server }
	call(t, r2.srv.URL, "GET", "/v1/servers", nil, &servers)
	for _, s := range servers.Servers {
		if s.ID == "srv01" && (s.State != "failed" || s.RunsOn == "") {
			t.Errorf("srv01 after recovery: %+v", s)
		}
	}
	if err := sm.world.CheckInvariants(nil); err != nil {
		t.Errorf("invariants: %v", err)
	}
}
