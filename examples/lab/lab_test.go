package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/failover/site"
	"github.com/coldstandby/coldstandby/internal/testpeer"
)

// The tests run the lab as `go run ./examples/lab` does, with one
// coldstandby binary built for all of them.
var (
	buildOnce sync.Once
	binDir    string
	bin       string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// needPeers stops the test unless every peer of the lab is installed and
// it runs as root (it fails in CI, see internal/testpeer), and returns
// the coldstandby command to run as the daemons.
func needPeers(t *testing.T) string {
	t.Helper()
	for _, p := range []struct {
		pkg   string
		progs []string
	}{
		{"openipmi", []string{"ipmi_sim"}},
		{"ipmitool", []string{"ipmitool"}},
		{"etcd-server", []string{"etcd"}},
		{"tgt", []string{"tgtd", "tgtadm"}},
		{"libiscsi-bin", []string{"iscsi-ls", "iscsi-inq", "iscsi-readcapacity16"}},
		{"openvswitch-switch", []string{"ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovsdb-tool"}},
		{"iputils-ping", []string{"ping"}},
		{"iproute2", []string{"ip"}},
		{"golang (go on PATH, to build cmd/coldstandby)", []string{"go"}},
	} {
		testpeer.LookPath(t, p.pkg, p.progs...)
	}
	if os.Geteuid() != 0 {
		testpeer.Unavailable(t, "the lab needs root (network namespaces, tgtd)")
	}
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "coldstandby-lab-bin-"); buildErr == nil {
			start := time.Now()
			bin, buildErr = buildColdstandby(context.Background(), binDir)
			fmt.Fprintf(os.Stderr, "lab: built cmd/coldstandby in %v\n", time.Since(start).Round(time.Millisecond))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}

// runLab runs the lab like the command and fails the test on error,
// logging what the lab printed.
func runLab(t *testing.T, o Options) *Report {
	t.Helper()
	cfg := Config{Coldstandby: needPeers(t)}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	rep, err := Run(ctx, &out, cfg, o)
	t.Logf("lab output (%v):\n%s", time.Since(start).Round(time.Millisecond), out.String())
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	return rep
}

// proofNames are the proofs every act must pass.
var proofNames = []string{
	"storage/taker-sees", "storage/same-disk", "storage/failed-sees-none", "storage/failed-refused",
	"network/taker-vlan", "network/taker-reaches", "network/isolated", "network/failed-cut",
	"bmc/failed-off", "bmc/taker-on", "bmc/taker-boots-disk",
	"etcd/journal-closed", "etcd/records",
}

// checkProofs fails the test unless every named proof ran and held.
func checkProofs(t *testing.T, ps Proofs, names ...string) {
	t.Helper()
	for _, n := range names {
		i := slices.IndexFunc(ps, func(p Proof) bool { return p.Name == n })
		switch {
		case i < 0:
			t.Errorf("proof %s did not run", n)
		case !ps[i].OK:
			t.Errorf("proof %s failed: %s", n, ps[i].Detail)
		}
	}
}

// callsOf returns what the daemons did to servers and masking, one
// line per call ("lab-a srv1: chassis power off"), in order.
func (l *Lab) callLines(calls []toolCall) []string {
	var out []string
	for _, c := range calls {
		out = append(out, fmt.Sprintf("%s %s exit %d", c.Daemon, l.describeCall(c), c.Exit))
	}
	return out
}

// inOrder fails unless each want is a prefix of some line, in order.
func inOrder(t *testing.T, what string, lines []string, want ...string) {
	t.Helper()
	i := 0
	for _, l := range lines {
		if i < len(want) && strings.HasPrefix(l, want[i]) {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("%s: %q not found in order in:\n  %s", what, want[i], strings.Join(lines, "\n  "))
	}
}

func checkPhases(t *testing.T, p Phases) {
	t.Helper()
	var b bytes.Buffer
	p.Print(&b)
	t.Logf("wall time:\n%s", b.String())
	if p.sum() != p.Total {
		t.Errorf("the phases add up to %v, the total is %v", p.sum(), p.Total)
	}
	for name, d := range map[string]time.Duration{"polling the SEL": p.SELPoll, "fencing": p.Fence, "storage": p.Storage, "VLAN": p.VLAN, "boot": p.Boot} {
		if d <= 0 {
			t.Errorf("phase %s took %v", name, d)
		}
	}
	if p.Total > 60*time.Second {
		t.Errorf("fault to spare powered on took %v", p.Total)
	}
}

// TestSiteFileDescribesTheLab: lab.yaml is a valid site whose zoning is
// declared unmanaged and whose servers are what the lab starts peers for.
func TestSiteFileDescribesTheLab(t *testing.T) {
	s, err := site.Decode(siteFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(s.Servers) != 3 || len(s.Fabrics) != 1 || !s.Fabrics[0].Unmanaged {
		t.Fatalf("want 3 servers and one unmanaged fabric, got %d servers, fabrics %+v", len(s.Servers), s.Fabrics)
	}
	for _, sv := range s.Servers {
		if len(sv.HBAs) != 1 || sv.HBAs[0].IQN == "" || sv.HBAs[0].Fabric != "" {
			t.Errorf("%s: want one iSCSI HBA on no fabric, got %+v", sv.ID, sv.HBAs)
		}
		if sv.BMC.Endpoint == "" || len(sv.NICs) != 1 || len(sv.VLANs) != 1 {
			t.Errorf("%s: want a BMC endpoint, one NIC and one VLAN", sv.ID)
		}
	}
	if s.Arrays[0].Driver != "tgt" || s.Switches[0].Driver != "ovs" || s.Store.Etcd == nil {
		t.Errorf("drivers: array %s, switch %s, etcd %v", s.Arrays[0].Driver, s.Switches[0].Driver, s.Store.Etcd)
	}
}

// TestFailoverOnRealPeers: a processor IERR in srv1's SEL ends with srv2
// running erp from the same LUN, every proof holding; at the tools, srv1
// was off before its LUN was unmasked, and unmasked before srv2 got it.
func TestFailoverOnRealPeers(t *testing.T) {
	rep := runLab(t, Options{})
	if len(rep.Acts) != 1 || len(rep.Proofs) != 1 || len(rep.Phases) != 1 {
		t.Fatalf("acts %d, proofs %d, phases %d", len(rep.Acts), len(rep.Proofs), len(rep.Phases))
	}
	act := rep.Acts[0]
	if f := act.Failover.Failover; f.Outcome != "done" || f.PlanText != "exact: srv1 -> srv2" {
		t.Fatalf("failover %s: %s, plan %s", f.ID, f.Outcome, f.PlanText)
	}
	if act.Fault.Source != "watcher" || act.Fault.Type != "processor" {
		t.Errorf("fault taken from %q as %q, want the watcher's processor fault", act.Fault.Source, act.Fault.Type)
	}
	checkProofs(t, rep.Proofs[0], proofNames...)
	checkPhases(t, rep.Phases[0])
	inOrder(t, "calls", rep.lab.callLines(act.Calls),
		"lab-a srv1: chassis power off exit 0",
		"lab-a unbind tid 1 iqn.2026-12.org.coldstandby.lab:srv1 exit 0",
		"lab-a bind tid 1 iqn.2026-12.org.coldstandby.lab:srv2 exit 0",
		"lab-a srv2: chassis bootdev disk",
		"lab-a srv2: chassis power on exit 0")
}

// TestLeaderKilledMidFailover: the leading daemon is SIGKILLed (with the
// programs it runs) at each kill point of act 1; the other daemon takes
// the lead, its Recover finishes the failover from the journal in etcd,
// and every proof holds. Before it died, the leader had done exactly
// what precedes the kill point, and nothing after.
func TestLeaderKilledMidFailover(t *testing.T) {
	// What the killed leader must have done (the last call) and must not
	// have done (the held call) at each point.
	done := map[string][2]string{
		"after-fence":     {"lab-a srv1: chassis power off exit 0", "lab-a unbind"},
		"mid-storage":     {"lab-a unbind tid 1 iqn.2026-12.org.coldstandby.lab:srv1 exit 0", "lab-a bind"},
		"before-boot":     {"lab-a bind tid 1 iqn.2026-12.org.coldstandby.lab:srv2 exit 0", "lab-a srv2: chassis bootdev"},
		"before-power-on": {"lab-a srv2: chassis bootdev disk options=persistent exit 0", "lab-a srv2: chassis power on"},
	}
	for _, kp := range KillPoints {
		t.Run(kp.Name, func(t *testing.T) {
			rep := runLab(t, Options{Kill: &kp})
			k, act := rep.Kill, rep.Acts[0]
			if k == nil || !k.Victim.killed() || k.Victim.Name != "lab-a" || k.Heir.Name != "lab-b" {
				t.Fatalf("kill: %+v", k)
			}
			if k.Leading.IsZero() || k.Leading.Before(k.At) {
				t.Errorf("lab-b leads from %v; lab-a was killed at %v", k.Leading, k.At)
			}
			f := act.Failover.Failover
			if f.Outcome != "done" || k.RecoveredAs != "done" || k.Recovered.Before(k.At) {
				t.Errorf("failover %s ended %s; lab-b's Recover logged %q at %v (kill at %v)", f.ID, f.Outcome, k.RecoveredAs, k.Recovered, k.At)
			}
			if !f.Ended.After(k.Leading) {
				t.Errorf("the journal was closed at %v, before lab-b led (%v)", f.Ended, k.Leading)
			}
			checkProofs(t, rep.Proofs[0], proofNames...)

			var before, after []toolCall
			for _, c := range act.Calls {
				if c.Daemon == "lab-a" {
					if c.Start.After(k.At) {
						after = append(after, c)
					}
					before = append(before, c)
				}
			}
			if len(after) > 0 {
				t.Errorf("lab-a made calls after it was killed: %v", rep.lab.callLines(after))
			}
			lines := rep.lab.callLines(before)
			want := done[kp.Name]
			if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], want[0]) {
				t.Errorf("lab-a's last call before the kill at %s: %q, want %q; all: %q", kp.Name, lines, want[0], lines)
			}
			for _, l := range lines {
				if strings.HasPrefix(l, want[1]) {
					t.Errorf("lab-a made the held call %q", l)
				}
			}
			// lab-b finished it: srv2 was booted by lab-b.
			inOrder(t, "lab-b's calls", rep.lab.callLines(act.Calls), "lab-b srv2: chassis power on exit 0")
		})
	}
}

// TestPreemptionOnRealPeers: after act 1, srv2 (running erp) fails with
// no standby left; srv3, running batch at a lower priority, is shut down
// through IPMI, its boot LUN parked (masked to nobody, as planned: batch
// has nowhere to go), and erp's LUN ends on srv3.
func TestPreemptionOnRealPeers(t *testing.T) {
	rep := runLab(t, Options{Preempt: true})
	if len(rep.Acts) != 2 || len(rep.Proofs) != 2 || len(rep.Phases) != 2 {
		t.Fatalf("acts %d, proofs %d, phases %d", len(rep.Acts), len(rep.Proofs), len(rep.Phases))
	}
	checkProofs(t, rep.Proofs[0], proofNames...)
	act := rep.Acts[1]
	f := act.Failover.Failover
	if f.Outcome != "done" || f.Plan == nil || len(f.Plan.Preemptions) != 1 {
		t.Fatalf("failover %s: %s, plan %s", f.ID, f.Outcome, f.PlanText)
	}
	if p := f.Plan.Preemptions[0]; p.Victim != "srv3" || p.Workload != "batch" || p.RelocateTo != "" {
		t.Errorf("preemption %+v; want srv3's batch stopped (parked)", p)
	}
	checkProofs(t, rep.Proofs[1], append(proofNames, "storage/victim-parked", "etcd/victim-parked")...)
	checkPhases(t, rep.Phases[1])
	if rep.Phases[1].Victim <= 0 {
		t.Errorf("the victim's phase took %v", rep.Phases[1].Victim)
	}
	// At the tools: srv2 forced off; srv3 shut down (it has no fault: a
	// graceful shutdown, which its OS honours); batch's LUN unmasked
	// from srv3 before erp's is masked to it.
	inOrder(t, "calls", rep.lab.callLines(act.Calls),
		"lab-a srv2: chassis power off exit 0",
		"lab-a srv3: chassis power soft exit 0",
		"lab-a unbind tid 2 iqn.2026-12.org.coldstandby.lab:srv3 exit 0",
		"lab-a bind tid 1 iqn.2026-12.org.coldstandby.lab:srv3 exit 0",
		"lab-a srv3: chassis bootdev disk",
		"lab-a srv3: chassis power on exit 0")
}
