package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/coldstandby/coldstandby/search"
)

// errNoChange makes update write nothing and succeed.
var errNoChange = errors.New("no change")

// update applies fn to the records ids in one compare-and-set, re-reading
// and retrying on conflict.
func (o *Orchestrator) update(ctx context.Context, r *run, idList []search.ServerID, fn func(map[search.ServerID]*Record) error) error {
	_, err := o.updateStored(ctx, r, idList, fn)
	return err
}

// updateStored is update that also returns the records as stored (nil
// when fn changed nothing).
func (o *Orchestrator) updateStored(ctx context.Context, r *run, idList []search.ServerID, fn func(map[search.ServerID]*Record) error) ([]Record, error) {
	var err error
	for i := 0; i < 16; i++ {
		if r != nil && r.stopped() {
			return nil, r.deadErr()
		}
		m := make(map[search.ServerID]*Record, len(idList))
		recs := make([]Record, 0, len(idList))
		for _, id := range idList {
			rec, gerr := o.store.Get(ctx, id)
			if gerr != nil {
				if r != nil {
					r.storeErr(gerr)
				}
				return nil, gerr
			}
			recs = append(recs, rec)
		}
		for i := range recs {
			m[recs[i].ID] = &recs[i]
		}
		if err = fn(m); err != nil {
			if errors.Is(err, errNoChange) {
				return nil, nil
			}
			return nil, err
		}
		var stored []Record
		stored, err = o.put(ctx, recs...)
		if err == nil || !(errors.Is(err, ErrConflict) || retryable(err)) {
			if r != nil {
				r.storeErr(err)
			}
			return stored, err
		}
		if retryable(err) {
			// Nothing written, or a lost answer that could not be read
			// back: read everything again and apply fn again (it is
			// idempotent), after a pause.
			if i >= o.cfg.attempts || o.cfg.clock.Sleep(ctx, o.cfg.timeouts.RetryBase) != nil {
				return nil, err
			}
		}
	}
	return nil, err
}

// put is Store.Put that resolves ErrOutcomeUnknown (a write whose answer
// was lost) by reading the records back: when every record holds what
// was written, the write took effect; when every record still has the
// Revision it was read at, it did not, and is tried again; otherwise
// another writer changed them and put returns ErrConflict, so that the
// caller re-reads as after a lost compare-and-set. It never assumes the
// write failed.
func (o *Orchestrator) put(ctx context.Context, recs ...Record) ([]Record, error) {
	var err error
	for i := 0; i < o.cfg.attempts; i++ {
		var out []Record
		out, err = o.store.Put(ctx, recs...)
		if !errors.Is(err, ErrOutcomeUnknown) {
			return out, err
		}
		cause := err
		untouched, written := true, true
		out = make([]Record, len(recs))
		for k, want := range recs {
			got, gerr := o.store.Get(ctx, want.ID)
			if errors.Is(gerr, ErrNotFound) {
				written = false
				continue // untouched when it was new (Revision 0)
			}
			if gerr != nil {
				return nil, fmt.Errorf("%w (reading back %s: %w)", cause, want.ID, gerr)
			}
			if got.Revision != want.Revision {
				untouched = false
			}
			w := want.clone()
			w.Revision = got.Revision
			if !recordEqual(got, w) {
				written = false
			}
			out[k] = got
		}
		switch {
		case written && !untouched:
			return out, nil
		case untouched:
			err = cause
			continue
		}
		return nil, fmt.Errorf("failover: store put: changed by another writer after a lost answer: %w (%w)", ErrConflict, cause)
	}
	return nil, err
}

// recordEqual compares records by their JSON form (what a durable store
// keeps).
func recordEqual(a, b Record) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// know keeps recs as the run's view of those records (what it read or
// wrote last), so that it does not read them again.
func (r *run) know(recs ...Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recs == nil {
		r.recs = map[search.ServerID]Record{}
	}
	for _, x := range recs {
		if x.ID == "" {
			continue
		}
		if cur, ok := r.recs[x.ID]; !ok || cur.Revision <= x.Revision {
			r.recs[x.ID] = x.clone()
		}
	}
}

// forget drops the run's view of ids (they changed under it).
func (r *run) forget(ids ...search.ServerID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		delete(r.recs, id)
	}
}

// rec returns the run's view of record id, reading it when the run has
// none.
func (r *run) rec(ctx context.Context, id search.ServerID) (Record, error) {
	r.mu.Lock()
	x, ok := r.recs[id]
	r.mu.Unlock()
	if ok {
		return x.clone(), nil
	}
	x, err := r.o.store.Get(ctx, id)
	if err != nil {
		return x, r.storeErr(err)
	}
	r.know(x)
	return x, nil
}

// modify applies fn to the records ids, as the run knows them, and writes
// them with compare-and-set together with e (an entry that must be
// durable, or nil) and the buffered entries, in one write; on a conflict
// it reads them again and retries. fn may return errNoChange (nothing to
// write: only e is written) or an error (nothing is written).
func (r *run) modify(ctx context.Context, ids []search.ServerID, e *Entry, fn func(map[search.ServerID]*Record) error) error {
	var err error
	for try := 0; try < 16; try++ {
		if r.stopped() {
			return r.deadErr()
		}
		recs := make([]Record, 0, len(ids))
		for _, id := range ids {
			x, err := r.rec(ctx, id)
			if err != nil {
				return err
			}
			recs = append(recs, x)
		}
		m := make(map[search.ServerID]*Record, len(recs))
		for i := range recs {
			m[recs[i].ID] = &recs[i]
		}
		if ferr := fn(m); ferr != nil {
			if !errors.Is(ferr, errNoChange) {
				return ferr
			}
			recs = nil
		}
		if len(recs) == 0 && e == nil {
			return nil
		}
		var seq int64
		var stored []Record
		seq, stored, err = r.flush(ctx, e, recs)
		if err == nil {
			r.know(stored...)
			return nil
		}
		if !errors.Is(err, ErrConflict) || r.stopped() {
			return err
		}
		r.forget(ids...)
		if e != nil && r.written(seq) {
			e = nil // written before the records' compare-and-set failed
		}
	}
	return err
}

// written reports whether the entry numbered seq is in the journal.
func (r *run) written(seq int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return seq > 0 && r.seq >= seq
}
