package bmc_test

import (
	"fmt"

	"github.com/coldstandby/coldstandby/bmc"
)

func ExampleClassify() {
	for _, e := range []bmc.Event{
		// IPMI SEL records: sensor type, event/reading type, offset.
		{ID: "1", SensorType: 0x07, EventType: 0x6f, Offset: 0x00, Asserted: true}, // processor IERR
		{ID: "2", SensorType: 0x0c, EventType: 0x6f, Offset: 0x00, Asserted: true}, // correctable ECC
		{ID: "3", SensorType: 0x1f, EventType: 0x6f, Offset: 0x01, Asserted: true}, // OS boot completed
		{ID: "4", SensorType: 0xc3, EventType: 0x70, Offset: 0x02, Asserted: true}, // an OEM record
		// A Redfish log entry.
		{ID: "5", MessageID: "OpenBMC.0.1.PowerSupplyFailed", Severity: bmc.SeverityCritical, Asserted: true},
	} {
		ft, fault := bmc.Classify(e)
		fmt.Printf("record %s: fault=%v type=%q\n", e.ID, fault, ft)
	}
	// Output:
	// record 1: fault=true type="processor"
	// record 2: fault=true type="correctable"
	// record 3: fault=false type=""
	// record 4: fault=true type="other"
	// record 5: fault=true type="power-supply"
}
