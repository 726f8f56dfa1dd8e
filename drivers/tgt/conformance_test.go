package tgt_test

import (
	"testing"

	"github.com/coldstandby/coldstandby/drivers/tgt/tgttest"
	"github.com/coldstandby/coldstandby/storage/storagetest"
)

// TestConformance runs the storage suite against a real tgtd. The
// subtests share one daemon; each harness has its own targets and
// initiators.
func TestConformance(t *testing.T) {
	d := tgttest.Start(t)
	storagetest.Run(t, func(t *testing.T) storagetest.Harness { return tgttest.NewHarnessOn(t, d) })
}
