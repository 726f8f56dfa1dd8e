package tgttest

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/drivers/tgt"
	"github.com/coldstandby/coldstandby/storage"
	"github.com/coldstandby/coldstandby/storage/storagetest"
)

// Harness adapts a Daemon to storagetest.Harness: each volume is a new
// target with one data LUN, each host a fresh iSCSI initiator name, and
// Masking reads tgtadm's ACLs with a parser of its own (not the driver's).
//
// tgt fixes a volume's LUN number when the LUN is created and reserves
// LUN 0 for its controller, so the harness implements
// storagetest.FixedLUNs: VolumesAt creates each volume at the LUN the
// suite will map it at.
type Harness struct {
	D *Daemon
	t testing.TB

	// wrapper is a tgtadm wrapper script the Mapper runs, so that the
	// harness can make the next request fail or stall.
	wrapper, flags string

	mu      sync.Mutex
	targets []string
}

var (
	_ storagetest.TransientFailer = (*Harness)(nil)
	_ storagetest.Staller         = (*Harness)(nil)
	_ storagetest.Harness         = (*Harness)(nil)
	_ storagetest.FixedLUNs       = (*Harness)(nil)
	_ storagetest.UnknownVolumer  = (*Harness)(nil)
)

// NewHarness starts a Daemon for t and returns a harness on it.
func NewHarness(t testing.TB) *Harness {
	t.Helper()
	d := Start(t)
	if d == nil {
		return nil
	}
	return NewHarnessOn(t, d)
}

// NewHarnessOn returns a harness on a running daemon d, which several
// harnesses may share (storagetest builds one per subtest; starting a
// tgtd for each would be slow). The targets the harness creates are
// deleted by t's cleanup; targets of other harnesses are never touched,
// and every harness uses its own random initiator names.
func NewHarnessOn(t testing.TB, d *Daemon) *Harness {
	t.Helper()
	h := &Harness{D: d, t: t, flags: t.TempDir()}
	t.Cleanup(func() {
		h.mu.Lock()
		names := slices.Clone(h.targets)
		h.mu.Unlock()
		for _, n := range names {
			d.DeleteTarget(t, n)
		}
	})
	h.wrapper = filepath.Join(h.flags, "tgtadm")
	script := fmt.Sprintf(`#!/bin/sh
# tgtadm wrapper of tgttest.Harness: fail or stall the next request.
if mv %[1]q/fail %[1]q/fail.$$ 2>/dev/null; then
  echo "tgtadm: failed to send request hdr to tgt daemon, Transport endpoint is not connected" >&2
  exit 107
fi
if [ -e %[1]q/failafter ]; then
  n=$(cat %[1]q/failafter)
  if [ "$n" -le 0 ]; then
    rm -f %[1]q/failafter
    echo "tgtadm: failed to send request hdr to tgt daemon, Transport endpoint is not connected" >&2
    exit 107
  fi
  echo $((n - 1)) > %[1]q/failafter
fi
if mv %[1]q/stall %[1]q/stall.$$ 2>/dev/null; then
  sleep "$(cat %[1]q/stall.$$)"
fi
exec %[2]q "$@"
`, h.flags, d.tgtadm)
	if err := os.WriteFile(h.wrapper, []byte(script), 0o755); err != nil {
		t.Fatalf("tgttest: %v", err)
	}
	return h
}

// MakeMapper returns a tgt.Mapper for the daemon; it runs tgtadm through
// the harness's wrapper.
func (h *Harness) MakeMapper(context.Context) (storage.DiskMapper, error) {
	return tgt.New(tgt.WithControlPort(h.D.Control), tgt.WithTgtadm(h.wrapper))
}

// FailNext makes the Mapper's next tgtadm run fail as when tgtd does not
// answer (exit 107, "Transport endpoint is not connected"), before it
// reaches tgtd.
func (h *Harness) FailNext(context.Context) error {
	return os.WriteFile(filepath.Join(h.flags, "fail"), nil, 0o644)
}

// FailAfter lets the Mapper's next n tgtadm runs through and makes the
// one after them fail as FailNext does. Not for concurrent callers.
func (h *Harness) FailAfter(n int) error {
	return os.WriteFile(filepath.Join(h.flags, "failafter"), []byte(strconv.Itoa(n)), 0o644)
}

// StallNext makes the Mapper's next tgtadm run wait d before it talks to
// tgtd.
func (h *Harness) StallNext(_ context.Context, d time.Duration) error {
	return os.WriteFile(filepath.Join(h.flags, "stall"), []byte(strconv.FormatFloat(d.Seconds(), 'f', 3, 64)), 0o644)
}

// Volumes creates n targets with one 1 MiB data LUN each, at LUNs 1..n.
func (h *Harness) Volumes(ctx context.Context, n int) ([]storage.VolumeID, error) {
	luns := make([]int, n)
	for i := range luns {
		luns[i] = i + 1
	}
	return h.VolumesAt(ctx, luns)
}

// VolumesAt creates one target per element of luns, with one 1 MiB data
// LUN at that number.
func (h *Harness) VolumesAt(_ context.Context, luns []int) ([]storage.VolumeID, error) {
	out := make([]storage.VolumeID, len(luns))
	for i, l := range luns {
		if l < 1 || l > 255 {
			return nil, fmt.Errorf("tgttest: LUN %d out of 1..255 (LUN 0 is tgt's controller)", l)
		}
		name := fmt.Sprintf("iqn.2026-01.org.coldstandby.conformance:vol-%016x", rand.Uint64())
		h.mu.Lock()
		h.targets = append(h.targets, name)
		h.mu.Unlock()
		out[i] = h.D.AddVolume(h.t, name, l, 1<<20)
	}
	return out, nil
}

// Hosts returns n hosts of one fresh iSCSI initiator each (tgt has no
// host objects).
func (h *Harness) Hosts(_ context.Context, n int) ([][]storage.Initiator, error) {
	ins := storagetest.Initiators(storage.ISCSI, n)
	out := make([][]storage.Initiator, n)
	for i := range out {
		out[i] = ins[i : i+1]
	}
	return out, nil
}

// Masking returns what the initiators can see according to tgtd: every
// non-controller LUN of every target whose ACL names one of them.
func (h *Harness) Masking(ctx context.Context, ins []storage.Initiator) ([]storage.Mapping, error) {
	out, err := h.D.run(ctx, "--lld", "iscsi", "--mode", "target", "--op", "show")
	if err != nil {
		return nil, err
	}
	return visible(out, ins), nil
}

// UnknownVolume returns a well-formed volume no target has.
func (h *Harness) UnknownVolume(context.Context) (storage.VolumeID, error) {
	return "iqn.2026-01.org.coldstandby.conformance:no-such-target/1", nil
}

// visible is deliberately independent of the driver's parser: it reads
// "Target N: name", "LUN: n" followed by "Type:", and the ACL entries.
func visible(show string, ins []storage.Initiator) []storage.Mapping {
	want := map[string]bool{}
	for _, in := range ins {
		want[strings.ToLower(in.String())] = true
	}
	type tg struct {
		name string
		luns []int
		seen bool
	}
	var ts []*tg
	var cur *tg
	section, lastLUN := "", -1
	sc := bufio.NewScanner(strings.NewReader(show))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "Target "):
			_, name, _ := strings.Cut(line, ": ")
			cur = &tg{name: strings.TrimSpace(name)}
			ts = append(ts, cur)
			section = ""
		case cur == nil:
		case strings.HasSuffix(line, "information:"):
			section = line
		case section == "LUN information:" && strings.HasPrefix(line, "LUN:"):
			lastLUN, _ = strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "LUN:")))
		case section == "LUN information:" && strings.HasPrefix(line, "Type:"):
			if strings.TrimSpace(strings.TrimPrefix(line, "Type:")) != "controller" {
				cur.luns = append(cur.luns, lastLUN)
			}
		case section == "ACL information:" && want[strings.ToLower(line)]:
			cur.seen = true
		}
	}
	var out []storage.Mapping
	for _, t := range ts {
		if t.seen {
			for _, l := range t.luns {
				out = append(out, storage.Mapping{Volume: tgt.Volume(t.name, l), LUN: l})
			}
		}
	}
	slices.SortFunc(out, func(a, b storage.Mapping) int {
		if a.LUN != b.LUN {
			return a.LUN - b.LUN
		}
		return strings.Compare(string(a.Volume), string(b.Volume))
	})
	return out
}
