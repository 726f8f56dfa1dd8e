package daemon_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/daemon"
	"github.com/coldstandby/coldstandby/failover"
)

// A fault posted to the API and one the watcher reads from a BMC's event
// log both end in a done failover that the API and the metrics show;
// the same fault posted again gets the first answer.
func TestFaultsFromTheAPIAndTheWatcherEndInDoneFailovers(t *testing.T) {
	sm, r := demo(t)
	base, log := r.srv.URL, r.log

	// Through the API (an outside detector saw srv01 fail).
	code, f := postFault(t, base, map[string]any{"server": "srv01", "type": "processor", "detail": "IERR", "id": "ticket-1"})
	if code != http.StatusAccepted || f.Failover == "" || f.State != daemon.FaultFailingOver {
		t.Fatalf("POST /v1/faults: %d %+v; want 202 with the failover ID", code, f)
	}
	again, dup := postFault(t, base, map[string]any{"server": "srv01", "type": "processor", "id": "ticket-1"})
	if again != http.StatusAccepted || !dup.Duplicate || dup.Failover != f.Failover || dup.ID != f.ID {
		t.Errorf("the same fault again: %d %+v; want the first answer marked duplicate", again, dup)
	}
	info := waitOutcome(t, base, f.Failover)
	if info.Outcome != failover.OutcomeDone || info.Plan == nil || info.Plan.Assignments[0].Spare != "srv02" {
		t.Fatalf("API failover: %s %+v %s", info.Outcome, info.Plan, info.Err)
	}

	// Through the watcher: srv05's BMC logs a power-supply failure.
	must(t, sm.world.FailServer("srv05", bmc.FaultPowerSupply))
	var wf daemon.Fault
	eventually(t, "the watcher's fault for srv05", func() bool {
		var list struct{ Faults []daemon.Fault }
		call(t, base, "GET", "/v1/faults", nil, &list)
		for _, x := range list.Faults {
			if x.Server == "srv05" && x.Source == "watcher" && x.Failover != "" {
				wf = x
				return true
			}
		}
		return false
	})
	if wf.Type != string(bmc.FaultPowerSupply) {
		t.Errorf("watcher fault type %q", wf.Type)
	}
	info = waitOutcome(t, base, wf.Failover)
	if info.Outcome != failover.OutcomeDone || info.Plan == nil || info.Plan.Assignments[0].Spare != "srv12" {
		t.Fatalf("watcher failover: %s %+v %s", info.Outcome, info.Plan, info.Err)
	}

	// The API's tables.
	var list struct{ Failovers []daemon.Failover }
	call(t, base, "GET", "/v1/failovers", nil, &list)
	if len(list.Failovers) != 2 || list.Failovers[0].ID != wf.Failover || list.Failovers[1].ID != f.Failover {
		t.Errorf("GET /v1/failovers: %d failovers, want the two newest first", len(list.Failovers))
	} else if list.Failovers[1].PlanText != "exact: srv01 -> srv02" || len(list.Failovers[1].Steps) == 0 {
		t.Errorf("GET /v1/failovers: srv01's plan %q, %d steps", list.Failovers[1].PlanText, len(list.Failovers[1].Steps))
	}
	var servers struct{ Servers []daemon.Server }
	call(t, base, "GET", "/v1/servers", nil, &servers)
	by := map[string]daemon.Server{}
	for _, s := range servers.Servers {
		by[s.ID] = s
	}
	for _, c := range []struct{ id, state, runsOn, home string }{
		{"srv01", "failed", "srv02", ""}, {"srv02", "active", "", "srv01"},
		{"srv05", "failed", "srv12", ""}, {"srv12", "active", "", "srv05"},
	} {
		s := by[c.id]
		if s.State != c.state || s.RunsOn != c.runsOn || s.Home != c.home {
			t.Errorf("%s: %s runsOn %q home %q; want %s runsOn %q home %q", c.id, s.State, s.RunsOn, s.Home, c.state, c.runsOn, c.home)
		}
	}
	var one daemon.ServerDetail
	if code := call(t, base, "GET", "/v1/servers/srv02", nil, &one); code != 200 || one.Record.Home != "srv01" || one.Class != "A" {
		t.Errorf("GET /v1/servers/srv02: %d home %q class %q", code, one.Record.Home, one.Class)
	}

	// The metrics, on the daemon's own registry and at /metrics.
	reg := r.d.Registry()
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"coldstandby_failovers_total", []string{"outcome", "done", "plan_kind", "exact"}, 1},
		{"coldstandby_failovers_total", []string{"outcome", "done", "plan_kind", "relaxed"}, 1},
		{"coldstandby_faults_total", []string{"type", "processor", "action", "now"}, 1},
		{"coldstandby_faults_total", []string{"type", "power-supply", "action", "now"}, 1},
		{"coldstandby_failover_duration_seconds", []string{"plan_kind", "exact"}, 1},
		{"coldstandby_failovers_in_flight", nil, 0},
		{"coldstandby_is_leader", nil, 1},
	} {
		if got := metric(t, reg, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	eventually(t, "the inventory gauges to show two failed servers", func() bool {
		return metric(t, reg, "coldstandby_servers", "state", "failed") == 2
	})
	text := scrape(t, base)
	for _, want := range []string{`coldstandby_failovers_total{outcome="done",plan_kind="exact"} 1`, `coldstandby_servers{state="failed"} 2`,
		`coldstandby_spares_available{class="A"}`, "coldstandby_build_info{", "go_goroutines"} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// What the simulated data centre went through is safe.
	if err := sm.world.CheckInvariants(nil); err != nil {
		t.Errorf("invariants: %v", err)
	}
	// One log line per fault with the failover ID.
	faults := 0
	for _, l := range log.lines(t) {
		if l["msg"] == "fault" && l["outcome"] == "failing-over" {
			faults++
			if l["failover"] != f.Failover && l["failover"] != wf.Failover {
				t.Errorf("fault line with failover %v", l["failover"])
			}
		}
	}
	if faults != 2 {
		t.Errorf("%d fault lines for 2 failovers", faults)
	}
}

// After a failover, the repaired server goes back to the pool and its
// workload comes home, both through the API.
func TestMarkStandbyAndFailbackThroughTheAPI(t *testing.T) {
	sm, r := demo(t)
	base := r.srv.URL
	_, f := postFault(t, base, map[string]any{"server": "srv01", "type": "processor"})
	if info := waitOutcome(t, base, f.Failover); info.Outcome != failover.OutcomeDone {
		t.Fatalf("failover: %s", info.Outcome)
	}
	must(t, sm.world.RepairServer("srv01"))
	var ms map[string]string
	if code := call(t, base, "POST", "/v1/servers/srv01/mark-standby", nil, &ms, auth...); code != http.StatusOK || ms["state"] != "standby" {
		t.Fatalf("mark-standby: %d %v", code, ms)
	}
	var fb daemon.FailbackAnswer
	if code := call(t, base, "POST", "/v1/failbacks", map[string]string{"server": "srv01"}, &fb, auth...); code != http.StatusAccepted || fb.Failover == "" {
		t.Fatalf("POST /v1/failbacks: %d %+v", code, fb)
	}
	info := waitOutcome(t, base, fb.Failover)
	if info.Outcome != failover.OutcomeDone || info.Kind != failover.KindFailback {
		t.Fatalf("failback: %s %s %s", info.Kind, info.Outcome, info.Err)
	}
	s := servers(t, base)
	if s["srv01"].State != "active" || s["srv01"].RunsOn != "srv01" || s["srv02"].State != "standby" {
		t.Errorf("after the failback: srv01 %+v, srv02 %+v", s["srv01"], s["srv02"])
	}
	if err := sm.world.CheckInvariants(nil); err != nil {
		t.Errorf("invariants: %v", err)
	}
}
