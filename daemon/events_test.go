package daemon_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/coldstandby/coldstandby/daemon"
	"github.com/coldstandby/coldstandby/failover"
)

const eventSecret = "event-secret-0123456789"

// pushEvent posts a Redfish Event about server to the receiver.
func pushEvent(t *testing.T, base, server, secret string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"@odata.type": "#Event.v1_7_0.Event", "Id": "1", "Name": "Event Array", "Context": server,
		"Events": []any{map[string]any{
			"EventId": "41", "EventTimestamp": "2026-12-01T09:00:00Z", "Severity": "Critical", "EventType": "Alert",
			"Message": "Power supply 1 failed", "MessageId": "Platform.1.0.PowerSupplyFailed",
			"OriginOfCondition": map[string]string{"@odata.id": "/redfish/v1/Chassis/1/Power"},
		}},
	})
	req, _ := http.NewRequest("POST", base+"/events/redfish", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-Event-Secret", secret)
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// A Redfish event pushed to the leader's receiver ends in a done
// failover; a push without the secret is refused, and a stopping daemon
// answers 503 so that the BMC pushes again.
func TestRedfishEventPushEndsInADoneFailover(t *testing.T) {
	_, r := demo(t, func(c *daemon.Config) { c.EventSecret = eventSecret })
	base := r.srv.URL
	if s := status(t, base); !s.Events {
		t.Fatal("status says the event receiver is off")
	}
	if code := pushEvent(t, base, "srv01", "wrong-secret-0123456789"); code != http.StatusUnauthorized {
		t.Errorf("a push with a wrong secret: %d, want 401", code)
	}
	if code := pushEvent(t, base, "srv01", eventSecret); code != http.StatusAccepted {
		t.Fatalf("a push: %d, want 202", code)
	}
	var f daemon.Fault
	eventually(t, "the pushed fault's failover", func() bool {
		var list struct{ Faults []daemon.Fault }
		call(t, base, "GET", "/v1/faults", nil, &list)
		for _, x := range list.Faults {
			if x.Source == "redfish" && x.Server == "srv01" && x.Failover != "" {
				f = x
				return true
			}
		}
		return false
	})
	if info := waitOutcome(t, base, f.Failover); info.Outcome != failover.OutcomeDone {
		t.Fatalf("pushed fault's failover: %s %s", info.Outcome, info.Err)
	}
	r.stop()
	if !r.d.Draining() {
		t.Fatal("not draining after stop")
	}
	srv := httpServe(t, r.d.Handler())
	if code := pushEvent(t, srv, "srv05", eventSecret); code != http.StatusServiceUnavailable {
		t.Errorf("a push to a stopped daemon: %d, want 503", code)
	}
}
