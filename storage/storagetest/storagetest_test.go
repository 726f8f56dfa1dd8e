package storagetest_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/internal/conformance"
	"github.com/coldstandby/coldstandby/storage"
	"github.com/coldstandby/coldstandby/storage/storagetest"
)

// array is the simulated disk array behind the reference driver: LUN
// masking per initiator, plus host objects for SwapInitiators.
type array struct {
	mu      sync.Mutex
	vols    map[storage.VolumeID]bool
	masking map[storage.Initiator]map[storage.VolumeID]int
	hosts   [][]storage.Initiator
	fixed   map[storage.VolumeID]int // volume -> the only LUN it can have (tgt-like)
	nextVol int
	conformance.Faults
}

func newArray() *array {
	return &array{vols: map[storage.VolumeID]bool{}, masking: map[storage.Initiator]map[storage.VolumeID]int{}}
}

// mappings is what initiators see; the caller holds a.mu.
func (a *array) mappings(initiators []storage.Initiator) []storage.Mapping {
	seen := map[storage.Mapping]bool{}
	var out []storage.Mapping
	for _, i := range initiators {
		for v, lun := range a.masking[i] {
			if mp := (storage.Mapping{Volume: v, LUN: lun}); !seen[mp] {
				seen[mp] = true
				out = append(out, mp)
			}
		}
	}
	slices.SortFunc(out, func(x, y storage.Mapping) int {
		return cmp.Or(cmp.Compare(x.LUN, y.LUN), cmp.Compare(x.Volume, y.Volume))
	})
	return out
}

// ref is a correct, in-memory storage.DiskMapper and
// storage.InitiatorSwapper; variant breaks it on purpose.
type ref struct {
	a       *array
	variant string
	mine    map[storage.Initiator]map[storage.VolumeID]int // "memory-only"
}

var (
	_ storage.DiskMapper       = (*ref)(nil)
	_ storage.InitiatorSwapper = (*ref)(nil)
)

func validate(initiators []storage.Initiator) error {
	if len(initiators) == 0 {
		return fmt.Errorf("ref: no initiators: %w", storage.ErrInvalid)
	}
	for _, i := range initiators {
		if i.IsZero() {
			return fmt.Errorf("ref: zero initiator: %w", storage.ErrInvalid)
		}
	}
	return nil
}

// begin checks ctx and the injected failure, then takes the lock.
func (r *ref) begin(ctx context.Context, op string) error {
	return r.a.Admit(ctx, &r.a.mu, op, "array busy", r.variant, nil)
}

func (r *ref) Mappings(ctx context.Context, initiators []storage.Initiator) ([]storage.Mapping, error) {
	if err := validate(initiators); err != nil {
		return nil, err
	}
	if err := r.begin(ctx, "mappings"); err != nil {
		return nil, err
	}
	defer r.a.mu.Unlock()
	if r.variant == "unknown-is-error" {
		for _, i := range initiators {
			if r.a.masking[i] == nil {
				return nil, fmt.Errorf("ref: initiator %s: %w", i, storage.ErrNotFound)
			}
		}
	}
	if r.variant == "first-initiator-only" {
		initiators = initiators[:1]
	}
	out := r.a.mappings(initiators)
	if r.variant == "unsorted" {
		slices.SortFunc(out, func(x, y storage.Mapping) int { return -cmp.Compare(x.LUN, y.LUN) })
	}
	return out, nil
}

func (r *ref) Map(ctx context.Context, vol storage.VolumeID, initiators []storage.Initiator, lun int) error {
	if err := validate(initiators); err != nil {
		return err
	}
	if lun < 0 || lun > 16383 {
		return fmt.Errorf("ref: map %s at LUN %d: %w", vol, lun, storage.ErrInvalid)
	}
	if err := r.begin(ctx, "map"); err != nil {
		return err
	}
	if !r.a.vols[vol] {
		r.a.mu.Unlock()
		if r.variant == "wrong-kind" {
			return fmt.Errorf("ref: map %s: %w", vol, storage.ErrInvalid)
		}
		if r.variant == "anonymous-errors" {
			return fmt.Errorf("ref: map: %w", storage.ErrNotFound)
		}
		return fmt.Errorf("ref: map %s: %w", vol, storage.ErrNotFound)
	}
	if l, ok := r.a.fixed[vol]; ok && l != lun {
		r.a.mu.Unlock()
		return fmt.Errorf("ref: map %s at LUN %d: it is LUN %d of its target: %w", vol, lun, l, storage.ErrConflict)
	}
	for _, i := range initiators {
		for v, l := range r.a.masking[i] {
			switch {
			case v == vol && l == lun && r.variant == "not-idempotent":
				r.a.mu.Unlock()
				return fmt.Errorf("ref: map %s: already mapped: %w", vol, storage.ErrConflict)
			case v == vol && l != lun && r.variant != "no-conflict-check":
				r.a.mu.Unlock()
				return fmt.Errorf("ref: map %s at LUN %d: %s sees it at LUN %d: %w", vol, lun, i, l, storage.ErrConflict)
			case v != vol && l == lun:
				r.a.mu.Unlock()
				return fmt.Errorf("ref: map %s at LUN %d: %s sees %s there: %w", vol, lun, i, v, storage.ErrConflict)
			}
		}
	}
	if r.variant == "racy" {
		// Check, then act without holding the lock in between.
		r.a.mu.Unlock()
		time.Sleep(time.Millisecond)
		r.a.mu.Lock()
	}
	defer r.a.mu.Unlock()
	target := r.a.masking
	if r.variant == "memory-only" {
		if r.mine == nil {
			r.mine = map[storage.Initiator]map[storage.VolumeID]int{}
		}
		target = r.mine
	}
	for _, i := range initiators {
		if target[i] == nil {
			target[i] = map[storage.VolumeID]int{}
		}
		target[i][vol] = lun
	}
	return nil
}

func (r *ref) Unmap(ctx context.Context, vol storage.VolumeID, initiators []storage.Initiator) error {
	if err := validate(initiators); err != nil {
		return err
	}
	if err := r.begin(ctx, "unmap"); err != nil {
		return err
	}
	defer r.a.mu.Unlock()
	if !r.a.vols[vol] {
		return fmt.Errorf("ref: unmap %s: %w", vol, storage.ErrNotFound)
	}
	if r.variant == "unmap-everywhere" {
		for _, m := range r.a.masking {
			delete(m, vol)
		}
		return nil
	}
	for _, i := range initiators {
		delete(r.a.masking[i], vol)
	}
	return nil
}

func sameSet(x, y []storage.Initiator) bool {
	if len(x) != len(y) {
		return false
	}
	for _, i := range x {
		if !slices.Contains(y, i) {
			return false
		}
	}
	return true
}

func (r *ref) SwapInitiators(ctx context.Context, from, to []storage.Initiator) error {
	if err := validate(from); err != nil {
		return err
	}
	if err := validate(to); err != nil {
		return err
	}
	if err := r.begin(ctx, "swap"); err != nil {
		return err
	}
	defer r.a.mu.Unlock()
	hi := slices.IndexFunc(r.a.hosts, func(h []storage.Initiator) bool { return sameSet(h, from) })
	if hi < 0 {
		if slices.ContainsFunc(r.a.hosts, func(h []storage.Initiator) bool { return sameSet(h, to) }) {
			return nil // already swapped
		}
		return fmt.Errorf("ref: swap %v: no host has them: %w", from, storage.ErrNotFound)
	}
	// An initiator belongs to one host only: take to away from others.
	for j, h := range r.a.hosts {
		if j == hi || !slices.ContainsFunc(h, func(i storage.Initiator) bool { return slices.Contains(to, i) }) {
			continue
		}
		if len(r.a.mappings(h)) > 0 {
			return fmt.Errorf("ref: swap to %v: host %d has mappings: %w", to, j, storage.ErrConflict)
		}
		r.a.hosts[j] = slices.DeleteFunc(slices.Clone(h), func(i storage.Initiator) bool { return slices.Contains(to, i) })
	}
	ms := r.a.mappings(from)
	for _, i := range from {
		delete(r.a.masking, i)
	}
	for _, i := range to {
		r.a.masking[i] = map[storage.VolumeID]int{}
		for n, mp := range ms {
			lun := mp.LUN
			if r.variant == "swap-renumbers" {
				lun = n
			}
			r.a.masking[i][mp.Volume] = lun
		}
	}
	r.a.hosts[hi] = slices.Clone(to)
	return nil
}

// harness is the reference harness, with every optional capability.
type harness struct {
	a       *array
	variant string
}

func (h *harness) MakeMapper(context.Context) (storage.DiskMapper, error) {
	return &ref{a: h.a, variant: h.variant}, nil
}

func (h *harness) Volumes(_ context.Context, n int) ([]storage.VolumeID, error) {
	h.a.mu.Lock()
	defer h.a.mu.Unlock()
	var out []storage.VolumeID
	for range n {
		h.a.nextVol++
		v := storage.VolumeID(fmt.Sprintf("vol%02d", h.a.nextVol))
		h.a.vols[v] = true
		out = append(out, v)
	}
	return out, nil
}

func (h *harness) Hosts(_ context.Context, n int) ([][]storage.Initiator, error) {
	h.a.mu.Lock()
	defer h.a.mu.Unlock()
	var out [][]storage.Initiator
	for range n {
		host := storagetest.Initiators(storage.FC, 2)
		h.a.hosts = append(h.a.hosts, host)
		out = append(out, host)
	}
	return out, nil
}

func (h *harness) Masking(_ context.Context, initiators []storage.Initiator) ([]storage.Mapping, error) {
	h.a.mu.Lock()
	defer h.a.mu.Unlock()
	return h.a.mappings(initiators), nil
}

func (h *harness) UnknownVolume(context.Context) (storage.VolumeID, error) { return "vol99", nil }

func (h *harness) StallNext(_ context.Context, d time.Duration) error {
	h.a.mu.Lock()
	defer h.a.mu.Unlock()
	h.a.Stall = d
	return nil
}

func (h *harness) FailNext(context.Context) error {
	h.a.mu.Lock()
	defer h.a.mu.Unlock()
	h.a.FailNext = true
	return nil
}

func newHarness(variant string) func(t *testing.T) storagetest.Harness {
	return func(t *testing.T) storagetest.Harness { return &harness{a: newArray(), variant: variant} }
}

// noHostObjects has no optional harness capability and its driver no
// InitiatorSwapper: the suite must pass it, skipping those parts.
type noHostObjects struct{ h *harness }

func (n noHostObjects) MakeMapper(ctx context.Context) (storage.DiskMapper, error) {
	d, err := n.h.MakeMapper(ctx)
	return struct{ storage.DiskMapper }{d}, err
}
func (n noHostObjects) Volumes(ctx context.Context, k int) ([]storage.VolumeID, error) {
	return n.h.Volumes(ctx, k)
}
func (n noHostObjects) Hosts(ctx context.Context, k int) ([][]storage.Initiator, error) {
	return n.h.Hosts(ctx, k)
}
func (n noHostObjects) Masking(ctx context.Context, i []storage.Initiator) ([]storage.Mapping, error) {
	return n.h.Masking(ctx, i)
}

// fixedLUNs is an array whose volumes each have one possible LUN, like
// tgt's; Map at any other LUN is a conflict.
type fixedLUNs struct{ noHostObjects }

func (f fixedLUNs) VolumesAt(ctx context.Context, luns []int) ([]storage.VolumeID, error) {
	vols, err := f.h.Volumes(ctx, len(luns))
	f.h.a.mu.Lock()
	defer f.h.a.mu.Unlock()
	if f.h.a.fixed == nil {
		f.h.a.fixed = map[storage.VolumeID]int{}
	}
	for i, v := range vols {
		f.h.a.fixed[v] = luns[i]
	}
	return vols, err
}

func TestReferenceWithFixedLUNs(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Harness {
		return fixedLUNs{noHostObjects{newHarness("")(t).(*harness)}}
	})
}

func TestReference(t *testing.T) {
	storagetest.Run(t, newHarness(""))
}

func TestReferenceWithoutOptionalCapabilities(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Harness {
		return noHostObjects{newHarness("")(t).(*harness)}
	})
}

func TestInitiators(t *testing.T) {
	for _, kind := range []storage.InitiatorKind{storage.FC, storage.ISCSI, storage.NVMe} {
		got := storagetest.Initiators(kind, 100)
		seen := map[storage.Initiator]bool{}
		for _, i := range got {
			if i.Kind() != kind || seen[i] {
				t.Fatalf("Initiators(%v, 100) gave %v (kind %v) twice or of the wrong kind", kind, i, i.Kind())
			}
			seen[i] = true
			if back, err := storage.ParseInitiator(i.String()); err != nil || back != i {
				t.Errorf("Initiators(%v): %q does not parse back: %v", kind, i, err)
			}
		}
		if len(seen) != 100 {
			t.Errorf("Initiators(%v, 100) gave %d initiators", kind, len(seen))
		}
	}
}

const variantEnv = "STORAGETEST_BROKEN_VARIANT"

// TestBrokenHelper runs the suite against a broken variant of the
// reference driver; TestBrokenDriversFail runs it in a subprocess.
func TestBrokenHelper(t *testing.T) {
	conformance.BrokenHelper(t, variantEnv, func(t *testing.T, v string) {
		storagetest.Run(t, newHarness(v))
	})
}

func TestBrokenDriversFail(t *testing.T) {
	conformance.BrokenDriversFail(t, variantEnv, []conformance.Broken{
		{Variant: "not-idempotent", Want: "Map/twice_is_once"},
		{Variant: "not-idempotent", Want: "Concurrency/same_mapping_from_every_goroutine"},
		{Variant: "memory-only", Want: "Map/makes_volume_visible_at_LUN"},
		{Variant: "wrong-kind", Want: "Map/unknown_volume_is_not_found"},
		{Variant: "anonymous-errors", Want: "Map/unknown_volume_is_not_found"},
		{Variant: "no-conflict-check", Want: "Map/same_volume_at_another_LUN_is_conflict"},
		{Variant: "unsorted", Want: "Mappings/sorted_by_LUN_then_volume"},
		{Variant: "first-initiator-only", Want: "Mappings/any_of_the_initiators"},
		{Variant: "unknown-is-error", Want: "Mappings/unknown_initiators_see_nothing"},
		{Variant: "unmap-everywhere", Want: "Unmap/other_host_keeps_volume"},
		{Variant: "swap-renumbers", Want: "SwapInitiators/to_new_initiators_keeps_every_LUN"},
		{Variant: "transient-wrong-kind", Want: "TransientFailure/failed_Map_changes_nothing_and_retry_succeeds"},
		{Variant: "ignores-ctx", Want: "Context/cancelled/Map_changes_nothing"},
		{Variant: "ignores-ctx", Want: "Context/cancelled_mid_request_Map"},
		{Variant: "ignores-ctx", Want: "Context/deadline_exceeded/SwapInitiators_changes_nothing"},
		{Variant: "racy", Want: "Concurrency/one_LUN_contested_one_winner"},
	})
}
