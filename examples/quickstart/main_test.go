package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
)

var update = flag.Bool("update", false, "rewrite testdata/quickstart.golden")

// playAll runs the demo inside a synctest bubble: the demo clock's short
// real-time yield (which lets parallel steps finish before virtual time
// moves on) then ends only when every other goroutine of the demo is
// blocked, so the output cannot depend on how loaded the machine is.
func playAll(t *testing.T) string {
	t.Helper()
	var out bytes.Buffer
	var err error
	synctest.Test(t, func(t *testing.T) { err = run(&out, "all") })
	if err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestQuickstartOutput runs the demo and compares its output with the
// golden file (go test ./examples/quickstart -update rewrites it after a
// deliberate change), and checks that a second run prints the same.
func TestQuickstartOutput(t *testing.T) {
	out := bytes.NewBufferString(playAll(t))
	golden := filepath.Join("testdata", "quickstart.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != string(want) {
		t.Errorf("output differs from %s:\n%s", golden, got)
	}
	if again := playAll(t); again != out.String() {
		t.Error("second run printed something else")
	}
	// What an operator must see, whatever the formatting.
	for _, s := range []string{
		"plan:  exact: srv01 -> srv02",
		"plan:  recomposed (compose srv10+srv11): srv03 -> srv10, srv04 -> srv11",
		"plan:  relaxed: srv05 -> srv12",
		`plan:  preempted: srv06 -> srv07 (victim srv07 "batch" prio 2 relocated to srv08)`,
	} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q", s)
		}
	}
	if n := strings.Count(out.String(), "outcome: done"); n != 4 {
		t.Errorf("%d scenarios done, want 4", n)
	}
}

func TestQuickstartScenarioFlag(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, "relaxed"); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "== ") != 1 || !strings.Contains(out.String(), "srv05 -> srv12") {
		t.Errorf("output:\n%s", out.String())
	}
	if err := run(&out, "nope"); err == nil {
		t.Error("unknown scenario accepted")
	}
}
