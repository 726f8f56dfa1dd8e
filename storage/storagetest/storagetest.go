package storagetest

import (
	"testing"
)

// Run runs the conformance suite against the driver that newHarness
// builds. newHarness is called once per subtest and must return a fresh
// harness (or stop the test with t.Fatal or t.Skip).
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	s := &suite{newHarness: newHarness}
	t.Run("Map", s.testMap)
}

type suite struct {
	newHarness func(t *testing.T) Harness
}

func (s *suite) testMap(t *testing.T) {
	t.Run("makes_volume_visible_at_LUN", func(t *testing.T) {
		h := s.newHarness(t)
		d, err := h.MakeMapper(t.Context())
		if err != nil {
			t.Fatalf("harness: MakeMapper: %v", err)
		}
		vols, err := h.Volumes(t.Context(), 1)
		if err != nil {
			t.Fatalf("harness: Volumes: %v", err)
		}
		hosts, err := h.Hosts(t.Context(), 1)
		if err != nil {
			t.Fatalf("harness: Hosts: %v", err)
		}
		if err := d.Map(t.Context(), vols[0], hosts[0], 3); err != nil {
			t.Fatalf("Map: %v", err)
		}
		got, err := h.Masking(t.Context(), hosts[0])
		if err != nil {
			t.Fatalf("harness: Masking: %v", err)
		}
		if len(got) != 1 || got[0].Volume != vols[0] || got[0].LUN != 3 {
			t.Errorf("after Map the array shows %v, want %s at LUN 3", got, vols[0])
		}
	})
}
