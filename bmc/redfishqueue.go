package bmc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// EventHandler queue defaults.
const (
	// DefaultEventQueue is how many faults EventHandler holds for delivery
	// unless WithEventQueue says otherwise.
	DefaultEventQueue = 1024
	// DefaultEventWorkers is how many faults Run delivers at once unless
	// WithEventWorkers says otherwise.
	DefaultEventWorkers = 8
	// DefaultEventRetryAfter is the Retry-After of a 503 answer unless
	// WithEventRetryAfter says otherwise.
	DefaultEventRetryAfter = 10 * time.Second
)

var (
	errQueueFull = errors.New("the fault queue is full")
	errClosed    = errors.New("the event receiver is shutting down")
)

// WithEventQueue bounds the faults accepted and not yet delivered
// (default DefaultEventQueue). A push whose new faults do not fit is
// answered 503 and kept by the BMC for a retry.
func WithEventQueue(n int) EventHandlerOption {
	return func(h *EventHandler) error {
		if n <= 0 {
			return fmt.Errorf("bmc: event handler: queue size %d: %w", n, ErrInvalid)
		}
		h.queueMax = n
		return nil
	}
}

// WithEventWorkers sets how many faults Run delivers at once, each for a
// different server (default DefaultEventWorkers): a failover takes
// minutes, and a fault of another server must not wait for it.
func WithEventWorkers(n int) EventHandlerOption {
	return func(h *EventHandler) error {
		if n <= 0 {
			return fmt.Errorf("bmc: event handler: %d workers: %w", n, ErrInvalid)
		}
		h.workers = n
		return nil
	}
}

// WithEventRetryAfter sets the Retry-After of 503 answers (default
// DefaultEventRetryAfter; whole seconds, at least one).
func WithEventRetryAfter(d time.Duration) EventHandlerOption {
	return func(h *EventHandler) error {
		if d < time.Second {
			return fmt.Errorf("bmc: event handler: Retry-After %v: at least 1s: %w", d, ErrInvalid)
		}
		h.retryAfter = d
		return nil
	}
}

// notifyLocked wakes everyone waiting for a change of the queue. h.mu is
// held.
func (h *EventHandler) notifyLocked() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// enqueue queues the faults of one push whose records were not queued
// before, all or none: it fails with errClosed after Close and with
// errQueueFull when they do not fit. It returns the faults it queued.
func (h *EventHandler) enqueue(faults []Fault, keys []string) ([]Fault, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errClosed
	}
	var fresh []Fault
	var freshKeys []string
	for i, f := range faults {
		if h.seen[keys[i]] || slices.Contains(freshKeys, keys[i]) {
			continue
		}
		fresh = append(fresh, f)
		freshKeys = append(freshKeys, keys[i])
	}
	if len(fresh) == 0 {
		return nil, nil
	}
	if len(h.queue)+len(fresh) > h.queueMax {
		return nil, fmt.Errorf("%w (%d of %d places taken, %d new faults)", errQueueFull, len(h.queue), h.queueMax, len(fresh))
	}
	for _, k := range freshKeys {
		h.seen[k] = true
		h.order = append(h.order, k)
	}
	if n := len(h.order) - h.maxSeen; n > 0 {
		for _, k := range h.order[:n] {
			delete(h.seen, k)
		}
		h.order = slices.Delete(h.order, 0, n)
	}
	h.queue = append(h.queue, fresh...)
	h.notifyLocked()
	return fresh, nil
}

// take removes the oldest queued fault of a server with no delivery in
// flight and marks that server busy. It waits for one until ctx is done
// or the handler is closed with an empty queue (false).
func (h *EventHandler) take(ctx context.Context) (Fault, bool) {
	h.mu.Lock()
	for {
		if ctx.Err() != nil {
			h.mu.Unlock()
			return Fault{}, false
		}
		for i, f := range h.queue {
			if !h.busy[f.Server] {
				h.queue = slices.Delete(h.queue, i, i+1)
				h.busy[f.Server] = true
				h.mu.Unlock()
				return f, true
			}
		}
		if h.closed && len(h.queue) == 0 {
			h.mu.Unlock()
			return Fault{}, false
		}
		ch := h.changed
		h.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Fault{}, false
		}
		h.mu.Lock()
	}
}

// done ends the delivery of f.
func (h *EventHandler) done(f Fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.busy, f.Server)
	h.notifyLocked()
}

// Run delivers the queued faults to the deliver function, each once, on
// up to WithEventWorkers goroutines: never two at once for one server,
// and one server's faults in the order they were pushed. deliver gets
// ctx, so cancelling ctx cuts deliveries in flight short (a failover
// ends as interrupted and the Orchestrator's Recover finishes it).
//
// Run returns nil once Close was called and the queue is empty, or an
// error wrapping ctx.Err() when ctx ends first; faults still queued then
// stay queued, for a later Run or for Close to return. Only one Run may
// deliver at a time: another returns ErrConflict.
func (h *EventHandler) Run(ctx context.Context) error {
	h.mu.Lock()
	if h.running {
		h.mu.Unlock()
		return fmt.Errorf("bmc: event handler: Run is already delivering: %w", ErrConflict)
	}
	h.running = true
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.running, h.stopped = false, true
		h.notifyLocked()
		h.mu.Unlock()
	}()
	var wg sync.WaitGroup
	for range h.workers {
		wg.Go(func() {
			for {
				f, ok := h.take(ctx)
				if !ok {
					return
				}
				h.deliver(ctx, f)
				h.done(f)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bmc: event handler: run: %w", err)
	}
	return nil
}

// Queued reports how many accepted faults wait for delivery (not
// counting those being delivered).
func (h *EventHandler) Queued() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.queue)
}

// Close stops taking pushes (ServeHTTP answers 503 from now on) and waits
// until Run has delivered every fault the handler accepted, or ctx is
// done. It returns the faults that were accepted and will not be
// delivered: those still queued when ctx ended, or, at once, those queued
// when Run has returned (its context ended) and none is delivering.
// Record them (or hand them to the Orchestrator another way): the BMCs
// will not push them again. Before any Run started, Close waits for one:
// give it a ctx with a deadline. The error wraps ctx.Err() when ctx ended
// before the queue drained and the deliveries in flight returned; those
// in flight go on under Run's context. Close may be called again.
func (h *EventHandler) Close(ctx context.Context) ([]Fault, error) {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		h.notifyLocked()
	}
	for {
		if len(h.queue) == 0 && len(h.busy) == 0 {
			h.mu.Unlock()
			return nil, nil
		}
		if h.stopped && !h.running {
			left := h.queue
			h.queue = nil
			h.mu.Unlock()
			return left, nil
		}
		ch := h.changed
		h.mu.Unlock()
		select {
		case <-ch:
			h.mu.Lock()
		case <-ctx.Done():
			h.mu.Lock()
			left := h.queue
			h.queue = nil
			inFlight := len(h.busy)
			h.mu.Unlock()
			return left, fmt.Errorf("bmc: event handler: close: %d faults not delivered, %d deliveries in flight: %w", len(left), inFlight, ctx.Err())
		}
	}
}
