package bmctest_test

import (
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/bmc/bmctest"
)

// A driver's test file runs the suite with a function that starts a fresh
// server (here the in-memory reference of this package's tests; a real
// driver starts a simulator or connects to a lab BMC and registers its
// teardown with t.Cleanup).
func ExampleRun() {
	var t *testing.T // the driver's TestConformance(t *testing.T) receives it; compiled, not run
	bmctest.Run(t, func(t *testing.T) bmctest.Harness {
		return &harness{s: &server{power: bmc.PowerOff, bootDev: bmc.BootPXE}}
	})
}
