package ovstest

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRunReturnsStdoutOnly: what a command logs to stderr (ovs-vsctl's
// warnings on a loaded machine) is not part of its answer.
func TestRunReturnsStdoutOnly(t *testing.T) {
	prog := filepath.Join(t.TempDir(), "tool")
	script := "#!/bin/sh\necho 'access 10 []'\necho 'timeval|WARN|Unreasonably long 1111ms poll interval' >&2\n"
	if err := os.WriteFile(prog, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Switch{t: t}
	if got := s.run("tool", prog); got != "access 10 []\n" {
		t.Errorf("run = %q, want stdout only", got)
	}
}
