package bmclib

import (
	"context"
	"fmt"
	"strings"

	"github.com/coldstandby/coldstandby/bmc"
)

var _ bmc.DumpReporter = (*Driver)(nil)

// DumpInProgress reports whether the OS is probably writing a memory
// dump, from the event log: the server is on and the newest record that
// starts a dump (an OS run-time critical stop, a diagnostic, software or
// fatal NMI, a Redfish crash-dump or panic message) is newer than the
// newest record that ends one (a system boot, an OS boot, a power-off or
// soft-off state, a graceful OS stop).
//
// It is a heuristic, as no IPMI or standard Redfish property says "dump
// in progress": an OS that stops without writing a dump and without
// rebooting reads as dumping until it is powered off. Callers bound their
// wait (failover's dump timeout), so a false true costs that wait, never
// a wrong fence.
func (d *Driver) DumpInProgress(ctx context.Context) (bool, error) {
	const op = "dump status"
	s, done, err := d.open(ctx, op)
	if err != nil {
		return false, err
	}
	defer done()
	st, err := d.readPower(ctx, op, s)
	if err != nil {
		return false, err
	}
	if st != bmc.PowerOn {
		return false, nil
	}
	cctx, cancel := context.WithTimeout(ctx, d.cfg.callTimeout)
	raw, err := s.c.GetSystemEventLogRaw(cctx)
	cancel()
	if err != nil {
		return false, d.fail(op, ctx, "read event log", err, false)
	}
	evs, err := parseEventLog(raw)
	if err != nil {
		return false, fmt.Errorf("bmclib: %s %s: %s: %w", op, d.host, d.redact(err.Error()), bmc.ErrTransient)
	}
	return dumping(evs), nil
}

// dumping applies DumpInProgress's rule to a log, oldest first.
func dumping(evs []bmc.Event) bool {
	started, ended := -1, -1
	for i, e := range evs {
		switch {
		case !e.Asserted:
		case startsDump(e):
			started = i
		case endsDump(e):
			ended = i
		}
	}
	return started > ended
}

func startsDump(e bmc.Event) bool {
	if e.EventType == 0x6f {
		switch e.SensorType {
		case 0x20: // OS critical stop: run-time critical stop
			return e.Offset == 0x01
		case 0x13: // critical interrupt: front-panel/diag NMI, software NMI, fatal NMI
			return e.Offset == 0x00 || e.Offset == 0x03 || e.Offset == 0x09
		}
		return false
	}
	k := strings.ToLower(e.MessageID)
	return strings.Contains(k, "crashdump") || strings.Contains(k, "kernelpanic") || strings.Contains(k, "bugcheck") ||
		strings.Contains(k, "oscriticalstop")
}

func endsDump(e bmc.Event) bool {
	if e.EventType == 0x6f {
		switch e.SensorType {
		case 0x1d, 0x1f: // system boot initiated, OS boot
			return true
		case 0x20: // OS graceful stop / shutdown
			return e.Offset == 0x02 || e.Offset == 0x03
		case 0x22: // S4/S5 soft-off, G3 mechanical off, S5 by override
			return e.Offset >= 0x04 && e.Offset <= 0x07 || e.Offset == 0x0a
		case 0x09: // power unit: power off/down, power cycle
			return e.Offset == 0x00 || e.Offset == 0x01
		}
		return false
	}
	k := strings.ToLower(e.MessageID)
	return strings.Contains(k, "systemboot") || strings.Contains(k, "hostboot") || strings.Contains(k, "poweroff") ||
		strings.Contains(k, "systemrestart")
}
