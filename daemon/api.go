package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/site"
	"github.com/coldstandby/coldstandby/search"
)

// maxBody bounds request bodies.
const maxBody = 64 << 10

// Limits of the failover list.
const (
	defaultLimit = 50
	maxLimit     = 1000
)

// routes builds the HTTP handler.
func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, byMethod map[string]http.HandlerFunc) {
		mux.Handle(pattern, methods(byMethod))
	}
	handle("/healthz", map[string]http.HandlerFunc{"GET": d.healthz})
	handle("/readyz", map[string]http.HandlerFunc{"GET": d.readyz})
	metricsHandler := promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{Registry: d.reg})
	handle("/metrics", map[string]http.HandlerFunc{"GET": metricsHandler.ServeHTTP})
	handle("/v1/status", map[string]http.HandlerFunc{"GET": d.getStatus})
	handle("/v1/servers", map[string]http.HandlerFunc{"GET": d.getServers})
	handle("/v1/servers/{id}", map[string]http.HandlerFunc{"GET": d.getServer})
	handle("/v1/servers/{id}/mark-standby", map[string]http.HandlerFunc{"POST": d.mutating(d.postMarkStandby)})
	handle("/v1/failovers", map[string]http.HandlerFunc{"GET": d.getFailovers})
	handle("/v1/failovers/{id}", map[string]http.HandlerFunc{"GET": d.getFailover})
	handle("/v1/coverage", map[string]http.HandlerFunc{"GET": d.getCoverage})
	handle("/v1/faults", map[string]http.HandlerFunc{"GET": d.getFaults, "POST": d.mutating(d.postFault)})
	handle("/v1/faults/{id}", map[string]http.HandlerFunc{"GET": d.getFault})
	handle("/v1/failbacks", map[string]http.HandlerFunc{"POST": d.mutating(d.postFailback)})
	handle("/v1/reload", map[string]http.HandlerFunc{"POST": d.mutating(d.postReload)})
	if d.events != nil {
		mux.Handle("/events/redfish", d.events)
	}
	page := d.page()
	handle("/{$}", map[string]http.HandlerFunc{"GET": page.ServeHTTP})
	handle("/ui/", map[string]http.HandlerFunc{"GET": page.ServeHTTP})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such resource: "+r.URL.Path)
	})
	return mux
}

// methods dispatches by method and answers 405 with Allow otherwise (HEAD
// is served as GET).
func methods(byMethod map[string]http.HandlerFunc) http.Handler {
	allow := make([]string, 0, len(byMethod))
	for m := range byMethod {
		allow = append(allow, m)
	}
	slices.Sort(allow)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := r.Method
		if m == http.MethodHead {
			m = http.MethodGet
		}
		if h, ok := byMethod[m]; ok {
			h(w, r)
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed; allowed: %s", r.Method, strings.Join(allow, ", ")))
	})
}

// apiError is the body of every error answer.
type apiError struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
	// Leader names the instance that leads, in a follower's 503.
	Leader string `json:"leader,omitempty"`
	// Problems are a site file's, in a refused reload.
	Problems []site.Problem `json:"problems,omitempty"`
	// Diff is a refused reload's.
	Diff *site.Diff `json:"diff,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		http.Error(w, "cannot encode the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg, Status: status})
}

// writeErr maps an error of the library to a status: not found 404,
// conflict 409, invalid 422, not leader or stopping 503, a device or
// store that failed 502, anything else 500.
func (d *Daemon) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errNotLeader), errors.Is(err, failover.ErrNotLeader):
		d.writeNotLeader(w, r)
	case errors.Is(err, errDraining):
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "the daemon is stopping: "+err.Error())
	case errors.Is(err, failover.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, failover.ErrConflict), errors.Is(err, failover.ErrUnsupported):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, failover.ErrInvalid):
		writeError(w, http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, failover.ErrTransient), errors.Is(err, failover.ErrOutcomeUnknown):
		writeError(w, http.StatusBadGateway, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

func (d *Daemon) writeNotLeader(w http.ResponseWriter, r *http.Request) {
	leader, _ := d.leader(r.Context())
	w.Header().Set("Retry-After", "5")
	msg := "this daemon is not the leader"
	if leader != "" {
		msg += "; " + leader + " leads: send mutating calls there"
	}
	writeJSON(w, http.StatusServiceUnavailable, apiError{Error: msg, Status: http.StatusServiceUnavailable, Leader: leader})
}

// mutating wraps a handler that changes something: it needs the bearer
// token (401 without it or with a wrong one, 403 when the daemon has
// none), and the daemon must lead and not be stopping (503).
func (d *Daemon) mutating(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if len(d.token) == 0 {
			writeError(w, http.StatusForbidden, "mutating calls are disabled: start the daemon with a token (--token)")
			return
		}
		if !d.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="coldstandby"`)
			writeError(w, http.StatusUnauthorized, "a valid bearer token is required (Authorization: Bearer TOKEN)")
			return
		}
		h(w, r)
	}
}

// leaderOnly answers 503 unless this daemon leads and is not stopping.
func (d *Daemon) leaderOnly(w http.ResponseWriter, r *http.Request) bool {
	if d.Draining() {
		d.writeErr(w, r, errDraining)
		return false
	}
	if !d.leading() {
		d.writeNotLeader(w, r)
		return false
	}
	return true
}

// decode reads a JSON request body into v: 415 for another content type,
// 413 over maxBody, 400 for malformed JSON, unknown fields or trailing
// data. It writes the answer and returns false on error.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxBody))
			return false
		}
		writeError(w, http.StatusBadRequest, "cannot read the body")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "malformed JSON: data after the object")
		return false
	}
	return true
}

// validID checks an ID from a path or body: 1..128 printable
// characters, no space.
func validID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

func pathID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !validID(id) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("bad ID %q: want 1 to 128 printable characters without spaces", id))
		return "", false
	}
	return id, true
}

// withTimeout bounds a read of the store for one request.
func withTimeout(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 30*time.Second)
}

func (d *Daemon) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Status is this instance as GET /v1/status (and /readyz) show it.
type Status struct {
	Name    string `json:"name"`
	Site    string `json:"site"`
	Version string `json:"version"`
	// Leader names the instance that leads ("" when none is known);
	// Leading says whether it is this one.
	Leader  string `json:"leader"`
	Leading bool   `json:"leading"`
	// Ready: the store answers and a leader is known, and the daemon is
	// not stopping. Problem says why not.
	Ready   bool   `json:"ready"`
	Problem string `json:"problem,omitempty"`
	// Recovering: the leader's first Recover runs (faults wait for it).
	Recovering bool `json:"recovering"`
	Draining   bool `json:"draining"`
	// Watched servers, and how many of their event logs the watcher has
	// read once (it sees new faults of those).
	Watched int `json:"watched"`
	Primed  int `json:"primed"`
	// Unfinished failovers in the store.
	Unfinished int `json:"unfinished"`
	// Mutations: mutating calls are enabled (a token is set); Events:
	// the Redfish event receiver is on.
	Mutations bool `json:"mutations"`
	Events    bool `json:"events"`
	// PageRefreshMS is how often the status page reloads its data.
	PageRefreshMS int64 `json:"pageRefreshMs"`
}

func (d *Daemon) status(ctx context.Context) Status {
	s := d.currentSite()
	st := Status{Name: d.cfg.Name, Site: s.Name, Version: d.cfg.Version, Leading: d.leading(), Recovering: d.recovering(),
		Draining: d.Draining(), Mutations: len(d.token) > 0, Events: d.events != nil, PageRefreshMS: d.cfg.PageRefresh.Milliseconds()}
	st.Watched, st.Primed = d.watched()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var problems []string
	if u, err := d.store.Unfinished(ctx); err != nil {
		problems = append(problems, "store: "+err.Error())
	} else {
		st.Unfinished = len(u)
	}
	leader, err := d.leader(ctx)
	switch {
	case err != nil:
		problems = append(problems, "leader: "+err.Error())
	case leader == "":
		problems = append(problems, "no leader is elected")
	}
	st.Leader = leader
	if st.Draining {
		problems = append(problems, "stopping")
	}
	st.Ready = len(problems) == 0
	st.Problem = strings.Join(problems, "; ")
	return st
}

func (d *Daemon) readyz(w http.ResponseWriter, r *http.Request) {
	st := d.status(r.Context())
	code := http.StatusOK
	if !st.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, st)
}

func (d *Daemon) getStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, d.status(r.Context()))
}

// Server is one row of the server table.
type Server struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Workload  string `json:"workload,omitempty"`
	Priority  int    `json:"priority,omitempty"`
	Partition string `json:"partition,omitempty"`
	// Class is the site's hardware class name (or a description of the
	// hardware when no class matches).
	Class     string `json:"class"`
	DiskArray string `json:"diskArray,omitempty"`
	Switch    string `json:"switch,omitempty"`
	Zone      string `json:"zone,omitempty"`
	VLANs     []int  `json:"vlans,omitempty"`
	// Reservation is the failover that holds the server.
	Reservation string `json:"reservation,omitempty"`
	// Home: this server runs the workload of Home since a failover.
	Home string `json:"home,omitempty"`
	// RunsOn is where this server's own workload runs now: itself, the
	// server it moved to in a failover, or "" (none, or stopped).
	RunsOn        string `json:"runsOn,omitempty"`
	Note          string `json:"note,omitempty"`
	PendingFaults int    `json:"pendingFaults,omitempty"`
	ParkedVolumes int    `json:"parkedVolumes,omitempty"`
}

func (d *Daemon) server(r failover.Record) Server {
	s := Server{ID: string(r.ID), State: string(r.State), Workload: r.Workload, Priority: r.Priority, Partition: string(r.Partition),
		Class: d.className(r.Hardware), DiskArray: r.DiskArray, Switch: r.Switch, Zone: r.Zone, VLANs: r.VLANs,
		Reservation: r.Reservation, Home: string(r.Home), Note: r.Note, PendingFaults: len(r.PendingFaults), ParkedVolumes: len(r.Parked)}
	switch {
	case r.MovedTo != "":
		s.RunsOn = string(r.MovedTo)
	case r.State == search.Active && r.Home == "":
		s.RunsOn = string(r.ID)
	}
	return s
}

func (d *Daemon) getServers(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := withTimeout(r)
	defer cancel()
	recs, err := d.store.List(ctx)
	if err != nil {
		d.writeErr(w, r, err)
		return
	}
	out := make([]Server, len(recs))
	for i, x := range recs {
		out[i] = d.server(x)
	}
	writeJSON(w, http.StatusOK, map[string]any{"servers": out})
}

// ServerDetail is GET /v1/servers/{id}: the row and the whole record.
type ServerDetail struct {
	Server
	Record failover.Record `json:"record"`
}

func (d *Daemon) getServer(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	rec, err := d.store.Get(ctx, search.ServerID(id))
	if err != nil {
		d.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ServerDetail{Server: d.server(rec), Record: rec})
}

func (d *Daemon) postMarkStandby(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok || !d.leaderOnly(w, r) {
		return
	}
	if r.ContentLength > 0 {
		var none struct{}
		if !decode(w, r, &none) {
			return
		}
	}
	if err := d.intake.markStandby(search.ServerID(id)); err != nil {
		d.writeErr(w, r, err)
		return
	}
	d.refresh()
	writeJSON(w, http.StatusOK, map[string]string{"server": id, "state": string(search.Standby)})
}

func (d *Daemon) getFailovers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		if k != "limit" && k != "unfinished" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown query parameter %q (known: limit, unfinished)", k))
			return
		}
	}
	limit := defaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want 1 to %d", v, maxLimit))
			return
		}
		limit = n
	}
	unfinished := false
	if v := q.Get("unfinished"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unfinished %q: want true or false", v))
			return
		}
		unfinished = b
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	list, err := d.history.list(ctx, limit, unfinished)
	if err != nil {
		d.writeErr(w, r, err)
		return
	}
	out := make([]Failover, len(list))
	for i, f := range list {
		out[i] = view(f)
	}
	writeJSON(w, http.StatusOK, map[string]any{"failovers": out})
}

// Failover is a failover as the API shows it: what its journal says
// (failover.FailoverInfo) and its plan in words.
type Failover struct {
	failover.FailoverInfo
	// PlanText is the plan as search writes it ("exact: srv01 -> srv02";
	// "none" before one was reserved).
	PlanText string `json:"planText"`
}

func view(info failover.FailoverInfo) Failover {
	f := Failover{FailoverInfo: info, PlanText: "none"}
	if info.Plan != nil {
		f.PlanText = info.Plan.String()
	}
	return f
}

// FailoverDetail is GET /v1/failovers/{id}: the failover and its journal.
type FailoverDetail struct {
	Failover Failover         `json:"failover"`
	Journal  []failover.Entry `json:"journal"`
}

func (d *Daemon) getFailover(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	info, j, err := d.history.get(ctx, id)
	if err != nil {
		d.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, FailoverDetail{Failover: view(info), Journal: j})
}

// Coverage is GET /v1/coverage.
type Coverage struct {
	Servers []ServerCoverage `json:"servers"`
	Classes []ClassCoverage  `json:"classes"`
}

// ServerCoverage says whether a spare would take over an active server
// now, and with which plan.
type ServerCoverage struct {
	Server  string `json:"server"`
	Covered bool   `json:"covered"`
	Plan    string `json:"plan"`
	Kind    string `json:"kind"`
}

// ClassCoverage is one hardware class: its active and standby servers,
// and how many of the active ones the standby pool can restore at once.
type ClassCoverage struct {
	Class   string `json:"class"`
	Active  int    `json:"active"`
	Standby int    `json:"standby"`
	Absorb  int    `json:"absorb"`
}

func (d *Daemon) getCoverage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := withTimeout(r)
	defer cancel()
	cov, err := d.currentReader().Coverage(ctx)
	if err != nil {
		d.writeErr(w, r, err)
		return
	}
	out := Coverage{Servers: []ServerCoverage{}, Classes: []ClassCoverage{}}
	for _, s := range cov.Servers {
		out.Servers = append(out.Servers, ServerCoverage{Server: string(s.Server), Covered: s.Plan.Kind != 0, Plan: s.Plan.String(), Kind: s.Plan.Kind.String()})
	}
	for _, c := range cov.Classes {
		out.Classes = append(out.Classes, ClassCoverage{Class: d.className(c.Hardware), Active: c.Active, Standby: c.Standby, Absorb: c.Absorb})
	}
	writeJSON(w, http.StatusOK, out)
}

// FaultRequest is the body of POST /v1/faults.
type FaultRequest struct {
	// ID is an optional idempotency key: a fault posted again with the
	// same ID gets the first one's answer.
	ID     string `json:"id,omitempty"`
	Server string `json:"server"`
	// Type is a fault type ("processor", "memory", "power-supply", ...;
	// types outside bmc's list take the fault-action table's default).
	Type   string `json:"type"`
	Detail string `json:"detail,omitempty"`
	// Time is when the fault was observed (RFC 3339; default now).
	Time *time.Time `json:"time,omitempty"`
}

var faultType = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// validate returns the problems of a fault request.
func (f FaultRequest) validate() []string {
	var p []string
	if f.ID != "" && !validID(f.ID) {
		p = append(p, "id: want 1 to 128 printable characters without spaces")
	}
	if !validID(f.Server) {
		p = append(p, "server: required, 1 to 128 printable characters without spaces")
	}
	if !faultType.MatchString(f.Type) {
		p = append(p, `type: required, lower-case letters, digits and "-", at most 63 (such as "processor")`)
	}
	if len(f.Detail) > 1024 {
		p = append(p, "detail: at most 1024 bytes")
	}
	if f.Time != nil && (f.Time.IsZero() || f.Time.After(time.Now().Add(24*time.Hour))) {
		p = append(p, "time: not a plausible observation time")
	}
	return p
}

// postFault takes a fault: 202 with the failover that handles it (or,
// when the answer is not known within AcceptWait, its state), 200 with
// the outcome when no failover started.
func (d *Daemon) postFault(w http.ResponseWriter, r *http.Request) {
	var req FaultRequest
	if !decode(w, r, &req) {
		return
	}
	if p := req.validate(); len(p) > 0 {
		writeError(w, http.StatusUnprocessableEntity, "invalid fault: "+strings.Join(p, "; "))
		return
	}
	if !d.leaderOnly(w, r) {
		return
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	if _, err := d.store.Get(ctx, search.ServerID(req.Server)); err != nil {
		d.writeErr(w, r, fmt.Errorf("server %s: %w", req.Server, err))
		return
	}
	f := bmc.Fault{Server: req.Server, Type: bmc.FaultType(req.Type), Detail: req.Detail}
	if req.Time != nil {
		f.Time = *req.Time
	}
	rec, dup, err := d.intake.submit(f, "api", req.ID)
	if err != nil {
		d.writeErr(w, r, err)
		return
	}
	select {
	case <-rec.started:
	case <-time.After(d.cfg.AcceptWait):
	case <-r.Context().Done():
	}
	v := d.intake.view(rec)
	v.Duplicate = dup
	code := http.StatusAccepted
	switch {
	case v.State == FaultNotHandled:
		code = http.StatusServiceUnavailable
	case v.State == FaultHandled && v.Failover == "":
		code = http.StatusOK
	}
	writeJSON(w, code, v)
}

func (d *Daemon) getFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"faults": d.intake.list()})
}

func (d *Daemon) getFault(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	f, found := d.intake.get(id)
	if !found {
		writeError(w, http.StatusNotFound, "no recent fault "+id)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

// FailbackRequest is the body of POST /v1/failbacks: the server whose
// workload goes back to it (it must be standby again: mark-standby).
type FailbackRequest struct {
	Server string `json:"server"`
}

// FailbackAnswer is the answer of POST /v1/failbacks.
type FailbackAnswer struct {
	Server   string `json:"server"`
	Failover string `json:"failover,omitempty"`
	// Outcome is set when the failback ended within the wait.
	Outcome string `json:"outcome,omitempty"`
	Error   string `json:"error,omitempty"`
}

func (d *Daemon) postFailback(w http.ResponseWriter, r *http.Request) {
	var req FailbackRequest
	if !decode(w, r, &req) {
		return
	}
	if !validID(req.Server) {
		writeError(w, http.StatusUnprocessableEntity, "invalid failback: server: required, 1 to 128 printable characters without spaces")
		return
	}
	if !d.leaderOnly(w, r) {
		return
	}
	a, err := d.intake.failback(search.ServerID(req.Server), d.cfg.AcceptWait)
	if err == nil && a.Err != nil && a.ID == "" {
		err = a.Err // refused before a failover began
	}
	if err != nil {
		d.writeErr(w, r, err)
		return
	}
	out := FailbackAnswer{Server: req.Server, Failover: a.ID}
	if a.Res != nil {
		out.Outcome = string(a.Res.Outcome)
		out.Error = errString(a.Err)
	}
	writeJSON(w, http.StatusAccepted, out)
}

func (d *Daemon) postReload(w http.ResponseWriter, r *http.Request) {
	if d.Draining() {
		d.writeErr(w, r, errDraining)
		return
	}
	if r.ContentLength > 0 {
		var none struct{}
		if !decode(w, r, &none) {
			return
		}
	}
	res, err := d.Reload(r.Context())
	if err != nil {
		var se *site.Error
		body := apiError{Error: "reload refused, nothing changed: " + err.Error()}
		switch {
		case errors.As(err, &se):
			body.Status, body.Problems = http.StatusUnprocessableEntity, se.Problems
		case errors.Is(err, failover.ErrConflict):
			body.Status = http.StatusConflict
		case errors.Is(err, failover.ErrInvalid):
			body.Status = http.StatusUnprocessableEntity
		default:
			body.Status = http.StatusInternalServerError
		}
		if res != nil {
			body.Diff = res.Diff
		}
		writeJSON(w, body.Status, body)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
