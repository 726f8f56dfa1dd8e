// Package brocadetest is a protocol-faithful test server for the zoning
// part of Brocade Fabric OS's REST API (RESTCONF, FOS 8.2 and later): login
// sessions, the defined and effective zoning configurations, zoning
// transactions tied to a session, and commit by checksum.
//
// No FC switch emulator exists, so this server is the peer that
// drivers/brocade is tested against. Import it from tests of code that
// drives Brocade zoning. Start one with New (HTTPS on 127.0.0.1 through
// net/http/httptest) and use Server.Client for an *http.Client that trusts
// it.
//
// Behaviour follows Broadcom's "Brocade Fabric OS REST API Reference"
// (FOS 8.2 to 9.2, techdocs.broadcom.com), RFC 8040 for the error body,
// and what independent clients that run against real switches send:
//   - Broadcom's pyfos (github.com/brocade/pyfos, pyfos_brocade_zone.py:
//     cfg-action 1 save, 2 disable, 3 clear, 4 abort; /rest/running/zoning
//     up to 8.2.1a, /rest/running/brocade-zone from 8.2.1b;
//     pyfos_auth.py reads firmware-version after login);
//   - jconsoli/brcdapi (zone.py: every write wrapped in its container,
//     {"defined-configuration":{"zone":[...]}} for POST, DELETE and PATCH,
//     {"effective-configuration":{"cfg-action":4}} to abort,
//     {"effective-configuration":{"checksum":C,"cfg-action":1}} to save,
//     cfg-name, checksum and cfg-action 1 to enable);
//   - Broadcom's FOS Ansible collection (github.com/brocade/ansible,
//     utils/brocade_zoning.py: the same containers in XML; POST adds
//     members, DELETE with a body removes them; enable is PATCH
//     effective-configuration with cfg-name and checksum; login reads
//     firmware-version from brocade-fibrechannel-switch/fibrechannel-switch,
//     falling back to switch/fibrechannel-switch);
//   - OpenStack Cinder (brcd_rest_fc_zone_client.py: the "Response"
//     wrapper, one-element lists as bare objects, PATCH
//     effective-configuration/cfg-action/1 and .../cfg-name/<cfg> with a
//     bare {"checksum":C}).
//
// A write body in any other shape (notably the container's content
// without the container, {"zone":[...]} or {"cfg-action":4}) is refused
// with 400, as a switch refuses a body that does not name its target;
// the error's wording is unverified. Points no public document settled
// are marked "unverified". No vendor code is used.
package brocadetest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// YANG is the media type FOS REST speaks; without it in Accept FOS
// answers XML (FOS REST API Reference, "Content types").
const YANG = "application/yang-data+json"

// DefaultVFID is the virtual fabric a request without vf-id addresses
// (FOS's default logical switch has FID 128).
const DefaultVFID = 128

// Server is a Brocade FOS REST test server for one chassis. Its methods
// are safe for concurrent use.
type Server struct {
	*httptest.Server

	// User and Password are the credentials /rest/login accepts.
	User, Password string

	stallMu sync.Mutex
	stall   time.Duration

	mu          sync.Mutex
	maxSessions int
	sessions    map[string]bool // token -> live
	fabrics     map[int]*fabric
	firmware    string // firmware-version, "v9.1.1"
	failNext    []failure
	failWrite   []failure // for the next zoning change (not login, logout or a GET)
	logins      int
	logouts     int
}

// fabric is the zoning database of one virtual fabric.
type fabric struct {
	defined  db     // the saved defined configuration
	effCfg   string // name of the enabled cfg, "" when none
	effZones map[string][]string
	checksum string
	// The open zoning transaction: its owner session and its working copy.
	txOwner   string
	txDefined db
	txToken   int
	stale     bool // FailNextCommit: the next save/enable sees a new checksum
}

type db struct {
	zones map[string][]string // zone -> members
	cfgs  map[string][]string // cfg -> zones
}

func (d db) clone() db {
	out := db{zones: map[string][]string{}, cfgs: map[string][]string{}}
	for k, v := range d.zones {
		out.zones[k] = slices.Clone(v)
	}
	for k, v := range d.cfgs {
		out.cfgs[k] = slices.Clone(v)
	}
	return out
}

// New starts a server with user admin/password, at most three sessions
// at a time (the FOS default for REST), and the default virtual fabric
// with an empty zoning database. It is closed by t's cleanup when t is
// non-nil (otherwise call Close).
func New(t interface{ Cleanup(func()) }) *Server {
	s := &Server{User: "admin", Password: "password", maxSessions: 3, firmware: DefaultFirmware,
		sessions: map[string]bool{}, fabrics: map[int]*fabric{}}
	s.AddFabric(DefaultVFID)
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// Tests show clients refusing the test certificate; the server's
	// log of those handshakes is noise.
	s.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Server.StartTLS()
	if t != nil {
		t.Cleanup(s.Close)
	}
	return s
}

// DefaultFirmware is the firmware-version a new Server reports.
const DefaultFirmware = "v9.1.1"

// SetFirmware sets the firmware-version the switch reports ("v8.2.1b",
// "v9.2.0"). It decides which modules the switch serves (pyfos's version
// ranges, Ansible's fallbacks): brocade-zone and
// brocade-fibrechannel-switch from 8.2.1b, zoning and
// switch/fibrechannel-switch before 9.0.0.
func (s *Server) SetFirmware(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.firmware = v
}

// fosVersion is a parsed firmware-version: v<major>.<minor>.<patch><letters>.
type fosVersion struct {
	major, minor, patch int
	rel                 string
}

func parseFOS(v string) (fosVersion, bool) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) != 3 {
		return fosVersion{}, false
	}
	var f fosVersion
	var err error
	if f.major, err = strconv.Atoi(parts[0]); err != nil {
		return fosVersion{}, false
	}
	if f.minor, err = strconv.Atoi(parts[1]); err != nil {
		return fosVersion{}, false
	}
	i := 0
	for i < len(parts[2]) && parts[2][i] >= '0' && parts[2][i] <= '9' {
		i++
	}
	if f.patch, err = strconv.Atoi(parts[2][:i]); err != nil {
		return fosVersion{}, false
	}
	f.rel = parts[2][i:]
	return f, true
}

// atLeast reports whether the switch's firmware is at least want.
func (s *Server) atLeast(want string) bool {
	have, ok1 := parseFOS(s.firmware)
	w, ok2 := parseFOS(want)
	if !ok1 || !ok2 {
		return false
	}
	for _, d := range []int{have.major - w.major, have.minor - w.minor, have.patch - w.patch} {
		if d != 0 {
			return d > 0
		}
	}
	return have.rel >= w.rel
}

// SetMaxSessions sets how many sessions may be logged in at once.
func (s *Server) SetMaxSessions(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxSessions = n
}

// AddFabric adds an empty virtual fabric with FID vfid.
func (s *Server) AddFabric(vfid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fabrics[vfid] = &fabric{defined: db{zones: map[string][]string{}, cfgs: map[string][]string{}},
		effZones: map[string][]string{}, checksum: newChecksum()}
}

// Setup defines zones with their members in vfid, puts them all in cfg
// and enables cfg, as an administrator would have (saved, effective,
// checksum changed). Members are written as given.
func (s *Server) Setup(vfid int, cfg string, zones map[string][]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fabrics[vfid]
	for z, m := range zones {
		f.defined.zones[z] = slices.Clone(m)
		if !slices.Contains(f.defined.cfgs[cfg], z) {
			f.defined.cfgs[cfg] = append(f.defined.cfgs[cfg], z)
		}
	}
	f.enable(cfg)
}

func (f *fabric) enable(cfg string) {
	f.effCfg = cfg
	f.effZones = map[string][]string{}
	for _, z := range f.defined.cfgs[cfg] {
		f.effZones[z] = slices.Clone(f.defined.zones[z])
	}
	f.checksum = newChecksum()
}

func newChecksum() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ActiveZones returns the zones of vfid's effective configuration that
// have member wwpn (compared case-insensitively), sorted.
func (s *Server) ActiveZones(vfid int, wwpn string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for z, m := range s.fabrics[vfid].effZones {
		if containsFold(m, wwpn) {
			out = append(out, z)
		}
	}
	slices.Sort(out)
	return out
}

// DefinedMembers returns the saved defined members of zone in vfid.
func (s *Server) DefinedMembers(vfid int, zone string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.fabrics[vfid].defined.zones[zone])
}

// Checksum returns vfid's current zoning checksum.
func (s *Server) Checksum(vfid int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fabrics[vfid].checksum
}

// TransactionOpen reports whether a zoning transaction is open in vfid.
func (s *Server) TransactionOpen(vfid int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fabrics[vfid].txOwner != ""
}

// Sessions returns the number of live sessions, and the counts of logins
// and logouts so far.
func (s *Server) Sessions() (live, logins, logouts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions), s.logins, s.logouts
}

// ExpireSessions ends every live session, as FOS does when a session has
// been idle past its timeout; transactions they own are aborted and their
// next request is answered 401.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok := range s.sessions {
		s.logout(tok)
	}
}

// StallNext makes the server hold the next request for d before it
// carries it out and answers (even when the client has gone by then).
func (s *Server) StallNext(d time.Duration) {
	s.stallMu.Lock()
	defer s.stallMu.Unlock()
	s.stall = d
}

func (s *Server) takeStall() time.Duration {
	s.stallMu.Lock()
	defer s.stallMu.Unlock()
	d := s.stall
	s.stall = 0
	return d
}

// FailNextWrite makes the next change of the zoning database (a POST,
// PATCH or DELETE under a zoning module) fail with HTTP status code and
// an RFC 8040 error with tag and message, before it takes effect.
func (s *Server) FailNextWrite(code int, tag, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWrite = append(s.failWrite, failure{code, tag, msg})
}

type failure struct {
	status   int
	tag, msg string
}

// FailNext makes the next request (login included) fail with HTTP status
// code before it takes effect.
func (s *Server) FailNext(code int) {
	s.FailNextWith(code, "resource-denied", "injected failure: switch busy")
}

// FailNextWith makes the next request fail with HTTP status code and an
// RFC 8040 error with tag and message, before it takes effect.
func (s *Server) FailNextWith(code int, tag, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, failure{code, tag, msg})
}

// FailNextCommit makes another administrator commit just before the next
// save or enable in vfid, so that its checksum is stale and it fails.
func (s *Server) FailNextCommit(vfid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fabrics[vfid].stale = true
}

// HoldTransaction opens a zoning transaction in vfid owned by another
// (external) session, as a CLI user running zoneadd without cfgsave
// would; it returns a function that releases it.
func (s *Server) HoldTransaction(vfid int) (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fabrics[vfid]
	f.txOwner, f.txDefined = "cli-session", f.defined.clone()
	f.txToken++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if f.txOwner == "cli-session" {
			f.txOwner = ""
		}
	}
}

// rpcError writes an RFC 8040 section 7.1 error body, as FOS does:
// {"errors":{"error":[{"error-type","error-tag","error-message",...}]}}.
// FOS sends the one-element error list as a bare object, so does this.
func rpcError(w http.ResponseWriter, status int, tag, msg string) {
	w.Header().Set("Content-Type", YANG)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": map[string]any{"error": map[string]any{
		"error-type": "application", "error-tag": tag, "error-app-tag": "error", "error-message": msg,
	}}})
}

// Messages the server uses for the zoning errors (wording unverified; the
// driver classifies them by the words "transaction" and "checksum").
const (
	MsgOutstanding = "Zoning transaction is outstanding for another session (outstanding admin transaction)"
	MsgChecksum    = "Checksum mismatch: the zoning database was changed by another transaction"
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if d := s.takeStall(); d > 0 {
		// Hold the request, then carry it out even if the client gave
		// up meanwhile, as an overloaded device does.
		time.Sleep(d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failNext) > 0 {
		f := s.failNext[0]
		s.failNext = s.failNext[1:]
		rpcError(w, f.status, f.tag, f.msg)
		return
	}
	if r.URL.Path == "/rest/login" && r.Method == http.MethodPost {
		s.login(w, r)
		return
	}
	// Every other call carries the session token from login
	// ("Authorization: Custom_Basic <token>").
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Custom_Basic ")
	if !ok || !s.sessions[tok] {
		rpcError(w, http.StatusUnauthorized, "access-denied", "Invalid or expired session")
		return
	}
	if r.URL.Path == "/rest/logout" && r.Method == http.MethodPost {
		s.logout(tok)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !strings.Contains(r.Header.Get("Accept"), YANG) {
		// Real switches answer XML by default; a JSON client that forgot
		// the header could not read it. Refuse, so tests see the mistake.
		rpcError(w, http.StatusNotAcceptable, "invalid-value", "Accept must be "+YANG)
		return
	}
	if r.ContentLength > 0 && !strings.HasPrefix(r.Header.Get("Content-Type"), YANG) {
		rpcError(w, http.StatusUnsupportedMediaType, "invalid-value", "Content-Type must be "+YANG)
		return
	}
	// The switch resource, read for firmware-version after login
	// (pyfos_auth.py, Ansible brocade_connection.py); a single switch is
	// a bare object (Ansible and Cinder index it directly).
	if r.Method == http.MethodGet && ((r.URL.Path == "/rest/running/brocade-fibrechannel-switch/fibrechannel-switch" && s.atLeast("8.2.1b")) ||
		(r.URL.Path == "/rest/running/switch/fibrechannel-switch" && !s.atLeast("9.0.0"))) {
		writeYANG(w, map[string]any{"Response": map[string]any{"fibrechannel-switch": map[string]any{
			"name": "10:00:c4:f5:7c:00:00:01", "domain-id": 1, "user-friendly-name": "sw1",
			"firmware-version": s.firmware, "is-enabled-state": true}}})
		return
	}
	vfid := DefaultVFID
	if v := r.URL.Query().Get("vf-id"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			rpcError(w, http.StatusBadRequest, "invalid-value", "Invalid vf-id")
			return
		}
		vfid = n
	}
	f := s.fabrics[vfid]
	if f == nil {
		rpcError(w, http.StatusBadRequest, "invalid-value", fmt.Sprintf("Virtual Fabric %d is not configured", vfid))
		return
	}
	// brocade-zone from 8.2.1b, zoning before 9.0.0 (pyfos
	// VER_RANGE_821b_and_ABOVE / VER_RANGE_820_TO_821A; Ansible uses
	// zoning below 9, Cinder always).
	rest, ok := strings.CutPrefix(r.URL.Path, "/rest/running/brocade-zone/")
	ok = ok && s.atLeast("8.2.1b")
	if !ok {
		rest, ok = strings.CutPrefix(r.URL.Path, "/rest/running/zoning/")
		ok = ok && !s.atLeast("9.0.0")
	}
	if !ok {
		rpcError(w, http.StatusNotFound, "invalid-value", "Not found")
		return
	}
	if r.Method != http.MethodGet && len(s.failWrite) > 0 {
		f := s.failWrite[0]
		s.failWrite = s.failWrite[1:]
		rpcError(w, f.status, f.tag, f.msg)
		return
	}
	switch {
	case rest == "defined-configuration" && r.Method == http.MethodGet:
		s.getDefined(w, f, tok)
	case rest == "defined-configuration" && (r.Method == http.MethodPost || r.Method == http.MethodDelete || r.Method == http.MethodPatch):
		s.changeDefined(w, r, f, tok)
	case rest == "effective-configuration" && r.Method == http.MethodGet:
		s.getEffective(w, f, false)
	case rest == "effective-configuration/checksum" && r.Method == http.MethodGet:
		s.getEffective(w, f, true)
	case rest == "effective-configuration" && r.Method == http.MethodPatch:
		s.patchEffective(w, r, f, tok)
	case rest == "effective-configuration/cfg-action/1" && r.Method == http.MethodPatch:
		s.leafAction(w, r, f, tok, 1, "")
	case strings.HasPrefix(rest, "effective-configuration/cfg-name/") && r.Method == http.MethodPatch:
		s.leafAction(w, r, f, tok, 0, strings.TrimPrefix(rest, "effective-configuration/cfg-name/"))
	default:
		rpcError(w, http.StatusNotFound, "invalid-value", "Not found")
	}
}

// POST /rest/login with basic auth; the token comes back in the
// Authorization header as "Custom_Basic <token>" (FOS REST API Reference,
// "Logging in"). Sessions are limited per switch.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	u, p, ok := r.BasicAuth()
	if !ok || u != s.User || p != s.Password {
		rpcError(w, http.StatusUnauthorized, "access-denied", "Authentication failed")
		return
	}
	if len(s.sessions) >= s.maxSessions {
		// Status code unverified; the message is what users report.
		rpcError(w, http.StatusServiceUnavailable, "resource-denied", "Maximum number of REST sessions reached")
		return
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	s.sessions[tok] = true
	s.logins++
	w.Header().Set("Authorization", "Custom_Basic "+tok)
	w.Header().Set("Content-Type", YANG)
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"Response":{"User-Name":"`+u+`"}}`)
}

// logout ends a session; a zoning transaction it owns is aborted, as FOS
// aborts an open transaction when its session ends.
func (s *Server) logout(tok string) {
	delete(s.sessions, tok)
	s.logouts++
	for _, f := range s.fabrics {
		if f.txOwner == tok {
			f.txOwner = ""
		}
	}
}

// oneOrMany renders a list the way FOS does: a bare value when it has one
// element, an array otherwise (Cinder's brcd_rest_fc_zone_client checks
// for exactly this).
func oneOrMany[T any](v []T) any {
	if len(v) == 1 {
		return v[0]
	}
	return v
}

func (s *Server) view(f *fabric, tok string) db {
	if f.txOwner == tok {
		return f.txDefined
	}
	return f.defined
}

// GET defined-configuration: {"Response":{"defined-configuration":{"cfg":
// [...],"zone":[...],"alias":[...]}}}; the session that owns the open
// transaction sees its uncommitted changes.
func (s *Server) getDefined(w http.ResponseWriter, f *fabric, tok string) {
	d := s.view(f, tok)
	var zones, cfgs []any
	for _, z := range slices.Sorted(maps.Keys(d.zones)) {
		zones = append(zones, map[string]any{"zone-name": z, "zone-type": 0,
			"member-entry": map[string]any{"entry-name": oneOrMany(d.zones[z])}})
	}
	for _, c := range slices.Sorted(maps.Keys(d.cfgs)) {
		cfgs = append(cfgs, map[string]any{"cfg-name": c, "member-zone": map[string]any{"zone-name": oneOrMany(d.cfgs[c])}})
	}
	dc := map[string]any{}
	if len(cfgs) > 0 {
		dc["cfg"] = oneOrMany(cfgs)
	}
	if len(zones) > 0 {
		dc["zone"] = oneOrMany(zones)
	}
	writeYANG(w, map[string]any{"Response": map[string]any{"defined-configuration": dc}})
}

func writeYANG(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", YANG)
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}

// zoneRec is a zone in a write body: {"zone-name":Z,"zone-type":T,
// "member-entry":{"entry-name":[...]}}; brcdapi's del_zones sends the
// zone-name alone.
type zoneRec struct {
	Name    string `json:"zone-name"`
	Type    *int   `json:"zone-type"`
	Members *struct {
		Entries   []string `json:"entry-name"`
		Principal []string `json:"principal-entry-name"`
	} `json:"member-entry"`
}

// cfgRec is a zone configuration in a write body: {"cfg-name":C,
// "member-zone":{"zone-name":[...]}} (brcdapi create_zonecfg,
// zonecfg_add, zonecfg_remove; del_zonecfg sends the name alone).
type cfgRec struct {
	Name    string `json:"cfg-name"`
	Members *struct {
		Zones []string `json:"zone-name"`
	} `json:"member-zone"`
}

// changeCfgs applies cfg changes to work: POST creates a cfg or adds
// zones to it (cfgcreate / cfgadd), DELETE removes the zones listed or,
// without member-zone, the cfg (cfgremove / cfgdelete), PATCH replaces
// its zones.
func changeCfgs(w http.ResponseWriter, method string, work db, cfgs []cfgRec) bool {
	for _, c := range cfgs {
		if c.Name == "" {
			rpcError(w, http.StatusBadRequest, "invalid-value", "cfg-name is required")
			return false
		}
		zones, exists := work.cfgs[c.Name]
		if !exists && method != http.MethodPost {
			rpcError(w, http.StatusBadRequest, "invalid-value", fmt.Sprintf("Configuration %s does not exist", c.Name))
			return false
		}
		if c.Members == nil {
			if method != http.MethodDelete {
				rpcError(w, http.StatusBadRequest, "invalid-value", "member-zone is required")
				return false
			}
			delete(work.cfgs, c.Name)
			continue
		}
		for _, z := range c.Members.Zones {
			if _, ok := work.zones[z]; !ok {
				rpcError(w, http.StatusBadRequest, "invalid-value", fmt.Sprintf("Zone %s does not exist", z))
				return false
			}
		}
		switch method {
		case http.MethodPost:
			for _, z := range c.Members.Zones {
				if !slices.Contains(zones, z) {
					zones = append(zones, z)
				}
			}
		case http.MethodPatch:
			zones = slices.Clone(c.Members.Zones)
		default:
			zones = slices.DeleteFunc(zones, func(z string) bool { return slices.Contains(c.Members.Zones, z) })
		}
		work.cfgs[c.Name] = zones
	}
	return true
}

// decodeWrapped decodes a write body that must name its target
// container: {"<container>":{...}} with nothing else (brcdapi zone.py,
// Ansible brocade_zoning.py's XML root). It answers the error itself
// and returns false when the body has another shape.
func decodeWrapped(w http.ResponseWriter, r *http.Request, container string, v any) bool {
	var outer map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&outer); err != nil {
		rpcError(w, http.StatusBadRequest, "malformed-message", "Invalid request body")
		return false
	}
	inner, ok := outer[container]
	if !ok || len(outer) != 1 {
		// A body without its container (the container's content sent
		// bare) does not identify the target resource. Wording unverified.
		rpcError(w, http.StatusBadRequest, "malformed-message", fmt.Sprintf("Request body does not match the resource: expected %q", container))
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(inner)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		rpcError(w, http.StatusBadRequest, "invalid-value", "Invalid request body: "+err.Error())
		return false
	}
	return true
}

// changeDefined serves writes to defined-configuration, body
// {"defined-configuration":{"zone":[...]}}:
//   - POST creates zones or adds members to existing ones (zonecreate /
//     zoneadd: brcdapi create_zones, Ansible zone_post);
//   - DELETE removes the members listed (zoneremove: Ansible
//     zone_delete), or the whole zone when no member-entry is given
//     (zonedelete: brcdapi del_zones); FOS deletes a zone whose last
//     member goes;
//   - PATCH replaces a zone's member lists (brcdapi modify_zone, Ansible
//     zone_patch).
//
// The first change opens the session's zoning transaction; another
// session's open transaction refuses it.
func (s *Server) changeDefined(w http.ResponseWriter, r *http.Request, f *fabric, tok string) {
	var body struct {
		Zone []zoneRec `json:"zone"`
		Cfg  []cfgRec  `json:"cfg"`
	}
	if !decodeWrapped(w, r, "defined-configuration", &body) {
		return
	}
	if len(body.Zone) == 0 && len(body.Cfg) == 0 {
		rpcError(w, http.StatusBadRequest, "invalid-value", "No zone or cfg in the request")
		return
	}
	if f.txOwner != "" && f.txOwner != tok {
		rpcError(w, http.StatusBadRequest, "operation-failed", MsgOutstanding)
		return
	}
	work := s.view(f, tok).clone()
	for _, z := range body.Zone {
		if z.Name == "" {
			rpcError(w, http.StatusBadRequest, "invalid-value", "zone-name is required")
			return
		}
		members, exists := work.zones[z.Name]
		var entries []string
		if z.Members != nil {
			entries = z.Members.Entries
		}
		switch {
		case r.Method == http.MethodDelete && z.Members == nil:
			if !exists {
				rpcError(w, http.StatusBadRequest, "invalid-value", fmt.Sprintf("Zone %s does not exist", z.Name))
				return
			}
			delete(work.zones, z.Name)
			continue
		case len(entries) == 0:
			rpcError(w, http.StatusBadRequest, "invalid-value", "member-entry is required")
			return
		case r.Method == http.MethodPatch:
			if !exists {
				rpcError(w, http.StatusBadRequest, "invalid-value", fmt.Sprintf("Zone %s does not exist", z.Name))
				return
			}
			members = nil
			for _, e := range entries {
				members = append(members, strings.ToLower(e))
			}
		}
		for _, e := range entries {
			if r.Method == http.MethodPatch {
				break
			}
			switch {
			case r.Method == http.MethodPost && containsFold(members, e):
				rpcError(w, http.StatusBadRequest, "operation-failed", fmt.Sprintf("%s is already a member of zone %s", e, z.Name))
				return
			case r.Method == http.MethodPost:
				members = append(members, strings.ToLower(e))
			case !exists:
				rpcError(w, http.StatusBadRequest, "invalid-value", fmt.Sprintf("Zone %s does not exist", z.Name))
				return
			default:
				i := slices.IndexFunc(members, func(m string) bool { return strings.EqualFold(m, e) })
				if i < 0 {
					rpcError(w, http.StatusBadRequest, "operation-failed", fmt.Sprintf("%s is not a member of zone %s", e, z.Name))
					return
				}
				members = slices.Delete(members, i, i+1)
			}
		}
		if len(members) == 0 {
			// FOS deletes a zone whose last member is removed; a
			// zone in a cfg cannot be empty.
			delete(work.zones, z.Name)
		} else {
			work.zones[z.Name] = members
		}
	}
	if !changeCfgs(w, r.Method, work, body.Cfg) {
		return
	}
	if f.txOwner == "" {
		f.txOwner = tok
		f.txToken++
	}
	f.txDefined = work
	if r.Method == http.MethodPost {
		w.WriteHeader(http.StatusCreated)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// GET effective-configuration[/checksum]: cfg-name, checksum,
// transaction-token (0 without an open transaction), enabled-zone.
func (s *Server) getEffective(w http.ResponseWriter, f *fabric, checksumOnly bool) {
	ec := map[string]any{"checksum": f.checksum}
	if !checksumOnly {
		tt := 0
		if f.txOwner != "" {
			tt = f.txToken
		}
		var enabled []any
		for _, z := range slices.Sorted(maps.Keys(f.effZones)) {
			enabled = append(enabled, map[string]any{"zone-name": z, "zone-type": 0,
				"member-entry": map[string]any{"entry-name": oneOrMany(f.effZones[z])}})
		}
		ec["cfg-name"] = f.effCfg
		ec["cfg-action"] = 0
		ec["default-zone-access"] = 0
		ec["transaction-token"] = tt
		if len(enabled) > 0 {
			ec["enabled-zone"] = oneOrMany(enabled)
		}
	}
	writeYANG(w, map[string]any{"Response": map[string]any{"effective-configuration": ec}})
}

// checkCommit applies the rules shared by save and enable: no other
// session's transaction, and the caller's checksum is the current one.
func (s *Server) checkCommit(w http.ResponseWriter, f *fabric, tok, checksum string) bool {
	if f.txOwner != "" && f.txOwner != tok {
		rpcError(w, http.StatusBadRequest, "operation-failed", MsgOutstanding)
		return false
	}
	if f.stale {
		f.stale = false
		f.checksum = newChecksum()
	}
	if checksum != f.checksum {
		rpcError(w, http.StatusBadRequest, "operation-failed", MsgChecksum)
		return false
	}
	return true
}

// patchEffective serves PATCH effective-configuration with
// {"effective-configuration":{...}}:
//   - cfg-name (with checksum; brcdapi adds cfg-action 1): enable cfg,
//     which also saves the transaction (Ansible cfg_enable, brcdapi
//     enable_zonecfg);
//   - cfg-action 1 with checksum: save (pyfos CFG_ACTION_SAVE, brcdapi
//     save, Ansible cfg_save);
//   - cfg-action 4: abort the session's transaction (brcdapi abort,
//     Ansible cfg_abort).
func (s *Server) patchEffective(w http.ResponseWriter, r *http.Request, f *fabric, tok string) {
	var b struct {
		CfgName   string `json:"cfg-name"`
		Checksum  string `json:"checksum"`
		CfgAction int    `json:"cfg-action"`
	}
	if !decodeWrapped(w, r, "effective-configuration", &b) {
		return
	}
	switch {
	case b.CfgName != "" && (b.CfgAction == 0 || b.CfgAction == 1):
		s.enable(w, f, tok, b.CfgName, b.Checksum)
	case b.CfgAction == 1:
		s.save(w, f, tok, b.Checksum)
	case b.CfgAction == 4:
		if f.txOwner == "" {
			rpcError(w, http.StatusBadRequest, "operation-failed", "No outstanding zoning transaction to abort")
			return
		}
		if f.txOwner != tok {
			rpcError(w, http.StatusBadRequest, "operation-failed", MsgOutstanding)
			return
		}
		f.txOwner = ""
		w.WriteHeader(http.StatusNoContent)
	default:
		rpcError(w, http.StatusBadRequest, "invalid-value", "Unsupported cfg-action")
	}
}

// leafAction serves Cinder's leaf forms: PATCH
// effective-configuration/cfg-action/1 (save) and .../cfg-name/<cfg>
// (enable), each with the bare body {"checksum":C} of the leaf's parent
// (brcd_rest_fc_zone_client.py).
func (s *Server) leafAction(w http.ResponseWriter, r *http.Request, f *fabric, tok string, action int, cfg string) {
	var b struct {
		Checksum string `json:"checksum"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || b.Checksum == "" {
		rpcError(w, http.StatusBadRequest, "malformed-message", "Invalid request body")
		return
	}
	if action == 1 {
		s.save(w, f, tok, b.Checksum)
		return
	}
	s.enable(w, f, tok, cfg, b.Checksum)
}

func (s *Server) save(w http.ResponseWriter, f *fabric, tok, checksum string) {
	if !s.checkCommit(w, f, tok, checksum) {
		return
	}
	if f.txOwner == tok {
		f.defined, f.txOwner = f.txDefined, ""
	}
	f.checksum = newChecksum()
	w.WriteHeader(http.StatusNoContent)
}

// enable enables cfg (which also saves the transaction); a stale
// checksum fails.
func (s *Server) enable(w http.ResponseWriter, f *fabric, tok, cfg, checksum string) {
	if !s.checkCommit(w, f, tok, checksum) {
		return
	}
	d := s.view(f, tok)
	if _, ok := d.cfgs[cfg]; !ok {
		rpcError(w, http.StatusBadRequest, "invalid-value", fmt.Sprintf("Configuration %s does not exist", cfg))
		return
	}
	if f.txOwner == tok {
		f.defined, f.txOwner = f.txDefined, ""
	}
	f.enable(cfg)
	w.WriteHeader(http.StatusNoContent)
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}
