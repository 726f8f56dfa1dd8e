package tgttest_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/drivers/tgt/tgttest"
	"github.com/coldstandby/coldstandby/internal/testpeer"
)

// TestLaunchServesVolumesAndCloses: the program-facing Launch starts a
// tgtd that serves the volumes made with CreateVolume, and Close stops
// it (idempotently), leaving no daemon answering on its control port.
func TestLaunchServesVolumesAndCloses(t *testing.T) {
	testpeer.LookPath(t, "tgt", "tgtd", "tgtadm")
	if os.Geteuid() != 0 {
		testpeer.Unavailable(t, "tgtd needs root")
	}
	ctx := context.Background()
	d, err := tgttest.Launch(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const name = "iqn.2026-12.org.coldstandby.tgttest:launch"
	v, err := d.CreateVolume(ctx, name, 3, 1<<20)
	if err != nil || v != name+"/3" {
		t.Fatalf("CreateVolume = %q, %v", v, err)
	}
	out, err := d.Run(ctx, "--lld", "iscsi", "--mode", "target", "--op", "show")
	if err != nil || !strings.Contains(out, "Target 1: "+name) || !strings.Contains(out, "LUN: 3") {
		t.Fatalf("show: %v\n%s", err, out)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := d.Run(ctx, "--mode", "portal", "--op", "show"); err == nil {
		t.Fatal("tgtd still answers after Close")
	}
}
