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
// (docs.netapp.com/us-en/ontap-restapi, versions 9.6 to 9.16); the comment
// on each handler names the page. No NetApp code is used.
package ontaptest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Documented ONTAP error codes the server returns.
const (
	// CodeDuplicate and CodeNotFound are the common errors of "Response
	// body overview" / "Interpret an ONTAP REST API response" (ONTAP
	// automation docs): 1 = an object with the same identifier already
	// exists (409), 2 = invalid or missing field (400), 4 = entry doesn't
	// exist (404; also the example error of every endpoint page).
	CodeDuplicate = "1"
	CodeInvalid   = "2"
	CodeNotFound  = "4"
	// CodeMapped: "The initiator group is mapped to one or more LUNs and
	// allow_delete_while_mapped has not been specified" (DELETE
	// /protocols/san/igroups/{uuid} and .../initiators/{name}).
	CodeMapped = "1254213"
	// CodeNotMember: "The initiator is not a member of the group" (DELETE
	// .../igroups/{igroup.uuid}/initiators/{name}).
	CodeNotMember = "5374034"
	// CodeIgroupNotFound: "The initiator group does not exist" (DELETE
	// igroup, DELETE initiator, GET lun-map).
	CodeIgroupNotFound = "5374852"
	// CodeLUNNotFound: "The specified LUN does not exist or is not
	// accessible to the caller" (DELETE and GET lun-maps).
	CodeLUNNotFound = "5374875"
	// CodeMapNotFound: "The specified LUN map does not exist" (DELETE
	// /protocols/san/lun-maps/{lun.uuid}/{igroup.uuid}).
	CodeMapNotFound = "5374922"
	// CodeMapConflict is returned for a LUN map that would break the two
	// rules of `lun mapping create` (ONTAP CLI reference): a LUN is mapped
	// to an initiator only once, and an initiator sees each LUN ID once.
	// The REST page does not list a code for it in the versions
	// consulted, so the server uses the common duplicate error with 409.
	CodeMapConflict = CodeDuplicate
	// CodeUnexpectedArgument: a request body field the endpoint does not
	// take ("Unexpected argument", ONTAP's generic 400 answer to an
	// unknown field).
	CodeUnexpectedArgument = "262179"
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
	Initiators                            []string
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
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
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
			if overlapFold(g.Initiators, pair[0]) && overlapFold(g.Initiators, pair[1]) {
				s.breaches = append(s.breaches, fmt.Sprintf("after %s: igroup %s holds %v", after, g.Name, g.Initiators))
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
		g := s.igroups[m.Igroup]
		for _, in := range initiators {
			if containsFold(g.Initiators, in) {
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

// IgroupInitiators returns the initiators of the igroup named name.
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

func (s *Server) svmRef() map[string]any {
	return map[string]any{"name": s.svm, "uuid": "5c06aa4b-0000-4000-8000-000000000001"}
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

func (s *Server) igroupJSON(g *igroupRec) map[string]any {
	ins := make([]map[string]any, len(g.Initiators))
	for i, n := range g.Initiators {
		ins[i] = map[string]any{"name": n}
	}
	return map[string]any{"uuid": g.UUID, "name": g.Name, "protocol": g.Protocol, "os_type": g.OSType,
		"svm": s.svmRef(), "initiators": ins, "comment": g.Comment}
}

// GET /protocols/san/igroups ("Retrieve initiator groups"): filters
// name, uuid, svm.name, initiators.name. Initiators are records with a
// name (igroup.initiators[].name).
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
			if v := q.Get("initiators.name"); v != "" && !containsFold(g.Initiators, v) {
				continue
			}
			recs = append(recs, s.igroupJSON(g))
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
	writeJSON(w, http.StatusCreated, map[string]any{"num_records": 1, "records": []any{s.igroupJSON(g)}})
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
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		if strings.Contains(err.Error(), "unknown field") {
			writeErr(w, http.StatusBadRequest, CodeUnexpectedArgument, "Unexpected argument: "+err.Error(), "body")
			return
		}
		writeErr(w, http.StatusBadRequest, CodeInvalid, "invalid JSON", "body")
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
// initiators to an initiator group"): a single {"name"} or {"records":
// [{"name"}...]}. Adding an initiator must not create a LUN map conflict
// for it (lun mapping create rules, enforced by ONTAP for igroup add).
func (s *Server) postInitiators(w http.ResponseWriter, r *http.Request, igUUID string) {
	g := s.igroups[igUUID]
	if g == nil {
		writeErr(w, http.StatusNotFound, CodeIgroupNotFound, "The initiator group does not exist.", "igroup.uuid")
		return
	}
	var body struct {
		Name    string                  `json:"name"`
		Records []struct{ Name string } `json:"records"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeErr(w, http.StatusBadRequest, CodeInvalid, "invalid JSON", "body")
		return
	}
	var names []string
	if body.Name != "" {
		names = append(names, body.Name)
	}
	for _, rec := range body.Records {
		names = append(names, rec.Name)
	}
	if len(names) == 0 {
		writeErr(w, http.StatusBadRequest, CodeInvalid, "missing initiator name", "name")
		return
	}
	for _, n := range names {
		if containsFold(g.Initiators, n) {
			writeErr(w, http.StatusConflict, CodeDuplicate, fmt.Sprintf("Initiator %s is already in the initiator group.", n), "name")
			return
		}
		if msg := s.addWouldConflict(g, n); msg != "" {
			writeErr(w, http.StatusConflict, CodeMapConflict, msg, "name")
			return
		}
	}
	g.Initiators = append(g.Initiators, names...)
	writeJSON(w, http.StatusCreated, map[string]any{"num_records": len(names)})
}

// addWouldConflict checks that initiator in, once in g, would see every
// LUN once and every LUN ID once.
func (s *Server) addWouldConflict(g *igroupRec, in string) string {
	seenLUN := map[string]int{}
	seenNum := map[int]string{}
	for _, m := range s.maps {
		og := s.igroups[m.Igroup]
		if og != g && !containsFold(og.Initiators, in) {
			continue
		}
		if _, ok := seenLUN[m.LUN]; ok {
			return fmt.Sprintf("Adding %s would map LUN %s to it twice.", in, s.luns[m.LUN].Name)
		}
		if l, ok := seenNum[m.Number]; ok && l != m.LUN {
			return fmt.Sprintf("Adding %s would give it LUN ID %d twice.", in, m.Number)
		}
		seenLUN[m.LUN], seenNum[m.Number] = m.Number, m.LUN
	}
	return ""
}

// DELETE /protocols/san/igroups/{igroup.uuid}/initiators/{name} ("Delete
// an initiator from an initiator group"): 1254213 when the igroup is
// mapped and allow_delete_while_mapped is not true; 5374034 when the
// initiator is not a member; 5374852 for an unknown igroup.
func (s *Server) deleteInitiator(w http.ResponseWriter, igUUID, name string, q url.Values) {
	g := s.igroups[igUUID]
	if g == nil {
		writeErr(w, http.StatusNotFound, CodeIgroupNotFound, "The initiator group specified in the URI does not exist.", "igroup.uuid")
		return
	}
	i := slices.IndexFunc(g.Initiators, func(x string) bool { return strings.EqualFold(x, name) })
	if i < 0 {
		writeErr(w, http.StatusBadRequest, CodeNotMember, "The initiator is not a member of the group.", "name")
		return
	}
	if q.Get("allow_delete_while_mapped") != "true" && slices.ContainsFunc(s.maps, func(m *mapRec) bool { return m.Igroup == g.UUID }) {
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
// provided, ONTAP assigns the lowest available value"; 0..4095. The
// conflict rules are those of `lun mapping create`.
func (s *Server) postLunMap(w http.ResponseWriter, r *http.Request) {
	var body struct {
		SVM    struct{ Name, UUID string } `json:"svm"`
		Igroup struct{ Name, UUID string } `json:"igroup"`
		LUN    struct{ Name, UUID string } `json:"lun"`
		Number *int                        `json:"logical_unit_number"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeErr(w, http.StatusBadRequest, CodeInvalid, "invalid JSON", "body")
		return
	}
	if body.SVM.Name != "" && body.SVM.Name != s.svm {
		writeErr(w, http.StatusNotFound, CodeNotFound, "SVM not found", "svm.name")
		return
	}
	var g *igroupRec
	for _, x := range s.igroups {
		if (body.Igroup.UUID != "" && x.UUID == body.Igroup.UUID) || (body.Igroup.UUID == "" && x.Name == body.Igroup.Name) {
			g = x
		}
	}
	if g == nil {
		writeErr(w, http.StatusNotFound, CodeIgroupNotFound, "The initiator group does not exist.", "igroup")
		return
	}
	var l *lunRec
	for _, x := range s.luns {
		if (body.LUN.UUID != "" && x.UUID == body.LUN.UUID) || (body.LUN.UUID == "" && x.Name == body.LUN.Name) {
			l = x
		}
	}
	if l == nil {
		writeErr(w, http.StatusNotFound, CodeLUNNotFound, "The specified LUN does not exist or is not accessible to the caller.", "lun")
		return
	}
	if body.Number != nil && (*body.Number < 0 || *body.Number > MaxLUN) {
		writeErr(w, http.StatusBadRequest, CodeInvalid, fmt.Sprintf("logical_unit_number must be in 0..%d", MaxLUN), "logical_unit_number")
		return
	}
	// IDs in use by any initiator of g, and LUNs any of them already sees.
	used := map[int]bool{}
	for _, m := range s.maps {
		og := s.igroups[m.Igroup]
		if og != g && !overlapFold(og.Initiators, g.Initiators) {
			continue
		}
		if m.LUN == l.UUID {
			writeErr(w, http.StatusConflict, CodeMapConflict,
				fmt.Sprintf("LUN %s is already mapped to an initiator of igroup %s.", l.Name, g.Name), "lun")
			return
		}
		used[m.Number] = true
	}
	n := 0
	if body.Number != nil {
		n = *body.Number
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

// DELETE /protocols/san/lun-maps/{lun.uuid}/{igroup.uuid} ("Delete a LUN
// map"): 5374875 unknown LUN, 5374878/5374852 unknown igroup, 5374922 no
// such map.
func (s *Server) deleteLunMap(w http.ResponseWriter, lunUUID, igUUID string) {
	if s.luns[lunUUID] == nil {
		writeErr(w, http.StatusNotFound, CodeLUNNotFound, "The specified LUN does not exist or is not accessible to the caller.", "lun.uuid")
		return
	}
	if s.igroups[igUUID] == nil {
		writeErr(w, http.StatusNotFound, "5374878", "The specified initiator group does not exist.", "igroup.uuid")
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
