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

// Classify is the default Classifier. It decides by exact codes and
// severities, never by words inside a name:
//
//   - A record whose Severity is OK is never a fault.
//   - IPMI records (EventType set) are classified by sensor type and
//     offset (IPMI 2.0 table 42-3; thresholds and severities by table
//     42-2): deassertions are not faults, critical thresholds are faults of
//     the sensor's kind, non-critical ones and correctable errors are
//     FaultCorrectable, codes it does not know are FaultOther.
//   - Redfish records are classified by MessageId, parsed as
//     Registry.Major.Minor[.Errata].Key: the registry and the key are
//     looked up exactly, whatever the version, in the DMTF Base,
//     ResourceEvent, Platform, Power, Environmental, SensorEvent,
//     StorageDevice, TaskEvent and LogService registries, OpenBMC's, and
//     HPE iLOEvents' hardware messages. A record without a Severity takes
//     the registry's. A Critical record gets the key's fault type; a
//     Warning record is FaultCorrectable when its key names a failure (the
//     BMC says the server still works, as with a redundant power supply).
//     Keys that describe a resource rather than the failure
//     (ResourceErrorsDetected, sensor thresholds) take the type of the
//     LogEntry's SensorType or of the OriginOfCondition's collection
//     (Processors, Memory, PowerSupplies, Power, Thermal, ...).
//   - A Warning or Critical record that none of this places (an unknown
//     registry or key, a key that is not a hardware failure, a malformed
//     MessageId) is FaultOther: never dropped.
func Classify(e Event) (FaultType, bool) {
	if e.Severity == SeverityOK {
		return none, false
	}
	if (e.SensorType != 0 || e.EventType != 0) && !e.Asserted {
		return none, false // a condition ended
	}
	if e.EventType != 0 {
		t, _ := classifyIPMI(e) // unknown codes are FaultOther
		return t, t != none
	}
	if e.MessageID != "" {
		return classifyMessageID(e)
	}
	return weigh(e.Severity, subjectOf(e))
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

// classifyMessageID classifies a Redfish record by its MessageId.
func classifyMessageID(e Event) (FaultType, bool) {
	c, known := lookupMessage(e.MessageID)
	sev := e.Severity
	if sev == "" && known {
		sev = c.severity
	}
	if sev == SeverityOK {
		return none, false
	}
	if !known {
		return weigh(sev, subjectOf(e))
	}
	switch c.fault {
	case none: // known, but not a hardware failure (a request's outcome, a login)
		return FaultOther, true
	case fromSubject:
		return weigh(sev, subjectOf(e))
	}
	return weigh(sev, c.fault)
}

// weigh turns the type of what a record is about into its fault by the
// record's severity: OK is no fault; Warning makes a failure
// FaultCorrectable (the server still works); Critical, or no severity at
// all, keeps it. An unknown subject is FaultOther.
func weigh(sev Severity, t FaultType) (FaultType, bool) {
	switch {
	case sev == SeverityOK:
		return none, false
	case t == none:
		return FaultOther, true
	case sev == SeverityWarning && t != FaultOther:
		return FaultCorrectable, true
	}
	return t, true
}

// subjectOf is the type of the component a Redfish record concerns: the
// LogEntry's SensorType when it has one (for a critical condition of that
// sensor), else the collection of the OriginOfCondition's resource path.
// none when neither says.
func subjectOf(e Event) FaultType {
	if e.SensorType != 0 {
		if t := criticalFaultOf(e.SensorType); t != FaultOther {
			return t
		}
	}
	return faultOfResourcePath(e.SensorName)
}

// resourceCollections maps the Redfish collection and resource names
// (DSP0268) under which a component's resource lives to the fault of that
// component.
var resourceCollections = map[string]FaultType{
	"Processors":       FaultProcessor,
	"Memory":           FaultMemory,
	"PowerSupplies":    FaultPowerSupply,
	"PowerSubsystem":   FaultPowerSupply,
	"Power":            FaultPowerSupply,
	"Thermal":          FaultTemperature,
	"ThermalSubsystem": FaultTemperature,
}

// faultOfResourcePath finds the component in a Redfish resource path
// ("/redfish/v1/Systems/1/Processors/CPU1" is a processor): the last path
// segment that names a collection in resourceCollections, matched
// exactly. Anything that is not a Redfish path is none.
func faultOfResourcePath(p string) FaultType {
	const root = "/redfish/v1/"
	if len(p) <= len(root) || p[:len(root)] != root {
		return none
	}
	t := none
	for rest := p[len(root):]; rest != ""; {
		seg := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if ft, ok := resourceCollections[seg]; ok {
			t = ft
		}
	}
	return t
}

// ParseMessageID splits a Redfish MessageId of the form
// Registry.Major.Minor[.Errata].Key (DSP0266, "Message identifiers") into
// its registry prefix and message key. The version, which does not change
// a message's meaning, may be absent ("iLOEvents.ServerPoweredOff");
// anything else (empty parts, a version that is not numbers, a bare key)
// is malformed: ok is false.
func ParseMessageID(id string) (registry, key string, ok bool) {
	i := strings.IndexByte(id, '.')
	j := strings.LastIndexByte(id, '.')
	if i <= 0 || j == len(id)-1 {
		return "", "", false
	}
	if i < j {
		// The version: one to three numbers separated by single dots.
		v := id[i+1 : j]
		n, digits := 1, 0
		for k := 0; k < len(v); k++ {
			switch c := v[k]; {
			case c >= '0' && c <= '9':
				digits++
			case c == '.' && digits > 0:
				n, digits = n+1, 0
			default:
				return "", "", false
			}
		}
		if digits == 0 || n > 3 {
			return "", "", false
		}
	}
	return id[:i], id[j+1:], true
}

// lookupMessage finds a MessageId in the registry table.
func lookupMessage(id string) (messageClass, bool) {
	reg, key, ok := ParseMessageID(id)
	if !ok {
		return messageClass{}, false
	}
	c, ok := messageRegistries[reg][key]
	return c, ok
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
