package etcdstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Concurrent Writes are combined into one etcd transaction where they
// can be (a group commit, as bbolt's Batch): a mass failure makes
// thousands of small writes at once, and one transaction of many of them
// costs etcd about what one of them does. Writes that touch a key in
// common never share a transaction, a combined transaction stays within
// --max-txn-ops, and when its comparisons fail (one write's revision was
// stale) every write in it is tried again alone, so each keeps exactly
// its own compare-and-set result. A lone writer does not wait: writes are
// combined only while others are in flight.

// maxInFlight is how many combined transactions may be in flight at once.
const maxInFlight = 4

// combined is one Write waiting to be sent.
type combined struct {
	ctx   context.Context
	cmps  []clientv3.Cmp
	then  []clientv3.Op
	keys  []string
	taken bool          // sent: its outcome comes on done
	done  chan txnReply // buffered
}

type txnReply struct {
	rev int64 // the transaction's revision when ok
	ok  bool  // its comparisons held
	err error
}

type combiner struct {
	mu       sync.Mutex
	pending  []*combined
	inFlight int
}

// combine sends cmps and then (the Write's own, without the fence) in a
// transaction, with other writes when some are waiting, and returns what
// Store.txn would.
func (s *Store) combine(ctx context.Context, cmps []clientv3.Cmp, then []clientv3.Op, keys []string) (int64, bool, error) {
	w := &combined{ctx: ctx, cmps: cmps, then: then, keys: keys, done: make(chan txnReply, 1)}
	c := s.comb
	c.mu.Lock()
	c.pending = append(c.pending, w)
	if c.inFlight < maxInFlight {
		c.inFlight++
		go s.flushLoop()
	}
	c.mu.Unlock()
	select {
	case r := <-w.done:
		return r.rev, r.ok, r.err
	case <-ctx.Done():
	}
	c.mu.Lock()
	if !w.taken {
		// Not sent: nothing written.
		for i, p := range c.pending {
			if p == w {
				c.pending = append(c.pending[:i], c.pending[i+1:]...)
				break
			}
		}
		c.mu.Unlock()
		return 0, false, fmt.Errorf("etcdstore: write: %w", ctx.Err())
	}
	c.mu.Unlock()
	select {
	case r := <-w.done: // it came meanwhile
		return r.rev, r.ok, r.err
	default:
		return 0, false, s.unknownErr(ctx, "write", ctx.Err())
	}
}

// flushLoop sends waiting writes, as many to a transaction as fit, until
// none is left.
func (s *Store) flushLoop() {
	c := s.comb
	for {
		c.mu.Lock()
		batch := s.takeBatch()
		if len(batch) == 0 {
			c.inFlight--
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		s.send(batch)
	}
}

// takeBatch removes from pending the writes of the next transaction: in
// arrival order, each whose keys none before it in the batch touch, while
// the transaction fits. c.mu is held.
func (s *Store) takeBatch() []*combined {
	c := s.comb
	var batch []*combined
	used := map[string]bool{}
	nc, nt := 0, 0
	if s.fence != nil {
		nc++
	}
	rest := c.pending[:0]
	for _, w := range c.pending {
		fits := nc+len(w.cmps) <= s.maxOps && nt+len(w.then) <= s.maxOps
		free := true
		for _, k := range w.keys {
			if used[k] {
				free = false
				break
			}
		}
		if !fits || !free || (len(batch) > 0 && w.ctx.Err() != nil) {
			rest = append(rest, w)
			continue
		}
		for _, k := range w.keys {
			used[k] = true
		}
		nc, nt = nc+len(w.cmps), nt+len(w.then)
		w.taken = true
		batch = append(batch, w)
	}
	clear(c.pending[len(rest):])
	c.pending = rest
	return batch
}

// send runs batch as one transaction; when its comparisons fail and it
// holds more than one write, each is sent again alone.
func (s *Store) send(batch []*combined) {
	if len(batch) == 1 {
		batch[0].done <- s.sendOne(batch[0].ctx, batch[0].cmps, batch[0].then)
		return
	}
	var cmps []clientv3.Cmp
	var then []clientv3.Op
	for _, w := range batch {
		cmps, then = append(cmps, w.cmps...), append(then, w.then...)
	}
	ctx, cancel := batchContext(batch)
	defer cancel()
	r := s.sendOne(ctx, cmps, then)
	if r.err != nil || r.ok {
		for _, w := range batch {
			w.done <- r
		}
		return
	}
	var wg sync.WaitGroup
	for _, w := range batch {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.done <- s.sendOne(w.ctx, w.cmps, w.then)
		}()
	}
	wg.Wait()
}

func (s *Store) sendOne(ctx context.Context, cmps []clientv3.Cmp, then []clientv3.Op) txnReply {
	resp, ok, err := s.txn(ctx, "write", cmps, then, nil)
	if err != nil {
		return txnReply{err: err}
	}
	return txnReply{rev: resp.Header.Revision, ok: ok}
}

// batchContext is the context of a combined transaction: it ends at the
// latest of its members' deadlines, or a minute from now when one has
// none. A member whose own context ends first stops waiting (its outcome
// is unknown) while the transaction goes on for the others.
func batchContext(batch []*combined) (context.Context, context.CancelFunc) {
	latest := time.Time{}
	for _, w := range batch {
		d, ok := w.ctx.Deadline()
		if !ok {
			latest = time.Now().Add(time.Minute)
			break
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.WithoutCancel(batch[0].ctx), latest)
}
