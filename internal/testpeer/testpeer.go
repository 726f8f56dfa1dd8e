// Package testpeer decides what a test does when a real peer it needs
// (ipmi_sim, etcd, tgtd, Open vSwitch, ...) is not installed: skip on a
// developer's machine, fail in CI. CI is recognised by the CI variable
// (any value but "", "0" or "false") or COLDSTANDBY_REQUIRE_PEERS=1, which
// .ci/run sets.
package testpeer

import (
	"os"
	"os/exec"
	"testing"
)

// Required reports whether missing peers must fail tests.
func Required() bool {
	if os.Getenv("COLDSTANDBY_REQUIRE_PEERS") == "1" {
		return true
	}
	switch os.Getenv("CI") {
	case "", "0", "false", "False", "FALSE":
		return false
	}
	return true
}

// Unavailable stops the test because a peer is missing: t.Fatalf in CI,
// t.Skipf elsewhere. why says what is missing and how to install it.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("required test peer unavailable (CI): %s", why)
	}
	t.Skipf("test peer unavailable: %s (run .ci/run as root to install it; CI fails here)", why)
}

// LookPath returns the full path of each named program, or stops the test
// with Unavailable naming the Debian package that ships it.
func LookPath(t testing.TB, pkg string, programs ...string) []string {
	t.Helper()
	paths := make([]string, len(programs))
	for i, p := range programs {
		path, err := exec.LookPath(p)
		if err != nil {
			Unavailable(t, p+" not found (Debian package "+pkg+")")
			return nil
		}
		paths[i] = path
	}
	return paths
}
