// Package redfishtest is a Redfish composition service for tests: an
// httptest server that serves a DMTF mockup (embedded by
// internal/mockups, under the DMTF's BSD 3-Clause licence) and implements
// composition statefully: POST to the Systems collection (DSP0268
// ComputerSystemCollection, "Composition" use case), optionally the
// CompositionService.Compose manifest action, DELETE of composed systems,
// asynchronous task monitors (DSP0266 "Asynchronous operations"), the
// resource zone rule (blocks of different ZoneOfResourceBlocks zones are
// refused with Composition IncompatibleZone), blocks already in use
// (ResourceBlockInUse), HTTP Basic authentication and injected 503s.
//
// Import it from tests of code that drives Redfish composition
// (drivers/redfish).
package redfishtest

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/internal/mockups"
)

// Mockups that Start serves.
const (
	BladedPartitions = mockups.BladedPartitions
	Composability    = mockups.Composability
)

const (
	systemsURI = "/redfish/v1/Systems"
	blocksURI  = "/redfish/v1/CompositionService/ResourceBlocks"
	zonesURI   = "/redfish/v1/CompositionService/ResourceZones"
	csURI      = "/redfish/v1/CompositionService"
	actionURI  = "/redfish/v1/CompositionService/Actions/CompositionService.Compose"
	monitorURI = "/redfish/v1/TaskService/TaskMonitors/"
)

// Server is a running Redfish service.
type Server struct {
	// URL is the service's base URL (the service root is URL/redfish/v1).
	URL string

	user, pass    string
	composeAction bool
	async         bool
	requireOff    bool
	taskResource  bool
	monitorBase   string // prefix of 202 Location headers: an absolute task monitor URI

	mu       sync.Mutex
	res      map[string]map[string]any
	failNext []int
	stall    time.Duration // hold the next request this long
	stallW   time.Duration // hold the next change (POST, DELETE) this long
	held     int           // requests being held now
	nextID   int
	tasks    map[string]*task
	posts    int
}

type task struct {
	polls  int
	run    func() (int, map[string]any, string) // status, body, Location
	status int
	body   map[string]any
	loc    string
}

// Option configures a Server.
type Option func(*Server)

// WithComposeAction advertises and serves #CompositionService.Compose.
func WithComposeAction() Option { return func(s *Server) { s.composeAction = true } }

// WithAsync answers compositions and deletions with 202 and a task
// monitor; the change happens when the monitor is polled the second time.
func WithAsync() Option { return func(s *Server) { s.async = true } }

// WithTaskResource makes a finished task monitor answer 200 with the Task
// resource (TaskState Completed or Exception, with Messages) instead of
// the operation's own response, as some services do.
func WithTaskResource() Option { return func(s *Server) { s.taskResource = true } }

// WithTaskMonitorBase makes 202 answers name their task monitor by an
// absolute URI starting with base ("https://other.example:8443"), as
// services behind a proxy do. With another host than the service's, the
// monitor is not served there: clients must not follow it with the
// service's credentials. "SELF" stands for the server's own URL.
func WithTaskMonitorBase(base string) Option { return func(s *Server) { s.monitorBase = base } }

// WithRequireOff refuses to delete a composed system that is powered on
// (409, Base ResourceInUse).
func WithRequireOff() Option { return func(s *Server) { s.requireOff = true } }

// WithBasicAuth requires HTTP Basic credentials.
func WithBasicAuth(user, pass string) Option { return func(s *Server) { s.user, s.pass = user, pass } }

// Start serves mockup (BladedPartitions or Composability) until the test
// ends.
func Start(t testing.TB, mockup string, opts ...Option) *Server {
	t.Helper()
	s := &Server{res: map[string]map[string]any{}, tasks: map[string]*task{}}
	for _, o := range opts {
		o(s)
	}
	loaded, err := load(mockup)
	if err != nil {
		t.Fatalf("redfishtest: load mockup %s: %v", mockup, err)
	}
	for uri, obj := range loaded {
		s.res[uri] = deepCopy(obj).(map[string]any)
	}
	if s.res[csURI] == nil || s.res[systemsURI] == nil {
		t.Fatalf("redfishtest: mockup %s has no CompositionService or Systems", mockup)
	}
	if s.composeAction {
		s.res[csURI]["Actions"] = map[string]any{
			"#CompositionService.Compose": map[string]any{"target": actionURI},
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// cache holds each mockup as parsed once per process; servers get deep
// copies, so the cache is never written after loading.
var cache sync.Map // mockup name -> map[string]map[string]any

// load reads every index.json of a mockup, keyed by its URI.
func load(mockup string) (map[string]map[string]any, error) {
	if m, ok := cache.Load(mockup); ok {
		return m.(map[string]map[string]any), nil
	}
	fsys, err := fs.Sub(mockups.FS(), mockup)
	if err != nil {
		return nil, err
	}
	res := map[string]map[string]any{}
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "index.json" {
			return err
		}
		uri := "/redfish/v1"
		if dir := path.Dir(p); dir != "." {
			uri += "/" + dir
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		var obj map[string]any
		if err := json.Unmarshal(data, &obj); err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		res[uri] = obj
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("no such mockup %q", mockup)
	}
	m, _ := cache.LoadOrStore(mockup, res)
	return m.(map[string]map[string]any), nil
}

func deepCopy(x any) any {
	switch v := x.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, e := range v {
			l[i] = deepCopy(e)
		}
		return l
	}
	return x
}

// FailNext makes the next request answer 503 Service Unavailable (with
// Retry-After), without effect.
func (s *Server) FailNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, http.StatusServiceUnavailable)
}

// StallNext holds the next request for d before carrying it out and
// answering (an overloaded service); the client may give up meanwhile.
func (s *Server) StallNext(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stall = d
}

// StallNextChange is StallNext for the next POST or DELETE only.
func (s *Server) StallNextChange(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stallW = d
}

// Held returns how many requests StallNext or StallNextChange is holding
// now.
func (s *Server) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// Posts counts composition requests (POST to Systems or the action).
func (s *Server) Posts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts
}

// AddBlock adds an unused compute resource block id, shaped like the
// mockup's first compute block, in the given zones (created as
// ZoneOfResourceBlocks when missing).
func (s *Server) AddBlock(id string, zones ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var tmpl map[string]any
	for _, ref := range refs(s.res[blocksURI]["Members"]) {
		b := s.res[ref]
		if types, _ := b["ResourceBlockType"].([]any); slices.Contains(types, any("ComputerSystem")) || slices.Contains(types, any("Compute")) {
			tmpl = b
			break
		}
	}
	b := clone(tmpl)
	uri := blocksURI + "/" + id
	b["@odata.id"], b["Id"], b["Name"] = uri, id, "Test block "+id
	delete(b, "ComputerSystems") // the template's own subordinate system
	b["CompositionStatus"] = map[string]any{"CompositionState": "Unused", "Reserved": false, "SharingCapable": false, "MaxCompositions": 1.0, "NumberOfCompositions": 0.0}
	var zl []any
	for _, z := range zones {
		zuri := zonesURI + "/" + z
		if s.res[zuri] == nil {
			s.res[zuri] = map[string]any{
				"@odata.type": "#Zone.v1_6_3.Zone", "@odata.id": zuri, "Id": z, "Name": "Zone " + z,
				"ZoneType": "ZoneOfResourceBlocks", "Status": map[string]any{"State": "Enabled", "Health": "OK"},
				"Links": map[string]any{"ResourceBlocks": []any{}},
			}
			addMember(s.res[zonesURI], zuri)
		}
		zl = append(zl, map[string]any{"@odata.id": zuri})
		zlinks := s.res[zuri]["Links"].(map[string]any)
		zlinks["ResourceBlocks"] = append(asList(zlinks["ResourceBlocks"]), map[string]any{"@odata.id": uri})
	}
	b["Links"] = map[string]any{"ComputerSystems": []any{}, "Zones": zl}
	s.res[uri] = b
	addMember(s.res[blocksURI], uri)
}

// SetPower sets the PowerState of system uri ("On" or "Off").
func (s *Server) SetPower(uri, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sys := s.res[uri]; sys != nil {
		sys["PowerState"] = state
	}
}

// Composed is a composed system as the service holds it.
type Composed struct {
	URI, ID, Name string
	Blocks        []string // resource block Ids, in Links order
}

// ComposedSystems returns the composed systems, read from the service's
// state.
func (s *Server) ComposedSystems() []Composed {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Composed
	for _, ref := range refs(s.res[systemsURI]["Members"]) {
		sys := s.res[ref]
		if sys == nil || sys["SystemType"] != "Composed" {
			continue
		}
		c := Composed{URI: ref, ID: str(sys["Id"]), Name: str(sys["Name"])}
		links, _ := sys["Links"].(map[string]any)
		for _, b := range refs(links["ResourceBlocks"]) {
			c.Blocks = append(c.Blocks, path.Base(b))
		}
		out = append(out, c)
	}
	return out
}

// Block returns resource block id's CompositionState and the systems it
// is linked to.
func (s *Server) Block(id string) (state string, systems []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.res[blocksURI+"/"+id]
	if b == nil {
		return "", nil
	}
	st, _ := b["CompositionStatus"].(map[string]any)
	links, _ := b["Links"].(map[string]any)
	return str(st["CompositionState"]), refs(links["ComputerSystems"])
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != s.user || p != s.pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="redfish"`)
			writeError(w, http.StatusUnauthorized, "Base.1.16.0.InsufficientPrivilege", "authentication required")
			return
		}
	}
	s.mu.Lock()
	d := s.stall
	s.stall = 0
	if r.Method != http.MethodGet && s.stallW > 0 {
		d, s.stallW = s.stallW, 0
	}
	s.mu.Unlock()
	if d > 0 {
		s.mu.Lock()
		s.held++
		s.mu.Unlock()
		time.Sleep(d) // carried out even if the client has gone
		s.mu.Lock()
		s.held--
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failNext) > 0 {
		code := s.failNext[0]
		s.failNext = s.failNext[1:]
		w.Header().Set("Retry-After", "1")
		writeError(w, code, "Base.1.16.0.ServiceTemporarilyUnavailable", "injected: service temporarily unavailable")
		return
	}
	uri := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case strings.HasPrefix(uri, monitorURI) && r.Method == http.MethodGet:
		s.pollTask(w, uri)
	case uri == systemsURI && r.Method == http.MethodPost:
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeError(w, http.StatusBadRequest, "Base.1.16.0.MalformedJSON", err.Error())
			return
		}
		s.posts++
		s.respond(w, func() (int, map[string]any, string) { return s.compose(body) })
	case uri == actionURI && r.Method == http.MethodPost && s.composeAction:
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeError(w, http.StatusBadRequest, "Base.1.16.0.MalformedJSON", err.Error())
			return
		}
		s.posts++
		s.respond(w, func() (int, map[string]any, string) { return s.composeManifest(body) })
	case r.Method == http.MethodDelete && strings.HasPrefix(uri, systemsURI+"/"):
		if s.res[uri] == nil {
			writeError(w, http.StatusNotFound, "Base.1.16.0.ResourceMissingAtURI", "no resource at "+uri)
			return
		}
		s.respond(w, func() (int, map[string]any, string) { return s.decompose(uri) })
	case r.Method == http.MethodGet:
		obj := s.res[uri]
		if obj == nil {
			writeError(w, http.StatusNotFound, "Base.1.16.0.ResourceMissingAtURI", "no resource at "+uri)
			return
		}
		writeJSON(w, http.StatusOK, obj, "")
	default:
		writeError(w, http.StatusMethodNotAllowed, "Base.1.16.0.OperationNotAllowed", r.Method+" "+uri+" not allowed")
	}
}

// respond runs op now, or as a task when the server is asynchronous.
func (s *Server) respond(w http.ResponseWriter, op func() (int, map[string]any, string)) {
	if !s.async {
		status, body, loc := op()
		writeJSON(w, status, body, loc)
		return
	}
	s.nextID++
	mon := monitorURI + strconv.Itoa(s.nextID)
	s.tasks[mon] = &task{run: op}
	w.Header().Set("Retry-After", "0")
	base := s.monitorBase
	if base == "SELF" {
		base = s.URL
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"@odata.id": mon, "TaskState": "Running"}, base+mon)
}

func (s *Server) pollTask(w http.ResponseWriter, uri string) {
	t := s.tasks[uri]
	if t == nil {
		writeError(w, http.StatusNotFound, "Base.1.16.0.ResourceMissingAtURI", "no task monitor "+uri)
		return
	}
	t.polls++
	switch {
	case t.polls == 1:
		writeJSON(w, http.StatusAccepted, map[string]any{"@odata.id": uri, "TaskState": "Running"}, uri)
		return
	case t.polls == 2:
		t.status, t.body, t.loc = t.run()
	}
	if s.taskResource {
		state, msgs := "Completed", []any{}
		if t.status >= 300 {
			state = "Exception"
			if e, ok := t.body["error"].(map[string]any); ok {
				msgs = asList(e["@Message.ExtendedInfo"])
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"@odata.type": "#Task.v1_7_4.Task", "@odata.id": uri, "Id": path.Base(uri),
			"TaskState": state, "TaskStatus": map[bool]string{true: "OK", false: "Critical"}[state == "Completed"],
			"Messages": msgs,
		}, "")
		return
	}
	writeJSON(w, t.status, t.body, t.loc)
}

// compose creates a composed system from body (a ComputerSystem).
func (s *Server) compose(body map[string]any) (int, map[string]any, string) {
	name, _ := body["Name"].(string)
	if name == "" {
		return errBody(http.StatusBadRequest, "Base.1.16.0.PropertyMissing", "Name is required on create")
	}
	links, _ := body["Links"].(map[string]any)
	blocks := refs(links["ResourceBlocks"])
	if len(blocks) == 0 {
		return errBody(http.StatusBadRequest, "Base.1.16.0.PropertyMissing", "Links.ResourceBlocks is required on create")
	}
	for _, c := range s.composedLocked() {
		if c["Name"] == name {
			return errBody(http.StatusConflict, "Base.1.16.0.ResourceAlreadyExists", "a composed system named "+name+" exists")
		}
	}
	var zones map[string]bool
	seen := map[string]bool{}
	for _, b := range blocks {
		if seen[b] {
			return errBody(http.StatusBadRequest, "Base.1.16.0.PropertyValueConflict", "resource block "+b+" listed twice")
		}
		seen[b] = true
		rb := s.res[b]
		if rb == nil || !strings.HasPrefix(b, blocksURI+"/") {
			return errBody(http.StatusBadRequest, "Composition.1.1.1.ResourceBlockNotFound", "Resource block '"+b+"' is not found.")
		}
		st, _ := rb["CompositionStatus"].(map[string]any)
		n, _ := st["NumberOfCompositions"].(float64)
		max, hasMax := st["MaxCompositions"].(float64)
		shareable, _ := st["SharingCapable"].(bool)
		if se, ok := st["SharingEnabled"].(bool); ok && !se {
			shareable = false
		}
		state := str(st["CompositionState"])
		inUse := state != "Unused" && !(shareable && (!hasMax || n < max))
		if inUse || st["Reserved"] == true {
			return errBody(http.StatusConflict, "Composition.1.1.1.ResourceBlockInUse", "The resource block '"+path.Base(b)+"' is in use.")
		}
		bl, _ := rb["Links"].(map[string]any)
		z := map[string]bool{}
		for _, zr := range refs(bl["Zones"]) {
			if zones == nil || zones[zr] {
				z[zr] = true
			}
		}
		zones = z
		if len(zones) == 0 {
			return errBody(http.StatusBadRequest, "Composition.1.1.1.IncompatibleZone", "The requested resource blocks span multiple resource zones.")
		}
	}
	s.nextID++
	id := "Composed-" + strconv.Itoa(s.nextID)
	uri := systemsURI + "/" + id
	var rbl []any
	for _, b := range blocks {
		rbl = append(rbl, map[string]any{"@odata.id": b})
	}
	sys := map[string]any{
		"@odata.type": "#ComputerSystem.v1_27_0.ComputerSystem",
		"@odata.id":   uri,
		"Id":          id,
		"Name":        name,
		"SystemType":  "Composed",
		"PowerState":  "Off",
		"Status":      map[string]any{"State": "Enabled", "Health": "OK"},
		"Links":       map[string]any{"ResourceBlocks": rbl},
		"Actions": map[string]any{"#ComputerSystem.Reset": map[string]any{
			"target": uri + "/Actions/ComputerSystem.Reset",
		}},
	}
	s.res[uri] = sys
	addMember(s.res[systemsURI], uri)
	for _, b := range blocks {
		rb := s.res[b]
		st := rb["CompositionStatus"].(map[string]any)
		n, _ := st["NumberOfCompositions"].(float64)
		st["NumberOfCompositions"] = n + 1
		st["CompositionState"] = "Composed"
		if shareable, _ := st["SharingCapable"].(bool); shareable {
			st["CompositionState"] = "ComposedAndAvailable"
		}
		bl, _ := rb["Links"].(map[string]any)
		if bl == nil {
			bl = map[string]any{}
			rb["Links"] = bl
		}
		bl["ComputerSystems"] = append(asList(bl["ComputerSystems"]), map[string]any{"@odata.id": uri})
	}
	return http.StatusCreated, sys, uri
}

// composeManifest serves CompositionService.Compose with ComposeSystem
// stanzas (RequestType Apply; Preview changes nothing).
func (s *Server) composeManifest(body map[string]any) (int, map[string]any, string) {
	if body["RequestFormat"] != "Manifest" {
		return errBody(http.StatusBadRequest, "Base.1.16.0.PropertyValueNotInList", "RequestFormat must be Manifest")
	}
	manifest, _ := body["Manifest"].(map[string]any)
	stanzas, _ := manifest["Stanzas"].([]any)
	if len(stanzas) == 0 {
		return errBody(http.StatusBadRequest, "Composition.1.1.1.EmptyManifest", "The manifest contains no stanzas.")
	}
	if body["RequestType"] == "Preview" {
		return http.StatusOK, body, ""
	}
	var out []any
	for _, x := range stanzas {
		st, _ := x.(map[string]any)
		if st["StanzaType"] != "ComposeSystem" {
			return errBody(http.StatusBadRequest, "Composition.1.1.1.UnableToProcessStanzaRequest", fmt.Sprintf("stanza type %v not supported", st["StanzaType"]))
		}
		req, _ := st["Request"].(map[string]any)
		status, sys, loc := s.compose(req)
		if status != http.StatusCreated {
			return status, sys, ""
		}
		out = append(out, map[string]any{"StanzaType": "ComposeSystem", "StanzaId": st["StanzaId"], "Request": req, "Response": map[string]any{"@odata.id": loc}})
	}
	return http.StatusOK, map[string]any{"RequestFormat": "Manifest", "RequestType": "Apply", "Manifest": map[string]any{"Stanzas": out}}, ""
}

func (s *Server) decompose(uri string) (int, map[string]any, string) {
	sys := s.res[uri]
	if sys == nil {
		return errBody(http.StatusNotFound, "Base.1.16.0.ResourceMissingAtURI", "no resource at "+uri)
	}
	if sys["SystemType"] != "Composed" {
		return errBody(http.StatusMethodNotAllowed, "Base.1.16.0.OperationNotAllowed", "only composed systems can be deleted")
	}
	if s.requireOff && sys["PowerState"] != "Off" {
		return errBody(http.StatusConflict, "Base.1.16.0.ResourceInUse", "power the system off before decomposing it")
	}
	links, _ := sys["Links"].(map[string]any)
	for _, b := range refs(links["ResourceBlocks"]) {
		rb := s.res[b]
		if rb == nil {
			continue
		}
		st := rb["CompositionStatus"].(map[string]any)
		n, _ := st["NumberOfCompositions"].(float64)
		if n > 0 {
			st["NumberOfCompositions"] = n - 1
		}
		bl, _ := rb["Links"].(map[string]any)
		var keep []any
		for _, r := range refs(bl["ComputerSystems"]) {
			if r != uri {
				keep = append(keep, map[string]any{"@odata.id": r})
			}
		}
		bl["ComputerSystems"] = append([]any{}, keep...)
		if len(keep) == 0 {
			st["CompositionState"] = "Unused"
		}
	}
	delete(s.res, uri)
	for p := range s.res { // subordinate resources
		if strings.HasPrefix(p, uri+"/") {
			delete(s.res, p)
		}
	}
	removeMember(s.res[systemsURI], uri)
	return http.StatusNoContent, nil, ""
}

func (s *Server) composedLocked() []map[string]any {
	var out []map[string]any
	for _, ref := range refs(s.res[systemsURI]["Members"]) {
		if sys := s.res[ref]; sys != nil && sys["SystemType"] == "Composed" {
			out = append(out, sys)
		}
	}
	return out
}

func errBody(status int, id, msg string) (int, map[string]any, string) {
	return status, map[string]any{"error": map[string]any{
		"code":    id,
		"message": msg,
		"@Message.ExtendedInfo": []any{map[string]any{
			"@odata.type": "#Message.v1_1_2.Message", "MessageId": id, "Message": msg, "Severity": "Warning",
		}},
	}}, ""
}

func writeError(w http.ResponseWriter, status int, id, msg string) {
	_, body, _ := errBody(status, id, msg)
	writeJSON(w, status, body, "")
}

func writeJSON(w http.ResponseWriter, status int, body map[string]any, location string) {
	if location != "" {
		w.Header().Set("Location", location)
	}
	w.Header().Set("OData-Version", "4.0")
	if body == nil || status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func refs(x any) []string {
	var out []string
	for _, e := range asList(x) {
		if m, ok := e.(map[string]any); ok {
			if id, ok := m["@odata.id"].(string); ok {
				out = append(out, id)
			}
		}
	}
	return out
}

func asList(x any) []any {
	l, _ := x.([]any)
	return l
}

func str(x any) string {
	s, _ := x.(string)
	return s
}

func addMember(coll map[string]any, uri string) {
	coll["Members"] = append(asList(coll["Members"]), map[string]any{"@odata.id": uri})
	coll["Members@odata.count"] = float64(len(asList(coll["Members"])))
}

func removeMember(coll map[string]any, uri string) {
	var keep []any
	for _, r := range refs(coll["Members"]) {
		if r != uri {
			keep = append(keep, map[string]any{"@odata.id": r})
		}
	}
	coll["Members"] = append([]any{}, keep...)
	coll["Members@odata.count"] = float64(len(keep))
}

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}
