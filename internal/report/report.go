// Package report renders what coldstandby did and would do for people:
// the server table, a plan with why its spare won, a failover's result
// with the volumes and LUN numbers, zones and VLANs the spare has now,
// coverage and journals. The quickstart and the coldstandby command share
// it, so that the words in the README match what both print.
package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// Server is one row of the server table.
type Server struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Workload  string `json:"workload,omitempty"`
	Priority  int    `json:"priority,omitempty"`
	Partition string `json:"partition,omitempty"`
	Hardware  string `json:"hardware"`
	DiskArray string `json:"diskArray,omitempty"`
	Zone      string `json:"zone,omitempty"`
	VLANs     []int  `json:"vlans,omitempty"`
	Held      string `json:"reservation,omitempty"`
	Home      string `json:"home,omitempty"`
	MovedTo   string `json:"movedTo,omitempty"`
	Parked    int    `json:"parkedVolumes,omitempty"`
	Note      string `json:"note,omitempty"`
}

// Servers turns records into table rows.
func Servers(recs []failover.Record) []Server {
	out := make([]Server, len(recs))
	for i, r := range recs {
		h := r.Hardware
		out[i] = Server{ID: string(r.ID), State: string(r.State), Workload: r.Workload, Priority: r.Priority,
			Partition: string(r.Partition), Hardware: fmt.Sprintf("%s %dMHz %dGiB", h.CPUModel, h.CPUMHz, h.MemoryMiB/1024),
			DiskArray: r.DiskArray, Zone: r.Zone, VLANs: r.VLANs, Held: r.Reservation, Home: string(r.Home),
			MovedTo: string(r.MovedTo), Parked: len(r.Parked), Note: r.Note}
	}
	return out
}

func dash(s string) string { return cmp.Or(s, "-") }

func vlans(v []int) string {
	if len(v) == 0 {
		return "-"
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

// WriteServers prints the server table.
func WriteServers(w io.Writer, rows []Server) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tSTATE\tWORKLOAD\tPARTITION\tARRAY\tZONE\tVLANS\tNOTE")
	for _, r := range rows {
		wl := "-"
		if r.Workload != "" {
			wl = fmt.Sprintf("%s(%d)", r.Workload, r.Priority)
		}
		var notes []string
		if r.Held != "" {
			notes = append(notes, "held by "+r.Held)
		}
		if r.Home != "" {
			notes = append(notes, "home "+r.Home)
		}
		if r.MovedTo != "" {
			notes = append(notes, "moved to "+r.MovedTo)
		}
		if r.Parked > 0 {
			notes = append(notes, fmt.Sprintf("%d volume(s) parked", r.Parked))
		}
		if r.Note != "" {
			notes = append(notes, r.Note)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.State, wl, dash(r.Partition), dash(r.DiskArray), dash(r.Zone), vlans(r.VLANs), dash(strings.Join(notes, "; ")))
	}
	return tw.Flush()
}

// Why explains a plan: the runners-up search would pick if the winners
// were gone, and how many candidates each attribute ruled out (search's
// own explanation once no candidate is left).
type Why struct {
	Plan string `json:"plan"`
	// Alternatives are the next plans, best first, each found with the
	// spares of the plans before it set aside.
	Alternatives []string `json:"alternatives,omitempty"`
	// RuledOut is search's count of why every other candidate was
	// rejected ("0/11 servers: 8 not standby or active, 1 other disk
	// array, ...").
	RuledOut string `json:"ruledOut,omitempty"`
}

// maxAlternatives bounds the runners-up Explain looks for.
const maxAlternatives = 3

// Explain asks search, over the records (reserved servers taken) and
// opts, for the plan of server, then again with the plan's servers set
// aside, until no spare is left or maxAlternatives runners-up are found.
func Explain(recs []failover.Record, server search.ServerID, opts ...search.Option) (Why, error) {
	servers := make([]search.Server, len(recs))
	for i, r := range recs {
		servers[i] = r.Server
		if r.Reservation != "" {
			servers[i].State = search.Reserved
		}
	}
	inv, err := search.NewInventory(servers, opts...)
	if err != nil {
		return Why{}, err
	}
	plan, err := inv.Find(server)
	if err != nil {
		return Why{Plan: plan.String(), RuledOut: reason(err)}, err
	}
	why := Why{Plan: plan.String()}
	for range maxAlternatives + 1 {
		var aside []search.Server
		for _, id := range used(plan) {
			s, _ := inv.Server(id)
			s.State = search.Maintenance
			aside = append(aside, s)
		}
		if inv, err = inv.With(aside...); err != nil {
			return why, err
		}
		plan, err = inv.Find(server)
		if errors.Is(err, search.ErrNoSpare) {
			why.RuledOut = reason(err)
			return why, nil
		}
		if err != nil {
			return why, err
		}
		if len(why.Alternatives) == maxAlternatives {
			why.Alternatives = append(why.Alternatives, "...")
			return why, nil
		}
		why.Alternatives = append(why.Alternatives, plan.String())
	}
	return why, nil
}

// reason keeps the counts of a no-spare error ("0/11 servers: 9 other
// chipset, ...").
func reason(err error) string {
	s := strings.TrimSuffix(err.Error(), ": "+search.ErrNoSpare.Error())
	if i := strings.Index(s, "servers: "); i >= 0 {
		if j := strings.LastIndex(s[:i], ": "); j >= 0 {
			return s[j+2:]
		}
	}
	return s
}

func used(p search.Plan) []search.ServerID {
	var out []search.ServerID
	for _, a := range p.Assignments {
		out = append(out, a.Spare)
	}
	out = append(out, p.Replacement...)
	for _, v := range p.Preemptions {
		out = append(out, v.Victim, v.RelocateTo)
	}
	slices.Sort(out)
	return slices.DeleteFunc(slices.Compact(out), func(id search.ServerID) bool { return id == "" })
}

// WriteWhy prints an explanation.
func WriteWhy(w io.Writer, why Why) {
	fmt.Fprintf(w, "why:   ")
	switch {
	case len(why.Alternatives) == 0 && why.RuledOut != "":
		fmt.Fprintf(w, "the only candidate; without it: %s\n", why.RuledOut)
	case len(why.Alternatives) == 0:
		fmt.Fprintln(w, "the best candidate")
	default:
		fmt.Fprintln(w, "the best candidate; next would be:")
		for _, a := range why.Alternatives {
			fmt.Fprintf(w, "         %s\n", a)
		}
		if why.RuledOut != "" {
			fmt.Fprintf(w, "       then none: %s\n", why.RuledOut)
		}
	}
}

// Step is one step of a timeline.
type Step struct {
	At       time.Duration `json:"at"`
	Step     string        `json:"step"`
	Target   string        `json:"target"`
	Took     time.Duration `json:"took"`
	Attempts int           `json:"calls"`
	Err      string        `json:"error,omitempty"`
}

// Timeline orders a result's audit by start, reads folded into the step
// they prepare.
func Timeline(res failover.Result) []Step {
	audit := res.Audit // in the failover sequence, parallel steps in a fixed order
	var out []Step
	if len(audit) == 0 {
		return out
	}
	t0 := audit[0].Start
	for _, a := range audit {
		if a.Start.Before(t0) {
			t0 = a.Start
		}
	}
	for _, a := range audit {
		if strings.HasSuffix(a.Step, ".read") || a.Step == "volumes" || a.Step == "storage.check" {
			continue // reads and bookkeeping are folded into the steps they prepare
		}
		out = append(out, Step{At: a.Start.Sub(t0), Step: a.Step, Target: a.Target, Took: a.Duration, Attempts: a.Attempts, Err: a.Err})
	}
	return out
}

// WriteTimeline prints a timeline.
func WriteTimeline(w io.Writer, steps []Step) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  at\tstep\ttarget\ttook\tcalls\t")
	for _, s := range steps {
		note := ""
		if s.Err != "" {
			note = "  " + s.Err
		}
		fmt.Fprintf(tw, "  +%s\t%s\t%s\t%s\t%d\t%s\n", s.At, s.Step, s.Target, s.Took, s.Attempts, note)
	}
	tw.Flush()
}

// Spare is what a server that took over holds now, read from the devices.
type Spare struct {
	Server  string            `json:"server"`
	For     string            `json:"for"`
	Array   string            `json:"array,omitempty"`
	Volumes []storage.Mapping `json:"volumes,omitempty"`
	Zones   []string          `json:"zones,omitempty"` // "fabric/zone"
	Ports   []string          `json:"ports,omitempty"` // "switch/port: setting"
	Errors  []string          `json:"errors,omitempty"`
}

// Spares reads, through the drivers, what each server that took over in
// plan holds now: its volumes and LUNs on its disk array, its zones on
// each fabric, the VLAN setting of its ports. What cannot be read is
// said, not hidden.
func Spares(ctx context.Context, d failover.Drivers, st failover.Store, plan search.Plan) []Spare {
	type pair struct{ from, to search.ServerID }
	var pairs []pair
	for _, a := range plan.Assignments {
		pairs = append(pairs, pair{a.Failed, a.Spare})
	}
	for _, v := range plan.Preemptions {
		if v.RelocateTo != "" {
			pairs = append(pairs, pair{v.Victim, v.RelocateTo})
		}
	}
	var out []Spare
	for _, p := range pairs {
		r, err := st.Get(ctx, p.to)
		sp := Spare{Server: string(p.to), For: string(p.from)}
		if err != nil {
			sp.Errors = append(sp.Errors, err.Error())
			out = append(out, sp)
			continue
		}
		sp.Array = r.DiskArray
		var ins []storage.Initiator
		for _, h := range r.HBAs {
			ins = append(ins, h.Initiator)
		}
		if m := d.DiskMappers[r.DiskArray]; m != nil && len(ins) > 0 {
			maps, err := m.Mappings(ctx, ins)
			if err != nil {
				sp.Errors = append(sp.Errors, err.Error())
			}
			slices.SortFunc(maps, func(a, b storage.Mapping) int {
				return cmp.Or(cmp.Compare(a.LUN, b.LUN), cmp.Compare(a.Volume, b.Volume))
			})
			sp.Volumes = slices.Compact(maps)
		}
		for _, h := range r.HBAs {
			if z := d.FCZoners[h.Fabric]; z != nil && h.Fabric != "" {
				zs, err := z.Zones(ctx, h.Initiator)
				if err != nil {
					sp.Errors = append(sp.Errors, err.Error())
				}
				for _, n := range zs {
					sp.Zones = append(sp.Zones, h.Fabric+"/"+n)
				}
			}
		}
		slices.Sort(sp.Zones)
		sp.Zones = slices.Compact(sp.Zones)
		for _, n := range r.NICs {
			if s := d.VLANSwitches[n.Switch]; s != nil {
				v, err := s.PortVLAN(ctx, n.Port)
				if err != nil {
					sp.Errors = append(sp.Errors, err.Error())
					continue
				}
				sp.Ports = append(sp.Ports, n.Switch+"/"+n.Port+": "+v.String())
			}
		}
		out = append(out, sp)
	}
	return out
}

// WriteSpares prints what the spares hold.
func WriteSpares(w io.Writer, spares []Spare) {
	for _, s := range spares {
		fmt.Fprintf(w, "  %s (for %s):\n", s.Server, s.For)
		if len(s.Volumes) > 0 {
			vs := make([]string, len(s.Volumes))
			for i, v := range s.Volumes {
				vs[i] = fmt.Sprintf("%s LUN %d", v.Volume, v.LUN)
			}
			fmt.Fprintf(w, "    volumes: %s on %s\n", strings.Join(vs, ", "), s.Array)
		}
		if len(s.Zones) > 0 {
			fmt.Fprintf(w, "    zones:   %s\n", strings.Join(s.Zones, ", "))
		}
		if len(s.Ports) > 0 {
			fmt.Fprintf(w, "    vlans:   %s\n", strings.Join(s.Ports, ", "))
		}
		for _, e := range s.Errors {
			fmt.Fprintf(w, "    unread:  %s\n", e)
		}
	}
}
