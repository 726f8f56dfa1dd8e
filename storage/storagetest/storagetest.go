package storagetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/internal/conformance"
	"github.com/coldstandby/coldstandby/storage"
)

// Limits the suite holds drivers to.
const (
	// workers is the number of goroutines of the concurrency tests.
	workers = 8
	// maxLUN is the highest host LUN number Map accepts.
	maxLUN = 16383
)

// Run runs the conformance suite against the driver that newHarness
// builds. newHarness is called once per subtest and must return a fresh
// harness (or stop the test with t.Fatal or t.Skip). Drivers that
// implement storage.InitiatorSwapper are tested for it too.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	s := &suite{newHarness: newHarness}
	t.Run("Mappings", s.testMappings)
	t.Run("Map", s.testMap)
	t.Run("Unmap", s.testUnmap)
	t.Run("SwapInitiators", s.testSwap)
	t.Run("TransientFailure", s.testTransient)
	t.Run("Context", s.testContext)
	t.Run("Concurrency", s.testConcurrency)
}

type suite struct {
	newHarness func(t *testing.T) Harness
}

// fixture is one harness, its driver and the volumes and hosts the suite
// asked it for.
type fixture struct {
	h     Harness
	d     storage.DiskMapper
	vols  []storage.VolumeID
	hosts [][]storage.Initiator
}

// setup makes a harness and its driver, one volume for each element of
// lunPlan (the LUN the test will map it at, which arrays with FixedLUNs
// need to know), and nhosts hosts.
func (s *suite) setup(t *testing.T, lunPlan []int, nhosts int) *fixture {
	t.Helper()
	ctx := t.Context()
	f := &fixture{h: s.newHarness(t)}
	var err error
	if f.d, err = f.h.MakeMapper(ctx); err != nil {
		t.Fatalf("harness: MakeMapper: %v", err)
	}
	if f.d == nil {
		t.Fatal("harness: MakeMapper returned a nil DiskMapper")
	}
	if nvols := len(lunPlan); nvols > 0 {
		if fl, ok := f.h.(FixedLUNs); ok {
			if f.vols, err = fl.VolumesAt(ctx, lunPlan); err != nil {
				t.Fatalf("harness: VolumesAt(%v): %v", lunPlan, err)
			}
		} else if f.vols, err = f.h.Volumes(ctx, nvols); err != nil {
			t.Fatalf("harness: Volumes(%d): %v", nvols, err)
		}
		if len(f.vols) != nvols || len(uniq(f.vols)) != nvols {
			t.Fatalf("harness: made volumes %v, want %d distinct volumes", f.vols, nvols)
		}
	}
	if nhosts > 0 {
		if f.hosts, err = f.h.Hosts(ctx, nhosts); err != nil {
			t.Fatalf("harness: Hosts(%d): %v", nhosts, err)
		}
		var all []storage.Initiator
		for _, host := range f.hosts {
			if len(host) == 0 {
				t.Fatalf("harness: Hosts(%d) returned an empty host", nhosts)
			}
			for _, i := range host {
				if i.IsZero() {
					t.Fatalf("harness: Hosts(%d) returned a zero initiator", nhosts)
				}
			}
			all = append(all, host...)
		}
		if len(f.hosts) != nhosts || len(uniq(all)) != len(all) {
			t.Fatalf("harness: Hosts(%d) returned %v, want %d disjoint hosts", nhosts, f.hosts, nhosts)
		}
	}
	return f
}

// luns, seq and same write LUN plans for setup.
func luns(l ...int) []int { return l }

func seq(from, n int) []int {
	var l []int
	for i := range n {
		l = append(l, from+i)
	}
	return l
}

func same(lun, n int) []int { return slices.Repeat([]int{lun}, n) }

func uniq[T comparable](s []T) map[T]bool {
	m := make(map[T]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}

// kind is the initiator kind of the harness's hosts.
func (f *fixture) kind() storage.InitiatorKind { return f.hosts[0][0].Kind() }

// fresh returns n initiators of the hosts' kind that the array does not
// know.
func (f *fixture) fresh(n int) []storage.Initiator { return Initiators(f.kind(), n) }

func (f *fixture) unknownVolume(t *testing.T) storage.VolumeID {
	t.Helper()
	if u, ok := f.h.(UnknownVolumer); ok {
		v, err := u.UnknownVolume(t.Context())
		if err != nil {
			t.Fatalf("harness: UnknownVolume: %v", err)
		}
		return v
	}
	return "conformance-no-such-volume"
}

func sortMappings(m []storage.Mapping) []storage.Mapping {
	m = slices.Clone(m)
	slices.SortFunc(m, func(a, b storage.Mapping) int {
		return cmp.Or(cmp.Compare(a.LUN, b.LUN), cmp.Compare(a.Volume, b.Volume))
	})
	if len(m) == 0 {
		return nil
	}
	return m
}

// masking reads the array's masking for initiators through the harness.
func (f *fixture) masking(t *testing.T, initiators []storage.Initiator) []storage.Mapping {
	t.Helper()
	m, err := f.h.Masking(t.Context(), initiators)
	if err != nil {
		t.Fatalf("harness: Masking(%v): %v", initiators, err)
	}
	return sortMappings(m)
}

// wantMasking checks that the array shows exactly want to initiators, to
// each of them alone, and through the driver's Mappings.
func (f *fixture) wantMasking(t *testing.T, initiators []storage.Initiator, after string, want ...storage.Mapping) {
	t.Helper()
	want = sortMappings(want)
	if got := f.masking(t, initiators); !slices.Equal(got, want) {
		t.Errorf("after %s the array shows %v to %v, want %v", after, got, initiators, want)
	}
	if len(initiators) > 1 {
		for _, i := range initiators {
			if got := f.masking(t, []storage.Initiator{i}); !slices.Equal(got, want) {
				t.Errorf("after %s the array shows %v to %v alone, want %v", after, got, i, want)
			}
		}
	}
	got, err := f.d.Mappings(t.Context(), initiators)
	if err != nil {
		t.Fatalf("Mappings(%v): %v", initiators, err)
	}
	if len(got) == 0 {
		got = nil
	}
	if !slices.Equal(got, want) {
		t.Errorf("after %s Mappings(%v) = %v, want %v (sorted by LUN, then volume)", after, initiators, got, want)
	}
}

// snapshot is the masking of every host of the fixture plus extra.
func (f *fixture) snapshot(t *testing.T, extra ...[]storage.Initiator) [][]storage.Mapping {
	t.Helper()
	var s [][]storage.Mapping
	for _, host := range append(slices.Clone(f.hosts), extra...) {
		s = append(s, f.masking(t, host))
	}
	return s
}

func (f *fixture) wantUnchanged(t *testing.T, before [][]storage.Mapping, after string, extra ...[]storage.Initiator) {
	t.Helper()
	now := f.snapshot(t, extra...)
	for i := range before {
		if !slices.Equal(before[i], now[i]) {
			t.Errorf("%s changed the masking: host %d saw %v, now %v", after, i, before[i], now[i])
		}
	}
}

func (f *fixture) mustMap(t *testing.T, vol storage.VolumeID, host []storage.Initiator, lun int) {
	t.Helper()
	if err := f.d.Map(t.Context(), vol, host, lun); err != nil {
		t.Fatalf("Map(%s, %v, %d): %v", vol, host, lun, err)
	}
}

func m(v storage.VolumeID, lun int) storage.Mapping { return storage.Mapping{Volume: v, LUN: lun} }

func (s *suite) testMappings(t *testing.T) {
	t.Run("new_host_sees_nothing", func(t *testing.T) {
		f := s.setup(t, nil, 1)
		f.wantMasking(t, f.hosts[0], "setup")
	})
	t.Run("unknown_initiators_see_nothing", func(t *testing.T) {
		f := s.setup(t, luns(1), 1)
		f.mustMap(t, f.vols[0], f.hosts[0], 1)
		got, err := f.d.Mappings(t.Context(), f.fresh(2))
		if err != nil {
			t.Fatalf("Mappings of initiators the array does not know: %v, want no error", err)
		}
		if len(got) != 0 {
			t.Errorf("Mappings of initiators the array does not know = %v, want none", got)
		}
	})
	t.Run("sorted_by_LUN_then_volume", func(t *testing.T) {
		f := s.setup(t, luns(5, 1, 3), 1)
		f.mustMap(t, f.vols[0], f.hosts[0], 5)
		f.mustMap(t, f.vols[1], f.hosts[0], 1)
		f.mustMap(t, f.vols[2], f.hosts[0], 3)
		f.wantMasking(t, f.hosts[0], "three Maps", m(f.vols[1], 1), m(f.vols[2], 3), m(f.vols[0], 5))
	})
	t.Run("any_of_the_initiators", func(t *testing.T) {
		f := s.setup(t, luns(1, 2), 2)
		f.mustMap(t, f.vols[0], f.hosts[0], 1)
		f.mustMap(t, f.vols[1], f.hosts[1], 2)
		both := append(slices.Clone(f.hosts[0]), f.hosts[1]...)
		got, err := f.d.Mappings(t.Context(), both)
		if err != nil {
			t.Fatalf("Mappings of two hosts' initiators: %v", err)
		}
		if want := []storage.Mapping{m(f.vols[0], 1), m(f.vols[1], 2)}; !slices.Equal(got, want) {
			t.Errorf("Mappings of two hosts' initiators = %v, want what either sees: %v", got, want)
		}
	})
	t.Run("empty_or_zero_initiator_list_is_invalid", func(t *testing.T) {
		f := s.setup(t, nil, 1)
		for _, ini := range [][]storage.Initiator{nil, {}, {{}}, {f.hosts[0][0], {}}} {
			_, err := f.d.Mappings(t.Context(), ini)
			conformance.WantKind(t, fmt.Sprintf("Mappings(%v)", ini), err, storage.ErrInvalid)
		}
	})
}

func (s *suite) testMap(t *testing.T) {
	t.Run("makes_volume_visible_at_LUN", func(t *testing.T) {
		f := s.setup(t, luns(3), 2)
		f.mustMap(t, f.vols[0], f.hosts[0], 3)
		f.wantMasking(t, f.hosts[0], "Map", m(f.vols[0], 3))
		f.wantMasking(t, f.hosts[1], "Map to another host")
	})
	t.Run("twice_is_once", func(t *testing.T) {
		f := s.setup(t, luns(7), 1)
		f.mustMap(t, f.vols[0], f.hosts[0], 7)
		before := f.snapshot(t)
		if err := f.d.Map(t.Context(), f.vols[0], f.hosts[0], 7); err != nil {
			t.Fatalf("Map of a volume already mapped at that LUN: %v, want nil", err)
		}
		f.wantUnchanged(t, before, "the second, identical Map")
		f.wantMasking(t, f.hosts[0], "Map twice", m(f.vols[0], 7))
	})
	t.Run("LUN_numbers_are_per_host", func(t *testing.T) {
		f := s.setup(t, luns(1, 1), 2)
		f.mustMap(t, f.vols[0], f.hosts[0], 1)
		f.mustMap(t, f.vols[1], f.hosts[1], 1)
		f.wantMasking(t, f.hosts[0], "Map", m(f.vols[0], 1))
		f.wantMasking(t, f.hosts[1], "Map", m(f.vols[1], 1))
	})
	t.Run("one_volume_to_two_hosts", func(t *testing.T) {
		f := s.setup(t, luns(2), 2)
		f.mustMap(t, f.vols[0], f.hosts[0], 2)
		f.mustMap(t, f.vols[0], f.hosts[1], 2)
		f.wantMasking(t, f.hosts[0], "Map", m(f.vols[0], 2))
		f.wantMasking(t, f.hosts[1], "Map", m(f.vols[0], 2))
	})
	t.Run("LUN_255", func(t *testing.T) {
		f := s.setup(t, luns(255), 1)
		f.mustMap(t, f.vols[0], f.hosts[0], 255)
		f.wantMasking(t, f.hosts[0], "Map", m(f.vols[0], 255))
	})
	t.Run("LUN_used_by_another_volume_is_conflict", func(t *testing.T) {
		f := s.setup(t, luns(2, 2), 1)
		f.mustMap(t, f.vols[0], f.hosts[0], 2)
		before := f.snapshot(t)
		err := f.d.Map(t.Context(), f.vols[1], f.hosts[0], 2)
		conformance.WantKind(t, "Map of a second volume at a used LUN", err, storage.ErrConflict)
		f.wantUnchanged(t, before, "a conflicting Map")
	})
	t.Run("same_volume_at_another_LUN_is_conflict", func(t *testing.T) {
		f := s.setup(t, luns(2), 1)
		f.mustMap(t, f.vols[0], f.hosts[0], 2)
		before := f.snapshot(t)
		err := f.d.Map(t.Context(), f.vols[0], f.hosts[0], 4)
		conformance.WantKind(t, "Map of a mapped volume at another LUN", err, storage.ErrConflict)
		f.wantUnchanged(t, before, "a conflicting Map")
	})
	t.Run("unknown_volume_is_not_found", func(t *testing.T) {
		f := s.setup(t, nil, 1)
		before := f.snapshot(t)
		vol := f.unknownVolume(t)
		err := f.d.Map(t.Context(), vol, f.hosts[0], 1)
		conformance.WantKind(t, "Map of an unknown volume", err, storage.ErrNotFound)
		conformance.WantNamed(t, "Map of an unknown volume", err, string(vol))
		f.wantUnchanged(t, before, "Map of an unknown volume")
	})
	t.Run("bad_LUN_or_zero_initiator_is_invalid", func(t *testing.T) {
		f := s.setup(t, luns(1), 1)
		before := f.snapshot(t)
		for _, lun := range []int{-1, maxLUN + 1} {
			err := f.d.Map(t.Context(), f.vols[0], f.hosts[0], lun)
			conformance.WantKind(t, fmt.Sprintf("Map at LUN %d", lun), err, storage.ErrInvalid)
		}
		err := f.d.Map(t.Context(), f.vols[0], append(slices.Clone(f.hosts[0]), storage.Initiator{}), 1)
		conformance.WantKind(t, "Map to a zero initiator", err, storage.ErrInvalid)
		f.wantUnchanged(t, before, "invalid Maps")
	})
	t.Run("unknown_initiators_mapped_or_not_found", func(t *testing.T) {
		f := s.setup(t, luns(1), 1)
		fresh := f.fresh(2)
		err := f.d.Map(t.Context(), f.vols[0], fresh, 1)
		switch {
		case err == nil:
			f.wantMasking(t, fresh, "Map to new initiators", m(f.vols[0], 1))
		case errors.Is(err, storage.ErrNotFound):
			// An array that requires host objects.
			f.wantMasking(t, fresh, "a Map that failed")
		default:
			t.Errorf("Map to initiators the array does not know: %v, want nil or ErrNotFound", err)
		}
		f.wantMasking(t, f.hosts[0], "Map to other initiators")
	})
}

func (s *suite) testUnmap(t *testing.T) {
	t.Run("hides_volume_keeps_others", func(t *testing.T) {
		f := s.setup(t, luns(1, 2), 1)
		f.mustMap(t, f.vols[0], f.hosts[0], 1)
		f.mustMap(t, f.vols[1], f.hosts[0], 2)
		if err := f.d.Unmap(t.Context(), f.vols[0], f.hosts[0]); err != nil {
			t.Fatalf("Unmap: %v", err)
		}
		f.wantMasking(t, f.hosts[0], "Unmap", m(f.vols[1], 2))
	})
	t.Run("twice_is_once", func(t *testing.T) {
		f := s.setup(t, luns(1), 1)
		f.mustMap(t, f.vols[0], f.hosts[0], 1)
		for i := range 2 {
			if err := f.d.Unmap(t.Context(), f.vols[0], f.hosts[0]); err != nil {
				t.Fatalf("Unmap #%d: %v", i+1, err)
			}
		}
		f.wantMasking(t, f.hosts[0], "Unmap twice")
	})
	t.Run("never_mapped_returns_nil", func(t *testing.T) {
		f := s.setup(t, luns(2, 1), 1)
		f.mustMap(t, f.vols[1], f.hosts[0], 1)
		if err := f.d.Unmap(t.Context(), f.vols[0], f.hosts[0]); err != nil {
			t.Fatalf("Unmap of a volume the host does not see: %v, want nil", err)
		}
		f.wantMasking(t, f.hosts[0], "Unmap of another volume", m(f.vols[1], 1))
	})
	t.Run("other_host_keeps_volume", func(t *testing.T) {
		f := s.setup(t, luns(2), 2)
		f.mustMap(t, f.vols[0], f.hosts[0], 2)
		f.mustMap(t, f.vols[0], f.hosts[1], 2)
		if err := f.d.Unmap(t.Context(), f.vols[0], f.hosts[0]); err != nil {
			t.Fatalf("Unmap: %v", err)
		}
		f.wantMasking(t, f.hosts[0], "Unmap")
		f.wantMasking(t, f.hosts[1], "Unmap from another host", m(f.vols[0], 2))
	})
	t.Run("LUN_is_free_again", func(t *testing.T) {
		f := s.setup(t, luns(4, 4), 1)
		f.mustMap(t, f.vols[0], f.hosts[0], 4)
		if err := f.d.Unmap(t.Context(), f.vols[0], f.hosts[0]); err != nil {
			t.Fatalf("Unmap: %v", err)
		}
		f.mustMap(t, f.vols[1], f.hosts[0], 4)
		f.wantMasking(t, f.hosts[0], "Unmap and Map at the same LUN", m(f.vols[1], 4))
	})
	t.Run("unknown_volume_is_not_found", func(t *testing.T) {
		f := s.setup(t, nil, 1)
		err := f.d.Unmap(t.Context(), f.unknownVolume(t), f.hosts[0])
		conformance.WantKind(t, "Unmap of an unknown volume", err, storage.ErrNotFound)
	})
	t.Run("zero_initiator_is_invalid", func(t *testing.T) {
		f := s.setup(t, luns(1), 1)
		f.mustMap(t, f.vols[0], f.hosts[0], 1)
		before := f.snapshot(t)
		err := f.d.Unmap(t.Context(), f.vols[0], append(slices.Clone(f.hosts[0]), storage.Initiator{}))
		conformance.WantKind(t, "Unmap from a zero initiator", err, storage.ErrInvalid)
		f.wantUnchanged(t, before, "an invalid Unmap")
	})
}

func (f *fixture) swapper(t *testing.T) storage.InitiatorSwapper {
	t.Helper()
	sw, ok := f.d.(storage.InitiatorSwapper)
	if !ok {
		t.Skip("driver does not implement the optional storage.InitiatorSwapper (arrays without host objects)")
	}
	return sw
}

func (s *suite) testSwap(t *testing.T) {
	t.Run("to_new_initiators_keeps_every_LUN", func(t *testing.T) {
		f := s.setup(t, luns(1, 9), 2)
		sw := f.swapper(t)
		f.mustMap(t, f.vols[0], f.hosts[0], 1)
		f.mustMap(t, f.vols[1], f.hosts[0], 9)
		f.mustMap(t, f.vols[1], f.hosts[1], 9)
		to := f.fresh(len(f.hosts[0]))
		if err := sw.SwapInitiators(t.Context(), f.hosts[0], to); err != nil {
			t.Fatalf("SwapInitiators: %v", err)
		}
		f.wantMasking(t, to, "SwapInitiators", m(f.vols[0], 1), m(f.vols[1], 9))
		f.wantMasking(t, f.hosts[0], "SwapInitiators away")
		f.wantMasking(t, f.hosts[1], "SwapInitiators of another host", m(f.vols[1], 9))
	})
	t.Run("to_initiators_of_host_without_mappings", func(t *testing.T) {
		f := s.setup(t, luns(5), 2)
		sw := f.swapper(t)
		f.mustMap(t, f.vols[0], f.hosts[0], 5)
		if err := sw.SwapInitiators(t.Context(), f.hosts[0], f.hosts[1]); err != nil {
			t.Fatalf("SwapInitiators to a host without mappings: %v", err)
		}
		f.wantMasking(t, f.hosts[1], "SwapInitiators", m(f.vols[0], 5))
		f.wantMasking(t, f.hosts[0], "SwapInitiators away")
	})
	t.Run("twice_is_once", func(t *testing.T) {
		f := s.setup(t, luns(1), 1)
		sw := f.swapper(t)
		f.mustMap(t, f.vols[0], f.hosts[0], 1)
		to := f.fresh(len(f.hosts[0]))
		for i := range 2 {
			if err := sw.SwapInitiators(t.Context(), f.hosts[0], to); err != nil {
				t.Fatalf("SwapInitiators #%d: %v", i+1, err)
			}
		}
		f.wantMasking(t, to, "SwapInitiators twice", m(f.vols[0], 1))
		f.wantMasking(t, f.hosts[0], "SwapInitiators twice")
	})
	t.Run("unknown_from_is_not_found", func(t *testing.T) {
		f := s.setup(t, luns(1), 1)
		sw := f.swapper(t)
		f.mustMap(t, f.vols[0], f.hosts[0], 1)
		before := f.snapshot(t)
		from, to := f.fresh(1), f.fresh(1)
		err := sw.SwapInitiators(t.Context(), from, to)
		conformance.WantKind(t, "SwapInitiators from initiators no host has", err, storage.ErrNotFound)
		f.wantUnchanged(t, before, "a failed SwapInitiators", to)
	})
	t.Run("zero_initiator_is_invalid", func(t *testing.T) {
		f := s.setup(t, luns(1), 1)
		sw := f.swapper(t)
		f.mustMap(t, f.vols[0], f.hosts[0], 1)
		before := f.snapshot(t)
		err := sw.SwapInitiators(t.Context(), f.hosts[0], []storage.Initiator{{}})
		conformance.WantKind(t, "SwapInitiators to a zero initiator", err, storage.ErrInvalid)
		err = sw.SwapInitiators(t.Context(), []storage.Initiator{{}}, f.fresh(1))
		conformance.WantKind(t, "SwapInitiators from a zero initiator", err, storage.ErrInvalid)
		f.wantUnchanged(t, before, "an invalid SwapInitiators")
	})
}

func (s *suite) testTransient(t *testing.T) {
	t.Run("failed_Map_changes_nothing_and_retry_succeeds", func(t *testing.T) {
		f := s.setup(t, luns(1), 1)
		tf, ok := f.h.(TransientFailer)
		if !ok {
			t.Skip("harness cannot make a request fail (no storagetest.TransientFailer)")
		}
		if err := tf.FailNext(t.Context()); err != nil {
			t.Fatalf("harness: FailNext: %v", err)
		}
		err := f.d.Map(t.Context(), f.vols[0], f.hosts[0], 1)
		conformance.WantKind(t, "Map with the array failing", err, storage.ErrTransient)
		f.wantMasking(t, f.hosts[0], "a failed Map")
		f.mustMap(t, f.vols[0], f.hosts[0], 1)
		f.wantMasking(t, f.hosts[0], "Map retried", m(f.vols[0], 1))
	})
}

func (s *suite) testContext(t *testing.T) {
	t.Run("cancelled_mid_request_Map", func(t *testing.T) {
		f := s.setup(t, luns(1), 1)
		st, ok := f.h.(Staller)
		if !ok {
			t.Skip("harness cannot hold a request (no storagetest.Staller)")
		}
		if conformance.CancelMidRequest(t, st, "Map", func(ctx context.Context) error { return f.d.Map(ctx, f.vols[0], f.hosts[0], 1) }) {
			f.wantMasking(t, f.hosts[0], "a Map cancelled mid-request without ErrOutcomeUnknown")
			return
		}
		// Outcome unknown: once the held request has passed, it landed
		// whole or not at all (the contract allows it to land late, never
		// in part).
		time.Sleep(conformance.StallFor + 200*time.Millisecond)
		got, err := f.d.Mappings(t.Context(), f.hosts[0])
		if err != nil {
			t.Fatalf("Mappings after the held Map passed: %v", err)
		}
		if len(got) != 0 && !slices.Equal(got, []storage.Mapping{m(f.vols[0], 1)}) {
			t.Errorf("after a Map cancelled mid-request (outcome unknown), the host sees %v: want nothing or %v", got, m(f.vols[0], 1))
		}
	})
	conformance.DoneContexts(t, func(t *testing.T, done func(*testing.T) context.Context, want error) {
		t.Run("Mappings", func(t *testing.T) {
			f := s.setup(t, nil, 1)
			conformance.CheckDone(t, "Mappings", want, func() error {
				_, err := f.d.Mappings(done(t), f.hosts[0])
				return err
			})
		})
		t.Run("Map_changes_nothing", func(t *testing.T) {
			f := s.setup(t, luns(1), 1)
			if !conformance.CheckDone(t, "Map", want, func() error { return f.d.Map(done(t), f.vols[0], f.hosts[0], 1) }) {
				f.wantMasking(t, f.hosts[0], "a Map with a done context")
			}
		})
		t.Run("Unmap_changes_nothing", func(t *testing.T) {
			f := s.setup(t, luns(1), 1)
			f.mustMap(t, f.vols[0], f.hosts[0], 1)
			if !conformance.CheckDone(t, "Unmap", want, func() error { return f.d.Unmap(done(t), f.vols[0], f.hosts[0]) }) {
				f.wantMasking(t, f.hosts[0], "an Unmap with a done context", m(f.vols[0], 1))
			}
		})
		t.Run("SwapInitiators_changes_nothing", func(t *testing.T) {
			f := s.setup(t, luns(1), 1)
			sw := f.swapper(t)
			f.mustMap(t, f.vols[0], f.hosts[0], 1)
			to := f.fresh(1)
			if !conformance.CheckDone(t, "SwapInitiators", want, func() error { return sw.SwapInitiators(done(t), f.hosts[0], to) }) {
				f.wantMasking(t, f.hosts[0], "a SwapInitiators with a done context", m(f.vols[0], 1))
				f.wantMasking(t, to, "a SwapInitiators with a done context")
			}
		})
	})
}

func (s *suite) testConcurrency(t *testing.T) {
	t.Run("distinct_volumes_to_one_host", func(t *testing.T) {
		f := s.setup(t, seq(1, workers), 1)
		conformance.NoErrors(t, "Map", conformance.Parallel(workers, func(i int) error { return f.d.Map(t.Context(), f.vols[i], f.hosts[0], i+1) }))
		var want []storage.Mapping
		for i, v := range f.vols {
			want = append(want, m(v, i+1))
		}
		f.wantMasking(t, f.hosts[0], fmt.Sprintf("%d parallel Maps", workers), want...)
		conformance.NoErrors(t, "Unmap", conformance.Parallel(workers, func(i int) error { return f.d.Unmap(t.Context(), f.vols[i], f.hosts[0]) }))
		f.wantMasking(t, f.hosts[0], fmt.Sprintf("%d parallel Unmaps", workers))
	})
	t.Run("distinct_hosts", func(t *testing.T) {
		f := s.setup(t, same(1, workers), workers)
		conformance.NoErrors(t, "Map", conformance.Parallel(workers, func(i int) error { return f.d.Map(t.Context(), f.vols[i], f.hosts[i], 1) }))
		for i, host := range f.hosts {
			f.wantMasking(t, host, fmt.Sprintf("%d parallel Maps", workers), m(f.vols[i], 1))
		}
	})
	t.Run("same_mapping_from_every_goroutine", func(t *testing.T) {
		f := s.setup(t, luns(1), 1)
		conformance.NoErrors(t, "identical Map", conformance.Parallel(workers, func(int) error { return f.d.Map(t.Context(), f.vols[0], f.hosts[0], 1) }))
		f.wantMasking(t, f.hosts[0], fmt.Sprintf("%d identical parallel Maps", workers), m(f.vols[0], 1))
	})
	t.Run("one_LUN_contested_one_winner", func(t *testing.T) {
		f := s.setup(t, same(6, workers), 1)
		errs := conformance.Parallel(workers, func(i int) error { return f.d.Map(t.Context(), f.vols[i], f.hosts[0], 6) })
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("goroutines %d and %d both mapped a volume at LUN 6", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, storage.ErrConflict):
				t.Errorf("Map at a LUN another goroutine took: %v, want ErrConflict", err)
			}
		}
		if winner < 0 {
			t.Fatalf("no goroutine mapped a volume at LUN 6: %v", errs)
		}
		f.wantMasking(t, f.hosts[0], "contested Maps", m(f.vols[winner], 6))
	})
	t.Run("reads_during_writes", func(t *testing.T) {
		f := s.setup(t, seq(1, workers/2), 1)
		errs := conformance.Parallel(workers, func(i int) error {
			if i%2 == 0 {
				return f.d.Map(t.Context(), f.vols[i/2], f.hosts[0], i/2+1)
			}
			_, err := f.d.Mappings(t.Context(), f.hosts[0])
			return err
		})
		conformance.NoErrors(t, "Map and Mappings", errs)
		var want []storage.Mapping
		for i, v := range f.vols {
			want = append(want, m(v, i+1))
		}
		f.wantMasking(t, f.hosts[0], "parallel Maps and reads", want...)
	})
}
