package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coldstandby/coldstandby/daemon"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/internal/ipmisim"
)

// Act is one failover the lab provokes by a fault in a server's event
// log, as the daemons' API and the peers showed it.
type Act struct {
	Failed   *server
	Injected time.Time // just before the IERR record was added to the SEL
	// Fault is the fault as the daemon that took it (FaultBy) shows it
	// (zero when that daemon was killed before the lab read it).
	Fault    daemon.Fault
	FaultBy  string
	Failover daemon.FailoverDetail
	// Calls are the daemons' changes to BMCs and masking (the shims'
	// log) from the fault on.
	Calls []toolCall
}

// ierr is a processor IERR as a BMC logs it (IPMI 2.0 table 42-3:
// sensor type 07h processor, sensor-specific offset 00h IERR).
var ierr = ipmisim.SELRecord{SensorType: 0x07, SensorNumber: 1, EventType: 0x6f, Offset: 0}

// Fail adds a processor IERR to s's SEL through IPMI (ipmitool sel add)
// and watches, through the daemons' API, what the leader does about it
// until the failover ends, printing each step to w as it appears. It
// returns the act as it ended.
func (l *Lab) Fail(ctx context.Context, w io.Writer, s *server) (*Act, error) {
	act := &Act{Failed: s, Injected: time.Now()}
	if err := s.Sim.WriteSEL(ctx, ierr); err != nil {
		return act, err
	}
	fmt.Fprintf(w, "%s  +%6.3fs  lab    SEL of %s <- Processor #0x01 | IERR | Asserted (ipmitool sel add)\n", clock(act.Injected), 0.0, s.ID)
	return act, l.Watch(ctx, w, act)
}

// Watch follows act's failover through the daemons' API until its
// journal is closed, printing the fault when the leader takes it and
// each step when it ends. A daemon that dies meanwhile is skipped: the
// other one serves the same store.
func (l *Lab) Watch(ctx context.Context, w io.Writer, act *Act) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	since := act.Injected.Add(-time.Second)
	printed := map[string]bool{}
	line := func(at time.Time, who, what string) {
		fmt.Fprintf(w, "%s  +%6.3fs  %-6s %s\n", clock(at), at.Sub(act.Injected).Seconds(), who, what)
	}
	for {
		if act.Fault.ID == "" {
			if d, err := l.leader(ctx); err == nil {
				var fs struct{ Faults []daemon.Fault }
				if d.get(ctx, "/v1/faults", &fs) == nil {
					for _, f := range fs.Faults {
						if f.Server == act.Failed.ID && f.Received.After(since) {
							act.Fault, act.FaultBy = f, d.Name
							line(f.Received, d.Name, fmt.Sprintf("fault taken from the %s: %s %s (%s)", f.Source, f.Server, f.Type, f.Detail))
							break
						}
					}
				}
			}
		}
		d, err := l.reader()
		if err != nil {
			return err
		}
		if act.Failover.Failover.ID == "" {
			var list struct{ Failovers []daemon.Failover }
			if d.get(ctx, "/v1/failovers?limit=10", &list) == nil {
				for _, f := range list.Failovers {
					if string(f.Server) == act.Failed.ID && f.Started.After(since) {
						act.Failover.Failover = f
						line(f.Started, "", "journal "+f.ID+" opened")
						break
					}
				}
			}
		}
		if id := act.Failover.Failover.ID; id != "" {
			var fd daemon.FailoverDetail
			if err := d.get(ctx, "/v1/failovers/"+url.PathEscape(id), &fd); err == nil {
				act.Failover = fd
				for _, st := range fd.Failover.Steps {
					key := strconv.FormatInt(st.Seq, 10) + string(st.Result)
					if st.Result == "" || printed[key] {
						continue
					}
					printed[key] = true
					line(st.End, "", stepLine(st))
				}
				if fd.Failover.Outcome != "" {
					line(fd.Failover.Ended, "", fmt.Sprintf("journal closed: %s (plan %s)", fd.Failover.Outcome, fd.Failover.PlanText))
					calls, err := l.shims.calls()
					for _, c := range calls {
						if !c.Start.Before(act.Injected) {
							act.Calls = append(act.Calls, c)
						}
					}
					return err
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("watching the failover of %s: %w", act.Failed.ID, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func stepLine(st failover.StepInfo) string {
	s := fmt.Sprintf("%s %s: %s in %s", st.Step, st.Target, st.Result, st.End.Sub(st.Start).Round(time.Millisecond))
	if st.Error != "" {
		s += " (" + st.Error + ")"
	}
	return s
}

func clock(t time.Time) string { return t.Format("15:04:05.000") }

// Timeline prints everything act's failover did, sorted by wall-clock
// time: the fault, the journal's steps (start and end) and the
// daemons' calls to the BMCs and the array (through the shims).
func (l *Lab) Timeline(w io.Writer, act *Act) {
	type row struct {
		at        time.Time
		who, what string
	}
	var rows []row
	rows = append(rows, row{act.Injected, "lab", "IERR added to " + act.Failed.ID + "'s SEL"})
	if !act.Fault.Received.IsZero() {
		rows = append(rows, row{act.Fault.Received, act.FaultBy, fmt.Sprintf("fault taken by %s's %s: %s", act.FaultBy, act.Fault.Source, act.Fault.Type)})
	}
	f := act.Failover.Failover
	rows = append(rows, row{f.Started, "journal", "begin " + f.ID})
	for _, st := range f.Steps {
		rows = append(rows, row{st.Start, "journal", st.Step + " " + st.Target})
		if st.Result != "" {
			rows = append(rows, row{st.End, "journal", fmt.Sprintf("  %s %s (%s)", st.Step, st.Result, st.End.Sub(st.Start).Round(time.Millisecond))})
		}
	}
	for _, c := range act.Calls {
		what := fmt.Sprintf("%s %s", c.Tool, l.describeCall(c))
		switch {
		case c.Exit == -1:
			what += " (never ended: its daemon was killed)"
		case c.Exit != 0:
			what += fmt.Sprintf(" (exit %d)", c.Exit)
		default:
			what += fmt.Sprintf(" (%s)", c.End.Sub(c.Start).Round(time.Millisecond))
		}
		rows = append(rows, row{c.Start, c.Daemon, what})
	}
	if f.Outcome != "" {
		rows = append(rows, row{f.Ended, "journal", fmt.Sprintf("end: %s", f.Outcome)})
	}
	slices.SortStableFunc(rows, func(a, b row) int { return a.at.Compare(b.at) })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  wall clock\tsince fault\tby\twhat")
	for _, r := range rows {
		fmt.Fprintf(tw, "  %s\t+%.3fs\t%s\t%s\n", clock(r.at), r.at.Sub(act.Injected).Seconds(), r.who, r.what)
	}
	tw.Flush()
}

// describeCall names the server a BMC call went to (by its port).
func (l *Lab) describeCall(c toolCall) string {
	if c.Tool != "ipmitool" {
		return c.Args
	}
	port, rest, _ := strings.Cut(c.Args, " ")
	for _, s := range l.Servers {
		if strconv.Itoa(s.Sim.Port) == port {
			return s.ID + ": " + rest
		}
	}
	return c.Args
}

// Phases is where the wall time from the fault to the spare powered on
// went. The segments follow each other and add up to Total; Storage and
// VLAN run in parallel within Move.
type Phases struct {
	Total time.Duration
	// SELPoll: until the leader's watcher read the IERR from the SEL.
	SELPoll time.Duration
	// Intake: the fault to the fencing (journal opened, fault-action
	// table).
	Intake time.Duration
	// Fence: forced off and confirmed off through IPMI.
	Fence time.Duration
	// Plan: the spare search and its reservation in the store.
	Plan time.Duration
	// Victim: a preemption victim fenced and its disks parked (zero
	// without one).
	Victim time.Duration
	// Move: storage and VLAN, in parallel; Storage and VLAN are each
	// one's own span.
	Move, Storage, VLAN time.Duration
	// Check: the masking verified and the failed server confirmed off
	// again before anything boots.
	Check time.Duration
	// Boot: the boot device set and the power-on call (until ipmi_sim
	// powered the spare on); BootDevice is the first call's share.
	Boot, BootDevice time.Duration
}

// phases measures act, a failover that ran without interruption.
func (l *Lab) phases(act *Act, spare *server) (Phases, error) {
	f := act.Failover.Failover
	span := func(match func(failover.StepInfo) bool) (start, end time.Time) {
		for _, st := range f.Steps {
			if !match(st) || st.Result == "" {
				continue
			}
			if start.IsZero() || st.Start.Before(start) {
				start = st.Start
			}
			if st.End.After(end) {
				end = st.End
			}
		}
		return start, end
	}
	fenceS, fenceE := span(func(st failover.StepInfo) bool { return st.Step == "fence" && st.Target == act.Failed.ID })
	// The failed server's storage steps (not a victim's parking).
	stoS, stoE := span(func(st failover.StepInfo) bool {
		return (st.Step == "volumes" || st.Step == "storage") && strings.Contains(st.Target, " "+act.Failed.ID)
	})
	vicS, _ := span(func(st failover.StepInfo) bool { return st.Step == "fence" && st.Target != act.Failed.ID })
	vlanS, vlanE := span(func(st failover.StepInfo) bool { return st.Step == "vlan.read" || st.Step == "vlan" })
	bootS, bootE := span(func(st failover.StepInfo) bool { return st.Step == "boot" && st.Target == spare.ID })
	var bootDev, powerOn *toolCall
	for i, c := range act.Calls {
		switch d := l.describeCall(c); {
		case strings.HasPrefix(d, spare.ID+": chassis bootdev") && bootDev == nil:
			bootDev = &act.Calls[i]
		case strings.HasPrefix(d, spare.ID+": chassis power on") && c.Exit == 0:
			powerOn = &act.Calls[i]
		}
	}
	if act.Fault.Received.IsZero() || fenceS.IsZero() || stoS.IsZero() || vlanS.IsZero() || bootS.IsZero() || bootDev == nil || powerOn == nil {
		return Phases{}, fmt.Errorf("failover %s: a milestone is missing (fault taken %v, fence %v, storage %v, VLAN %v, boot %v, calls %d)",
			f.ID, act.Fault.Received, fenceS, stoS, vlanS, bootS, len(act.Calls))
	}
	moveS, moveE := minTime(stoS, vlanS), maxTime(stoE, vlanE)
	planE := moveS
	if !vicS.IsZero() {
		planE = vicS
	}
	on := powerOn.End
	if on.After(bootE) {
		on = bootE
	}
	p := Phases{
		Total:      on.Sub(act.Injected),
		SELPoll:    act.Fault.Received.Sub(act.Injected),
		Intake:     fenceS.Sub(act.Fault.Received),
		Fence:      fenceE.Sub(fenceS),
		Plan:       planE.Sub(fenceE),
		Victim:     moveS.Sub(planE),
		Move:       moveE.Sub(moveS),
		Storage:    stoE.Sub(stoS),
		VLAN:       vlanE.Sub(vlanS),
		Check:      bootS.Sub(moveE),
		Boot:       on.Sub(bootS),
		BootDevice: bootDev.End.Sub(bootDev.Start),
	}
	return p, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Print writes the phases with their shares of the total.
func (p Phases) Print(w io.Writer) {
	pct := func(d time.Duration) string {
		return fmt.Sprintf("%5.1f%%", 100*d.Seconds()/p.Total.Seconds())
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%6d ms", d.Milliseconds()) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  fault -> spare powered on:\t%s\t\t\n", ms(p.Total))
	for _, r := range []struct {
		name string
		d    time.Duration
		note string
	}{
		{"polling the SEL", p.SELPoll, "until the leader's watcher read the IERR"},
		{"intake", p.Intake, "journal opened, fault-action table"},
		{"fencing", p.Fence, "forced off, confirmed off through IPMI"},
		{"plan", p.Plan, "spare search, reservation in etcd"},
		{"victim", p.Victim, "preemption: the victim shut down, confirmed off, its LUN parked"},
		{"storage | VLAN", p.Move, fmt.Sprintf("in parallel: storage %d ms (tgtadm), VLAN %d ms (OVSDB)", p.Storage.Milliseconds(), p.VLAN.Milliseconds())},
		{"checks", p.Check, "masking verified, failed server confirmed off again"},
		{"boot", p.Boot, fmt.Sprintf("boot device %d ms, then power on", p.BootDevice.Milliseconds())},
	} {
		if r.name == "victim" && r.d == 0 {
			continue
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\t  %s\n", r.name, ms(r.d), pct(r.d), r.note)
	}
	tw.Flush()
}

// sum adds the segments: the total, when the milestones are in order.
func (p Phases) sum() time.Duration {
	return p.SELPoll + p.Intake + p.Fence + p.Plan + p.Victim + p.Move + p.Check + p.Boot
}
