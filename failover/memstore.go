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
// for concurrent use. Records are deep-copied through JSON on the way in
// and out, exactly as a durable store would, so a caller can never alias
// stored state.
type MemStore struct {
	mu       sync.Mutex
	rev      int64
	records  map[search.ServerID][]byte
	journals map[string][]Entry
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore {
	return &MemStore{records: map[search.ServerID][]byte{}, journals: map[string][]Entry{}}
}

func decodeRecord(b []byte) Record {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		panic(fmt.Sprintf("failover: MemStore: corrupt record: %v", err)) // cannot happen: we wrote it
	}
	return r
}

// Get implements Store.
func (s *MemStore) Get(ctx context.Context, id search.ServerID) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, fmt.Errorf("failover: store get %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.records[id]
	if !ok {
		return Record{}, fmt.Errorf("failover: store get %s: %w", id, ErrNotFound)
	}
	return decodeRecord(b), nil
}

// List implements Store.
func (s *MemStore) List(ctx context.Context) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("failover: store list: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Record, 0, len(s.records))
	for _, b := range s.records {
		out = append(out, decodeRecord(b))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Put implements Store.
func (s *MemStore) Put(ctx context.Context, recs ...Record) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("failover: store put: %w", err)
	}
	seen := make(map[search.ServerID]bool, len(recs))
	for _, r := range recs {
		if r.ID == "" {
			return nil, fmt.Errorf("failover: store put: empty server ID: %w", ErrInvalid)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("failover: store put: %s twice: %w", r.ID, ErrInvalid)
		}
		seen[r.ID] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		var cur int64
		if b, ok := s.records[r.ID]; ok {
			cur = decodeRecord(b).Revision
		}
		if cur != r.Revision {
			return nil, fmt.Errorf("failover: store put %s: revision %d, stored %d: %w", r.ID, r.Revision, cur, ErrConflict)
		}
	}
	out := make([]Record, len(recs))
	for i, r := range recs {
		s.rev++
		r.Revision = s.rev
		b, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("failover: store put %s: %v: %w", r.ID, err, ErrInvalid)
		}
		s.records[r.ID] = b
		out[i] = decodeRecord(b)
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
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("failover: journal %s: append: %v: %w", id, err, ErrInvalid)
	}
	var c Entry
	_ = json.Unmarshal(b, &c)
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
	return slices.Clone(j), nil
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
