package fabrictest_test

import (
	"testing"

	"github.com/coldstandby/coldstandby/fabric/fabrictest"
)

// An FC switch driver's test file runs the zoning suite with a function
// that builds a fresh fabric and driver (here the in-memory reference of
// this package's tests).
func ExampleRunZoner() {
	var t *testing.T // the driver's TestConformance(t *testing.T) receives it; compiled, not run
	fabrictest.RunZoner(t, newZonerHarness(""))
}

// An Ethernet switch driver's test file runs the VLAN suite the same way.
func ExampleRunVLAN() {
	var t *testing.T
	fabrictest.RunVLAN(t, newVLANHarness(""))
}
