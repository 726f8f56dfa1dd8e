package tgt_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/drivers/tgt"
	"github.com/coldstandby/coldstandby/drivers/tgt/tgttest"
	"github.com/coldstandby/coldstandby/internal/testpeer"
	"github.com/coldstandby/coldstandby/storage"
)

var (
	hostA = storage.MustParseInitiator("iqn.2026-11.org.example:host-a")
	hostB = storage.MustParseInitiator("iqn.2026-11.org.example:host-b")
	hostC = storage.MustParseInitiator("iqn.2026-11.org.example:host-c")
)

const mib = 1 << 20

func newMapper(t *testing.T, d *tgttest.Daemon) *tgt.Mapper {
	t.Helper()
	m, err := tgt.New(tgt.WithControlPort(d.Control))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustMappings(t *testing.T, m *tgt.Mapper, ins ...storage.Initiator) []storage.Mapping {
	t.Helper()
	got, err := m.Mappings(context.Background(), ins)
	if err != nil {
		t.Fatalf("Mappings(%v): %v", ins, err)
	}
	return got
}

func eqMappings(a, b []storage.Mapping) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestMapper runs the driver's behaviour against one real tgtd; subtests
// use their own targets and initiators so they do not disturb each other.
func TestMapper(t *testing.T) {
	d := tgttest.Start(t)
	m := newMapper(t, d)
	ctx := context.Background()

	boot := d.AddVolume(t, "iqn.2026-11.org.example:boot-a", 1, 8*mib)
	data := d.AddVolume(t, "iqn.2026-11.org.example:data-a", 2, 4*mib)
	other := d.AddVolume(t, "iqn.2026-11.org.example:other", 1, 4*mib)

	t.Run("unknown initiators see nothing", func(t *testing.T) {
		if got := mustMappings(t, m, hostA, storage.MustParseInitiator("21:00:00:24:ff:4c:9d:2e")); len(got) != 0 {
			t.Fatalf("got %v, want none", got)
		}
	})

	t.Run("map, idempotent map, mappings sorted", func(t *testing.T) {
		if err := m.Map(ctx, data, []storage.Initiator{hostA}, 2); err != nil {
			t.Fatal(err)
		}
		if err := m.Map(ctx, boot, []storage.Initiator{hostA}, 1); err != nil {
			t.Fatal(err)
		}
		if err := m.Map(ctx, boot, []storage.Initiator{hostA}, 1); err != nil {
			t.Fatalf("second identical Map: %v", err)
		}
		want := []storage.Mapping{{Volume: boot, LUN: 1}, {Volume: data, LUN: 2}}
		if got := mustMappings(t, m, hostA); !eqMappings(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		if got := mustMappings(t, m, hostB); len(got) != 0 {
			t.Fatalf("host B sees %v", got)
		}
		// One ACL entry per initiator, even after two Maps.
		out := d.Tgtadm(t, "--lld", "iscsi", "--mode", "target", "--op", "show")
		if n := strings.Count(out, hostA.String()); n != 2 {
			t.Fatalf("host A appears %d times in the ACLs, want 2 (one per target):\n%s", n, out)
		}
	})

	t.Run("wrong LUN is a conflict", func(t *testing.T) {
		err := m.Map(ctx, boot, []storage.Initiator{hostB}, 5)
		if !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("got %v, want ErrConflict", err)
		}
		if got := mustMappings(t, m, hostB); len(got) != 0 {
			t.Fatalf("failed Map changed state: %v", got)
		}
	})

	t.Run("LUN number already used by another volume is a conflict", func(t *testing.T) {
		err := m.Map(ctx, other, []storage.Initiator{hostB, hostA}, 1)
		if !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("got %v, want ErrConflict", err)
		}
		if got := mustMappings(t, m, hostB); len(got) != 0 {
			t.Fatalf("failed Map changed state for host B: %v", got)
		}
	})

	t.Run("target open by address is refused", func(t *testing.T) {
		open := d.AddVolume(t, "iqn.2026-11.org.example:open", 3, mib)
		d.Tgtadm(t, "--lld", "iscsi", "--mode", "target", "--op", "bind",
			"--tid", fmt.Sprint(d.TID("iqn.2026-11.org.example:open")), "--initiator-address", "ALL")
		err := m.Map(ctx, open, []storage.Initiator{hostC}, 3)
		if !errors.Is(err, storage.ErrConflict) || !strings.Contains(err.Error(), "ALL") {
			t.Fatalf("got %v, want ErrConflict naming ALL", err)
		}
	})

	t.Run("unmap, idempotent unmap", func(t *testing.T) {
		if err := m.Unmap(ctx, data, []storage.Initiator{hostA, hostB}); err != nil {
			t.Fatal(err)
		}
		if err := m.Unmap(ctx, data, []storage.Initiator{hostA}); err != nil {
			t.Fatalf("second Unmap: %v", err)
		}
		want := []storage.Mapping{{Volume: boot, LUN: 1}}
		if got := mustMappings(t, m, hostA); !eqMappings(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})

	t.Run("not found", func(t *testing.T) {
		for _, v := range []storage.VolumeID{
			"iqn.2026-11.org.example:nope/1",   // no such target
			"iqn.2026-11.org.example:boot-a/7", // no such LUN
			"iqn.2026-11.org.example:boot-a/0", // the controller LUN is no volume
			"no-slash", "/1", "iqn.2026-11.org.example:boot-a/x",
		} {
			if err := m.Map(ctx, v, []storage.Initiator{hostC}, 1); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Map(%q): got %v, want ErrNotFound", v, err)
			}
			if err := m.Unmap(ctx, v, []storage.Initiator{hostC}); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Unmap(%q): got %v, want ErrNotFound", v, err)
			}
		}
	})

	t.Run("invalid arguments", func(t *testing.T) {
		fc := storage.MustParseInitiator("21:00:00:24:ff:4c:9d:2e")
		cases := map[string]error{
			"lun -1":       m.Map(ctx, boot, []storage.Initiator{hostC}, -1),
			"lun 16384":    m.Map(ctx, boot, []storage.Initiator{hostC}, 16384),
			"no init":      m.Map(ctx, boot, nil, 1),
			"zero init":    m.Map(ctx, boot, []storage.Initiator{{}}, 1),
			"fc init":      m.Map(ctx, boot, []storage.Initiator{fc}, 1),
			"unmap none":   m.Unmap(ctx, boot, nil),
			"unmap zero":   m.Unmap(ctx, boot, []storage.Initiator{hostC, {}}),
			"mappings nil": func() error { _, err := m.Mappings(ctx, nil); return err }(),
			"mappings zero": func() error {
				_, err := m.Mappings(ctx, []storage.Initiator{{}})
				return err
			}(),
		}
		for name, err := range cases {
			if !errors.Is(err, storage.ErrInvalid) {
				t.Errorf("%s: got %v, want ErrInvalid", name, err)
			}
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := m.Map(cctx, boot, []storage.Initiator{hostC}, 1); !errors.Is(err, context.Canceled) {
			t.Errorf("Map: got %v", err)
		}
		if _, err := m.Mappings(cctx, []storage.Initiator{hostC}); !errors.Is(err, context.Canceled) {
			t.Errorf("Mappings: got %v", err)
		}
		if got := mustMappings(t, m, hostC); len(got) != 0 {
			t.Errorf("cancelled Map changed state: %v", got)
		}
	})

	t.Run("concurrent maps of distinct initiators", func(t *testing.T) {
		vol := d.AddVolume(t, "iqn.2026-11.org.example:shared", 9, mib)
		var ins []storage.Initiator
		for i := range 8 {
			ins = append(ins, storage.MustParseInitiator(fmt.Sprintf("iqn.2026-11.org.example:c%d", i)))
		}
		var wg sync.WaitGroup
		errs := make([]error, len(ins))
		for i, in := range ins {
			wg.Go(func() { errs[i] = m.Map(ctx, vol, []storage.Initiator{in}, 9) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Map %d: %v", i, err)
			}
		}
		want := []storage.Mapping{{Volume: vol, LUN: 9}}
		for _, in := range ins {
			if got := mustMappings(t, m, in); !eqMappings(got, want) {
				t.Errorf("%s sees %v, want %v", in, got, want)
			}
		}
	})
}

func TestMissingTgtadm(t *testing.T) {
	for _, prog := range []string{"/nonexistent/tgtadm", "no-such-tgtadm-program"} {
		_, err := tgt.New(tgt.WithTgtadm(prog))
		if err == nil || !strings.Contains(err.Error(), "not found (install Debian package tgt)") {
			t.Errorf("New(WithTgtadm(%q)): got %v, want a clear not-found error", prog, err)
		}
	}
}

func TestTgtdNotRunning(t *testing.T) {
	d := tgttest.Start(t)
	m := newMapper(t, d)
	d.Stop(t)
	_, err := m.Mappings(context.Background(), []storage.Initiator{hostA})
	if !errors.Is(err, storage.ErrTransient) || !strings.Contains(err.Error(), "tgtd is not running") {
		t.Fatalf("got %v, want ErrTransient saying tgtd is not running", err)
	}
	err = m.Map(context.Background(), "iqn.2026-11.org.example:x/1", []storage.Initiator{hostA}, 1)
	if !errors.Is(err, storage.ErrTransient) {
		t.Fatalf("Map: got %v, want ErrTransient", err)
	}
}

// TestFailoverWithRealInitiator proves the masking with libiscsi's
// initiator tools: the failed server's initiator sees its boot LUN and the
// spare's does not; after the driver moves the masking (unmap failed, map
// spare, same LUN) the spare reads the same LUN (same size, same LUN
// number) and the failed initiator is refused at login, and its live
// session was closed.
func TestFailoverWithRealInitiator(t *testing.T) {
	d := tgttest.Start(t)
	tools := testpeerTools(t)
	m := newMapper(t, d)
	ctx := context.Background()

	const bootTarget = "iqn.2026-11.org.example:boot-r1-01"
	failed := storage.MustParseInitiator("iqn.2026-11.org.example:r1-01")
	spare := storage.MustParseInitiator("iqn.2026-11.org.example:r9-spare")
	boot := d.AddVolume(t, bootTarget, 1, 64*mib)
	d.AddVolume(t, "iqn.2026-11.org.example:someone-else", 1, 4*mib) // seen by nobody here

	if err := m.Map(ctx, boot, []storage.Initiator{failed}, 1); err != nil {
		t.Fatal(err)
	}
	ls := func(in storage.Initiator) string {
		out, err := exec.Command(tools.ls, "-i", in.String(), "-s", "iscsi://"+d.Portal()).CombinedOutput()
		if err != nil {
			t.Fatalf("iscsi-ls as %s: %v\n%s", in, err, out)
		}
		return string(out)
	}
	before := ls(failed)
	if !strings.Contains(before, "Target:"+bootTarget) || !strings.Contains(before, "Lun:1") {
		t.Fatalf("failed initiator does not see its boot LUN:\n%s", before)
	}
	if strings.Contains(before, "someone-else") {
		t.Fatalf("failed initiator sees an unmapped target:\n%s", before)
	}
	if out := ls(spare); strings.Contains(out, "Target:") {
		t.Fatalf("spare sees targets before the failover:\n%s", out)
	}
	sizeBefore := readCapacity(t, tools, failed, d.URL(bootTarget, 1))

	// A live session of the failed server (it would be fenced in a real
	// failover; here it keeps doing I/O so that Unmap must close it).
	perfCtx, stopPerf := context.WithCancel(ctx)
	defer stopPerf()
	perf := exec.CommandContext(perfCtx, tools.perf, "-i", failed.String(), d.URL(bootTarget, 1))
	if err := perf.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stopPerf(); _ = perf.Wait() }()
	waitFor(t, "failed initiator's session", func() bool {
		return strings.Contains(d.Tgtadm(t, "--lld", "iscsi", "--mode", "conn", "--op", "show",
			"--tid", fmt.Sprint(d.TID(bootTarget))), failed.String())
	})

	start := time.Now()
	if err := m.Unmap(ctx, boot, []storage.Initiator{failed}); err != nil {
		t.Fatal(err)
	}
	if err := m.Map(ctx, boot, []storage.Initiator{spare}, 1); err != nil {
		t.Fatal(err)
	}
	t.Logf("remap (unmap + map) took %v", time.Since(start))

	if got, want := mustMappings(t, m, spare), []storage.Mapping{{Volume: boot, LUN: 1}}; !eqMappings(got, want) {
		t.Fatalf("spare mappings %v, want %v", got, want)
	}
	if got := mustMappings(t, m, failed); len(got) != 0 {
		t.Fatalf("failed initiator still mapped: %v", got)
	}
	after := ls(spare)
	if !strings.Contains(after, "Target:"+bootTarget) || !strings.Contains(after, "Lun:1") {
		t.Fatalf("spare does not see the boot LUN after the failover:\n%s", after)
	}
	if sizeAfter := readCapacity(t, tools, spare, d.URL(bootTarget, 1)); sizeAfter != sizeBefore {
		t.Fatalf("spare reads size %s, failed server read %s", sizeAfter, sizeBefore)
	}
	inq, err := exec.Command(tools.inq, "-i", spare.String(), d.URL(bootTarget, 1)).CombinedOutput()
	if err != nil || !strings.Contains(string(inq), "DIRECT_ACCESS") {
		t.Fatalf("iscsi-inq as spare: %v\n%s", err, inq)
	}
	if out := ls(failed); strings.Contains(out, bootTarget) {
		t.Fatalf("failed initiator still lists the boot target:\n%s", out)
	}
	out, err := exec.Command(tools.inq, "-i", failed.String(), d.URL(bootTarget, 1)).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Login Failed") {
		t.Fatalf("failed initiator was not refused: %v\n%s", err, out)
	}
	// The failed initiator's session was closed by Unmap, and it could not
	// log in again.
	waitFor(t, "failed initiator's session to end", func() bool {
		return !strings.Contains(d.Tgtadm(t, "--lld", "iscsi", "--mode", "conn", "--op", "show",
			"--tid", fmt.Sprint(d.TID(bootTarget))), failed.String())
	})
}

type iscsiTools struct{ ls, inq, cap16, perf string }

func testpeerTools(t *testing.T) iscsiTools {
	t.Helper()
	p := testpeer.LookPath(t, "libiscsi-bin", "iscsi-ls", "iscsi-inq", "iscsi-readcapacity16", "iscsi-perf")
	return iscsiTools{ls: p[0], inq: p[1], cap16: p[2], perf: p[3]}
}

func readCapacity(t *testing.T, tools iscsiTools, in storage.Initiator, url string) string {
	t.Helper()
	out, err := exec.Command(tools.cap16, "-i", in.String(), url).CombinedOutput()
	if err != nil {
		t.Fatalf("iscsi-readcapacity16 as %s: %v\n%s", in, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "Total size:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Total size in:\n%s", out)
	return ""
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMapUndoesPartialBinds: Map binds initiators one by one; when a bind
// fails, the binds already made are undone, so that nothing changed.
func TestMapUndoesPartialBinds(t *testing.T) {
	h := tgttest.NewHarness(t)
	ctx := context.Background()
	vols, err := h.VolumesAt(ctx, []int{3})
	if err != nil {
		t.Fatal(err)
	}
	m, err := h.MakeMapper(ctx)
	if err != nil {
		t.Fatal(err)
	}
	two := []storage.Initiator{hostA, hostB}
	// Runs: show, bind host A, then bind host B fails.
	if err := h.FailAfter(2); err != nil {
		t.Fatal(err)
	}
	err = m.Map(ctx, vols[0], two, 3)
	if !errors.Is(err, storage.ErrTransient) {
		t.Fatalf("got %v, want ErrTransient", err)
	}
	if got, err := h.Masking(ctx, two); err != nil || len(got) != 0 {
		t.Fatalf("after a failed Map the array shows %v (%v), want nothing", got, err)
	}
	if err := m.Map(ctx, vols[0], two, 3); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got, _ := h.Masking(ctx, two[1:]); len(got) != 1 || got[0].LUN != 3 {
		t.Fatalf("after the retry host B sees %v", got)
	}
}
