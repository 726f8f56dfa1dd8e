package daemon_test

import (
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/daemon"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/site"
)

// servers returns the server table by ID.
func servers(t *testing.T, base string) map[string]daemon.Server {
	t.Helper()
	var list struct{ Servers []daemon.Server }
	call(t, base, "GET", "/v1/servers", nil, &list)
	out := map[string]daemon.Server{}
	for _, s := range list.Servers {
		out[s.ID] = s
	}
	return out
}

// A reload with a broken file changes nothing: the API says why (422 and
// the file's problems with their lines), the records, the drivers and
// the fault-action table stay, and faults are still handled.
func TestReloadWithABrokenFileChangesNothing(t *testing.T) {
	sm, r := demo(t)
	base, path, log := r.srv.URL, r.path, r.log
	before := servers(t, base)
	good, err := os.ReadFile(path)
	must(t, err)

	for _, c := range []struct {
		name, file string
		want       int
		says       string
	}{
		{"not YAML", "servers: [", 422, "yaml"},
		{"invalid site", strings.Replace(string(good), "workload: web\n", "workload: nosuch\n", 1), 422, "nosuch"},
		{"unknown driver type", strings.Replace(string(good), "{name: array-1, driver: fake", "{name: array-1, driver: hal9000", 1), 422, "hal9000"},
		{"a failover table that breaks the fault types", strings.Replace(string(good), "failover:\n", "failover:\n  faultActions: {processor: {action: explode}}\n", 1), 422, "explode"},
	} {
		t.Run(c.name, func(t *testing.T) {
			must(t, os.WriteFile(path, []byte(c.file), 0o600))
			var e struct {
				Error    string
				Problems []site.Problem
			}
			code := call(t, base, "POST", "/v1/reload", nil, &e, auth...)
			if code != c.want || !strings.Contains(strings.ToLower(e.Error+problemsText(e.Problems)), c.says) {
				t.Fatalf("POST /v1/reload: %d %q %v; want %d saying %q", code, e.Error, e.Problems, c.want, c.says)
			}
			if after := servers(t, base); !sameServers(before, after) {
				t.Errorf("a refused reload changed the servers")
			}
		})
	}
	// SIGHUP with the broken file: logged, nothing changed.
	must(t, os.WriteFile(path, []byte("servers: ["), 0o600))
	if _, err := r.d.Reload(t.Context()); err == nil {
		t.Fatal("Reload of a broken file succeeded")
	}
	if !strings.Contains(log.String(), "reload refused: the running site is unchanged") {
		t.Error("the refused reload is not logged")
	}

	// The running site still works: the processor fault fails over now
	// (the broken table said "explode").
	code, f := postFault(t, base, map[string]any{"server": "srv01", "type": "processor"})
	if code != http.StatusAccepted {
		t.Fatalf("a fault after refused reloads: %d %+v", code, f)
	}
	if info := waitOutcome(t, base, f.Failover); info.Outcome != failover.OutcomeDone {
		t.Fatalf("failover after refused reloads: %s %s", info.Outcome, info.Err)
	}
	if err := sm.world.CheckInvariants(nil); err != nil {
		t.Errorf("invariants: %v", err)
	}
}

// A good reload applies the site (a changed priority reaches the store)
// and the new fault-action table takes effect; SIGHUP does the same.
func TestReloadAppliesTheSiteAndItsFaultActions(t *testing.T) {
	path := writeSite(t)
	sm := newSim(t, path)
	st, _ := openStore(t, path, sm.reg)
	log := &logBuffer{}
	cfg := config(path, sm.reg, st, log)
	d, err := daemon.New(t.Context(), cfg)
	must(t, err)
	defer d.Close()
	ln := listen(t)
	base := "http://" + ln.Addr().String()
	sig := make(chan os.Signal, 1)
	served := make(chan error, 1)
	go func() { served <- d.Serve(t.Context(), ln, sig) }()
	waitLeading(t, base)

	good, _ := os.ReadFile(path)
	edited := strings.Replace(string(good), "{name: web, priority: 5,", "{name: web, priority: 6,", 1)
	edited = strings.Replace(edited, "failover:\n", "failover:\n  faultActions: {processor: {action: report}}\n", 1)
	must(t, os.WriteFile(path, []byte(edited), 0o600))
	sig <- syscall.SIGHUP
	eventually(t, "srv01's priority to become 6", func() bool { return servers(t, base)["srv01"].Priority == 6 })
	eventually(t, "the reload to be logged", func() bool { return strings.Contains(log.String(), "reloaded the site") })

	code, f := postFault(t, base, map[string]any{"server": "srv01", "type": "processor"})
	if code != http.StatusOK || f.Outcome != string(failover.OutcomeReported) || f.Failover != "" {
		t.Errorf("processor fault after the table says report: %d %+v; want 200 reported", code, f)
	}
	var res daemon.ReloadResult
	if code := call(t, base, "POST", "/v1/reload", nil, &res, auth...); code != 200 || res.Applied {
		t.Errorf("reload of an unchanged file: %d applied=%v; want 200 and nothing to apply", code, res.Applied)
	}
	sig <- syscall.SIGTERM
	select {
	case err := <-served:
		must(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("no stop after SIGTERM")
	}
}

func problemsText(ps []site.Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(strings.ToLower(p.String()))
	}
	return b.String()
}

func sameServers(a, b map[string]daemon.Server) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y := b[k]
		if x.State != y.State || x.Priority != y.Priority || x.Workload != y.Workload || x.RunsOn != y.RunsOn {
			return false
		}
	}
	return true
}
