package site_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/site"
	"github.com/coldstandby/coldstandby/search"
)

func demo(t *testing.T) *site.Site {
	t.Helper()
	s, err := site.Load(demoFile)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func get(t *testing.T, st failover.Store, id search.ServerID) failover.Record {
	t.Helper()
	r, err := st.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runtimeState puts into st what failovers leave: srv01 failed over to
// srv02, srv07 preempted with its volumes parked, srv12 reserved by a
// failover in progress.
func runtimeState(t *testing.T, st failover.Store) {
	t.Helper()
	ctx := context.Background()
	recs, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	by := map[search.ServerID]*failover.Record{}
	for i := range recs {
		by[recs[i].ID] = &recs[i]
	}
	r1, r2, r7, r12 := by["srv01"], by["srv02"], by["srv07"], by["srv12"]
	r1.State, r1.Workload, r1.Priority, r1.MovedTo, r1.Note = search.Failed, "", 0, "srv02", "processor fault"
	r2.State, r2.Workload, r2.Priority, r2.Home, r2.Zone, r2.VLANs = search.Active, "web", 5, "srv01", "z-srv01", []int{10}
	r7.State, r7.Workload, r7.Priority, r7.Note = search.Failed, "", 0, "preempted by srv06"
	r7.Parked = []failover.ParkedVolume{{Array: "array-1", Volume: "boot-srv07", LUN: 0}}
	r12.Reservation = "srv05-1-1"
	if _, err := st.Put(ctx, *r1, *r2, *r7, *r12); err != nil {
		t.Fatal(err)
	}
}

func TestApplyKeepsRuntimeState(t *testing.T) {
	ctx := context.Background()
	s := demo(t)
	st := failover.NewMemStore()
	if _, err := s.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	runtimeState(t, st)
	before, _ := st.List(ctx)

	// An inventory change on servers with runtime state and without.
	s.HardwareClasses[0].MemoryMiB = 131072 // class A: srv01, srv02, srv09
	s.Servers[8].VLANs = []int{998}         // srv09
	d, err := s.Apply(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := st.List(ctx)
	for i, r := range after {
		b := before[i]
		if r.Reservation != b.Reservation || r.MovedTo != b.MovedTo || r.Home != b.Home || !reflect.DeepEqual(r.Parked, b.Parked) || r.Note != b.Note {
			t.Errorf("%s: runtime fields changed: %+v -> %+v", r.ID, b, r)
		}
		if r.State != b.State || r.Workload != b.Workload || r.Zone != b.Zone || !slices.Equal(r.VLANs, b.VLANs) && r.ID != "srv09" {
			t.Errorf("%s: role fields changed: %s %q %q %v -> %s %q %q %v", r.ID, b.State, b.Workload, b.Zone, b.VLANs, r.State, r.Workload, r.Zone, r.VLANs)
		}
	}
	for _, id := range []search.ServerID{"srv01", "srv02", "srv09"} {
		if r := get(t, st, id); r.Hardware.MemoryMiB != 131072 {
			t.Errorf("%s memory %d, want the site's 131072", id, r.Hardware.MemoryMiB)
		}
	}
	if r := get(t, st, "srv09"); !slices.Equal(r.VLANs, []int{998}) {
		t.Errorf("srv09 VLANs %v, want [998]", r.VLANs)
	}
	// The diff says which differences it keeps and why.
	var kept []string
	for _, c := range d.Changes {
		for _, f := range c.Fields {
			if f.Kept {
				kept = append(kept, string(c.Server)+"."+f.Field)
			}
		}
	}
	for _, want := range []string{"srv01.state", "srv02.workload", "srv07.state"} {
		if !slices.Contains(kept, want) {
			t.Errorf("diff keeps %v, want %s among them", kept, want)
		}
	}
	// Applying again writes nothing.
	d, err = s.Apply(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Empty() {
		t.Errorf("second apply not empty: %+v", d.Changes)
	}
	again, _ := st.List(ctx)
	if !reflect.DeepEqual(again, after) {
		t.Error("second apply wrote records")
	}
}

func TestApplyRefusesChangesThatBreakAFailoverInProgress(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		edit func(s *site.Site)
		want string
	}{
		{"rewire a reserved server", func(s *site.Site) { s.Servers[11].NICs[0].Port = "eth1/40" }, "failover srv05-1-1 holds srv12"},
		{"move a reserved server to another array", func(s *site.Site) { s.Servers[11].DiskArray = "array-2" }, "holds srv12"},
		{"remove a reserved server", func(s *site.Site) {
			s.Servers = slices.DeleteFunc(s.Servers, func(sv site.Server) bool { return sv.ID == "srv12" })
		}, "removing it now would break"},
		{"remove a server that runs another's workload", func(s *site.Site) {
			s.Servers = slices.DeleteFunc(s.Servers, func(sv site.Server) bool { return sv.ID == "srv02" })
		}, "runs the workload of srv01"},
		{"remove a server without a Deleter", func(s *site.Site) {
			s.Servers = slices.DeleteFunc(s.Servers, func(sv site.Server) bool { return sv.ID == "srv09" })
		}, "cannot delete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := demo(t)
			var st failover.Store = failover.NewMemStore()
			if strings.Contains(tc.name, "without a Deleter") {
				st = plainStore{st}
			}
			if _, err := s.Apply(ctx, st); err != nil {
				t.Fatal(err)
			}
			runtimeState(t, st)
			before, _ := st.List(ctx)
			tc.edit(s)
			_, err := s.Apply(ctx, st)
			if !errors.Is(err, failover.ErrConflict) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("apply = %v, want ErrConflict saying %q", err, tc.want)
			}
			if after, _ := st.List(ctx); !reflect.DeepEqual(after, before) {
				t.Error("a refused apply wrote records")
			}
		})
	}
}

// An unfinished failover's journal holds a server even before it is
// reserved.
func TestApplyRefusesRewiringAServerAnUnfinishedJournalNames(t *testing.T) {
	ctx := context.Background()
	s := demo(t)
	st := failover.NewMemStore()
	if _, err := s.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := st.Append(ctx, "srv05-9-9", failover.Entry{Seq: 1, Phase: failover.PhaseBegin, Data: []byte(`{"server":"srv05","members":["srv05"]}`)}); err != nil {
		t.Fatal(err)
	}
	s.Servers[4].HBAs[0].WWPN = "21:00:00:24:ff:00:05:99"
	_, err := s.Apply(ctx, st)
	if !errors.Is(err, failover.ErrConflict) || !strings.Contains(err.Error(), "srv05-9-9") {
		t.Fatalf("apply = %v, want a refusal naming failover srv05-9-9", err)
	}
}

func TestApplyKeepsARepairedServerStandbyWhileItsWorkloadRunsElsewhere(t *testing.T) {
	ctx := context.Background()
	s := demo(t)
	st := failover.NewMemStore()
	if _, err := s.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	runtimeState(t, st)
	// srv01 was repaired (MarkStandby): standby, no runtime story of its
	// own, while srv02 still runs its workload.
	r1 := get(t, st, "srv01")
	r1.State, r1.MovedTo = search.Standby, ""
	if _, err := st.Put(ctx, r1); err != nil {
		t.Fatal(err)
	}
	d, err := s.Apply(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if r := get(t, st, "srv01"); r.State != search.Standby || r.Workload != "" {
		t.Errorf("srv01 is %s running %q, want standby: its workload runs on srv02", r.State, r.Workload)
	}
	i := slices.IndexFunc(d.Changes, func(c site.Change) bool { return c.Server == "srv01" })
	if i < 0 || !slices.ContainsFunc(d.Changes[i].Fields, func(f site.FieldChange) bool {
		return f.Field == "state" && f.Kept && strings.Contains(f.Why, "runs on srv02")
	}) {
		t.Errorf("diff does not say srv01's state is kept: %+v", d.Changes)
	}
}

// deleter is a MemStore that can delete.
type deleter struct {
	*failover.MemStore
	mu      sync.Mutex
	deleted []search.ServerID
}

func (d *deleter) Delete(ctx context.Context, recs ...failover.Record) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range recs {
		d.deleted = append(d.deleted, r.ID)
	}
	return nil
}

func TestApplyRemovesThroughADeleter(t *testing.T) {
	ctx := context.Background()
	s := demo(t)
	st := &deleter{MemStore: failover.NewMemStore()}
	if _, err := s.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	s.Servers = slices.DeleteFunc(s.Servers, func(sv site.Server) bool { return sv.ID == "srv09" })
	if _, err := s.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.deleted, []search.ServerID{"srv09"}) {
		t.Errorf("deleted %v, want [srv09]", st.deleted)
	}
}

// A store changed between diff and write: nothing is written and the
// error says to run again.
func TestApplyLosesTheRaceCleanly(t *testing.T) {
	ctx := context.Background()
	s := demo(t)
	st := &racer{MemStore: failover.NewMemStore()}
	if _, err := s.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	s.Servers[8].VLANs = []int{998}
	st.race = true
	_, err := s.Apply(ctx, st)
	if !errors.Is(err, failover.ErrConflict) || !strings.Contains(err.Error(), "run it again") {
		t.Fatalf("apply = %v, want ErrConflict", err)
	}
	if r := get(t, st, "srv09"); slices.Equal(r.VLANs, []int{998}) {
		t.Error("the losing apply wrote")
	}
}

// racer bumps srv09's revision after the first List of an apply.
type racer struct {
	*failover.MemStore
	race bool
}

func (r *racer) Put(ctx context.Context, recs ...failover.Record) ([]failover.Record, error) {
	if r.race {
		r.race = false
		cur, _ := r.MemStore.Get(ctx, "srv09")
		if _, err := r.MemStore.Put(ctx, cur); err != nil {
			return nil, err
		}
	}
	return r.MemStore.Put(ctx, recs...)
}

// site -> records -> site -> records gives the same records, and a site
// in the form FromRecords writes comes back unchanged.
func TestRoundTripSiteRecordsSite(t *testing.T) {
	for _, file := range []string{demoFile, "../../drivers/fake/fakesite/testdata/dual.yaml"} {
		t.Run(file, func(t *testing.T) {
			s, err := site.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := s.Records()
			if err != nil {
				t.Fatal(err)
			}
			back, err := site.FromRecords(s, recs)
			if err != nil {
				t.Fatal(err)
			}
			if err := back.Validate(); err != nil {
				t.Fatal(err)
			}
			again, err := back.Records()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(again, recs) {
				t.Error("site -> records -> site -> records changed the records")
			}
			// The files name servers by class with implicit defaults: the
			// same form FromRecords writes, so the servers are equal.
			slices.SortFunc(s.Servers, func(a, b site.Server) int { return strings.Compare(a.ID, b.ID) })
			if !reflect.DeepEqual(back.Servers, s.Servers) {
				for i := range s.Servers {
					if !reflect.DeepEqual(back.Servers[i], s.Servers[i]) {
						t.Errorf("server %s:\n got %+v\nwant %+v", s.Servers[i].ID, back.Servers[i], s.Servers[i])
					}
				}
			}
		})
	}
}

func TestCredentialRefRoundTrip(t *testing.T) {
	for _, c := range []*site.Credentials{
		{PasswordEnv: "BMC_PASSWORD"},
		{Username: "admin", PasswordFile: "/etc/secrets/bmc"},
		{Username: "ops@example.com", PasswordEnv: "P"},
	} {
		ref := site.CredentialRef(c)
		got, err := site.ParseCredentialRef(ref)
		if err != nil || *got != *c {
			t.Errorf("%q -> %+v, %v; want %+v", ref, got, err, c)
		}
	}
	if _, err := site.ParseCredentialRef("hunter2"); !errors.Is(err, failover.ErrInvalid) {
		t.Errorf("a bare secret parsed as a reference: %v", err)
	}
}

// plainStore hides the optional capabilities of the store it wraps.
type plainStore struct{ failover.Store }

// A server that left the site and that nothing holds is removed from a
// store that can delete.
func TestApplyRemovesAServerThatLeftTheSite(t *testing.T) {
	ctx := context.Background()
	s := demo(t)
	st := failover.NewMemStore()
	if _, err := s.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	s.Servers = slices.DeleteFunc(s.Servers, func(sv site.Server) bool { return sv.ID == "srv09" })
	if _, err := s.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "srv09"); !errors.Is(err, failover.ErrNotFound) {
		t.Fatalf("srv09 after apply: %v, want ErrNotFound", err)
	}
}
