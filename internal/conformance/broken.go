package conformance

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A Broken case names a driver variant broken on purpose and the one
// subtest of a suite that must fail against it.
type Broken struct {
	// Variant is the value of the suite test's variant environment
	// variable that selects the broken reference driver.
	Variant string
	// Want is the subtest path below the suite's Run ("Map/twice_is_once")
	// that must fail; only it runs.
	Want string
	// RaceOnly marks a variant whose fault (a data race) only -race
	// detects; without it the case is skipped.
	RaceOnly bool
}

// BrokenHelper is the body of a suite test's TestBrokenHelper: it runs the
// suite, through run, against the variant named by the environment
// variable env, and skips when env is empty (the test is only meant to run
// in the subprocess that BrokenDriversFail starts).
func BrokenHelper(t *testing.T, env string, run func(t *testing.T, variant string)) {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		t.Skip("run by TestBrokenDriversFail in a subprocess")
	}
	run(t, v)
}

// BrokenDriversFail is the body of a suite test's TestBrokenDriversFail:
// for each case, in parallel subtests named Variant/Want, it runs
// TestBrokenHelper/Want (and nothing else) in a subprocess of the test
// binary with env set to Variant, and fails unless that subprocess fails
// and reports "--- FAIL: TestBrokenHelper/Want". It skips in the
// subprocess itself.
func BrokenDriversFail(t *testing.T, env string, cases []Broken) {
	t.Helper()
	if os.Getenv(env) != "" {
		t.Skip("in the subprocess")
	}
	for _, c := range cases {
		t.Run(c.Variant+"/"+c.Want, func(t *testing.T) {
			if c.RaceOnly && !RaceEnabled {
				t.Skip("a data race is only detected with -race")
			}
			t.Parallel()
			out, err := runHelper(t, env, c.Variant, c.Want)
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("suite passed the %q driver (err %v); output:\n%s", c.Variant, err, out)
			}
			if !strings.Contains(out, "--- FAIL: TestBrokenHelper/"+c.Want+" ") {
				t.Fatalf("the %q driver did not fail %s; output:\n%s", c.Variant, c.Want, out)
			}
		})
	}
}

// runHelper runs TestBrokenHelper/subtest (and nothing else) against the
// variant in a subprocess of this test binary.
func runHelper(t *testing.T, env, variant, subtest string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	pattern := "^TestBrokenHelper$"
	for _, name := range strings.Split(subtest, "/") {
		pattern += "/^" + regexp.QuoteMeta(name) + "$"
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+pattern, "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+variant)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
