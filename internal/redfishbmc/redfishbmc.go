// Package redfishbmc is a Redfish BMC for tests: an httptest TLS server
// that serves the DMTF public-rackmount1 mockup (embedded by
// internal/mockups, under the DMTF's BSD 3-Clause licence) and implements,
// statefully, what a BMC driver needs: sessions (SessionService),
// ComputerSystem.Reset (On, ForceOff, GracefulShutdown, Nmi, ...), boot
// override and PowerRestorePolicy PATCH, and LogEntries that a test can
// add.
//
// Only tests import it. Behaviour follows DSP0266 (Redfish specification:
// sessions, X-Auth-Token, PATCH, error responses) and DSP0268
// (ComputerSystem.Reset ResetType values, Boot properties,
// PowerRestorePolicyTypes).
package redfishbmc

import (
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/internal/mockups"
)

// Credentials the server accepts.
const (
	User     = "root"
	Password = "redfish-s3cret-pw"
)

// SystemPath is the mockup's only ComputerSystem.
const SystemPath = "/redfish/v1/Systems/437XR1138R2"

// LogEntriesPath is the manager log the drivers read.
const LogEntriesPath = "/redfish/v1/Managers/BMC/LogServices/Log/Entries"

// Server is one simulated Redfish BMC.
type Server struct {
	*httptest.Server
	Host  string         // 127.0.0.1
	Port  int            // HTTPS port
	Roots *x509.CertPool // trusts the server's certificate

	mu              sync.Mutex
	power           string   // "On" or "Off"
	restorePolicy   string   // PowerRestorePolicy
	restorePolicies []string // the values PATCH accepts; nil: all three
	boot            map[string]any
	ignoreShutdown  bool
	refuseNMI       bool
	nmis            int
	failNext        int
	sessions        map[string]bool
	nextSession     int
	entries         []map[string]any
	resets          []string
	patches         int
	transition      time.Duration // how long PoweringOn/PoweringOff last; <0: forever
	target          string        // the power state a transition ends in
	until           time.Time     // when it ends
}

// Start serves the mockup on 127.0.0.1 over TLS and registers its
// shutdown with t.Cleanup. The system starts powered off.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{power: "Off", restorePolicy: "AlwaysOn", sessions: map[string]bool{}}
	sys, err := s.file(SystemPath)
	if err != nil {
		t.Fatalf("redfishbmc: %v", err)
	}
	boot, _ := sys["Boot"].(map[string]any)
	s.boot = boot
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	u, _ := url.Parse(s.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	s.Host = host
	s.Port, _ = strconv.Atoi(port)
	s.Roots = x509.NewCertPool()
	s.Roots.AddCert(s.Certificate())
	return s
}

func (s *Server) file(p string) (map[string]any, error) {
	rel := strings.TrimPrefix(strings.TrimSuffix(p, "/"), "/redfish/v1")
	b, err := mockups.ReadFile(path.Join(mockups.Rackmount1, rel, "index.json"))
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	return m, nil
}

// redfishError writes a DSP0266 error response.
func redfishError(w http.ResponseWriter, code int, msgID, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{
			"code":    "Base.1.8." + msgID,
			"message": msg,
			"@Message.ExtendedInfo": []map[string]any{
				{"MessageId": "Base.1.8." + msgID, "Message": msg},
			},
		},
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) authorized(r *http.Request) bool {
	if tok := r.Header.Get("X-Auth-Token"); tok != "" {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.sessions[tok]
	}
	u, p, ok := r.BasicAuth()
	return ok && subtle.ConstantTimeCompare([]byte(u), []byte(User)) == 1 &&
		subtle.ConstantTimeCompare([]byte(p), []byte(Password)) == 1
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	fail := s.failNext > 0
	if fail {
		s.failNext--
	}
	s.mu.Unlock()
	if fail {
		// Drop the connection, as a BMC that is briefly unreachable.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		redfishError(w, http.StatusServiceUnavailable, "ServiceTemporarilyUnavailable", "try again")
		return
	}
	p := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case p == "/redfish":
		writeJSON(w, http.StatusOK, map[string]string{"v1": "/redfish/v1/"})
		return
	case p == "/redfish/v1" && r.Method == http.MethodGet:
		s.get(w, p)
		return
	case p == "/redfish/v1/SessionService/Sessions" && r.Method == http.MethodPost:
		s.login(w, r)
		return
	}
	if !s.authorized(r) {
		redfishError(w, http.StatusUnauthorized, "NoValidSession", "no valid session")
		return
	}
	switch {
	case strings.HasPrefix(p, "/redfish/v1/SessionService/Sessions/") && r.Method == http.MethodDelete:
		s.mu.Lock()
		delete(s.sessions, strings.TrimPrefix(p, "/redfish/v1/SessionService/Sessions/"))
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(p, "/redfish/v1/SessionService/Sessions/") && r.Method == http.MethodGet:
		id := strings.TrimPrefix(p, "/redfish/v1/SessionService/Sessions/")
		s.mu.Lock()
		ok := s.sessions[id]
		s.mu.Unlock()
		if !ok {
			redfishError(w, http.StatusNotFound, "ResourceMissingAtURI", "no such session")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"@odata.id": p, "@odata.type": "#Session.v1_0_0.Session", "Id": id, "Name": "Session", "UserName": User})
	case p == SystemPath+"/Actions/ComputerSystem.Reset" && r.Method == http.MethodPost:
		s.reset(w, r)
	case p == SystemPath && r.Method == http.MethodPatch:
		s.patchSystem(w, r)
	case r.Method == http.MethodGet:
		s.get(w, p)
	default:
		redfishError(w, http.StatusMethodNotAllowed, "OperationNotAllowed", r.Method+" "+p+" not allowed")
	}
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req struct{ UserName, Password string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		redfishError(w, http.StatusBadRequest, "MalformedJSON", "malformed JSON")
		return
	}
	if subtle.ConstantTimeCompare([]byte(req.UserName), []byte(User)) != 1 ||
		subtle.ConstantTimeCompare([]byte(req.Password), []byte(Password)) != 1 {
		redfishError(w, http.StatusUnauthorized, "InsufficientPrivilege", "bad credentials")
		return
	}
	s.mu.Lock()
	s.nextSession++
	id := fmt.Sprintf("S%04d", s.nextSession)
	s.sessions[id] = true
	s.mu.Unlock()
	loc := "/redfish/v1/SessionService/Sessions/" + id
	w.Header().Set("X-Auth-Token", id)
	w.Header().Set("Location", loc)
	writeJSON(w, http.StatusCreated, map[string]any{"@odata.id": loc, "@odata.type": "#Session.v1_0_0.Session", "Id": id, "Name": "Session", "UserName": req.UserName})
}

func (s *Server) get(w http.ResponseWriter, p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.HasPrefix(p, LogEntriesPath+"/") {
		id := strings.TrimPrefix(p, LogEntriesPath+"/")
		for _, e := range s.entries {
			if e["Id"] == id {
				writeJSON(w, http.StatusOK, e)
				return
			}
		}
	}
	m, err := s.file(p)
	if err != nil {
		redfishError(w, http.StatusNotFound, "ResourceMissingAtURI", p+" not found")
		return
	}
	switch p {
	case SystemPath:
		m["PowerState"] = s.powerLocked()
		m["PowerRestorePolicy"] = s.restorePolicy
		if s.restorePolicies != nil {
			m["PowerRestorePolicy@Redfish.AllowableValues"] = s.restorePolicies
		}
		m["Boot"] = s.boot
	case LogEntriesPath:
		members, _ := m["Members"].([]any)
		for _, e := range s.entries {
			members = append(members, map[string]any{"@odata.id": e["@odata.id"]})
		}
		m["Members"] = members
		m["Members@odata.count"] = len(members)
	}
	writeJSON(w, http.StatusOK, m)
}

// reset implements ComputerSystem.Reset (DSP0268 ResetType).
func (s *Server) reset(w http.ResponseWriter, r *http.Request) {
	var req struct{ ResetType string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		redfishError(w, http.StatusBadRequest, "MalformedJSON", "malformed JSON")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resets = append(s.resets, req.ResetType)
	s.power = s.powerLocked()
	switch req.ResetType {
	case "On", "ForceOn":
		s.setPowerLocked("On")
	case "ForceOff":
		s.setPowerLocked("Off")
	case "GracefulShutdown":
		if !s.ignoreShutdown {
			s.setPowerLocked("Off")
		}
	case "GracefulRestart", "ForceRestart", "PowerCycle":
	case "PushPowerButton":
		if s.power == "On" {
			s.setPowerLocked("Off")
		} else {
			s.setPowerLocked("On")
		}
	case "Nmi":
		if s.refuseNMI {
			redfishError(w, http.StatusBadRequest, "ActionParameterNotSupported", "Nmi is not supported")
			return
		}
		if s.powerLocked() != "On" {
			redfishError(w, http.StatusConflict, "ResourceInStandby", "the system is off")
			return
		}
		s.nmis++
	default:
		redfishError(w, http.StatusBadRequest, "ActionParameterValueNotInList", "ResetType "+req.ResetType+" not allowed")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// powerRestorePolicies are the PowerRestorePolicy values of DSP0268
// ComputerSystem (PowerRestorePolicyTypes, ComputerSystem v1_6_0 and
// later).
var powerRestorePolicies = []string{"AlwaysOn", "AlwaysOff", "LastState"}

// patchSystem implements PATCH of the boot override and of
// PowerRestorePolicy. As DSP0266 asks, a property value of the wrong type
// or outside its enumeration fails the whole request with 400 and the
// Base message saying why, and nothing is changed.
func (s *Server) patchSystem(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Boot               map[string]any
		PowerRestorePolicy json.RawMessage
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		redfishError(w, http.StatusBadRequest, "MalformedJSON", "malformed JSON")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	allowed, _ := s.boot["BootSourceOverrideTarget@Redfish.AllowableValues"].([]any)
	next := map[string]any{}
	for k, v := range s.boot {
		next[k] = v
	}
	for k, v := range req.Boot {
		switch k {
		case "BootSourceOverrideTarget":
			ok := false
			for _, a := range allowed {
				ok = ok || a == v
			}
			if !ok {
				redfishError(w, http.StatusBadRequest, "PropertyValueNotInList", fmt.Sprintf("BootSourceOverrideTarget %v not allowed", v))
				return
			}
		case "BootSourceOverrideEnabled":
			if v != "Once" && v != "Continuous" && v != "Disabled" {
				redfishError(w, http.StatusBadRequest, "PropertyValueNotInList", fmt.Sprintf("BootSourceOverrideEnabled %v not allowed", v))
				return
			}
		case "BootSourceOverrideMode":
			if v != "UEFI" && v != "Legacy" {
				redfishError(w, http.StatusBadRequest, "PropertyValueNotInList", fmt.Sprintf("BootSourceOverrideMode %v not allowed", v))
				return
			}
		default:
			continue // read-only or unknown properties are ignored, as many BMCs do
		}
		next[k] = v
	}
	policy := s.restorePolicy
	if req.PowerRestorePolicy != nil {
		var v string
		if err := json.Unmarshal(req.PowerRestorePolicy, &v); err != nil {
			redfishError(w, http.StatusBadRequest, "PropertyValueTypeError", fmt.Sprintf("PowerRestorePolicy %s is not a string", req.PowerRestorePolicy))
			return
		}
		allowed := powerRestorePolicies
		if s.restorePolicies != nil {
			allowed = s.restorePolicies
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == v
		}
		if !ok {
			redfishError(w, http.StatusBadRequest, "PropertyValueNotInList", fmt.Sprintf("PowerRestorePolicy %q not allowed", v))
			return
		}
		policy = v
	}
	s.boot = next
	s.restorePolicy = policy
	s.patches++
	w.WriteHeader(http.StatusNoContent)
}

// RestorePolicy returns the system's PowerRestorePolicy.
func (s *Server) RestorePolicy() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restorePolicy
}

// LimitRestorePolicies makes PATCH accept only the given
// PowerRestorePolicy values (and report them as its AllowableValues), as
// a BMC without LastState does.
func (s *Server) LimitRestorePolicies(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.restorePolicies = values
}

// Patches counts the PATCH requests to the system that changed it.
func (s *Server) Patches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.patches
}

// PowerState is the system's power state ("On", "Off", "PoweringOn" or
// "PoweringOff").
func (s *Server) PowerState() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.powerLocked()
}

// powerLocked is the power state now, ending a transition whose time is up.
func (s *Server) powerLocked() string {
	if s.target != "" && s.transition >= 0 && !time.Now().Before(s.until) {
		s.power, s.target = s.target, ""
	}
	if s.target != "" {
		return "Powering" + s.target
	}
	return s.power
}

// setPowerLocked starts a power change, immediate unless SetTransition
// says otherwise.
func (s *Server) setPowerLocked(to string) {
	if s.transition == 0 || s.power == to {
		s.power, s.target = to, ""
		return
	}
	s.target, s.until = to, time.Now().Add(s.transition)
}

// SetTransition makes power changes requested through Reset take d, during
// which the system reports PoweringOn or PoweringOff; d < 0 makes them
// never finish (a stuck BMC). 0 (the default) is immediate.
func (s *Server) SetTransition(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transition = d
}

// SetPower sets the system's power state directly.
func (s *Server) SetPower(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.target = ""
	s.power = "Off"
	if on {
		s.power = "On"
	}
}

// IgnoreShutdown makes GracefulShutdown a no-op, as a hung OS.
func (s *Server) IgnoreShutdown(ignore bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ignoreShutdown = ignore
}

// RefuseNMI makes the Nmi reset type fail with ActionParameterNotSupported.
func (s *Server) RefuseNMI(refuse bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseNMI = refuse
}

// NMIs counts the NMIs delivered.
func (s *Server) NMIs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nmis
}

// Resets lists the ResetType of every Reset action received.
func (s *Server) Resets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.resets...)
}

// Boot returns the boot override target and enabled setting.
func (s *Server) Boot() (target, enabled string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, _ := s.boot["BootSourceOverrideTarget"].(string)
	e, _ := s.boot["BootSourceOverrideEnabled"].(string)
	return t, e
}

// FailNext drops the connection of the next request.
func (s *Server) FailNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext++
}

// Sessions counts the open sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// AddLogEntry appends a LogEntry to the manager's log. fields are merged
// over a default entry; Id and @odata.id are assigned.
func (s *Server) AddLogEntry(fields map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := fmt.Sprintf("A%d", len(s.entries)+1)
	e := map[string]any{
		"@odata.type": "#LogEntry.v1_21_0.LogEntry",
		"Name":        "Log Entry " + id,
		"EntryType":   "Event",
		"Severity":    "OK",
		"Created":     "2026-11-26T04:00:00Z",
		"Message":     "test entry",
	}
	for k, v := range fields {
		e[k] = v
	}
	e["Id"] = id
	e["@odata.id"] = LogEntriesPath + "/" + id
	s.entries = append(s.entries, e)
	return id
}

// ClearLog removes the entries added with AddLogEntry.
func (s *Server) ClearLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries = nil
}
