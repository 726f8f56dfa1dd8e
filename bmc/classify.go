package bmc

import (
	"fmt"
	"strings"
	"time"
)

// Classifier decides whether an event record is a fault and of which
// type. The second result is false for records that are known not to be
// faults (a deassertion, "presence detected", "OS boot completed");
// records it does not know must be FaultOther with true, never dropped.
// Classify is the default; Watcher and EventHandler take another through
// their options.
type Classifier func(Event) (FaultType, bool)

// IPMI codes the classifier uses (IPMI 2.0 tables 42-1, 42-2, 42-3).
const (
	ipmiThreshold      = 0x01 // event/reading type: generic threshold
	ipmiSeverity       = 0x07 // event/reading type: generic severity
	ipmiSensorSpecific = 0x6f // event/reading type: sensor-specific offsets

	stTemperature   = 0x01
	stVoltage       = 0x02
	stCurrent       = 0x03
	stFan           = 0x04
	stProcessor     = 0x07
	stPowerSupply   = 0x08
	stPowerUnit     = 0x09
	stMemory        = 0x0c
	stDriveSlot     = 0x0d
	stWatchdog1     = 0x11
	stSystemEvent   = 0x12
	stCritInterrupt = 0x13
	stChipSet       = 0x19
	stBootError     = 0x1e
	stOSStop        = 0x20
	stACPIPower     = 0x22
	stWatchdog2     = 0x23
	stMgmtHealth    = 0x28
	stBattery       = 0x29
)

// none marks a known record that is not a fault.
const none FaultType = ""

// sensorSpecificFaults maps (sensor type, offset) of sensor-specific
// events (event/reading type 6Fh) to fault types, following IPMI 2.0
// table 42-3. Pairs absent here are known, informational offsets when the
// sensor type is listed in sensorSpecificKnown, and FaultOther otherwise.
var sensorSpecificFaults = map[[2]uint8]FaultType{
	// Processor: IERR, thermal trip, FRB1/2/3, configuration error,
	// SM BIOS uncorrectable CPU-complex error, disabled, uncorrectable
	// machine check; throttled and correctable machine check are reported.
	{stProcessor, 0x00}: FaultProcessor,
	{stProcessor, 0x01}: FaultProcessor,
	{stProcessor, 0x02}: FaultProcessor,
	{stProcessor, 0x03}: FaultProcessor,
	{stProcessor, 0x04}: FaultProcessor,
	{stProcessor, 0x05}: FaultProcessor,
	{stProcessor, 0x06}: FaultProcessor,
	{stProcessor, 0x08}: FaultProcessor,
	{stProcessor, 0x0a}: FaultCorrectable,
	{stProcessor, 0x0b}: FaultProcessor,
	{stProcessor, 0x0c}: FaultCorrectable,
	// Power supply: failure, AC lost, AC lost or out of range; predictive
	// failure, out of range but present, configuration error and inactive
	// are reported.
	{stPowerSupply, 0x01}: FaultPowerSupply,
	{stPowerSupply, 0x02}: FaultCorrectable,
	{stPowerSupply, 0x03}: FaultPowerSupply,
	{stPowerSupply, 0x04}: FaultPowerSupply,
	{stPowerSupply, 0x05}: FaultCorrectable,
	{stPowerSupply, 0x06}: FaultCorrectable,
	{stPowerSupply, 0x07}: FaultCorrectable,
	// Power unit: interlock power down and AC lost take the server off
	// without anyone asking; failure detected is the unit's failure.
	// Power off/down, power cycle and 240VA power down are logged for
	// requested power actions too, so they are not faults.
	{stPowerUnit, 0x03}: FaultPowerLost,
	{stPowerUnit, 0x04}: FaultPowerLost,
	{stPowerUnit, 0x05}: FaultPowerSupply,
	{stPowerUnit, 0x06}: FaultPowerSupply,
	{stPowerUnit, 0x07}: FaultCorrectable,
	// Memory: uncorrectable ECC, parity, scrub failed, critical
	// overtemperature; correctable ECC and its logging limit, device
	// disabled, configuration error and throttling are reported.
	{stMemory, 0x00}: FaultCorrectable,
	{stMemory, 0x01}: FaultMemory,
	{stMemory, 0x02}: FaultMemory,
	{stMemory, 0x03}: FaultMemory,
	{stMemory, 0x04}: FaultCorrectable,
	{stMemory, 0x05}: FaultCorrectable,
	{stMemory, 0x07}: FaultCorrectable,
	{stMemory, 0x09}: FaultCorrectable,
	{stMemory, 0x0a}: FaultMemory,
	// Local drive slots: reported (the boot disks are on the SAN).
	{stDriveSlot, 0x01}: FaultCorrectable,
	{stDriveSlot, 0x02}: FaultCorrectable,
	{stDriveSlot, 0x05}: FaultCorrectable,
	{stDriveSlot, 0x06}: FaultCorrectable,
	{stDriveSlot, 0x08}: FaultCorrectable,
	// Watchdog 1 (deprecated) and watchdog 2: expiry and its action;
	// the pre-timeout interrupt is reported.
	{stWatchdog1, 0x00}: FaultWatchdog,
	{stWatchdog1, 0x01}: FaultWatchdog,
	{stWatchdog1, 0x02}: FaultWatchdog,
	{stWatchdog1, 0x03}: FaultWatchdog,
	{stWatchdog1, 0x04}: FaultWatchdog,
	{stWatchdog1, 0x05}: FaultWatchdog,
	{stWatchdog1, 0x06}: FaultWatchdog,
	{stWatchdog1, 0x07}: FaultCorrectable,
	{stWatchdog2, 0x00}: FaultWatchdog,
	{stWatchdog2, 0x01}: FaultWatchdog,
	{stWatchdog2, 0x02}: FaultWatchdog,
	{stWatchdog2, 0x03}: FaultWatchdog,
	{stWatchdog2, 0x08}: FaultCorrectable,
	// System event: undetermined system hardware failure.
	{stSystemEvent, 0x02}: FaultOther,
	// Critical interrupt: bus timeout, I/O channel check, PCI PERR/SERR,
	// EISA fail-safe timeout, bus uncorrectable, fatal NMI and bus fatal
	// error are bus errors; correctable and degraded bus errors are
	// reported. Front-panel and software NMIs are requested (a dump) and
	// not faults.
	{stCritInterrupt, 0x01}: FaultBus,
	{stCritInterrupt, 0x02}: FaultBus,
	{stCritInterrupt, 0x04}: FaultBus,
	{stCritInterrupt, 0x05}: FaultBus,
	{stCritInterrupt, 0x06}: FaultBus,
	{stCritInterrupt, 0x07}: FaultCorrectable,
	{stCritInterrupt, 0x08}: FaultBus,
	{stCritInterrupt, 0x09}: FaultBus,
	{stCritInterrupt, 0x0a}: FaultBus,
	{stCritInterrupt, 0x0b}: FaultCorrectable,
	// Chip set: soft power control failure, thermal trip.
	{stChipSet, 0x00}: FaultPowerSupply,
	{stChipSet, 0x01}: FaultTemperature,
	// Boot error: no bootable media, PXE server not found, ...
	{stBootError, 0x00}: FaultOther,
	{stBootError, 0x01}: FaultOther,
	{stBootError, 0x02}: FaultOther,
	{stBootError, 0x03}: FaultOther,
	{stBootError, 0x04}: FaultOther,
	// OS critical stop: error during start-up, run-time critical stop
	// (panic, bug check), agent not responding. Graceful stops are not
	// faults.
	{stOSStop, 0x00}: FaultOSStop,
	{stOSStop, 0x01}: FaultOSStop,
	{stOSStop, 0x05}: FaultOSStop,
	// ACPI power state: G3 mechanical off, S5 entered by override.
	{stACPIPower, 0x07}: FaultPowerLost,
	{stACPIPower, 0x0a}: FaultPowerLost,
	// Management subsystem health and battery: reported.
	{stMgmtHealth, 0x00}: FaultCorrectable,
	{stMgmtHealth, 0x01}: FaultCorrectable,
	{stMgmtHealth, 0x02}: FaultCorrectable,
	{stMgmtHealth, 0x03}: FaultCorrectable,
	{stMgmtHealth, 0x04}: FaultCorrectable,
	{stMgmtHealth, 0x05}: FaultCorrectable,
	{stBattery, 0x00}:    FaultCorrectable,
	{stBattery, 0x01}:    FaultCorrectable,
}

// sensorSpecificKnown lists the sensor types whose sensor-specific offsets
// the classifier knows completely: an offset of these types that is not in
// sensorSpecificFaults is informational (presence detected, boot
// completed, log cleared, button pressed, ...). Sensor types 0x05, 0x06
// (security), 0x10 (event logging), 0x14 (buttons), 0x1d and 0x1f (boot
// progress), 0x21 (slots), 0x25 (presence), 0x2b and 0x2c (versions, FRU
// state) are informational as a whole.
var sensorSpecificKnown = map[uint8]bool{
	0x05: true, 0x06: true, stProcessor: true, stPowerSupply: true, stPowerUnit: true,
	stMemory: true, stDriveSlot: true, 0x10: true, stWatchdog1: true, stSystemEvent: true,
	stCritInterrupt: true, 0x14: true, stChipSet: true, 0x1d: true, stBootError: true, 0x1f: true,
	stOSStop: true, 0x21: true, stACPIPower: true, stWatchdog2: true, 0x25: true,
	stMgmtHealth: true, stBattery: true, 0x2b: true, 0x2c: true,
}

// criticalFaultOf is the fault a critical condition of a sensor type
// means (thresholds and generic severity events).
func criticalFaultOf(sensorType uint8) FaultType {
	switch sensorType {
	case stTemperature:
		return FaultTemperature
	case stVoltage, stCurrent, stPowerSupply, stPowerUnit:
		return FaultPowerSupply
	case stProcessor:
		return FaultProcessor
	case stMemory:
		return FaultMemory
	case stWatchdog1, stWatchdog2:
		return FaultWatchdog
	case stOSStop:
		return FaultOSStop
	default:
		return FaultOther
	}
}

// Classify is the default Classifier. IPMI records (SensorType or
// EventType set) are classified by sensor type and offset (IPMI 2.0 table
// 42-3; thresholds and severities by table 42-2): deassertions are not
// faults, critical thresholds are faults of the sensor's kind,
// non-critical ones and correctable errors are FaultCorrectable. Redfish
// records are classified by MessageId (the message key of Base,
// ResourceEvent, OpenBMC and vendor registries), then by the LogEntry's
// sensor type and severity, then by the resource they concern. Records it
// cannot place are FaultOther; only records it knows to be informational
// are not faults.
func Classify(e Event) (FaultType, bool) {
	if e.MessageID != "" {
		if t, ok, known := classifyMessageID(e); known {
			return t, ok
		}
	}
	if (e.SensorType != 0 || e.EventType != 0) && !e.Asserted {
		return none, false // a condition ended
	}
	if e.EventType != 0 {
		t, _ := classifyIPMI(e) // unknown codes are FaultOther
		return t, t != none
	}
	if e.MessageID != "" || e.SensorType != 0 {
		return classifyBySeverity(e)
	}
	return FaultOther, true
}

func classifyIPMI(e Event) (FaultType, bool) {
	switch e.EventType {
	case ipmiSensorSpecific:
		if t, ok := sensorSpecificFaults[[2]uint8{e.SensorType, e.Offset}]; ok {
			return t, true
		}
		if sensorSpecificKnown[e.SensorType] {
			return none, true
		}
		return FaultOther, true
	case ipmiThreshold:
		switch e.Offset {
		case 0x02, 0x04, 0x09, 0x0b: // lower critical/non-recoverable going low, upper ... going high
			if e.SensorType == stFan {
				return FaultCorrectable, true // redundant fans; the temperature sensors decide
			}
			return criticalFaultOf(e.SensorType), true
		case 0x00, 0x07: // non-critical going low/high
			return FaultCorrectable, true
		default: // the hysteresis directions
			return none, true
		}
	case ipmiSeverity:
		switch e.Offset {
		case 0x02, 0x03, 0x05, 0x06: // to critical, to non-recoverable
			return criticalFaultOf(e.SensorType), true
		case 0x01, 0x04: // to non-critical
			return FaultCorrectable, true
		case 0x00, 0x07, 0x08: // to OK, monitor, informational
			return none, true
		}
	}
	return FaultOther, false
}

// classifyBySeverity places a record by its sensor type (from a Redfish
// LogEntry) or the resource it concerns, weighted by severity.
func classifyBySeverity(e Event) (FaultType, bool) {
	switch e.Severity {
	case SeverityOK:
		return none, false
	case SeverityWarning:
		return FaultCorrectable, true
	}
	if e.SensorType != 0 {
		return criticalFaultOf(e.SensorType), true
	}
	if t := faultOfResource(e.SensorName); t != none {
		return t, true
	}
	return FaultOther, true
}

// faultOfResource guesses the fault type from a Redfish resource path or a
// sensor name.
func faultOfResource(s string) FaultType {
	l := strings.ToLower(s)
	switch {
	case l == "":
		return none
	case strings.Contains(l, "processor") || strings.Contains(l, "cpu"):
		return FaultProcessor
	case strings.Contains(l, "memory") || strings.Contains(l, "dimm"):
		return FaultMemory
	case strings.Contains(l, "powersuppl") || strings.Contains(l, "psu"):
		return FaultPowerSupply
	case strings.Contains(l, "thermal") || strings.Contains(l, "temperature"):
		return FaultTemperature
	}
	return none
}

// messageKey returns the message key of a MessageId ("Registry.1.0.Key" ->
// "key", lower case).
func messageKey(id string) string {
	if i := strings.LastIndexByte(id, '.'); i >= 0 {
		id = id[i+1:]
	}
	return strings.ToLower(id)
}

func hasAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// classifyMessageID classifies by Redfish MessageId. known is false when
// the key says nothing the classifier understands.
func classifyMessageID(e Event) (t FaultType, fault, known bool) {
	k := messageKey(e.MessageID)
	resource := faultOfResource(e.SensorName)
	switch {
	// Endings of a condition, and routine resource events.
	case hasAny(k, "deasserted", "cleared", "restored", "recovered", "resolved", "changedok", "returnedtonormal", "normal") ||
		hasAny(k, "resourcecreated", "resourceremoved", "resourcechanged", "resourceadded", "success", "testmessage"):
		return none, false, true
	case hasAny(k, "correctable") && !hasAny(k, "uncorrectable"):
		return FaultCorrectable, true, true
	case hasAny(k, "predictive", "warning", "throttl", "threshold") && !hasAny(k, "critical", "fatal", "nonrecoverable"):
		return FaultCorrectable, true, true
	case hasAny(k, "watchdog"):
		return FaultWatchdog, true, true
	case hasAny(k, "oscritical", "osstop", "bugcheck", "kernelpanic", "panic", "criticalstop"):
		return FaultOSStop, true, true
	case hasAny(k, "systempowerlost", "powerlost", "acpowerlost", "unexpectedpower", "powerfailure") && !hasAny(k, "powersupply", "psu"):
		return FaultPowerLost, true, true
	case hasAny(k, "powersupply", "psu"):
		return FaultPowerSupply, true, true
	case hasAny(k, "memory", "dimm", "ecc", "parity"):
		return FaultMemory, true, true
	case hasAny(k, "cpu", "processor", "ierr", "machinecheck", "thermaltrip"):
		return FaultProcessor, true, true
	case hasAny(k, "temp", "thermal", "toohot", "overheat"):
		return FaultTemperature, true, true
	case hasAny(k, "errorsdetected", "statuschangedcritical", "failed", "failure", "fault", "error"):
		// ResourceEvent registry: the resource says what failed.
		if resource != none {
			return resource, true, true
		}
		if e.SensorType != 0 {
			return criticalFaultOf(e.SensorType), true, true
		}
		return FaultOther, true, true
	case hasAny(k, "statuschangedwarning"):
		return FaultCorrectable, true, true
	}
	return none, false, false
}

// SeverityOf derives a record's severity from its classification, for
// logs (IPMI SEL) that carry none: faults are Critical, correctable and
// unclassified records Warning, informational records OK. It ignores
// e.Severity.
func SeverityOf(e Event) Severity {
	e.Severity = ""
	t, fault := Classify(e)
	switch {
	case !fault:
		return SeverityOK
	case t == FaultCorrectable || t == FaultOther:
		return SeverityWarning
	default:
		return SeverityCritical
	}
}

// FaultFromEvent turns one record of a server's log into a Fault with
// classify (Classify when nil). ok is false when the record is not a
// fault. The fault's time is the record's, or now when it has none.
func FaultFromEvent(server string, e Event, classify Classifier, now time.Time) (Fault, bool) {
	if classify == nil {
		classify = Classify
	}
	t, ok := classify(e)
	if !ok {
		return Fault{}, false
	}
	if t == "" {
		t = FaultOther
	}
	when := e.Time
	if when.IsZero() {
		when = now
	}
	ev := e
	detail := e.Message
	if detail == "" {
		detail = e.MessageID
	}
	if detail == "" {
		detail = e.Raw
	}
	return Fault{
		Server: server,
		Type:   t,
		Time:   when,
		Event:  &ev,
		Detail: fmt.Sprintf("%s: record %s: %s", t, e.ID, detail),
	}, true
}
