package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/coldstandby/coldstandby/search"
)

// MemStore is an in-memory Store for tests, demos and single-process
// deployments that can afford to lose their journal on restart. It is safe
// for concurrent use. Records and entries are deep-copied on the way in
// and out, as a durable store's serialisation would, so a caller can never
// alias stored state.
type MemStore struct {
	mu       sync.Mutex
	rev      int64
	records  map[search.ServerID]Record
	ids      []search.ServerID // the records' IDs, sorted
	journals map[string][]Entry
	open     map[string]bool // journals not closed by PhaseEnd
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore {
	return &MemStore{records: map[search.ServerID]Record{}, journals: map[string][]Entry{}, open: map[string]bool{}}
}

// clone deep-copies a record.
func (r Record) clone() Record {
	r.VLANs = slices.Clone(r.VLANs)
	r.HBAs = slices.Clone(r.HBAs)
	r.NICs = slices.Clone(r.NICs)
	r.Parked = slices.Clone(r.Parked)
	r.PendingFaults = slices.Clone(r.PendingFaults)
	r.SpareVLANs = slices.Clone(r.SpareVLANs)
	for i := range r.SpareVLANs {
		r.SpareVLANs[i].Trunk = slices.Clone(r.SpareVLANs[i].Trunk)
	}
	return r
}

func (e Entry) clone() Entry {
	e.Data = slices.Clone(e.Data)
	return e
}

// Get implements Store.
func (s *MemStore) Get(ctx context.Context, id search.ServerID) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, fmt.Errorf("failover: store get %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[id]
	if !ok {
		return Record{}, fmt.Errorf("failover: store get %s: %w", id, ErrNotFound)
	}
	return r.clone(), nil
}

// List implements Store.
func (s *MemStore) List(ctx context.Context) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("failover: store list: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Record, len(s.ids))
	for i, id := range s.ids {
		out[i] = s.records[id].clone()
	}
	return out, nil
}

// Put implements Store.
func (s *MemStore) Put(ctx context.Context, recs ...Record) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("failover: store put: %w", err)
	}
	if err := ValidatePut(recs); err != nil {
		return nil, fmt.Errorf("failover: store put: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.canPutLocked(recs); err != nil {
		return nil, err
	}
	return s.putLocked(recs), nil
}

func (s *MemStore) canPutLocked(recs []Record) error {
	for _, r := range recs {
		var cur int64
		if x, ok := s.records[r.ID]; ok {
			cur = x.Revision
		}
		if cur != r.Revision {
			return fmt.Errorf("failover: store put %s: revision %d, stored %d: %w", r.ID, r.Revision, cur, ErrConflict)
		}
	}
	return nil
}

func (s *MemStore) putLocked(recs []Record) []Record {
	out := make([]Record, len(recs))
	for i, r := range recs {
		s.rev++
		r.Revision = s.rev
		if _, ok := s.records[r.ID]; !ok {
			i, _ := slices.BinarySearch(s.ids, r.ID)
			s.ids = slices.Insert(s.ids, i, r.ID)
		}
		s.records[r.ID] = r.clone()
		out[i] = r.clone()
	}
	return out
}

// Append implements Store.
func (s *MemStore) Append(ctx context.Context, id string, e Entry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("failover: journal %s: append: %w", id, err)
	}
	if err := checkEntry(id, e); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.canAppendLocked(id, e, 0); err != nil {
		return err
	}
	s.appendLocked(id, e)
	return nil
}

// checkEntry checks what Append refuses as ErrInvalid.
func checkEntry(id string, e Entry) error {
	if id == "" {
		return fmt.Errorf("failover: journal append: empty failover ID: %w", ErrInvalid)
	}
	if len(e.Data) > 0 && !json.Valid(e.Data) {
		return fmt.Errorf("failover: journal %s: append: data is not JSON: %w", id, ErrInvalid)
	}
	return nil
}

// canAppendLocked checks e against journal id as it will be after ahead
// more entries (earlier entries of the same batch).
func (s *MemStore) canAppendLocked(id string, e Entry, ahead int) error {
	j := s.journals[id]
	n := len(j) + ahead
	last := PhaseBegin
	if len(j) > 0 {
		last = j[len(j)-1].Phase
	}
	switch {
	case e.Seq != int64(n)+1:
		return fmt.Errorf("failover: journal %s: append seq %d, have %d entries: %w", id, e.Seq, n, ErrConflict)
	case n == 0 && e.Phase != PhaseBegin:
		return fmt.Errorf("failover: journal %s: first entry is %q, want %q: %w", id, e.Phase, PhaseBegin, ErrConflict)
	case ahead == 0 && len(j) > 0 && last == PhaseEnd:
		return fmt.Errorf("failover: journal %s: closed: %w", id, ErrConflict)
	}
	return nil
}

func (s *MemStore) appendLocked(id string, e Entry) {
	s.journals[id] = append(s.journals[id], e.clone())
	if e.Phase == PhaseEnd {
		delete(s.open, id)
	} else {
		s.open[id] = true
	}
}

var _ Batcher = (*MemStore)(nil)

// Write implements Batcher: every check first, then everything, under
// one lock.
func (s *MemStore) Write(ctx context.Context, b Batch) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("failover: store write: %w", err)
	}
	if err := ValidatePut(b.Puts); err != nil {
		return nil, fmt.Errorf("failover: store write: %w", err)
	}
	for _, a := range b.Appends {
		for _, e := range a.Entries {
			if err := checkEntry(a.ID, e); err != nil {
				return nil, err
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range b.Appends {
		closed := false
		for k, e := range a.Entries {
			if closed {
				return nil, fmt.Errorf("failover: journal %s: entry after the end: %w", a.ID, ErrConflict)
			}
			if err := s.canAppendLocked(a.ID, e, k); err != nil {
				return nil, err
			}
			closed = e.Phase == PhaseEnd
		}
	}
	if err := s.canPutLocked(b.Puts); err != nil {
		return nil, err
	}
	for _, a := range b.Appends {
		for _, e := range a.Entries {
			s.appendLocked(a.ID, e)
		}
	}
	return s.putLocked(b.Puts), nil
}

// Journal implements Store.
func (s *MemStore) Journal(ctx context.Context, id string) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("failover: journal %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.journals[id]
	if !ok {
		return nil, fmt.Errorf("failover: journal %s: %w", id, ErrNotFound)
	}
	out := make([]Entry, len(j))
	for i, e := range j {
		out[i] = e.clone()
	}
	return out, nil
}

// Unfinished implements Store, in time proportional to the open
// journals.
func (s *MemStore) Unfinished(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("failover: unfinished: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.open))
	for id := range s.open {
		out = append(out, id)
	}
	sort.Strings(out)
	return out, nil
}

var _ JournalLister = (*MemStore)(nil)

// Failovers implements JournalLister.
func (s *MemStore) Failovers(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("failover: failovers: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.journals))
	for id := range s.journals {
		out = append(out, id)
	}
	sort.Strings(out)
	return out, nil
}

var _ Deleter = (*MemStore)(nil)

// Delete implements Deleter.
func (s *MemStore) Delete(ctx context.Context, recs ...Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("failover: store delete: %w", err)
	}
	if err := checkDelete(recs); err != nil {
		return fmt.Errorf("failover: store delete: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		cur, ok := s.records[r.ID]
		if !ok {
			return fmt.Errorf("failover: store delete %s: %w", r.ID, ErrNotFound)
		}
		if cur.Revision != r.Revision {
			return fmt.Errorf("failover: store delete %s: revision %d, stored %d: %w", r.ID, r.Revision, cur.Revision, ErrConflict)
		}
	}
	for _, r := range recs {
		delete(s.records, r.ID)
		if i, ok := slices.BinarySearch(s.ids, r.ID); ok {
			s.ids = slices.Delete(s.ids, i, i+1)
		}
	}
	return nil
}
