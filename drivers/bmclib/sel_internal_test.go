package bmclib

import (
	"fmt"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/internal/ipmisim"
)

// TestSELTablesMatchIpmitool adds one SEL record for every sensor-specific
// offset, threshold and severity in the tables to ipmi_sim and checks that
// the driver reads each back with the codes it was written with: the
// tables are ipmitool's words, not guesses.
func TestSELTablesMatchIpmitool(t *testing.T) {
	t.Parallel()
	sim := ipmisim.Start(t)
	var want []ipmisim.SELRecord
	for _, s := range ipmitoolSensorSpecific {
		want = append(want, ipmisim.SELRecord{SensorType: s.sensorType, SensorNumber: 1, EventType: 0x6f, Offset: s.offset})
	}
	for off := range ipmitoolThreshold {
		want = append(want, ipmisim.SELRecord{SensorType: 0x01, SensorNumber: 2, EventType: 0x01, Offset: uint8(off)})
	}
	for _, g := range ipmitoolGeneric {
		want = append(want, ipmisim.SELRecord{SensorType: 0x07, SensorNumber: 3, EventType: g.eventType, Offset: g.offset})
	}
	want = append(want, ipmisim.SELRecord{SensorType: 0x0c, SensorNumber: 4, EventType: 0x6f, Offset: 1, Deassert: true})
	sim.AddSEL(t, want...)
	d, err := New(sim.Host, ipmisim.User, ipmisim.Password, WithProviders(ProviderIPMI), WithIPMIPort(sim.Port), WithCallTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	evs, cur, err := d.Events(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != len(want) {
		t.Fatalf("read %d records, wrote %d", len(evs), len(want))
	}
	for i, w := range want {
		e := evs[i]
		if e.SensorType != w.SensorType || e.EventType != w.EventType || e.Offset != w.Offset || e.Asserted == w.Deassert {
			t.Errorf("record %d %q: read type %#x event %#x offset %#x asserted %v; wrote %+v", i, e.Raw, e.SensorType, e.EventType, e.Offset, e.Asserted, w)
		}
		if e.ID == "" || e.Raw == "" || e.Message == "" || e.Severity == "" {
			t.Errorf("record %d incomplete: %+v", i, e)
		}
	}
	if cur != cursorOf(evs[len(evs)-1]) {
		t.Errorf("cursor %q does not name the last record", cur)
	}
}

func TestParseSELList(t *testing.T) {
	t.Parallel()
	raw := "Get SDR 0000 command failed: Requested sensor, data, or record not found\n" +
		"   1 | 11/26/2026 | 03:56:20 | Processor #0x01 | IERR | Asserted\n" +
		"  1a | Pre-Init  |0000000572| Memory #0x02 | Correctable ECC | Deasserted\n" +
		"  1b | 11/26/2026 | 03:57:00 | Power Supply PSU2 | Failure detected | Asserted | OEM data 01\n" +
		"  1c | 11/26/2026 | 03:58:00 | Unknown #0xd0 |  | Asserted\n" +
		"garbage | x | y | z | w | v\n"
	evs := ParseSELList(raw)
	if len(evs) != 4 {
		t.Fatalf("parsed %d records, want 4: %+v", len(evs), evs)
	}
	if e := evs[0]; e.ID != "1" || !e.Time.Equal(time.Date(2026, 11, 26, 3, 56, 20, 0, time.UTC)) || e.SensorType != 0x07 ||
		e.EventType != 0x6f || e.Offset != 0 || !e.Asserted || e.Severity != bmc.SeverityCritical {
		t.Errorf("IERR record: %+v", e)
	}
	if e := evs[1]; !e.Time.IsZero() || e.Asserted || e.SensorType != 0x0c || e.Severity != bmc.SeverityOK {
		t.Errorf("pre-init deassertion: %+v", e)
	}
	if e := evs[2]; e.SensorType != 0x08 || e.Offset != 1 || e.Message != "Power Supply PSU2: Failure detected (OEM data 01)" {
		t.Errorf("named PSU sensor: %+v", e)
	}
	if ft, ok := bmc.Classify(evs[3]); !ok || ft != bmc.FaultOther {
		t.Errorf("unknown record classified %q, %v; want other", ft, ok)
	}
}

func TestEventsAfterCursor(t *testing.T) {
	t.Parallel()
	mk := func(ids ...string) []bmc.Event {
		var out []bmc.Event
		for _, id := range ids {
			out = append(out, bmc.Event{ID: id, Raw: "record " + id})
		}
		return out
	}
	log := mk("1", "2", "3")
	out, cur := eventsAfter(log, "")
	if len(out) != 3 || cur != cursorOf(log[2]) {
		t.Fatalf("from the beginning: %d, %q", len(out), cur)
	}
	out, next := eventsAfter(log, cur)
	if len(out) != 0 || next != cur {
		t.Fatalf("nothing new: %d, %q", len(out), next)
	}
	out, _ = eventsAfter(mk("1", "2", "3", "4"), cur)
	if len(out) != 1 || out[0].ID != "4" {
		t.Fatalf("one new: %+v", out)
	}
	// Cleared and refilled up to the same id with other records: restart.
	refilled := []bmc.Event{{ID: "1", Raw: "new 1"}, {ID: "2", Raw: "new 2"}, {ID: "3", Raw: "new 3"}}
	out, _ = eventsAfter(refilled, cur)
	if len(out) != 3 {
		t.Fatalf("refilled log: %d records, want all 3", len(out))
	}
}

func FuzzParseSELList(f *testing.F) {
	f.Add("   1 | 11/26/2026 | 03:56:20 | Processor #0x01 | IERR | Asserted\n")
	f.Add(" ff | Pre-Init |0000000001| Watchdog2 #0x04 | Hard reset | Asserted | x | y\n")
	f.Fuzz(func(t *testing.T, raw string) {
		for _, e := range ParseSELList(raw) {
			if e.ID == "" {
				t.Fatal("record without ID")
			}
			if ft, ok := bmc.Classify(e); ok && ft == "" {
				t.Fatal("fault without type")
			}
		}
	})
}

func ExampleParseSELList() {
	evs := ParseSELList("  2a | 11/26/2026 | 03:56:20 | Memory #0x02 | Uncorrectable ECC | Asserted\n")
	ft, _ := bmc.Classify(evs[0])
	fmt.Printf("%s type=%#x offset=%d severity=%s fault=%s\n", evs[0].ID, evs[0].SensorType, evs[0].Offset, evs[0].Severity, ft)
	// Output: 2a type=0xc offset=1 severity=Critical fault=memory
}

func TestDumpingRule(t *testing.T) {
	sel := func(st, off uint8) bmc.Event {
		return bmc.Event{SensorType: st, EventType: 0x6f, Offset: off, Asserted: true}
	}
	rf := func(id string) bmc.Event { return bmc.Event{MessageID: id, Asserted: true} }
	deassert := sel(0x20, 0x01)
	deassert.Asserted = false
	for name, c := range map[string]struct {
		log  []bmc.Event
		want bool
	}{
		"empty":                     {nil, false},
		"panic":                     {[]bmc.Event{sel(0x1d, 0), sel(0x20, 0x01)}, true},
		"panic then reboot":         {[]bmc.Event{sel(0x20, 0x01), sel(0x1d, 0x02)}, false},
		"software NMI":              {[]bmc.Event{sel(0x13, 0x03)}, true},
		"PCI SERR is no dump":       {[]bmc.Event{sel(0x13, 0x05)}, false},
		"deassertion is no dump":    {[]bmc.Event{deassert}, false},
		"graceful stop after panic": {[]bmc.Event{sel(0x20, 0x01), sel(0x20, 0x03)}, false},
		"Redfish crash dump":        {[]bmc.Event{rf("OpenBMC.0.1.SystemBoot"), rf("Vendor.1.0.CrashDumpStarted")}, true},
		"Redfish dump then boot":    {[]bmc.Event{rf("Vendor.1.0.CrashDumpStarted"), rf("OpenBMC.0.1.SystemBoot")}, false},
	} {
		if got := dumping(c.log); got != c.want {
			t.Errorf("%s: dumping = %v, want %v", name, got, c.want)
		}
	}
}

// BenchmarkParseSELList parses a full 1000-record SEL, as Events does on
// every poll of a busy BMC.
func BenchmarkParseSELList(b *testing.B) {
	var raw []byte
	for i := 1; i <= 1000; i++ {
		raw = fmt.Appendf(raw, "%4x | 11/26/2026 | 03:56:20 | Memory #0x%02x | Correctable ECC | Asserted\n", i, i%256)
	}
	s := string(raw)
	b.ReportAllocs()
	for b.Loop() {
		if evs := ParseSELList(s); len(evs) != 1000 {
			b.Fatal(len(evs))
		}
	}
}
