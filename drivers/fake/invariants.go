package fake

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/storage"
)

// Violation is one breach of a safety invariant.
type Violation struct {
	Invariant string // "I1", "I2" or "I3" (DESIGN.md, Safety invariants)
	Detail    string
}

func (v Violation) String() string { return v.Invariant + ": " + v.Detail }

// InvariantError lists every violation found; CheckInvariants and the
// Check functions return it.
type InvariantError struct {
	Violations []Violation
}

func (e *InvariantError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fake: %d invariant violation(s)", len(e.Violations))
	for _, v := range e.Violations {
		b.WriteString("\n\t")
		b.WriteString(v.String())
	}
	return b.String()
}

func (w *World) violate(inv, detail string) {
	w.violations = append(w.violations, Violation{Invariant: inv, Detail: detail})
}

// Violations returns the violations recorded as they happened (a volume
// masked to two holders at once, a volume given to a new holder while the
// previous one was not off, a server booted from a volume a running
// server holds), in the order they happened.
func (w *World) Violations() []Violation {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.violations)
}

type volKey struct {
	array  string
	volume storage.VolumeID
}

// Snapshot is the world's masking and power at one moment, the baseline
// that CheckInvariants compares against. Take it with World.Snapshot.
type Snapshot struct {
	Masks []Mask                    // as Masking("")
	Power map[string]bmc.PowerState // server ID -> power
}

// Snapshot records the current masking and power states.
func (w *World) Snapshot() *Snapshot {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.cfg.now()
	p := make(map[string]bmc.PowerState, len(w.servers))
	for id, s := range w.servers {
		s.settle(w, now)
		p[id] = s.power
	}
	return &Snapshot{Masks: w.maskingLocked(""), Power: p}
}

// holding summarises masks per volume: holder -> LUNs.
func holding(masks []Mask) map[volKey]map[string][]int {
	out := map[volKey]map[string][]int{}
	for _, m := range masks {
		k := volKey{m.Array, m.Volume}
		h := out[k]
		if h == nil {
			h = map[string][]int{}
			out[k] = h
		}
		if !slices.Contains(h[m.Holder], m.LUN) {
			h[m.Holder] = append(h[m.Holder], m.LUN)
		}
	}
	return out
}

// CheckInvariants checks the world now against baseline (nil: only the
// checks that need none) and returns an *InvariantError listing every
// violation, or nil. It runs CheckOneWriter, CheckNothingLost and
// CheckFenced, and adds the violations recorded as they happened
// (Violations). It costs one pass over the masking.
func (w *World) CheckInvariants(baseline *Snapshot) error {
	w.mu.Lock()
	vs := slices.Clone(w.violations)
	w.mu.Unlock()
	for _, check := range []func(*Snapshot) error{
		func(*Snapshot) error { return w.CheckOneWriter() },
		w.CheckNothingLost,
		w.CheckFenced,
	} {
		var ie *InvariantError
		if err := check(baseline); err != nil {
			ie = err.(*InvariantError)
			vs = append(vs, ie.Violations...)
		}
	}
	if len(vs) == 0 {
		return nil
	}
	return &InvariantError{Violations: vs}
}

func result(vs []Violation) error {
	if len(vs) == 0 {
		return nil
	}
	slices.SortFunc(vs, func(a, b Violation) int {
		return cmp.Or(cmp.Compare(a.Invariant, b.Invariant), cmp.Compare(a.Detail, b.Detail))
	})
	return &InvariantError{Violations: vs}
}

// CheckOneWriter checks I2 now: no volume is masked to the initiators of
// more than one holder (server, or host object or initiator no server
// owns).
func (w *World) CheckOneWriter() error {
	var vs []Violation
	for k, h := range holding(w.Masking("")) {
		if len(h) > 1 {
			vs = append(vs, Violation{"I2", fmt.Sprintf("volume %s/%s is masked to %s", k.array, k.volume, strings.Join(slices.Sorted(maps.Keys(h)), " and "))})
		}
	}
	return result(vs)
}

// CheckNothingLost checks I3 against baseline: every volume that was
// masked in baseline is masked to someone now, and at the LUN number(s) it
// had. A nil baseline checks nothing.
func (w *World) CheckNothingLost(baseline *Snapshot) error {
	if baseline == nil {
		return nil
	}
	now := holding(w.Masking(""))
	var vs []Violation
	for k, before := range holding(baseline.Masks) {
		after := now[k]
		if len(after) == 0 {
			vs = append(vs, Violation{"I3", fmt.Sprintf("volume %s/%s was masked to %s and is masked to nobody", k.array, k.volume, strings.Join(slices.Sorted(maps.Keys(before)), " and "))})
			continue
		}
		var was []int
		for _, ls := range before {
			was = append(was, ls...)
		}
		for holder, ls := range after {
			for _, l := range ls {
				if !slices.Contains(was, l) {
					slices.Sort(was)
					vs = append(vs, Violation{"I3", fmt.Sprintf("volume %s/%s is seen by %s at LUN %d, was LUN %v", k.array, k.volume, holder, l, slices.Compact(was))})
				}
			}
		}
	}
	return result(vs)
}

// CheckFenced checks I1 against baseline: a server whose volumes (in
// baseline) are now masked to another holder is off. A server repaired
// and reused since the baseline needs a newer baseline. A nil baseline
// checks nothing.
func (w *World) CheckFenced(baseline *Snapshot) error {
	if baseline == nil {
		return nil
	}
	now := holding(w.Masking(""))
	var vs []Violation
	for k, before := range holding(baseline.Masks) {
		after := now[k]
		for holder := range before {
			if _, still := after[holder]; still || len(after) == 0 {
				continue
			}
			if p := w.Power(holder); p != "" && p != bmc.PowerOff {
				vs = append(vs, Violation{"I1", fmt.Sprintf("server %s is %s but its volume %s/%s moved to %s", holder, p, k.array, k.volume, strings.Join(slices.Sorted(maps.Keys(after)), " and "))})
			}
		}
	}
	return result(vs)
}
