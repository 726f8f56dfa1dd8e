package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// load rebuilds a run from its journal: the header, the step intents not
// undone (the rollback stack), and what the storage steps recorded.
func (r *run) load(j []Entry) error {
	for _, e := range j {
		r.seq = e.Seq
		switch e.Phase {
		case PhaseBegin:
			if err := json.Unmarshal(e.Data, &r.h); err != nil {
				return fmt.Errorf("bad header: %v: %w", err, ErrInvalid)
			}
		case PhaseIntent:
			var rec stepRec
			if err := json.Unmarshal(e.Data, &rec); err != nil {
				return fmt.Errorf("bad entry %d: %v: %w", e.Seq, err, ErrInvalid)
			}
			r.stack = append(r.stack, pending{seq: e.Seq, rec: rec})
			r.remember(rec)
		case PhaseUndone:
			var rec stepRec
			if err := json.Unmarshal(e.Data, &rec); err == nil {
				r.stack = slices.DeleteFunc(r.stack, func(p pending) bool { return p.seq == rec.Of })
			}
		}
	}
	return nil
}

// remember keeps what a journaled step tells later attempts: the volumes
// a server had at the first read, where storage steps moved them, and
// the servers reserved.
func (r *run) remember(rec stepRec) {
	switch rec.Kind {
	case kindVolumes:
		k := volKey{rec.Server, rec.Array}
		if r.vols == nil {
			r.vols = map[volKey][]storage.Mapping{}
		}
		if _, ok := r.vols[k]; !ok {
			r.vols[k] = slices.Clone(rec.Maps)
		}
	case kindStorage, kindPark:
		r.moves = append(r.moves, rec)
	case kindReserve:
		if r.used == nil {
			r.used = map[search.ServerID]bool{}
		}
		for _, x := range rec.Reserved {
			r.used[x.ID] = true
		}
	}
}

// Kinds of failover, in the journal header.
const (
	kindFailover = "failover"
	kindFailback = "failback"
)

// action is what the run answers its fault with: a failback, which
// answers none, acts now.
func (h header) action(o *Orchestrator) Action {
	if h.Kind == kindFailback {
		return ActNow
	}
	return o.rule(h.Fault.Type).Action
}

// header is the Data of a journal's PhaseBegin entry.
type header struct {
	Kind    string            `json:"kind"`
	Server  search.ServerID   `json:"server"`
	Members []search.ServerID `json:"members"`
	// Fault is what a failover answers; a failback answers none.
	Fault bmc.Fault `json:"fault,omitzero"`
	// Home is where a failback moves the workload back to.
	Home search.ServerID `json:"home,omitempty"`
	// Plan is fixed for a failback (no search).
	Plan *search.Plan `json:"plan,omitempty"`
}

// stepRec is the Data of a step's journal entries: everything needed to
// undo the step after a crash, from the journal alone.
type stepRec struct {
	Kind stepKind `json:"kind"`
	// Of is, for undo entries, the Seq of the intent being undone.
	Of int64 `json:"of,omitempty"`

	Server search.ServerID `json:"server,omitempty"` // fenced, booted, or the source of a move
	Spare  search.ServerID `json:"spare,omitempty"`  // the destination of a move
	Victim bool            `json:"victim,omitempty"` // fence of a preemption victim
	WasOn  bool            `json:"was_on,omitempty"`

	Array  string              `json:"array,omitempty"`
	From   []storage.Initiator `json:"from,omitempty"`
	To     []storage.Initiator `json:"to,omitempty"`
	Swap   bool                `json:"swap,omitempty"`
	Maps   []storage.Mapping   `json:"maps,omitempty"`
	Volume storage.VolumeID    `json:"volume,omitempty"`
	LUN    int                 `json:"lun,omitempty"`
	Park   bool                `json:"park,omitempty"`

	Fabric      string            `json:"fabric,omitempty"`
	FailedWWPN  storage.Initiator `json:"failed_wwpn,omitzero"`
	SpareWWPN   storage.Initiator `json:"spare_wwpn,omitzero"`
	FailedZones []string          `json:"failed_zones,omitempty"`
	SpareZones  []string          `json:"spare_zones,omitempty"`

	Switch string           `json:"switch,omitempty"`
	Port   string           `json:"port,omitempty"`
	Set    *fabric.PortVLAN `json:"set,omitempty"`
	Prev   *fabric.PortVLAN `json:"prev,omitempty"`

	Partition string   `json:"partition,omitempty"`
	Members   []string `json:"members,omitempty"`

	Reserved []reservation `json:"reserved,omitempty"`
	Records  []Record      `json:"records,omitempty"`
	Plan     *search.Plan  `json:"plan,omitempty"`
}

type reservation struct {
	ID   search.ServerID `json:"id"`
	Prev search.State    `json:"prev"`
}

type pending struct {
	seq int64
	rec stepRec
}

// push adds a journaled intent to the rollback stack and remembers what
// it tells later attempts.
func (r *run) push(seq int64, rec stepRec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stack = append(r.stack, pending{seq: seq, rec: rec})
	r.remember(rec)
}

// journal writes an entry of the run's journal. The entries that must be
// durable before the run goes on (a step's intent, the header, the end)
// are written at once, with every entry buffered before them; the others
// (a step's result, an undo) are buffered (note). A journal that cannot
// be written means the Orchestrator must stop acting: the run dies.
func (r *run) journal(ctx context.Context, phase Phase, step, target string, data any, stepErr error) (int64, error) {
	switch phase {
	case PhaseIntent, PhaseBegin, PhaseEnd:
		e, err := r.entry(phase, step, target, data, stepErr)
		if err != nil {
			return 0, fmt.Errorf("failover %s: %w", r.id, err)
		}
		seq, _, err := r.flush(ctx, &e, nil)
		return seq, err
	}
	if r.stopped() {
		return 0, r.deadErr()
	}
	r.note(phase, step, target, data, stepErr)
	return 0, nil
}

// appended resolves an Append of e to journal id that returned
// ErrOutcomeUnknown (cause) by reading the journal back: nil when e is
// there (the append took effect), again when the journal still ends just
// before e (it did not: append again), otherwise an error (cause, or the
// read's error; ErrConflict when another entry took e's place).
func (o *Orchestrator) appended(ctx context.Context, id string, e Entry, cause error) (again bool, err error) {
	j, err := o.store.Journal(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound) && e.Seq == 1:
		return true, cause
	case err != nil:
		return false, fmt.Errorf("%w (reading the journal back: %w)", cause, err)
	case int64(len(j)) == e.Seq-1:
		return true, cause
	case int64(len(j)) >= e.Seq && sameEntry(j[e.Seq-1], e):
		return false, nil
	}
	return false, fmt.Errorf("failover: journal %s: entry %d is not ours after a lost answer: %w (%w)", id, e.Seq, ErrConflict, cause)
}

func sameEntry(a, b Entry) bool {
	return a.Seq == b.Seq && a.Phase == b.Phase && a.Step == b.Step && a.Target == b.Target &&
		a.Time.Equal(b.Time) && a.Error == b.Error && jsonEqual(a.Data, b.Data)
}

// jsonEqual compares two JSON documents by value (a store may re-encode).
func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}
