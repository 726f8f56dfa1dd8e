package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/search"
)

// Kinds of failover, as FailoverInfo.Kind says.
const (
	KindFailover = kindFailover // a failed server replaced
	KindFailback = kindFailback // a workload moved back home
)

// FailoverInfo is what a failover's journal says about it: for status
// pages, command-line tools and audits. ReadJournal builds it.
type FailoverInfo struct {
	ID      string            `json:"id"`
	Kind    string            `json:"kind"`           // KindFailover or KindFailback
	Server  search.ServerID   `json:"server"`         // the failed server (a failback's source)
	Members []search.ServerID `json:"members"`        // the failed logical server's members
	Fault   bmc.Fault         `json:"fault,omitzero"` // none for a failback
	Home    search.ServerID   `json:"home,omitempty"` // a failback's destination
	// Plan is the last plan this failover reserved (nil if it reserved
	// none).
	Plan *search.Plan `json:"plan,omitempty"`
	// Steps are the journaled steps, one per intent, in journal order,
	// each with how it ended ("" while it runs or when a crash cut it).
	Steps []StepInfo `json:"steps"`
	// Outcome is how it ended; "" while it is unfinished.
	Outcome Outcome   `json:"outcome,omitempty"`
	Err     string    `json:"error,omitempty"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitempty"` // zero while unfinished
}

// Unfinished reports whether the journal is still open.
func (f FailoverInfo) Unfinished() bool { return f.Outcome == "" }

// StepInfo is one journaled step and what became of it.
type StepInfo struct {
	Seq    int64     `json:"seq"` // the intent's Seq
	Step   string    `json:"step"`
	Target string    `json:"target"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end,omitempty"`
	// Result is PhaseDone or PhaseFailed after the step ran, and
	// PhaseUndone once a rollback reversed it ("" if none of these).
	Result Phase  `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

// ReadJournal summarises the journal of failover id. It returns an error
// wrapping ErrInvalid for a journal that does not start with its header.
func ReadJournal(id string, j []Entry) (FailoverInfo, error) {
	info := FailoverInfo{ID: id}
	if len(j) == 0 || j[0].Phase != PhaseBegin {
		return info, fmt.Errorf("failover: journal %s: no header: %w", id, ErrInvalid)
	}
	var h header
	if err := json.Unmarshal(j[0].Data, &h); err != nil {
		return info, fmt.Errorf("failover: journal %s: bad header: %v: %w", id, err, ErrInvalid)
	}
	info.Kind, info.Server, info.Members, info.Fault, info.Home, info.Plan = h.Kind, h.Server, h.Members, h.Fault, h.Home, h.Plan
	info.Started = j[0].Time
	open := map[string]int{} // step+target -> index of its running intent
	key := func(e Entry) string { return e.Step + "\x00" + e.Target }
	for _, e := range j[1:] {
		switch e.Phase {
		case PhaseIntent:
			open[key(e)] = len(info.Steps)
			info.Steps = append(info.Steps, StepInfo{Seq: e.Seq, Step: e.Step, Target: e.Target, Start: e.Time})
			if e.Step == "reserve" {
				var rec stepRec
				if json.Unmarshal(e.Data, &rec) == nil && rec.Plan != nil {
					p := *rec.Plan
					info.Plan = &p
				}
			}
		case PhaseDone, PhaseFailed:
			if i, ok := open[key(e)]; ok {
				info.Steps[i].Result, info.Steps[i].End, info.Steps[i].Error = e.Phase, e.Time, e.Error
				delete(open, key(e))
			}
		case PhaseUndone:
			var rec stepRec
			if json.Unmarshal(e.Data, &rec) == nil {
				for i := range info.Steps {
					if info.Steps[i].Seq == rec.Of {
						info.Steps[i].Result, info.Steps[i].End = PhaseUndone, e.Time
					}
				}
			}
		case PhaseEnd:
			var end map[string]string
			_ = json.Unmarshal(e.Data, &end)
			info.Outcome, info.Err, info.Ended = Outcome(end["outcome"]), end["error"], e.Time
			if info.Outcome == "" {
				info.Outcome = Outcome(e.Target)
			}
		}
	}
	return info, nil
}

// Failover reads and summarises the journal of failover id. Errors:
// ErrNotFound, the store's errors.
func (o *Orchestrator) Failover(ctx context.Context, id string) (FailoverInfo, error) {
	j, err := o.store.Journal(ctx, id)
	if err != nil {
		return FailoverInfo{ID: id}, fmt.Errorf("failover: journal %s: %w", id, err)
	}
	return ReadJournal(id, j)
}

// Unfinished summarises every failover whose journal is still open
// (crashed, interrupted, or running now), sorted by ID.
func (o *Orchestrator) Unfinished(ctx context.Context) ([]FailoverInfo, error) {
	ids, err := o.store.Unfinished(ctx)
	if err != nil {
		return nil, fmt.Errorf("failover: unfinished: %w", err)
	}
	var out []FailoverInfo
	for _, id := range ids {
		info, err := o.Failover(ctx, id)
		if err != nil {
			continue // closed or removed meanwhile, or unreadable
		}
		out = append(out, info)
	}
	return out, nil
}

// JournalLister is an optional capability of a Store that can list every
// failover it keeps a journal of, finished or not: for status pages and
// command-line tools. Failovers returns their IDs sorted.
type JournalLister interface {
	Failovers(ctx context.Context) ([]string, error)
}
