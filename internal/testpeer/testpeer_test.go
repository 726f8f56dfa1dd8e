package testpeer_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/internal/testpeer"
)

// fakeTB records how a test was stopped instead of stopping it.
type fakeTB struct {
	testing.TB // nil: only the methods below are called
	name       string
	fatal      []string
	skip       []string
}

func (f *fakeTB) Helper()                         {}
func (f *fakeTB) Name() string                    { return f.name }
func (f *fakeTB) Logf(format string, args ...any) {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = append(f.fatal, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skip = append(f.skip, fmt.Sprintf(format, args...))
}

// TestUnavailable: outside CI a missing peer skips the test and records
// why in the skip log; in CI it fails the test and records nothing.
func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name, ci, require string
		wantFail          bool
	}{
		{"developer machine", "", "", false},
		{"CI=false", "false", "", false},
		{"CI=true", "true", "", true},
		{"CI=1", "1", "", true},
		{"COLDSTANDBY_REQUIRE_PEERS=1", "", "1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			t.Setenv("COLDSTANDBY_REQUIRE_PEERS", tc.require)
			log := filepath.Join(t.TempDir(), "skips")
			t.Setenv(testpeer.SkipLogEnv, log)
			wd, _ := os.Getwd()

			for _, name := range []string{"TestA", "TestB/sub\tcase"} {
				f := &fakeTB{name: name}
				testpeer.Unavailable(f, "etcd not found\n(Debian package etcd-server)")
				if got := len(f.fatal) > 0; got != tc.wantFail || len(f.fatal)+len(f.skip) != 1 {
					t.Fatalf("%s: fatal %q, skip %q; want failed=%v, stopped once", name, f.fatal, f.skip, tc.wantFail)
				}
			}
			b, err := os.ReadFile(log)
			if tc.wantFail {
				if err == nil {
					t.Errorf("a failed test was logged as skipped: %q", b)
				}
				return
			}
			want := wd + "\tTestA\tetcd not found (Debian package etcd-server)\n" +
				wd + "\tTestB/sub case\tetcd not found (Debian package etcd-server)\n"
			if err != nil || string(b) != want {
				t.Errorf("skip log = %q, %v; want %q", b, err, want)
			}
		})
	}
}

// TestUnavailableWithoutLog: with SkipLogEnv unset nothing is written and
// the test still skips.
func TestUnavailableWithoutLog(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv("COLDSTANDBY_REQUIRE_PEERS", "")
	t.Setenv(testpeer.SkipLogEnv, "")
	f := &fakeTB{name: "TestA"}
	testpeer.Unavailable(f, "ipmi_sim not found")
	if len(f.skip) != 1 || !strings.Contains(f.skip[0], "ipmi_sim not found") || len(f.fatal) != 0 {
		t.Errorf("fatal %q, skip %q", f.fatal, f.skip)
	}
}
