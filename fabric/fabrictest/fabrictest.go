package fabrictest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/internal/conformance"
	"github.com/coldstandby/coldstandby/storage"
)

// Limits the suites hold drivers to.
const (
	// workers is the number of goroutines of the concurrency tests.
	workers = 8
	// unknownZone and unknownPort name nothing on any switch, and are
	// valid names for the usual switches (Brocade zone names; Linux
	// interface names of at most 15 bytes).
	unknownZone = "cst_no_such_zone_0"
	unknownPort = "nosuchport0"
)

// RunZoner runs the FCZoner conformance suite against the driver that
// newHarness builds. newHarness is called once per subtest and must return
// a fresh harness (or stop the test with t.Fatal or t.Skip).
func RunZoner(t *testing.T, newHarness func(t *testing.T) ZonerHarness) {
	t.Helper()
	s := &zonerSuite{newHarness: newHarness}
	t.Run("Zones", s.testZones)
	t.Run("AddMember", s.testAdd)
	t.Run("RemoveMember", s.testRemove)
	t.Run("Commit", s.testCommit)
	t.Run("Abort", s.testAbort)
	t.Run("TransientFailure", s.testTransient)
	t.Run("Context", s.testContext)
	t.Run("Concurrency", s.testConcurrency)
}

type zonerSuite struct {
	newHarness func(t *testing.T) ZonerHarness
}

type zoner struct {
	h     ZonerHarness
	d     fabric.FCZoner
	zones [2]string
	wwpns []storage.Initiator
}

func (s *zonerSuite) setup(t *testing.T, n int) *zoner {
	t.Helper()
	z := &zoner{h: s.newHarness(t)}
	var err error
	if z.d, err = z.h.MakeZoner(t.Context()); err != nil {
		t.Fatalf("harness: MakeZoner: %v", err)
	}
	if z.d == nil {
		t.Fatal("harness: MakeZoner returned a nil FCZoner")
	}
	if z.zones, z.wwpns, err = z.h.ZoneFixture(t.Context(), n); err != nil {
		t.Fatalf("harness: ZoneFixture(%d): %v", n, err)
	}
	if z.zones[0] == "" || z.zones[0] == z.zones[1] {
		t.Fatalf("harness: ZoneFixture returned zones %q, want two distinct zones", z.zones)
	}
	if len(z.wwpns) != n || len(slices.Compact(slices.SortedFunc(slices.Values(z.wwpns), cmpInitiator))) != n {
		t.Fatalf("harness: ZoneFixture(%d) returned WWPNs %v, want %d distinct ones", n, z.wwpns, n)
	}
	for _, w := range z.wwpns {
		if w.Kind() != storage.FC {
			t.Fatalf("harness: ZoneFixture returned %v, not a WWPN", w)
		}
	}
	return z
}

func cmpInitiator(a, b storage.Initiator) int {
	if a.String() < b.String() {
		return -1
	}
	if a.String() > b.String() {
		return 1
	}
	return 0
}

func sortedOrNil(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Sorted(slices.Values(s))
}

// wantZones checks the defined configuration through the driver's Zones
// (which must be sorted) and the active one through the harness.
func (z *zoner) wantZones(t *testing.T, w storage.Initiator, after string, defined, active []string) {
	t.Helper()
	got, err := z.d.Zones(t.Context(), w)
	if err != nil {
		t.Fatalf("Zones(%v): %v", w, err)
	}
	if len(got) == 0 {
		got = nil
	}
	if want := sortedOrNil(defined); !slices.Equal(got, want) {
		t.Errorf("after %s Zones(%v) = %q, want %q (sorted)", after, w, got, want)
	}
	act, err := z.h.ActiveZones(t.Context(), w)
	if err != nil {
		t.Fatalf("harness: ActiveZones(%v): %v", w, err)
	}
	if got, want := sortedOrNil(act), sortedOrNil(active); !slices.Equal(got, want) {
		t.Errorf("after %s the active configuration has %v in %q, want %q", after, w, got, want)
	}
}

func (z *zoner) add(t *testing.T, zone string, w storage.Initiator) {
	t.Helper()
	if err := z.d.AddMember(t.Context(), zone, w); err != nil {
		t.Fatalf("AddMember(%s, %v): %v", zone, w, err)
	}
}

func (z *zoner) remove(t *testing.T, zone string, w storage.Initiator) {
	t.Helper()
	if err := z.d.RemoveMember(t.Context(), zone, w); err != nil {
		t.Fatalf("RemoveMember(%s, %v): %v", zone, w, err)
	}
}

func (z *zoner) commit(t *testing.T) {
	t.Helper()
	if err := z.d.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// notFC returns initiators that are not WWPNs, and the zero Initiator.
func notFC() []storage.Initiator {
	return []storage.Initiator{
		storage.MustParseInitiator("iqn.2026-01.org.coldstandby.conformance:host0"),
		storage.MustParseInitiator("nqn.2026-01.org.coldstandby.conformance:host0"),
		{},
	}
}

func (s *zonerSuite) testZones(t *testing.T) {
	t.Run("WWPN_in_no_zone_is_empty", func(t *testing.T) {
		z := s.setup(t, 1)
		z.wantZones(t, z.wwpns[0], "setup", nil, nil)
	})
	t.Run("sorted_zone_names", func(t *testing.T) {
		z := s.setup(t, 1)
		z.add(t, z.zones[1], z.wwpns[0])
		z.add(t, z.zones[0], z.wwpns[0])
		z.wantZones(t, z.wwpns[0], "two AddMembers", z.zones[:], nil)
	})
	t.Run("non_FC_initiator_is_invalid", func(t *testing.T) {
		z := s.setup(t, 0)
		for _, w := range notFC() {
			_, err := z.d.Zones(t.Context(), w)
			conformance.WantKind(t, fmt.Sprintf("Zones(%q)", w), err, fabric.ErrInvalid)
		}
	})
}

func (s *zonerSuite) testAdd(t *testing.T) {
	t.Run("pending_until_Commit", func(t *testing.T) {
		z := s.setup(t, 1)
		z.add(t, z.zones[0], z.wwpns[0])
		z.wantZones(t, z.wwpns[0], "AddMember", z.zones[:1], nil)
		z.commit(t)
		z.wantZones(t, z.wwpns[0], "AddMember and Commit", z.zones[:1], z.zones[:1])
	})
	t.Run("twice_is_once", func(t *testing.T) {
		z := s.setup(t, 1)
		z.add(t, z.zones[0], z.wwpns[0])
		z.add(t, z.zones[0], z.wwpns[0])
		z.commit(t)
		z.wantZones(t, z.wwpns[0], "AddMember twice", z.zones[:1], z.zones[:1])
		z.add(t, z.zones[0], z.wwpns[0])
		z.commit(t)
		z.wantZones(t, z.wwpns[0], "AddMember of a committed member", z.zones[:1], z.zones[:1])
		z.remove(t, z.zones[0], z.wwpns[0])
		z.commit(t)
		z.wantZones(t, z.wwpns[0], "three AddMembers and one RemoveMember", nil, nil)
	})
	t.Run("unknown_zone_is_not_found", func(t *testing.T) {
		z := s.setup(t, 1)
		err := z.d.AddMember(t.Context(), unknownZone, z.wwpns[0])
		conformance.WantKind(t, "AddMember to an unknown zone", err, fabric.ErrNotFound)
		conformance.WantNamed(t, "AddMember to an unknown zone", err, unknownZone)
		z.wantZones(t, z.wwpns[0], "a failed AddMember", nil, nil)
	})
	t.Run("non_FC_initiator_is_invalid", func(t *testing.T) {
		z := s.setup(t, 0)
		for _, w := range notFC() {
			err := z.d.AddMember(t.Context(), z.zones[0], w)
			conformance.WantKind(t, fmt.Sprintf("AddMember(%q)", w), err, fabric.ErrInvalid)
		}
	})
}

func (s *zonerSuite) testRemove(t *testing.T) {
	t.Run("pending_until_Commit", func(t *testing.T) {
		z := s.setup(t, 1)
		z.add(t, z.zones[0], z.wwpns[0])
		z.commit(t)
		z.remove(t, z.zones[0], z.wwpns[0])
		z.wantZones(t, z.wwpns[0], "RemoveMember", nil, z.zones[:1])
		z.commit(t)
		z.wantZones(t, z.wwpns[0], "RemoveMember and Commit", nil, nil)
	})
	t.Run("twice_is_once", func(t *testing.T) {
		z := s.setup(t, 1)
		z.add(t, z.zones[0], z.wwpns[0])
		z.add(t, z.zones[1], z.wwpns[0])
		z.commit(t)
		z.remove(t, z.zones[0], z.wwpns[0])
		z.remove(t, z.zones[0], z.wwpns[0])
		z.commit(t)
		z.wantZones(t, z.wwpns[0], "RemoveMember twice", z.zones[1:], z.zones[1:])
	})
	t.Run("non_member_returns_nil", func(t *testing.T) {
		z := s.setup(t, 2)
		z.add(t, z.zones[0], z.wwpns[1])
		z.commit(t)
		z.remove(t, z.zones[0], z.wwpns[0])
		z.commit(t)
		z.wantZones(t, z.wwpns[0], "RemoveMember of a non-member", nil, nil)
		z.wantZones(t, z.wwpns[1], "RemoveMember of another member", z.zones[:1], z.zones[:1])
	})
	t.Run("unknown_zone_is_not_found", func(t *testing.T) {
		z := s.setup(t, 1)
		err := z.d.RemoveMember(t.Context(), unknownZone, z.wwpns[0])
		conformance.WantKind(t, "RemoveMember from an unknown zone", err, fabric.ErrNotFound)
	})
	t.Run("non_FC_initiator_is_invalid", func(t *testing.T) {
		z := s.setup(t, 0)
		for _, w := range notFC() {
			err := z.d.RemoveMember(t.Context(), z.zones[0], w)
			conformance.WantKind(t, fmt.Sprintf("RemoveMember(%q)", w), err, fabric.ErrInvalid)
		}
	})
}

// testAbort checks fabric.Aborter, for zoners that implement it.
func (s *zonerSuite) testAbort(t *testing.T) {
	setup := func(t *testing.T, n int) (*zoner, fabric.Aborter) {
		z := s.setup(t, n)
		a, ok := z.d.(fabric.Aborter)
		if !ok {
			t.Skip("the zoner does not implement fabric.Aborter (optional)")
		}
		return z, a
	}
	t.Run("discards_pending_changes", func(t *testing.T) {
		z, a := setup(t, 2)
		z.add(t, z.zones[0], z.wwpns[1])
		z.commit(t)
		z.add(t, z.zones[0], z.wwpns[0])
		z.remove(t, z.zones[0], z.wwpns[1])
		if err := a.Abort(t.Context()); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		z.wantZones(t, z.wwpns[0], "Abort", nil, nil)
		z.wantZones(t, z.wwpns[1], "Abort", z.zones[:1], z.zones[:1])
		// Nothing of the aborted transaction comes back with the next
		// Commit, and the zoner still works.
		z.add(t, z.zones[1], z.wwpns[0])
		z.commit(t)
		z.wantZones(t, z.wwpns[0], "a Commit after Abort", z.zones[1:], z.zones[1:])
		z.wantZones(t, z.wwpns[1], "a Commit after Abort", z.zones[:1], z.zones[:1])
	})
	t.Run("nothing_pending_is_idempotent", func(t *testing.T) {
		z, a := setup(t, 1)
		for i := 0; i < 2; i++ {
			if err := a.Abort(t.Context()); err != nil {
				t.Fatalf("Abort #%d with nothing pending: %v", i+1, err)
			}
		}
		z.wantZones(t, z.wwpns[0], "Abort of nothing", nil, nil)
	})
}

func (s *zonerSuite) testCommit(t *testing.T) {
	t.Run("nothing_pending_returns_nil", func(t *testing.T) {
		z := s.setup(t, 1)
		z.commit(t)
		z.commit(t)
		z.wantZones(t, z.wwpns[0], "Commit of nothing", nil, nil)
	})
	t.Run("failed_Commit_aborts_pending_changes", func(t *testing.T) {
		z := s.setup(t, 2)
		cf, ok := z.h.(CommitFailer)
		if !ok {
			t.Skip("harness cannot make a commit fail (no fabrictest.CommitFailer)")
		}
		z.add(t, z.zones[0], z.wwpns[1])
		z.commit(t)
		z.add(t, z.zones[0], z.wwpns[0])
		z.remove(t, z.zones[0], z.wwpns[1])
		if err := cf.FailNextCommit(t.Context()); err != nil {
			t.Fatalf("harness: FailNextCommit: %v", err)
		}
		err := z.d.Commit(t.Context())
		if !errors.Is(err, fabric.ErrConflict) && !errors.Is(err, fabric.ErrTransient) {
			t.Fatalf("Commit failing on the switch: %v, want ErrConflict or ErrTransient", err)
		}
		z.wantZones(t, z.wwpns[0], "a failed Commit", nil, nil)
		z.wantZones(t, z.wwpns[1], "a failed Commit", z.zones[:1], z.zones[:1])
		// The caller applies its changes again and retries.
		z.add(t, z.zones[0], z.wwpns[0])
		z.remove(t, z.zones[0], z.wwpns[1])
		z.commit(t)
		z.wantZones(t, z.wwpns[0], "the retried Commit", z.zones[:1], z.zones[:1])
		z.wantZones(t, z.wwpns[1], "the retried Commit", nil, nil)
	})
}

func (s *zonerSuite) testTransient(t *testing.T) {
	t.Run("failed_AddMember_changes_nothing_and_retry_succeeds", func(t *testing.T) {
		z := s.setup(t, 1)
		tf, ok := z.h.(TransientFailer)
		if !ok {
			t.Skip("harness cannot make a request fail (no fabrictest.TransientFailer)")
		}
		if err := tf.FailNext(t.Context()); err != nil {
			t.Fatalf("harness: FailNext: %v", err)
		}
		err := z.d.AddMember(t.Context(), z.zones[0], z.wwpns[0])
		conformance.WantKind(t, "AddMember with the switch failing", err, fabric.ErrTransient)
		z.wantZones(t, z.wwpns[0], "a failed AddMember", nil, nil)
		z.add(t, z.zones[0], z.wwpns[0])
		z.commit(t)
		z.wantZones(t, z.wwpns[0], "AddMember retried", z.zones[:1], z.zones[:1])
	})
}

func (s *zonerSuite) testContext(t *testing.T) {
	t.Run("cancelled_mid_request_AddMember", func(t *testing.T) {
		z := s.setup(t, 1)
		st, ok := z.h.(Staller)
		if !ok {
			t.Skip("harness cannot hold a request (no fabrictest.Staller)")
		}
		if conformance.CancelMidRequest(t, st, "AddMember", func(ctx context.Context) error { return z.d.AddMember(ctx, z.zones[0], z.wwpns[0]) }) {
			z.wantZones(t, z.wwpns[0], "an AddMember cancelled mid-request without ErrOutcomeUnknown", nil, nil)
		}
	})
	conformance.DoneContexts(t, func(t *testing.T, done func(*testing.T) context.Context, want error) {
		t.Run("Zones", func(t *testing.T) {
			z := s.setup(t, 1)
			conformance.CheckDone(t, "Zones", want, func() error {
				_, err := z.d.Zones(done(t), z.wwpns[0])
				return err
			})
		})
		t.Run("AddMember_changes_nothing", func(t *testing.T) {
			z := s.setup(t, 1)
			if !conformance.CheckDone(t, "AddMember", want, func() error { return z.d.AddMember(done(t), z.zones[0], z.wwpns[0]) }) {
				z.wantZones(t, z.wwpns[0], "an AddMember with a done context", nil, nil)
			}
		})
		t.Run("RemoveMember_changes_nothing", func(t *testing.T) {
			z := s.setup(t, 1)
			z.add(t, z.zones[0], z.wwpns[0])
			z.commit(t)
			if !conformance.CheckDone(t, "RemoveMember", want, func() error { return z.d.RemoveMember(done(t), z.zones[0], z.wwpns[0]) }) {
				z.wantZones(t, z.wwpns[0], "a RemoveMember with a done context", z.zones[:1], z.zones[:1])
			}
		})
		t.Run("Commit_activates_nothing", func(t *testing.T) {
			z := s.setup(t, 1)
			z.add(t, z.zones[0], z.wwpns[0])
			if !conformance.CheckDone(t, "Commit", want, func() error { return z.d.Commit(done(t)) }) {
				act, err := z.h.ActiveZones(t.Context(), z.wwpns[0])
				if err != nil {
					t.Fatalf("harness: ActiveZones: %v", err)
				}
				if len(act) != 0 {
					t.Errorf("a Commit with a done context activated %v in %q", z.wwpns[0], act)
				}
			}
		})
	})
}

func (s *zonerSuite) testConcurrency(t *testing.T) {
	t.Run("distinct_members_one_Commit", func(t *testing.T) {
		z := s.setup(t, workers)
		conformance.NoErrors(t, "AddMember", conformance.Parallel(workers, func(i int) error { return z.d.AddMember(t.Context(), z.zones[i%2], z.wwpns[i]) }))
		z.commit(t)
		for i, w := range z.wwpns {
			z.wantZones(t, w, fmt.Sprintf("%d parallel AddMembers", workers), z.zones[i%2:i%2+1], z.zones[i%2:i%2+1])
		}
		conformance.NoErrors(t, "RemoveMember", conformance.Parallel(workers, func(i int) error { return z.d.RemoveMember(t.Context(), z.zones[i%2], z.wwpns[i]) }))
		z.commit(t)
		for _, w := range z.wwpns {
			z.wantZones(t, w, fmt.Sprintf("%d parallel RemoveMembers", workers), nil, nil)
		}
	})
	t.Run("add_and_Commit_from_every_goroutine", func(t *testing.T) {
		z := s.setup(t, workers)
		conformance.NoErrors(t, "AddMember and Commit", conformance.Parallel(workers, func(i int) error {
			if err := z.d.AddMember(t.Context(), z.zones[0], z.wwpns[i]); err != nil {
				return err
			}
			if _, err := z.d.Zones(t.Context(), z.wwpns[i]); err != nil {
				return err
			}
			return z.d.Commit(t.Context())
		}))
		for _, w := range z.wwpns {
			z.wantZones(t, w, "parallel AddMembers and Commits", z.zones[:1], z.zones[:1])
		}
	})
}

// RunVLAN runs the VLANSwitch conformance suite against the driver that
// newHarness builds. newHarness is called once per subtest and must return
// a fresh harness (or stop the test with t.Fatal or t.Skip).
func RunVLAN(t *testing.T, newHarness func(t *testing.T) VLANHarness) {
	t.Helper()
	s := &vlanSuite{newHarness: newHarness}
	t.Run("PortVLAN", s.testPortVLAN)
	t.Run("SetPortVLAN", s.testSet)
	t.Run("TransientFailure", s.testTransient)
	t.Run("Context", s.testContext)
	t.Run("Concurrency", s.testConcurrency)
}

type vlanSuite struct {
	newHarness func(t *testing.T) VLANHarness
}

type vswitch struct {
	h     VLANHarness
	d     fabric.VLANSwitch
	ports []string
	a, b  fabric.PortVLAN
	init  []fabric.PortVLAN // each port's setting before the test
}

func (s *vlanSuite) setup(t *testing.T, n int) *vswitch {
	t.Helper()
	v := &vswitch{h: s.newHarness(t)}
	var err error
	if v.d, err = v.h.MakeSwitch(t.Context()); err != nil {
		t.Fatalf("harness: MakeSwitch: %v", err)
	}
	if v.d == nil {
		t.Fatal("harness: MakeSwitch returned a nil VLANSwitch")
	}
	if v.ports, v.a, v.b, err = v.h.VLANFixture(t.Context(), n); err != nil {
		t.Fatalf("harness: VLANFixture(%d): %v", n, err)
	}
	if len(v.ports) != n || len(slices.Compact(slices.Sorted(slices.Values(v.ports)))) != n {
		t.Fatalf("harness: VLANFixture(%d) returned ports %q, want %d distinct ones", n, v.ports, n)
	}
	if err := v.a.Validate(); err != nil {
		t.Fatalf("harness: VLANFixture setting a: %v", err)
	}
	if err := v.b.Validate(); err != nil {
		t.Fatalf("harness: VLANFixture setting b: %v", err)
	}
	if v.a.Equal(v.b) {
		t.Fatalf("harness: VLANFixture settings a and b are both %v, want two distinct ones", v.a)
	}
	for _, p := range v.ports {
		cur := v.read(t, p)
		if cur.Equal(v.a) || cur.Equal(v.b) {
			t.Fatalf("harness: VLANFixture port %s starts with %v, one of the fixture settings", p, cur)
		}
		v.init = append(v.init, cur)
	}
	return v
}

// read reads port's setting through the harness.
func (v *vswitch) read(t *testing.T, port string) fabric.PortVLAN {
	t.Helper()
	got, err := v.h.ReadPort(t.Context(), port)
	if err != nil {
		t.Fatalf("harness: ReadPort(%s): %v", port, err)
	}
	return got
}

// normal checks that a setting a driver returned is in normal form.
func normal(t *testing.T, what string, got fabric.PortVLAN) {
	t.Helper()
	n := got.Normalize()
	if !slices.Equal(got.Trunk, n.Trunk) || (got.Trunk == nil) != (n.Trunk == nil) {
		t.Errorf("%s returned trunk list %v, not normalised (want %v: sorted, no duplicates, nil when empty)", what, got.Trunk, n.Trunk)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("%s returned a setting that does not Validate: %v", what, err)
	}
}

// wantPort checks port's setting through the harness and the driver.
func (v *vswitch) wantPort(t *testing.T, port, after string, want fabric.PortVLAN) {
	t.Helper()
	if got := v.read(t, port); !got.Equal(want) {
		t.Errorf("after %s port %s has %v, want %v", after, port, got, want)
	}
	got, err := v.d.PortVLAN(t.Context(), port)
	if err != nil {
		t.Fatalf("PortVLAN(%s): %v", port, err)
	}
	normal(t, "PortVLAN", got)
	if !got.Equal(want) {
		t.Errorf("after %s PortVLAN(%s) = %v, want %v", after, port, got, want)
	}
}

// set calls SetPortVLAN and checks the previous setting it returns.
func (v *vswitch) set(t *testing.T, port string, to, wantPrev fabric.PortVLAN) {
	t.Helper()
	prev, err := v.d.SetPortVLAN(t.Context(), port, to)
	if err != nil {
		t.Fatalf("SetPortVLAN(%s, %v): %v", port, to, err)
	}
	normal(t, "SetPortVLAN", prev)
	if !prev.Equal(wantPrev) {
		t.Errorf("SetPortVLAN(%s, %v) returned previous setting %v, want %v", port, to, prev, wantPrev)
	}
}

func (s *vlanSuite) testPortVLAN(t *testing.T) {
	t.Run("reads_setting", func(t *testing.T) {
		v := s.setup(t, 2)
		for i, p := range v.ports {
			v.wantPort(t, p, "setup", v.init[i])
		}
	})
	t.Run("unknown_port_is_not_found", func(t *testing.T) {
		v := s.setup(t, 0)
		_, err := v.d.PortVLAN(t.Context(), unknownPort)
		conformance.WantKind(t, "PortVLAN of an unknown port", err, fabric.ErrNotFound)
		conformance.WantNamed(t, "PortVLAN of an unknown port", err, unknownPort)
	})
}

func (s *vlanSuite) testSet(t *testing.T) {
	t.Run("sets_and_returns_previous", func(t *testing.T) {
		v := s.setup(t, 1)
		p := v.ports[0]
		v.set(t, p, v.a, v.init[0])
		v.wantPort(t, p, "SetPortVLAN(a)", v.a)
		v.set(t, p, v.b, v.a)
		v.wantPort(t, p, "SetPortVLAN(b)", v.b)
	})
	t.Run("twice_is_once", func(t *testing.T) {
		v := s.setup(t, 1)
		p := v.ports[0]
		v.set(t, p, v.a, v.init[0])
		v.set(t, p, v.a, v.a)
		v.wantPort(t, p, "SetPortVLAN twice", v.a)
	})
	t.Run("previous_setting_restores", func(t *testing.T) {
		v := s.setup(t, 1)
		p := v.ports[0]
		prev, err := v.d.SetPortVLAN(t.Context(), p, v.a)
		if err != nil {
			t.Fatalf("SetPortVLAN: %v", err)
		}
		v.set(t, p, prev, v.a)
		v.wantPort(t, p, "restoring the previous setting", v.init[0])
	})
	t.Run("other_ports_untouched", func(t *testing.T) {
		v := s.setup(t, 2)
		v.set(t, v.ports[0], v.a, v.init[0])
		v.wantPort(t, v.ports[1], "SetPortVLAN of another port", v.init[1])
	})
	t.Run("trunk_list_in_any_spelling", func(t *testing.T) {
		v := s.setup(t, 1)
		var trunk fabric.PortVLAN
		switch {
		case v.a.Mode == fabric.Trunk && len(v.a.Trunk) > 0:
			trunk = v.a
		case v.b.Mode == fabric.Trunk && len(v.b.Trunk) > 0:
			trunk = v.b
		default:
			t.Skip("neither fixture setting has a trunk list to spell differently")
		}
		messy := trunk
		messy.Trunk = append(slices.Clone(trunk.Trunk), trunk.Trunk...)
		slices.Reverse(messy.Trunk)
		v.set(t, v.ports[0], messy, v.init[0])
		v.wantPort(t, v.ports[0], fmt.Sprintf("SetPortVLAN(%v unsorted, with duplicates)", trunk), trunk)
		v.set(t, v.ports[0], trunk, trunk)
	})
	t.Run("invalid_setting_is_invalid", func(t *testing.T) {
		v := s.setup(t, 1)
		for _, bad := range []fabric.PortVLAN{
			{},
			{Mode: fabric.Access},
			{Mode: fabric.Access, AccessVLAN: 4095},
			{Mode: fabric.Access, AccessVLAN: 10, NativeVLAN: 10},
			{Mode: fabric.Trunk, Trunk: []int{10, 0}},
			{Mode: fabric.Trunk, NativeVLAN: 5000},
			{Mode: "hybrid", AccessVLAN: 10},
		} {
			_, err := v.d.SetPortVLAN(t.Context(), v.ports[0], bad)
			conformance.WantKind(t, fmt.Sprintf("SetPortVLAN(%+v)", bad), err, fabric.ErrInvalid)
		}
		v.wantPort(t, v.ports[0], "invalid SetPortVLANs", v.init[0])
	})
	t.Run("unknown_port_is_not_found", func(t *testing.T) {
		v := s.setup(t, 0)
		_, err := v.d.SetPortVLAN(t.Context(), unknownPort, v.a)
		conformance.WantKind(t, "SetPortVLAN of an unknown port", err, fabric.ErrNotFound)
		conformance.WantNamed(t, "SetPortVLAN of an unknown port", err, unknownPort)
	})
}

func (s *vlanSuite) testTransient(t *testing.T) {
	t.Run("failed_SetPortVLAN_changes_nothing_and_retry_succeeds", func(t *testing.T) {
		v := s.setup(t, 1)
		tf, ok := v.h.(TransientFailer)
		if !ok {
			t.Skip("harness cannot make a request fail (no fabrictest.TransientFailer)")
		}
		if err := tf.FailNext(t.Context()); err != nil {
			t.Fatalf("harness: FailNext: %v", err)
		}
		_, err := v.d.SetPortVLAN(t.Context(), v.ports[0], v.a)
		conformance.WantKind(t, "SetPortVLAN with the switch failing", err, fabric.ErrTransient)
		v.wantPort(t, v.ports[0], "a failed SetPortVLAN", v.init[0])
		v.set(t, v.ports[0], v.a, v.init[0])
		v.wantPort(t, v.ports[0], "SetPortVLAN retried", v.a)
	})
}

func (s *vlanSuite) testContext(t *testing.T) {
	t.Run("cancelled_mid_request_SetPortVLAN", func(t *testing.T) {
		v := s.setup(t, 1)
		st, ok := v.h.(Staller)
		if !ok {
			t.Skip("harness cannot hold a request (no fabrictest.Staller)")
		}
		if conformance.CancelMidRequest(t, st, "SetPortVLAN", func(ctx context.Context) error {
			_, err := v.d.SetPortVLAN(ctx, v.ports[0], v.a)
			return err
		}) {
			v.wantPort(t, v.ports[0], "a SetPortVLAN cancelled mid-request without ErrOutcomeUnknown", v.init[0])
		}
	})
	conformance.DoneContexts(t, func(t *testing.T, done func(*testing.T) context.Context, want error) {
		t.Run("PortVLAN", func(t *testing.T) {
			v := s.setup(t, 1)
			conformance.CheckDone(t, "PortVLAN", want, func() error {
				_, err := v.d.PortVLAN(done(t), v.ports[0])
				return err
			})
		})
		t.Run("SetPortVLAN_changes_nothing", func(t *testing.T) {
			v := s.setup(t, 1)
			if !conformance.CheckDone(t, "SetPortVLAN", want, func() error {
				_, err := v.d.SetPortVLAN(done(t), v.ports[0], v.a)
				return err
			}) {
				v.wantPort(t, v.ports[0], "a SetPortVLAN with a done context", v.init[0])
			}
		})
	})
}

func (s *vlanSuite) testConcurrency(t *testing.T) {
	t.Run("distinct_ports", func(t *testing.T) {
		v := s.setup(t, workers)
		to := func(i int) fabric.PortVLAN { return []fabric.PortVLAN{v.a, v.b}[i%2] }
		prevs := make([]fabric.PortVLAN, workers)
		conformance.NoErrors(t, "SetPortVLAN", conformance.Parallel(workers, func(i int) (err error) {
			prevs[i], err = v.d.SetPortVLAN(t.Context(), v.ports[i], to(i))
			return err
		}))
		for i, p := range v.ports {
			if !prevs[i].Equal(v.init[i]) {
				t.Errorf("parallel SetPortVLAN(%s) returned previous setting %v, want %v", p, prevs[i], v.init[i])
			}
			v.wantPort(t, p, fmt.Sprintf("%d parallel SetPortVLANs", workers), to(i))
		}
	})
	t.Run("one_port_exactly_one_sees_the_old_setting", func(t *testing.T) {
		v := s.setup(t, 1)
		prevs := make([]fabric.PortVLAN, workers)
		conformance.NoErrors(t, "SetPortVLAN", conformance.Parallel(workers, func(i int) (err error) {
			prevs[i], err = v.d.SetPortVLAN(t.Context(), v.ports[0], v.a)
			return err
		}))
		old := 0
		for i, prev := range prevs {
			switch {
			case prev.Equal(v.init[0]):
				old++
			case !prev.Equal(v.a):
				t.Errorf("goroutine %d: SetPortVLAN returned previous setting %v, want %v or %v", i, prev, v.init[0], v.a)
			}
		}
		if old != 1 {
			t.Errorf("%d of %d identical parallel SetPortVLANs returned the port's old setting, want exactly 1 (the others the new one)", old, workers)
		}
		v.wantPort(t, v.ports[0], "identical parallel SetPortVLANs", v.a)
	})
}
