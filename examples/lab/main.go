// Command lab runs coldstandby's failover on real peers only, on one
// machine, with nothing simulated by coldstandby's own code:
//
//   - one OpenIPMI ipmi_sim BMC per server (three servers: srv1 active
//     with the erp workload, srv2 a cold standby, srv3 active with the
//     low-priority batch workload), driven through bmclib and ipmitool;
//   - tgtd serving a boot LUN per active server, masked to that server's
//     iSCSI initiator name (driver drivers/tgt), read by libiscsi's tools;
//   - Open vSwitch with its user-space data path, one port per server NIC,
//     each NIC in a network namespace that goes down with the server's
//     power (driver drivers/ovs);
//   - etcd, and two `coldstandby serve` daemons on it that elect a leader.
//
// No FC switch runs here: the SAN is iSCSI and the site declares zoning
// not managed. The site file is lab.yaml beside this file.
//
// Act 1: a processor IERR is added to srv1's SEL through IPMI; the
// leader's watcher reads it, the leader fences srv1 (forced off,
// confirmed off through IPMI), moves the boot LUN's masking to srv2's
// initiator with the same LUN number, moves srv2's port to erp's VLAN,
// sets srv2's boot device to disk and powers it on. The lab watches this
// through the daemons' HTTP API, prints the timeline with wall-clock
// times and where the time went, and proves the outcome with the peers'
// own tools. Act 2: srv2 (now running erp) fails too; no standby is
// left, so srv3's batch work is preempted: srv3 is fenced, its boot LUN
// parked (masked to nobody), and erp's LUN ends on srv3.
//
// It needs root and the Debian packages that .ci/run installs (openipmi,
// ipmitool, etcd-server, tgt, libiscsi-bin, openvswitch-switch,
// iputils-ping, iproute2), and Go to build cmd/coldstandby:
//
//	go run ./examples/lab                      # both acts
//	go run ./examples/lab -kill before-boot    # act 1, the leader SIGKILLed at a kill point
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	var cfg Config
	var kill string
	var preempt bool
	flag.StringVar(&cfg.Dir, "dir", "", "an empty or new directory for the peers' files and logs, kept (default: a new temporary one, removed at the end)")
	flag.BoolVar(&cfg.Keep, "keep", false, "keep the default directory at the end (logs, site file)")
	flag.StringVar(&cfg.Coldstandby, "coldstandby", "", "the coldstandby command to run as the daemons (default: go build ./cmd/coldstandby)")
	flag.DurationVar(&cfg.WatchInterval, "watch-interval", 500*time.Millisecond, "how often the daemons read each BMC's event log")
	flag.StringVar(&kill, "kill", "", "SIGKILL the leader at this point of act 1: "+strings.Join(killPointNames(), ", "))
	flag.BoolVar(&preempt, "preempt", true, "run act 2 (preemption) after act 1")
	flag.Parse()
	var kp *KillPoint
	if kill != "" {
		if kp = killPoint(kill); kp == nil {
			fmt.Fprintf(os.Stderr, "lab: unknown kill point %q (known: %s)\n", kill, strings.Join(killPointNames(), ", "))
			os.Exit(2)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	rep, err := Run(ctx, os.Stdout, cfg, Options{Kill: kp, Preempt: preempt && kp == nil})
	if err == nil && len(rep.FailedProofs()) > 0 {
		err = fmt.Errorf("proofs failed: %s", strings.Join(rep.FailedProofs(), ", "))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
		cancel()
		stop()
		os.Exit(1)
	}
}

// Options choose what Run does after starting the lab.
type Options struct {
	// Kill, when set, SIGKILLs the leading daemon at that point of act 1;
	// the other daemon takes the lead and its Recover finishes the
	// failover.
	Kill *KillPoint
	// Preempt runs act 2 after act 1.
	Preempt bool
}

// Report is what Run saw.
type Report struct {
	Acts   []*Act
	Proofs []Proofs
	// Phases of each act that ran without a kill.
	Phases []Phases
	// Kill is what happened at the kill point, when there was one.
	Kill *Kill
	lab  *Lab // stopped when Run returns; its description remains
}

// FailedProofs names the proofs that failed, "act N: name".
func (r *Report) FailedProofs() []string {
	var out []string
	for i, ps := range r.Proofs {
		for _, n := range ps.Failed() {
			out = append(out, fmt.Sprintf("act %d: %s", i+1, n))
		}
	}
	return out
}

// Run starts a lab, runs act 1 (and act 2 with Preempt) and stops the
// lab, writing what it does to w.
func Run(ctx context.Context, w io.Writer, cfg Config, o Options) (*Report, error) {
	w = &syncWriter{w: w}
	fmt.Fprintln(w, "== coldstandby lab: failover on real peers only")
	lab, err := Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer lab.Close()
	lab.Describe(w)
	rep := &Report{lab: lab}
	srv1, srv2, srv3 := lab.Server("srv1"), lab.Server("srv2"), lab.Server("srv3")

	fmt.Fprintln(w, "\n== act 1: srv1 (erp) fails with a processor IERR; standby srv2 takes over")
	act1 := Expect{Failed: srv1, Taker: srv2, Boot: srv1.Boot, VLAN: srv1.VLAN, Workload: srv1.Workload}
	if err := lab.RunAct(ctx, w, rep, act1, o.Kill); err != nil {
		return rep, err
	}
	if !o.Preempt {
		return rep, nil
	}
	fmt.Fprintln(w, "\n== act 2: srv2 (now running erp) fails too; no standby is left: srv3's batch (priority 2) is preempted for erp (priority 8)")
	act2 := Expect{Failed: srv2, Taker: srv3, Victim: srv3, Boot: srv1.Boot, VLAN: srv1.VLAN, Workload: srv1.Workload}
	return rep, lab.RunAct(ctx, w, rep, act2, nil)
}

// RunAct records the boot disk before the fault, fails e.Failed, watches
// the failover (killing the leader at kp), prints its timeline and
// phases, and proves its outcome, adding everything to rep.
func (l *Lab) RunAct(ctx context.Context, w io.Writer, rep *Report, e Expect, kp *KillPoint) error {
	before, err := l.Record(ctx, e.Failed, e.Boot)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "before: as %s, libiscsi sees %s\n", e.Failed.ID, before.Boot)
	var k *Kill
	if kp != nil {
		if k, err = l.armKill(ctx, w, kp); err != nil {
			return err
		}
	}
	act, err := l.Fail(ctx, w, e.Failed)
	if k != nil {
		k.stop() // the failover ended: a kill point not reached by now never will be
		if kerr := k.wait(); err == nil {
			err = kerr
		}
		rep.Kill = k
	}
	rep.Acts = append(rep.Acts, act)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\ntimeline of %s (wall clock; the journal through the API, the daemons' calls through the shims):\n", act.Failover.Failover.ID)
	l.Timeline(w, act)
	if k == nil {
		p, err := l.phases(act, e.Taker)
		if err != nil {
			return err
		}
		rep.Phases = append(rep.Phases, p)
		fmt.Fprintln(w, "\nwall time:")
		p.Print(w)
	} else {
		k.Print(w)
	}
	ps := l.Prove(ctx, act, before, e)
	rep.Proofs = append(rep.Proofs, ps)
	fmt.Fprintln(w, "\nproofs (the peers' own tools):")
	ps.Print(w)
	if f := act.Failover.Failover; f.Outcome != "done" {
		return fmt.Errorf("failover %s ended %s: %s", f.ID, f.Outcome, f.Err)
	}
	return nil
}

// Describe prints the lab's peers.
func (l *Lab) Describe(w io.Writer) {
	fmt.Fprintf(w, "site file  %s (examples/lab/lab.yaml with this run's addresses)\n", l.SitePath)
	for _, s := range l.Servers {
		state, power := "standby", "off"
		if s.Workload != "" {
			state, power = "active, "+s.Workload, "on"
		}
		boot := "no boot LUN"
		if s.Boot != "" {
			boot = "boot LUN " + string(s.Boot)
		}
		fmt.Fprintf(w, "%-10s %s; BMC ipmi_sim at %s (UDP), power %s; initiator %s, %s; NIC on port %s, VLAN %d, %s in namespace %s\n",
			s.ID, state, s.Sim.Addr(), power, s.IQN, boot, s.NIC.Port, s.VLAN, s.NIC.Addr, s.NIC.NS)
	}
	fmt.Fprintf(w, "%-10s tgtd, iSCSI at %s, control port %d (driver tgt; LUN masking by initiator name)\n", "SAN", l.TGT.Portal(), l.TGT.Control)
	fmt.Fprintf(w, "%-10s Open vSwitch (user-space data path) %s, bridge %s (driver ovs)", "network", l.Net.db, l.Net.bridge)
	for _, v := range slices.Sorted(maps.Keys(l.Peers)) {
		fmt.Fprintf(w, "; a host at %s on VLAN %d", l.Peers[v].Addr, v)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-10s not managed: no FC switch runs here (the SAN is iSCSI; fabric fc-lab is declared unmanaged: true)\n", "zoning")
	fmt.Fprintf(w, "%-10s etcd at %s, prefix %s\n", "store", l.Etcd.Endpoint, l.Site.Store.Etcd.Prefix)
	for i, d := range l.Daemons {
		role := "follower"
		if i == 0 {
			role = "leader"
		}
		fmt.Fprintf(w, "%-10s %s serve at %s (%s; log %s)\n", "daemon", d.Name, d.URL, role, d.Log)
	}
}

// syncWriter serialises writes of the watcher and the killer.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
