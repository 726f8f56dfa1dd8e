package failover_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

func TestMemStorePutIsCompareAndSet(t *testing.T) {
	ctx := context.Background()
	s := failover.NewMemStore()
	a := failover.Record{Server: search.Server{ID: "a", State: search.Active}}
	got, err := s.Put(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Revision == 0 {
		t.Fatal("revision not set")
	}
	if _, err := s.Put(ctx, a); !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("create of an existing record: %v, want ErrConflict", err)
	}
	b := failover.Record{Server: search.Server{ID: "b"}}
	stale := got[0]
	next := got[0]
	next.Note = "x"
	if _, err := s.Put(ctx, next); err != nil {
		t.Fatal(err)
	}
	// Atomic: a stale record fails the whole batch, b is not created.
	if _, err := s.Put(ctx, b, stale); !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("stale put: %v", err)
	}
	if _, err := s.Get(ctx, "b"); !errors.Is(err, failover.ErrNotFound) {
		t.Fatalf("b written by a failed batch: %v", err)
	}
	if _, err := s.Put(ctx, b, b); !errors.Is(err, failover.ErrInvalid) {
		t.Fatalf("duplicate in batch: %v", err)
	}
	list, _ := s.List(ctx)
	if len(list) != 1 || list[0].Note != "x" {
		t.Fatalf("list = %+v", list)
	}
}

func TestMemStoreConcurrentReservationsGiveOneWinner(t *testing.T) {
	ctx := context.Background()
	s := failover.NewMemStore()
	recs, _ := s.Put(ctx, failover.Record{Server: search.Server{ID: "spare", State: search.Standby}})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := recs[0]
			r.Reservation = "f"
			if _, err := s.Put(ctx, r); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d reservations won, want 1", wins)
	}
}

func TestMemStoreJournal(t *testing.T) {
	ctx := context.Background()
	s := failover.NewMemStore()
	if err := s.Append(ctx, "f1", failover.Entry{Seq: 1, Phase: failover.PhaseIntent}); !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("journal not opened by begin: %v", err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Append(ctx, "f1", failover.Entry{Seq: 1, Phase: failover.PhaseBegin}))
	must(s.Append(ctx, "f2", failover.Entry{Seq: 1, Phase: failover.PhaseBegin}))
	if err := s.Append(ctx, "f1", failover.Entry{Seq: 1, Phase: failover.PhaseIntent}); !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("reused seq: %v", err)
	}
	must(s.Append(ctx, "f1", failover.Entry{Seq: 2, Phase: failover.PhaseIntent, Step: "fence"}))
	must(s.Append(ctx, "f2", failover.Entry{Seq: 2, Phase: failover.PhaseEnd}))
	if err := s.Append(ctx, "f2", failover.Entry{Seq: 3, Phase: failover.PhaseIntent}); !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("append after end: %v", err)
	}
	u, _ := s.Unfinished(ctx)
	if len(u) != 1 || u[0] != "f1" {
		t.Fatalf("unfinished = %v", u)
	}
	j, _ := s.Journal(ctx, "f1")
	if len(j) != 2 || j[1].Step != "fence" {
		t.Fatalf("journal = %+v", j)
	}
	if _, err := s.Journal(ctx, "nope"); !errors.Is(err, failover.ErrNotFound) {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.List(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled list: %v", err)
	}
}
