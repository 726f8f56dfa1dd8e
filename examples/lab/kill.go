package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// KillPoint is a point of a failover where a kill test SIGKILLs the
// leading daemon: just before its first call whose arguments contain
// Pattern (held by the daemon's shim until the daemon is dead).
type KillPoint struct {
	Name, Pattern, Doc string
}

// KillPoints are the points the tests kill the leader at, in failover
// order.
var KillPoints = []KillPoint{
	{"after-fence", " --op unbind ", "srv1 fenced; its boot LUN still masked to it"},
	{"mid-storage", " --op bind ", "the LUN unmasked from srv1, not yet masked to srv2 (masked to nobody)"},
	{"before-boot", " chassis bootdev ", "storage and VLAN moved; srv2's boot device not set"},
	{"before-power-on", " chassis power on ", "srv2's boot device set; srv2 not powered on"},
}

func killPoint(name string) *KillPoint {
	for i := range KillPoints {
		if KillPoints[i].Name == name {
			return &KillPoints[i]
		}
	}
	return nil
}

func killPointNames() []string {
	var out []string
	for _, k := range KillPoints {
		out = append(out, k.Name)
	}
	return out
}

// Kill is what happened at a kill point.
type Kill struct {
	Point  KillPoint
	Victim *daemonProc // the leader that was killed
	Heir   *daemonProc // the daemon that leads after it
	At     time.Time   // when the SIGKILL was sent
	// Leading is when the heir logged that it leads; RolledBack when its
	// Recover logged that it had rolled the dead leader's steps back
	// (before carrying the failover out again); Recovered when it logged
	// that its Recover ended the failover, and RecoveredAs how.
	Leading, RolledBack, Recovered time.Time
	RecoveredAs                    string
	l                              *Lab
	done                           chan error
	stop                           context.CancelFunc
}

// armKill makes the leader's shim hold its first call at kp, and SIGKILLs
// the leader (with the programs it runs) as soon as one is held.
func (l *Lab) armKill(ctx context.Context, w io.Writer, kp *KillPoint) (*Kill, error) {
	leader, err := l.leader(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	k := &Kill{Point: *kp, Victim: leader, l: l, done: make(chan error, 1), stop: cancel}
	for _, d := range l.Daemons {
		if d != leader {
			k.Heir = d
		}
	}
	if err := l.shims.hold(leader.Name, kp.Name, kp.Pattern); err != nil {
		cancel()
		return nil, err
	}
	fmt.Fprintf(w, "kill point %s armed: %s dies just before its first call with %q (%s)\n", kp.Name, leader.Name, strings.TrimSpace(kp.Pattern), kp.Doc)
	go func() {
		err := l.shims.waitHeld(ctx, leader.Name, kp.Name)
		if err == nil {
			k.At = time.Now()
			err = leader.kill()
			fmt.Fprintf(w, "%s  SIGKILL %s (process group) at kill point %s\n", clock(k.At), leader.Name, kp.Name)
		}
		if rerr := l.shims.release(leader.Name, kp.Name); err == nil {
			err = rerr
		}
		k.done <- err
	}()
	return k, nil
}

// wait waits for the kill, then reads from the heir's log when it took
// the lead and what its Recover did. The failover's journal closes
// before the heir logs that its Recover ended, so the log is read again
// until that line is there (or a while has passed).
func (k *Kill) wait() error {
	if err := <-k.done; err != nil {
		return err
	}
	if !k.Victim.killed() {
		return fmt.Errorf("%s was not killed by SIGKILL: %v", k.Victim.Name, k.Victim.cmd.ProcessState)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := k.readHeirLog(); err != nil {
			return err
		}
		if !k.Recovered.IsZero() || time.Now().After(deadline) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (k *Kill) readHeirLog() error {
	f, err := os.Open(k.Heir.Log)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e struct {
			Time     time.Time `json:"time"`
			Msg      string    `json:"msg"`
			Outcome  string    `json:"outcome"`
			Detail   string    `json:"detail"`
			Failover string    `json:"failover"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		switch {
		case e.Msg == "leading" && k.Leading.IsZero():
			k.Leading = e.Time
		case e.Msg == "recovered" && e.Detail == "rolled back" && k.RolledBack.IsZero():
			k.RolledBack = e.Time
		case e.Msg == "recovered" && e.Failover != "" && e.Outcome != "" && k.Recovered.IsZero():
			k.Recovered, k.RecoveredAs = e.Time, e.Outcome
		}
	}
	return sc.Err()
}

// Print says who was killed where, and how the other daemon took over.
func (k *Kill) Print(w io.Writer) {
	fmt.Fprintf(w, "\nkill: %s SIGKILLed at %s (%s: %s)\n", k.Victim.Name, clock(k.At), k.Point.Name, k.Point.Doc)
	if !k.Leading.IsZero() {
		fmt.Fprintf(w, "      %s leads from %s (+%.3fs; its etcd lease TTL is %ds)\n", k.Heir.Name, clock(k.Leading), k.Leading.Sub(k.At).Seconds(), k.l.cfg.LeaseTTL)
	}
	if !k.RolledBack.IsZero() {
		fmt.Fprintf(w, "      its Recover rolled the journaled steps back by %s (+%.3fs), then carried the failover out again in the same journal\n", clock(k.RolledBack), k.RolledBack.Sub(k.At).Seconds())
	}
	if !k.Recovered.IsZero() {
		fmt.Fprintf(w, "      its Recover ended the failover %s at %s (+%.3fs)\n", k.RecoveredAs, clock(k.Recovered), k.Recovered.Sub(k.At).Seconds())
	}
}
