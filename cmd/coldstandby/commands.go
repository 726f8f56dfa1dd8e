package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/site"
	"github.com/coldstandby/coldstandby/internal/report"
	"github.com/coldstandby/coldstandby/search"
)

// env is what the command reads and writes outside its arguments.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	reg            *site.Registry
	// signals, when set, replaces the process's signals for serve.
	signals func() (<-chan os.Signal, func())
}

// app holds the global flags.
type app struct {
	env
	sitePath, state, output string
}

// codeError carries an exit code.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *codeError) Unwrap() error { return e.err }

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	var ce *codeError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, failover.ErrFencingFailed):
		return exitFencing
	case errors.Is(err, failover.ErrNoSpare):
		return exitNoSpare
	case errors.Is(err, failover.ErrInvalid):
		return exitInvalid
	case errors.Is(err, failover.ErrNotFound):
		return exitNotFound
	case errors.Is(err, failover.ErrConflict):
		return exitConflict
	}
	return exitFailure
}

func run(ctx context.Context, args []string, e env) int {
	a := &app{env: e}
	root := a.root()
	root.SetArgs(args)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	if errors.As(err, new(*codeError)) {
		// ours
	} else if cmd == nil || strings.HasPrefix(err.Error(), "unknown command") {
		code = exitUsage // cobra's own error (flags and arguments are wrapped)
	}
	var ce *codeError
	if !errors.As(err, &ce) || ce.err != nil {
		fmt.Fprintln(e.stderr, "coldstandby:", err)
	}
	return code
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "coldstandby",
		Short:         "Cold-standby failover of servers that boot from SAN disks, driven by a site file",
		SilenceErrors: true,
		SilenceUsage:  true,
		Long: `coldstandby acts on the data centre a site file describes.

The site file is --site, else $COLDSTANDBY_SITE, else ./site.yaml. The store
is the one the site names (a bbolt file beside it by default, or etcd), or
the bbolt file --state. A store with no records gets the site applied first.

Exit codes: 0 success, 1 failure, 2 usage, 3 invalid site or records,
4 no spare, 5 conflict (refused, busy), 6 not found, 7 fencing failed,
8 diff found changes.`,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if a.output != "table" && a.output != "json" {
				return &codeError{exitUsage, fmt.Errorf("-o %q: want table or json", a.output)}
			}
			return nil
		},
	}
	root.PersistentFlags().StringVar(&a.sitePath, "site", "", "the site file (default $COLDSTANDBY_SITE, else site.yaml)")
	root.PersistentFlags().StringVar(&a.state, "state", "", "a bbolt state file to use instead of the site's store")
	root.PersistentFlags().StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	// Cobra reports usage errors itself; ours keep SilenceUsage.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &codeError{exitUsage, err} })
	root.AddCommand(a.validate(), a.diff(), a.apply(), a.status(), a.plan(), a.coverage(), a.failover(),
		a.failback(), a.markStandby(), a.recover(), a.journal(), a.schema(), a.serve())
	for _, c := range root.Commands() {
		c.Args = wrapArgs(c.Args)
	}
	return root
}

func wrapArgs(f cobra.PositionalArgs) cobra.PositionalArgs {
	if f == nil {
		f = cobra.NoArgs
	}
	return func(cmd *cobra.Command, args []string) error {
		if err := f(cmd, args); err != nil {
			return &codeError{exitUsage, err}
		}
		return nil
	}
}

func (a *app) path() string {
	return cmp.Or(a.sitePath, a.getenv("COLDSTANDBY_SITE"), "site.yaml")
}

func (a *app) json() bool { return a.output == "json" }

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (a *app) load() (*site.Site, error) { return site.Load(a.path()) }

func (a *app) buildOpts() []site.BuildOption {
	if a.state != "" {
		return []site.BuildOption{site.WithStatePath(a.state)}
	}
	return nil
}

// ensureApplied applies the site to a store that has no records yet.
func (a *app) ensureApplied(ctx context.Context, s *site.Site, st failover.Store) error {
	recs, err := st.List(ctx)
	if err != nil || len(recs) > 0 {
		return err
	}
	if _, err := s.Apply(ctx, st); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "coldstandby: the store was empty; applied the site (%d servers)\n", len(s.Servers))
	return nil
}

// parts loads the site, applies it to an empty store, and builds the
// drivers and an Orchestrator.
func (a *app) parts(ctx context.Context) (*site.Parts, *failover.Orchestrator, error) {
	s, err := a.load()
	if err != nil {
		return nil, nil, err
	}
	st, closeStore, err := s.OpenStore(ctx, a.reg, a.buildOpts()...)
	if err != nil {
		return nil, nil, err
	}
	err = a.ensureApplied(ctx, s, st)
	if cerr := closeStore(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, err
	}
	p, err := site.Build(ctx, s, a.reg, a.buildOpts()...)
	if err != nil {
		return nil, nil, err
	}
	o, err := p.Orchestrator()
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	return p, o, nil
}

// withParts runs fn with built parts and closes them after.
func (a *app) withParts(cmd *cobra.Command, fn func(ctx context.Context, p *site.Parts, o *failover.Orchestrator) error) error {
	ctx := cmd.Context()
	p, o, err := a.parts(ctx)
	if err != nil {
		return err
	}
	err = fn(ctx, p, o)
	if cerr := p.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return err
}

func (a *app) validate() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the site file and report every problem with its path and line",
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.load()
			var se *site.Error
			if err != nil && !errors.As(err, &se) {
				return err
			}
			if a.json() {
				out := struct {
					File     string         `json:"file"`
					Valid    bool           `json:"valid"`
					Servers  int            `json:"servers,omitempty"`
					Problems []site.Problem `json:"problems,omitempty"`
				}{File: a.path(), Valid: err == nil}
				if se != nil {
					out.Problems = se.Problems
				} else {
					out.Servers = len(s.Servers)
				}
				if perr := a.printJSON(out); perr != nil {
					return perr
				}
				if err != nil {
					return &codeError{exitInvalid, nil}
				}
				return nil
			}
			if err != nil {
				fmt.Fprintln(a.stdout, err)
				return &codeError{exitInvalid, nil}
			}
			fmt.Fprintf(a.stdout, "%s: valid: %d servers, %d arrays, %d fabrics, %d switches\n", a.path(), len(s.Servers), len(s.Arrays), len(s.Fabrics), len(s.Switches))
			return nil
		},
	}
}

func (a *app) storeOf(ctx context.Context) (*site.Site, failover.Store, func() error, error) {
	s, err := a.load()
	if err != nil {
		return nil, nil, nil, err
	}
	st, closeStore, err := s.OpenStore(ctx, a.reg, a.buildOpts()...)
	if err != nil {
		return nil, nil, nil, err
	}
	return s, st, closeStore, nil
}

func writeDiff(w io.Writer, d *site.Diff) {
	if d.Empty() && len(d.Changes) == 0 {
		fmt.Fprintf(w, "no changes (%d servers unchanged)\n", d.Unchanged)
		return
	}
	sign := map[site.ChangeKind]string{site.Add: "+", site.Update: "~", site.Remove: "-"}
	for _, c := range d.Changes {
		fmt.Fprintf(w, "%s %s\n", sign[c.Kind], c.Server)
		for _, f := range c.Fields {
			switch {
			case f.Kept:
				fmt.Fprintf(w, "    %s: %s (site: %s) kept: %s\n", f.Field, dash(f.From), dash(f.To), f.Why)
			case c.Kind == site.Add:
				fmt.Fprintf(w, "    %s: %s\n", f.Field, f.To)
			case c.Kind == site.Remove:
				fmt.Fprintf(w, "    %s: %s\n", f.Field, f.From)
			default:
				fmt.Fprintf(w, "    %s: %s -> %s\n", f.Field, dash(f.From), dash(f.To))
			}
		}
		if c.Refused != "" {
			fmt.Fprintf(w, "    REFUSED: %s\n", c.Refused)
		}
	}
	fmt.Fprintf(w, "%d servers unchanged\n", d.Unchanged)
}

func dash(s string) string { return cmp.Or(s, "-") }

func (a *app) diff() *cobra.Command {
	return &cobra.Command{
		Use:   "diff",
		Short: "Show what apply would change in the store (exit 8 when there is something)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, st, closeStore, err := a.storeOf(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			d, err := s.Diff(cmd.Context(), st)
			if err != nil {
				return err
			}
			if a.json() {
				err = a.printJSON(d)
			} else {
				writeDiff(a.stdout, d)
			}
			if err == nil && !d.Empty() {
				return &codeError{exitChanges, nil}
			}
			return err
		},
	}
}

func (a *app) apply() *cobra.Command {
	return &cobra.Command{
		Use:   "apply",
		Short: "Write the site into the store with compare-and-set, keeping runtime state",
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, st, closeStore, err := a.storeOf(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			d, err := s.Apply(cmd.Context(), st)
			if d != nil {
				if a.json() {
					if perr := a.printJSON(struct {
						*site.Diff
						Applied bool `json:"applied"`
					}{d, err == nil}); perr != nil {
						return perr
					}
				} else {
					writeDiff(a.stdout, d)
					if err == nil {
						fmt.Fprintln(a.stdout, "applied")
					}
				}
			}
			return err
		},
	}
}

func (a *app) status() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the server table from the store",
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, st, closeStore, err := a.storeOf(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			if err := a.ensureApplied(cmd.Context(), s, st); err != nil {
				return err
			}
			recs, err := st.List(cmd.Context())
			if err != nil {
				return err
			}
			rows := report.Servers(recs)
			if a.json() {
				return a.printJSON(rows)
			}
			return report.WriteServers(a.stdout, rows)
		},
	}
}

// planOut is plan's JSON.
type planOut struct {
	Server string                 `json:"server"`
	Plan   string                 `json:"plan"`
	Why    report.Why             `json:"why"`
	Steps  []failover.PlannedStep `json:"steps,omitempty"`
	Error  string                 `json:"error,omitempty"`
}

func (a *app) plan() *cobra.Command {
	return &cobra.Command{
		Use:   "plan SERVER",
		Short: "Dry run: the plan if SERVER failed now, why its spare won, and the steps",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withParts(cmd, func(ctx context.Context, p *site.Parts, o *failover.Orchestrator) error {
				id := search.ServerID(args[0])
				dr, err := o.DryRun(ctx, id)
				if errors.Is(err, failover.ErrNotFound) {
					return err
				}
				recs, lerr := p.Store.List(ctx)
				if lerr != nil {
					return lerr
				}
				why, _ := report.Explain(recs, id, p.Site.SearchOptions()...)
				out := planOut{Server: args[0], Plan: dr.Plan.String(), Why: why, Steps: dr.Steps}
				if err != nil {
					out.Error = err.Error()
				}
				if a.json() {
					if perr := a.printJSON(out); perr != nil {
						return perr
					}
				} else {
					fmt.Fprintf(a.stdout, "plan:  %s\n", out.Plan)
					if err == nil {
						report.WriteWhy(a.stdout, why)
						writeSteps(a.stdout, dr.Steps)
					} else {
						fmt.Fprintln(a.stdout, "error:", err)
					}
				}
				if err != nil {
					return &codeError{exitCode(err), nil}
				}
				return nil
			})
		},
	}
}

func writeSteps(w io.Writer, steps []failover.PlannedStep) {
	fmt.Fprintln(w, "steps:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range steps {
		note := ""
		if s.Skipped != "" {
			note = "skipped: " + s.Skipped
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.Step, s.Target, s.Driver, note)
	}
	tw.Flush()
}

func (a *app) coverage() *cobra.Command {
	return &cobra.Command{
		Use:   "coverage",
		Short: "Which active servers have a spare now, and how many failures each hardware class absorbs (exit 4 when one has none)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withParts(cmd, func(ctx context.Context, _ *site.Parts, o *failover.Orchestrator) error {
				cov, err := o.Coverage(ctx)
				if err != nil {
					return err
				}
				type srv struct {
					Server  string `json:"server"`
					Covered bool   `json:"covered"`
					Plan    string `json:"plan"`
				}
				type class struct {
					Hardware string `json:"hardware"`
					Active   int    `json:"active"`
					Standby  int    `json:"standby"`
					Absorb   int    `json:"absorb"`
				}
				var out struct {
					Servers []srv   `json:"servers"`
					Classes []class `json:"classes"`
				}
				uncovered := 0
				for _, s := range cov.Servers {
					ok := s.Plan.Kind != 0
					if !ok {
						uncovered++
					}
					out.Servers = append(out.Servers, srv{string(s.Server), ok, s.Plan.String()})
				}
				for _, c := range cov.Classes {
					h := c.Hardware
					out.Classes = append(out.Classes, class{fmt.Sprintf("%s %dMHz %dGiB %s", h.CPUModel, h.CPUMHz, h.MemoryMiB/1024, h.Chipset), c.Active, c.Standby, c.Absorb})
				}
				if a.json() {
					err = a.printJSON(out)
				} else {
					tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
					fmt.Fprintln(tw, "SERVER\tCOVERED\tPLAN")
					for _, s := range out.Servers {
						fmt.Fprintf(tw, "%s\t%v\t%s\n", s.Server, s.Covered, s.Plan)
					}
					fmt.Fprintln(tw, "\nHARDWARE\tACTIVE\tSTANDBY\tABSORBS")
					for _, c := range out.Classes {
						fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", c.Hardware, c.Active, c.Standby, c.Absorb)
					}
					err = tw.Flush()
				}
				if err == nil && uncovered > 0 {
					return &codeError{exitNoSpare, nil}
				}
				return err
			})
		},
	}
}

// resultOut is a failover's JSON.
type resultOut struct {
	ID         string         `json:"id"`
	Server     string         `json:"server"`
	Outcome    string         `json:"outcome"`
	Plan       string         `json:"plan"`
	Why        *report.Why    `json:"why,omitempty"`
	Timeline   []report.Step  `json:"timeline,omitempty"`
	Spares     []report.Spare `json:"spares,omitempty"`
	Duration   string         `json:"duration"`
	Invariants string         `json:"invariants,omitempty"`
	Error      string         `json:"error,omitempty"`
}

// result renders a failover's result: what ran, what the spares hold now,
// and, on a simulation, the safety invariants checked.
func (a *app) result(ctx context.Context, p *site.Parts, res failover.Result, why *report.Why) error {
	out := resultOut{ID: res.ID, Server: string(res.Server), Outcome: string(res.Outcome), Plan: res.Plan.String(), Why: why,
		Timeline: report.Timeline(res), Duration: res.Duration.String()}
	if res.Outcome == failover.OutcomeDone {
		out.Spares = report.Spares(ctx, p.Drivers, p.Store, res.Plan)
	}
	if res.Err != nil {
		out.Error = res.Err.Error()
	}
	if w, ok := fakeWorld(p); ok {
		if err := w.CheckInvariants(nil); err != nil {
			out.Invariants = "VIOLATED: " + err.Error()
		} else {
			out.Invariants = "I1 fence first, I2 one writer, I3 nothing lost: hold"
		}
	}
	if a.json() {
		return a.printJSON(out)
	}
	w := a.stdout
	fmt.Fprintf(w, "failover %s: %s\n", dash(out.ID), out.Server)
	fmt.Fprintf(w, "plan:  %s\n", out.Plan)
	if why != nil {
		report.WriteWhy(w, *why)
	}
	if len(out.Timeline) > 0 {
		fmt.Fprintln(w, "timeline:")
		report.WriteTimeline(w, out.Timeline)
	}
	if len(out.Spares) > 0 {
		fmt.Fprintln(w, "now:")
		report.WriteSpares(w, out.Spares)
	}
	fmt.Fprintf(w, "outcome: %s in %s\n", out.Outcome, out.Duration)
	if out.Invariants != "" {
		fmt.Fprintf(w, "invariants: %s\n", out.Invariants)
	}
	if out.Error != "" {
		fmt.Fprintf(w, "error: %s\n", out.Error)
	}
	return nil
}

// fakeWorld is the simulation of a site on fake drivers, if it has one.
func fakeWorld(p *site.Parts) (*fake.World, bool) {
	v, err := p.Env().Shared("fake", func() (any, error) { return nil, errors.New("none") })
	if err != nil {
		return nil, false
	}
	w, ok := v.(*fake.World)
	return w, ok
}

func (a *app) failover() *cobra.Command {
	var yes bool
	var fault string
	cmd := &cobra.Command{
		Use:   "failover SERVER --yes",
		Short: "Fail SERVER over now: fence it, move its disks to a spare, boot the spare",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return &codeError{exitUsage, fmt.Errorf("failover %s powers %s off and moves its boot disks: add --yes", args[0], args[0])}
			}
			return a.withParts(cmd, func(ctx context.Context, p *site.Parts, o *failover.Orchestrator) error {
				id := search.ServerID(args[0])
				recs, err := p.Store.List(ctx)
				if err != nil {
					return err
				}
				var why *report.Why
				if w, err := report.Explain(recs, id, p.Site.SearchOptions()...); err == nil {
					why = &w
				}
				res, err := o.HandleFault(ctx, bmc.Fault{Server: args[0], Type: bmc.FaultType(fault), Detail: "requested with coldstandby failover"})
				if perr := a.result(ctx, p, res, why); perr != nil {
					return perr
				}
				if err != nil {
					return &codeError{exitCode(err), nil}
				}
				if res.Outcome != failover.OutcomeDone {
					return &codeError{exitFailure, nil}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "really fail the server over")
	cmd.Flags().StringVar(&fault, "fault", "operator", "the fault type to handle (the fault-action table applies; operator is not in the default table, so it fails over now)")
	return cmd
}

func (a *app) failback() *cobra.Command {
	return &cobra.Command{
		Use:   "failback HOME",
		Short: "Move the workload that left HOME in a failover back to it (HOME must be standby)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withParts(cmd, func(ctx context.Context, p *site.Parts, o *failover.Orchestrator) error {
				res, err := o.Failback(ctx, search.ServerID(args[0]))
				if res.ID == "" && err != nil {
					return err
				}
				if perr := a.result(ctx, p, res, nil); perr != nil {
					return perr
				}
				if err != nil {
					return &codeError{exitCode(err), nil}
				}
				return nil
			})
		},
	}
}

func (a *app) markStandby() *cobra.Command {
	return &cobra.Command{
		Use:   "mark-standby SERVER",
		Short: "Return a repaired server (failed or in maintenance) to the standby pool",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withParts(cmd, func(ctx context.Context, _ *site.Parts, o *failover.Orchestrator) error {
				if err := o.MarkStandby(ctx, search.ServerID(args[0])); err != nil {
					return err
				}
				if a.json() {
					return a.printJSON(map[string]string{"server": args[0], "state": string(search.Standby)})
				}
				fmt.Fprintf(a.stdout, "%s is standby\n", args[0])
				return nil
			})
		},
	}
}

func (a *app) recover() *cobra.Command {
	return &cobra.Command{
		Use:   "recover",
		Short: "Finish or roll back every unfinished failover",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withParts(cmd, func(ctx context.Context, _ *site.Parts, o *failover.Orchestrator) error {
				results, err := o.Recover(ctx)
				type rec struct {
					ID      string `json:"id"`
					Server  string `json:"server"`
					Outcome string `json:"outcome"`
					Error   string `json:"error,omitempty"`
				}
				out := []rec{}
				for _, r := range results {
					x := rec{ID: r.ID, Server: string(r.Server), Outcome: string(r.Outcome)}
					if r.Err != nil {
						x.Error = r.Err.Error()
					}
					out = append(out, x)
				}
				if a.json() {
					if perr := a.printJSON(out); perr != nil {
						return perr
					}
				} else if len(out) == 0 {
					fmt.Fprintln(a.stdout, "nothing to recover")
				} else {
					for _, r := range out {
						fmt.Fprintf(a.stdout, "%s %s: %s %s\n", r.ID, r.Server, r.Outcome, r.Error)
					}
				}
				return err
			})
		},
	}
}

func (a *app) journal() *cobra.Command {
	return &cobra.Command{
		Use:   "journal [ID]",
		Short: "List unfinished failovers, or print one failover's journal",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, st, closeStore, err := a.storeOf(ctx)
			if err != nil {
				return err
			}
			defer closeStore()
			if len(args) == 0 {
				ids, err := st.Unfinished(ctx)
				if err != nil {
					return err
				}
				if a.json() {
					return a.printJSON(map[string][]string{"unfinished": append([]string{}, ids...)})
				}
				if len(ids) == 0 {
					fmt.Fprintln(a.stdout, "no unfinished failover")
				}
				for _, id := range ids {
					fmt.Fprintln(a.stdout, id)
				}
				return nil
			}
			j, err := st.Journal(ctx, args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(j)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tTIME\tPHASE\tSTEP\tTARGET\tERROR")
			for _, e := range j {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.UTC().Format("15:04:05"), e.Phase, dash(e.Step), dash(e.Target), strings.ReplaceAll(e.Error, "\n", " "))
			}
			return tw.Flush()
		},
	}
}

func (a *app) schema() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the site file's JSON Schema (for editors)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := a.stdout.Write(site.Schema())
			return err
		},
	}
}
