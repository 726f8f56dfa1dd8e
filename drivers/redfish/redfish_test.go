package redfish_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/drivers/redfish"
	"github.com/coldstandby/coldstandby/drivers/redfish/redfishtest"
	"github.com/coldstandby/coldstandby/partition"
	"github.com/coldstandby/coldstandby/partition/partitiontest"
)

// testOpts are the options every test Manager gets: fast task polls, and
// the opt-in to the test service's plain http:// (redfishtest serves
// HTTP; a real service is reached over https://).
var testOpts = []redfish.Option{redfish.WithTaskPoll(time.Millisecond), redfish.WithInsecureHTTP()}

func newManager(t testing.TB, srv *redfishtest.Server, opts ...redfish.Option) *redfish.Manager {
	t.Helper()
	m, err := redfish.New(srv.URL, append(slices.Clone(testOpts), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// variants are the service behaviours every test runs against.
var variants = []struct {
	name   string
	mockup string
	opts   []redfishtest.Option
}{
	{"bladed", redfishtest.BladedPartitions, nil},
	{"composability", redfishtest.Composability, nil},
	{"bladed-async", redfishtest.BladedPartitions, []redfishtest.Option{redfishtest.WithAsync()}},
	{"composability-action", redfishtest.Composability, []redfishtest.Option{redfishtest.WithComposeAction()}},
	{"bladed-action-async-auth", redfishtest.BladedPartitions, []redfishtest.Option{
		redfishtest.WithComposeAction(), redfishtest.WithAsync(), redfishtest.WithBasicAuth("admin", "pw")}},
	{"composability-async-task", redfishtest.Composability, []redfishtest.Option{
		redfishtest.WithAsync(), redfishtest.WithTaskResource()}},
}

func start(t testing.TB, mockup string, opts []redfishtest.Option) (*redfishtest.Server, *redfish.Manager) {
	srv := redfishtest.Start(t, mockup, opts...)
	return srv, newManager(t, srv, redfish.WithBasicAuth("admin", "pw"))
}

type harness struct {
	t     *testing.T
	srv   *redfishtest.Server
	n     int
	zones string
}

var (
	_ partitiontest.Harness         = (*harness)(nil)
	_ partitiontest.Forbidder       = (*harness)(nil)
	_ partitiontest.TransientFailer = (*harness)(nil)
	_ partitiontest.Staller         = (*harness)(nil)
)

func (h *harness) StallNext(ctx context.Context, d time.Duration) error {
	h.srv.StallNext(d)
	return nil
}

func TestConformance(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel() // independent services; the suite's waits overlap
			partitiontest.Run(t, func(t *testing.T) partitiontest.Harness {
				zone := "EncZone1"
				if v.mockup == redfishtest.Composability {
					zone = "1"
				}
				return &harness{t: t, srv: redfishtest.Start(t, v.mockup, v.opts...), zones: zone}
			})
		})
	}
}

func (h *harness) MakeManager(ctx context.Context) (partition.PartitionManager, error) {
	return redfish.New(h.srv.URL, append(slices.Clone(testOpts), redfish.WithBasicAuth("admin", "pw"))...)
}

// Members adds n fresh compute blocks to the mockup's own zone.
func (h *harness) Members(ctx context.Context, n int) ([]string, error) {
	var out []string
	for i := 0; i < n; i++ {
		h.n++
		id := fmt.Sprintf("TestBlock%d", h.n)
		h.srv.AddBlock(id, h.zones)
		out = append(out, id)
	}
	return out, nil
}

func (h *harness) ForbiddenPair(ctx context.Context) ([2]string, error) {
	h.srv.AddBlock("ZoneABlock", "TestZoneA")
	h.srv.AddBlock("ZoneBBlock", "TestZoneB")
	return [2]string{"ZoneABlock", "ZoneBBlock"}, nil
}

func (h *harness) FailNext(ctx context.Context) error {
	h.srv.FailNext()
	return nil
}

// LogicalServers reads the service's state directly, naming systems as
// the driver documents (Name when unique, else Id).
func (h *harness) LogicalServers(ctx context.Context) ([]partition.LogicalServer, error) {
	cs := h.srv.ComposedSystems()
	names := map[string]int{}
	for _, c := range cs {
		names[c.Name]++
	}
	var out []partition.LogicalServer
	for _, c := range cs {
		id := c.Name
		if names[c.Name] > 1 {
			id = c.ID
		}
		out = append(out, partition.LogicalServer{ID: id, Members: c.Blocks})
	}
	return out, nil
}

func TestListsMockupPartitions(t *testing.T) {
	ctx := context.Background()
	_, m := start(t, redfishtest.BladedPartitions, []redfishtest.Option{redfishtest.WithBasicAuth("admin", "pw")})
	got, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []partition.LogicalServer{
		{ID: "ComposedPartition1", Members: []string{"BladeComputeBlock1"}},
		{ID: "ComposedPartition2", Members: []string{"BladeComputeBlock2", "BladeComputeBlock3", "BladeComputeBlock5"}},
		{ID: "ComposedPartition3", Members: []string{"BladeComputeBlock6", "BladeStorageBlock8"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List = %v\nwant %v", got, want)
	}

	_, m = start(t, redfishtest.Composability, nil)
	got, err = m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Both composed systems are named "Sample Composed System": known by Id.
	want = []partition.LogicalServer{
		{ID: "ComposedSystem", Members: []string{"ComputeBlock1", "DriveBlock3", "DriveBlock4"}},
		{ID: "ComposedSystem2", Members: []string{"ComputeBlock2", "DriveBlock3", "NetworkBlock8"}},
	}
	if len(got) != 2 || got[0].ID != want[0].ID || !reflect.DeepEqual(got[0].Members, want[0].Members) || got[1].ID != want[1].ID {
		t.Errorf("List = %v\nwant %v", got, want)
	}
}

func TestComposeDecompose(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			ctx := context.Background()
			srv, m := start(t, v.mockup, v.opts)
			zone := "EncZone1"
			if v.mockup == redfishtest.Composability {
				zone = "1"
			}
			srv.AddBlock("B1", zone)
			srv.AddBlock("B2", zone)
			if err := m.Compose(ctx, "lsrv1", []string{"B2", "B1"}); err != nil {
				t.Fatal(err)
			}
			var found *redfishtest.Composed
			for _, c := range srv.ComposedSystems() {
				if c.Name == "lsrv1" {
					found = &c
				}
			}
			if found == nil || !reflect.DeepEqual(found.Blocks, []string{"B2", "B1"}) {
				t.Fatalf("service holds %+v, want lsrv1 of B2, B1", srv.ComposedSystems())
			}
			if state, sys := srv.Block("B1"); state != "Composed" || len(sys) != 1 || sys[0] != found.URI {
				t.Errorf("block B1 is %s in %v", state, sys)
			}
			// Idempotent, in any order; nothing sent.
			posts := srv.Posts()
			if err := m.Compose(ctx, "lsrv1", []string{"B1", "B2"}); err != nil {
				t.Errorf("repeated Compose: %v", err)
			}
			if srv.Posts() != posts {
				t.Errorf("repeated Compose sent a request")
			}
			if err := m.Decompose(ctx, "lsrv1"); err != nil {
				t.Fatal(err)
			}
			if state, sys := srv.Block("B1"); state != "Unused" || len(sys) != 0 {
				t.Errorf("after Decompose block B1 is %s in %v", state, sys)
			}
			if err := m.Decompose(ctx, "lsrv1"); err != nil {
				t.Errorf("repeated Decompose: %v", err)
			}
			// The freed blocks compose again.
			if err := m.Compose(ctx, "lsrv2", []string{"B1", "B2"}); err != nil {
				t.Errorf("Compose of freed blocks: %v", err)
			}
		})
	}
}

func TestComposeErrors(t *testing.T) {
	ctx := context.Background()
	srv, m := start(t, redfishtest.BladedPartitions, nil)
	srv.AddBlock("A1", "EncZone1")
	srv.AddBlock("A2", "EncZone1")
	srv.AddBlock("Z1", "OtherZone")
	for _, tc := range []struct {
		name    string
		id      string
		members []string
		want    error
	}{
		{"empty id", "", []string{"A1"}, partition.ErrInvalid},
		{"no members", "x", nil, partition.ErrInvalid},
		{"duplicate member", "x", []string{"A1", "A1"}, partition.ErrInvalid},
		{"unknown member", "x", []string{"A1", "NoSuchBlock"}, partition.ErrNotFound},
		{"member of another partition", "x", []string{"A1", "BladeComputeBlock2"}, partition.ErrConflict},
		{"different zones", "x", []string{"A1", "Z1"}, partition.ErrConflict},
		{"id exists with other members", "ComposedPartition1", []string{"A1"}, partition.ErrConflict},
	} {
		if err := m.Compose(ctx, tc.id, tc.members); !errors.Is(err, tc.want) {
			t.Errorf("%s: Compose(%q, %v) = %v, want %v", tc.name, tc.id, tc.members, err, tc.want)
		}
	}
	if srv.Posts() != 0 {
		t.Errorf("refused compositions sent %d requests", srv.Posts())
	}
	if err := m.Compose(ctx, "ComposedPartition2", []string{"BladeComputeBlock5", "BladeComputeBlock2", "BladeComputeBlock3"}); err != nil {
		t.Errorf("Compose of an existing mockup partition with its members: %v", err)
	}
}

// TestCompetingManagers: two Managers (two processes, in effect) compose
// the same blocks at once; the service lets one win and the loser gets
// ErrConflict, whether its own check or the service's answer caught it.
func TestCompetingManagers(t *testing.T) {
	ctx := context.Background()
	srv := redfishtest.Start(t, redfishtest.BladedPartitions)
	srv.AddBlock("A1", "EncZone1")
	srv.AddBlock("A2", "EncZone1")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			other := newManager(t, srv)
			errs[i] = other.Compose(ctx, fmt.Sprintf("race%d", i), []string{"A1", "A2"})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, partition.ErrConflict):
			t.Errorf("losing Compose: %v, want ErrConflict", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of 2 competing compositions of the same blocks succeeded: %v", ok, errs)
	}
}

func TestDecomposeRequiresOff(t *testing.T) {
	ctx := context.Background()
	srv, m := start(t, redfishtest.BladedPartitions, []redfishtest.Option{redfishtest.WithRequireOff()})
	if err := m.Decompose(ctx, "ComposedPartition1"); !errors.Is(err, partition.ErrConflict) {
		t.Errorf("Decompose of a running partition: %v, want ErrConflict", err)
	}
	srv.SetPower("/redfish/v1/Systems/ComposedPartition1", "Off")
	if err := m.Decompose(ctx, "ComposedPartition1"); err != nil {
		t.Errorf("Decompose after power off: %v", err)
	}
	if state, _ := srv.Block("BladeComputeBlock1"); state != "Unused" {
		t.Errorf("BladeComputeBlock1 is %s after Decompose", state)
	}
}

func TestMemberMapping(t *testing.T) {
	ctx := context.Background()
	srv := redfishtest.Start(t, redfishtest.BladedPartitions)
	srv.AddBlock("B1", "EncZone1")
	srv.AddBlock("B2", "EncZone1")
	m := newManager(t, srv, redfish.WithMembers(map[string]string{"r12-07": "B1", "r12-08": "B2", "r12-01": "BladeComputeBlock1"}))
	if err := m.Compose(ctx, "db", []string{"r12-07", "r12-08"}); err != nil {
		t.Fatal(err)
	}
	got, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"ComposedPartition1": {"r12-01"},
		"db":                 {"r12-07", "r12-08"},
	}
	for _, ls := range got {
		if w, ok := want[ls.ID]; ok && !reflect.DeepEqual(ls.Members, w) {
			t.Errorf("%s members %v, want %v", ls.ID, ls.Members, w)
		}
	}
	if _, err := redfish.New(srv.URL, redfish.WithInsecureHTTP(), redfish.WithMembers(map[string]string{"a": "B1", "b": "B1"})); !errors.Is(err, partition.ErrInvalid) {
		t.Errorf("two servers on one block: %v, want ErrInvalid", err)
	}
}

func TestTransientAndAuth(t *testing.T) {
	ctx := context.Background()
	srv := redfishtest.Start(t, redfishtest.BladedPartitions, redfishtest.WithBasicAuth("admin", "pw"))
	srv.AddBlock("B1", "EncZone1")
	m := newManager(t, srv, redfish.WithBasicAuth("admin", "pw"))
	srv.FailNext()
	if _, err := m.List(ctx); !errors.Is(err, partition.ErrTransient) {
		t.Errorf("List on 503: %v, want ErrTransient", err)
	}
	bad := newManager(t, srv, redfish.WithBasicAuth("admin", "wrong"))
	if _, err := bad.List(ctx); !errors.Is(err, partition.ErrUnsupported) {
		t.Errorf("List with a wrong password: %v, want ErrUnsupported", err)
	}
	down, _ := redfish.New("https://127.0.0.1:1")
	if _, err := down.List(ctx); !errors.Is(err, partition.ErrTransient) {
		t.Errorf("List on a closed port: %v, want ErrTransient", err)
	}
	if err := down.Compose(ctx, "x", []string{"B1"}); !errors.Is(err, partition.ErrTransient) {
		t.Errorf("Compose on a closed port: %v, want ErrTransient", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.Compose(cctx, "x", []string{"B1"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Compose with a cancelled context: %v", err)
	}
	for _, bad := range []string{"", "ftp://x", "http://", "::"} {
		if _, err := redfish.New(bad); !errors.Is(err, partition.ErrInvalid) {
			t.Errorf("New(%q): %v, want ErrInvalid", bad, err)
		}
	}
}

// TestFailedTaskMapsToKind: a composition refused inside an asynchronous
// task (the service checked the zones late) maps to the same kind as a
// synchronous refusal, whether the monitor answers with the operation's
// error or with a Task in state Exception.
func TestFailedTaskMapsToKind(t *testing.T) {
	for _, opts := range [][]redfishtest.Option{
		{redfishtest.WithAsync()},
		{redfishtest.WithAsync(), redfishtest.WithTaskResource()},
	} {
		srv := redfishtest.Start(t, redfishtest.BladedPartitions, opts...)
		srv.AddBlock("A1", "EncZone1")
		srv.AddBlock("A2", "EncZone1")
		m := newManager(t, srv)
		// Composed behind the driver's back between its check and the task.
		srv.StallNextChange(300 * time.Millisecond)
		done := make(chan error, 1)
		go func() { done <- m.Compose(context.Background(), "late", []string{"A1", "A2"}) }()
		other := newManager(t, srv)
		for deadline := time.Now().Add(5 * time.Second); srv.Held() == 0; { // the late POST is in, held
			if time.Now().After(deadline) {
				t.Fatal("the composition request never reached the service")
			}
			time.Sleep(time.Millisecond)
		}
		if err := other.Compose(context.Background(), "first", []string{"A1"}); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, partition.ErrConflict) {
			t.Errorf("%d options: Compose refused inside its task: %v, want ErrConflict", len(opts), err)
		}
	}
}

func TestAsyncCancelledIsOutcomeUnknown(t *testing.T) {
	srv := redfishtest.Start(t, redfishtest.BladedPartitions, redfishtest.WithAsync())
	srv.AddBlock("B1", "EncZone1")
	m := newManager(t, srv, redfish.WithTaskPoll(time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := m.Compose(ctx, "slow", []string{"B1"})
	if !errors.Is(err, partition.ErrOutcomeUnknown) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Compose whose task outlived ctx: %v, want ErrOutcomeUnknown and DeadlineExceeded", err)
	}
}

// TestCancelledDuringPOSTIsOutcomeUnknown: a composition request that the
// service received but had not answered when ctx ended may have happened.
func TestCancelledDuringPOSTIsOutcomeUnknown(t *testing.T) {
	srv := redfishtest.Start(t, redfishtest.BladedPartitions)
	srv.AddBlock("B1", "EncZone1")
	m := newManager(t, srv)
	srv.StallNextChange(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := m.Compose(ctx, "held", []string{"B1"})
	if !errors.Is(err, partition.ErrOutcomeUnknown) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Compose cancelled during its POST: %v, want ErrOutcomeUnknown and DeadlineExceeded", err)
	}
	time.Sleep(400 * time.Millisecond)
	// It did happen: re-reading shows it, and Compose again is idempotent.
	if err := m.Compose(context.Background(), "held", []string{"B1"}); err != nil {
		t.Errorf("Compose after the unknown outcome: %v", err)
	}
}

func BenchmarkCompose(b *testing.B) {
	srv := redfishtest.Start(b, redfishtest.BladedPartitions)
	srv.AddBlock("B1", "EncZone1")
	srv.AddBlock("B2", "EncZone1")
	m := newManager(b, srv)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Compose(ctx, "bench", []string{"B1", "B2"}); err != nil {
			b.Fatal(err)
		}
		if err := m.Decompose(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
