package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/internal/conformance"
	"github.com/coldstandby/coldstandby/internal/errs"
)

// recorder is a testing.TB that records Errorf and Fatalf instead of
// failing the test that runs it. Fatalf ends the goroutine, as it does in
// a real test, so checks run on a goroutine of their own (see run).
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	fatal  bool
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.mu.Lock()
	r.fatal = true
	r.mu.Unlock()
	runtime.Goexit()
}

// run calls check with a recorder on its own goroutine and returns the
// recorder once check has returned or called Fatalf.
func run(t *testing.T, check func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r)
	}()
	<-done
	return r
}

// wantMessages checks that r recorded exactly one message per element of
// want, each containing that element.
func wantMessages(t *testing.T, r *recorder, want ...string) {
	t.Helper()
	if len(r.errors) != len(want) {
		t.Fatalf("recorded %q, want %d messages containing %q", r.errors, len(want), want)
	}
	for i, w := range want {
		if !strings.Contains(r.errors[i], w) {
			t.Errorf("message %d = %q, want it to contain %q", i, r.errors[i], w)
		}
	}
}

func TestCheckDone(t *testing.T) {
	wrapped := fmt.Errorf("drv: op: %w", context.Canceled)
	unknown := fmt.Errorf("drv: op: %w (%w)", context.Canceled, errs.OutcomeUnknown)
	for _, c := range []struct {
		name        string
		err         error
		sleep       time.Duration
		wantUnknown bool
		want        []string
	}{
		{name: "wrapped", err: wrapped},
		{name: "outcome_unknown", err: unknown, wantUnknown: true},
		{name: "nil", err: nil, want: []string{"Op with a done context: <nil>, want an error wrapping context canceled"}},
		{name: "other_error", err: errors.New("boom"), want: []string{"want an error wrapping context canceled"}},
		{name: "slow", err: wrapped, sleep: conformance.Promptly + 100*time.Millisecond, want: []string{"Op with a done context took"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.sleep > 0 && testing.Short() {
				t.Skip("waits longer than Promptly")
			}
			var unknownGot bool
			r := run(t, func(tb testing.TB) {
				unknownGot = conformance.CheckDone(tb, "Op", context.Canceled, func() error {
					time.Sleep(c.sleep)
					return c.err
				})
			})
			wantMessages(t, r, c.want...)
			if unknownGot != c.wantUnknown {
				t.Errorf("CheckDone reported outcome unknown %v, want %v", unknownGot, c.wantUnknown)
			}
		})
	}
}

// staller is a Staller that records how long it was told to hold the
// next request, which the call under test then waits for.
type staller struct {
	held atomic.Int64 // the duration StallNext was given
	err  error
}

func (s *staller) StallNext(_ context.Context, d time.Duration) error {
	s.held.Store(int64(d))
	return s.err
}

func TestCancelMidRequest(t *testing.T) {
	t.Run("honours_ctx_then_waits_out_the_stall", func(t *testing.T) {
		st := &staller{}
		var check bool
		start := time.Now()
		r := run(t, func(tb testing.TB) {
			check = conformance.CancelMidRequest(tb, st, "Op", func(ctx context.Context) error {
				return conformance.Hold(ctx, time.Duration(st.held.Load()), false)
			})
		})
		wantMessages(t, r)
		if !check {
			t.Error("CancelMidRequest = false for an error without ErrOutcomeUnknown, want true (check that nothing changed)")
		}
		if took := time.Since(start); took < conformance.StallFor {
			t.Errorf("CancelMidRequest returned after %v, want after the stall of %v has passed", took, conformance.StallFor)
		}
	})
	t.Run("outcome_unknown_returns_at_once", func(t *testing.T) {
		st := &staller{}
		var check bool
		start := time.Now()
		r := run(t, func(tb testing.TB) {
			check = conformance.CancelMidRequest(tb, st, "Op", func(ctx context.Context) error {
				<-ctx.Done()
				return fmt.Errorf("drv: op: %w (%w)", ctx.Err(), errs.OutcomeUnknown)
			})
		})
		wantMessages(t, r)
		if check {
			t.Error("CancelMidRequest = true for an error wrapping ErrOutcomeUnknown, want false")
		}
		if took := time.Since(start); took > conformance.StallFor {
			t.Errorf("CancelMidRequest took %v, want no wait for the stall", took)
		}
	})
	t.Run("ignored_ctx_fails", func(t *testing.T) {
		if testing.Short() {
			t.Skip("waits out the whole stall")
		}
		st := &staller{}
		r := run(t, func(tb testing.TB) {
			conformance.CancelMidRequest(tb, st, "Op", func(ctx context.Context) error {
				return conformance.Hold(ctx, time.Duration(st.held.Load()), true)
			})
		})
		wantMessages(t, r,
			"Op cancelled 50ms into a held request returned after",
			"Op cancelled mid-request: <nil>, want an error wrapping context.Canceled")
	})
	t.Run("harness_error_is_fatal", func(t *testing.T) {
		called := false
		r := run(t, func(tb testing.TB) {
			conformance.CancelMidRequest(tb, &staller{err: errors.New("no")}, "Op", func(context.Context) error {
				called = true
				return nil
			})
		})
		wantMessages(t, r, "harness: StallNext: no")
		if !r.fatal || called {
			t.Errorf("fatal %v, call made %v; want a fatal error before the call", r.fatal, called)
		}
	})
}

func TestDoneContexts(t *testing.T) {
	var names []string
	conformance.DoneContexts(t, func(t *testing.T, done func(*testing.T) context.Context, want error) {
		names = append(names, t.Name())
		ctx := done(t)
		if err := ctx.Err(); !errors.Is(err, want) {
			t.Errorf("done(t).Err() = %v, want %v", err, want)
		}
	})
	want := []string{"TestDoneContexts/cancelled", "TestDoneContexts/deadline_exceeded"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("subtests %v, want %v", names, want)
	}
}

func TestParallel(t *testing.T) {
	const n = 8
	var (
		running atomic.Int32
		release = make(chan struct{})
	)
	go func() {
		// Let every goroutine in before any returns: proves they run at
		// once rather than one after another.
		for running.Load() < n {
			time.Sleep(time.Millisecond)
		}
		close(release)
	}()
	errs := conformance.Parallel(n, func(i int) error {
		running.Add(1)
		<-release
		if i%3 == 0 {
			return fmt.Errorf("e%d", i)
		}
		return nil
	})
	if len(errs) != n {
		t.Fatalf("Parallel returned %d errors, want %d", len(errs), n)
	}
	for i, err := range errs {
		if (i%3 == 0) != (err != nil) || (err != nil && err.Error() != fmt.Sprintf("e%d", i)) {
			t.Errorf("errs[%d] = %v, want goroutine %d's own error", i, err, i)
		}
	}
	r := run(t, func(tb testing.TB) { conformance.NoErrors(tb, "Op", errs) })
	wantMessages(t, r, "Op, goroutine 0 of 8: e0", "Op, goroutine 3 of 8: e3", "Op, goroutine 6 of 8: e6")
}

func TestWantKindAndNamed(t *testing.T) {
	err := fmt.Errorf("drv: map vol7: %w", errs.NotFound)
	r := run(t, func(tb testing.TB) {
		conformance.WantKind(tb, "Map", err, errs.NotFound)
		conformance.WantNamed(tb, "Map", err, "vol7")
		conformance.WantNamed(tb, "Map", nil, "vol7")
	})
	wantMessages(t, r)
	r = run(t, func(tb testing.TB) {
		conformance.WantKind(tb, "Map", err, errs.Conflict)
		conformance.WantNamed(tb, "Map", errors.New("not found"), "vol7")
	})
	wantMessages(t, r,
		"Map: drv: map vol7: not found, want an error wrapping conflict",
		`Map: error "not found" does not name "vol7"; wrap errors with the operation and its target`)
}

func TestHold(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	if err := conformance.Hold(ctx, time.Minute, false); !errors.Is(err, context.Canceled) {
		t.Errorf("Hold with a cancelled context = %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Hold with a cancelled context took %v", took)
	}
	if err := conformance.Hold(ctx, 10*time.Millisecond, true); err != nil {
		t.Errorf("Hold ignoring ctx = %v, want nil", err)
	}
	if err := conformance.Hold(t.Context(), 10*time.Millisecond, false); err != nil {
		t.Errorf("Hold = %v, want nil", err)
	}
}

func TestFaultsAdmit(t *testing.T) {
	var mu sync.Mutex
	t.Run("no_fault_returns_with_the_lock_held", func(t *testing.T) {
		var f conformance.Faults
		if err := f.Admit(t.Context(), &mu, "op", "busy", "", nil); err != nil {
			t.Fatalf("Admit = %v, want nil", err)
		}
		if mu.TryLock() {
			t.Fatal("Admit returned nil without holding mu")
		}
		mu.Unlock()
	})
	t.Run("done_ctx", func(t *testing.T) {
		f := conformance.Faults{FailNext: true}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := f.Admit(ctx, &mu, "op", "busy", "", nil)
		if !errors.Is(err, context.Canceled) || err.Error() != "ref: op: context canceled" {
			t.Errorf("Admit with a cancelled ctx = %v, want ref: op: context canceled", err)
		}
		if !f.FailNext {
			t.Error("Admit with a cancelled ctx used up the injected failure")
		}
		if err := f.Admit(ctx, &mu, "op", "busy", "ignores-ctx", nil); err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("Admit ignoring ctx = %v, want the injected failure", err)
		}
	})
	t.Run("fail_next_once", func(t *testing.T) {
		f := conformance.Faults{FailNext: true}
		err := f.Admit(t.Context(), &mu, "op", "busy", "", nil)
		if !errors.Is(err, errs.Transient) || err.Error() != "ref: op: busy: "+errs.Transient.Error() {
			t.Errorf("Admit with FailNext = %v, want ref: op: busy wrapping ErrTransient", err)
		}
		if !mu.TryLock() {
			t.Fatal("Admit returned an error with mu held")
		}
		mu.Unlock()
		if err := f.Admit(t.Context(), &mu, "op", "busy", "", nil); err != nil {
			t.Errorf("second Admit = %v, want nil (the failure is injected once)", err)
		}
		mu.Unlock()
		f.FailNext = true
		if err := f.Admit(t.Context(), &mu, "op", "busy", "transient-wrong-kind", nil); err == nil || errors.Is(err, errs.Transient) {
			t.Errorf("Admit of variant transient-wrong-kind = %v, want an error not wrapping ErrTransient", err)
		}
	})
	t.Run("stall_is_held_without_the_lock", func(t *testing.T) {
		f := conformance.Faults{Stall: time.Hour}
		var got time.Duration
		err := f.Admit(t.Context(), &mu, "op", "busy", "", func(_ context.Context, d time.Duration) error {
			got = d
			if !mu.TryLock() {
				t.Error("hold called with mu held")
				return nil
			}
			mu.Unlock()
			return errors.New("gave up")
		})
		if got != time.Hour || f.Stall != 0 {
			t.Errorf("hold got %v, Stall now %v; want the stall passed to hold and cleared", got, f.Stall)
		}
		if err == nil || err.Error() != "ref: op: gave up" || !mu.TryLock() {
			t.Fatalf("Admit = %v, want ref: op: gave up with mu released", err)
		}
		mu.Unlock()
	})
}
