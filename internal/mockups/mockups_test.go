package mockups_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/coldstandby/coldstandby/internal/mockups"
)

func TestFindWalksUp(t *testing.T) {
	root := t.TempDir()
	want := filepath.Join(root, "shared", "redfish-mockups")
	deep := filepath.Join(root, "repo", "drivers", "redfish", "redfishtest")
	for _, d := range []string{want, deep} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, start := range []string{deep, filepath.Join(root, "repo"), root} {
		got, ok := mockups.Find(start)
		if !ok || got != want {
			t.Errorf("Find(%s) = %q, %v; want %q", start, got, ok, want)
		}
	}
}

func TestFindNeedsADirectory(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "shared"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A file of that name is not the mockup directory.
	if err := os.WriteFile(filepath.Join(root, "shared", "redfish-mockups"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, ok := mockups.Find(root); ok {
		// An ancestor of the temp dir could hold a real one; it must not
		// be the file.
		if got == filepath.Join(root, "shared", "redfish-mockups") {
			t.Fatalf("Find took the file %s for the directory", got)
		}
	}
}

// In this repository the shared mockups sit next to the clone.
func TestDir(t *testing.T) {
	d := mockups.Dir(t)
	if _, err := os.Stat(filepath.Join(d, "public-rackmount1")); err != nil {
		t.Fatalf("Dir() = %s, which lacks public-rackmount1: %v", d, err)
	}
}
