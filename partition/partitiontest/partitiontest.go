package partitiontest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/internal/conformance"
	"github.com/coldstandby/coldstandby/partition"
)

// Limits the suite holds drivers to.
const (
	// workers is the number of goroutines of the concurrency tests.
	workers = 8
	// prefix starts the ID of every logical server the suite composes.
	prefix = "conformance-"
	// unknownMember names no server on any platform.
	unknownMember = "conformance-no-such-member"
)

// Run runs the conformance suite against the driver that newHarness
// builds. newHarness is called once per subtest and must return a fresh
// harness (or stop the test with t.Fatal or t.Skip).
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	s := &suite{newHarness: newHarness}
	t.Run("List", s.testList)
	t.Run("Compose", s.testCompose)
	t.Run("Decompose", s.testDecompose)
	t.Run("TransientFailure", s.testTransient)
	t.Run("Context", s.testContext)
	t.Run("Concurrency", s.testConcurrency)
}

type suite struct {
	newHarness func(t *testing.T) Harness
}

type fixture struct {
	h       Harness
	d       partition.PartitionManager
	members []string
}

func (s *suite) setup(t *testing.T, nmembers int) *fixture {
	t.Helper()
	f := &fixture{h: s.newHarness(t)}
	var err error
	if f.d, err = f.h.MakeManager(t.Context()); err != nil {
		t.Fatalf("harness: MakeManager: %v", err)
	}
	if f.d == nil {
		t.Fatal("harness: MakeManager returned a nil PartitionManager")
	}
	if nmembers > 0 {
		if f.members, err = f.h.Members(t.Context(), nmembers); err != nil {
			t.Fatalf("harness: Members(%d): %v", nmembers, err)
		}
		if len(f.members) != nmembers || len(slices.Compact(slices.Sorted(slices.Values(f.members)))) != nmembers {
			t.Fatalf("harness: Members(%d) returned %v, want %d distinct members", nmembers, f.members, nmembers)
		}
	}
	return f
}

// state is the part of the platform the suite owns: every logical server
// with the suite's prefix or with one of its members, as ID -> sorted
// members.
type state map[string][]string

func (st state) String() string {
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(st)) {
		fmt.Fprintf(&b, "%s%v ", id, st[id])
	}
	return strings.TrimSpace(b.String())
}

func (f *fixture) ours(servers []partition.LogicalServer, extra ...string) state {
	st := state{}
	for _, ls := range servers {
		mine := strings.HasPrefix(ls.ID, prefix)
		for _, m := range ls.Members {
			if slices.Contains(f.members, m) || slices.Contains(extra, m) {
				mine = true
			}
		}
		if mine {
			st[ls.ID] = slices.Sorted(slices.Values(ls.Members))
		}
	}
	return st
}

// platform reads the platform's state through the harness.
func (f *fixture) platform(t *testing.T, extra ...string) state {
	t.Helper()
	ls, err := f.h.LogicalServers(t.Context())
	if err != nil {
		t.Fatalf("harness: LogicalServers: %v", err)
	}
	return f.ours(ls, extra...)
}

// want builds a state from id, members, id, members...
func want(pairs ...any) state {
	st := state{}
	for i := 0; i < len(pairs); i += 2 {
		st[pairs[i].(string)] = slices.Sorted(slices.Values(pairs[i+1].([]string)))
	}
	return st
}

// wantState checks the platform (through the harness) and the driver's
// List against want.
func (f *fixture) wantState(t *testing.T, after string, want state, extra ...string) {
	t.Helper()
	if got := f.platform(t, extra...); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("after %s the platform has %v, want %v", after, got, want)
	}
	ls, err := f.d.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got := f.ours(ls, extra...); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("after %s List shows %v, want %v", after, got, want)
	}
}

func (f *fixture) mustCompose(t *testing.T, id string, members []string) {
	t.Helper()
	if err := f.d.Compose(t.Context(), id, members); err != nil {
		t.Fatalf("Compose(%s, %v): %v", id, members, err)
	}
}

func (s *suite) testList(t *testing.T) {
	t.Run("sorted_by_ID_with_members", func(t *testing.T) {
		f := s.setup(t, 3)
		f.mustCompose(t, prefix+"b", f.members[:2])
		f.mustCompose(t, prefix+"a", f.members[2:])
		ls, err := f.d.List(t.Context())
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if !slices.IsSortedFunc(ls, func(a, b partition.LogicalServer) int { return strings.Compare(a.ID, b.ID) }) {
			var ids []string
			for _, l := range ls {
				ids = append(ids, l.ID)
			}
			t.Errorf("List IDs %v, want them sorted", ids)
		}
		f.wantState(t, "two Composes", want(prefix+"b", f.members[:2], prefix+"a", f.members[2:]))
	})
}

func (s *suite) testCompose(t *testing.T) {
	t.Run("makes_logical_server", func(t *testing.T) {
		f := s.setup(t, 3)
		f.mustCompose(t, prefix+"1", f.members[:2])
		f.wantState(t, "Compose", want(prefix+"1", f.members[:2]))
	})
	t.Run("twice_is_once_in_any_order", func(t *testing.T) {
		f := s.setup(t, 2)
		f.mustCompose(t, prefix+"1", f.members)
		f.mustCompose(t, prefix+"1", f.members)
		f.mustCompose(t, prefix+"1", []string{f.members[1], f.members[0]})
		f.wantState(t, "the same Compose three times", want(prefix+"1", f.members))
	})
	t.Run("existing_ID_with_other_members_is_conflict", func(t *testing.T) {
		f := s.setup(t, 3)
		f.mustCompose(t, prefix+"1", f.members[:2])
		for _, other := range [][]string{f.members[2:], f.members[:1], f.members} {
			err := f.d.Compose(t.Context(), prefix+"1", other)
			conformance.WantKind(t, fmt.Sprintf("Compose of an existing ID with members %v", other), err, partition.ErrConflict)
		}
		f.wantState(t, "conflicting Composes", want(prefix+"1", f.members[:2]))
	})
	t.Run("member_of_another_logical_server_is_conflict", func(t *testing.T) {
		f := s.setup(t, 3)
		f.mustCompose(t, prefix+"1", f.members[:2])
		err := f.d.Compose(t.Context(), prefix+"2", f.members[1:])
		conformance.WantKind(t, "Compose with a member of another logical server", err, partition.ErrConflict)
		f.wantState(t, "a conflicting Compose", want(prefix+"1", f.members[:2]))
	})
	t.Run("unknown_member_is_not_found", func(t *testing.T) {
		f := s.setup(t, 1)
		err := f.d.Compose(t.Context(), prefix+"1", []string{f.members[0], unknownMember})
		conformance.WantKind(t, "Compose with an unknown member", err, partition.ErrNotFound)
		conformance.WantNamed(t, "Compose with an unknown member", err, unknownMember)
		f.wantState(t, "a failed Compose", want())
	})
	t.Run("malformed_request_is_invalid", func(t *testing.T) {
		f := s.setup(t, 2)
		for _, c := range []struct {
			id      string
			members []string
		}{
			{"", f.members},
			{prefix + "1", nil},
			{prefix + "1", []string{}},
			{prefix + "1", []string{f.members[0], f.members[1], f.members[0]}},
		} {
			err := f.d.Compose(t.Context(), c.id, c.members)
			conformance.WantKind(t, fmt.Sprintf("Compose(%q, %q)", c.id, c.members), err, partition.ErrInvalid)
		}
		f.wantState(t, "invalid Composes", want())
	})
	t.Run("forbidden_combination_is_conflict", func(t *testing.T) {
		f := s.setup(t, 0)
		fb, ok := f.h.(Forbidder)
		if !ok {
			t.Skip("platform composes any combination of servers (no partitiontest.Forbidder)")
		}
		pair, err := fb.ForbiddenPair(t.Context())
		if err != nil {
			t.Fatalf("harness: ForbiddenPair: %v", err)
		}
		err = f.d.Compose(t.Context(), prefix+"1", pair[:])
		conformance.WantKind(t, fmt.Sprintf("Compose of the forbidden combination %v", pair), err, partition.ErrConflict)
		f.wantState(t, "a forbidden Compose", want(), pair[:]...)
	})
}

func (s *suite) testDecompose(t *testing.T) {
	t.Run("frees_members", func(t *testing.T) {
		f := s.setup(t, 2)
		f.mustCompose(t, prefix+"1", f.members)
		if err := f.d.Decompose(t.Context(), prefix+"1"); err != nil {
			t.Fatalf("Decompose: %v", err)
		}
		f.wantState(t, "Decompose", want())
		f.mustCompose(t, prefix+"2", f.members[1:])
		f.wantState(t, "Compose from freed members", want(prefix+"2", f.members[1:]))
	})
	t.Run("twice_is_once", func(t *testing.T) {
		f := s.setup(t, 1)
		f.mustCompose(t, prefix+"1", f.members)
		for i := range 2 {
			if err := f.d.Decompose(t.Context(), prefix+"1"); err != nil {
				t.Fatalf("Decompose #%d: %v", i+1, err)
			}
		}
		f.wantState(t, "Decompose twice", want())
	})
	t.Run("absent_returns_nil", func(t *testing.T) {
		f := s.setup(t, 1)
		f.mustCompose(t, prefix+"1", f.members)
		if err := f.d.Decompose(t.Context(), prefix+"absent"); err != nil {
			t.Fatalf("Decompose of an ID that does not exist: %v, want nil", err)
		}
		f.wantState(t, "Decompose of another ID", want(prefix+"1", f.members))
	})
}

func (s *suite) testTransient(t *testing.T) {
	t.Run("failed_Compose_changes_nothing_and_retry_succeeds", func(t *testing.T) {
		f := s.setup(t, 1)
		tf, ok := f.h.(TransientFailer)
		if !ok {
			t.Skip("harness cannot make a request fail (no partitiontest.TransientFailer)")
		}
		if err := tf.FailNext(t.Context()); err != nil {
			t.Fatalf("harness: FailNext: %v", err)
		}
		err := f.d.Compose(t.Context(), prefix+"1", f.members)
		conformance.WantKind(t, "Compose with the platform failing", err, partition.ErrTransient)
		f.wantState(t, "a failed Compose", want())
		f.mustCompose(t, prefix+"1", f.members)
		f.wantState(t, "Compose retried", want(prefix+"1", f.members))
	})
}

func (s *suite) testContext(t *testing.T) {
	t.Run("cancelled_mid_request_Compose", func(t *testing.T) {
		f := s.setup(t, 1)
		st, ok := f.h.(Staller)
		if !ok {
			t.Skip("harness cannot hold a request (no partitiontest.Staller)")
		}
		if conformance.CancelMidRequest(t, st, "Compose", func(ctx context.Context) error { return f.d.Compose(ctx, prefix+"1", f.members) }) {
			f.wantState(t, "a Compose cancelled mid-request without ErrOutcomeUnknown", want())
		}
	})
	conformance.DoneContexts(t, func(t *testing.T, done func(*testing.T) context.Context, wantErr error) {
		t.Run("List", func(t *testing.T) {
			f := s.setup(t, 0)
			conformance.CheckDone(t, "List", wantErr, func() error {
				_, err := f.d.List(done(t))
				return err
			})
		})
		t.Run("Compose_changes_nothing", func(t *testing.T) {
			f := s.setup(t, 1)
			if !conformance.CheckDone(t, "Compose", wantErr, func() error { return f.d.Compose(done(t), prefix+"1", f.members) }) {
				f.wantState(t, "a Compose with a done context", want())
			}
		})
		t.Run("Decompose_changes_nothing", func(t *testing.T) {
			f := s.setup(t, 1)
			f.mustCompose(t, prefix+"1", f.members)
			if !conformance.CheckDone(t, "Decompose", wantErr, func() error { return f.d.Decompose(done(t), prefix+"1") }) {
				f.wantState(t, "a Decompose with a done context", want(prefix+"1", f.members))
			}
		})
	})
}

func (s *suite) testConcurrency(t *testing.T) {
	t.Run("distinct_logical_servers", func(t *testing.T) {
		f := s.setup(t, workers)
		conformance.NoErrors(t, "Compose", conformance.Parallel(workers, func(i int) error {
			return f.d.Compose(t.Context(), fmt.Sprintf("%s%d", prefix, i), f.members[i:i+1])
		}))
		st := state{}
		for i, m := range f.members {
			st[fmt.Sprintf("%s%d", prefix, i)] = []string{m}
		}
		f.wantState(t, fmt.Sprintf("%d parallel Composes", workers), st)
		conformance.NoErrors(t, "Decompose", conformance.Parallel(workers, func(i int) error {
			return f.d.Decompose(t.Context(), fmt.Sprintf("%s%d", prefix, i))
		}))
		f.wantState(t, fmt.Sprintf("%d parallel Decomposes", workers), want())
	})
	t.Run("same_Compose_from_every_goroutine", func(t *testing.T) {
		f := s.setup(t, 2)
		conformance.NoErrors(t, "identical Compose", conformance.Parallel(workers, func(int) error { return f.d.Compose(t.Context(), prefix+"1", f.members) }))
		f.wantState(t, "identical parallel Composes", want(prefix+"1", f.members))
	})
	t.Run("contested_member_one_winner", func(t *testing.T) {
		f := s.setup(t, 1)
		errs := conformance.Parallel(workers, func(i int) error { return f.d.Compose(t.Context(), fmt.Sprintf("%s%d", prefix, i), f.members) })
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("goroutines %d and %d both composed a logical server of %v", winner, i, f.members)
			case err == nil:
				winner = i
			case !errors.Is(err, partition.ErrConflict):
				t.Errorf("Compose with a member another goroutine took: %v, want ErrConflict", err)
			}
		}
		if winner < 0 {
			t.Fatalf("no goroutine composed a logical server: %v", errs)
		}
		f.wantState(t, "contested Composes", want(fmt.Sprintf("%s%d", prefix, winner), f.members))
	})
}
