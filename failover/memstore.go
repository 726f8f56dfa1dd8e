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
	journals map[string][]Entry
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore {
	return &MemStore{records: map[search.ServerID]Record{}, journals: map[string][]Entry{}}
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
	out := make([]Record, 0, len(s.records))
	for _, r := range s.records {
		out = append(out, r.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
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
	for _, r := range recs {
		var cur int64
		if x, ok := s.records[r.ID]; ok {
			cur = x.Revision
		}
		if cur != r.Revision {
			return nil, fmt.Errorf("failover: store put %s: revision %d, stored %d: %w", r.ID, r.Revision, cur, ErrConflict)
		}
	}
	out := make([]Record, len(recs))
	for i, r := range recs {
		s.rev++
		r.Revision = s.rev
		s.records[r.ID] = r.clone()
		out[i] = r.clone()
	}
	return out, nil
}

// Append implements Store.
func (s *MemStore) Append(ctx context.Context, id string, e Entry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("failover: journal %s: append: %w", id, err)
	}
	if id == "" {
		return fmt.Errorf("failover: journal append: empty failover ID: %w", ErrInvalid)
	}
	if len(e.Data) > 0 && !json.Valid(e.Data) {
		return fmt.Errorf("failover: journal %s: append: data is not JSON: %w", id, ErrInvalid)
	}
	c := e.clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.journals[id]
	switch {
	case e.Seq != int64(len(j))+1:
		return fmt.Errorf("failover: journal %s: append seq %d, have %d entries: %w", id, e.Seq, len(j), ErrConflict)
	case len(j) == 0 && e.Phase != PhaseBegin:
		return fmt.Errorf("failover: journal %s: first entry is %q, want %q: %w", id, e.Phase, PhaseBegin, ErrConflict)
	case len(j) > 0 && j[len(j)-1].Phase == PhaseEnd:
		return fmt.Errorf("failover: journal %s: closed: %w", id, ErrConflict)
	}
	s.journals[id] = append(j, c)
	return nil
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

// Unfinished implements Store.
func (s *MemStore) Unfinished(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("failover: unfinished: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id, j := range s.journals {
		if len(j) > 0 && j[len(j)-1].Phase != PhaseEnd {
			out = append(out, id)
		}
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
	}
	return nil
}
