// Package ontaptest is a protocol-faithful test server for the part of
// NetApp ONTAP's REST API that LUN masking uses: LUNs, initiator groups
// (igroups) and their initiators, and LUN maps. It keeps state in memory,
// enforces ONTAP's mapping rules, and answers with ONTAP's response and
// error shapes.
//
// Import it from tests of code that drives ONTAP (drivers/ontap and its
// conformance run, or your own tooling). Start one with New, which serves
// HTTPS on 127.0.0.1 through net/http/httptest; use Server.Client for an
// *http.Client that trusts it.
//
// Every behaviour is written from NetApp's public ONTAP REST API reference
// (docs.netapp.com/us-en/ontap-restapi, versions 9.6 to 9.17); the comment
// on each handler names the page. The error codes of each endpoint are
// those its page lists under "ONTAP Error Response Codes"; the same
// tables are in NetApp Trident's client generated from ONTAP's OpenAPI
// document (storage_drivers/ontap/api/rest/client/s_a_n/*_responses.go).
// Request shapes are checked against two clients that run against real
// clusters: the NetApp ONTAP Ansible collection (na_ontap_lun_map.py,
// na_ontap_igroup.py, na_ontap_igroup_initiator.py, which send dotted
// keys such as "svm.name" and LUN IDs as strings) and Trident. Where the
// reference names no code or status, the comment says "unverified". No
// NetApp code is used.
//
// Nested initiator groups (ONTAP 9.9.1 and later) are modelled: an igroup
// holds either initiators or other igroups; its GET lists the
// initiators of the igroups nested below it too, each inherited one
// with the igroup that owns it directly ("initiators.igroup"), and
// initiators are added to and removed from that owner only.
package ontaptest

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ONTAP error codes the server returns, each with the page that lists it.
const (
	// CodeDuplicate, CodeInvalid and CodeNotFound are common errors (ONTAP
	// automation docs, "Interpret an ONTAP REST API response", table of
	// common error codes: 1 = an object with the same identifier already
	// exists (409), 2 = a field has an invalid or missing value (400);
	// 4 = entry doesn't exist, the example error of every endpoint page;
	// Trident's api/abstraction_error.go names 1 DUPLICATE_ENTRY and 4
	// ENTRY_DOESNT_EXIST).
	CodeDuplicate = "1"
	CodeInvalid   = "2"
	CodeNotFound  = "4"
	// CodeMapped: "The initiator group is mapped to one or more LUNs and
	// allow_delete_while_mapped has not been specified" (DELETE
	// /protocols/san/igroups/{uuid} and .../initiators/{name}).
	CodeMapped = "1254213"
	// CodeNotMember: "An initiator is not a member of the initiator
	// group" (DELETE .../igroups/{igroup.uuid}/initiators/{name}).
	CodeNotMember = "5374034"
	// CodeNotOwned: "The initiator is not owned by the supplied initiator
	// group" (same page, ONTAP 9.9.1 and later: the initiator belongs to
	// a nested igroup).
	CodeNotOwned = "5374041"
	// CodeIgroupNotFound: "The initiator group specified in the URI does
	// not exist" (DELETE and POST .../initiators, DELETE igroup).
	CodeIgroupNotFound = "5374852"
	// CodeLUNNotFound: "The specified LUN does not exist or is not
	// accessible to the caller" (DELETE lun-maps/{lun.uuid}/{igroup.uuid}).
	CodeLUNNotFound = "5374875"
	// CodeMapIgroupNotFound: "The specified initiator group does not
	// exist, is not accessible to the caller, or is not in the same SVM
	// as the specified LUN" (DELETE lun-maps/{lun.uuid}/{igroup.uuid}).
	CodeMapIgroupNotFound = "5374878"
	// CodeMapNotFound: "The specified LUN map does not exist" (DELETE
	// /protocols/san/lun-maps/{lun.uuid}/{igroup.uuid}).
	CodeMapNotFound = "5374922"
	// CodeCreateLUNNotFound: "The specified LUN does not exist" and
	// CodeAlreadyMapped: "The LUN is already mapped to the same initiator
	// group" (POST /protocols/san/lun-maps).
	CodeCreateLUNNotFound = "1254201"
	CodeAlreadyMapped     = "1254207"
	// CodeSVMNotFound: "The specified SVM does not exist or is not
	// accessible to the caller" (POST /protocols/san/lun-maps).
	CodeSVMNotFound = "2621462"
	// CodeSameLUNTwice: "Adding an initiator would cause the initiator to
	// be mapped to the same LUN more than once"; CodeSameIDTwice: "...
	// to have the same logical unit identifier for multiple LUN maps";
	// CodeInitiatorPresent: "A supplied initiator is already in the
	// initiator group" (POST .../igroups/{igroup.uuid}/initiators).
	CodeSameLUNTwice     = "1254193"
	CodeSameIDTwice      = "1254324"
	CodeInitiatorPresent = "5374035"
	// CodeMapConflict is returned for a LUN map whose LUN ID an
	// initiator of the igroup already uses (`lun mapping create`, ONTAP
	// CLI reference: an initiator sees each LUN ID once). The "Create a
	// LUN map" page lists no code for it in the versions consulted, so
	// the server uses the common duplicate error with 409 (unverified).
	CodeMapConflict = CodeDuplicate
	// CodeUnexpectedArgument: a request body field the endpoint does not
	// take ("Unexpected argument", 262179, e.g. Trident's generated
	// client/support/auto_update_configuration_modify_collection_responses.go).
	CodeUnexpectedArgument = "262179"
	// CodeNotSupported is used for adding initiators to an igroup that
	// holds nested igroups, which "Add initiators to an initiator group"
	// (9.9.1+) says the API does not support without naming a code; the
	// common code 3, "the operation is not supported" (400), stands in
	// (unverified).
	CodeNotSupported = "3"
)

// MaxCommentLen is the longest igroup comment ONTAP accepts (`lun igroup
// modify -comment`: "The limit is 254 characters").
const MaxCommentLen = 254

// MaxLUN is the highest logical_unit_number ONTAP accepts (the
// lun_map.logical_unit_number schema: "Max value: 4095").
const MaxLUN = 4095

// Server is an ONTAP REST test server. Its methods are safe for
// concurrent use.
type Server struct {
	*httptest.Server

	// User and Password are the HTTP basic auth credentials it accepts.
	User, Password string

	stallMu sync.Mutex
	stall   time.Duration

	mu       sync.Mutex
	svm      string
	pageSize int
	seq      int
	luns     map[string]*lunRec    // by uuid
	igroups  map[string]*igroupRec // by uuid
	maps     []*mapRec
	failNext []int // HTTP status codes for the next requests
	failIn   int   // requests to let through before failing with failCode; -1 off
	failCode int
	// applyIn counts requests to let through before one that is carried
	// out but answered with applyCode (an outcome the client cannot
	// know); -1 off.
	applyIn   int
	applyCode int
	requests  int

	// watch holds pairs of initiator sets no igroup may hold members
	// of both at once; breaches records each time one did, after a
	// mutating request.
	watch    [][2][]string
	breaches []string
}

type lunRec struct{ UUID, Name string }

type igroupRec struct {
	UUID, Name, Protocol, OSType, Comment string
	Initiators                            []string // held directly
	Children                              []string // uuids of the igroups nested directly in this one
}

type mapRec struct {
	LUN, Igroup string // uuids
	Number      int
}

// New starts a server for one SVM named svm, with credentials
// admin/netapp1! and pages of two records (so that clients must follow
// _links.next). It is closed by t's cleanup when t is non-nil.
func New(t interface{ Cleanup(func()) }, svm string) *Server {
	s := &Server{User: "admin", Password: "netapp1!", svm: svm, pageSize: 2,
		luns: map[string]*lunRec{}, igroups: map[string]*igroupRec{}, failIn: -1, applyIn: -1}
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

// SetPageSize sets how many records a collection GET returns per page
// when the client does not ask for fewer with max_records.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = max(1, n)
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

// FailNext makes the next request fail with HTTP status code (for
// example 503) and an ONTAP error body, before it takes effect.
func (s *Server) FailNext(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, code)
}

// FailAfter lets n more requests through and makes the one after them
// fail with HTTP status code, before it takes effect.
func (s *Server) FailAfter(n, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failIn, s.failCode = n, code
}

// FailAfterApplying lets n more requests through and carries out the
// one after them, but answers it with HTTP status code (for example 500)
// and an ONTAP error body: the client cannot tell whether it took effect.
func (s *Server) FailAfterApplying(n, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applyIn, s.applyCode = n, code
}

// WatchDisjoint makes the server check, after every request that changes
// state (any method but GET), that no igroup holds an initiator of a and
// one of b at the same time; Breaches reports each time one did. It is
// how a test asserts that a move of LUN masking from one server to
// another never lets both see the same LUNs, even for a moment.
func (s *Server) WatchDisjoint(a, b []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watch = append(s.watch, [2][]string{slices.Clone(a), slices.Clone(b)})
	s.checkWatch("WatchDisjoint")
}

// Breaches returns one line for each time, after a state-changing
// request, an igroup held initiators of both sets of a WatchDisjoint
// pair: request, igroup and its initiators.
func (s *Server) Breaches() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.breaches)
}

func (s *Server) checkWatch(after string) {
	for _, pair := range s.watch {
		for _, g := range s.sortedIgroups() {
			if all := s.all(g); overlapFold(all, pair[0]) && overlapFold(all, pair[1]) {
				s.breaches = append(s.breaches, fmt.Sprintf("after %s: igroup %s holds %v", after, g.Name, all))
			}
		}
	}
}

// Requests returns how many requests the server has answered.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// AddLUN creates a LUN with path name ("/vol/vol1/lun1") and returns its uuid.
func (s *Server) AddLUN(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.uuid()
	s.luns[u] = &lunRec{UUID: u, Name: name}
	return u
}

// AddIgroup creates an igroup with the given protocol ("fcp", "iscsi",
// "mixed") and initiators and returns its uuid.
func (s *Server) AddIgroup(name, protocol string, initiators ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.uuid()
	s.igroups[u] = &igroupRec{UUID: u, Name: name, Protocol: protocol, OSType: "linux", Initiators: slices.Clone(initiators)}
	return u
}

// AddNestedIgroup creates an igroup that holds the igroups named
// children (ONTAP 9.9.1 nested igroups: it holds no initiators of its
// own) and returns its uuid.
func (s *Server) AddNestedIgroup(name, protocol string, children ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.uuid()
	g := &igroupRec{UUID: u, Name: name, Protocol: protocol, OSType: "linux"}
	for _, c := range children {
		if cg := s.igroupByName(c); cg != nil {
			g.Children = append(g.Children, cg.UUID)
		}
	}
	s.igroups[u] = g
	return u
}

func (s *Server) igroupByName(name string) *igroupRec {
	for _, g := range s.igroups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// member is an initiator as an igroup's GET lists it: its name and the
// igroup that holds it directly.
type member struct {
	name  string
	owner *igroupRec
}

// members returns g's initiators: its own, then those of the igroups
// nested below it, each once, with its direct owner.
func (s *Server) members(g *igroupRec) []member {
	var out []member
	seen := map[string]bool{}
	var walk func(x *igroupRec, depth int)
	walk = func(x *igroupRec, depth int) {
		if x == nil || depth > 16 {
			return
		}
		for _, n := range x.Initiators {
			if !seen[strings.ToLower(n)] {
				seen[strings.ToLower(n)] = true
				out = append(out, member{name: n, owner: x})
			}
		}
		for _, c := range x.Children {
			walk(s.igroups[c], depth+1)
		}
	}
	walk(g, 0)
	return out
}

// all returns the names of g's initiators, nested ones included.
func (s *Server) all(g *igroupRec) []string {
	ms := s.members(g)
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.name
	}
	return out
}

// within reports whether igroup inner is g or nested below it.
func (s *Server) within(inner, g *igroupRec) bool {
	if inner == g {
		return true
	}
	for _, c := range g.Children {
		if cg := s.igroups[c]; cg != nil && s.within(inner, cg) {
			return true
		}
	}
	return false
}

// SetIgroupComment sets the comment of the igroup named name.
func (s *Server) SetIgroupComment(name, comment string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.igroups {
		if g.Name == name {
			g.Comment = comment
		}
	}
}

// IgroupComment returns the comment of the igroup named name.
func (s *Server) IgroupComment(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.igroups {
		if g.Name == name {
			return g.Comment
		}
	}
	return ""
}

// Visible is one LUN an initiator sees: LUN path and LUN ID.
type Visible struct {
	LUN    string
	Number int
}

// Visible returns what the initiators see, read from the server's state
// (not through the API), sorted by LUN ID then path, without duplicates.
func (s *Server) Visible(initiators ...string) []Visible {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Visible
	for _, m := range s.maps {
		all := s.all(s.igroups[m.Igroup])
		for _, in := range initiators {
			if containsFold(all, in) {
				v := Visible{LUN: s.luns[m.LUN].Name, Number: m.Number}
				if !slices.Contains(out, v) {
					out = append(out, v)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b Visible) int {
		if a.Number != b.Number {
			return a.Number - b.Number
		}
		return strings.Compare(a.LUN, b.LUN)
	})
	return out
}

// IgroupInitiators returns the initiators the igroup named name holds
// directly (not those of nested igroups).
func (s *Server) IgroupInitiators(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.igroups {
		if g.Name == name {
			return slices.Clone(g.Initiators)
		}
	}
	return nil
}

func (s *Server) uuid() string {
	s.seq++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", s.seq, s.seq)
}

// errorBody is the documented error shape of every endpoint:
// {"error":{"message","code","target"}} ("Example error" on each
// endpoint page; "errors" in "Interpret an ONTAP REST API response").
type errorBody struct {
	Error struct {
		Message string `json:"message"`
		Code    string `json:"code"`
		Target  string `json:"target,omitempty"`
	} `json:"error"`
}

func writeErr(w http.ResponseWriter, status int, code, msg, target string) {
	var b errorBody
	b.Error.Message, b.Error.Code, b.Error.Target = msg, code, target
	w.Header().Set("Content-Type", "application/hal+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/hal+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if d := s.takeStall(); d > 0 {
		// Hold the request, then carry it out even if the client gave
		// up meanwhile, as an overloaded device does.
		time.Sleep(d)
	}
	// HTTP basic authentication on every request ("Authentication and
	// authorization", ONTAP REST API overview); 401 otherwise.
	u, p, ok := r.BasicAuth()
	if !ok || u != s.User || p != s.Password {
		w.Header().Set("WWW-Authenticate", `Basic realm="ontap"`)
		writeErr(w, http.StatusUnauthorized, "6691623", "User is not authorized.", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if s.failIn == 0 {
		s.failIn = -1
		writeErr(w, s.failCode, "8", "injected failure: service temporarily unavailable", "")
		return
	}
	if s.failIn > 0 {
		s.failIn--
	}
	if len(s.failNext) > 0 {
		code := s.failNext[0]
		s.failNext = s.failNext[1:]
		writeErr(w, code, "8", "injected failure: service temporarily unavailable", "")
		return
	}
	applied := false
	if s.applyIn == 0 {
		s.applyIn, applied = -1, true
	}
	if s.applyIn > 0 {
		s.applyIn--
	}
	if applied {
		// Carry the request out, throw the answer away, and answer with
		// an error as a cluster that lost its reply would.
		s.dispatch(httptest.NewRecorder(), r)
		writeErr(w, s.applyCode, "8", "injected failure after the request took effect", "")
		return
	}
	s.dispatch(w, r)
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		defer s.checkWatch(r.Method + " " + r.URL.Path)
	}
	path := strings.TrimSuffix(r.URL.EscapedPath(), "/")
	parts := strings.Split(strings.TrimPrefix(path, "/api/"), "/")
	for i := range parts {
		if v, err := url.PathUnescape(parts[i]); err == nil {
			parts[i] = v
		}
	}
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && eq(parts, "storage", "luns"):
		s.getLUNs(w, r, q)
	case r.Method == http.MethodGet && eq(parts, "protocols", "san", "igroups"):
		s.getIgroups(w, r, q)
	case r.Method == http.MethodPost && eq(parts, "protocols", "san", "igroups"):
		s.postIgroup(w, r)
	case r.Method == http.MethodPatch && len(parts) == 4 && eq(parts[:3], "protocols", "san", "igroups"):
		s.patchIgroup(w, r, parts[3])
	case r.Method == http.MethodPost && len(parts) == 5 && eq(parts[:3], "protocols", "san", "igroups") && parts[4] == "initiators":
		s.postInitiators(w, r, parts[3])
	case r.Method == http.MethodDelete && len(parts) == 6 && eq(parts[:3], "protocols", "san", "igroups") && parts[4] == "initiators":
		s.deleteInitiator(w, parts[3], parts[5], q)
	case r.Method == http.MethodGet && eq(parts, "protocols", "san", "lun-maps"):
		s.getLunMaps(w, r, q)
	case r.Method == http.MethodPost && eq(parts, "protocols", "san", "lun-maps"):
		s.postLunMap(w, r)
	case r.Method == http.MethodDelete && len(parts) == 5 && eq(parts[:3], "protocols", "san", "lun-maps"):
		s.deleteLunMap(w, parts[3], parts[4])
	default:
		writeErr(w, http.StatusNotFound, CodeNotFound, "entry doesn't exist", "uri")
	}
}

func eq(parts []string, want ...string) bool { return slices.Equal(parts, want) }

// page answers a collection GET: {"records":[...],"num_records":n,
// "_links":{"self":...,"next":...}} ("Response body": "num_records
// indicates the number of records", and record paging with
// max_records and the next link, ONTAP REST API overview "Query
// parameters" / "Pagination").
func (s *Server) page(w http.ResponseWriter, r *http.Request, q url.Values, records []map[string]any) {
	size := s.pageSize
	if m, err := strconv.Atoi(q.Get("max_records")); err == nil && m > 0 && m < size {
		size = m
	}
	start := 0
	if v, err := strconv.Atoi(q.Get("start.index")); err == nil && v >= 0 {
		start = min(v, len(records))
	}
	end := min(start+size, len(records))
	body := map[string]any{
		"records":     records[start:end],
		"num_records": end - start,
		"_links":      map[string]any{"self": map[string]string{"href": r.URL.RequestURI()}},
	}
	if end < len(records) {
		nq := r.URL.Query()
		nq.Set("start.index", strconv.Itoa(end))
		body["_links"].(map[string]any)["next"] = map[string]string{"href": r.URL.Path + "?" + nq.Encode()}
	}
	writeJSON(w, http.StatusOK, body)
}

// svmUUID is the uuid of the server's SVM.
const svmUUID = "5c06aa4b-0000-4000-8000-000000000001"

func (s *Server) svmRef() map[string]any {
	return map[string]any{"name": s.svm, "uuid": svmUUID}
}

func (s *Server) checkSVM(w http.ResponseWriter, q url.Values) bool {
	if v := q.Get("svm.name"); v != "" && v != s.svm {
		// A filter on an unknown SVM matches nothing.
		return false
	}
	return true
}

// GET /storage/luns ("Retrieve LUNs"): filters name, svm.name, uuid.
func (s *Server) getLUNs(w http.ResponseWriter, r *http.Request, q url.Values) {
	var recs []map[string]any
	if s.checkSVM(w, q) {
		for _, l := range sortedLUNs(s.luns) {
			if v := q.Get("name"); v != "" && v != l.Name {
				continue
			}
			if v := q.Get("uuid"); v != "" && v != l.UUID {
				continue
			}
			recs = append(recs, map[string]any{"uuid": l.UUID, "name": l.Name, "svm": s.svmRef()})
		}
	}
	s.page(w, r, q, recs)
}

func sortedLUNs(m map[string]*lunRec) []*lunRec {
	out := make([]*lunRec, 0, len(m))
	for _, l := range m {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b *lunRec) int { return strings.Compare(a.UUID, b.UUID) })
	return out
}

func (s *Server) sortedIgroups() []*igroupRec {
	out := make([]*igroupRec, 0, len(s.igroups))
	for _, g := range s.igroups {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *igroupRec) int { return strings.Compare(a.UUID, b.UUID) })
	return out
}

// igroupJSON renders g as the igroup GET does. Initiators are records
// {"name"}; one inherited from a nested igroup also carries "igroup":
// {"uuid","name"} of the igroup that owns it directly ("This property
// will only be populated when the initiator is a member of a nested
// initiator group", igroup_initiator_list_item in the ONTAP OpenAPI
// document, as generated in Trident's models/igroup_initiator_list_item.go);
// "igroups" lists the directly nested igroups.
//
// fields selects what is returned ("Requesting specific fields", ONTAP
// REST API overview): the record's uuid always, the fields named, and
// for initiators either whole records ("initiators") or named subfields
// ("initiators.name"). Without fields, the default set is returned
// (unverified in detail: here everything but comment).
func (s *Server) igroupJSON(g *igroupRec, fields string) map[string]any {
	want := map[string]bool{}
	insub := map[string]bool{}
	all := fields == "" || fields == "*"
	for _, f := range strings.Split(fields, ",") {
		f = strings.TrimSpace(f)
		if top, sub, ok := strings.Cut(f, "."); ok {
			want[top] = true
			if top == "initiators" {
				insub[sub] = true
			}
			continue
		}
		want[f] = true
		if f == "initiators" {
			insub["*"] = true
		}
	}
	if all {
		insub["*"] = true
	}
	var ins []map[string]any
	for _, m := range s.members(g) {
		rec := map[string]any{}
		if insub["*"] || insub["name"] {
			rec["name"] = m.name
		}
		if m.owner != g && (insub["*"] || insub["igroup"] || insub["igroup.uuid"] || insub["igroup.name"]) {
			rec["igroup"] = map[string]any{"uuid": m.owner.UUID, "name": m.owner.Name}
		}
		ins = append(ins, rec)
	}
	var children []map[string]any
	for _, c := range g.Children {
		if cg := s.igroups[c]; cg != nil {
			children = append(children, map[string]any{"uuid": cg.UUID, "name": cg.Name})
		}
	}
	full := map[string]any{"uuid": g.UUID, "name": g.Name, "protocol": g.Protocol, "os_type": g.OSType,
		"svm": s.svmRef(), "comment": g.Comment, "supports_igroups": len(g.Initiators) == 0}
	if len(ins) > 0 {
		// An igroup without initiators has no "initiators" member (Ansible's
		// test_na_ontap_igroup_initiator.py fixture igroup_without_intiators).
		full["initiators"] = ins
	}
	if len(children) > 0 {
		full["igroups"] = children
	}
	out := map[string]any{"uuid": g.UUID}
	for k, v := range full {
		if (all && k != "comment") || want[k] {
			out[k] = v
		}
	}
	return out
}

// GET /protocols/san/igroups ("Retrieve initiator groups"): filters
// name, uuid, svm.name, initiators.name (which matches inherited
// initiators too). Initiators are records with a name
// (igroup.initiators[].name).
func (s *Server) getIgroups(w http.ResponseWriter, r *http.Request, q url.Values) {
	var recs []map[string]any
	if s.checkSVM(w, q) {
		for _, g := range s.sortedIgroups() {
			if v := q.Get("name"); v != "" && v != g.Name {
				continue
			}
			if v := q.Get("uuid"); v != "" && v != g.UUID {
				continue
			}
			if v := q.Get("initiators.name"); v != "" && !containsFold(s.all(g), v) {
				continue
			}
			recs = append(recs, s.igroupJSON(g, q.Get("fields")))
		}
	}
	s.page(w, r, q, recs)
}

// POST /protocols/san/igroups ("Create an initiator group"): svm, name,
// os_type and protocol, optional initiators [{name}]. Duplicate name:
// common error 1 (409).
func (s *Server) postIgroup(w http.ResponseWriter, r *http.Request) {
	var body struct {
		SVM        struct{ Name string }   `json:"svm"`
		Name       string                  `json:"name"`
		OSType     string                  `json:"os_type"`
		Protocol   string                  `json:"protocol"`
		Comment    string                  `json:"comment"`
		Initiators []struct{ Name string } `json:"initiators"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Name == "" || body.OSType == "" {
		writeErr(w, http.StatusBadRequest, CodeInvalid, "invalid or missing field", "name")
		return
	}
	if len(body.Comment) > MaxCommentLen {
		writeErr(w, http.StatusBadRequest, CodeInvalid, fmt.Sprintf("comment longer than %d characters", MaxCommentLen), "comment")
		return
	}
	for _, g := range s.igroups {
		if g.Name == body.Name {
			writeErr(w, http.StatusConflict, CodeDuplicate, "An initiator group with the same name already exists.", "name")
			return
		}
	}
	if body.Protocol == "" {
		body.Protocol = "mixed" // documented default
	}
	u := s.uuid()
	g := &igroupRec{UUID: u, Name: body.Name, Protocol: body.Protocol, OSType: body.OSType, Comment: body.Comment}
	for _, in := range body.Initiators {
		g.Initiators = append(g.Initiators, in.Name)
	}
	s.igroups[u] = g
	w.Header().Set("Location", "/api/protocols/san/igroups/"+u)
	writeJSON(w, http.StatusCreated, map[string]any{"num_records": 1, "records": []any{s.igroupJSON(g, "")}})
}

// PATCH /protocols/san/igroups/{uuid} ("Update an initiator group"):
// comment, delete_on_unmap, name and os_type (the server keeps comment,
// name and os_type; delete_on_unmap is accepted and ignored). "Renaming
// an initiator group must be done in a PATCH request separate from any
// other modifications." 200 with an empty body; 404 code 4 for an
// unknown igroup; 400 for a field the endpoint does not take, a comment
// longer than 254 characters, or a rename combined with other changes.
func (s *Server) patchIgroup(w http.ResponseWriter, r *http.Request, igUUID string) {
	g := s.igroups[igUUID]
	if g == nil {
		writeErr(w, http.StatusNotFound, CodeNotFound, "entry doesn't exist", "uuid")
		return
	}
	var body struct {
		Comment       *string `json:"comment"`
		Name          *string `json:"name"`
		OSType        *string `json:"os_type"`
		DeleteOnUnmap *bool   `json:"delete_on_unmap"`
	}
	if !decodeStrict(w, r, &body) {
		return
	}
	if body.Comment != nil && len(*body.Comment) > MaxCommentLen {
		writeErr(w, http.StatusBadRequest, CodeInvalid, fmt.Sprintf("comment longer than %d characters", MaxCommentLen), "comment")
		return
	}
	if body.Name != nil {
		if body.Comment != nil || body.OSType != nil || body.DeleteOnUnmap != nil || *body.Name == "" {
			writeErr(w, http.StatusBadRequest, CodeInvalid, "renaming an initiator group must be done in a separate request", "name")
			return
		}
		for _, o := range s.igroups {
			if o != g && o.Name == *body.Name {
				writeErr(w, http.StatusConflict, CodeDuplicate, "An initiator group with the same name already exists.", "name")
				return
			}
		}
		g.Name = *body.Name
	}
	if body.Comment != nil {
		g.Comment = *body.Comment
	}
	if body.OSType != nil {
		g.OSType = *body.OSType
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// POST /protocols/san/igroups/{igroup.uuid}/initiators ("Add one or more
// initiators to an initiator group"): a single {"name"} (Ansible's
// na_ontap_igroup_initiator.py) or {"records":[{"name"}...]} (Ansible's
// na_ontap_igroup.py, Trident); "name" and "records" together are
// refused. An igroup that holds nested igroups takes no initiators ("This
// API does not support adding initiators to an initiator group that
// already contains nested initiator groups", 9.9.1+). Adding an initiator
// must not make it see a LUN twice (1254193) or a LUN ID twice (1254324);
// an initiator already in the igroup is 5374035.
func (s *Server) postInitiators(w http.ResponseWriter, r *http.Request, igUUID string) {
	g := s.igroups[igUUID]
	if g == nil {
		writeErr(w, http.StatusNotFound, CodeIgroupNotFound, "The initiator group specified in the URI does not exist.", "igroup.uuid")
		return
	}
	var body struct {
		Name    string `json:"name"`
		Records []struct {
			Name    string `json:"name"`
			Comment string `json:"comment"`
		} `json:"records"`
		Comment string `json:"comment"`
	}
	if !decodeStrict(w, r, &body) {
		return
	}
	if body.Name != "" && len(body.Records) > 0 {
		writeErr(w, http.StatusBadRequest, CodeInvalid, "\"name\" is not allowed when \"records\" is used", "name")
		return
	}
	var names []string
	if body.Name != "" {
		names = append(names, body.Name)
	}
	for _, rec := range body.Records {
		names = append(names, rec.Name)
	}
	if len(names) == 0 || slices.Contains(names, "") {
		writeErr(w, http.StatusBadRequest, "5374033", "Initiators must be supplied.", "name")
		return
	}
	if len(g.Children) > 0 {
		writeErr(w, http.StatusBadRequest, CodeNotSupported,
			"Initiators cannot be added to an initiator group that contains nested initiator groups.", "igroup.uuid")
		return
	}
	for _, n := range names {
		if containsFold(g.Initiators, n) {
			// Status unverified; the code and message are the page's.
			writeErr(w, http.StatusConflict, CodeInitiatorPresent, "A supplied initiator is already in the initiator group.", "name")
			return
		}
		if code, msg := s.addWouldConflict(g, n); code != "" {
			writeErr(w, http.StatusConflict, code, msg, "name") // status unverified
			return
		}
	}
	g.Initiators = append(g.Initiators, names...)
	writeJSON(w, http.StatusCreated, map[string]any{"num_records": len(names)})
}

// addWouldConflict checks that initiator in, once in g, would see every
// LUN once and every LUN ID once: through the LUN maps of g and of every
// igroup g is nested in, and of every igroup that already holds in.
func (s *Server) addWouldConflict(g *igroupRec, in string) (code, msg string) {
	seenLUN := map[string]int{}
	seenNum := map[int]string{}
	for _, m := range s.maps {
		og := s.igroups[m.Igroup]
		if !s.within(g, og) && !containsFold(s.all(og), in) {
			continue
		}
		if _, ok := seenLUN[m.LUN]; ok {
			return CodeSameLUNTwice, fmt.Sprintf("Adding initiator %s would cause it to be mapped to LUN %s more than once.", in, s.luns[m.LUN].Name)
		}
		if l, ok := seenNum[m.Number]; ok && l != m.LUN {
			return CodeSameIDTwice, fmt.Sprintf("Adding initiator %s would cause it to have logical unit identifier %d for multiple LUN maps.", in, m.Number)
		}
		seenLUN[m.LUN], seenNum[m.Number] = m.Number, m.LUN
	}
	return "", ""
}

// DELETE /protocols/san/igroups/{igroup.uuid}/initiators/{name} ("Delete
// an initiator from an initiator group"): "This API only supports removal
// of initiators owned directly by the initiator group" (5374041 for one
// inherited from a nested igroup); 1254213 when the igroup is mapped and
// allow_delete_while_mapped is not true; 5374034 when the initiator is
// not a member; 5374852 for an unknown igroup. The boolean query value
// is read case-insensitively: Ansible's na_ontap_igroup.py sends Python's
// True as "True". Statuses are unverified (the page gives "Default").
func (s *Server) deleteInitiator(w http.ResponseWriter, igUUID, name string, q url.Values) {
	g := s.igroups[igUUID]
	if g == nil {
		writeErr(w, http.StatusNotFound, CodeIgroupNotFound, "The initiator group specified in the URI does not exist.", "igroup.uuid")
		return
	}
	i := slices.IndexFunc(g.Initiators, func(x string) bool { return strings.EqualFold(x, name) })
	if i < 0 {
		if containsFold(s.all(g), name) {
			writeErr(w, http.StatusBadRequest, CodeNotOwned, "The initiator is not owned by the supplied initiator group.", "name")
			return
		}
		writeErr(w, http.StatusBadRequest, CodeNotMember, "An initiator is not a member of the initiator group.", "name")
		return
	}
	mapped := slices.ContainsFunc(s.maps, func(m *mapRec) bool { return s.within(g, s.igroups[m.Igroup]) })
	if !strings.EqualFold(q.Get("allow_delete_while_mapped"), "true") && mapped {
		writeErr(w, http.StatusConflict, CodeMapped,
			"The initiator group is mapped to one or more LUNs and allow_delete_while_mapped has not been specified.", "allow_delete_while_mapped")
		return
	}
	g.Initiators = slices.Delete(g.Initiators, i, i+1)
	writeJSON(w, http.StatusOK, map[string]any{})
}

func (s *Server) mapJSON(m *mapRec) map[string]any {
	g, l := s.igroups[m.Igroup], s.luns[m.LUN]
	return map[string]any{
		"svm":                 s.svmRef(),
		"lun":                 map[string]any{"uuid": l.UUID, "name": l.Name},
		"igroup":              map[string]any{"uuid": g.UUID, "name": g.Name},
		"logical_unit_number": m.Number,
	}
}

// GET /protocols/san/lun-maps ("Retrieve LUN maps"): records {svm, lun
// {uuid,name}, igroup {uuid,name}, logical_unit_number}; filters
// igroup.name, igroup.uuid, lun.name, lun.uuid, svm.name.
func (s *Server) getLunMaps(w http.ResponseWriter, r *http.Request, q url.Values) {
	var recs []map[string]any
	if s.checkSVM(w, q) {
		for _, m := range s.maps {
			g, l := s.igroups[m.Igroup], s.luns[m.LUN]
			if v := q.Get("igroup.name"); v != "" && v != g.Name {
				continue
			}
			if v := q.Get("igroup.uuid"); v != "" && v != g.UUID {
				continue
			}
			if v := q.Get("lun.name"); v != "" && v != l.Name {
				continue
			}
			if v := q.Get("lun.uuid"); v != "" && v != l.UUID {
				continue
			}
			recs = append(recs, s.mapJSON(m))
		}
	}
	s.page(w, r, q, recs)
}

// POST /protocols/san/lun-maps ("Create a LUN map"): svm, igroup and lun
// by uuid or name; logical_unit_number optional, "If no value is
// provided, ONTAP assigns the lowest available value"; 0..4095. Both
// spellings real clients send are accepted: nested objects (the page's
// example, Trident's LunMap: {"svm":{"uuid"},"igroup":{"name"},"lun":
// {"name","uuid"}}) and dotted keys with the LUN ID as a string
// (Ansible's na_ontap_lun_map.py: {"svm.name","igroup.name","lun.name",
// "logical_unit_number":"2"}). The conflict rules are those of `lun
// mapping create`, applied to every initiator of the igroup, nested ones
// included.
func (s *Server) postLunMap(w http.ResponseWriter, r *http.Request) {
	f, err := decodeFlat(r)
	if err != nil {
		if strings.Contains(err.Error(), "unexpected") {
			writeErr(w, http.StatusBadRequest, CodeUnexpectedArgument, "Unexpected argument: "+err.Error(), "body")
			return
		}
		writeErr(w, http.StatusBadRequest, CodeInvalid, err.Error(), "body")
		return
	}
	for k := range f {
		switch k {
		case "svm.name", "svm.uuid", "igroup.name", "igroup.uuid", "lun.name", "lun.uuid", "logical_unit_number":
		default:
			writeErr(w, http.StatusBadRequest, CodeUnexpectedArgument, fmt.Sprintf("Unexpected argument \"%s\".", k), k)
			return
		}
	}
	str := func(k string) string { v, _ := f[k].(string); return v }
	switch {
	case str("svm.name") == "" && str("svm.uuid") == "":
		writeErr(w, http.StatusBadRequest, "2621707", "No SVM was specified. Either \"svm.name\" or \"svm.uuid\" must be supplied.", "svm")
		return
	case (str("svm.name") != "" && str("svm.name") != s.svm) || (str("svm.uuid") != "" && str("svm.uuid") != svmUUID):
		writeErr(w, http.StatusNotFound, CodeSVMNotFound, "The specified SVM does not exist or is not accessible to the caller.", "svm")
		return
	case str("igroup.name") == "" && str("igroup.uuid") == "":
		writeErr(w, http.StatusBadRequest, "5374902", "Either \"igroup.uuid\" or \"igroup.name\" must be provided to create a LUN map.", "igroup")
		return
	case str("lun.name") == "" && str("lun.uuid") == "":
		writeErr(w, http.StatusBadRequest, "5374901", "Either \"lun.uuid\" or \"lun.name\" must be provided to create a LUN map.", "lun")
		return
	}
	var g *igroupRec
	for _, x := range s.igroups {
		if (str("igroup.uuid") == "" || x.UUID == str("igroup.uuid")) && (str("igroup.name") == "" || x.Name == str("igroup.name")) {
			g = x
		}
	}
	if g == nil {
		// No code on the page for an unknown igroup; the common "entry
		// doesn't exist" (unverified).
		writeErr(w, http.StatusNotFound, CodeNotFound, "entry doesn't exist", "igroup")
		return
	}
	var l *lunRec
	for _, x := range s.luns {
		if (str("lun.uuid") == "" || x.UUID == str("lun.uuid")) && (str("lun.name") == "" || x.Name == str("lun.name")) {
			l = x
		}
	}
	if l == nil {
		writeErr(w, http.StatusNotFound, CodeCreateLUNNotFound, "The specified LUN does not exist.", "lun")
		return
	}
	var number *int
	switch v := f["logical_unit_number"].(type) {
	case nil:
	case json.Number:
		n, err := strconv.Atoi(v.String())
		if err != nil {
			writeErr(w, http.StatusBadRequest, CodeInvalid, "logical_unit_number is not an integer", "logical_unit_number")
			return
		}
		number = &n
	case string:
		n, err := strconv.Atoi(v)
		if err != nil {
			writeErr(w, http.StatusBadRequest, CodeInvalid, "logical_unit_number is not an integer", "logical_unit_number")
			return
		}
		number = &n
	default:
		writeErr(w, http.StatusBadRequest, CodeInvalid, "logical_unit_number is not an integer", "logical_unit_number")
		return
	}
	if number != nil && (*number < 0 || *number > MaxLUN) {
		writeErr(w, http.StatusBadRequest, CodeInvalid, fmt.Sprintf("logical_unit_number must be in 0..%d", MaxLUN), "logical_unit_number")
		return
	}
	// IDs in use by any initiator of g, and LUNs any of them already sees.
	mine := s.all(g)
	used := map[int]bool{}
	for _, m := range s.maps {
		og := s.igroups[m.Igroup]
		if og != g && !overlapFold(s.all(og), mine) {
			continue
		}
		if m.LUN == l.UUID && og == g {
			writeErr(w, http.StatusConflict, CodeAlreadyMapped, "The LUN is already mapped to the same initiator group.", "lun") // status unverified
			return
		}
		if m.LUN == l.UUID {
			writeErr(w, http.StatusConflict, CodeMapConflict,
				fmt.Sprintf("LUN %s is already mapped to an initiator of igroup %s.", l.Name, g.Name), "lun")
			return
		}
		used[m.Number] = true
	}
	n := 0
	if number != nil {
		n = *number
		if used[n] {
			writeErr(w, http.StatusConflict, CodeMapConflict,
				fmt.Sprintf("LUN ID %d is already used by an initiator of igroup %s.", n, g.Name), "logical_unit_number")
			return
		}
	} else {
		for used[n] {
			n++
		}
		if n > MaxLUN {
			writeErr(w, http.StatusConflict, CodeMapConflict, "no LUN ID available", "logical_unit_number")
			return
		}
	}
	m := &mapRec{LUN: l.UUID, Igroup: g.UUID, Number: n}
	s.maps = append(s.maps, m)
	w.Header().Set("Location", "/api/protocols/san/lun-maps/"+l.UUID+"/"+g.UUID)
	writeJSON(w, http.StatusCreated, map[string]any{"num_records": 1, "records": []any{s.mapJSON(m)}})
}

// decodeStrict decodes a JSON body into v, refusing fields v does not
// have as ONTAP refuses an unknown field ("Unexpected argument", 262179);
// it answers the error itself and returns false.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if strings.Contains(err.Error(), "unknown field") {
			writeErr(w, http.StatusBadRequest, CodeUnexpectedArgument, "Unexpected argument: "+err.Error(), "body")
			return false
		}
		writeErr(w, http.StatusBadRequest, CodeInvalid, "invalid JSON", "body")
		return false
	}
	return true
}

// decodeFlat decodes a JSON object body into dotted keys: {"svm":
// {"name":"x"}} and {"svm.name":"x"} both give "svm.name". Numbers stay
// json.Number.
func decodeFlat(r *http.Request) (map[string]any, error) {
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	out := map[string]any{}
	var walk func(prefix string, v map[string]any) error
	walk = func(prefix string, v map[string]any) error {
		for k, x := range v {
			key := prefix + k
			if inner, ok := x.(map[string]any); ok {
				if err := walk(key+".", inner); err != nil {
					return err
				}
				continue
			}
			if _, dup := out[key]; dup {
				return fmt.Errorf("unexpected duplicate field %q", key)
			}
			out[key] = x
		}
		return nil
	}
	return out, walk("", body)
}

// DELETE /protocols/san/lun-maps/{lun.uuid}/{igroup.uuid} ("Delete a LUN
// map"): 5374875 unknown LUN, 5374878 unknown igroup, 5374922 no such
// map. Statuses unverified (the page gives "Default").
func (s *Server) deleteLunMap(w http.ResponseWriter, lunUUID, igUUID string) {
	if s.luns[lunUUID] == nil {
		writeErr(w, http.StatusNotFound, CodeLUNNotFound, "The specified LUN does not exist or is not accessible to the caller.", "lun.uuid")
		return
	}
	if s.igroups[igUUID] == nil {
		writeErr(w, http.StatusNotFound, CodeMapIgroupNotFound,
			"The specified initiator group does not exist, is not accessible to the caller, or is not in the same SVM as the specified LUN.", "igroup.uuid")
		return
	}
	i := slices.IndexFunc(s.maps, func(m *mapRec) bool { return m.LUN == lunUUID && m.Igroup == igUUID })
	if i < 0 {
		writeErr(w, http.StatusNotFound, CodeMapNotFound, "The specified LUN map does not exist.", "")
		return
	}
	s.maps = slices.Delete(s.maps, i, i+1)
	writeJSON(w, http.StatusOK, map[string]any{})
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

func overlapFold(a, b []string) bool {
	for _, x := range a {
		if containsFold(b, x) {
			return true
		}
	}
	return false
}
