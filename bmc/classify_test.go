package bmc_test

import (
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
)

func ipmi(st, et, off uint8) bmc.Event {
	return bmc.Event{ID: "1", SensorType: st, EventType: et, Offset: off, Asserted: true}
}

func TestClassify(t *testing.T) {
	deasserted := ipmi(0x07, 0x6f, 0x00)
	deasserted.Asserted = false
	redfish := func(id string, sev bmc.Severity) bmc.Event {
		return bmc.Event{ID: "9", MessageID: id, Severity: sev, Asserted: true}
	}
	withOrigin := redfish("ResourceEvent.1.0.ResourceErrorsDetected", bmc.SeverityCritical)
	withOrigin.SensorName = "/redfish/v1/Systems/1/Processors/CPU1"
	sensorCritical := bmc.Event{ID: "3", SensorType: 0x08, Severity: bmc.SeverityCritical, Asserted: true, MessageID: "Vendor.1.0.X0042"}
	for _, c := range []struct {
		name  string
		e     bmc.Event
		want  bmc.FaultType
		fault bool
	}{
		{"processor IERR", ipmi(0x07, 0x6f, 0x00), bmc.FaultProcessor, true},
		{"processor thermal trip", ipmi(0x07, 0x6f, 0x01), bmc.FaultProcessor, true},
		{"processor uncorrectable machine check", ipmi(0x07, 0x6f, 0x0b), bmc.FaultProcessor, true},
		{"processor correctable machine check", ipmi(0x07, 0x6f, 0x0c), bmc.FaultCorrectable, true},
		{"processor presence", ipmi(0x07, 0x6f, 0x07), "", false},
		{"memory uncorrectable ECC", ipmi(0x0c, 0x6f, 0x01), bmc.FaultMemory, true},
		{"memory parity", ipmi(0x0c, 0x6f, 0x02), bmc.FaultMemory, true},
		{"memory correctable ECC", ipmi(0x0c, 0x6f, 0x00), bmc.FaultCorrectable, true},
		{"PSU failure", ipmi(0x08, 0x6f, 0x01), bmc.FaultPowerSupply, true},
		{"PSU AC lost", ipmi(0x08, 0x6f, 0x03), bmc.FaultPowerSupply, true},
		{"PSU predictive failure", ipmi(0x08, 0x6f, 0x02), bmc.FaultCorrectable, true},
		{"PSU presence", ipmi(0x08, 0x6f, 0x00), "", false},
		{"power unit AC lost", ipmi(0x09, 0x6f, 0x04), bmc.FaultPowerLost, true},
		{"power unit power off (may be requested)", ipmi(0x09, 0x6f, 0x00), "", false},
		{"ACPI G3 mechanical off", ipmi(0x22, 0x6f, 0x07), bmc.FaultPowerLost, true},
		{"watchdog 2 hard reset", ipmi(0x23, 0x6f, 0x01), bmc.FaultWatchdog, true},
		{"watchdog 2 expired", ipmi(0x23, 0x6f, 0x00), bmc.FaultWatchdog, true},
		{"watchdog 2 pre-timeout", ipmi(0x23, 0x6f, 0x08), bmc.FaultCorrectable, true},
		{"OS run-time critical stop", ipmi(0x20, 0x6f, 0x01), bmc.FaultOSStop, true},
		{"OS graceful shutdown", ipmi(0x20, 0x6f, 0x03), "", false},
		{"PCI SERR is a bus error", ipmi(0x13, 0x6f, 0x05), bmc.FaultBus, true},
		{"bus fatal error", ipmi(0x13, 0x6f, 0x0a), bmc.FaultBus, true},
		{"front panel NMI is requested", ipmi(0x13, 0x6f, 0x00), "", false},
		{"temperature upper critical", ipmi(0x01, 0x01, 0x09), bmc.FaultTemperature, true},
		{"temperature upper non-recoverable", ipmi(0x01, 0x01, 0x0b), bmc.FaultTemperature, true},
		{"temperature upper non-critical", ipmi(0x01, 0x01, 0x07), bmc.FaultCorrectable, true},
		{"voltage lower critical", ipmi(0x02, 0x01, 0x02), bmc.FaultPowerSupply, true},
		{"fan lower critical is reported only", ipmi(0x04, 0x01, 0x02), bmc.FaultCorrectable, true},
		{"generic severity critical on memory", ipmi(0x0c, 0x07, 0x02), bmc.FaultMemory, true},
		{"OS boot completed", ipmi(0x1f, 0x6f, 0x01), "", false},
		{"log cleared", ipmi(0x10, 0x6f, 0x02), "", false},
		{"deassertion", deasserted, "", false},
		{"OEM sensor type", ipmi(0xc0, 0x70, 0x01), bmc.FaultOther, true},
		{"unknown event type on a known sensor", ipmi(0x07, 0x03, 0x01), bmc.FaultOther, true},
		{"record without any code", bmc.Event{ID: "x", Raw: "garbage"}, bmc.FaultOther, true},
		{"OpenBMC CPU error", redfish("OpenBMC.0.1.CPUError", bmc.SeverityCritical), bmc.FaultProcessor, true},
		{"OpenBMC uncorrectable ECC", redfish("OpenBMC.0.1.MemoryECCUncorrectable", bmc.SeverityCritical), bmc.FaultMemory, true},
		{"OpenBMC correctable ECC", redfish("OpenBMC.0.1.MemoryECCCorrectable", bmc.SeverityWarning), bmc.FaultCorrectable, true},
		{"PSU failed", redfish("OpenBMC.0.1.PowerSupplyFailed", bmc.SeverityCritical), bmc.FaultPowerSupply, true},
		{"PSU failure cleared", redfish("OpenBMC.0.1.PowerSupplyFailureCleared", bmc.SeverityOK), "", false},
		{"system power lost", redfish("OpenBMC.0.1.SystemPowerLost", bmc.SeverityCritical), bmc.FaultPowerLost, true},
		{"watchdog", redfish("OpenBMC.0.1.IPMIWatchdog", bmc.SeverityCritical), bmc.FaultWatchdog, true},
		{"temperature", redfish("Event.1.0.TempWayTooHot", bmc.SeverityCritical), bmc.FaultTemperature, true},
		{"resource errors on a processor", withOrigin, bmc.FaultProcessor, true},
		{"resource errors on nothing known", redfish("ResourceEvent.1.0.ResourceErrorsDetected", bmc.SeverityCritical), bmc.FaultOther, true},
		{"status changed OK", redfish("ResourceEvent.1.0.ResourceStatusChangedOK", bmc.SeverityOK), "", false},
		{"unknown message, critical", redfish("Vendor.1.0.Xyz", bmc.SeverityCritical), bmc.FaultOther, true},
		{"unknown message, OK", redfish("Vendor.1.0.Xyz", bmc.SeverityOK), "", false},
		{"unknown message on a PSU sensor", sensorCritical, bmc.FaultPowerSupply, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, fault := bmc.Classify(c.e)
			if got != c.want || fault != c.fault {
				t.Errorf("Classify = %q, %v; want %q, %v", got, fault, c.want, c.fault)
			}
		})
	}
}

// Every IPMI record is either a fault or knowingly informational; nothing
// panics, and unknown sensor types are never dropped.
func TestClassifyNeverDropsUnknownIPMI(t *testing.T) {
	for st := 0; st < 256; st++ {
		for _, et := range []uint8{0x01, 0x03, 0x07, 0x6f, 0x70} {
			for off := uint8(0); off < 16; off++ {
				e := ipmi(uint8(st), et, off)
				ft, fault := bmc.Classify(e)
				if fault && ft == "" {
					t.Fatalf("%+v: fault without a type", e)
				}
				if st >= 0xc0 && (et == 0x6f || et == 0x70) && !fault {
					t.Fatalf("OEM sensor type %#x dropped", st)
				}
			}
		}
	}
}

func TestSeverityOf(t *testing.T) {
	if s := bmc.SeverityOf(ipmi(0x07, 0x6f, 0x00)); s != bmc.SeverityCritical {
		t.Errorf("IERR severity %s", s)
	}
	if s := bmc.SeverityOf(ipmi(0x0c, 0x6f, 0x00)); s != bmc.SeverityWarning {
		t.Errorf("correctable ECC severity %s", s)
	}
	if s := bmc.SeverityOf(ipmi(0x1f, 0x6f, 0x01)); s != bmc.SeverityOK {
		t.Errorf("OS boot severity %s", s)
	}
}

func TestFaultFromEvent(t *testing.T) {
	now := time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC)
	e := ipmi(0x0c, 0x6f, 0x01)
	e.Message = "Memory #0x02: Uncorrectable ECC"
	f, ok := bmc.FaultFromEvent("r12-07", e, nil, now)
	if !ok || f.Server != "r12-07" || f.Type != bmc.FaultMemory || !f.Time.Equal(now) || f.Event == nil || f.Event.ID != "1" {
		t.Fatalf("FaultFromEvent = %+v, %v", f, ok)
	}
	if _, ok := bmc.FaultFromEvent("r12-07", ipmi(0x1f, 0x6f, 0x01), nil, now); ok {
		t.Error("OS boot completed became a fault")
	}
	custom := func(bmc.Event) (bmc.FaultType, bool) { return "my-type", true }
	if f, _ := bmc.FaultFromEvent("s", ipmi(0x1f, 0x6f, 0x01), custom, now); f.Type != "my-type" {
		t.Errorf("custom classifier ignored: %q", f.Type)
	}
}

func BenchmarkClassify(b *testing.B) {
	evs := []bmc.Event{ipmi(0x07, 0x6f, 0x00), ipmi(0x0c, 0x6f, 0x00), ipmi(0x01, 0x01, 0x09),
		{ID: "1", MessageID: "OpenBMC.0.1.MemoryECCUncorrectable", Severity: bmc.SeverityCritical, Asserted: true}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		bmc.Classify(evs[i%len(evs)])
	}
}
