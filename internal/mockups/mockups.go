// Package mockups finds the shared Redfish mockup payloads
// (shared/redfish-mockups, kept next to the repository and never copied
// into it) for test servers and tests.
//
// Import it from a test or a test server that serves or reads those
// payloads (drivers/redfish/redfishtest, internal/redfishbmc); nothing
// outside tests should.
package mockups

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/coldstandby/coldstandby/internal/testpeer"
)

// Rel is the mockup directory's path relative to the directory that holds
// it, a sibling of the repository.
var Rel = filepath.Join("shared", "redfish-mockups")

// Find walks up from start, the directory itself first, to the first
// directory that holds Rel, and returns Rel's path there; ok is false when
// no ancestor holds it.
func Find(start string) (dir string, ok bool) {
	d, err := filepath.Abs(start)
	if err != nil {
		return "", false
	}
	for {
		p := filepath.Join(d, Rel)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p, true
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", false
		}
		d = parent
	}
}

// Dir returns the shared redfish-mockups directory, found by walking up
// from the working directory (the test's package directory). Without it
// the test stops through testpeer.Unavailable: skipped on a developer's
// machine, failed in CI.
func Dir(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("mockups: working directory: %v", err)
	}
	p, ok := Find(wd)
	if !ok {
		testpeer.Unavailable(t, "shared/redfish-mockups not found above "+wd+" (clone the repository next to shared/)")
		return ""
	}
	return p
}
