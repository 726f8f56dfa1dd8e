package partitiontest_test

import (
	"testing"

	"github.com/coldstandby/coldstandby/partition/partitiontest"
)

// A driver's test file runs the suite with a function that builds a fresh
// platform and driver (here the in-memory reference of this package's
// tests; drivers/redfish starts a composition test server).
func ExampleRun() {
	var t *testing.T // the driver's TestConformance(t *testing.T) receives it; compiled, not run
	partitiontest.Run(t, func(t *testing.T) partitiontest.Harness {
		return &harness{p: newPlatform()}
	})
}
