package redfishbmc_test

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/internal/redfishbmc"
)

func TestServerEnforcesTheProtocol(t *testing.T) {
	s := redfishbmc.Start(t)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.Roots}}}
	do := func(method, path, token, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("X-Auth-Token", token)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := do("GET", redfishbmc.SystemPath, "", ""); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET without a session: %d, want 401", r.StatusCode)
	}
	if r := do("POST", "/redfish/v1/SessionService/Sessions", "", `{"UserName":"root","Password":"wrong"}`); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("login with a wrong password: %d, want 401", r.StatusCode)
	}
	login := do("POST", "/redfish/v1/SessionService/Sessions", "", `{"UserName":"`+redfishbmc.User+`","Password":"`+redfishbmc.Password+`"}`)
	tok := login.Header.Get("X-Auth-Token")
	if login.StatusCode != http.StatusCreated || tok == "" || login.Header.Get("Location") == "" {
		t.Fatalf("login: %d, token %q", login.StatusCode, tok)
	}
	reset := redfishbmc.SystemPath + "/Actions/ComputerSystem.Reset"
	for _, c := range []struct {
		body  string
		code  int
		power string
	}{
		{`{"ResetType":"On"}`, 204, "On"},
		{`{"ResetType":"Nmi"}`, 204, "On"},
		{`{"ResetType":"GracefulShutdown"}`, 204, "Off"},
		{`{"ResetType":"Nmi"}`, 409, "Off"},
		{`{"ResetType":"Explode"}`, 400, "Off"},
		{`{"ResetType":`, 400, "Off"},
	} {
		if r := do("POST", reset, tok, c.body); r.StatusCode != c.code || s.PowerState() != c.power {
			t.Errorf("reset %s: %d, power %s; want %d, %s", c.body, r.StatusCode, s.PowerState(), c.code, c.power)
		}
	}
	if r := do("PATCH", redfishbmc.SystemPath, tok, `{"Boot":{"BootSourceOverrideTarget":"Floppy"}}`); r.StatusCode != 400 {
		t.Errorf("boot target outside AllowableValues: %d, want 400", r.StatusCode)
	}
	if r := do("PATCH", redfishbmc.SystemPath, tok, `{"Boot":{"BootSourceOverrideTarget":"Hdd","BootSourceOverrideEnabled":"Continuous"}}`); r.StatusCode != 204 {
		t.Errorf("boot PATCH: %d, want 204", r.StatusCode)
	}
	if target, enabled := s.Boot(); target != "Hdd" || enabled != "Continuous" {
		t.Errorf("boot = %s %s, want Hdd Continuous", target, enabled)
	}
	for _, c := range []struct {
		body string
		code int
		want string
	}{
		{`{"PowerRestorePolicy":"AlwaysOff"}`, 204, "AlwaysOff"},
		{`{"PowerRestorePolicy":"LastState"}`, 204, "LastState"},
		{`{"PowerRestorePolicy":"always-off"}`, 400, "LastState"},
		{`{"PowerRestorePolicy":"BootOrder"}`, 400, "LastState"},
		{`{"PowerRestorePolicy":1}`, 400, "LastState"},
		{`{"PowerRestorePolicy":"AlwaysOn","Boot":{"BootSourceOverrideTarget":"Floppy"}}`, 400, "LastState"},
		{`{"PowerRestorePolicy":"AlwaysOn"}`, 204, "AlwaysOn"},
	} {
		if r := do("PATCH", redfishbmc.SystemPath, tok, c.body); r.StatusCode != c.code || s.RestorePolicy() != c.want {
			t.Errorf("PATCH %s: %d, policy %s; want %d, %s", c.body, r.StatusCode, s.RestorePolicy(), c.code, c.want)
		}
	}
	s.AddLogEntry(map[string]any{"MessageId": "X.1.0.Y"})
	req, _ := http.NewRequest("GET", s.URL+redfishbmc.LogEntriesPath, nil)
	req.Header.Set("X-Auth-Token", tok)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var coll struct{ Members []map[string]any }
	_ = json.NewDecoder(resp.Body).Decode(&coll)
	resp.Body.Close()
	if len(coll.Members) != 2 {
		t.Errorf("log has %d members, want the mockup's and the added one", len(coll.Members))
	}
	if r := do("DELETE", login.Header.Get("Location"), tok, ""); r.StatusCode != 204 || s.Sessions() != 0 {
		t.Errorf("logout: %d, %d sessions left", r.StatusCode, s.Sessions())
	}
}
