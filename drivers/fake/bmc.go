package fake

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/internal/errs"
	"github.com/coldstandby/coldstandby/storage"
)

// server is one simulated server's live state.
type server struct {
	spec           ServerSpec
	os             OS
	power          bmc.PowerState
	boot           bmc.BootDevice
	bootPersistent bool
	offAt          time.Time // a graceful shutdown completes then (zero: none)
	dumpUntil      time.Time // a memory dump runs until then (zero: none)
	hung           bool      // the OS does not answer (crashed, halted after a dump)
	fault          bmc.FaultType
	bmcDown        bool // the BMC does not answer
	noPower        bool // the power supply failed: it cannot power on
	bootVolume     storage.VolumeID
	restore        bmc.RestorePolicy // power-restore policy ("" reads as RestoreAlwaysOn)
	events         []bmc.Event
	nextEvent      int
}

// settle applies the transitions whose time has come: a dump that ended
// (the OS halts after writing it) and a graceful shutdown that completed.
func (s *server) settle(w *World, now time.Time) {
	if !s.dumpUntil.IsZero() && !now.Before(s.dumpUntil) {
		s.dumpUntil = time.Time{}
		s.hung = true
	}
	if !s.offAt.IsZero() && !now.Before(s.offAt) {
		s.offAt = time.Time{}
		s.powerOff()
	}
}

func (s *server) powerOff() {
	s.power = bmc.PowerOff
	s.offAt, s.dumpUntil = time.Time{}, time.Time{}
	s.hung = false
	s.bootVolume = ""
}

func (s *server) dumping() bool { return !s.dumpUntil.IsZero() }

// ServerState is a server's live state, for tests and demos.
type ServerState struct {
	ID              string
	Power           bmc.PowerState
	BootDevice      bmc.BootDevice
	BootPersistent  bool
	ShutdownPending bool          // a graceful shutdown is under way
	DumpInProgress  bool          // the OS is writing a memory dump
	Hung            bool          // the OS does not answer (crashed or halted)
	Fault           bmc.FaultType // the last FailServer fault, "" when repaired
	BMCReachable    bool
	BootVolume      storage.VolumeID // LUN 0 it booted from at the last power-on ("" if none or off)
	Events          int              // records in its event log
	RefusesShutdown bool
	DumpTime        time.Duration
	ShutdownDelay   time.Duration

	// The live wiring, for state tables.
	Partition string            // the logical server it is a member of now, "" for none
	Volumes   []storage.Mapping // what its initiators see on its disk array, sorted by LUN then volume
	Zones     []string          // active zones of its initiators on its fabric, sorted
	PortVLANs []fabric.PortVLAN // the setting of each of its SwitchPorts, in order
}

// Server returns the live state of server id.
func (w *World) Server(id string) (ServerState, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.servers[id]
	if s == nil {
		return ServerState{}, false
	}
	s.settle(w, w.cfg.now())
	st := ServerState{
		ID: id, Power: s.power, BootDevice: s.boot, BootPersistent: s.bootPersistent,
		ShutdownPending: !s.offAt.IsZero(), DumpInProgress: s.dumping(), Hung: s.hung,
		Fault: s.fault, BMCReachable: !s.bmcDown, BootVolume: s.bootVolume, Events: len(s.events),
		RefusesShutdown: s.os.RefuseShutdown, DumpTime: s.os.DumpTime, ShutdownDelay: s.os.ShutdownDelay,
	}
	for p, ms := range w.partitions {
		if slices.Contains(ms, id) {
			st.Partition = p
		}
	}
	if a := w.arrays[s.spec.DiskArray]; a != nil {
		seen := map[storage.Mapping]bool{}
		for _, in := range s.spec.Initiators {
			for l, v := range a.masks[in] {
				if m := (storage.Mapping{Volume: v, LUN: l}); !seen[m] {
					seen[m] = true
					st.Volumes = append(st.Volumes, m)
				}
			}
		}
		slices.SortFunc(st.Volumes, func(x, y storage.Mapping) int {
			return cmp.Or(cmp.Compare(x.LUN, y.LUN), cmp.Compare(x.Volume, y.Volume))
		})
	}
	if f := w.fabrics[s.spec.Fabric]; f != nil {
		for _, in := range s.spec.Initiators {
			st.Zones = append(st.Zones, f.active.zonesOf(in)...)
		}
		slices.Sort(st.Zones)
		st.Zones = slices.Compact(st.Zones)
	}
	if sw := w.switches[s.spec.Switch]; sw != nil {
		for _, p := range s.spec.SwitchPorts {
			st.PortVLANs = append(st.PortVLANs, cloneVLAN(sw.ports[p]))
		}
	}
	return st, true
}

// Power returns server id's power state ("" for an unknown server), as
// the world knows it (whatever faults make its BMC answer).
func (w *World) Power(id string) bmc.PowerState {
	st, _ := w.Server(id)
	return st.Power
}

func (w *World) withServer(id string, fn func(*server)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.servers[id]
	if s == nil {
		return errorf(errs.NotFound, "no server %q", id)
	}
	s.settle(w, w.cfg.now())
	fn(s)
	return nil
}

// RefuseShutdown sets whether server id's OS ignores graceful shutdown
// requests.
func (w *World) RefuseShutdown(id string, refuse bool) error {
	return w.withServer(id, func(s *server) { s.os.RefuseShutdown = refuse })
}

// SetShutdownDelay sets how long server id's graceful shutdown takes.
func (w *World) SetShutdownDelay(id string, d time.Duration) error {
	return w.withServer(id, func(s *server) { s.os.ShutdownDelay = max(d, 0) })
}

// SetDumpTime sets how long a memory dump of server id takes (0: its OS
// writes none).
func (w *World) SetDumpTime(id string, d time.Duration) error {
	return w.withServer(id, func(s *server) { s.os.DumpTime = max(d, 0) })
}

// StartDump makes server id (which must be on) write a memory dump for d
// from now, as after an OS crash; the OS halts when it ends.
func (w *World) StartDump(id string, d time.Duration) error {
	var err error
	e := w.withServer(id, func(s *server) {
		if s.power != bmc.PowerOn {
			err = errorf(errs.Conflict, "start dump on %s: server is %s", id, s.power)
			return
		}
		s.hung = true
		s.dumpUntil = w.cfg.now().Add(d)
	})
	if e != nil {
		return e
	}
	return err
}

// SetPower sets server id's power state directly (as a person at the
// server would), without a driver call or an I1 check.
func (w *World) SetPower(id string, p bmc.PowerState) error {
	if p != bmc.PowerOn && p != bmc.PowerOff {
		return errorf(errs.Invalid, "set power of %s to %q", id, p)
	}
	return w.withServer(id, func(s *server) {
		if p == bmc.PowerOff {
			s.powerOff()
		} else if s.power != bmc.PowerOn {
			w.powerOnLocked(s)
		}
	})
}

// InjectEvent appends a record to server id's event log. An empty ID gets
// the next record ID, a zero Time the world's clock, an empty Raw a
// SEL-like line.
func (w *World) InjectEvent(id string, e bmc.Event) error {
	return w.withServer(id, func(s *server) { w.appendEvent(s, e) })
}

func (w *World) appendEvent(s *server, e bmc.Event) {
	s.nextEvent++
	if e.ID == "" {
		e.ID = fmt.Sprintf("%04x", s.nextEvent)
	}
	if e.Time.IsZero() {
		e.Time = w.cfg.now()
	}
	if e.Severity == "" {
		e.Severity = bmc.SeverityOK
	}
	if e.Raw == "" {
		dir := "Deasserted"
		if e.Asserted {
			dir = "Asserted"
		}
		e.Raw = fmt.Sprintf("%4s | %s | %s | %s | %s", e.ID, e.Time.UTC().Format("01/02/2006 | 15:04:05"), e.SensorName, e.Message, dir)
	}
	s.events = append(s.events, e)
}

// ClearEventLog empties server id's event log (record IDs keep counting,
// so an old cursor is no longer held and Events restarts from the start).
func (w *World) ClearEventLog(id string) error {
	return w.withServer(id, func(s *server) { s.events = nil })
}

// faultRecords are IPMI-like SEL records for each fault type (IPMI 2.0
// tables 42-1 and 42-3).
var faultRecords = map[bmc.FaultType]bmc.Event{
	bmc.FaultProcessor:   {SensorType: 0x07, SensorName: "CPU0 Status", EventType: 0x6f, Offset: 0x00, Message: "Processor IERR", MessageID: "Platform.1.0.ProcessorFailed", Severity: bmc.SeverityCritical},
	bmc.FaultMemory:      {SensorType: 0x0c, SensorName: "DIMM A1", EventType: 0x6f, Offset: 0x01, Message: "Memory Uncorrectable ECC", MessageID: "Memory.1.0.UncorrectableError", Severity: bmc.SeverityCritical},
	bmc.FaultPowerSupply: {SensorType: 0x08, SensorName: "PS1 Status", EventType: 0x6f, Offset: 0x01, Message: "Power Supply Failure detected", MessageID: "Platform.1.0.PowerSupplyFailed", Severity: bmc.SeverityCritical},
	bmc.FaultWatchdog:    {SensorType: 0x23, SensorName: "Watchdog2", EventType: 0x6f, Offset: 0x00, Message: "Watchdog 2 Timer expired", MessageID: "Platform.1.0.WatchdogExpired", Severity: bmc.SeverityCritical},
	bmc.FaultOSStop:      {SensorType: 0x20, SensorName: "OS Stop", EventType: 0x6f, Offset: 0x01, Message: "OS Critical Stop: Run-time critical stop", MessageID: "Platform.1.0.OperatingSystemCrash", Severity: bmc.SeverityCritical},
	bmc.FaultPowerLost:   {SensorType: 0x09, SensorName: "Power Unit", EventType: 0x6f, Offset: 0x04, Message: "Power Unit AC lost", MessageID: "Platform.1.0.PowerUnitACLost", Severity: bmc.SeverityCritical},
	bmc.FaultTemperature: {SensorType: 0x01, SensorName: "CPU0 Temp", EventType: 0x01, Offset: 0x09, Message: "Upper Critical going high", MessageID: "Platform.1.0.TemperatureAboveUpperCriticalThreshold", Severity: bmc.SeverityCritical},
	bmc.FaultCorrectable: {SensorType: 0x0c, SensorName: "DIMM A1", EventType: 0x6f, Offset: 0x00, Message: "Memory Correctable ECC", MessageID: "Memory.1.0.CorrectableError", Severity: bmc.SeverityWarning},
}

// FailServer makes server id fail with fault type ft: it appends the
// IPMI-like SEL record of that failure to the event log (for the BMC
// unreachable type, nothing is logged) and changes the server as the
// failure would:
//
//   - processor, memory, watchdog: the OS hangs (it ignores a graceful
//     shutdown); the server stays on.
//   - OS critical stop: the OS crashes and writes a memory dump for its
//     OS.DumpTime (if any), then halts.
//   - power supply, unexpected power-off: the server goes off; after a
//     power-supply failure it cannot be powered on until RepairServer.
//   - BMC unreachable: every BMC call fails with ErrTransient.
//   - temperature, correctable, others: only the record (type "other"
//     and unknown types log an OEM record).
func (w *World) FailServer(id string, ft bmc.FaultType) error {
	return w.withServer(id, func(s *server) {
		s.fault = ft
		if ft == bmc.FaultBMCUnreachable {
			s.bmcDown = true
			return
		}
		e, ok := faultRecords[ft]
		if !ok {
			e = bmc.Event{SensorType: 0xc0, SensorName: "OEM", EventType: 0x70, Message: "OEM record: " + string(ft), Severity: bmc.SeverityWarning}
		}
		e.Asserted = true
		w.appendEvent(s, e)
		switch ft {
		case bmc.FaultProcessor, bmc.FaultMemory, bmc.FaultWatchdog:
			if s.power == bmc.PowerOn {
				s.hung = true
			}
		case bmc.FaultOSStop:
			if s.power == bmc.PowerOn {
				s.hung = true
				if s.os.DumpTime > 0 {
					s.dumpUntil = w.cfg.now().Add(s.os.DumpTime)
				}
			}
		case bmc.FaultPowerSupply:
			s.noPower = true
			s.powerOff()
		case bmc.FaultPowerLost:
			s.powerOff()
		}
	})
}

// RepairServer clears server id's failure: its BMC answers, its power
// supply works, its OS is healthy (a running server keeps running).
func (w *World) RepairServer(id string) error {
	return w.withServer(id, func(s *server) {
		s.fault, s.bmcDown, s.noPower, s.hung = "", false, false, false
		s.dumpUntil = time.Time{}
	})
}

func (w *World) powerOnLocked(s *server) {
	s.power = bmc.PowerOn
	s.offAt, s.dumpUntil, s.hung = time.Time{}, time.Time{}, false
	s.bootVolume = ""
	if !s.bootPersistent && s.boot != bmc.BootDisk {
		defer func() { s.boot = bmc.BootDisk }() // a one-time override is used up
	}
	if s.boot != bmc.BootDisk || s.spec.DiskArray == "" {
		return
	}
	if a := w.arrays[s.spec.DiskArray]; a != nil {
		for _, in := range sortedInitiators(s.spec.Initiators) {
			if v, ok := a.masks[in][0]; ok {
				s.bootVolume = v
				break
			}
		}
		// Powering on while seeing a volume a running server holds too:
		// two writers (when the other powers on later, its own power-on
		// is the one flagged).
		var seen []storage.VolumeID
		for _, in := range s.spec.Initiators {
			for _, v := range a.masks[in] {
				seen = append(seen, v)
			}
		}
		slices.Sort(seen)
		for _, v := range slices.Compact(seen) {
			for _, h := range w.holdersLocked(a, v) {
				o := w.servers[h]
				if h == s.spec.ID || o == nil {
					continue
				}
				if o.settle(w, w.cfg.now()); o.power == bmc.PowerOff {
					continue
				}
				w.violate("I2", a.name, v, fmt.Sprintf("server %s powered on seeing %s/%s, which %s (%s) holds too", s.spec.ID, a.name, v, h, o.power))
			}
		}
	}
}

// BMC is the fake baseboard controller of one server of a World. It
// implements bmc.BMC, bmc.DumpReporter and bmc.PowerRestorer.
type BMC struct {
	w  *World
	id string
}

var (
	_ bmc.BMC           = (*BMC)(nil)
	_ bmc.DumpReporter  = (*BMC)(nil)
	_ bmc.PowerRestorer = (*BMC)(nil)
)

// do runs one BMC call: faults, then fn on the server under the lock.
func (b *BMC) do(ctx context.Context, method, args string, fn func(s *server) error) error {
	c, err := b.w.start(ctx, DriverBMC, method, b.id, args, b.id)
	if err == errPowerUnknown {
		c.args = "answered unknown"
		c.end(nil)
		return err
	}
	if err != nil {
		return err
	}
	b.w.mu.Lock()
	err = func() error {
		s := b.w.servers[b.id]
		if s == nil {
			return errorf(errs.NotFound, "bmc %s: no such server", b.id)
		}
		if s.bmcDown {
			return errorf(errs.Transient, "bmc %s: %s: BMC does not answer", b.id, method)
		}
		s.settle(b.w, b.w.cfg.now())
		return fn(s)
	}()
	b.w.mu.Unlock()
	return c.finish(err)
}

// PowerState implements bmc.BMC.
func (b *BMC) PowerState(ctx context.Context) (bmc.PowerState, error) {
	var p bmc.PowerState
	err := b.do(ctx, "PowerState", "", func(s *server) error { p = s.power; return nil })
	if err == errPowerUnknown {
		return bmc.PowerUnknown, nil
	}
	if err != nil {
		return bmc.PowerUnknown, err
	}
	return p, nil
}

// PowerOn implements bmc.BMC. The server boots from the LUN 0 its
// initiators see when its boot device is the disk (see ServerState).
func (b *BMC) PowerOn(ctx context.Context) error {
	return b.do(ctx, "PowerOn", "", func(s *server) error {
		if s.power == bmc.PowerOn {
			return nil
		}
		if s.noPower {
			return errorf(errs.Conflict, "bmc %s: power on: power supply failed", b.id)
		}
		b.w.powerOnLocked(s)
		return nil
	})
}

// Shutdown implements bmc.BMC. The OS goes off after its ShutdownDelay,
// unless it refuses, hangs or is writing a dump.
func (b *BMC) Shutdown(ctx context.Context) error {
	return b.do(ctx, "Shutdown", "", func(s *server) error {
		if s.power == bmc.PowerOff || s.hung || s.os.RefuseShutdown || !s.offAt.IsZero() {
			return nil
		}
		if s.os.ShutdownDelay <= 0 {
			s.powerOff()
			return nil
		}
		s.offAt = b.w.cfg.now().Add(s.os.ShutdownDelay)
		return nil
	})
}

// PowerOff implements bmc.BMC.
func (b *BMC) PowerOff(ctx context.Context) error {
	return b.do(ctx, "PowerOff", "", func(s *server) error {
		s.powerOff()
		return nil
	})
}

// NMI implements bmc.BMC: the OS writes a dump for its DumpTime, then
// halts.
func (b *BMC) NMI(ctx context.Context) error {
	return b.do(ctx, "NMI", "", func(s *server) error {
		if s.os.NoNMI {
			return errorf(errs.Unsupported, "bmc %s: NMI", b.id)
		}
		if s.power != bmc.PowerOn {
			return errorf(errs.Conflict, "bmc %s: NMI: server is %s", b.id, s.power)
		}
		if s.dumping() {
			return nil
		}
		s.hung = true
		s.offAt = time.Time{}
		if s.os.DumpTime > 0 {
			s.dumpUntil = b.w.cfg.now().Add(s.os.DumpTime)
		}
		return nil
	})
}

// SetBootDevice implements bmc.BMC.
func (b *BMC) SetBootDevice(ctx context.Context, dev bmc.BootDevice, persistent bool) error {
	return b.do(ctx, "SetBootDevice", string(dev)+" persistent="+strconv.FormatBool(persistent), func(s *server) error {
		if dev != bmc.BootDisk && dev != bmc.BootPXE {
			return errorf(errs.Invalid, "bmc %s: boot device %q", b.id, dev)
		}
		s.boot, s.bootPersistent = dev, persistent
		return nil
	})
}

// Events implements bmc.BMC. The cursor is the last record's ID.
func (b *BMC) Events(ctx context.Context, after bmc.Cursor) ([]bmc.Event, bmc.Cursor, error) {
	var out []bmc.Event
	next := after
	err := b.do(ctx, "Events", "after "+string(after), func(s *server) error {
		start := 0
		if after != "" {
			i := slices.IndexFunc(s.events, func(e bmc.Event) bool { return e.ID == string(after) })
			if i >= 0 {
				start = i + 1
			}
		}
		out = slices.Clone(s.events[start:])
		if len(out) > 0 {
			next = bmc.Cursor(out[len(out)-1].ID)
		}
		return nil
	})
	if err != nil {
		return nil, after, err
	}
	return out, next, nil
}

// DumpInProgress implements bmc.DumpReporter.
func (b *BMC) DumpInProgress(ctx context.Context) (bool, error) {
	var d bool
	err := b.do(ctx, "DumpInProgress", "", func(s *server) error { d = s.dumping(); return nil })
	return d, err
}

// PowerRestorePolicy implements bmc.PowerRestorer. A new server's policy
// is RestoreAlwaysOn, a common factory setting, so a power return turns a
// fenced server back on unless fencing changed it (see ACPowerRestored).
func (b *BMC) PowerRestorePolicy(ctx context.Context) (bmc.RestorePolicy, error) {
	var p bmc.RestorePolicy
	err := b.do(ctx, "PowerRestorePolicy", "", func(s *server) error { p = s.restorePolicy(); return nil })
	return p, err
}

// SetPowerRestorePolicy implements bmc.PowerRestorer.
func (b *BMC) SetPowerRestorePolicy(ctx context.Context, p bmc.RestorePolicy) error {
	return b.do(ctx, "SetPowerRestorePolicy", string(p), func(s *server) error {
		if !p.Valid() {
			return errorf(errs.Invalid, "bmc %s: power-restore policy %q", b.id, p)
		}
		s.restore = p
		return nil
	})
}

func (s *server) restorePolicy() bmc.RestorePolicy {
	if s.restore == "" {
		return bmc.RestoreAlwaysOn
	}
	return s.restore
}

// ACPowerRestored simulates mains power returning to server id's chassis
// after an outage (or a PDU cycled by someone): an off server powers on
// by itself, through no BMC call, when its power-restore policy is
// RestoreAlwaysOn (RestorePrevious and RestoreAlwaysOff keep a server
// that was powered off off). It reports whether the server came on. A
// failed power supply keeps it off.
func (w *World) ACPowerRestored(id string) (bool, error) {
	on := false
	err := w.withServer(id, func(s *server) {
		if s.power == bmc.PowerOff && !s.noPower && s.restorePolicy() == bmc.RestoreAlwaysOn {
			w.powerOnLocked(s)
			on = true
		}
	})
	return on, err
}

// RestorePolicyOf returns server id's power-restore policy as the world
// knows it ("" for an unknown server).
func (w *World) RestorePolicyOf(id string) bmc.RestorePolicy {
	var p bmc.RestorePolicy
	_ = w.withServer(id, func(s *server) { p = s.restorePolicy() })
	return p
}
