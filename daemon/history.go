package daemon

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/coldstandby/coldstandby/failover"
)

// history reads failovers from the store's journals, keeping those that
// ended (a closed journal does not change) so that a status page that
// refreshes every few seconds reads only the open ones again.
type history struct {
	st failover.Store

	mu    sync.Mutex
	ended map[string]failover.FailoverInfo
	seen  map[string]bool // IDs met without JournalLister
}

func newHistory(st failover.Store) *history {
	return &history{st: st, ended: map[string]failover.FailoverInfo{}, seen: map[string]bool{}}
}

// note remembers a failover ID (for stores without JournalLister).
func (h *history) note(id string) {
	if id == "" {
		return
	}
	h.mu.Lock()
	h.seen[id] = true
	h.mu.Unlock()
}

// get summarises failover id. Errors: failover.ErrNotFound, the store's.
func (h *history) get(ctx context.Context, id string) (failover.FailoverInfo, []failover.Entry, error) {
	j, err := h.st.Journal(ctx, id)
	if err != nil {
		return failover.FailoverInfo{ID: id}, nil, err
	}
	info, err := failover.ReadJournal(id, j)
	if err == nil && !info.Unfinished() {
		h.mu.Lock()
		h.ended[id] = info
		h.mu.Unlock()
	}
	return info, j, err
}

// list returns the failovers, newest first (by start time, then ID), at
// most limit, the unfinished ones only when unfinished is set. A store
// without failover.JournalLister lists the unfinished ones and those
// this daemon saw.
func (h *history) list(ctx context.Context, limit int, unfinished bool) ([]failover.FailoverInfo, error) {
	var ids []string
	var err error
	jl, ok := h.st.(failover.JournalLister)
	switch {
	case unfinished:
		ids, err = h.st.Unfinished(ctx)
	case ok:
		ids, err = jl.Failovers(ctx)
	default:
		ids, err = h.st.Unfinished(ctx)
		h.mu.Lock()
		for id := range h.seen {
			ids = append(ids, id)
		}
		h.mu.Unlock()
		slices.Sort(ids)
		ids = slices.Compact(ids)
	}
	if err != nil {
		return nil, err
	}
	out := make([]failover.FailoverInfo, 0, len(ids))
	for _, id := range ids {
		h.mu.Lock()
		info, cached := h.ended[id]
		h.mu.Unlock()
		if !cached {
			info, _, err = h.get(ctx, id)
			if errors.Is(err, failover.ErrNotFound) || errors.Is(err, failover.ErrInvalid) {
				continue // removed meanwhile, or not a journal the Orchestrator wrote
			}
			if err != nil {
				return nil, err
			}
		}
		if unfinished && !info.Unfinished() {
			continue
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b failover.FailoverInfo) int {
		return cmp.Or(b.Started.Compare(a.Started), cmp.Compare(b.ID, a.ID))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
