package partitiontest_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/internal/conformance"
	"github.com/coldstandby/coldstandby/partition"
	"github.com/coldstandby/coldstandby/partition/partitiontest"
)

// platform is the simulated composition service behind the reference
// driver. Servers "a*" and "b*" are in two resource zones that cannot be
// mixed.
type platform struct {
	mu      sync.Mutex
	servers map[string]bool
	logical map[string][]string
	next    int
	conformance.Faults
}

func newPlatform() *platform {
	p := &platform{servers: map[string]bool{}, logical: map[string][]string{}}
	// A logical server the platform had before the suite came: it must
	// be left alone.
	p.servers["pre0"], p.servers["pre1"] = true, true
	p.logical["existing"] = []string{"pre0", "pre1"}
	return p
}

func zone(member string) byte { return member[0] }

// ref is a correct, in-memory partition.PartitionManager; variant breaks
// it on purpose.
type ref struct {
	p       *platform
	variant string
}

var _ partition.PartitionManager = (*ref)(nil)

// begin checks ctx and the injected failure, then takes the lock.
func (r *ref) begin(ctx context.Context, op string) error {
	return r.p.Admit(ctx, &r.p.mu, op, "service unavailable", r.variant, nil)
}

func (r *ref) List(ctx context.Context) ([]partition.LogicalServer, error) {
	if err := r.begin(ctx, "list"); err != nil {
		return nil, err
	}
	defer r.p.mu.Unlock()
	var out []partition.LogicalServer
	for id, m := range r.p.logical {
		out = append(out, partition.LogicalServer{ID: id, Members: slices.Clone(m)})
	}
	if r.variant != "unsorted" {
		slices.SortFunc(out, func(a, b partition.LogicalServer) int { return strings.Compare(a.ID, b.ID) })
	} else {
		slices.SortFunc(out, func(a, b partition.LogicalServer) int { return -strings.Compare(a.ID, b.ID) })
	}
	return out, nil
}

func (r *ref) Compose(ctx context.Context, id string, members []string) error {
	if id == "" || len(members) == 0 {
		return fmt.Errorf("ref: compose %q: empty id or members: %w", id, partition.ErrInvalid)
	}
	if r.variant != "no-duplicate-check" && len(slices.Compact(slices.Sorted(slices.Values(members)))) != len(members) {
		return fmt.Errorf("ref: compose %s: duplicate member: %w", id, partition.ErrInvalid)
	}
	if err := r.begin(ctx, "compose"); err != nil {
		return err
	}
	fail := func(format string, a ...any) error {
		r.p.mu.Unlock()
		return fmt.Errorf("ref: compose "+id+": "+format, a...)
	}
	for _, m := range members {
		if !r.p.servers[m] {
			if r.variant == "wrong-kind" {
				return fail("member %s: %w", m, partition.ErrInvalid)
			}
			return fail("member %s: %w", m, partition.ErrNotFound)
		}
		if r.variant != "ignores-zones" && zone(m) != zone(members[0]) {
			return fail("%s and %s are in different zones: %w", m, members[0], partition.ErrConflict)
		}
	}
	if have, ok := r.p.logical[id]; ok {
		if r.variant != "not-idempotent" && sameSet(have, members) {
			r.p.mu.Unlock()
			return nil
		}
		return fail("exists with members %v: %w", have, partition.ErrConflict)
	}
	if r.variant != "steals-members" {
		for other, have := range r.p.logical {
			for _, m := range members {
				if slices.Contains(have, m) {
					return fail("%s belongs to %s: %w", m, other, partition.ErrConflict)
				}
			}
		}
	}
	if r.variant == "racy" {
		r.p.mu.Unlock()
		time.Sleep(time.Millisecond)
		r.p.mu.Lock()
	}
	defer r.p.mu.Unlock()
	r.p.logical[id] = slices.Clone(members)
	return nil
}

func sameSet(x, y []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(x)), slices.Sorted(slices.Values(y)))
}

func (r *ref) Decompose(ctx context.Context, id string) error {
	if err := r.begin(ctx, "decompose"); err != nil {
		return err
	}
	defer r.p.mu.Unlock()
	if _, ok := r.p.logical[id]; !ok && r.variant == "absent-is-error" {
		return fmt.Errorf("ref: decompose %s: %w", id, partition.ErrNotFound)
	}
	delete(r.p.logical, id)
	return nil
}

// harness is the reference harness, with every optional capability.
type harness struct {
	p       *platform
	variant string
}

func (h *harness) MakeManager(context.Context) (partition.PartitionManager, error) {
	return &ref{p: h.p, variant: h.variant}, nil
}

func (h *harness) Members(_ context.Context, n int) ([]string, error) {
	h.p.mu.Lock()
	defer h.p.mu.Unlock()
	var out []string
	for range n {
		h.p.next++
		m := fmt.Sprintf("a%02d", h.p.next)
		h.p.servers[m] = true
		out = append(out, m)
	}
	return out, nil
}

func (h *harness) LogicalServers(context.Context) ([]partition.LogicalServer, error) {
	h.p.mu.Lock()
	defer h.p.mu.Unlock()
	var out []partition.LogicalServer
	for id, m := range h.p.logical {
		out = append(out, partition.LogicalServer{ID: id, Members: slices.Clone(m)})
	}
	return out, nil
}

func (h *harness) ForbiddenPair(context.Context) ([2]string, error) {
	h.p.mu.Lock()
	defer h.p.mu.Unlock()
	h.p.servers["x-a"], h.p.servers["b-x"] = true, true
	return [2]string{"x-a", "b-x"}, nil
}

func (h *harness) StallNext(_ context.Context, d time.Duration) error {
	h.p.mu.Lock()
	defer h.p.mu.Unlock()
	h.p.Stall = d
	return nil
}

func (h *harness) FailNext(context.Context) error {
	h.p.mu.Lock()
	defer h.p.mu.Unlock()
	h.p.FailNext = true
	return nil
}

func newHarness(variant string) func(t *testing.T) partitiontest.Harness {
	return func(t *testing.T) partitiontest.Harness { return &harness{p: newPlatform(), variant: variant} }
}

// minimal has no optional capability: the suite must pass it, skipping
// those parts.
type minimal struct{ h *harness }

func (m minimal) MakeManager(ctx context.Context) (partition.PartitionManager, error) {
	return m.h.MakeManager(ctx)
}
func (m minimal) Members(ctx context.Context, n int) ([]string, error) { return m.h.Members(ctx, n) }
func (m minimal) LogicalServers(ctx context.Context) ([]partition.LogicalServer, error) {
	return m.h.LogicalServers(ctx)
}

func TestReference(t *testing.T) {
	partitiontest.Run(t, newHarness(""))
}

func TestReferenceWithoutOptionalCapabilities(t *testing.T) {
	partitiontest.Run(t, func(t *testing.T) partitiontest.Harness {
		return minimal{newHarness("")(t).(*harness)}
	})
}

const variantEnv = "PARTITIONTEST_BROKEN_VARIANT"

// TestBrokenHelper runs the suite against a broken variant of the
// reference driver; TestBrokenDriversFail runs it in a subprocess.
func TestBrokenHelper(t *testing.T) {
	conformance.BrokenHelper(t, variantEnv, func(t *testing.T, v string) {
		partitiontest.Run(t, newHarness(v))
	})
}

func TestBrokenDriversFail(t *testing.T) {
	conformance.BrokenDriversFail(t, variantEnv, []conformance.Broken{
		{Variant: "not-idempotent", Want: "Compose/twice_is_once_in_any_order"},
		{Variant: "not-idempotent", Want: "Concurrency/same_Compose_from_every_goroutine"},
		{Variant: "steals-members", Want: "Compose/member_of_another_logical_server_is_conflict"},
		{Variant: "wrong-kind", Want: "Compose/unknown_member_is_not_found"},
		{Variant: "no-duplicate-check", Want: "Compose/malformed_request_is_invalid"},
		{Variant: "ignores-zones", Want: "Compose/forbidden_combination_is_conflict"},
		{Variant: "absent-is-error", Want: "Decompose/absent_returns_nil"},
		{Variant: "unsorted", Want: "List/sorted_by_ID_with_members"},
		{Variant: "transient-wrong-kind", Want: "TransientFailure/failed_Compose_changes_nothing_and_retry_succeeds"},
		{Variant: "ignores-ctx", Want: "Context/cancelled/Compose_changes_nothing"},
		{Variant: "ignores-ctx", Want: "Context/cancelled_mid_request_Compose"},
		{Variant: "ignores-ctx", Want: "Context/deadline_exceeded/Decompose_changes_nothing"},
		{Variant: "racy", Want: "Concurrency/contested_member_one_winner"},
	})
}
