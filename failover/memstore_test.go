package failover_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
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
	b := failover.Record{Server: search.Server{ID: "b", State: search.Standby}}
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

func TestRecordsAndEntriesAreJSON(t *testing.T) {
	r := failover.Record{
		Server:      search.Server{ID: "a", State: search.Active, VLANs: []int{10}},
		BMC:         failover.BMCRef{Driver: "ipmi", Endpoint: "10.0.0.1", Credentials: "vault:bmc/a"},
		HBAs:        []failover.HBA{{Initiator: storage.MustParseInitiator("21:00:00:24:ff:4c:9d:2e"), Fabric: "A"}, {Initiator: storage.MustParseInitiator("iqn.2020-01.com.example:a")}},
		NICs:        []failover.NIC{{Switch: "sw", Port: "eth1"}},
		Parked:      []failover.ParkedVolume{{Array: "x", Volume: "v", LUN: 3}},
		Reservation: "f", Revision: 7,
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back failover.Record
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, back) {
		t.Fatalf("round trip:\n%+v\n%+v", r, back)
	}
	e := failover.Entry{Seq: 1, Phase: failover.PhaseIntent, Step: "storage", Data: json.RawMessage(`{"a":1}`)}
	b, _ = json.Marshal(e)
	var eb failover.Entry
	if err := json.Unmarshal(b, &eb); err != nil || eb.Step != "storage" || string(eb.Data) != `{"a":1}` {
		t.Fatalf("entry round trip: %+v %v", eb, err)
	}
	s := failover.NewMemStore()
	if err := s.Append(context.Background(), "f", failover.Entry{Seq: 1, Phase: failover.PhaseBegin, Data: json.RawMessage("{")}); !errors.Is(err, failover.ErrInvalid) {
		t.Fatalf("bad JSON data: %v", err)
	}
}
