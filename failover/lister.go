package failover

import (
	"context"
	"sync"
)

// lister coalesces the reads of the whole store that faults arriving
// together need (the site check, the failed server and its members): a
// fault waits for the next read that starts after it arrived, and one
// read serves every fault waiting for it. A rack that loses power is read
// a few times, not once per server. The snapshot is shared: callers must
// not change the records in it (clone them first).
type lister struct {
	mu      sync.Mutex
	waiting []chan listed
	running bool
}

type listed struct {
	all []Record
	err error
}

// list returns a snapshot of the store's records read after the call.
func (o *Orchestrator) list(ctx context.Context) ([]Record, error) {
	ch := make(chan listed, 1)
	o.ls.mu.Lock()
	o.ls.waiting = append(o.ls.waiting, ch)
	run := !o.ls.running
	o.ls.running = true
	o.ls.mu.Unlock()
	if run {
		rctx := context.WithoutCancel(ctx)
		for {
			o.ls.mu.Lock()
			batch := o.ls.waiting
			o.ls.waiting = nil
			if len(batch) == 0 {
				o.ls.running = false
				o.ls.mu.Unlock()
				break
			}
			o.ls.mu.Unlock()
			all, err := o.store.List(rctx)
			for _, w := range batch {
				w <- listed{all, err}
			}
		}
	}
	select {
	case l := <-ch:
		return l.all, l.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
