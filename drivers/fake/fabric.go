package fake

import (
	"cmp"
	"context"
	"maps"
	"slices"

	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/internal/errs"
	"github.com/coldstandby/coldstandby/storage"
)

// zoneSet is a zoning configuration: zone name -> members, with the
// zones of each member indexed (Zones answers in time proportional to
// the member's zones, not the fabric's).
type zoneSet struct {
	zones map[string]map[storage.Initiator]bool
	of    map[storage.Initiator]map[string]bool
}

func newZoneSet() *zoneSet {
	return &zoneSet{zones: map[string]map[storage.Initiator]bool{}, of: map[storage.Initiator]map[string]bool{}}
}

func (z *zoneSet) ensure(name string) {
	if z.zones[name] == nil {
		z.zones[name] = map[storage.Initiator]bool{}
	}
}

func (z *zoneSet) has(name string) bool { return z.zones[name] != nil }

func (z *zoneSet) member(name string, in storage.Initiator) bool { return z.zones[name][in] }

func (z *zoneSet) add(name string, in storage.Initiator) {
	z.ensure(name)
	z.zones[name][in] = true
	if z.of[in] == nil {
		z.of[in] = map[string]bool{}
	}
	z.of[in][name] = true
}

func (z *zoneSet) remove(name string, in storage.Initiator) {
	delete(z.zones[name], in)
	delete(z.of[in], name)
	if len(z.of[in]) == 0 {
		delete(z.of, in)
	}
}

func (z *zoneSet) clone() *zoneSet {
	out := &zoneSet{zones: make(map[string]map[storage.Initiator]bool, len(z.zones)), of: make(map[storage.Initiator]map[string]bool, len(z.of))}
	for name, m := range z.zones {
		out.zones[name] = maps.Clone(m)
	}
	for in, m := range z.of {
		out.of[in] = maps.Clone(m)
	}
	return out
}

func (z *zoneSet) zonesOf(in storage.Initiator) []string {
	out := slices.Collect(maps.Keys(z.of[in]))
	slices.Sort(out)
	return out
}

// fabricState is one FC fabric: the defined (pending) and active zoning.
type fabricState struct {
	defined *zoneSet
	active  *zoneSet
	pending bool
	locked  int // other sessions holding the zoning transaction
}

// Zone is a zone and its members, sorted.
type Zone struct {
	Name    string
	Members []storage.Initiator
}

// Zoner is the fake zoning session of one FC fabric of a World.
// Changes are pending until Commit; when a Commit fails (an injected error)
// the pending changes are aborted, as the contract says. HoldZoningLock
// simulates another management session holding the transaction.
type Zoner struct {
	w      *World
	fabric string
}

var (
	_ fabric.FCZoner = (*Zoner)(nil)
	_ fabric.Aborter = (*Zoner)(nil)
)

func (z *Zoner) fabricLocked() (*fabricState, error) {
	f := z.w.fabrics[z.fabric]
	if f == nil {
		return nil, errorf(errs.NotFound, "zoner %s: no such fabric", z.fabric)
	}
	return f, nil
}

func (z *Zoner) keys(zone string, wwpn storage.Initiator) []string {
	k := []string{z.fabric, wwpn.String()}
	if zone != "" {
		k = append(k, zone)
	}
	z.w.mu.Lock()
	if id, ok := z.w.owner[wwpn]; ok {
		k = append(k, id)
	}
	z.w.mu.Unlock()
	return k
}

func checkWWPN(op string, wwpn storage.Initiator) error {
	if wwpn.Kind() != storage.FC {
		return errorf(errs.Invalid, "%s: %q is not a WWPN", op, wwpn)
	}
	return nil
}

// Zones implements fabric.FCZoner.
func (z *Zoner) Zones(ctx context.Context, wwpn storage.Initiator) ([]string, error) {
	c, err := z.w.start(ctx, DriverZoner, "Zones", wwpn.String(), "", z.keys("", wwpn)...)
	if err != nil {
		return nil, err
	}
	if err := checkWWPN("zoner "+z.fabric+": zones", wwpn); err != nil {
		return nil, c.finish(err)
	}
	z.w.mu.Lock()
	f, err := z.fabricLocked()
	var out []string
	if err == nil {
		out = f.defined.zonesOf(wwpn)
	}
	z.w.mu.Unlock()
	if err := c.finish(err); err != nil {
		return nil, err
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// AddMember implements fabric.FCZoner.
func (z *Zoner) AddMember(ctx context.Context, zone string, wwpn storage.Initiator) error {
	return z.edit(ctx, "AddMember", zone, wwpn, true)
}

// RemoveMember implements fabric.FCZoner.
func (z *Zoner) RemoveMember(ctx context.Context, zone string, wwpn storage.Initiator) error {
	return z.edit(ctx, "RemoveMember", zone, wwpn, false)
}

func (z *Zoner) edit(ctx context.Context, method, zone string, wwpn storage.Initiator, add bool) error {
	c, err := z.w.start(ctx, DriverZoner, method, zone, wwpn.String(), z.keys(zone, wwpn)...)
	if err != nil {
		return err
	}
	op := "zoner " + z.fabric + ": " + method + " " + wwpn.String() + " in " + zone
	if err := checkWWPN(op, wwpn); err != nil {
		return c.finish(err)
	}
	if zone == "" {
		return c.finish(errorf(errs.Invalid, "%s: empty zone name", op))
	}
	z.w.mu.Lock()
	err = func() error {
		f, err := z.fabricLocked()
		if err != nil {
			return err
		}
		if !f.defined.has(zone) {
			return errorf(errs.NotFound, "%s: no such zone", op)
		}
		if f.locked > 0 {
			return errorf(errs.Conflict, "%s: another session holds the zoning transaction", op)
		}
		if f.defined.member(zone, wwpn) == add {
			return nil
		}
		if add {
			f.defined.add(zone, wwpn)
		} else {
			f.defined.remove(zone, wwpn)
		}
		f.pending = true
		return nil
	}()
	z.w.mu.Unlock()
	return c.finish(err)
}

// Commit implements fabric.FCZoner.
func (z *Zoner) Commit(ctx context.Context) error {
	c, err := z.w.start(ctx, DriverZoner, "Commit", z.fabric, "", z.fabric)
	z.w.mu.Lock()
	f, ferr := z.fabricLocked()
	if err != nil {
		// The commit failed: abort the transaction, per the contract,
		// unless ctx ended before anything was sent.
		if ferr == nil && f.pending && ctx.Err() == nil {
			f.defined = f.active.clone()
			f.pending = false
		}
		z.w.mu.Unlock()
		return err
	}
	if ferr == nil && f.locked > 0 && f.pending {
		f.defined = f.active.clone()
		f.pending = false
		ferr = errorf(errs.Conflict, "zoner %s: commit: another session holds the zoning transaction", z.fabric)
	}
	if ferr == nil {
		f.active = f.defined.clone()
		f.pending = false
	}
	z.w.mu.Unlock()
	return c.finish(ferr)
}

// Abort implements fabric.Aborter: the pending changes are discarded.
func (z *Zoner) Abort(ctx context.Context) error {
	c, err := z.w.start(ctx, DriverZoner, "Abort", z.fabric, "", z.fabric)
	if err != nil {
		return err
	}
	z.w.mu.Lock()
	f, ferr := z.fabricLocked()
	if ferr == nil && f.pending {
		f.defined = f.active.clone()
		f.pending = false
	}
	z.w.mu.Unlock()
	return c.finish(ferr)
}

// HoldZoningLock simulates another management session that holds fabric's
// zoning transaction: until release is called, AddMember, RemoveMember
// and a Commit with pending changes fail with ErrConflict.
func (w *World) HoldZoningLock(fabricName string) (release func(), err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.fabrics[fabricName]
	if f == nil {
		return nil, errorf(errs.NotFound, "hold zoning lock: no fabric %q", fabricName)
	}
	f.locked++
	done := false
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if !done {
			done = true
			f.locked--
		}
	}, nil
}

func zonesOf(z *zoneSet) []Zone {
	out := make([]Zone, 0, len(z.zones))
	for name, m := range z.zones {
		ms := slices.Collect(maps.Keys(m))
		slices.SortFunc(ms, compareInitiators)
		out = append(out, Zone{Name: name, Members: ms})
	}
	slices.SortFunc(out, func(a, b Zone) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// ActiveZones returns fabric's active zoning, sorted by zone name.
func (w *World) ActiveZones(fabricName string) []Zone {
	w.mu.Lock()
	defer w.mu.Unlock()
	if f := w.fabrics[fabricName]; f != nil {
		return zonesOf(f.active)
	}
	return nil
}

// DefinedZones returns fabric's defined zoning (with pending changes).
func (w *World) DefinedZones(fabricName string) []Zone {
	w.mu.Lock()
	defer w.mu.Unlock()
	if f := w.fabrics[fabricName]; f != nil {
		return zonesOf(f.defined)
	}
	return nil
}

// ActiveZonesOf returns the zones of fabric's active configuration that
// have member wwpn, sorted.
func (w *World) ActiveZonesOf(fabricName string, wwpn storage.Initiator) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if f := w.fabrics[fabricName]; f != nil {
		return f.active.zonesOf(wwpn)
	}
	return nil
}

// switchState is one Ethernet switch: its ports' VLAN settings.
type switchState struct {
	ports map[string]fabric.PortVLAN
	owner map[string]string // port -> server ID
}

// Switch is a fake Ethernet switch of a World.
type Switch struct {
	w    *World
	name string
}

var _ fabric.VLANSwitch = (*Switch)(nil)

func (s *Switch) keys(port string) []string {
	k := []string{s.name, port}
	s.w.mu.Lock()
	if sw := s.w.switches[s.name]; sw != nil && sw.owner[port] != "" {
		k = append(k, sw.owner[port])
	}
	s.w.mu.Unlock()
	return k
}

func (s *Switch) portLocked(op, port string) (*switchState, error) {
	sw := s.w.switches[s.name]
	if sw == nil {
		return nil, errorf(errs.NotFound, "%s: no switch %s", op, s.name)
	}
	if _, ok := sw.ports[port]; !ok {
		return nil, errorf(errs.NotFound, "%s: no port %s on %s", op, port, s.name)
	}
	return sw, nil
}

// PortVLAN implements fabric.VLANSwitch.
func (s *Switch) PortVLAN(ctx context.Context, port string) (fabric.PortVLAN, error) {
	c, err := s.w.start(ctx, DriverVLAN, "PortVLAN", port, s.name, s.keys(port)...)
	if err != nil {
		return fabric.PortVLAN{}, err
	}
	s.w.mu.Lock()
	sw, err := s.portLocked("vlan: read "+port, port)
	var v fabric.PortVLAN
	if err == nil {
		v = cloneVLAN(sw.ports[port])
	}
	s.w.mu.Unlock()
	if err := c.finish(err); err != nil {
		return fabric.PortVLAN{}, err
	}
	return v, nil
}

// SetPortVLAN implements fabric.VLANSwitch.
func (s *Switch) SetPortVLAN(ctx context.Context, port string, v fabric.PortVLAN) (fabric.PortVLAN, error) {
	c, err := s.w.start(ctx, DriverVLAN, "SetPortVLAN", port, s.name+" "+v.String(), s.keys(port)...)
	if err != nil {
		return fabric.PortVLAN{}, err
	}
	op := "vlan: set " + s.name + "/" + port + " to " + v.String()
	if err := v.Validate(); err != nil {
		return fabric.PortVLAN{}, c.finish(errorf(errs.Invalid, "%s: %v", op, err))
	}
	s.w.mu.Lock()
	sw, err := s.portLocked(op, port)
	var prev fabric.PortVLAN
	if err == nil {
		prev = cloneVLAN(sw.ports[port])
		sw.ports[port] = cloneVLAN(v.Normalize())
	}
	s.w.mu.Unlock()
	if err := c.finish(err); err != nil {
		return fabric.PortVLAN{}, err
	}
	return prev, nil
}

func cloneVLAN(v fabric.PortVLAN) fabric.PortVLAN {
	v.Trunk = slices.Clone(v.Trunk)
	return v
}

// PortVLAN returns the VLAN setting of port on switch.
func (w *World) PortVLAN(switchName, port string) (fabric.PortVLAN, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if sw := w.switches[switchName]; sw != nil {
		v, ok := sw.ports[port]
		return cloneVLAN(v), ok
	}
	return fabric.PortVLAN{}, false
}
