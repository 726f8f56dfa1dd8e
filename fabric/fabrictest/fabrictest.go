package fabrictest

import (
	"testing"
)

// RunZoner runs the FCZoner conformance suite against the driver that
// newHarness builds. newHarness is called once per subtest and must return
// a fresh harness (or stop the test with t.Fatal or t.Skip).
func RunZoner(t *testing.T, newHarness func(t *testing.T) ZonerHarness) {
	t.Helper()
	t.Run("AddMember", func(t *testing.T) {
		h := newHarness(t)
		d, err := h.MakeZoner(t.Context())
		if err != nil {
			t.Fatalf("harness: MakeZoner: %v", err)
		}
		zones, wwpns, err := h.ZoneFixture(t.Context(), 1)
		if err != nil {
			t.Fatalf("harness: ZoneFixture: %v", err)
		}
		if err := d.AddMember(t.Context(), zones[0], wwpns[0]); err != nil {
			t.Fatalf("AddMember: %v", err)
		}
	})
}

// RunVLAN runs the VLANSwitch conformance suite against the driver that
// newHarness builds. newHarness is called once per subtest and must return
// a fresh harness (or stop the test with t.Fatal or t.Skip).
func RunVLAN(t *testing.T, newHarness func(t *testing.T) VLANHarness) {
	t.Helper()
	t.Run("SetPortVLAN", func(t *testing.T) {
		h := newHarness(t)
		d, err := h.MakeSwitch(t.Context())
		if err != nil {
			t.Fatalf("harness: MakeSwitch: %v", err)
		}
		ports, a, _, err := h.VLANFixture(t.Context(), 1)
		if err != nil {
			t.Fatalf("harness: VLANFixture: %v", err)
		}
		if _, err := d.SetPortVLAN(t.Context(), ports[0], a); err != nil {
			t.Fatalf("SetPortVLAN: %v", err)
		}
	})
}
