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
	Invariant string           // "I1", "I2" or "I3" (DESIGN.md, Safety invariants)
	Array     string           // the disk array of the volume concerned
	Volume    storage.VolumeID // the volume concerned
	Detail    string           // a sentence naming the servers, volume and LUNs
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

func (w *World) violate(inv, array string, vol storage.VolumeID, detail string) {
	w.violations = append(w.violations, Violation{Invariant: inv, Array: array, Volume: vol, Detail: detail})
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

	hold holdings
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
	return &Snapshot{Masks: w.maskingLocked(""), Power: p, hold: w.holdingLocked()}
}

// holdings summarises masking per volume: holder -> LUNs.
type holdings map[volKey]map[string][]int

func (w *World) holdingLocked() holdings {
	out := holdings{}
	for name, a := range w.arrays {
		for v, ins := range a.byVol {
			h := make(map[string][]int, 1)
			for in, l := range ins {
				o := w.ownerOf(a, in)
				if !slices.Contains(h[o], l) {
					h[o] = append(h[o], l)
				}
			}
			out[volKey{name, v}] = h
		}
	}
	return out
}

// baseHolding returns the baseline's holdings (recomputed from Masks for
// a Snapshot built by hand).
func (b *Snapshot) baseHolding() holdings {
	if b.hold != nil {
		return b.hold
	}
	out := holdings{}
	for _, m := range b.Masks {
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
// violation, or nil: the violations recorded as they happened
// (Violations), then those of CheckOneWriter, CheckNothingLost and
// CheckFenced, sorted. It costs one pass over the masking.
func (w *World) CheckInvariants(baseline *Snapshot) error {
	w.mu.Lock()
	vs := slices.Clone(w.violations)
	now := w.holdingLocked()
	var checked []Violation
	checked = append(checked, oneWriter(now)...)
	if baseline != nil {
		base := baseline.baseHolding()
		checked = append(checked, nothingLost(base, now)...)
		checked = append(checked, w.fencedLocked(base, now)...)
	}
	w.mu.Unlock()
	if err := result(checked); err != nil {
		vs = append(vs, err.(*InvariantError).Violations...)
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
	w.mu.Lock()
	defer w.mu.Unlock()
	return result(oneWriter(w.holdingLocked()))
}

func oneWriter(now holdings) []Violation {
	var vs []Violation
	for k, h := range now {
		if len(h) > 1 {
			vs = append(vs, Violation{Invariant: "I2", Array: k.array, Volume: k.volume,
				Detail: fmt.Sprintf("volume %s/%s is masked to %s", k.array, k.volume, strings.Join(slices.Sorted(maps.Keys(h)), " and "))})
		}
	}
	return vs
}

// CheckNothingLost checks I3 against baseline: every volume that was
// masked in baseline is masked to someone now, and at the LUN number(s) it
// had. A nil baseline checks nothing.
func (w *World) CheckNothingLost(baseline *Snapshot) error {
	if baseline == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return result(nothingLost(baseline.baseHolding(), w.holdingLocked()))
}

func nothingLost(base, now holdings) []Violation {
	var vs []Violation
	for k, before := range base {
		after := now[k]
		if len(after) == 0 {
			vs = append(vs, Violation{Invariant: "I3", Array: k.array, Volume: k.volume,
				Detail: fmt.Sprintf("volume %s/%s was masked to %s and is masked to nobody", k.array, k.volume, strings.Join(slices.Sorted(maps.Keys(before)), " and "))})
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
					vs = append(vs, Violation{Invariant: "I3", Array: k.array, Volume: k.volume,
						Detail: fmt.Sprintf("volume %s/%s is seen by %s at LUN %d, was LUN %v", k.array, k.volume, holder, l, slices.Compact(was))})
				}
			}
		}
	}
	return vs
}

// CheckFenced checks I1 against baseline: a server whose volumes (in
// baseline) are now masked to another holder is off. A server repaired
// and reused since the baseline needs a newer baseline. A nil baseline
// checks nothing.
func (w *World) CheckFenced(baseline *Snapshot) error {
	if baseline == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return result(w.fencedLocked(baseline.baseHolding(), w.holdingLocked()))
}

func (w *World) fencedLocked(base, now holdings) []Violation {
	var vs []Violation
	t := w.cfg.now()
	for k, before := range base {
		after := now[k]
		for holder := range before {
			if _, still := after[holder]; still || len(after) == 0 {
				continue
			}
			s := w.servers[holder]
			if s == nil {
				continue
			}
			s.settle(w, t)
			if s.power != bmc.PowerOff {
				vs = append(vs, Violation{Invariant: "I1", Array: k.array, Volume: k.volume,
					Detail: fmt.Sprintf("server %s is %s but its volume %s/%s moved to %s", holder, s.power, k.array, k.volume, strings.Join(slices.Sorted(maps.Keys(after)), " and "))})
			}
		}
	}
	return vs
}
