package bmclib

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
)

// selTimeLayout is how ipmitool prints SEL dates and times. The BMC keeps
// them in its own clock, which this driver takes to be UTC.
const selTimeLayout = "01/02/2006 15:04:05"

// ParseSELList parses the output of `ipmitool sel list` (what bmclib's
// ipmitool provider returns as the raw event log) into events, oldest
// first. Lines that are not records (warnings on stderr) are skipped.
//
// A line looks like
//
//	1a | 11/26/2026 | 03:56:20 | Memory #0x02 | Uncorrectable ECC | Asserted
//
// The sensor type and offset are recovered from ipmitool's words (see the
// tables in seltables.go); records it cannot map keep SensorType 0 and are
// still returned. Records time-stamped before the BMC's clock was set
// ("Pre-Init") have a zero Time.
func ParseSELList(raw string) []bmc.Event {
	var out []bmc.Event
	for line := range strings.SplitSeq(raw, "\n") {
		f := strings.Split(line, "|")
		if len(f) < 6 {
			continue
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		id := f[0]
		if _, err := strconv.ParseUint(id, 16, 16); err != nil {
			continue
		}
		e := bmc.Event{ID: id, Raw: strings.TrimSpace(line), SensorName: f[3], Asserted: !strings.EqualFold(f[5], "Deasserted")}
		if t, err := time.Parse(selTimeLayout, f[1]+" "+f[2]); err == nil {
			e.Time = t.UTC()
		}
		e.SensorType = sensorTypeOf(f[3])
		e.EventType, e.Offset = eventCode(e.SensorType, f[4])
		e.Message = strings.TrimSpace(f[3] + ": " + f[4])
		if len(f) > 6 {
			e.Message += " (" + strings.Join(f[6:], "; ") + ")"
		}
		if !e.Asserted {
			e.Message += " deasserted"
		}
		e.Severity = bmc.SeverityOf(e)
		out = append(out, e)
	}
	return out
}

// sensorTypeOf finds the sensor type in ipmitool's sensor column:
// "Memory #0x02" in "sel list", or the type followed by the sensor's SDR
// name ("Power Supply PSU2") in "sel elist". The longest matching type
// name wins ("Power Supply" over "Power").
func sensorTypeOf(col string) uint8 {
	if i := strings.Index(col, " #0x"); i >= 0 {
		return ipmitoolSensorTypes[col[:i]]
	}
	best, code := 0, uint8(0)
	for name, c := range ipmitoolSensorTypes {
		if len(name) > best && (col == name || strings.HasPrefix(col, name+" ")) {
			best, code = len(name), c
		}
	}
	return code
}

// eventCodes indexes the tables by sensor type and lower-case text; type
// 0 holds the generic (threshold and other) descriptions. Read-only after
// package initialisation.
var eventCodes = func() map[uint8]map[string][2]uint8 {
	m := map[uint8]map[string][2]uint8{0: {}}
	for _, s := range ipmitoolSensorSpecific {
		if m[s.sensorType] == nil {
			m[s.sensorType] = map[string][2]uint8{}
		}
		m[s.sensorType][strings.ToLower(s.text)] = [2]uint8{0x6f, s.offset}
	}
	for i, s := range ipmitoolThreshold {
		m[0][strings.ToLower(s)] = [2]uint8{0x01, uint8(i)}
	}
	for _, g := range ipmitoolGeneric {
		m[0][strings.ToLower(g.text)] = [2]uint8{g.eventType, g.offset}
	}
	return m
}()

// eventCode finds the event/reading type and offset of ipmitool's
// description of an event on a sensor of type st.
func eventCode(st uint8, text string) (eventType, offset uint8) {
	if text == "" {
		return 0, 0
	}
	l := strings.ToLower(text)
	if st != 0 {
		if c, ok := eventCodes[st][l]; ok {
			return c[0], c[1]
		}
	}
	if c, ok := eventCodes[0][l]; ok {
		return c[0], c[1]
	}
	return 0, 0
}

// parseLogEntries parses bmclib's Redfish raw event log: a JSON array of
// LogEntry resources.
func parseLogEntries(raw string) ([]bmc.Event, error) {
	var entries []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &entries); err != nil {
		return nil, fmt.Errorf("parse Redfish log entries: %v", err)
	}
	out := make([]bmc.Event, 0, len(entries))
	for i, e := range entries {
		ev, err := bmc.EventFromLogEntry(e)
		if err != nil {
			return nil, fmt.Errorf("log entry %d: %v", i, err)
		}
		out = append(out, ev)
	}
	sortLogEntries(out)
	return out, nil
}

// sortLogEntries puts Redfish log entries oldest first: gofish fetches a
// collection's members concurrently and returns them in the order the
// answers arrived. Numeric Ids (the common case) are sorted as numbers;
// otherwise by time, then Id.
func sortLogEntries(evs []bmc.Event) {
	numeric := true
	ids := make(map[string]uint64, len(evs))
	for _, e := range evs {
		n, err := strconv.ParseUint(e.ID, 10, 64)
		if err != nil {
			numeric = false
			break
		}
		ids[e.ID] = n
	}
	slices.SortStableFunc(evs, func(a, b bmc.Event) int {
		if numeric {
			return cmp.Compare(ids[a.ID], ids[b.ID])
		}
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}
