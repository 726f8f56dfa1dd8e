package boltstore_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/drivers/boltstore"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/storetest"
	"github.com/coldstandby/coldstandby/search"
)

func open(t *testing.T, path string) *boltstore.Store {
	t.Helper()
	st, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestConformance(t *testing.T) {
	storetest.RunHarness(t, storetest.Harness{
		New: func(t *testing.T) failover.Store {
			return open(t, filepath.Join(t.TempDir(), "state.db"))
		},
		Reopen: func(t *testing.T, old failover.Store) failover.Store {
			b := old.(*boltstore.Store)
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			st := open(t, b.Path())
			if err := st.Check(context.Background()); err != nil {
				t.Fatal(err)
			}
			return st
		},
	})
}

func TestOpenRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	for name, f := range map[string]func() (*boltstore.Store, error){
		"empty path": func() (*boltstore.Store, error) { return boltstore.Open("") },
		"zero timeout": func() (*boltstore.Store, error) {
			return boltstore.Open(filepath.Join(dir, "a"), boltstore.WithLockTimeout(0))
		},
		"unreadable mode": func() (*boltstore.Store, error) {
			return boltstore.Open(filepath.Join(dir, "b"), boltstore.WithFileMode(0o200))
		},
		"directory as file": func() (*boltstore.Store, error) { return boltstore.Open(dir) },
	} {
		st, err := f()
		if err == nil {
			_ = st.Close()
			t.Errorf("%s: Open succeeded", name)
			continue
		}
		if name != "directory as file" && !errors.Is(err, failover.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestFileModeAndClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(context.Background(), "x"); !errors.Is(err, failover.ErrInvalid) {
		t.Errorf("Get after Close: %v, want ErrInvalid", err)
	}
	if _, err := st.Put(context.Background(), failover.Record{Server: search.Server{ID: "x", State: search.Standby}}); !errors.Is(err, failover.ErrInvalid) {
		t.Errorf("Put after Close: %v, want ErrInvalid", err)
	}
}

// TestLockChild holds the store file open until killed; it is run by
// TestSecondProcessFailsClearly.
func TestLockChild(t *testing.T) {
	path := os.Getenv("BOLTSTORE_LOCK_PATH")
	if path == "" {
		t.Skip("helper for TestSecondProcessFailsClearly")
	}
	st, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	os.Stdout.WriteString("locked\n")
	time.Sleep(time.Minute)
}

func TestSecondProcessFailsClearly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "BOLTSTORE_LOCK_PATH="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if !strings.Contains(string(buf[:n]), "locked") {
		t.Fatalf("child did not lock the file: %q", buf[:n])
	}
	start := time.Now()
	st, err := boltstore.Open(path, boltstore.WithLockTimeout(300*time.Millisecond))
	if err == nil {
		_ = st.Close()
		t.Fatal("a second process opened a locked store")
	}
	if !errors.Is(err, boltstore.ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second open: %v, want ErrLocked naming the file", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 5*time.Second {
		t.Fatalf("second open gave up after %v, want about the 300ms timeout", d)
	}
	// Once the holder dies, the lock is gone.
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	st = open(t, path)
	if err := st.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// damageInPlace overwrites every occurrence of old in the file at path
// (the live one and the copies in free pages) with garbage of the same
// length, in place: an open store sees it through its memory map.
func damageInPlace(t *testing.T, path, old string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for i := 0; ; {
		j := strings.Index(string(b[i:]), old)
		if j < 0 {
			break
		}
		if _, err := f.WriteAt([]byte(strings.Repeat("X", len(old))), int64(i+j)); err != nil {
			t.Fatal(err)
		}
		i += j + len(old)
		n++
	}
	if n == 0 {
		t.Fatalf("%q not found in the file", old)
	}
}

func TestCheckFindsCorruption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.Put(ctx, failover.Record{Server: search.Server{ID: "srv01", State: search.Standby}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Check(ctx); err != nil {
		t.Fatalf("fresh file: %v", err)
	}
	// Overwrite the record's JSON in place while the store is open: the
	// page stays valid, the value does not decode.
	damageInPlace(t, path, `{"ID":"srv01"`)
	if err := st.Check(ctx); !errors.Is(err, boltstore.ErrCorrupt) || !strings.Contains(err.Error(), `"srv01"`) {
		t.Fatalf("Check of a file whose record does not decode: %v, want ErrCorrupt naming srv01", err)
	}
	_ = st.Close()
	if st, err := boltstore.Open(path); !errors.Is(err, boltstore.ErrCorrupt) || !strings.Contains(err.Error(), `"srv01"`) {
		if err == nil {
			_ = st.Close()
		}
		t.Fatalf("Open of that file: %v, want ErrCorrupt naming srv01", err)
	}
}

func BenchmarkFailover(b *testing.B) {
	storetest.BenchmarkFailover(b, func(b *testing.B) failover.Store {
		return openB(b, filepath.Join(b.TempDir(), "state.db"))
	})
}

func BenchmarkReservations(b *testing.B) {
	storetest.BenchmarkReservations(b, func(b *testing.B) failover.Store {
		return openB(b, filepath.Join(b.TempDir(), "state.db"))
	})
}

func openB(b *testing.B, path string) *boltstore.Store {
	st, err := boltstore.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return st
}

// BenchmarkMassFailure is issue 17's mass failure on a bolt file: 1,000
// failures spread over 10 fabrics and 50 switches, every driver call
// taking 5 ms, and 200 of them, joint or concurrent.
func BenchmarkMassFailure(b *testing.B) {
	newStore := func(b *testing.B) failover.Store { return openB(b, filepath.Join(b.TempDir(), "state.db")) }
	for _, s := range []storetest.MassShape{
		{Failures: 1000, Fabrics: 10, Switches: 50, Latency: 5 * time.Millisecond},
		{Failures: 200, Fabrics: 10, Switches: 50, Latency: 5 * time.Millisecond},
		{Failures: 200, Fabrics: 10, Switches: 50, Latency: 5 * time.Millisecond, Concurrent: true},
		{Failures: 10, Fabrics: 10, Switches: 50},
	} {
		b.Run(s.String(), func(b *testing.B) { storetest.BenchmarkMassFailure(b, newStore, s) })
	}
}
