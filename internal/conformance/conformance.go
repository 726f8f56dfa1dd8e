// Package conformance holds the checks that the four driver conformance
// suites (bmc/bmctest, storage/storagetest, partition/partitiontest and
// fabric/fabrictest) share: how promptly a call with a done context must
// return, cancellation in the middle of a held request, error kinds and
// names, goroutines started at once, and the subprocess runner with which
// each suite's own tests prove that it fails broken drivers.
//
// Only those suites (and their tests) should import it. Its functions
// report through the testing.TB they are given, with the same messages
// the suites printed before they shared them, so a driver author reads the
// same failure whichever suite found it.
package conformance

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/internal/errs"
)

// Limits the suites hold drivers to.
const (
	// Promptly is how long a call with a done context may take, and how
	// long after the cancellation a call cancelled mid-request may take.
	Promptly = time.Second
	// StallFor is how long a Staller holds the request in
	// CancelMidRequest.
	StallFor = 1500 * time.Millisecond
	// CancelAfter is when CancelMidRequest cancels the context, counted
	// from the start of the call.
	CancelAfter = 50 * time.Millisecond
)

// Staller is the method set of each suite's optional Staller harness
// capability: the device receives the driver's next request and holds it
// for d before carrying it out and answering.
type Staller interface {
	StallNext(ctx context.Context, d time.Duration) error
}

// CancelMidRequest has st hold the driver's next request, runs call with a
// context cancelled CancelAfter into the call, while the request is held,
// and checks that call returns within Promptly of the cancellation with an
// error wrapping context.Canceled. Unless the error also wraps the shared
// ErrOutcomeUnknown, it waits until the stall has passed and returns true:
// the caller then checks that nothing changed. what names the call in
// messages ("PowerOn", "Map").
func CancelMidRequest(t testing.TB, st Staller, what string, call func(ctx context.Context) error) (checkUnchanged bool) {
	t.Helper()
	if err := st.StallNext(t.Context(), StallFor); err != nil {
		t.Fatalf("harness: StallNext: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	start := time.Now()
	timer := time.AfterFunc(CancelAfter, cancel)
	defer timer.Stop()
	err := call(ctx)
	if took := time.Since(start); took > CancelAfter+Promptly {
		t.Errorf("%s cancelled %v into a held request returned after %v, want within %v of the cancellation", what, CancelAfter, took, Promptly)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("%s cancelled mid-request: %v, want an error wrapping context.Canceled", what, err)
	}
	if errors.Is(err, errs.OutcomeUnknown) {
		return false
	}
	time.Sleep(time.Until(start.Add(StallFor + 200*time.Millisecond)))
	return true
}

// CheckDone checks that call, given a done context, returns within
// Promptly an error that wraps want. It reports whether the error also
// wraps the shared ErrOutcomeUnknown (the request may have been sent), in
// which case the caller must not check that nothing changed.
func CheckDone(t testing.TB, what string, want error, call func() error) (outcomeUnknown bool) {
	t.Helper()
	start := time.Now()
	err := call()
	if took := time.Since(start); took > Promptly {
		t.Errorf("%s with a done context took %v, want under %v", what, took, Promptly)
	}
	if !errors.Is(err, want) {
		t.Errorf("%s with a done context: %v, want an error wrapping %v", what, err, want)
	}
	return errors.Is(err, errs.OutcomeUnknown)
}

// DoneContexts runs body twice, as subtests "cancelled" and
// "deadline_exceeded". Each time done(t) returns a new context, derived
// from t.Context(), that is already cancelled or already past its
// deadline, and want is the error (context.Canceled or
// context.DeadlineExceeded) a call given it must wrap.
func DoneContexts(t *testing.T, body func(t *testing.T, done func(t *testing.T) context.Context, want error)) {
	t.Helper()
	for _, dc := range []struct {
		name string
		want error
	}{{"cancelled", context.Canceled}, {"deadline_exceeded", context.DeadlineExceeded}} {
		done := func(t *testing.T) context.Context {
			if dc.want == context.Canceled {
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				return ctx
			}
			ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
			t.Cleanup(cancel)
			return ctx
		}
		t.Run(dc.name, func(t *testing.T) { body(t, done, dc.want) })
	}
}

// Parallel runs call on n goroutines, released at once, and returns their
// errors indexed by goroutine.
func Parallel(n int, call func(i int) error) []error {
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = call(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// NoErrors fails the test with every non-nil error of errs, as Parallel
// returns them, naming the goroutine.
func NoErrors(t testing.TB, what string, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s, goroutine %d of %d: %v", what, i, len(errs), err)
		}
	}
}

// WantKind checks that err wraps kind (one of the shared error kinds).
func WantKind(t testing.TB, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Errorf("%s: %v, want an error wrapping %v", what, err, kind)
	}
}

// WantNamed checks that err, unless nil, names the thing it is about, as
// errors wrapped "once with the operation and target" do.
func WantNamed(t testing.TB, what string, err error, name string) {
	t.Helper()
	if err != nil && !strings.Contains(err.Error(), name) {
		t.Errorf("%s: error %q does not name %q; wrap errors with the operation and its target", what, err, name)
	}
}

// Hold is how the suites' reference drivers serve a request a harness
// told them to stall: it waits d, as a slow device does, and returns nil,
// unless ctx is done first, when it returns ctx.Err(). With ignoreCtx (a
// driver broken on purpose) it waits d whatever ctx says.
func Hold(ctx context.Context, d time.Duration, ignoreCtx bool) error {
	if ignoreCtx {
		time.Sleep(d)
		return nil
	}
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
