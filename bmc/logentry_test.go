package bmc_test

import (
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
)

func TestEventFromLogEntryCodesAndOrigin(t *testing.T) {
	for _, c := range []struct {
		name    string
		raw     string
		et, off uint8
		origin  string
		want    bmc.FaultType
		fault   bool
	}{
		{"threshold EntryCode gives the IPMI offset",
			`{"@odata.type":"#LogEntry.v1_4_0.LogEntry","Id":"1","EntryType":"SEL","SensorType":"Temperature","EntryCode":"Upper Critical - going high","Severity":"Critical","MessageId":"0x592A28"}`,
			0x01, 0x09, "", bmc.FaultTemperature, true},
		{"lower non-recoverable voltage",
			`{"Id":"2","EntryType":"SEL","SensorType":"Voltage","EntryCode":"Lower Non-recoverable - going low","Severity":"Critical"}`,
			0x01, 0x04, "", bmc.FaultPowerSupply, true},
		{"non-critical going high is reported only",
			`{"Id":"3","EntryType":"SEL","SensorType":"Temperature","EntryCode":"Upper Non-critical - going high","Severity":"Warning"}`,
			0x01, 0x07, "", bmc.FaultCorrectable, true},
		{"Assert is no threshold code",
			`{"Id":"4","EntryType":"SEL","SensorType":"Memory","EntryCode":"Assert","Severity":"Critical","MessageId":"OpenBMC.0.1.MemoryECCUncorrectable"}`,
			0, 0, "", bmc.FaultMemory, true},
		{"OriginOfCondition in Links",
			`{"Id":"5","Severity":"Critical","MessageId":"ResourceEvent.1.3.ResourceStatusChangedCritical","Links":{"OriginOfCondition":{"@odata.id":"/redfish/v1/Systems/1/Processors/CPU0"}}}`,
			0, 0, "/redfish/v1/Systems/1/Processors/CPU0", bmc.FaultProcessor, true},
		{"OriginOfCondition at the top level, as gofish writes it",
			`{"Id":"6","Severity":"Critical","MessageId":"ResourceEvent.1.3.ResourceStatusChangedCritical","OriginOfCondition":"/redfish/v1/Systems/1/Memory/DIMM2"}`,
			0, 0, "/redfish/v1/Systems/1/Memory/DIMM2", bmc.FaultMemory, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := bmc.EventFromLogEntry([]byte(c.raw))
			if err != nil {
				t.Fatal(err)
			}
			if e.EventType != c.et || e.Offset != c.off || e.SensorName != c.origin {
				t.Errorf("parsed event type %#x offset %#x origin %q; want %#x %#x %q", e.EventType, e.Offset, e.SensorName, c.et, c.off, c.origin)
			}
			if got, fault := bmc.Classify(e); got != c.want || fault != c.fault {
				t.Errorf("Classify = %q, %v; want %q, %v", got, fault, c.want, c.fault)
			}
		})
	}
}
