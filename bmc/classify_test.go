package bmc_test

import (
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
)

func ipmi(st, et, off uint8) bmc.Event {
	return bmc.Event{ID: "1", SensorType: st, EventType: et, Offset: off, Asserted: true}
}

func redfish(id string, sev bmc.Severity) bmc.Event {
	return bmc.Event{ID: "9", MessageID: id, Severity: sev, Asserted: true}
}

func redfishAbout(id string, sev bmc.Severity, origin string) bmc.Event {
	e := redfish(id, sev)
	e.SensorName = origin
	return e
}

func TestClassify(t *testing.T) {
	deasserted := ipmi(0x07, 0x6f, 0x00)
	deasserted.Asserted = false
	okIERR := ipmi(0x07, 0x6f, 0x00)
	okIERR.Severity = bmc.SeverityOK
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
		{"IPMI record marked OK", okIERR, "", false},
		{"OEM sensor type", ipmi(0xc0, 0x70, 0x01), bmc.FaultOther, true},
		{"unknown event type on a known sensor", ipmi(0x07, 0x03, 0x01), bmc.FaultOther, true},
		{"record without any code", bmc.Event{ID: "x", Raw: "garbage"}, bmc.FaultOther, true},
		{"OpenBMC CPU error", redfish("OpenBMC.0.1.CPUError", bmc.SeverityCritical), bmc.FaultProcessor, true},
		{"OpenBMC uncorrectable ECC", redfish("OpenBMC.0.1.MemoryECCUncorrectable", bmc.SeverityCritical), bmc.FaultMemory, true},
		{"OpenBMC correctable ECC", redfish("OpenBMC.0.1.MemoryECCCorrectable", bmc.SeverityWarning), bmc.FaultCorrectable, true},
		{"PSU failed", redfish("OpenBMC.0.1.PowerSupplyFailed", bmc.SeverityCritical), bmc.FaultPowerSupply, true},
		{"PSU failed, but the BMC says Warning (redundant)", redfish("Power.1.0.PowerSupplyFailed", bmc.SeverityWarning), bmc.FaultCorrectable, true},
		{"PSU recovered", redfish("OpenBMC.0.1.PowerSupplyRecovered", bmc.SeverityOK), "", false},
		{"system power lost", redfish("OpenBMC.0.1.SystemPowerLost", bmc.SeverityCritical), bmc.FaultPowerLost, true},
		{"watchdog", redfish("OpenBMC.0.1.IPMIWatchdog", bmc.SeverityCritical), bmc.FaultWatchdog, true},
		{"OS crash", redfish("Platform.1.0.OperatingSystemCrash", bmc.SeverityCritical), bmc.FaultOSStop, true},
		{"temperature, by the resource it is about", redfishAbout("Event.1.0.TempWayTooHot", bmc.SeverityCritical, "/redfish/v1/Chassis/1U/Thermal"), bmc.FaultTemperature, true},
		{"unknown key is not guessed from its words", redfish("Event.1.0.TempWayTooHot", bmc.SeverityCritical), bmc.FaultOther, true},
		{"resource errors on a processor", redfishAbout("ResourceEvent.1.0.ResourceErrorThresholdExceeded", bmc.SeverityCritical, "/redfish/v1/Systems/1/Processors/CPU1"), bmc.FaultProcessor, true},
		{"resource errors on memory, Warning", redfishAbout("ResourceEvent.1.3.ResourceErrorsDetected", bmc.SeverityWarning, "/redfish/v1/Systems/1/Memory/DIMM3"), bmc.FaultCorrectable, true},
		{"resource errors on nothing known", redfish("ResourceEvent.1.0.ResourceErrorsDetected", bmc.SeverityCritical), bmc.FaultOther, true},
		{"resource path segments are matched whole", redfishAbout("ResourceEvent.1.0.ResourceStatusChangedCritical", bmc.SeverityCritical, "/redfish/v1/Systems/1/MemoryDomains/1"), bmc.FaultOther, true},
		{"status changed OK", redfish("ResourceEvent.1.0.ResourceStatusChangedOK", bmc.SeverityOK), "", false},
		{"known not-hardware key, Critical", redfishAbout("OpenBMC.0.1.AtScaleDebugConnected", bmc.SeverityCritical, "/redfish/v1/Systems/1/Processors/CPU0"), bmc.FaultOther, true},
		{"record without severity takes the registry's (OK)", redfish("Base.1.0.Success", ""), "", false},
		{"record without severity takes the registry's (Critical)", redfish("OpenBMC.0.1.CPUError", ""), bmc.FaultProcessor, true},
		{"unknown key without severity is never dropped", redfish("Vendor.1.0.Xyz", ""), bmc.FaultOther, true},
		{"unknown message, critical", redfish("Vendor.1.0.Xyz", bmc.SeverityCritical), bmc.FaultOther, true},
		{"unknown message, OK", redfish("Vendor.1.0.Xyz", bmc.SeverityOK), "", false},
		{"unknown message on a PSU sensor", sensorCritical, bmc.FaultPowerSupply, true},
		{"malformed MessageId, critical", redfish("0x592A28", bmc.SeverityCritical), bmc.FaultOther, true},
		{"iLO processor failed", redfish("iLOEvents.2.1.ProcessorStatusFailed", bmc.SeverityCritical), bmc.FaultProcessor, true},
		{"iLO key without version", redfish("iLOEvents.PowerSupplyFailed", bmc.SeverityCritical), bmc.FaultPowerSupply, true},
		{"registry errata version", redfish("TaskEvent.1.0.4.TaskCancelled", bmc.SeverityWarning), bmc.FaultOther, true},
		{"keys are case-sensitive", redfish("OpenBMC.0.1.cpuerror", bmc.SeverityCritical), bmc.FaultOther, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, fault := bmc.Classify(c.e)
			if got != c.want || fault != c.fault {
				t.Errorf("Classify = %q, %v; want %q, %v", got, fault, c.want, c.fault)
			}
		})
	}
}

// The review of issue 12 found words inside MessageIds matched before
// the severity: OK messages became faults and critical ones were dropped.
func TestClassifyDecidesBySeverityAndExactKey(t *testing.T) {
	for _, c := range []struct {
		name  string
		e     bmc.Event
		want  bmc.FaultType
		fault bool
	}{
		// Informational messages whose keys contain a component's name.
		{"PowerSupplyInserted", redfish("Power.1.0.PowerSupplyInserted", bmc.SeverityOK), "", false},
		{"MemoryRASConfigurationEnabled", redfish("OpenBMC.0.1.MemoryRASConfigurationEnabled", bmc.SeverityOK), "", false},
		{"PowerSupplyRedundancyRegained", redfish("Contoso.1.0.PowerSupplyRedundancyRegained", bmc.SeverityOK), "", false},
		{"CPUPresenceDetected", redfish("Contoso.1.0.CPUPresenceDetected", bmc.SeverityOK), "", false},
		// Critical messages whose keys contain "normal" or "success".
		{"CPUAbnormalShutdown", redfish("Contoso.1.0.CPUAbnormalShutdown", bmc.SeverityCritical), bmc.FaultOther, true},
		{"ProcessorAbnormal", redfish("Contoso.1.0.ProcessorAbnormal", bmc.SeverityCritical), bmc.FaultOther, true},
		{"MemoryTrainingUnsuccessful", redfish("Contoso.1.0.MemoryTrainingUnsuccessful", bmc.SeverityCritical), bmc.FaultOther, true},
		// With the resource they concern, they get its type.
		{"ProcessorAbnormal on a processor", redfishAbout("Contoso.1.0.ProcessorAbnormal", bmc.SeverityCritical, "/redfish/v1/Systems/1/Processors/CPU2"), bmc.FaultProcessor, true},
		{"MemoryTrainingUnsuccessful on a DIMM", redfishAbout("Contoso.1.0.MemoryTrainingUnsuccessful", bmc.SeverityCritical, "/redfish/v1/Systems/1/Memory/DIMM1"), bmc.FaultMemory, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, fault := bmc.Classify(c.e)
			if got != c.want || fault != c.fault {
				t.Errorf("Classify(%s, %s) = %q, %v; want %q, %v", c.e.MessageID, c.e.Severity, got, fault, c.want, c.fault)
			}
		})
	}
}

func TestParseMessageID(t *testing.T) {
	for _, c := range []struct {
		id, reg, key string
		ok           bool
	}{
		{"Base.1.0.Success", "Base", "Success", true},
		{"ResourceEvent.1.3.ResourceErrorsDetected", "ResourceEvent", "ResourceErrorsDetected", true},
		{"TaskEvent.1.0.4.TaskCancelled", "TaskEvent", "TaskCancelled", true},
		{"iLOEvents.ServerPoweredOff", "iLOEvents", "ServerPoweredOff", true},
		{"OpenBMC.0.1.CPUError", "OpenBMC", "CPUError", true},
		{"0x592A28", "", "", false},
		{"Success", "", "", false},
		{"", "", "", false},
		{".1.0.Key", "", "", false},
		{"Base.1.0.", "", "", false},
		{"Base.1..0.Key", "", "", false},
		{"Base.1.0.0.0.Key", "", "", false},
		{"Base.v1.Key", "", "", false},
		{"Base.1.0 .Key", "", "", false},
	} {
		reg, key, ok := bmc.ParseMessageID(c.id)
		if reg != c.reg || key != c.key || ok != c.ok {
			t.Errorf("ParseMessageID(%q) = %q, %q, %v; want %q, %q, %v", c.id, reg, key, ok, c.reg, c.key, c.ok)
		}
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

// BenchmarkClassifyRedfish classifies a mix of Redfish records: known
// keys, a key that takes its type from the resource, an OK record, an
// unknown key.
func BenchmarkClassifyRedfish(b *testing.B) {
	evs := []bmc.Event{
		redfish("OpenBMC.0.1.MemoryECCUncorrectable", bmc.SeverityCritical),
		redfishAbout("ResourceEvent.1.3.ResourceErrorsDetected", bmc.SeverityWarning, "/redfish/v1/Systems/1/Processors/CPU1"),
		redfish("Power.1.0.PowerSupplyInserted", bmc.SeverityOK),
		redfish("iLOEvents.2.1.ProcessorStatusFailed", bmc.SeverityCritical),
		redfishAbout("Vendor.1.0.SomethingUnknown", bmc.SeverityCritical, "/redfish/v1/Chassis/1U/Thermal"),
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		bmc.Classify(evs[i%len(evs)])
	}
}
