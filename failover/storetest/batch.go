package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/coldstandby/coldstandby/failover"
)

// testBatch checks failover.Batcher, for stores that implement it: one
// Write is Put and Append together, all or nothing.
func (s *suite) testBatch(t *testing.T) {
	st := s.h.New(t)
	b, ok := st.(failover.Batcher)
	if !ok {
		t.Skip("the store does not implement failover.Batcher (optional)")
	}
	ctx := ctxT(t)

	if out, err := b.Write(ctx, failover.Batch{}); err != nil || len(out) != 0 {
		t.Fatalf("empty Write = %v, %v; want nothing, nil", out, err)
	}

	// A new journal, a claim and a second journal's entries in one write.
	out, err := b.Write(ctx, failover.Batch{
		Appends: []failover.Append{
			{ID: "fo-1", Entries: []failover.Entry{entry(1, failover.PhaseBegin), entry(2, failover.PhaseIntent)}},
			{ID: "fo-2", Entries: []failover.Entry{entry(1, failover.PhaseBegin)}},
		},
		Puts: []failover.Record{rec("a"), rec("b")},
	})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if len(out) != 2 || out[0].ID != "a" || out[1].ID != "b" || out[0].Revision <= 0 || out[1].Revision <= 0 {
		t.Fatalf("Write returned %+v; want a and b as stored, in order, with revisions", out)
	}
	if got := mustGet(t, st, "a"); got.Revision != out[0].Revision {
		t.Fatalf("Get a: revision %d, Write said %d", got.Revision, out[0].Revision)
	}
	checkJournal(t, st, "fo-1", 2)
	checkJournal(t, st, "fo-2", 1)

	// Each way one part can fail leaves every other part unwritten.
	stale := out[0]
	stale.Revision--
	good := out[1]
	for name, bad := range map[string]failover.Batch{
		"stale revision": {
			Appends: []failover.Append{{ID: "fo-1", Entries: []failover.Entry{entry(3, failover.PhaseDone)}}},
			Puts:    []failover.Record{good, stale},
		},
		"seq gap": {
			Appends: []failover.Append{
				{ID: "fo-2", Entries: []failover.Entry{entry(2, failover.PhaseIntent)}},
				{ID: "fo-1", Entries: []failover.Entry{entry(4, failover.PhaseDone)}},
			},
			Puts: []failover.Record{good},
		},
		"new journal without begin": {
			Appends: []failover.Append{
				{ID: "fo-1", Entries: []failover.Entry{entry(3, failover.PhaseDone)}},
				{ID: "fo-3", Entries: []failover.Entry{entry(1, failover.PhaseIntent)}},
			},
			Puts: []failover.Record{good},
		},
		"entries out of order": {
			Appends: []failover.Append{{ID: "fo-1", Entries: []failover.Entry{entry(4, failover.PhaseDone), entry(3, failover.PhaseIntent)}}},
			Puts:    []failover.Record{good},
		},
		"create of an existing record": {
			Appends: []failover.Append{{ID: "fo-1", Entries: []failover.Entry{entry(3, failover.PhaseDone)}}},
			Puts:    []failover.Record{rec("a")},
		},
	} {
		if _, err := b.Write(ctx, bad); !errors.Is(err, failover.ErrConflict) {
			t.Fatalf("Write with a %s: %v, want ErrConflict", name, err)
		}
		checkJournal(t, st, "fo-1", 2)
		checkJournal(t, st, "fo-2", 1)
		if got := mustGet(t, st, "b"); got.Revision != good.Revision {
			t.Fatalf("Write with a %s wrote record b (revision %d, was %d)", name, got.Revision, good.Revision)
		}
		if _, err := st.Journal(ctx, "fo-3"); !errors.Is(err, failover.ErrNotFound) {
			t.Fatalf("Write with a %s created journal fo-3: %v", name, err)
		}
	}
	for name, bad := range map[string]failover.Batch{
		"empty failover ID": {Appends: []failover.Append{{ID: "", Entries: []failover.Entry{entry(1, failover.PhaseBegin)}}}},
		"record twice":      {Puts: []failover.Record{good, good}},
		"empty record ID":   {Puts: []failover.Record{{}}},
	} {
		if _, err := b.Write(ctx, bad); !errors.Is(err, failover.ErrInvalid) {
			t.Fatalf("Write with a %s: %v, want ErrInvalid", name, err)
		}
	}

	// Closing a journal in a write closes it for the next.
	if _, err := b.Write(ctx, failover.Batch{Appends: []failover.Append{{ID: "fo-2", Entries: []failover.Entry{entry(2, failover.PhaseEnd)}}}}); err != nil {
		t.Fatalf("Write of an end: %v", err)
	}
	if _, err := b.Write(ctx, failover.Batch{Appends: []failover.Append{{ID: "fo-2", Entries: []failover.Entry{entry(3, failover.PhaseDone)}}}}); !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("Write after the end: %v, want ErrConflict", err)
	}
	if u, err := st.Unfinished(ctx); err != nil || len(u) != 1 || u[0] != "fo-1" {
		t.Fatalf("Unfinished = %v, %v; want [fo-1]", u, err)
	}

	// Concurrent writes to one record at one revision: exactly one wins,
	// and only the winner's journal entry is written.
	const n = 8
	cur := mustGet(t, st, "b")
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := cur
			r.Note = fmt.Sprintf("writer %d", i)
			_, errs[i] = b.Write(ctx, failover.Batch{
				Appends: []failover.Append{{ID: fmt.Sprintf("race-%d", i), Entries: []failover.Entry{entry(1, failover.PhaseBegin)}}},
				Puts:    []failover.Record{r},
			})
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("writers %d and %d both won a compare-and-set", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, failover.ErrConflict):
			t.Fatalf("writer %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no writer won")
	}
	if got := mustGet(t, st, "b"); got.Note != fmt.Sprintf("writer %d", won) {
		t.Fatalf("record b says %q, the winner was writer %d", got.Note, won)
	}
	for i := range n {
		_, err := st.Journal(ctx, fmt.Sprintf("race-%d", i))
		if (i == won) != (err == nil) {
			t.Fatalf("journal of writer %d (winner %d): %v", i, won, err)
		}
	}

	if s.h.Reopen != nil {
		st = s.h.Reopen(t, st)
		checkJournal(t, st, "fo-1", 2)
		if got := mustGet(t, st, "b"); got.Note != fmt.Sprintf("writer %d", won) {
			t.Fatalf("after reopen record b says %q, want writer %d", got.Note, won)
		}
	}
}

// checkJournal fails t unless journal id holds entries 1..n.
func checkJournal(t *testing.T, st failover.Store, id string, n int) {
	t.Helper()
	j, err := st.Journal(ctxT(t), id)
	if err != nil {
		t.Fatalf("Journal %s: %v", id, err)
	}
	if len(j) != n {
		t.Fatalf("journal %s has %d entries, want %d", id, len(j), n)
	}
	for i, e := range j {
		if e.Seq != int64(i+1) {
			t.Fatalf("journal %s entry %d has seq %d", id, i, e.Seq)
		}
	}
}
