package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// write makes b durable: in one Batcher.Write when the store has it (a
// lost answer is read back: every entry and record as written means done,
// none of them means not done, and it is tried again), otherwise entry by
// entry (appendEntry) and then one Put. It returns the records as stored,
// and whether the journal entries were written (without a Batcher they
// may be, and the Put still fail).
func (o *Orchestrator) write(ctx context.Context, b Batch) ([]Record, bool, error) {
	bt, ok := o.store.(Batcher)
	if !ok {
		for _, a := range b.Appends {
			for _, e := range a.Entries {
				if err := o.appendEntry(ctx, a.ID, e); err != nil {
					return nil, false, err
				}
			}
		}
		if len(b.Puts) == 0 {
			return nil, true, nil
		}
		recs, err := o.put(ctx, b.Puts...)
		return recs, true, err
	}
	var err error
	for i := 0; i < o.cfg.attempts; i++ {
		var out []Record
		out, err = bt.Write(ctx, b)
		if errors.Is(err, ErrTransient) && i < o.cfg.attempts-1 {
			if o.cfg.clock.Sleep(ctx, o.cfg.timeouts.RetryBase) != nil {
				return nil, false, err
			}
			continue
		}
		if !errors.Is(err, ErrOutcomeUnknown) {
			return out, err == nil, err
		}
		// The answer was lost: read back before acting again.
		written, none, recs, rerr := o.readBack(ctx, b)
		switch {
		case rerr != nil:
			return nil, false, fmt.Errorf("%w (reading back: %w)", err, rerr)
		case written:
			return recs, true, nil
		case !none:
			return nil, false, fmt.Errorf("store write: changed by another writer after a lost answer: %w (%w)", ErrConflict, err)
		}
	}
	return nil, false, err
}

// readBack tells whether a batch whose answer was lost was written
// (every entry in its journal, every record as put) or not written (none
// of it: the journals end before the entries, the records keep the
// revisions they were read at); neither means another writer.
func (o *Orchestrator) readBack(ctx context.Context, b Batch) (written, none bool, recs []Record, err error) {
	written, none = true, true
	for _, a := range b.Appends {
		if len(a.Entries) == 0 {
			continue
		}
		j, err := o.store.Journal(ctx, a.ID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return false, false, nil, err
		}
		if int64(len(j)) < a.Entries[0].Seq {
			written = false
			continue
		}
		none = false
		for _, e := range a.Entries {
			if int64(len(j)) < e.Seq || !sameEntry(j[e.Seq-1], e) {
				written = false
			}
		}
	}
	recs = make([]Record, len(b.Puts))
	for k, want := range b.Puts {
		got, gerr := o.store.Get(ctx, want.ID)
		if errors.Is(gerr, ErrNotFound) {
			written = false
			continue
		}
		if gerr != nil {
			return false, false, nil, gerr
		}
		if got.Revision != want.Revision {
			none = false
		}
		w := want.clone()
		w.Revision = got.Revision
		if got.Revision == want.Revision || !recordEqual(got, w) {
			written = false
		}
		recs[k] = got
	}
	return written, none, recs, nil
}

// appendEntry appends e to journal id, retrying transient errors and
// reading the journal back after a lost answer (never assuming the
// append failed).
func (o *Orchestrator) appendEntry(ctx context.Context, id string, e Entry) error {
	var err error
	for i := 0; i < o.cfg.attempts; i++ {
		err = o.store.Append(ctx, id, e)
		if errors.Is(err, ErrOutcomeUnknown) {
			var again bool
			if again, err = o.appended(ctx, id, e, err); again {
				continue
			}
		}
		if err == nil || !errors.Is(err, ErrTransient) {
			break
		}
	}
	return err
}

// entry builds a journal entry (its Seq is set when it is staged).
func (r *run) entry(phase Phase, step, target string, data any, stepErr error) (Entry, error) {
	e := Entry{Time: r.o.cfg.clock.Now(), Phase: phase, Step: step, Target: target}
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return e, fmt.Errorf("journal %s: %w", step, err)
		}
		e.Data = b
	}
	if stepErr != nil {
		e.Error = stepErr.Error()
	}
	return e, nil
}

// note buffers an entry that need not be durable before the run goes on
// (a step's result, an undo): it is written with the next entry that must
// be (an intent, the end). After a crash a missing result only makes
// Recover undo a step that had finished, which every undo allows.
func (r *run) note(phase Phase, step, target string, data any, stepErr error) {
	e, err := r.entry(phase, step, target, data, stepErr)
	if err != nil {
		return // a result that cannot be encoded is left out
	}
	r.wmu.Lock() // not while a flush numbers and writes the buffer
	r.mu.Lock()
	e.Seq = r.seq + int64(len(r.buf)) + 1
	r.buf = append(r.buf, e)
	r.mu.Unlock()
	r.wmu.Unlock()
}

// flush makes e (an intent, a header, an end; nil for none) durable
// together with the buffered entries and puts, in one write. It returns
// e's Seq and the records as stored (see flushRuns).
func (r *run) flush(ctx context.Context, e *Entry, puts []Record) (int64, []Record, error) {
	seqs, recs, err := r.o.flushRuns(ctx, []*run{r}, []*Entry{e}, puts)
	if seqs == nil {
		return 0, nil, err
	}
	return seqs[0], recs, err
}

// flushRuns writes, in one Batch, each run's buffered entries and its
// intents[i] (nil for none), with puts. It returns each intent's Seq and
// the records as stored. A journal that cannot be written means its runs
// must stop acting: they die; a write that changed nothing, or only
// failed its puts, returns its error (ErrConflict for a lost
// compare-and-set: the caller re-reads) and the runs live, their entries
// written or not as the store says.
func (o *Orchestrator) flushRuns(ctx context.Context, runs []*run, intents []*Entry, puts []Record, after ...*Entry) ([]int64, []Record, error) {
	for _, r := range runs {
		if r.stopped() {
			return nil, nil, r.deadErr()
		}
	}
	order := slices.Clone(runs)
	slices.SortFunc(order, func(a, b *run) int { return strings.Compare(a.id, b.id) })
	for _, r := range order {
		r.wmu.Lock()
		defer r.wmu.Unlock()
	}
	seqs := make([]int64, len(runs))
	b := Batch{Puts: puts}
	for i, r := range runs {
		r.mu.Lock()
		entries := slices.Clone(r.buf)
		seqs[i] = r.seq + int64(len(entries))
		if e := intents[i]; e != nil {
			seqs[i]++
			e.Seq = seqs[i]
			entries = append(entries, *e)
		}
		if i == 0 {
			for k, e := range after { // a single run's entries after its intent
				e.Seq = seqs[i] + int64(k) + 1
				entries = append(entries, *e)
			}
		}
		r.mu.Unlock()
		if len(entries) > 0 {
			b.Appends = append(b.Appends, Append{ID: r.id, Entries: entries})
		}
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.timeouts.Step)
	defer cancel()
	recs, appended, err := o.write(wctx, b)
	if appended {
		for i, r := range runs {
			r.mu.Lock()
			r.seq, r.buf = seqs[i], nil
			if i == 0 {
				r.seq += int64(len(after))
			}
			r.mu.Unlock()
		}
	}
	if err != nil {
		// The runs must stop when their journals' state is unknown (an
		// answer lost and not read back, an append that failed) or when
		// they lost leadership; a write that changed nothing (a
		// Batcher's) or only failed its records (the entries written)
		// fails the caller's step instead.
		fatal := errors.Is(err, ErrNotLeader) || (!appended && (o.unbatchedStore() || errors.Is(err, ErrOutcomeUnknown)))
		if !fatal {
			return seqs, nil, err
		}
		for _, r := range runs {
			r.kill(fmt.Errorf("failover %s: journal: %w", r.id, err))
		}
		return nil, nil, runs[0].deadErr()
	}
	return seqs, recs, nil
}
