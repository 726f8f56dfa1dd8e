package daemon_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/daemon"
)

// Every class of bad input gets its 4xx, with a JSON body that says why.
func TestAPIInputsGetTheir4xx(t *testing.T) {
	_, r := demo(t)
	base := r.srv.URL

	noAuth := []string{"Authorization", ""}
	wrong := []string{"Authorization", "Bearer not-the-token-at-all"}
	basic := []string{"Authorization", "Basic " + token}
	ctype := func(v string) []string { return append([]string{"Content-Type", v}, auth...) }
	big := `{"server":"srv01","type":"processor","detail":"` + strings.Repeat("x", 70<<10) + `"}`
	for _, c := range []struct {
		name         string
		method, path string
		body         any
		headers      []string
		want         int
		says         string
	}{
		{"unknown path", "GET", "/v2/servers", nil, nil, 404, "no such resource"},
		{"unknown server", "GET", "/v1/servers/srv99", nil, nil, 404, "not found"},
		{"unknown failover", "GET", "/v1/failovers/nope", nil, nil, 404, "not found"},
		{"unknown fault", "GET", "/v1/faults/nope", nil, nil, 404, "no recent fault"},
		{"bad path ID", "GET", "/v1/servers/a%20b", nil, nil, 400, "bad ID"},
		{"method", "DELETE", "/v1/servers", nil, nil, 405, "not allowed"},
		{"method on faults", "PUT", "/v1/faults", nil, nil, 405, "GET, POST"},
		{"bad limit", "GET", "/v1/failovers?limit=0", nil, nil, 400, "limit"},
		{"limit not a number", "GET", "/v1/failovers?limit=ten", nil, nil, 400, "limit"},
		{"bad unfinished", "GET", "/v1/failovers?unfinished=maybe", nil, nil, 400, "unfinished"},
		{"unknown query", "GET", "/v1/failovers?sort=asc", nil, nil, 400, "unknown query parameter"},
		{"no token", "POST", "/v1/faults", map[string]string{"server": "srv01", "type": "processor"}, noAuth, 401, "bearer token"},
		{"wrong token", "POST", "/v1/faults", map[string]string{"server": "srv01", "type": "processor"}, wrong, 401, "bearer token"},
		{"basic auth", "POST", "/v1/reload", nil, basic, 401, "bearer token"},
		{"no token on mark-standby", "POST", "/v1/servers/srv02/mark-standby", nil, noAuth, 401, "bearer token"},
		{"content type", "POST", "/v1/faults", `{"server":"srv01","type":"processor"}`, ctype("text/plain"), 415, "application/json"},
		{"too big", "POST", "/v1/faults", big, auth, 413, "larger than"},
		{"malformed JSON", "POST", "/v1/faults", `{"server":`, auth, 400, "malformed JSON"},
		{"unknown field", "POST", "/v1/faults", `{"server":"srv01","type":"processor","severity":"high"}`, auth, 400, "unknown field"},
		{"trailing data", "POST", "/v1/faults", `{"server":"srv01","type":"processor"} {}`, auth, 400, "after the object"},
		{"wrong JSON type", "POST", "/v1/faults", `{"server":1,"type":"processor"}`, auth, 400, "malformed JSON"},
		{"missing server", "POST", "/v1/faults", `{"type":"processor"}`, auth, 422, "server: required"},
		{"missing type", "POST", "/v1/faults", `{"server":"srv01"}`, auth, 422, "type: required"},
		{"bad type", "POST", "/v1/faults", `{"server":"srv01","type":"CPU fail"}`, auth, 422, "type"},
		{"bad id", "POST", "/v1/faults", `{"id":"a b","server":"srv01","type":"processor"}`, auth, 422, "id:"},
		{"future time", "POST", "/v1/faults", `{"server":"srv01","type":"processor","time":"2999-01-01T00:00:00Z"}`, auth, 422, "time"},
		{"bad time", "POST", "/v1/faults", `{"server":"srv01","type":"processor","time":"yesterday"}`, auth, 400, "malformed JSON"},
		{"fault on unknown server", "POST", "/v1/faults", `{"server":"srv99","type":"processor"}`, auth, 404, "srv99"},
		{"failback without server", "POST", "/v1/failbacks", `{}`, auth, 422, "server: required"},
		{"failback unknown server", "POST", "/v1/failbacks", `{"server":"srv99"}`, auth, 404, "not found"},
		{"failback of an active server", "POST", "/v1/failbacks", `{"server":"srv01"}`, auth, 404, "no active server runs its workload"},
		{"mark-standby unknown", "POST", "/v1/servers/srv99/mark-standby", nil, auth, 404, "not found"},
		{"mark-standby of an active server", "POST", "/v1/servers/srv01/mark-standby", nil, auth, 409, "server is active"},
		{"mark-standby with a body", "POST", "/v1/servers/srv02/mark-standby", `{"force":true}`, auth, 400, "unknown field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var e struct {
				Error  string
				Status int
			}
			h := append([]string{}, c.headers...)
			if c.body != nil && len(h) > 0 && h[0] != "Content-Type" {
				h = append([]string{"Content-Type", "application/json"}, h...)
			}
			code := call(t, base, c.method, c.path, c.body, &e, h...)
			if code != c.want || e.Status != c.want || !strings.Contains(e.Error, c.says) {
				t.Errorf("%s %s: %d %+v; want %d saying %q", c.method, c.path, code, e, c.want, c.says)
			}
		})
	}
	// Nothing of the above failed anything over.
	var list struct{ Failovers []json.RawMessage }
	call(t, base, "GET", "/v1/failovers", nil, &list)
	if len(list.Failovers) != 0 {
		t.Errorf("%d failovers after bad requests", len(list.Failovers))
	}
}

// Without a token, mutating calls are refused (403) and reads work.
func TestNoTokenDisablesMutatingCalls(t *testing.T) {
	path := writeSite(t)
	sm := newSim(t, path)
	st, _ := openStore(t, path, sm.reg)
	log := &logBuffer{}
	cfg := config(path, sm.reg, st, log)
	cfg.Token = ""
	r := start(t, cfg, log)
	for _, p := range []string{"/v1/faults", "/v1/failbacks", "/v1/reload", "/v1/servers/srv02/mark-standby"} {
		var e struct{ Error string }
		if code := call(t, r.srv.URL, "POST", p, `{}`, &e, auth...); code != http.StatusForbidden || !strings.Contains(e.Error, "disabled") {
			t.Errorf("POST %s without a configured token: %d %q; want 403", p, code, e.Error)
		}
	}
	var st2 daemon.Status
	if code := call(t, r.srv.URL, "GET", "/v1/status", nil, &st2); code != 200 || st2.Mutations {
		t.Errorf("status: %d mutations=%v", code, st2.Mutations)
	}
}

// A token shorter than 16 bytes, or given twice, is refused at New.
func TestNewRefusesWeakOrDoubleTokens(t *testing.T) {
	path := writeSite(t)
	sm := newSim(t, path)
	st, _ := openStore(t, path, sm.reg)
	log := &logBuffer{}
	for name, mutate := range map[string]func(*daemon.Config){
		"short token":         func(c *daemon.Config) { c.Token = "short" },
		"token and reference": func(c *daemon.Config) { c.TokenRef = "env:X" },
		"unset variable":      func(c *daemon.Config) { c.Token, c.TokenRef = "", "env:COLDSTANDBY_TEST_UNSET_VARIABLE" },
		"short event secret":  func(c *daemon.Config) { c.EventSecret = "short" },
	} {
		cfg := config(path, sm.reg, st, log)
		mutate(&cfg)
		if d, err := daemon.New(t.Context(), cfg); err == nil {
			_ = d.Close()
			t.Errorf("%s: New succeeded", name)
		}
	}
}
