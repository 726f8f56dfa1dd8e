package partitiontest

import (
	"testing"
)

// Run runs the conformance suite against the driver that newHarness
// builds. newHarness is called once per subtest and must return a fresh
// harness (or stop the test with t.Fatal or t.Skip).
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	s := &suite{newHarness: newHarness}
	t.Run("Compose", s.testCompose)
}

type suite struct {
	newHarness func(t *testing.T) Harness
}

func (s *suite) testCompose(t *testing.T) {
	t.Run("makes_logical_server", func(t *testing.T) {
		h := s.newHarness(t)
		d, err := h.MakeManager(t.Context())
		if err != nil {
			t.Fatalf("harness: MakeManager: %v", err)
		}
		m, err := h.Members(t.Context(), 2)
		if err != nil {
			t.Fatalf("harness: Members: %v", err)
		}
		if err := d.Compose(t.Context(), "conformance-1", m); err != nil {
			t.Fatalf("Compose: %v", err)
		}
	})
}
