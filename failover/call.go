package failover

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/go-multierror"
)

// retryable reports whether a driver error may go away on retry.
func retryable(err error) bool {
	return errors.Is(err, ErrTransient) || errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, context.DeadlineExceeded)
}

// call runs fn with the per-call timeout, retrying transient and
// outcome-unknown errors with backoff. After ErrOutcomeUnknown it calls
// verify (when given) to re-read the device: true means the change is in
// place and the call succeeded.
func (r *run) call(ctx context.Context, a *AuditEntry, attempts int, fn func(context.Context) error, verify func(context.Context) (bool, error)) error {
	return r.callAfter(ctx, a, attempts, nil, fn, verify)
}

// callAfter is call with pre run before each attempt, under ctx (not the
// per-call timeout): an error from pre ends the call with that error.
// Storage moves use it to re-confirm the source off before every request,
// retries included (ensureOff).
func (r *run) callAfter(ctx context.Context, a *AuditEntry, attempts int, pre func(context.Context) error, fn func(context.Context) error, verify func(context.Context) (bool, error)) error {
	return r.o.guarded(ctx, r.mayAct, a, attempts, pre, fn, verify)
}

// guarded is the one path of every driver call: before each attempt the
// may-act check (the run alive, this instance still the leader) and pre;
// the per-call timeout; retries of transient and outcome-unknown errors
// with backoff; after ErrOutcomeUnknown, verify (when given) re-reads the
// device; every attempt counted in a (when given).
func (o *Orchestrator) guarded(ctx context.Context, mayAct func() error, a *AuditEntry, attempts int, pre func(context.Context) error, fn func(context.Context) error, verify func(context.Context) (bool, error)) error {
	t := o.cfg.timeouts
	backoff := t.RetryBase
	var err error
	for i := 0; i < attempts; i++ {
		if derr := mayAct(); derr != nil {
			return derr
		}
		if pre != nil {
			if err := pre(ctx); err != nil {
				return err
			}
		}
		if a != nil {
			a.Attempts++
		}
		cctx, cancel := context.WithTimeout(ctx, t.Step)
		err = fn(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrOutcomeUnknown) && verify != nil {
			if derr := mayAct(); derr != nil {
				return derr
			}
			vctx, cancel := context.WithTimeout(ctx, t.Step)
			ok, verr := verify(vctx)
			cancel()
			if verr == nil && ok {
				return nil
			}
		}
		if !retryable(err) || ctx.Err() != nil || i == attempts-1 {
			break
		}
		if serr := o.cfg.clock.Sleep(ctx, backoff); serr != nil {
			break
		}
		backoff = min(backoff*2, t.RetryLimit)
	}
	return err
}

// leading is the may-act check of calls made outside a failover
// (MarkStandby): this instance must still be the leader.
func (o *Orchestrator) leading() error {
	if lc := o.leader; lc != nil && lc.Deposed() {
		return fmt.Errorf("failover: the store reports this instance deposed: %w", ErrNotLeader)
	}
	return nil
}

// read asks a yes-or-no question of a driver through the guarded path
// (call): one attempt, the leader check, the per-call timeout and the
// audit. A failed read says no with its error.
func (r *run) read(ctx context.Context, a *AuditEntry, fn func(context.Context) (bool, error)) (bool, error) {
	var yes bool
	err := r.call(ctx, a, 1, func(ctx context.Context) error {
		var err error
		yes, err = fn(ctx)
		return err
	}, nil)
	return yes && err == nil, err
}

// parallel runs fns concurrently and combines their errors.
func parallel(fns ...func() error) error {
	switch len(fns) {
	case 0:
		return nil
	case 1:
		return fns[0]()
	}
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	last := len(fns) - 1
	for i, fn := range fns[:last] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	// The last runs on this goroutine, whose stack has already grown to
	// what a step needs: at a thousand failovers a new goroutine's stack
	// growth was a sixth of the CPU.
	errs[last] = fns[last]()
	wg.Wait()
	var me *multierror.Error
	for _, e := range errs {
		if e != nil {
			me = multierror.Append(me, e)
		}
	}
	return me.ErrorOrNil()
}

// parallelN runs fn(0..n-1) with at most workers at once and combines
// their errors.
func parallelN(workers, n int, fn func(i int) error) error {
	if n == 0 {
		return nil
	}
	errs := make([]error, n)
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
