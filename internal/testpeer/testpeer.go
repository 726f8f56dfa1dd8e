// Package testpeer decides what a test does when a real peer it needs
// (ipmi_sim, etcd, tgtd, Open vSwitch, ...) is not installed: skip on a
// developer's machine, fail in CI. CI is recognised by the CI variable
// (any value but "", "0" or "false") or COLDSTANDBY_REQUIRE_PEERS=1, which
// .ci/run sets.
//
// Skips are not silent: when SkipLogEnv names a file, Unavailable appends
// a line per skipped test to it, and .ci/test (the README's test command)
// ends its run with a one-line summary of that file.
package testpeer

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// SkipLogEnv is the environment variable that names the file Unavailable
// appends skipped tests to, one line each: the package directory, the
// test's name and why, separated by tabs. Unset, nothing is written.
const SkipLogEnv = "COLDSTANDBY_SKIP_LOG"

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
// t.Skipf elsewhere, after recording the skip (see SkipLogEnv). why says
// what is missing and how to install it.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("required test peer unavailable (CI): %s", why)
		return
	}
	recordSkip(t, why)
	t.Skipf("test peer unavailable: %s (run .ci/run as root to install it; CI fails here)", why)
}

// recordSkip appends the skip to the file SkipLogEnv names, if any. One
// write with O_APPEND: the test binaries of several packages, running at
// once, do not interleave their lines.
func recordSkip(t testing.TB, why string) {
	path := os.Getenv(SkipLogEnv)
	if path == "" {
		return
	}
	dir, _ := os.Getwd() // the package's directory, where go test runs it
	clean := func(s string) string { return strings.NewReplacer("\t", " ", "\n", " ").Replace(s) }
	line := clean(dir) + "\t" + clean(t.Name()) + "\t" + clean(why) + "\n"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Logf("testpeer: cannot record the skip in %s: %v", path, err)
		return
	}
	if _, err := f.WriteString(line); err != nil {
		t.Logf("testpeer: cannot record the skip in %s: %v", path, err)
	}
	f.Close()
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
