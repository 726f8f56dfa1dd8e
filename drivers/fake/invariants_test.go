package fake

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/storage"
)

func violations(t *testing.T, err error) []Violation {
	t.Helper()
	if err == nil {
		return nil
	}
	var ie *InvariantError
	if !errors.As(err, &ie) {
		t.Fatalf("error %T %v is not an *InvariantError", err, err)
	}
	return ie.Violations
}

func wantViolations(t *testing.T, err error, want ...string) {
	t.Helper()
	vs := violations(t, err)
	for _, w := range want {
		found := false
		for _, v := range vs {
			if strings.HasPrefix(v.String(), w) || strings.Contains(v.String(), w) {
				found = true
			}
		}
		if !found {
			t.Errorf("no violation containing %q in %v", w, err)
		}
	}
	if len(want) == 0 && len(vs) > 0 {
		t.Errorf("unexpected violations: %v", err)
	}
}

// The checkers must catch deliberately broken worlds.
func TestInvariantCheckersCatchBrokenWorlds(t *testing.T) {
	ctx := context.Background()
	a := []storage.Initiator{wwpn(1), wwpn(2)}
	b := []storage.Initiator{wwpn(3), wwpn(4)}
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, w *World)
		want   []string
	}{
		{"healthy failover", func(t *testing.T, w *World) {
			must(t, w.BMC("a").PowerOff(ctx))
			must(t, w.DiskMapper("arr").(storage.InitiatorSwapper).SwapInitiators(ctx, a, b))
		}, nil},
		{"mapped to two servers (I2)", func(t *testing.T, w *World) {
			must(t, w.DiskMapper("arr").Map(ctx, "boot-a", b, 0))
		}, []string{"I2: volume arr/boot-a is masked to a and b", "I2: after map: volume arr/boot-a masked to a and b at once"}},
		{"moved before fencing (I1)", func(t *testing.T, w *World) {
			must(t, w.DiskMapper("arr").Unmap(ctx, "boot-a", a))
			must(t, w.DiskMapper("arr").Map(ctx, "boot-a", b, 0))
		}, []string{"I1: after map: volume arr/boot-a given to b while its previous holder a is on", "I1: server a is on but its volume arr/boot-a moved to b"}},
		{"off when it lost the volume, on before the next holder got it (I1 only at the end)", func(t *testing.T, w *World) {
			// No write of a can be in flight: the live check is quiet;
			// the end state still has a running a whose disk moved.
			must(t, w.BMC("a").PowerOff(ctx))
			must(t, w.DiskMapper("arr").Unmap(ctx, "boot-a", a))
			must(t, w.BMC("a").PowerOn(ctx))
			must(t, w.DiskMapper("arr").Map(ctx, "boot-a", b, 0))
		}, []string{"I1: server a is on but its volume arr/boot-a moved to b"}},
		{"fenced server powered back on (I1)", func(t *testing.T, w *World) {
			must(t, w.BMC("a").PowerOff(ctx))
			must(t, w.DiskMapper("arr").(storage.InitiatorSwapper).SwapInitiators(ctx, a, b))
			must(t, w.BMC("a").PowerOn(ctx))
		}, []string{"I1: server a is on but its volume arr/boot-a moved to b"}},
		{"masked to nobody (I3)", func(t *testing.T, w *World) {
			must(t, w.BMC("a").PowerOff(ctx))
			must(t, w.DiskMapper("arr").Unmap(ctx, "data-a", a))
		}, []string{"I3: volume arr/data-a was masked to a and is masked to nobody"}},
		{"LUN changed (I3)", func(t *testing.T, w *World) {
			must(t, w.BMC("a").PowerOff(ctx))
			must(t, w.DiskMapper("arr").Unmap(ctx, "data-a", a))
			must(t, w.DiskMapper("arr").Map(ctx, "data-a", b, 7))
		}, []string{"I3: volume arr/data-a is seen by b at LUN 7, was LUN [1]"}},
		{"booted from a volume a running server holds (I2)", func(t *testing.T, w *World) {
			must(t, w.DiskMapper("arr").Map(ctx, "boot-a", b, 0))
			must(t, w.BMC("b").PowerOn(ctx))
		}, []string{"I2: server b powered on seeing arr/boot-a, which a (on) holds too"}},
		{"powered on seeing a data volume a running server holds (I2)", func(t *testing.T, w *World) {
			must(t, w.DiskMapper("arr").Map(ctx, "data-a", b, 5))
			must(t, w.BMC("b").PowerOn(ctx))
		}, []string{"I2: server b powered on seeing arr/data-a, which a (on) holds too"}},
		{"the second of two holders powers on (I2)", func(t *testing.T, w *World) {
			must(t, w.BMC("a").PowerOff(ctx))
			must(t, w.DiskMapper("arr").Map(ctx, "data-a", b, 5))
			must(t, w.BMC("b").PowerOn(ctx))
			must(t, w.BMC("a").PowerOn(ctx))
		}, []string{"I2: server a powered on seeing arr/data-a, which b (on) holds too"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := twoServers(t)
			base := w.Snapshot()
			tc.break_(t, w)
			wantViolations(t, w.CheckInvariants(base), tc.want...)
		})
	}
}

func TestInvariantsWithoutBaselineCheckOnlyOneWriter(t *testing.T) {
	w := twoServers(t)
	must(t, w.DiskMapper("arr").Unmap(context.Background(), "data-a", []storage.Initiator{wwpn(1), wwpn(2)}))
	if err := w.CheckNothingLost(nil); err != nil {
		t.Fatal(err)
	}
	if err := w.CheckFenced(nil); err != nil {
		t.Fatal(err)
	}
	if err := w.CheckInvariants(nil); err != nil {
		t.Fatal(err)
	}
	must(t, w.SetPower("b", bmc.PowerOff))
	if err := w.AddHost("arr", "stray", wwpn(9)); err != nil {
		t.Fatal(err)
	}
	must(t, w.DiskMapper("arr").Map(context.Background(), "boot-a", []storage.Initiator{wwpn(9)}, 0))
	wantViolations(t, w.CheckOneWriter(), "I2: volume arr/boot-a is masked to a and host stray")
}

func TestGeneratedWorldsStartSound(t *testing.T) {
	for _, n := range []int{1, 2, 12, 250} {
		w, _, err := Generate(n, int64(n))
		if err != nil {
			t.Fatal(err)
		}
		base := w.Snapshot()
		if err := w.CheckInvariants(base); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
	}
	w, _ := PatentExample()
	if err := w.CheckInvariants(w.Snapshot()); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkCheckInvariants1000(b *testing.B) {
	w, _, err := Generate(1000, 1)
	if err != nil {
		b.Fatal(err)
	}
	base := w.Snapshot()
	b.ReportAllocs()
	for b.Loop() {
		if err := w.CheckInvariants(base); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSnapshot1000(b *testing.B) {
	w, _, err := Generate(1000, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = w.Snapshot()
	}
}

// A holder that was off when it lost a volume cannot have had a write in
// flight: powering it on later does not make the next holder's mapping a
// violation of I1 (only the end state, a running server whose disk moved,
// is one). One that was on when it lost it still is.
func TestI1JudgesAPreviousHolderByItsPowerWhenItLostTheVolume(t *testing.T) {
	ctx := context.Background()
	for _, offFirst := range []bool{true, false} {
		w := twoServers(t)
		base := w.Snapshot()
		a, b := []storage.Initiator{wwpn(1), wwpn(2)}, []storage.Initiator{wwpn(3), wwpn(4)}
		if offFirst {
			must(t, w.BMC("a").PowerOff(ctx))
		}
		must(t, w.DiskMapper("arr").Unmap(ctx, "boot-a", a))
		if offFirst {
			must(t, w.BMC("a").PowerOn(ctx))
		}
		must(t, w.DiskMapper("arr").Map(ctx, "boot-a", b, 0))
		live := false
		for _, v := range violations(t, w.CheckInvariants(base)) {
			if strings.Contains(v.String(), "after map") {
				live = true
			}
		}
		if live == offFirst {
			t.Errorf("off when it lost the volume %v: live I1 violation %v", offFirst, live)
		}
	}
}
