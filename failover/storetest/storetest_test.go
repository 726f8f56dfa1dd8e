package storetest_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"

	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/storetest"
	"github.com/coldstandby/coldstandby/search"
)

func TestMemStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) failover.Store { return failover.NewMemStore() })
}

// TestMemStoreReopenHarness exercises the durability subtests on a
// harness whose Reopen keeps the same MemStore (a "reopen" that loses
// nothing), so the subtest itself is known to pass on a correct store.
func TestMemStoreReopenHarness(t *testing.T) {
	storetest.RunHarness(t, storetest.Harness{
		New:    func(t *testing.T) failover.Store { return failover.NewMemStore() },
		Reopen: func(t *testing.T, st failover.Store) failover.Store { return st },
	})
}

// broken wraps a MemStore and breaks one rule of the contract.
type broken struct {
	*failover.MemStore
	bug string

	mu    sync.Mutex
	cache map[string][]failover.Entry
}

func (b *broken) Put(ctx context.Context, recs ...failover.Record) ([]failover.Record, error) {
	switch b.bug {
	case "no-cas": // last writer wins
		for i := range recs {
			cur, err := b.MemStore.Get(ctx, recs[i].ID)
			if err == nil {
				recs[i].Revision = cur.Revision
			} else {
				recs[i].Revision = 0
			}
		}
	case "not-atomic": // one record at a time
		var out []failover.Record
		for _, r := range recs {
			o, err := b.MemStore.Put(ctx, r)
			if err != nil {
				return nil, err
			}
			out = append(out, o...)
		}
		return out, nil
	case "ignores-ctx":
		ctx = context.Background()
	}
	return b.MemStore.Put(ctx, recs...)
}

func (b *broken) Append(ctx context.Context, id string, e failover.Entry) error {
	switch b.bug {
	case "no-seq": // the store numbers entries itself
		j, _ := b.MemStore.Journal(ctx, id)
		e.Seq = int64(len(j)) + 1
		if len(j) == 0 {
			e.Phase = failover.PhaseBegin
		}
	case "ignores-ctx":
		ctx = context.Background()
	}
	return b.MemStore.Append(ctx, id, e)
}

func (b *broken) Journal(ctx context.Context, id string) ([]failover.Entry, error) {
	j, err := b.MemStore.Journal(ctx, id)
	if err != nil || b.bug != "aliases" {
		return j, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.cache[id]; ok && len(c) == len(j) {
		return c, nil // the same slice every time: callers can corrupt it
	}
	b.cache[id] = j
	return j, nil
}

func (b *broken) Unfinished(ctx context.Context) ([]string, error) {
	u, err := b.MemStore.Unfinished(ctx)
	if b.bug == "unsorted" {
		slices.Reverse(u)
	}
	return u, err
}

func (b *broken) Get(ctx context.Context, id search.ServerID) (failover.Record, error) {
	if b.bug == "ignores-ctx" {
		ctx = context.Background()
	}
	return b.MemStore.Get(ctx, id)
}

// bugs maps each broken variant to a subtest that must catch it.
var bugs = map[string]string{
	"no-cas":      "PutIsCompareAndSet",
	"not-atomic":  "PutIsAtomic",
	"no-seq":      "JournalSeqRules",
	"aliases":     "Copies",
	"unsorted":    "Unfinished",
	"ignores-ctx": "Context",
	// A store that loses what it wrote when the process restarts.
	"forgets-on-reopen": "Durable",
}

// TestBrokenStoreChild runs the suite on one broken store; it is run as a
// subprocess by TestSuiteCatchesBrokenStores and does nothing otherwise.
func TestBrokenStoreChild(t *testing.T) {
	bug := os.Getenv("STORETEST_BUG")
	if bug == "" {
		t.Skip("helper for TestSuiteCatchesBrokenStores")
	}
	h := storetest.Harness{New: func(t *testing.T) failover.Store {
		return &broken{MemStore: failover.NewMemStore(), bug: bug, cache: map[string][]failover.Entry{}}
	}}
	if bug == "forgets-on-reopen" {
		h.Reopen = func(t *testing.T, _ failover.Store) failover.Store { return h.New(t) }
	}
	storetest.RunHarness(t, h)
}

func TestSuiteCatchesBrokenStores(t *testing.T) {
	if os.Getenv("STORETEST_BUG") != "" {
		return
	}
	for bug, sub := range bugs {
		t.Run(bug, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenStoreChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "STORETEST_BUG="+bug)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store with bug %q:\n%s", bug, out)
			}
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatalf("running the child: %v", err)
			}
			if !bytes.Contains(out, []byte("--- FAIL: TestBrokenStoreChild/"+sub+" ")) {
				t.Fatalf("subtest %s did not catch bug %q:\n%s", sub, bug, out)
			}
			t.Logf("bug %q caught:\n%s", bug, firstFail(out))
		})
	}
}

// firstFail returns the first failing subtest line and the line after.
func firstFail(out []byte) string {
	lines := bytes.Split(out, []byte("\n"))
	for i, l := range lines {
		if bytes.Contains(l, []byte("--- FAIL: TestBrokenStoreChild/")) {
			end := min(i+2, len(lines))
			return string(bytes.Join(lines[i:end], []byte("\n")))
		}
	}
	return ""
}

func BenchmarkMemStoreFailover(b *testing.B) {
	storetest.BenchmarkFailover(b, func(*testing.B) failover.Store { return failover.NewMemStore() })
}

func BenchmarkMemStoreReservations(b *testing.B) {
	storetest.BenchmarkReservations(b, func(*testing.B) failover.Store { return failover.NewMemStore() })
}

// TestCountingCountsEveryCall: the wrapper the round-trip benchmark
// relies on sees every call, once.
func TestCountingCountsEveryCall(t *testing.T) {
	ctx := context.Background()
	c := storetest.NewCounting(failover.NewMemStore())
	_, _ = c.Put(ctx, failover.Record{Server: search.Server{ID: "a", State: search.Standby}})
	_, _ = c.Get(ctx, "a")
	_, _ = c.List(ctx)
	_ = c.Append(ctx, "f", failover.Entry{Seq: 1, Phase: failover.PhaseBegin})
	_, _ = c.Journal(ctx, "f")
	_, _ = c.Unfinished(ctx)
	_, _ = c.Get(ctx, "b")
	if got := c.String(); got != "Append=1 Get=2 Journal=1 List=1 Put=1 Unfinished=1" || c.Total() != 7 {
		t.Fatalf("counts %s total %d", got, c.Total())
	}
	c.Reset()
	if c.Total() != 0 {
		t.Fatal("Reset did not zero the counters")
	}
}
