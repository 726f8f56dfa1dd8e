package daemon

import (
	"context"
	"log/slog"

	"github.com/coldstandby/coldstandby/failover"
)

// LogEvents returns an Orchestrator observer (failover.WithObserver)
// that writes one structured line to l per fault ("fault": the failover
// that handles it, or the outcome when none does), plan ("plan"),
// finished or failed step ("step finished", "step failed" with the
// error), and outcome ("failover ended"), and a line for fencing,
// preemptions, rollbacks and recoveries. Every line about a failover
// has its ID under the key "failover"; the other keys are server, spare,
// step, target, driver, attempts, duration, outcome, fault, plan, err.
func LogEvents(l *slog.Logger) func(failover.Event) {
	return func(e failover.Event) { logEvent(l, e) }
}

func logEvent(l *slog.Logger, e failover.Event) {
	attrs := []slog.Attr{slog.String("failover", e.Failover), slog.String("server", string(e.Server))}
	if e.Spare != "" {
		attrs = append(attrs, slog.String("spare", string(e.Spare)))
	}
	level, msg := slog.LevelInfo, ""
	add := func(a ...slog.Attr) { attrs = append(attrs, a...) }
	fault := func(outcome failover.Outcome) {
		msg = "fault"
		add(slog.String("outcome", string(outcome)), slog.String("fault", e.Detail))
	}
	switch e.Kind {
	case failover.EventFailoverStarted:
		msg = "fault"
		add(slog.String("outcome", "failing-over"), slog.String("fault", e.Detail))
	case failover.EventFailbackStarted:
		msg = "failback"
		add(slog.String("detail", e.Detail))
	case failover.EventFaultReported:
		fault(failover.OutcomeReported)
	case failover.EventFaultAbsorbed:
		fault(failover.OutcomeAbsorbed)
	case failover.EventFaultDeferred:
		fault(failover.OutcomeDeferred)
	case failover.EventFaultCancelled:
		fault(failover.OutcomeCancelled)
	case failover.EventFaultRefused:
		fault(failover.OutcomeRefused)
		level = slog.LevelWarn
	case failover.EventPlanChosen:
		msg = "plan"
		add(slog.String("plan", e.Detail))
	case failover.EventStepStarted:
		msg, level = "step started", slog.LevelDebug
		add(slog.String("step", e.Step), slog.String("target", e.Target), slog.String("driver", e.Driver))
	case failover.EventStepFinished:
		msg = "step finished"
		if e.Err != nil {
			msg, level = "step failed", slog.LevelWarn
		}
		add(slog.String("step", e.Step), slog.String("target", e.Target), slog.String("driver", e.Driver),
			slog.Int("attempts", e.Attempts), slog.String("duration", e.Duration.String()))
	case failover.EventStepSkipped:
		msg = "step skipped"
		add(slog.String("step", e.Step), slog.String("target", e.Target), slog.String("why", e.Detail))
	case failover.EventFenced:
		msg = "fenced"
	case failover.EventFencingFailed:
		msg, level = "fencing failed", slog.LevelError
	case failover.EventServerOn:
		msg, level = "fenced server found on again", slog.LevelWarn
	case failover.EventPreemption:
		msg = "preemption"
		add(slog.String("detail", e.Detail))
	case failover.EventRollback:
		msg, level = "rollback", slog.LevelWarn
	case failover.EventSpareSetAside:
		if e.Failover == "" {
			// A standby's own fault: it leaves the pool.
			fault(failover.OutcomeReported)
		} else {
			msg, level = "spare set aside", slog.LevelWarn
		}
	case failover.EventFailoverDone:
		msg = "failover ended"
		add(slog.String("outcome", string(failover.OutcomeDone)), slog.String("duration", e.Duration.String()))
		if e.Plan != nil {
			add(slog.String("plan", e.Plan.String()))
		}
	case failover.EventNoSpare:
		msg, level = "failover ended", slog.LevelError
		add(slog.String("outcome", string(failover.OutcomeNoSpare)))
	case failover.EventFailoverFailed:
		msg, level = "failover ended", slog.LevelError
		add(slog.String("outcome", e.Detail))
		switch failover.Outcome(e.Detail) {
		case failover.OutcomeFailed, failover.OutcomeInterrupted, failover.OutcomeFencingFailed:
		default:
			msg = "preemption victim not restarted"
		}
	case failover.EventRecovered:
		msg = "recovered"
		add(slog.String("detail", e.Detail))
	default:
		msg = string(e.Kind)
		add(slog.String("detail", e.Detail))
	}
	if e.Err != nil {
		add(slog.String("err", e.Err.Error()))
	}
	l.LogAttrs(context.Background(), level, msg, attrs...)
}
