package fake

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/internal/errs"
	"github.com/coldstandby/coldstandby/storage"
)

const maxLUN = 16383

// array is one disk array: volumes, per-initiator LUN tables (the masking,
// as an array's ACLs hold it) and host objects (for initiator swaps).
type array struct {
	name    string
	volumes map[storage.VolumeID]int64
	masks   map[storage.Initiator]map[int]storage.VolumeID
	hosts   map[string][]storage.Initiator
	hostOf  map[storage.Initiator]string
	// byVol indexes masks by volume: volume -> initiator -> LUN.
	byVol map[storage.VolumeID]map[storage.Initiator]int
	// prev remembers, per volume, who held it when it was last held, to
	// check at each new holder that the previous one was fenced (I1).
	prev map[storage.VolumeID][]string
	// offAtLoss: per volume, the previous holders that were off when
	// they lost it (they cannot have had a write in flight, whatever
	// their power later).
	offAtLoss map[storage.VolumeID]map[string]bool
}

func newArray(name string) *array {
	return &array{
		name:      name,
		volumes:   map[storage.VolumeID]int64{},
		masks:     map[storage.Initiator]map[int]storage.VolumeID{},
		hosts:     map[string][]storage.Initiator{},
		hostOf:    map[storage.Initiator]string{},
		byVol:     map[storage.VolumeID]map[storage.Initiator]int{},
		prev:      map[storage.VolumeID][]string{},
		offAtLoss: map[storage.VolumeID]map[string]bool{},
	}
}

func (a *array) mask(in storage.Initiator, lun int, v storage.VolumeID) {
	t := a.masks[in]
	if t == nil {
		t = map[int]storage.VolumeID{}
		a.masks[in] = t
	}
	t[lun] = v
	bv := a.byVol[v]
	if bv == nil {
		bv = map[storage.Initiator]int{}
		a.byVol[v] = bv
	}
	bv[in] = lun
}

// unmask hides the volume at lun from in.
func (a *array) unmask(in storage.Initiator, lun int) {
	v, ok := a.masks[in][lun]
	if !ok {
		return
	}
	delete(a.masks[in], lun)
	if len(a.masks[in]) == 0 {
		delete(a.masks, in)
	}
	delete(a.byVol[v], in)
	if len(a.byVol[v]) == 0 {
		delete(a.byVol, v)
	}
}

// lunOf returns the LUN at which in sees v, or -1.
func (a *array) lunOf(in storage.Initiator, v storage.VolumeID) int {
	if l, ok := a.byVol[v][in]; ok {
		return l
	}
	return -1
}

// holders returns the initiators that see v, sorted.
func (a *array) holders(v storage.VolumeID) []storage.Initiator {
	out := slices.Collect(maps.Keys(a.byVol[v]))
	slices.SortFunc(out, compareInitiators)
	return out
}

func (a *array) setHost(name string, ins []storage.Initiator) {
	for _, old := range a.hosts[name] {
		delete(a.hostOf, old)
	}
	for _, in := range ins {
		if h, ok := a.hostOf[in]; ok && h != name {
			a.hosts[h] = slices.DeleteFunc(a.hosts[h], func(x storage.Initiator) bool { return x == in })
			if len(a.hosts[h]) == 0 {
				delete(a.hosts, h)
			}
		}
		a.hostOf[in] = name
	}
	a.hosts[name] = sortedInitiators(ins)
}

func compareInitiators(x, y storage.Initiator) int {
	return cmp.Or(cmp.Compare(x.Kind(), y.Kind()), cmp.Compare(x.String(), y.String()))
}

func sortedInitiators(ins []storage.Initiator) []storage.Initiator {
	out := slices.Clone(ins)
	slices.SortFunc(out, compareInitiators)
	return slices.Compact(out)
}

// DiskMapper is the fake LUN masking of one disk array of a World. Masking
// is kept per initiator, as array ACLs keep it; host objects (one per
// server, plus AddHost) serve SwapInitiators. Map and Unmap accept any
// well-formed initiator, known to the world or not.
type DiskMapper struct {
	w     *World
	array string
}

var (
	_ storage.DiskMapper       = (*DiskMapper)(nil)
	_ storage.InitiatorSwapper = (*DiskMapper)(nil)
)

func checkInitiators(op string, ins []storage.Initiator) error {
	if len(ins) == 0 {
		return errorf(errs.Invalid, "%s: no initiators", op)
	}
	for _, in := range ins {
		if in.IsZero() {
			return errorf(errs.Invalid, "%s: zero initiator", op)
		}
	}
	return nil
}

func initiatorNames(ins []storage.Initiator) string {
	s := make([]string, len(ins))
	for i, in := range ins {
		s[i] = in.String()
	}
	return strings.Join(s, ",")
}

// keys lists the names a storage call matches a Fault's Target against.
func (m *DiskMapper) keys(vol storage.VolumeID, inits ...[]storage.Initiator) []string {
	k := []string{m.array}
	if vol != "" {
		k = append(k, string(vol))
	}
	m.w.mu.Lock()
	defer m.w.mu.Unlock()
	for _, ins := range inits {
		for _, in := range ins {
			k = append(k, in.String())
			if id, ok := m.w.owner[in]; ok {
				k = append(k, id)
			}
			if a := m.w.arrays[m.array]; a != nil {
				if h, ok := a.hostOf[in]; ok {
					k = append(k, h)
				}
			}
		}
	}
	return k
}

func (m *DiskMapper) arrayLocked() (*array, error) {
	a := m.w.arrays[m.array]
	if a == nil {
		return nil, errorf(errs.NotFound, "storage %s: no such disk array", m.array)
	}
	return a, nil
}

// Mappings implements storage.DiskMapper.
func (m *DiskMapper) Mappings(ctx context.Context, initiators []storage.Initiator) ([]storage.Mapping, error) {
	c, err := m.w.start(ctx, DriverStorage, "Mappings", m.array, initiatorNames(initiators), m.keys("", initiators)...)
	if err != nil {
		return nil, err
	}
	if err := checkInitiators("storage "+m.array+": mappings", initiators); err != nil {
		return nil, c.finish(err)
	}
	m.w.mu.Lock()
	a, err := m.arrayLocked()
	var out []storage.Mapping
	if err == nil {
		set := map[storage.Mapping]bool{}
		for _, in := range initiators {
			for l, v := range a.masks[in] {
				set[storage.Mapping{Volume: v, LUN: l}] = true
			}
		}
		out = slices.Collect(maps.Keys(set))
		slices.SortFunc(out, func(x, y storage.Mapping) int {
			return cmp.Or(cmp.Compare(x.LUN, y.LUN), cmp.Compare(x.Volume, y.Volume))
		})
	}
	m.w.mu.Unlock()
	if err := c.finish(err); err != nil {
		return nil, err
	}
	return out, nil
}

// Map implements storage.DiskMapper.
func (m *DiskMapper) Map(ctx context.Context, volume storage.VolumeID, initiators []storage.Initiator, lun int) error {
	args := fmt.Sprintf("lun %d -> %s", lun, initiatorNames(initiators))
	c, err := m.w.start(ctx, DriverStorage, "Map", string(volume), args, m.keys(volume, initiators)...)
	if err != nil {
		return err
	}
	op := fmt.Sprintf("storage %s: map %s to %s at LUN %d", m.array, volume, initiatorNames(initiators), lun)
	if err := checkInitiators(op, initiators); err != nil {
		return c.finish(err)
	}
	if lun < 0 || lun > maxLUN {
		return c.finish(errorf(errs.Invalid, "%s: LUN out of range 0..%d", op, maxLUN))
	}
	m.w.mu.Lock()
	err = c.effectLocked(func() error { return m.mapLocked(op, volume, initiators, lun) })
	m.w.mu.Unlock()
	return c.finish(err)
}

func (m *DiskMapper) mapLocked(op string, volume storage.VolumeID, initiators []storage.Initiator, lun int) error {
	a, err := m.arrayLocked()
	if err != nil {
		return err
	}
	if _, ok := a.volumes[volume]; !ok {
		return errorf(errs.NotFound, "%s: no such volume", op)
	}
	for _, in := range initiators {
		if v, ok := a.masks[in][lun]; ok && v != volume {
			return errorf(errs.Conflict, "%s: %s sees %s at that LUN", op, in, v)
		}
		if l := a.lunOf(in, volume); l >= 0 && l != lun {
			return errorf(errs.Conflict, "%s: %s sees it at LUN %d", op, in, l)
		}
	}
	for _, in := range initiators {
		a.mask(in, lun, volume)
	}
	m.w.afterMaskChange(a, volume, "map")
	return nil
}

// Unmap implements storage.DiskMapper.
func (m *DiskMapper) Unmap(ctx context.Context, volume storage.VolumeID, initiators []storage.Initiator) error {
	c, err := m.w.start(ctx, DriverStorage, "Unmap", string(volume), "from "+initiatorNames(initiators), m.keys(volume, initiators)...)
	if err != nil {
		return err
	}
	op := fmt.Sprintf("storage %s: unmap %s from %s", m.array, volume, initiatorNames(initiators))
	if err := checkInitiators(op, initiators); err != nil {
		return c.finish(err)
	}
	m.w.mu.Lock()
	err = c.effectLocked(func() error {
		a, err := m.arrayLocked()
		if err != nil {
			return err
		}
		if _, ok := a.volumes[volume]; !ok {
			return errorf(errs.NotFound, "%s: no such volume", op)
		}
		for _, in := range initiators {
			if l := a.lunOf(in, volume); l >= 0 {
				a.unmask(in, l)
			}
		}
		m.w.afterMaskChange(a, volume, "unmap")
		return nil
	})
	m.w.mu.Unlock()
	return c.finish(err)
}

// SwapInitiators implements storage.InitiatorSwapper over the array's host
// objects. Like Pure and PowerStore, an initiator belongs to one host
// object only: the initiators of to are first taken from any other host,
// which fails with ErrConflict if they see any volume there.
func (m *DiskMapper) SwapInitiators(ctx context.Context, from, to []storage.Initiator) error {
	c, err := m.w.start(ctx, DriverStorage, "SwapInitiators", m.array,
		initiatorNames(from)+" -> "+initiatorNames(to), m.keys("", from, to)...)
	if err != nil {
		return err
	}
	op := fmt.Sprintf("storage %s: swap %s for %s", m.array, initiatorNames(from), initiatorNames(to))
	if err := checkInitiators(op, from); err != nil {
		return c.finish(err)
	}
	if err := checkInitiators(op, to); err != nil {
		return c.finish(err)
	}
	m.w.mu.Lock()
	err = c.effectLocked(func() error { return m.swapLocked(op, sortedInitiators(from), sortedInitiators(to)) })
	m.w.mu.Unlock()
	return c.finish(err)
}

func (m *DiskMapper) swapLocked(op string, from, to []storage.Initiator) error {
	a, err := m.arrayLocked()
	if err != nil {
		return err
	}
	// The host whose initiators are exactly these (through the index of
	// each initiator's host: time independent of the array's size).
	hostWith := func(ins []storage.Initiator) string {
		if len(ins) == 0 {
			return ""
		}
		if h, ok := a.hostOf[ins[0]]; ok && slices.Equal(a.hosts[h], ins) {
			return h
		}
		return ""
	}
	host := hostWith(from)
	if host == "" {
		if hostWith(to) != "" {
			return nil // done already
		}
		return errorf(errs.NotFound, "%s: no host object has exactly those initiators", op)
	}
	if slices.Equal(from, to) {
		return nil
	}
	// The host's mappings: what its initiators see, which must agree.
	table := map[int]storage.VolumeID{}
	for _, in := range from {
		for l, v := range a.masks[in] {
			if x, ok := table[l]; ok && x != v {
				return errorf(errs.Conflict, "%s: host %s's initiators disagree on LUN %d", op, host, l)
			}
			table[l] = v
		}
	}
	for _, in := range to {
		if slices.Contains(from, in) {
			continue
		}
		if h, ok := a.hostOf[in]; ok && len(a.masks[in]) > 0 {
			return errorf(errs.Conflict, "%s: %s belongs to host %s, which has mappings", op, in, h)
		}
		if len(a.masks[in]) > 0 {
			return errorf(errs.Conflict, "%s: %s sees volumes already", op, in)
		}
	}
	for _, in := range from {
		for l := range a.masks[in] {
			a.unmask(in, l)
		}
	}
	for _, in := range to {
		for l, v := range table {
			a.mask(in, l, v)
		}
	}
	a.setHost(host, to)
	vols := slices.Sorted(maps.Values(table))
	for _, v := range slices.Compact(vols) {
		m.w.afterMaskChange(a, v, "swap")
	}
	return nil
}

// afterMaskChange records violations of I2 (the volume is masked to the
// initiators of two holders) and I1 (a new holder got it while a previous
// holder is not off) as they happen.
func (w *World) afterMaskChange(a *array, v storage.VolumeID, how string) {
	if w.landing {
		how += " (landed late)"
	}
	now := w.cfg.now()
	holders := w.holdersLocked(a, v)
	if len(holders) > 1 {
		w.violate("I2", a.name, v, fmt.Sprintf("after %s: volume %s/%s masked to %s at once", how, a.name, v, strings.Join(holders, " and ")))
	}
	// Previous holders that lose it now: were they off?
	for _, p := range a.prev[v] {
		if s := w.servers[p]; s != nil && !slices.Contains(holders, p) {
			if _, seen := a.offAtLoss[v][p]; !seen {
				s.settle(w, now)
				if a.offAtLoss[v] == nil {
					a.offAtLoss[v] = map[string]bool{}
				}
				a.offAtLoss[v][p] = s.power == bmc.PowerOff
			}
		}
	}
	if len(holders) == 0 {
		return // keep prev: the next holder is checked against it
	}
	for _, h := range holders {
		if slices.Contains(a.prev[v], h) {
			continue
		}
		for _, p := range a.prev[v] {
			s := w.servers[p]
			if s == nil || slices.Contains(holders, p) || a.offAtLoss[v][p] {
				continue
			}
			s.settle(w, now)
			if s.power != bmc.PowerOff {
				w.violate("I1", a.name, v, fmt.Sprintf("after %s: volume %s/%s given to %s while its previous holder %s is %s", how, a.name, v, h, p, s.power))
			}
		}
	}
	a.prev[v] = holders
	delete(a.offAtLoss, v)
}

// holdersLocked returns the distinct holders (servers, else host objects,
// else bare initiators) of v, sorted.
func (w *World) holdersLocked(a *array, v storage.VolumeID) []string {
	var out []string
	for _, in := range a.holders(v) {
		out = append(out, w.ownerOf(a, in))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Mask is one masking entry: an initiator sees a volume at a LUN.
type Mask struct {
	Array     string
	Volume    storage.VolumeID
	Initiator storage.Initiator
	LUN       int
	Holder    string // the initiator's server ID, "host NAME" or "initiator NAME"
}

// Masking returns every masking entry of array ("" for every array),
// sorted by array, volume, holder and initiator.
func (w *World) Masking(array string) []Mask {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maskingLocked(array)
}

func (w *World) maskingLocked(array string) []Mask {
	var out []Mask
	for name, a := range w.arrays {
		if array != "" && name != array {
			continue
		}
		for in, t := range a.masks {
			for l, v := range t {
				out = append(out, Mask{Array: name, Volume: v, Initiator: in, LUN: l, Holder: w.ownerOf(a, in)})
			}
		}
	}
	slices.SortFunc(out, compareMasks)
	return out
}

func compareMasks(x, y Mask) int {
	return cmp.Or(cmp.Compare(x.Array, y.Array), cmp.Compare(x.Volume, y.Volume),
		cmp.Compare(x.Holder, y.Holder), compareInitiators(x.Initiator, y.Initiator), cmp.Compare(x.LUN, y.LUN))
}

// VolumeHolders returns who volume is masked to in array: server IDs (or
// "host NAME" / "initiator NAME" for initiators no server owns), sorted.
func (w *World) VolumeHolders(array string, volume storage.VolumeID) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.arrays[array]
	if a == nil {
		return nil
	}
	return w.holdersLocked(a, volume)
}

// VolumeInUse reports whether volume is masked to a server that is not
// off (on, or with an unknown state), and which server (the first by ID).
func (w *World) VolumeInUse(array string, volume storage.VolumeID) (server string, inUse bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.arrays[array]
	if a == nil {
		return "", false
	}
	now := w.cfg.now()
	for _, h := range w.holdersLocked(a, volume) {
		if s := w.servers[h]; s != nil {
			s.settle(w, now)
			if s.power != bmc.PowerOff {
				return h, true
			}
		}
	}
	return "", false
}

// Volumes returns the volumes of array, sorted.
func (w *World) Volumes(array string) []storage.VolumeID {
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.arrays[array]
	if a == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(a.volumes))
}

// Hosts returns the host objects of array and their initiators.
func (w *World) Hosts(array string) map[string][]storage.Initiator {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string][]storage.Initiator{}
	if a := w.arrays[array]; a != nil {
		for h, ins := range a.hosts {
			out[h] = slices.Clone(ins)
		}
	}
	return out
}
