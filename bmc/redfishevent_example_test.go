package bmc_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/coldstandby/coldstandby/bmc"
)

func ExampleNewEventHandler() {
	h, err := bmc.NewEventHandler(func(_ context.Context, f bmc.Fault) {
		fmt.Printf("fault: %s %s at %s\n", f.Server, f.Type, f.Time.Format("15:04:05"))
	}, bmc.WithSharedSecret("X-Event-Secret", "a-long-shared-secret-0123"))
	if err != nil {
		fmt.Println(err)
		return
	}
	// What a BMC subscribed with Context "r12-07" pushes (an http.Server
	// serves h).
	body := `{"@odata.type": "#Event.v1_7_0.Event", "Id": "1", "Name": "Event", "Context": "r12-07",
	  "Events": [{"EventId": "41", "EventTimestamp": "2026-11-26T04:00:00Z", "Severity": "Critical",
	    "MessageId": "OpenBMC.0.1.MemoryECCUncorrectable", "Message": "DIMM A1: uncorrectable ECC",
	    "OriginOfCondition": {"@odata.id": "/redfish/v1/Systems/1/Memory/A1"}}]}`
	r := httptest.NewRequest(http.MethodPost, "/redfish-events", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Event-Secret", "a-long-shared-secret-0123")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	// The answer comes as soon as the fault is queued: nothing delivers
	// yet.
	fmt.Println("answer:", w.Code)
	// Run delivers the accepted faults (here started late, so that the
	// output's order does not depend on when its goroutine runs).
	go h.Run(context.Background())
	// At shutdown: no more pushes, and every accepted fault delivered.
	left, err := h.Close(context.Background())
	fmt.Println("left:", len(left), err)
	// Output:
	// answer: 202
	// fault: r12-07 memory at 04:00:00
	// left: 0 <nil>
}
