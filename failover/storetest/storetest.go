// Package storetest is the conformance suite for failover.Store. Authors
// of a Store (drivers/boltstore, drivers/etcdstore, or their own) call Run
// or RunHarness from a test; users of the library do not need it.
//
// The suite checks the contract written on failover.Store: compare-and-set
// on Revision (a stale write fails with ErrConflict and writes nothing),
// atomic multi-record Put, strictly increasing Revisions, the journal's
// Seq rules (first entry PhaseBegin, no gaps, no duplicates, a closed
// journal takes nothing), Journal order, Unfinished, returned values being
// copies, concurrent writers (one winner per revision, no lost update),
// context cancellation and, when the harness can reopen a store,
// durability across a reopen.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// Harness makes stores for the suite.
type Harness struct {
	// New returns an empty store, independent of every other store New
	// returned. Required. Closing it is New's business (t.Cleanup).
	New func(t *testing.T) failover.Store

	// Reopen, when set, closes st (made by New or Reopen) and returns a
	// new store over the same durable data, as a restarted process would
	// see it. The suite then checks that every successful write survived.
	Reopen func(t *testing.T, st failover.Store) failover.Store
}

// Run runs the suite on stores made by newStore (an empty, independent
// store per call), without the durability checks.
func Run(t *testing.T, newStore func(t *testing.T) failover.Store) {
	t.Helper()
	RunHarness(t, Harness{New: newStore})
}

// RunHarness runs the suite on h, including the durability checks when
// h.Reopen is set.
func RunHarness(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("storetest: Harness.New is nil")
	}
	s := &suite{h: h}
	t.Run("GetAndList", s.testGetAndList)
	t.Run("PutCreates", s.testPutCreates)
	t.Run("PutIsCompareAndSet", s.testPutCAS)
	t.Run("PutIsAtomic", s.testPutAtomic)
	t.Run("PutRejectsBadInput", s.testPutInvalid)
	t.Run("RevisionsIncrease", s.testRevisions)
	t.Run("JournalOrder", s.testJournalOrder)
	t.Run("JournalSeqRules", s.testJournalSeq)
	t.Run("JournalClosed", s.testJournalClosed)
	t.Run("Unfinished", s.testUnfinished)
	t.Run("Copies", s.testCopies)
	t.Run("ConcurrentCAS", s.testConcurrentCAS)
	t.Run("NoLostUpdate", s.testNoLostUpdate)
	t.Run("ConcurrentAppends", s.testConcurrentAppends)
	t.Run("Context", s.testContext)
	t.Run("Delete", s.testDelete)
	t.Run("Failovers", s.testFailovers)
	t.Run("Batch", s.testBatch)
	if h.Reopen != nil {
		t.Run("Durable", s.testDurable)
	}
}

type suite struct{ h Harness }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rec returns a record with every field set, so round trips are checked
// field by field.
func rec(id string) failover.Record {
	return failover.Record{
		Server: search.Server{
			ID:        search.ServerID(id),
			Hardware:  search.Hardware{CPUModel: "Xeon", CPUMHz: 2400, MemoryMiB: 65536, Chipset: "C621", NICPorts: 2, HBAPorts: 1},
			Switch:    "sw-1",
			DiskArray: "array-1",
			Zone:      "z-" + id,
			VLANs:     []int{10, 20},
			State:     search.Active,
			Workload:  "web-" + id,
			Priority:  5,
			Partition: "",
		},
		BMC:         failover.BMCRef{Driver: "fake", Endpoint: id, Credentials: "vault:" + id},
		HBAs:        []failover.HBA{{Initiator: storage.MustParseInitiator("10:00:00:00:c9:00:00:01"), Fabric: "fab-1"}},
		NICs:        []failover.NIC{{Switch: "sw-1", Port: "eth1/" + id}},
		Reservation: "",
		Parked:      []failover.ParkedVolume{{Array: "array-1", Volume: "v-" + storage.VolumeID(id), LUN: 3}},
		Note:        "note " + id,
	}
}

// same compares two records, ignoring Revision.
func same(a, b failover.Record) bool {
	a.Revision, b.Revision = 0, 0
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func mustPut(t *testing.T, st failover.Store, recs ...failover.Record) []failover.Record {
	t.Helper()
	out, err := st.Put(ctxT(t), recs...)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if len(out) != len(recs) {
		t.Fatalf("Put returned %d records for %d", len(out), len(recs))
	}
	return out
}

func mustGet(t *testing.T, st failover.Store, id string) failover.Record {
	t.Helper()
	r, err := st.Get(ctxT(t), search.ServerID(id))
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	return r
}

func mustAppend(t *testing.T, st failover.Store, id string, e failover.Entry) {
	t.Helper()
	if err := st.Append(ctxT(t), id, e); err != nil {
		t.Fatalf("Append %s seq %d: %v", id, e.Seq, err)
	}
}

func entry(seq int64, ph failover.Phase) failover.Entry {
	return failover.Entry{
		Seq:    seq,
		Time:   time.Date(2026, 1, 1, 0, 0, int(seq), 0, time.UTC),
		Phase:  ph,
		Step:   "step",
		Target: fmt.Sprintf("t%d", seq),
		Data:   json.RawMessage(fmt.Sprintf(`{"seq":%d,"vols":["a","b"]}`, seq)),
	}
}

func sameEntry(a, b failover.Entry) bool {
	if a.Seq != b.Seq || !a.Time.Equal(b.Time) || a.Phase != b.Phase || a.Step != b.Step || a.Target != b.Target || a.Error != b.Error {
		return false
	}
	var ca, cb bytes.Buffer
	if len(a.Data) > 0 || len(b.Data) > 0 {
		if json.Compact(&ca, a.Data) != nil || json.Compact(&cb, b.Data) != nil {
			return false
		}
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

func (s *suite) testGetAndList(t *testing.T) {
	st := s.h.New(t)
	ctx := ctxT(t)
	if _, err := st.Get(ctx, "nope"); !errors.Is(err, failover.ErrNotFound) {
		t.Fatalf("Get of a missing record: %v, want ErrNotFound", err)
	}
	l, err := st.List(ctx)
	if err != nil || len(l) != 0 {
		t.Fatalf("List of an empty store: %v, %v", l, err)
	}
	mustPut(t, st, rec("c"), rec("a"))
	mustPut(t, st, rec("b"))
	l, err = st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range l {
		got = append(got, string(r.ID))
		if !same(r, rec(string(r.ID))) || r.Revision == 0 {
			t.Errorf("List: record %s = %+v", r.ID, r)
		}
	}
	if !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("List IDs %v, want sorted [a b c]", got)
	}
}

func (s *suite) testPutCreates(t *testing.T) {
	st := s.h.New(t)
	want := rec("srv01")
	out := mustPut(t, st, want)
	if out[0].Revision <= 0 {
		t.Fatalf("created record has Revision %d, want > 0", out[0].Revision)
	}
	if !same(out[0], want) {
		t.Fatalf("Put returned %+v, want %+v", out[0], want)
	}
	got := mustGet(t, st, "srv01")
	if !same(got, want) || got.Revision != out[0].Revision {
		t.Fatalf("Get = %+v, want %+v at revision %d", got, want, out[0].Revision)
	}
}

func (s *suite) testPutCAS(t *testing.T) {
	st := s.h.New(t)
	ctx := ctxT(t)
	v1 := mustPut(t, st, rec("a"))[0]

	// Creating an existing record conflicts.
	if _, err := st.Put(ctx, rec("a")); !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("create of an existing record: %v, want ErrConflict", err)
	}
	next := v1
	next.Note = "second"
	v2 := mustPut(t, st, next)[0]

	// A stale revision conflicts and writes nothing.
	stale := v1
	stale.Note = "stale"
	if _, err := st.Put(ctx, stale); !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("stale put: %v, want ErrConflict", err)
	}
	// A revision from the future conflicts too.
	future := v2
	future.Revision += 1000
	future.Note = "future"
	if _, err := st.Put(ctx, future); !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("put with a future revision: %v, want ErrConflict", err)
	}
	// Updating a record that does not exist (Revision > 0) conflicts.
	ghost := rec("ghost")
	ghost.Revision = v2.Revision
	if _, err := st.Put(ctx, ghost); !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("update of a missing record: %v, want ErrConflict", err)
	}
	if _, err := st.Get(ctx, "ghost"); !errors.Is(err, failover.ErrNotFound) {
		t.Fatalf("failed update created the record: %v", err)
	}
	got := mustGet(t, st, "a")
	if got.Note != "second" || got.Revision != v2.Revision {
		t.Fatalf("after failed writes: note %q revision %d, want %q %d", got.Note, got.Revision, "second", v2.Revision)
	}
}

func (s *suite) testPutAtomic(t *testing.T) {
	st := s.h.New(t)
	ctx := ctxT(t)
	out := mustPut(t, st, rec("a"), rec("b"))
	a, b := out[0], out[1]
	bNext := b
	bNext.Note = "moved on"
	mustPut(t, st, bNext)

	a2 := a
	a2.Reservation = "fo-1"
	c := rec("c")
	// b is stale: nothing of the batch may be written, in any order.
	for _, batch := range [][]failover.Record{{a2, c, b}, {b, a2, c}, {c, b, a2}} {
		if _, err := st.Put(ctx, batch...); !errors.Is(err, failover.ErrConflict) {
			t.Fatalf("batch with a stale record: %v, want ErrConflict", err)
		}
		if got := mustGet(t, st, "a"); got.Reservation != "" || got.Revision != a.Revision {
			t.Fatalf("a written by a failed batch: %+v", got)
		}
		if _, err := st.Get(ctx, "c"); !errors.Is(err, failover.ErrNotFound) {
			t.Fatalf("c created by a failed batch: %v", err)
		}
	}
	// A good batch writes all.
	bCur := mustGet(t, st, "b")
	bCur.Reservation = "fo-1"
	out = mustPut(t, st, a2, bCur, c)
	for i, id := range []string{"a", "b", "c"} {
		got := mustGet(t, st, id)
		if got.Revision != out[i].Revision || !same(got, out[i]) {
			t.Fatalf("%s after batch = %+v, Put returned %+v", id, got, out[i])
		}
	}
}

func (s *suite) testPutInvalid(t *testing.T) {
	st := s.h.New(t)
	ctx := ctxT(t)
	if _, err := st.Put(ctx, rec("a"), failover.Record{}); !errors.Is(err, failover.ErrInvalid) {
		t.Fatalf("empty ID: %v, want ErrInvalid", err)
	}
	if _, err := st.Put(ctx, rec("a"), rec("a")); !errors.Is(err, failover.ErrInvalid) {
		t.Fatalf("same ID twice: %v, want ErrInvalid", err)
	}
	// Every record failover.Record.Validate refuses is refused by Put
	// (the Orchestrator relies on the store holding only valid records).
	for name, mutate := range map[string]func(*failover.Record){
		"negative memory":   func(r *failover.Record) { r.Hardware.MemoryMiB = -1 },
		"unknown state":     func(r *failover.Record) { r.State = "sleeping" },
		"VLAN 5000":         func(r *failover.Record) { r.VLANs = []int{5000} },
		"zero initiator":    func(r *failover.Record) { r.HBAs = append(r.HBAs, failover.HBA{}) },
		"NIC without port":  func(r *failover.Record) { r.NICs = append(r.NICs, failover.NIC{Switch: "sw"}) },
		"parked LUN 20000":  func(r *failover.Record) { r.Parked = []failover.ParkedVolume{{Array: "x", Volume: "v", LUN: 20000}} },
		"negative revision": func(r *failover.Record) { r.Revision = -1 },
	} {
		bad := rec("a")
		mutate(&bad)
		if bad.Validate() == nil {
			t.Fatalf("%s: the suite's record is valid after all", name)
		}
		if _, err := st.Put(ctx, rec("b"), bad); !errors.Is(err, failover.ErrInvalid) {
			t.Fatalf("%s: Put = %v, want ErrInvalid", name, err)
		}
	}
	for _, id := range []search.ServerID{"a", "b"} {
		if _, err := st.Get(ctx, id); !errors.Is(err, failover.ErrNotFound) {
			t.Fatalf("invalid batch wrote %s: %v", id, err)
		}
	}
	if out, err := st.Put(ctx); err != nil || len(out) != 0 {
		t.Fatalf("empty Put: %v, %v; want no records and no error", out, err)
	}
}

func (s *suite) testRevisions(t *testing.T) {
	st := s.h.New(t)
	r := mustPut(t, st, rec("a"))[0]
	other := mustPut(t, st, rec("b"))[0]
	last := r.Revision
	for i := 0; i < 5; i++ {
		// Writing the record unchanged still bumps its revision.
		r = mustPut(t, st, r)[0]
		if r.Revision <= last {
			t.Fatalf("write %d: revision %d after %d, want strictly increasing", i, r.Revision, last)
		}
		last = r.Revision
		other.Note = fmt.Sprint(i)
		other = mustPut(t, st, other)[0]
	}
	if got := mustGet(t, st, "a"); got.Revision != last {
		t.Fatalf("Get revision %d, Put returned %d", got.Revision, last)
	}
}

func (s *suite) testJournalOrder(t *testing.T) {
	st := s.h.New(t)
	ctx := ctxT(t)
	if _, err := st.Journal(ctx, "fo-1"); !errors.Is(err, failover.ErrNotFound) {
		t.Fatalf("Journal of a missing failover: %v, want ErrNotFound", err)
	}
	// 25 entries: more than 9 and more than 19, so keys that sort as text
	// without padding come out in the wrong order.
	var want []failover.Entry
	for seq := int64(1); seq <= 25; seq++ {
		ph := failover.PhaseIntent
		switch {
		case seq == 1:
			ph = failover.PhaseBegin
		case seq%2 == 1:
			ph = failover.PhaseDone
		}
		e := entry(seq, ph)
		if seq == 7 {
			e.Phase, e.Error, e.Data = failover.PhaseFailed, "array said no", nil
		}
		want = append(want, e)
		mustAppend(t, st, "fo-1", e)
		if seq == 3 {
			mustAppend(t, st, "fo-2", entry(1, failover.PhaseBegin))
		}
	}
	got, err := st.Journal(ctx, "fo-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Journal has %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if !sameEntry(got[i], want[i]) {
			t.Fatalf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if j, err := st.Journal(ctx, "fo-2"); err != nil || len(j) != 1 || j[0].Seq != 1 {
		t.Fatalf("Journal fo-2 = %+v, %v; journals must not mix", j, err)
	}
	// A failover whose ID is a prefix of another's keeps its own entries.
	mustAppend(t, st, "fo", entry(1, failover.PhaseBegin))
	if j, err := st.Journal(ctx, "fo"); err != nil || len(j) != 1 {
		t.Fatalf("Journal fo = %d entries, %v; want 1", len(j), err)
	}
}

func (s *suite) testJournalSeq(t *testing.T) {
	st := s.h.New(t)
	ctx := ctxT(t)
	if err := st.Append(ctx, "", entry(1, failover.PhaseBegin)); !errors.Is(err, failover.ErrInvalid) {
		t.Fatalf("empty failover ID: %v, want ErrInvalid", err)
	}
	// A new journal must start at 1 with PhaseBegin.
	for _, e := range []failover.Entry{entry(1, failover.PhaseIntent), entry(2, failover.PhaseBegin), entry(0, failover.PhaseBegin)} {
		if err := st.Append(ctx, "fo-1", e); !errors.Is(err, failover.ErrConflict) {
			t.Fatalf("new journal starting with seq %d %s: %v, want ErrConflict", e.Seq, e.Phase, err)
		}
	}
	if _, err := st.Journal(ctx, "fo-1"); !errors.Is(err, failover.ErrNotFound) {
		t.Fatalf("rejected first entries created a journal: %v", err)
	}
	if u, err := st.Unfinished(ctx); err != nil || len(u) != 0 {
		t.Fatalf("rejected first entries show as unfinished: %v, %v", u, err)
	}
	mustAppend(t, st, "fo-1", entry(1, failover.PhaseBegin))
	mustAppend(t, st, "fo-1", entry(2, failover.PhaseIntent))
	// Gaps, duplicates and going back conflict and write nothing.
	for _, seq := range []int64{4, 2, 1, 0, -1, 100} {
		if err := st.Append(ctx, "fo-1", entry(seq, failover.PhaseDone)); !errors.Is(err, failover.ErrConflict) {
			t.Fatalf("append seq %d after 2: %v, want ErrConflict", seq, err)
		}
	}
	mustAppend(t, st, "fo-1", entry(3, failover.PhaseDone))
	j, err := st.Journal(ctx, "fo-1")
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for _, e := range j {
		seqs = append(seqs, e.Seq)
	}
	if !slices.Equal(seqs, []int64{1, 2, 3}) {
		t.Fatalf("journal seqs %v, want [1 2 3]", seqs)
	}
	if j[1].Phase != failover.PhaseIntent {
		t.Fatalf("a rejected duplicate overwrote entry 2: %+v", j[1])
	}
}

func (s *suite) testJournalClosed(t *testing.T) {
	st := s.h.New(t)
	ctx := ctxT(t)
	mustAppend(t, st, "fo-1", entry(1, failover.PhaseBegin))
	mustAppend(t, st, "fo-1", entry(2, failover.PhaseEnd))
	for _, e := range []failover.Entry{entry(3, failover.PhaseIntent), entry(3, failover.PhaseEnd), entry(3, failover.PhaseBegin)} {
		if err := st.Append(ctx, "fo-1", e); !errors.Is(err, failover.ErrConflict) {
			t.Fatalf("append %s to a closed journal: %v, want ErrConflict", e.Phase, err)
		}
	}
	if j, _ := st.Journal(ctx, "fo-1"); len(j) != 2 {
		t.Fatalf("closed journal has %d entries, want 2", len(j))
	}
}

func (s *suite) testUnfinished(t *testing.T) {
	st := s.h.New(t)
	ctx := ctxT(t)
	if u, err := st.Unfinished(ctx); err != nil || len(u) != 0 {
		t.Fatalf("Unfinished on an empty store: %v, %v", u, err)
	}
	for _, id := range []string{"fo-c", "fo-a", "fo-b", "fo-d"} {
		mustAppend(t, st, id, entry(1, failover.PhaseBegin))
	}
	mustAppend(t, st, "fo-b", entry(2, failover.PhaseIntent))
	mustAppend(t, st, "fo-b", entry(3, failover.PhaseEnd))
	mustAppend(t, st, "fo-d", entry(2, failover.PhaseEnd))
	mustAppend(t, st, "fo-c", entry(2, failover.PhaseIntent))
	u, err := st.Unfinished(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(u, []string{"fo-a", "fo-c"}) {
		t.Fatalf("Unfinished = %v, want [fo-a fo-c]", u)
	}
	mustAppend(t, st, "fo-a", entry(2, failover.PhaseEnd))
	if u, _ := st.Unfinished(ctx); !slices.Equal(u, []string{"fo-c"}) {
		t.Fatalf("Unfinished after closing fo-a = %v, want [fo-c]", u)
	}
}

func (s *suite) testCopies(t *testing.T) {
	st := s.h.New(t)
	ctx := ctxT(t)
	in := rec("a")
	out := mustPut(t, st, in)
	// Mutating what was passed in or returned changes nothing stored.
	in.HBAs[0].Fabric, in.VLANs[0], in.Parked[0].LUN = "x", 99, 99
	out[0].HBAs[0].Fabric, out[0].VLANs[1], out[0].NICs[0].Port = "y", 98, "p"
	g := mustGet(t, st, "a")
	g.HBAs[0].Fabric, g.Parked[0].Volume = "z", "vz"
	l, _ := st.List(ctx)
	l[0].VLANs[0] = 97
	if got := mustGet(t, st, "a"); !same(got, rec("a")) {
		t.Fatalf("stored record changed through an alias: %+v", got)
	}

	e := entry(1, failover.PhaseBegin)
	mustAppend(t, st, "fo-1", e)
	e.Data[2] = 'X'
	j, _ := st.Journal(ctx, "fo-1")
	j[0].Data[2] = 'Y'
	j[0].Step = "changed"
	j, _ = st.Journal(ctx, "fo-1")
	if !sameEntry(j[0], entry(1, failover.PhaseBegin)) {
		t.Fatalf("stored entry changed through an alias: %+v", j[0])
	}
	u, _ := st.Unfinished(ctx)
	u[0] = "other"
	if u, _ := st.Unfinished(ctx); !slices.Equal(u, []string{"fo-1"}) {
		t.Fatalf("Unfinished changed through an alias: %v", u)
	}
}

// testConcurrentCAS: in each round every writer reads the same revision
// and tries to reserve the spare; exactly one wins.
func (s *suite) testConcurrentCAS(t *testing.T) {
	st := s.h.New(t)
	ctx := ctxT(t)
	const writers, rounds = 8, 6
	spare := rec("spare")
	spare.State = search.Standby
	mustPut(t, st, spare)
	for round := 0; round < rounds; round++ {
		cur := mustGet(t, st, "spare")
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []string
		var other []error
		start := make(chan struct{})
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := cur
				r.Reservation = fmt.Sprintf("fo-%d-%d", round, w)
				victim := rec(fmt.Sprintf("victim-%d-%d", round, w))
				<-start
				_, err := st.Put(ctx, r, victim)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					winners = append(winners, r.Reservation)
				case !errors.Is(err, failover.ErrConflict):
					other = append(other, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(other) > 0 {
			t.Fatalf("round %d: errors other than ErrConflict: %v", round, other)
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d writers won the same revision, want exactly 1: %v", round, len(winners), winners)
		}
		got := mustGet(t, st, "spare")
		if got.Reservation != winners[0] || got.Revision <= cur.Revision {
			t.Fatalf("round %d: stored reservation %q revision %d, winner %q", round, got.Reservation, got.Revision, winners[0])
		}
		// The losers' victims were not written (atomic batches).
		all, _ := st.List(ctx)
		n := 0
		for _, r := range all {
			if len(r.ID) > 7 && r.ID[:7] == "victim-" {
				n++
			}
		}
		if n != round+1 {
			t.Fatalf("round %d: %d victim records, want %d (losing batches wrote)", round, n, round+1)
		}
	}
}

// testNoLostUpdate: writers increment a counter with read-modify-CAS
// loops; every increment must land.
func (s *suite) testNoLostUpdate(t *testing.T) {
	st := s.h.New(t)
	ctx := ctxT(t)
	const writers, incs = 6, 8
	c := rec("counter")
	c.Priority = 0
	mustPut(t, st, c)
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < incs; {
				r, err := st.Get(ctx, "counter")
				if err != nil {
					errc <- err
					return
				}
				r.Priority++
				_, err = st.Put(ctx, r)
				switch {
				case err == nil:
					i++
				case !errors.Is(err, failover.ErrConflict):
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if got := mustGet(t, st, "counter"); got.Priority != writers*incs {
		t.Fatalf("counter = %d, want %d: updates were lost", got.Priority, writers*incs)
	}
}

func (s *suite) testConcurrentAppends(t *testing.T) {
	st := s.h.New(t)
	ctx := ctxT(t)
	const journals, entries = 6, 8
	var wg sync.WaitGroup
	errc := make(chan error, journals*2)
	for j := 0; j < journals; j++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("fo-%d", j)
			for seq := int64(1); seq <= entries; seq++ {
				ph := failover.PhaseIntent
				if seq == 1 {
					ph = failover.PhaseBegin
				}
				if err := st.Append(ctx, id, entry(seq, ph)); err != nil {
					errc <- fmt.Errorf("%s seq %d: %w", id, seq, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	for j := 0; j < journals; j++ {
		got, err := st.Journal(ctx, fmt.Sprintf("fo-%d", j))
		if err != nil || len(got) != entries {
			t.Fatalf("journal fo-%d: %d entries, %v; want %d", j, len(got), err, entries)
		}
		for i, e := range got {
			if e.Seq != int64(i+1) {
				t.Fatalf("journal fo-%d entry %d has seq %d", j, i, e.Seq)
			}
		}
	}
	u, err := st.Unfinished(ctx)
	if err != nil || len(u) != journals {
		t.Fatalf("Unfinished = %v, %v; want %d journals", u, err, journals)
	}

	// Two writers on one journal: for each Seq exactly one wins.
	mustAppend(t, st, "race", entry(1, failover.PhaseBegin))
	for seq := int64(2); seq <= 5; seq++ {
		var wins, conflicts int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := entry(seq, failover.PhaseIntent)
				e.Step = fmt.Sprintf("writer-%d", w)
				err := st.Append(ctx, "race", e)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					wins++
				} else if errors.Is(err, failover.ErrConflict) {
					conflicts++
				} else {
					t.Errorf("seq %d: %v", seq, err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 || conflicts != 3 {
			t.Fatalf("seq %d: %d appends won, %d conflicted; want 1 and 3", seq, wins, conflicts)
		}
	}
	if j, _ := st.Journal(ctx, "race"); len(j) != 5 {
		t.Fatalf("race journal has %d entries, want 5", len(j))
	}
}

func (s *suite) testContext(t *testing.T) {
	st := s.h.New(t)
	mustPut(t, st, rec("a"))
	mustAppend(t, st, "fo-1", entry(1, failover.PhaseBegin))
	cur := mustGet(t, st, "a")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", op, err)
		}
	}
	_, err := st.Get(ctx, "a")
	check("Get", err)
	_, err = st.List(ctx)
	check("List", err)
	next := cur
	next.Note = "cancelled"
	_, err = st.Put(ctx, next, rec("b"))
	check("Put", err)
	check("Append", st.Append(ctx, "fo-1", entry(2, failover.PhaseIntent)))
	check("Append new", st.Append(ctx, "fo-2", entry(1, failover.PhaseBegin)))
	_, err = st.Journal(ctx, "fo-1")
	check("Journal", err)
	_, err = st.Unfinished(ctx)
	check("Unfinished", err)

	// Nothing was written.
	if got := mustGet(t, st, "a"); got.Note != cur.Note || got.Revision != cur.Revision {
		t.Errorf("cancelled Put wrote a: %+v", got)
	}
	bg := ctxT(t)
	if _, err := st.Get(bg, "b"); !errors.Is(err, failover.ErrNotFound) {
		t.Errorf("cancelled Put created b: %v", err)
	}
	if j, _ := st.Journal(bg, "fo-1"); len(j) != 1 {
		t.Errorf("cancelled Append wrote: %d entries", len(j))
	}
	if _, err := st.Journal(bg, "fo-2"); !errors.Is(err, failover.ErrNotFound) {
		t.Errorf("cancelled Append created a journal: %v", err)
	}

	// An expired deadline is honoured the same way.
	dctx, dcancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer dcancel()
	if _, err := st.Get(dctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get with an expired deadline: %v, want DeadlineExceeded", err)
	}
}

func (s *suite) testDurable(t *testing.T) {
	st := s.h.New(t)
	ctx := ctxT(t)
	out := mustPut(t, st, rec("a"), rec("b"))
	a := out[0]
	a.Reservation = "fo-1"
	a = mustPut(t, st, a)[0]
	for seq := int64(1); seq <= 12; seq++ {
		ph := failover.PhaseIntent
		if seq == 1 {
			ph = failover.PhaseBegin
		}
		mustAppend(t, st, "fo-1", entry(seq, ph))
	}
	mustAppend(t, st, "fo-2", entry(1, failover.PhaseBegin))
	mustAppend(t, st, "fo-2", entry(2, failover.PhaseEnd))

	st = s.h.Reopen(t, st)
	got := mustGet(t, st, "a")
	if got.Revision != a.Revision || !same(got, a) {
		t.Fatalf("after reopen a = %+v, want %+v", got, a)
	}
	if l, err := st.List(ctx); err != nil || len(l) != 2 {
		t.Fatalf("after reopen List = %d records, %v", len(l), err)
	}
	j, err := st.Journal(ctx, "fo-1")
	if err != nil || len(j) != 12 {
		t.Fatalf("after reopen journal fo-1: %d entries, %v; want 12", len(j), err)
	}
	for i, e := range j {
		if !sameEntry(e, entry(int64(i+1), e.Phase)) {
			t.Fatalf("after reopen entry %d = %+v", i, e)
		}
	}
	if u, err := st.Unfinished(ctx); err != nil || !slices.Equal(u, []string{"fo-1"}) {
		t.Fatalf("after reopen Unfinished = %v, %v; want [fo-1]", u, err)
	}
	// The rules still hold after a reopen: CAS, revisions going up, Seq.
	stale := out[0]
	if _, err := st.Put(ctx, stale); !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("after reopen, stale put: %v, want ErrConflict", err)
	}
	a2 := mustPut(t, st, got)[0]
	if a2.Revision <= a.Revision {
		t.Fatalf("after reopen revision went from %d to %d", a.Revision, a2.Revision)
	}
	if err := st.Append(ctx, "fo-1", entry(12, failover.PhaseDone)); !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("after reopen duplicate seq: %v, want ErrConflict", err)
	}
	if err := st.Append(ctx, "fo-2", entry(3, failover.PhaseIntent)); !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("after reopen append to a closed journal: %v, want ErrConflict", err)
	}
	mustAppend(t, st, "fo-1", entry(13, failover.PhaseEnd))
	st = s.h.Reopen(t, st)
	if u, err := st.Unfinished(ctx); err != nil || len(u) != 0 {
		t.Fatalf("after second reopen Unfinished = %v, %v; want none", u, err)
	}
	if got := mustGet(t, st, "a"); got.Revision != a2.Revision {
		t.Fatalf("after second reopen a revision %d, want %d", got.Revision, a2.Revision)
	}
}

// testDelete checks failover.Deleter, for stores that implement it.
func (s *suite) testDelete(t *testing.T) {
	st := s.h.New(t)
	d, ok := st.(failover.Deleter)
	if !ok {
		t.Skip("the store does not implement failover.Deleter (optional)")
	}
	ctx := ctxT(t)
	out := mustPut(t, st, rec("a"), rec("b"), rec("c"))
	stale := out[0]
	stale.Revision--
	if err := d.Delete(ctx, out[1], stale); !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("Delete with a stale revision: %v, want ErrConflict", err)
	}
	if err := d.Delete(ctx, out[1], rec("nobody")); !errors.Is(err, failover.ErrNotFound) {
		t.Fatalf("Delete of a missing record: %v, want ErrNotFound", err)
	}
	if err := d.Delete(ctx, out[1], out[1]); !errors.Is(err, failover.ErrInvalid) {
		t.Fatalf("Delete of one record twice: %v, want ErrInvalid", err)
	}
	mustGet(t, st, "b") // nothing deleted by the failed calls
	if err := d.Delete(ctx, out[0], out[1]); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for _, id := range []search.ServerID{"a", "b"} {
		if _, err := st.Get(ctx, id); !errors.Is(err, failover.ErrNotFound) {
			t.Fatalf("Get %s after Delete: %v, want ErrNotFound", id, err)
		}
	}
	if all, err := st.List(ctx); err != nil || len(all) != 1 || all[0].ID != "c" {
		t.Fatalf("List after Delete: %v %v", all, err)
	}
	if _, err := st.Put(ctx, rec("a")); err != nil {
		t.Fatalf("Put of a deleted ID as new: %v", err)
	}
	if s.h.Reopen != nil {
		st = s.h.Reopen(t, st)
		if _, err := st.Get(ctx, "b"); !errors.Is(err, failover.ErrNotFound) {
			t.Fatalf("Get b after Delete and reopen: %v, want ErrNotFound", err)
		}
		if all, err := st.List(ctx); err != nil || len(all) != 2 {
			t.Fatalf("List after Delete and reopen: %v %v, want a and c", all, err)
		}
	}
}

// testFailovers checks failover.JournalLister, for stores that
// implement it.
func (s *suite) testFailovers(t *testing.T) {
	st := s.h.New(t)
	jl, ok := st.(failover.JournalLister)
	if !ok {
		t.Skip("the store does not implement failover.JournalLister (optional)")
	}
	ctx := ctxT(t)
	for _, id := range []string{"f2", "f1"} {
		if err := st.Append(ctx, id, failover.Entry{Seq: 1, Phase: failover.PhaseBegin}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Append(ctx, "f1", failover.Entry{Seq: 2, Phase: failover.PhaseEnd}); err != nil {
		t.Fatal(err)
	}
	ids, err := jl.Failovers(ctx)
	if err != nil || len(ids) != 2 || ids[0] != "f1" || ids[1] != "f2" {
		t.Fatalf("Failovers = %v, %v; want [f1 f2], finished or not, sorted", ids, err)
	}
}
