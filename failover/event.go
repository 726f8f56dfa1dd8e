package failover

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/coldstandby/coldstandby/search"
)

// EventKind says what happened.
type EventKind string

// Event kinds.
const (
	EventFaultReported   EventKind = "fault-reported"   // a fault the table says to only report
	EventFaultAbsorbed   EventKind = "fault-absorbed"   // a repeated fault for a server already failing over
	EventFaultCancelled  EventKind = "fault-cancelled"  // a delayed action cancelled: the server recovered
	EventFaultRefused    EventKind = "fault-refused"    // the site is invalid (Check): nothing was done
	EventFaultDeferred   EventKind = "fault-deferred"   // the server is held by another failover, which gets the fault
	EventServerOn        EventKind = "server-on"        // a fenced server was found on again: it is fenced again
	EventFailoverStarted EventKind = "failover-started" // a failover began (journal opened)
	EventFailbackStarted EventKind = "failback-started" // a failback began (journal opened): Server is the source, Spare home
	EventFenced          EventKind = "fenced"           // a server was confirmed off
	EventFencingFailed   EventKind = "fencing-failed"   // a server could not be confirmed off: the failover stops (I1)
	EventPlanChosen      EventKind = "plan-chosen"      // a plan was found and its servers reserved
	EventNoSpare         EventKind = "no-spare"         // search found nothing
	EventPreemption      EventKind = "preemption"       // a victim's workload is relocated or stopped
	EventStepStarted     EventKind = "step-started"
	EventStepFinished    EventKind = "step-finished" // Err set when it failed
	EventStepSkipped     EventKind = "step-skipped"  // no driver configured for it
	EventRollback        EventKind = "rollback"      // an attempt is being rolled back
	EventSpareSetAside   EventKind = "spare-set-aside"
	EventFailoverDone    EventKind = "failover-done"   // committed: the spare runs the workload
	EventFailoverFailed  EventKind = "failover-failed" // gave up (Err says why)
	EventRecovered       EventKind = "recovered"       // Recover finished an interrupted failover
)

// Event is something the Orchestrator did, for observers (dashboards,
// tests). Fields that do not apply are zero.
type Event struct {
	Kind     EventKind
	Time     time.Time
	Failover string          // failover ID
	Server   search.ServerID // the failed server (or the victim, for a preemption)
	Spare    search.ServerID
	Step     string
	Target   string
	Driver   string
	Attempts int
	Duration time.Duration
	Plan     *search.Plan
	Detail   string
	Err      error
}

func (e Event) String() string {
	s := fmt.Sprintf("%s %s", e.Kind, e.Failover)
	if e.Server != "" {
		s += " server=" + string(e.Server)
	}
	if e.Spare != "" {
		s += " spare=" + string(e.Spare)
	}
	if e.Step != "" {
		s += " step=" + e.Step
	}
	if e.Target != "" {
		s += " target=" + e.Target
	}
	if e.Detail != "" {
		s += " " + e.Detail
	}
	if e.Err != nil {
		s += " err=" + e.Err.Error()
	}
	return s
}

// LevelOf is the log level of an event of kind k (WithLogger): errors
// for a failover that failed or a server that could not be fenced;
// warnings for what an operator should look at (a step that failed, a
// rollback, no spare, a refused fault, a fenced server found on, a spare
// set aside); info for a failover's milestones and fault decisions;
// debug for each step's start, skip and success.
func LevelOf(e Event) slog.Level {
	switch e.Kind {
	case EventFailoverFailed, EventFencingFailed:
		return slog.LevelError
	case EventRollback, EventNoSpare, EventFaultRefused, EventServerOn, EventSpareSetAside:
		return slog.LevelWarn
	case EventStepFinished:
		if e.Err != nil {
			return slog.LevelWarn
		}
		return slog.LevelDebug
	case EventStepStarted, EventStepSkipped:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// logEvent writes e to l as one record (WithLogger).
func logEvent(l *slog.Logger, e Event) {
	level := LevelOf(e)
	ctx := context.Background()
	if !l.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 12)
	str := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	str("failover", e.Failover)
	str("server", string(e.Server))
	str("spare", string(e.Spare))
	str("step", e.Step)
	str("target", e.Target)
	str("driver", e.Driver)
	if e.Attempts > 0 {
		attrs = append(attrs, slog.Int("attempts", e.Attempts))
	}
	if e.Duration > 0 {
		attrs = append(attrs, slog.Duration("duration", e.Duration))
	}
	if e.Plan != nil && e.Plan.Kind != 0 {
		attrs = append(attrs, slog.String("plan", e.Plan.String()))
	}
	str("detail", e.Detail)
	if e.Err != nil {
		attrs = append(attrs, slog.String("err", e.Err.Error()))
	}
	l.LogAttrs(ctx, level, string(e.Kind), attrs...)
}
