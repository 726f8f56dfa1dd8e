package daemon_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/daemon"
	"github.com/coldstandby/coldstandby/drivers/etcdstore"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/internal/etcdtest"
)

// Two daemons on one real etcd: only the leader acts (the follower
// answers 503 naming it, and watches nothing); killing the leader in the
// middle of a failover hands over, the new leader's Recover finishes
// that failover, and the dead leader makes no call after it died.
func TestTwoDaemonsOnEtcdOnlyTheLeaderActsAndHandsOver(t *testing.T) {
	srv := etcdtest.Start(t)
	path := writeSite(t, "store:\n  bolt: demo.state.db",
		fmt.Sprintf("store:\n  etcd: {endpoints: [%q], prefix: %q}", srv.Endpoint, etcdtest.Prefix(t)))
	sm := newSim(t, path)

	startOne := func(name string) (*rig, func() error) {
		st, closeStore := openStore(t, path, sm.reg)
		el, err := etcdstore.NewElector(st.(*etcdstore.Store), name, etcdstore.WithLeaseTTL(2))
		must(t, err)
		log := &logBuffer{}
		cfg := config(path, sm.reg, st, log)
		cfg.Name, cfg.Elector = name, el
		return start(t, cfg, log), closeStore
	}
	a, killA := startOne("a")
	waitLeading(t, a.srv.URL)
	b, _ := startOne("b")
	eventually(t, "b to know the leader", func() bool { s := status(t, b.srv.URL); return s.Ready && s.Leader == "a" })
	if s := status(t, b.srv.URL); s.Leading || s.Watched != 0 {
		t.Fatalf("follower b: leading %v, watching %d BMCs", s.Leading, s.Watched)
	}
	var e struct{ Error, Leader string }
	if code := call(t, b.srv.URL, "POST", "/v1/faults", map[string]string{"server": "srv01", "type": "processor"}, &e, auth...); code != http.StatusServiceUnavailable || e.Leader != "a" {
		t.Fatalf("a fault posted to the follower: %d %+v; want 503 naming a", code, e)
	}
	if got := metric(t, b.d.Registry(), "coldstandby_is_leader"); got != 0 {
		t.Errorf("b's is_leader = %v", got)
	}
	var servers struct{ Servers []daemon.Server }
	if code := call(t, b.srv.URL, "GET", "/v1/servers", nil, &servers); code != 200 || len(servers.Servers) != 12 {
		t.Errorf("the follower's reads: %d, %d servers", code, len(servers.Servers))
	}

	reached, release := hold(t, sm.world, fake.DriverStorage, "SwapInitiators", "srv01")
	code, f := postFault(t, a.srv.URL, map[string]any{"server": "srv01", "type": "processor"})
	if code != http.StatusAccepted || f.Failover == "" {
		t.Fatalf("POST /v1/faults to the leader: %d %+v", code, f)
	}
	select {
	case <-reached:
	case <-time.After(20 * time.Second):
		t.Fatal("the leader's failover never moved srv01's disks")
	}

	// Kill a: its etcd client goes (its lease is left to expire).
	killed := time.Now()
	_ = killA()
	eventually(t, "b to lead", func() bool { return status(t, b.srv.URL).Leading })
	t.Logf("b leads %v after a was killed", time.Since(killed).Round(time.Millisecond))
	info := waitOutcome(t, b.srv.URL, f.Failover)
	if info.Outcome != failover.OutcomeDone {
		t.Fatalf("b's Recover of %s: %s %s", f.Failover, info.Outcome, info.Err)
	}
	last := 0
	for _, op := range sm.world.Ops() {
		last = max(last, op.Seq)
	}

	// a's held call returns: its failover must stop without acting.
	close(release)
	eventually(t, "a's fault to end", func() bool {
		var ff daemon.Fault
		call(t, a.srv.URL, "GET", "/v1/faults/"+f.ID, nil, &ff)
		return ff.State == daemon.FaultHandled
	})
	var ff daemon.Fault
	call(t, a.srv.URL, "GET", "/v1/faults/"+f.ID, nil, &ff)
	if ff.Outcome != string(failover.OutcomeInterrupted) {
		t.Errorf("the dead leader's failover: %s %s; want interrupted", ff.Outcome, ff.Error)
	}
	for _, op := range sm.world.Ops() {
		if op.Seq > last && op.Failover == f.Failover {
			t.Errorf("the dead leader acted after it was killed: %s", op)
		}
	}
	if s := status(t, a.srv.URL); s.Leading {
		t.Error("a still says it leads")
	}
	if got := metric(t, b.d.Registry(), "coldstandby_is_leader"); got != 1 {
		t.Errorf("b's is_leader = %v", got)
	}
	if err := sm.world.CheckInvariants(nil); err != nil {
		t.Errorf("invariants: %v", err)
	}
	if !strings.Contains(a.log.String(), `"msg":"leadership term ended"`) {
		t.Error("a's log does not say its term ended")
	}
}
