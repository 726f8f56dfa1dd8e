package bmclib_test

import (
	"errors"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/internal/ipmisim"
	"github.com/coldstandby/coldstandby/internal/redfishbmc"
)

// bmc.BMC.NMI: a BMC that cannot send an NMI answers ErrUnsupported
// whatever the power state; ErrUnsupported takes precedence over the
// ErrConflict of a server that is off. The driver learns it from the
// BMC's refusal and must not forget it when the server goes off.
func TestNMIUnsupportedTakesPrecedenceOverOff(t *testing.T) {
	t.Parallel()
	sim := ipmisim.Start(t, ipmisim.WithPoweredOn())
	d := ipmiDriver(t, sim)
	if err := d.NMI(t.Context()); !errors.Is(err, bmc.ErrUnsupported) {
		t.Fatalf("NMI on ipmi_sim (on): %v, want ErrUnsupported", err)
	}
	sim.SetPower(t, false)
	if err := d.NMI(t.Context()); !errors.Is(err, bmc.ErrUnsupported) {
		t.Fatalf("NMI on ipmi_sim (off) after a refusal: %v, want ErrUnsupported", err)
	}
	if sim.PoweredOn() {
		t.Error("NMI powered the server on")
	}
}

// A refusal is not forever: a BMC that accepts NMI again (a firmware
// update, a setting) is used, and an off server is then ErrConflict.
func TestRedfishNMIRefusalIsRelearned(t *testing.T) {
	t.Parallel()
	s := redfishbmc.Start(t)
	s.SetPower(true)
	d := redfishDriver(t, s)
	s.RefuseNMI(true)
	if err := d.NMI(t.Context()); !errors.Is(err, bmc.ErrUnsupported) {
		t.Fatalf("NMI refused: %v, want ErrUnsupported", err)
	}
	s.SetPower(false)
	if err := d.NMI(t.Context()); !errors.Is(err, bmc.ErrUnsupported) {
		t.Fatalf("NMI on an off server after a refusal: %v, want ErrUnsupported", err)
	}
	s.RefuseNMI(false)
	s.SetPower(true)
	if err := d.NMI(t.Context()); err != nil {
		t.Fatalf("NMI accepted again: %v", err)
	}
	s.SetPower(false)
	if err := d.NMI(t.Context()); !errors.Is(err, bmc.ErrConflict) {
		t.Fatalf("NMI on an off server that accepts NMI: %v, want ErrConflict", err)
	}
	if s.NMIs() != 1 {
		t.Fatalf("BMC got %d NMIs, want 1", s.NMIs())
	}
}
