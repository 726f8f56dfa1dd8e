package bmc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
)

// push is a DMTF Event with one Critical record per id, for server.
func push(server string, ids ...string) []byte {
	var recs []any
	for _, id := range ids {
		recs = append(recs, map[string]any{"EventId": id, "EventTimestamp": "2026-11-26T04:00:00Z",
			"Severity": "Critical", "MessageId": "OpenBMC.0.1.CPUError", "Message": "CPU IERR " + id})
	}
	b, _ := json.Marshal(map[string]any{"@odata.type": "#Event.v1_7_0.Event", "Id": "1", "Name": "Event",
		"Context": server, "Events": recs})
	return b
}

var auth = map[string]string{"X-Event-Secret": testSecret}

// gate is a deliver function that blocks until released (or its ctx is
// done) and records what it delivered.
type gate struct {
	release chan struct{}
	mu      sync.Mutex
	started []string // server/record, in the order deliveries started
	faults  []bmc.Fault
	ctxErrs []error
}

func newGate() *gate { return &gate{release: make(chan struct{})} }

func (g *gate) deliver(ctx context.Context, f bmc.Fault) {
	g.mu.Lock()
	g.started = append(g.started, f.Server+"/"+f.Event.ID)
	g.mu.Unlock()
	select {
	case <-g.release:
	case <-ctx.Done():
		g.mu.Lock()
		g.ctxErrs = append(g.ctxErrs, ctx.Err())
		g.mu.Unlock()
		return
	}
	g.mu.Lock()
	g.faults = append(g.faults, f)
	g.mu.Unlock()
}

func (g *gate) snapshot() (started []string, delivered []bmc.Fault, ctxErrs []error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.started...), append([]bmc.Fault(nil), g.faults...), append([]error(nil), g.ctxErrs...)
}

// eventually polls cond until it holds or 10 s passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A BMC posts with a 500 ms timeout and posts again when it gets no
// answer. A failover takes minutes: the push must be answered before it
// is acted on, and its faults acted on once.
func TestEventHandlerAnswersABMCWithAShortTimeoutWhileDeliveryIsSlow(t *testing.T) {
	g := newGate()
	h, err := bmc.NewEventHandler(g.deliver, bmc.WithSharedSecret("X-Event-Secret", testSecret))
	if err != nil {
		t.Fatal(err)
	}
	run(t, h)
	srv := httptest.NewServer(h)
	defer srv.Close()
	bmcClient := &http.Client{Timeout: 500 * time.Millisecond}
	post := func(body []byte) (int, error) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Event-Secret", testSecret)
		resp, err := bmcClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	// r1's first fault is being delivered (and blocks, as a failover
	// does) while more pushes arrive, including retries of the same one.
	pushes := [][]byte{push("r1", "1"), push("r1", "2"), push("r2", "7"), push("r1", "1"), push("r1", "2", "3"), push("r2", "7")}
	for i, body := range pushes {
		code, err := post(body)
		if err != nil || code != http.StatusAccepted {
			t.Fatalf("push %d: %d, %v; want 202 within the BMC's 500 ms", i, code, err)
		}
		if i == 0 {
			eventually(t, "delivering r1/1", func() bool { s, _, _ := g.snapshot(); return len(s) == 1 })
		}
	}
	// r2's fault does not wait for r1's failover.
	eventually(t, "delivering r2/7 beside r1/1", func() bool { s, _, _ := g.snapshot(); return len(s) == 2 })
	close(g.release)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if left, err := h.Close(ctx); err != nil || len(left) != 0 {
		t.Fatalf("Close = %v, %v", left, err)
	}
	started, delivered, _ := g.snapshot()
	want := map[string]bool{"r1/1": true, "r1/2": true, "r1/3": true, "r2/7": true}
	if len(started) != len(want) || len(delivered) != len(want) {
		t.Fatalf("deliveries %v, want each of %v once", started, want)
	}
	var r1 []string
	for _, s := range started {
		if !want[s] {
			t.Errorf("delivered %s, twice or unexpectedly (all: %v)", s, started)
		}
		delete(want, s)
		if s[:2] == "r1" {
			r1 = append(r1, s)
		}
	}
	if fmt.Sprint(r1) != "[r1/1 r1/2 r1/3]" {
		t.Errorf("r1's faults delivered in the order %v, want the order they were pushed", r1)
	}
}

func TestEventHandlerNeverDeliversTwoFaultsOfOneServerAtOnce(t *testing.T) {
	var mu sync.Mutex
	active := map[string]int{}
	most, total := 0, 0
	var c collector
	deliver := func(ctx context.Context, f bmc.Fault) {
		mu.Lock()
		active[f.Server]++
		most = max(most, active[f.Server])
		n := 0
		for _, a := range active {
			n += a
		}
		total = max(total, n)
		mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		active[f.Server]--
		mu.Unlock()
		c.deliver(ctx, f)
	}
	h, err := bmc.NewEventHandler(deliver, bmc.WithSharedSecret("X-Event-Secret", testSecret), bmc.WithEventWorkers(4))
	if err != nil {
		t.Fatal(err)
	}
	const servers, each = 6, 10
	for i := range each {
		for s := range servers {
			if w := post(t, h, push(fmt.Sprintf("r%d", s), fmt.Sprint(i)), auth); w.Code != http.StatusAccepted {
				t.Fatalf("push: %d %s", w.Code, w.Body)
			}
		}
	}
	run(t, h)
	got := c.drained(t, h)
	if len(got) != servers*each {
		t.Fatalf("delivered %d faults, want %d", len(got), servers*each)
	}
	if most != 1 {
		t.Errorf("up to %d deliveries at once for one server, want 1", most)
	}
	if total > 4 {
		t.Errorf("up to %d deliveries at once, more than the 4 workers", total)
	}
	next := map[string]int{}
	for _, f := range got {
		if want := fmt.Sprint(next[f.Server]); f.Event.ID != want {
			t.Fatalf("%s: record %s delivered when %s was next", f.Server, f.Event.ID, want)
		}
		next[f.Server]++
	}
}

func TestEventHandlerFullQueueAnswers503AndKeepsNothing(t *testing.T) {
	var c collector
	h, err := bmc.NewEventHandler(c.deliver, bmc.WithSharedSecret("X-Event-Secret", testSecret),
		bmc.WithEventQueue(3), bmc.WithEventRetryAfter(2500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if w := post(t, h, push("r1", "1", "2"), auth); w.Code != http.StatusAccepted {
		t.Fatalf("first push: %d %s", w.Code, w.Body)
	}
	// Two more faults do not fit beside two: the whole push is refused.
	w := post(t, h, push("r2", "1", "2"), auth)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "3" {
		t.Fatalf("push into a full queue: %d, Retry-After %q; want 503 and 3 (seconds, rounded up)", w.Code, w.Header().Get("Retry-After"))
	}
	if n := h.Queued(); n != 2 {
		t.Fatalf("%d faults queued after a refused push, want the first push's 2", n)
	}
	// A push of nothing new (a retry, an OK record) is taken at once.
	if w := post(t, h, push("r1", "2"), auth); w.Code != http.StatusAccepted {
		t.Fatalf("retry of a queued record: %d", w.Code)
	}
	run(t, h)
	eventually(t, "draining", func() bool { return len(c.got()) == 2 })
	// The BMC's retry of the refused push is delivered.
	if w := post(t, h, push("r2", "1", "2"), auth); w.Code != http.StatusAccepted {
		t.Fatalf("retry after the queue drained: %d %s", w.Code, w.Body)
	}
	got := c.drained(t, h)
	if len(got) != 4 || got[2].Server != "r2" || got[3].Server != "r2" {
		t.Fatalf("delivered %+v; want r1's two faults, then r2's two", got)
	}
	// Closed: pushes are refused.
	w = post(t, h, push("r3", "1"), auth)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("push after Close: %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
}

func TestEventHandlerCloseReportsWhatIsLeft(t *testing.T) {
	t.Run("deadline_while_a_delivery_hangs", func(t *testing.T) {
		g := newGate()
		h, err := bmc.NewEventHandler(g.deliver, bmc.WithSharedSecret("X-Event-Secret", testSecret), bmc.WithEventWorkers(1))
		if err != nil {
			t.Fatal(err)
		}
		run(t, h)
		if w := post(t, h, push("r1", "1", "2", "3"), auth); w.Code != http.StatusAccepted {
			t.Fatal(w.Code)
		}
		eventually(t, "delivering r1/1", func() bool { s, _, _ := g.snapshot(); return len(s) == 1 })
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		left, err := h.Close(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close with a delivery hanging past its deadline: %v, want DeadlineExceeded", err)
		}
		if len(left) != 2 || left[0].Event.ID != "2" || left[1].Event.ID != "3" {
			t.Fatalf("Close left %+v, want records 2 and 3", left)
		}
		close(g.release)
		// What Close returned is never delivered as well.
		ctx2, cancel2 := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel2()
		if left, err := h.Close(ctx2); err != nil || len(left) != 0 {
			t.Fatalf("second Close = %v, %v", left, err)
		}
		if started, delivered, _ := g.snapshot(); len(started) != 1 || len(delivered) != 1 {
			t.Errorf("delivered %v after Close returned the rest", started)
		}
	})
	t.Run("run_ended", func(t *testing.T) {
		var c collector
		h, err := bmc.NewEventHandler(c.deliver, bmc.WithSharedSecret("X-Event-Secret", testSecret))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := h.Run(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run with a cancelled ctx: %v", err)
		}
		if w := post(t, h, push("r1", "1"), auth); w.Code != http.StatusAccepted {
			t.Fatal(w.Code)
		}
		left, err := h.Close(context.Background()) // returns at once: nothing delivers
		if err != nil || len(left) != 1 || left[0].Server != "r1" {
			t.Fatalf("Close after Run ended = %+v, %v; want r1's fault", left, err)
		}
	})
}

// Cancelling Run's context is a shutdown: the delivery in flight sees it,
// Run returns, and what was queued stays queued.
func TestEventHandlerRunCancelledCutsDeliveryShort(t *testing.T) {
	g := newGate()
	h, err := bmc.NewEventHandler(g.deliver, bmc.WithSharedSecret("X-Event-Secret", testSecret), bmc.WithEventWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	if w := post(t, h, push("r1", "1", "2"), auth); w.Code != http.StatusAccepted {
		t.Fatal(w.Code)
	}
	eventually(t, "delivering r1/1", func() bool { s, _, _ := g.snapshot(); return len(s) == 1 })
	if err := h.Run(t.Context()); !errors.Is(err, bmc.ErrConflict) {
		t.Errorf("a second Run: %v, want ErrConflict", err)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its ctx was cancelled")
	}
	if _, _, errs := g.snapshot(); len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
		t.Errorf("the delivery in flight saw %v, want context.Canceled", errs)
	}
	if n := h.Queued(); n != 1 {
		t.Errorf("%d faults queued after Run stopped, want 1 (record 2)", n)
	}
}

func TestEventHandlerQueueOptionsRejectNonsense(t *testing.T) {
	var c collector
	for name, o := range map[string]bmc.EventHandlerOption{
		"queue 0":          bmc.WithEventQueue(0),
		"no workers":       bmc.WithEventWorkers(0),
		"Retry-After 10ms": bmc.WithEventRetryAfter(10 * time.Millisecond),
	} {
		if _, err := bmc.NewEventHandler(c.deliver, bmc.WithSharedSecret("X-S", testSecret), o); !errors.Is(err, bmc.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
