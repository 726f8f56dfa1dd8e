package bmc_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
)

// realMessages are message keys of published registries with the
// severity the registry gives them, and the fault a record of that
// severity (without any other hint) must give: "" for none.
var realMessages = []struct {
	id   string
	sev  bmc.Severity
	want bmc.FaultType
}{
	// DMTF Base 1.x: outcomes of requests, never hardware faults.
	{"Base.1.0.Success", bmc.SeverityOK, ""},
	{"Base.1.0.SettingsFailed", bmc.SeverityWarning, bmc.FaultOther},
	{"Base.1.0.PropertyNotWritable", bmc.SeverityWarning, bmc.FaultOther},
	{"Base.1.8.InternalError", bmc.SeverityCritical, bmc.FaultOther},
	{"Base.1.9.ConditionInRelatedResource", bmc.SeverityWarning, bmc.FaultOther},
	{"Base.1.18.ResourceNotFound", bmc.SeverityCritical, bmc.FaultOther},
	// DMTF ResourceEvent 1.3.
	{"ResourceEvent.1.3.ResourceCreated", bmc.SeverityOK, ""},
	{"ResourceEvent.1.3.ResourceErrorsCorrected", bmc.SeverityOK, ""},
	{"ResourceEvent.1.3.ResourceErrorsDetected", bmc.SeverityWarning, bmc.FaultOther},
	{"ResourceEvent.1.3.ResourceErrorThresholdExceeded", bmc.SeverityCritical, bmc.FaultOther},
	{"ResourceEvent.1.3.ResourceStatusChangedCritical", bmc.SeverityCritical, bmc.FaultOther},
	{"ResourceEvent.1.3.ResourceStatusChangedOK", bmc.SeverityOK, ""},
	{"ResourceEvent.1.3.ResourcePoweredOff", bmc.SeverityOK, ""},
	{"ResourceEvent.1.3.TestMessage", bmc.SeverityOK, ""},
	{"ResourceEvent.1.3.LicenseExpired", bmc.SeverityWarning, bmc.FaultOther},
	// DMTF Platform 1.0.
	{"Platform.1.0.OperatingSystemCrash", bmc.SeverityCritical, bmc.FaultOSStop},
	{"Platform.1.0.PlatformError", bmc.SeverityWarning, bmc.FaultOther},
	{"Platform.1.0.UnhandledExceptionDetectedAfterReset", bmc.SeverityCritical, bmc.FaultOther},
	// DMTF Power 1.0.
	{"Power.1.0.PowerSupplyInserted", bmc.SeverityOK, ""},
	{"Power.1.0.PowerSupplyRemoved", bmc.SeverityOK, ""},
	{"Power.1.0.PowerSupplyRestored", bmc.SeverityOK, ""},
	{"Power.1.0.PowerSupplyFailed", bmc.SeverityWarning, bmc.FaultCorrectable},
	{"Power.1.0.PowerSupplyPredictiveFailure", bmc.SeverityWarning, bmc.FaultCorrectable},
	{"Power.1.0.PowerSupplyGroupCritical", bmc.SeverityCritical, bmc.FaultPowerSupply},
	{"Power.1.0.VoltageBelowLowerFatalThreshold", bmc.SeverityCritical, bmc.FaultPowerSupply},
	{"Power.1.0.VoltageNormal", bmc.SeverityOK, ""},
	{"Power.1.0.OutletPoweredOff", bmc.SeverityOK, ""},
	// DMTF Environmental 1.0.
	{"Environmental.1.0.TemperatureAboveUpperCriticalThreshold", bmc.SeverityCritical, bmc.FaultTemperature},
	{"Environmental.1.0.TemperatureAboveUpperCautionThreshold", bmc.SeverityWarning, bmc.FaultCorrectable},
	{"Environmental.1.0.TemperatureNormal", bmc.SeverityOK, ""},
	{"Environmental.1.0.FanFailed", bmc.SeverityWarning, bmc.FaultCorrectable},
	{"Environmental.1.0.FanGroupCritical", bmc.SeverityCritical, bmc.FaultTemperature},
	{"Environmental.1.0.FanRestored", bmc.SeverityOK, ""},
	{"Environmental.1.0.LeakDetectedCritical", bmc.SeverityCritical, bmc.FaultOther},
	// DMTF SensorEvent 1.0: the sensor's resource tells the type.
	{"SensorEvent.1.0.ReadingAboveUpperCriticalThreshold", bmc.SeverityCritical, bmc.FaultOther},
	{"SensorEvent.1.0.ReadingAboveUpperCautionThreshold", bmc.SeverityWarning, bmc.FaultOther},
	{"SensorEvent.1.0.SensorReadingNormalRange", bmc.SeverityOK, ""},
	{"SensorEvent.1.0.SensorFailure", bmc.SeverityWarning, bmc.FaultCorrectable},
	// DMTF StorageDevice 1.2: local storage; the boot disks are on the SAN.
	{"StorageDevice.1.2.DriveFailure", bmc.SeverityCritical, bmc.FaultCorrectable},
	{"StorageDevice.1.2.DriveInserted", bmc.SeverityOK, ""},
	{"StorageDevice.1.2.ControllerFailure", bmc.SeverityCritical, bmc.FaultCorrectable},
	// DMTF TaskEvent 1.0.
	{"TaskEvent.1.0.TaskAborted", bmc.SeverityCritical, bmc.FaultOther},
	{"TaskEvent.1.0.TaskCompletedOK", bmc.SeverityOK, ""},
	// OpenBMC.
	{"OpenBMC.0.1.CPUError", bmc.SeverityCritical, bmc.FaultProcessor},
	{"OpenBMC.0.1.CPUThermalTrip", bmc.SeverityCritical, bmc.FaultProcessor},
	{"OpenBMC.0.1.CPUMismatch", bmc.SeverityCritical, bmc.FaultProcessor},
	{"OpenBMC.0.1.MemoryECCUncorrectable", bmc.SeverityCritical, bmc.FaultMemory},
	{"OpenBMC.0.1.MemoryECCCorrectable", bmc.SeverityWarning, bmc.FaultCorrectable},
	{"OpenBMC.0.1.MemoryParityNotKnown", bmc.SeverityCritical, bmc.FaultMemory},
	{"OpenBMC.0.1.MemoryRASConfigurationEnabled", bmc.SeverityOK, ""},
	{"OpenBMC.0.1.MemoryRASModeEnabled", bmc.SeverityOK, ""},
	{"OpenBMC.0.1.MemoryThermTrip", bmc.SeverityCritical, bmc.FaultMemory},
	{"OpenBMC.0.1.PowerSupplyInserted", bmc.SeverityOK, ""},
	{"OpenBMC.0.1.PowerSupplyFailed", bmc.SeverityWarning, bmc.FaultCorrectable},
	{"OpenBMC.0.1.PowerSupplyPowerGoodFailed", bmc.SeverityCritical, bmc.FaultPowerSupply},
	{"OpenBMC.0.1.PowerUnitRedundancyRegained", bmc.SeverityOK, ""},
	{"OpenBMC.0.1.PowerUnitNonRedundantInsufficient", bmc.SeverityCritical, bmc.FaultPowerSupply},
	{"OpenBMC.0.1.SystemPowerLost", bmc.SeverityCritical, bmc.FaultPowerLost},
	{"OpenBMC.0.1.SystemPowerGoodFailed", bmc.SeverityCritical, bmc.FaultPowerSupply},
	{"OpenBMC.0.1.IPMIWatchdog", bmc.SeverityOK, ""},
	{"OpenBMC.0.1.PCIeFatalCompletionTimeout", bmc.SeverityCritical, bmc.FaultBus},
	{"OpenBMC.0.1.PCIeCorrectableBadTLP", bmc.SeverityWarning, bmc.FaultCorrectable},
	{"OpenBMC.0.1.LegacyPCISERR", bmc.SeverityCritical, bmc.FaultBus},
	{"OpenBMC.0.1.ComponentOverTemperature", bmc.SeverityCritical, bmc.FaultTemperature},
	{"OpenBMC.0.1.SsbThermalTrip", bmc.SeverityCritical, bmc.FaultTemperature},
	{"OpenBMC.0.1.DCPowerOn", bmc.SeverityOK, ""},
	{"OpenBMC.0.1.FanRedundancyRegained", bmc.SeverityOK, ""},
	{"OpenBMC.0.1.AtScaleDebugConnected", bmc.SeverityCritical, bmc.FaultOther},
	{"OpenBMC.0.1.FirmwareUpdateFailed", bmc.SeverityWarning, bmc.FaultOther},
	{"OpenBMC.0.1.SensorThresholdCriticalHighGoingHigh", bmc.SeverityCritical, bmc.FaultOther},
	{"OpenBMC.0.1.SensorThresholdCriticalHighGoingLow", bmc.SeverityOK, ""},
	// HPE iLO 6 iLOEvents.
	{"iLOEvents.2.1.ProcessorStatusFailed", bmc.SeverityCritical, bmc.FaultProcessor},
	{"iLOEvents.2.1.ProcessorStatusDegraded", bmc.SeverityWarning, bmc.FaultCorrectable},
	{"iLOEvents.2.1.SeCpuUncorrectableError", bmc.SeverityCritical, bmc.FaultProcessor},
	{"iLOEvents.2.1.PowerSupplyFailed", bmc.SeverityCritical, bmc.FaultPowerSupply},
	{"iLOEvents.2.1.PowerFailureErrorInputPowerLoss", bmc.SeverityCritical, bmc.FaultPowerLost},
	{"iLOEvents.2.1.ThermalStatusFailure", bmc.SeverityCritical, bmc.FaultTemperature},
	{"iLOEvents.2.1.NvdimmUncorrectableMemoryError", bmc.SeverityCritical, bmc.FaultMemory},
	{"iLOEvents.2.1.IPMIWatchdogTimerReset", bmc.SeverityWarning, bmc.FaultCorrectable},
	{"iLOEvents.2.1.FanFailed", bmc.SeverityCritical, bmc.FaultCorrectable},
	{"iLOEvents.2.1.DrvArrControllerOK", bmc.SeverityOK, ""},
	{"iLOEvents.2.1.OSSecurityHeartbeat", bmc.SeverityCritical, bmc.FaultOther},
}

var faultTypes = []bmc.FaultType{
	bmc.FaultProcessor, bmc.FaultMemory, bmc.FaultPowerSupply, bmc.FaultWatchdog, bmc.FaultOSStop,
	bmc.FaultPowerLost, bmc.FaultTemperature, bmc.FaultBus, bmc.FaultCorrectable, bmc.FaultOther,
}

func hard(t bmc.FaultType) bool {
	return t != "" && t != bmc.FaultCorrectable && t != bmc.FaultOther
}

func TestClassifyRealMessages(t *testing.T) {
	for _, m := range realMessages {
		got, fault := bmc.Classify(redfish(m.id, m.sev))
		if got != m.want || fault != (m.want != "") {
			t.Errorf("Classify(%s, %s) = %q, %v; want %q", m.id, m.sev, got, fault, m.want)
		}
		// Without a severity in the record, the registry's applies.
		if got, _ := bmc.Classify(redfish(m.id, "")); got != m.want {
			t.Errorf("Classify(%s, no severity) = %q; want %q (the registry says %s)", m.id, got, m.want, m.sev)
		}
	}
}

// checkClassification holds for every record: OK is never a fault, a
// Warning or Critical record always is (never dropped), a Warning record
// never fails a server over, and the type is one of the package's.
func checkClassification(t *testing.T, e bmc.Event) (bmc.FaultType, bool) {
	t.Helper()
	got, fault := bmc.Classify(e)
	switch {
	case fault != (got != ""):
		t.Fatalf("Classify(%+v) = %q, %v: a fault needs a type and only a fault has one", e, got, fault)
	case fault && !slices.Contains(faultTypes, got):
		t.Fatalf("Classify(%+v) = %q: not a known fault type", e, got)
	case e.Severity == bmc.SeverityOK && fault:
		t.Fatalf("Classify(%+v) = %q: an OK record is never a fault", e, got)
	case e.EventType == 0 && (e.Severity == bmc.SeverityWarning || e.Severity == bmc.SeverityCritical) && !fault:
		t.Fatalf("Classify(%+v) dropped a %s record", e, e.Severity)
	case e.EventType == 0 && e.Severity == bmc.SeverityWarning && hard(got):
		t.Fatalf("Classify(%+v) = %q: a Warning record fails a server over", e, got)
	}
	return got, fault
}

var severities = []bmc.Severity{"", bmc.SeverityOK, bmc.SeverityWarning, bmc.SeverityCritical}

// FuzzClassify checks Classify on the real keys, with every severity,
// versions, resource paths, sensor types and changed keys the fuzzer
// picks, and on arbitrary MessageIds.
func FuzzClassify(f *testing.F) {
	for i := range realMessages {
		f.Add(uint(i), uint8(3), "1.0", "", uint8(0), "", "")
		f.Add(uint(i), uint8(2), "2.1.4", "/redfish/v1/Systems/1/Processors/CPU1", uint8(0), "Un", "")
	}
	f.Add(uint(0), uint8(1), "1.0", "/redfish/v1/Chassis/1U/Thermal", uint8(0x08), "", "Abnormal")
	f.Add(uint(0), uint8(3), "", "/redfish/v1/Systems/1/Memory/DIMM0", uint8(0x0c), "X", "Unsuccessful")
	f.Fuzz(func(t *testing.T, idx uint, sevIdx uint8, version, origin string, sensorType uint8, prefix, suffix string) {
		m := realMessages[idx%uint(len(realMessages))]
		sev := severities[sevIdx%uint8(len(severities))]
		reg, key, ok := bmc.ParseMessageID(m.id)
		if !ok {
			t.Fatalf("table entry %q does not parse", m.id)
		}
		id := reg + "." + key
		if version != "" {
			id = reg + "." + version + "." + key
		}
		e := bmc.Event{ID: "1", MessageID: id, Severity: sev, SensorName: origin, SensorType: sensorType, Asserted: true}
		got, fault := checkClassification(t, e)

		// A well-formed MessageId of a real key, with the record's own
		// severity (or none) and nothing else, gives the key's fault,
		// whatever the version.
		if r, k, ok := bmc.ParseMessageID(id); ok && r == reg && k == key && origin == "" && sensorType == 0 &&
			(sev == m.sev || sev == "") && (got != m.want || fault != (m.want != "")) {
			t.Fatalf("Classify(%s, %q) = %q, %v; want %q", id, sev, got, fault, m.want)
		}
		// A hard fault of a key that names its component does not depend
		// on the resource or sensor the record is about.
		if sev == bmc.SeverityCritical && m.sev == bmc.SeverityCritical && hard(m.want) {
			if _, _, ok := bmc.ParseMessageID(id); ok && got != m.want {
				t.Fatalf("Classify(%s, Critical, origin %q, sensor %#x) = %q; want %q", id, origin, sensorType, got, m.want)
			}
		}

		// Another key around the real one is another message: never
		// dropped when Warning or Critical, never a fault when OK.
		if prefix != "" || suffix != "" {
			e.MessageID = reg + ".1.0." + prefix + key + suffix
			checkClassification(t, e)
		}
		// Arbitrary MessageIds, as a BMC may send anything.
		e.MessageID = prefix + version + suffix + origin
		checkClassification(t, e)
		if strings.TrimSpace(e.MessageID) == "" {
			e.MessageID = ""
			checkClassification(t, e)
		}
	})
}
