// Package redfish is a partition.PartitionManager over the Redfish
// CompositionService (DSP0268 "Composability"): it composes logical
// servers from resource blocks, decomposes them and lists them. Import it
// to let coldstandby recompose multi-node servers on platforms that
// expose composition through Redfish (blade enclosures with physical
// partitions, composable racks); drivers/redfish/redfishtest is a test
// service built on the DMTF mockups.
//
// # Names
//
// A member is a resource block, named by its Id (the last segment of
// /redfish/v1/CompositionService/ResourceBlocks/{Id}). When the rest of
// the system knows the servers by other IDs (inventory names, BMC host
// names), WithMembers maps each server ID to its block Id; names without
// a mapping are taken as block Ids. List maps back.
//
// A logical server is a composed ComputerSystem (SystemType "Composed").
// Compose sends the logical server's ID as the system's Name, the one
// identifier a client chooses (services assign the Id). Its ID in List is
// therefore its Name, unless several composed systems share that Name (the
// DMTF composability mockup has two "Sample Composed System"): then each
// of those is known by its Id instead. Members are listed in the order of
// the system's Links.ResourceBlocks.
//
// # Protocol
//
// Compose checks the blocks first (each exists, is not composed in
// another system unless it is shareable with room left, is not reserved
// by another client, and all blocks share a resource zone), then POSTs
// {"Name":id,"Links":{"ResourceBlocks":[...]}} to the Systems collection,
// or, when the CompositionService advertises #CompositionService.Compose,
// a ComposeSystem manifest stanza to that action. A 202 answer is
// followed through its task monitor. Decompose DELETEs the system.
// Service errors are mapped through their Redfish message IDs:
// Composition ResourceBlockNotFound to ErrNotFound; IncompatibleZone,
// ResourceBlockInUse and any 409 to ErrConflict; other 4xx to ErrInvalid;
// 503 to ErrTransient; other failures of a change after it was sent to
// ErrOutcomeUnknown.
//
// # Security
//
// With WithBasicAuth the Manager sends the password with every request,
// so New refuses http:// service URLs unless the caller opts in with
// WithInsecureHTTP. Its default client has a 60 s timeout and a transport
// of its own (timeouts on dial, TLS handshake and response headers) that
// verifies the service's certificate, never http.DefaultTransport, which
// any package in the program could make insecure; WithRootCAs trusts a
// private CA. A Manager prints and logs as its service URL and user,
// never its password.
package redfish

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coldstandby/coldstandby/internal/redact"
	"github.com/coldstandby/coldstandby/internal/resthttp"
	"github.com/coldstandby/coldstandby/partition"
)

var _ partition.PartitionManager = (*Manager)(nil)

// Manager is a partition.PartitionManager for one Redfish service. It is
// safe for concurrent use; its changes take turns.
type Manager struct {
	base     *url.URL
	client   *http.Client
	user     string
	pass     *redact.Secret
	toBlock  map[string]string
	toMember map[string]string
	poll     time.Duration
	log      *slog.Logger

	roots        *x509.CertPool // WithRootCAs, for the Manager's own transport
	insecureHTTP bool           // WithInsecureHTTP

	mu sync.Mutex // serialises Compose and Decompose
}

// DefaultTimeout bounds each request of a Manager made without
// WithHTTPClient.
const DefaultTimeout = 60 * time.Second

// Option configures a Manager.
type Option func(*Manager) error

// WithHTTPClient sets the HTTP client (a proxy, a client certificate).
// Its Transport is used as it is; a client without a Transport gets the
// Manager's own (never http.DefaultTransport). Give it a Timeout or use
// ctx deadlines. The default has a 60 s timeout and a transport of the
// Manager's own that verifies certificates against the system roots.
func WithHTTPClient(c *http.Client) Option {
	return func(m *Manager) error {
		if c == nil {
			return errors.New("nil HTTP client")
		}
		m.client = c
		return nil
	}
}

// WithBasicAuth sends HTTP Basic credentials on every request to the
// service's own scheme and host; a link or task monitor the service names
// on another host is not followed (ErrUnsupported; after an accepted
// change, ErrOutcomeUnknown).
func WithBasicAuth(user, password string) Option {
	return func(m *Manager) error {
		if user == "" {
			return errors.New("empty user name")
		}
		m.user, m.pass = user, redact.New(password)
		return nil
	}
}

// WithRootCAs verifies the service's certificate against pool instead of
// the system roots (a private CA). It applies to the Manager's own
// transport, not to a client given with WithHTTPClient.
func WithRootCAs(pool *x509.CertPool) Option {
	return func(m *Manager) error {
		if pool == nil {
			return errors.New("nil root CA pool")
		}
		m.roots = pool
		return nil
	}
}

// WithInsecureHTTP lets New take an http:// service URL.
//
// WARNING: with WithBasicAuth the password then crosses the network in
// clear text with every request, and anyone on the path can change what
// the Manager sees and composes. Use it only against a lab service or a
// test server.
func WithInsecureHTTP() Option {
	return func(m *Manager) error {
		m.insecureHTTP = true
		return nil
	}
}

// WithMembers maps server IDs to resource block Ids (one to one).
func WithMembers(serverToBlock map[string]string) Option {
	return func(m *Manager) error {
		for srv, blk := range serverToBlock {
			if srv == "" || blk == "" {
				return fmt.Errorf("empty name in member mapping %q -> %q", srv, blk)
			}
			if other, dup := m.toMember[blk]; dup && other != srv {
				return fmt.Errorf("block %s mapped from both %s and %s", blk, other, srv)
			}
			m.toBlock[srv] = blk
			m.toMember[blk] = srv
		}
		return nil
	}
}

// WithTaskPoll sets the interval between task monitor polls after a 202
// answer (default 200 ms; a Retry-After header overrides it).
func WithTaskPoll(d time.Duration) Option {
	return func(m *Manager) error {
		if d <= 0 {
			return fmt.Errorf("task poll interval %v not positive", d)
		}
		m.poll = d
		return nil
	}
}

// WithLogger logs changes to l (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(m *Manager) error {
		if l == nil {
			return errors.New("nil logger")
		}
		m.log = l
		return nil
	}
}

// New returns a Manager for the Redfish service at baseURL
// ("https://enclosure-manager.example"; the service root is
// baseURL/redfish/v1). An http:// URL needs WithInsecureHTTP; user
// information in the URL is refused (use WithBasicAuth). It does not
// connect.
func New(baseURL string, opts ...Option) (*Manager, error) {
	m := &Manager{
		toBlock:  map[string]string{},
		toMember: map[string]string{},
		poll:     200 * time.Millisecond,
		log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		if err := o(m); err != nil {
			return nil, fmt.Errorf("redfish: %w: %w", err, partition.ErrInvalid)
		}
	}
	u, err := resthttp.Endpoint(baseURL, m.insecureHTTP, "redfish.WithInsecureHTTP()")
	if err != nil {
		return nil, fmt.Errorf("redfish: service URL: %w", err)
	}
	m.base = u
	if m.client != nil {
		m.client = resthttp.OwnTransport(m.client, m.roots)
	} else {
		m.client = resthttp.NewClient(DefaultTimeout, m.roots)
	}
	return m, nil
}

func (m *Manager) info() redact.Info {
	attrs := []slog.Attr{slog.String("service", m.base.String())}
	if m.user != "" {
		attrs = append(attrs, slog.String("user", m.user), slog.Any("password", m.pass))
	}
	return redact.Info{Type: "redfish.Manager", Attrs: attrs}
}

// String describes the Manager: service URL and user; the password shows
// as [redacted].
func (m *Manager) String() string { return m.info().String() }

// GoString is String, so that %#v does not print the password.
func (m *Manager) GoString() string { return m.info().String() }

// Format prints String for every verb.
func (m *Manager) Format(f fmt.State, verb rune) { m.info().Format(f, verb) }

// LogValue logs the Manager as a group of service and user.
func (m *Manager) LogValue() slog.Value { return m.info().LogValue() }

// odataID is a Redfish reference.
type odataID struct {
	ID string `json:"@odata.id"`
}

type collection struct {
	Members []odataID `json:"Members"`
}

type system struct {
	ODataID    string `json:"@odata.id"`
	ID         string `json:"Id"`
	Name       string `json:"Name"`
	SystemType string `json:"SystemType"`
	PowerState string `json:"PowerState"`
	Links      struct {
		ResourceBlocks []odataID `json:"ResourceBlocks"`
	} `json:"Links"`
}

type resourceBlock struct {
	ODataID           string `json:"@odata.id"`
	ID                string `json:"Id"`
	CompositionStatus struct {
		CompositionState     string `json:"CompositionState"`
		Reserved             bool   `json:"Reserved"`
		SharingCapable       bool   `json:"SharingCapable"`
		SharingEnabled       *bool  `json:"SharingEnabled"`
		MaxCompositions      *int   `json:"MaxCompositions"`
		NumberOfCompositions *int   `json:"NumberOfCompositions"`
	} `json:"CompositionStatus"`
	Links struct {
		ComputerSystems []odataID `json:"ComputerSystems"`
		Zones           []odataID `json:"Zones"`
	} `json:"Links"`
}

// httpError is a non-2xx answer.
type httpError struct {
	status    int
	messageID string
	message   string
}

func (e *httpError) Error() string {
	s := fmt.Sprintf("HTTP %d", e.status)
	if e.messageID != "" {
		s += " " + e.messageID
	}
	if e.message != "" {
		s += ": " + e.message
	}
	return s
}

// kind maps an answer to an error kind (write: the request was a change).
func (e *httpError) kind(write bool) error {
	id := e.messageID
	switch {
	case strings.HasSuffix(id, ".ResourceBlockNotFound"), strings.HasSuffix(id, ".ResourceMissingAtURI"):
		return partition.ErrNotFound
	case strings.HasSuffix(id, ".IncompatibleZone"), strings.HasSuffix(id, ".ResourceBlockInUse"),
		strings.HasSuffix(id, ".SpecifiedResourceAlreadyReserved"), strings.HasSuffix(id, ".ResourceAlreadyExists"),
		strings.HasSuffix(id, ".ResourceInUse"), e.status == http.StatusConflict:
		return partition.ErrConflict
	case e.status == http.StatusNotFound:
		return partition.ErrNotFound
	case e.status == http.StatusServiceUnavailable, e.status == http.StatusTooManyRequests:
		return partition.ErrTransient
	case e.status == http.StatusMethodNotAllowed, e.status == http.StatusNotImplemented:
		return partition.ErrUnsupported
	case e.status == http.StatusUnauthorized, e.status == http.StatusForbidden:
		return partition.ErrUnsupported
	case e.status >= 400 && e.status < 500:
		return partition.ErrInvalid
	case write:
		return partition.ErrOutcomeUnknown
	}
	return partition.ErrTransient
}

// do sends one request and decodes a JSON answer into out (when not nil).
// It returns the response headers and status. Errors are classified:
// write says whether the request changes the service.
func (m *Manager) do(ctx context.Context, method, uri string, body, out any, write bool) (http.Header, int, error) {
	ref, err := url.Parse(uri)
	if err != nil {
		return nil, 0, fmt.Errorf("bad URI %q from the service: %w", uri, partition.ErrTransient)
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, 0, fmt.Errorf("encode request: %v: %w", err, partition.ErrInvalid)
		}
		rd = bytes.NewReader(b)
	}
	target := m.base.ResolveReference(ref)
	if target.Scheme != m.base.Scheme || target.Host != m.base.Host {
		// A link or task monitor (Location) on another host: following
		// it would send this service's credentials there.
		return nil, 0, fmt.Errorf("%s %s: the service links off %s; not followed with its credentials: %w",
			method, uri, m.base.Host, partition.ErrUnsupported)
	}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), rd)
	if err != nil {
		return nil, 0, fmt.Errorf("%v: %w", err, partition.ErrInvalid)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-Version", "4.0")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if m.user != "" {
		req.SetBasicAuth(m.user, m.pass.Reveal())
	}
	resp, err := m.client.Do(req)
	if err != nil {
		// A write whose request may have arrived is an unknown outcome;
		// nothing sent (dial, DNS, an untrusted certificate) or a read
		// is not.
		kind := resthttp.Failure(ctx, err, write)
		if ctx.Err() != nil {
			return nil, 0, fmt.Errorf("%s %s: %w", method, uri, kind)
		}
		return nil, 0, fmt.Errorf("%s %s: %v: %w", method, uri, err, kind)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		kind := partition.ErrTransient
		if write {
			kind = partition.ErrOutcomeUnknown
		}
		return nil, resp.StatusCode, fmt.Errorf("%s %s: reading answer: %v: %w", method, uri, err, kind)
	}
	if resp.StatusCode >= 300 {
		he := &httpError{status: resp.StatusCode}
		var eb struct {
			Error struct {
				Code     string `json:"code"`
				Message  string `json:"message"`
				Extended []struct {
					MessageID string `json:"MessageId"`
					Message   string `json:"Message"`
				} `json:"@Message.ExtendedInfo"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &eb) == nil {
			he.messageID, he.message = eb.Error.Code, eb.Error.Message
			if len(eb.Error.Extended) > 0 {
				he.messageID, he.message = eb.Error.Extended[0].MessageID, eb.Error.Extended[0].Message
			}
		}
		return resp.Header, resp.StatusCode, fmt.Errorf("%s %s: %w: %w", method, uri, he, he.kind(write))
	}
	if out != nil && resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.Header, resp.StatusCode, fmt.Errorf("%s %s: malformed answer: %v: %w", method, uri, err, partition.ErrTransient)
		}
	}
	return resp.Header, resp.StatusCode, nil
}

func (m *Manager) get(ctx context.Context, uri string, out any) error {
	_, _, err := m.do(ctx, http.MethodGet, uri, nil, out, false)
	return err
}

// service holds the URIs discovered from the service root.
type service struct {
	systems        string
	blocks         string
	composeAction  string // "" when not advertised
	blockByID      map[string]string
	blockIDByURI   map[string]string
	composedByName map[string][]system
	composed       []system
}

func (m *Manager) discover(ctx context.Context) (*service, error) {
	var root struct {
		Systems            odataID `json:"Systems"`
		CompositionService odataID `json:"CompositionService"`
	}
	if err := m.get(ctx, "/redfish/v1", &root); err != nil {
		return nil, err
	}
	if root.CompositionService.ID == "" || root.Systems.ID == "" {
		return nil, fmt.Errorf("service has no CompositionService: %w", partition.ErrUnsupported)
	}
	var cs struct {
		ServiceEnabled *bool   `json:"ServiceEnabled"`
		ResourceBlocks odataID `json:"ResourceBlocks"`
		Actions        map[string]struct {
			Target string `json:"target"`
		} `json:"Actions"`
	}
	if err := m.get(ctx, root.CompositionService.ID, &cs); err != nil {
		return nil, err
	}
	if cs.ServiceEnabled != nil && !*cs.ServiceEnabled {
		return nil, fmt.Errorf("CompositionService disabled: %w", partition.ErrUnsupported)
	}
	s := &service{
		systems:        root.Systems.ID,
		blocks:         cs.ResourceBlocks.ID,
		composeAction:  cs.Actions["#CompositionService.Compose"].Target,
		blockByID:      map[string]string{},
		blockIDByURI:   map[string]string{},
		composedByName: map[string][]system{},
	}
	var blocks collection
	if err := m.get(ctx, s.blocks, &blocks); err != nil {
		return nil, err
	}
	for _, b := range blocks.Members {
		id := path.Base(b.ID)
		s.blockByID[id] = b.ID
		s.blockIDByURI[b.ID] = id
	}
	var systems collection
	if err := m.get(ctx, s.systems, &systems); err != nil {
		return nil, err
	}
	for _, ref := range systems.Members {
		var sys system
		if err := m.get(ctx, ref.ID, &sys); err != nil {
			if errors.Is(err, partition.ErrNotFound) { // deleted meanwhile
				continue
			}
			return nil, err
		}
		if sys.SystemType != "Composed" {
			continue
		}
		if sys.ODataID == "" {
			sys.ODataID = ref.ID
		}
		s.composed = append(s.composed, sys)
		s.composedByName[sys.Name] = append(s.composedByName[sys.Name], sys)
	}
	return s, nil
}

// logicalID is the ID of a composed system (see the package doc).
func (s *service) logicalID(sys system) string {
	if sys.Name != "" && len(s.composedByName[sys.Name]) == 1 {
		return sys.Name
	}
	return sys.ID
}

func (s *service) find(id string) []system {
	var out []system
	for _, sys := range s.composed {
		if s.logicalID(sys) == id {
			out = append(out, sys)
		}
	}
	return out
}

func (m *Manager) member(blockID string) string {
	if srv, ok := m.toMember[blockID]; ok {
		return srv
	}
	return blockID
}

func (m *Manager) block(member string) string {
	if b, ok := m.toBlock[member]; ok {
		return b
	}
	return member
}

func (m *Manager) members(sys system) []string {
	out := make([]string, 0, len(sys.Links.ResourceBlocks))
	for _, b := range sys.Links.ResourceBlocks {
		out = append(out, m.member(path.Base(b.ID)))
	}
	return out
}

// List returns every composed system as a logical server, sorted by ID.
// Errors: ErrUnsupported for a service without composition; ErrTransient.
func (m *Manager) List(ctx context.Context) ([]partition.LogicalServer, error) {
	s, err := m.discover(ctx)
	if err != nil {
		return nil, fmt.Errorf("redfish: list logical servers: %w", err)
	}
	out := make([]partition.LogicalServer, 0, len(s.composed))
	for _, sys := range s.composed {
		out = append(out, partition.LogicalServer{ID: s.logicalID(sys), Members: m.members(sys)})
	}
	slices.SortFunc(out, func(a, b partition.LogicalServer) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func zoneIDs(rb resourceBlock) []string {
	var out []string
	for _, z := range rb.Links.Zones {
		out = append(out, path.Base(z.ID))
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// Compose composes logical server id from members (see
// partition.PartitionManager and the package doc).
func (m *Manager) Compose(ctx context.Context, id string, members []string) error {
	fail := func(err error) error {
		return fmt.Errorf("redfish: compose %s from %v: %w", id, members, err)
	}
	if id == "" {
		return fail(fmt.Errorf("empty logical server ID: %w", partition.ErrInvalid))
	}
	if len(members) == 0 {
		return fail(fmt.Errorf("no members: %w", partition.ErrInvalid))
	}
	seen := map[string]bool{}
	for _, mem := range members {
		if mem == "" {
			return fail(fmt.Errorf("empty member name: %w", partition.ErrInvalid))
		}
		if seen[m.block(mem)] {
			return fail(fmt.Errorf("duplicate member %s: %w", mem, partition.ErrInvalid))
		}
		seen[m.block(mem)] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()

	s, err := m.discover(ctx)
	if err != nil {
		return fail(err)
	}
	if done, err := m.checkExisting(s, id, members); done || err != nil {
		if err != nil {
			return fail(err)
		}
		return nil
	}
	var refs []odataID
	var zones map[string]bool // common zones of the zoned blocks so far
	var zoned, unzoned []string
	for _, mem := range members {
		blk := m.block(mem)
		uri, ok := s.blockByID[blk]
		if !ok {
			return fail(fmt.Errorf("no resource block %s: %w", blk, partition.ErrNotFound))
		}
		var rb resourceBlock
		if err := m.get(ctx, uri, &rb); err != nil {
			return fail(err)
		}
		if err := m.checkFree(s, mem, rb); err != nil {
			return fail(err)
		}
		refs = append(refs, odataID{ID: uri})
		if len(rb.Links.Zones) == 0 {
			unzoned = append(unzoned, mem)
			continue
		}
		z := map[string]bool{}
		for _, ref := range rb.Links.Zones {
			if zones == nil || zones[ref.ID] {
				z[ref.ID] = true
			}
		}
		zones = z
		zoned = append(zoned, mem)
		if len(zones) == 0 {
			return fail(fmt.Errorf("the members share no resource zone (%s is in %v): %w", mem, zoneIDs(rb), partition.ErrConflict))
		}
	}
	if len(zoned) > 0 && len(unzoned) > 0 {
		return fail(fmt.Errorf("members %v are in resource zones, %v in none: %w", zoned, unzoned, partition.ErrConflict))
	}
	if err := m.create(ctx, s, id, refs); err != nil {
		if errors.Is(err, partition.ErrConflict) {
			// Another client may have composed the same server meanwhile.
			if s2, derr := m.discover(ctx); derr == nil {
				if done, cerr := m.checkExisting(s2, id, members); done && cerr == nil {
					return nil
				}
			}
		}
		return fail(err)
	}
	m.log.Info("redfish: composed", "driver", "redfish", "server", id, "members", members)
	return nil
}

// checkExisting reports whether id already exists with these members
// (done), or an ErrConflict when it exists otherwise.
func (m *Manager) checkExisting(s *service, id string, members []string) (bool, error) {
	existing := s.find(id)
	if len(existing) == 0 {
		return false, nil
	}
	var want, have []string
	for _, mem := range members {
		want = append(want, m.block(mem))
	}
	for _, b := range existing[0].Links.ResourceBlocks {
		have = append(have, path.Base(b.ID))
	}
	if len(existing) == 1 && sameSet(have, want) {
		return true, nil
	}
	return false, fmt.Errorf("logical server %s exists with members %v: %w", id, m.members(existing[0]), partition.ErrConflict)
}

// checkFree refuses a block that cannot join a new composition.
func (m *Manager) checkFree(s *service, mem string, rb resourceBlock) error {
	st := rb.CompositionStatus
	var owners []string
	for _, ref := range rb.Links.ComputerSystems {
		for _, sys := range s.composed {
			if sys.ODataID == ref.ID {
				owners = append(owners, s.logicalID(sys))
			}
		}
	}
	shareable := st.SharingCapable && (st.SharingEnabled == nil || *st.SharingEnabled) &&
		(st.MaxCompositions == nil || st.NumberOfCompositions == nil || *st.NumberOfCompositions < *st.MaxCompositions)
	switch st.CompositionState {
	case "Unused":
	case "Composed", "ComposedAndAvailable":
		if !shareable {
			return fmt.Errorf("member %s belongs to logical server %v: %w", mem, owners, partition.ErrConflict)
		}
	default: // Composing, Failed, Unavailable
		return fmt.Errorf("member %s is %s: %w", mem, st.CompositionState, partition.ErrConflict)
	}
	if st.Reserved && st.CompositionState == "Unused" {
		return fmt.Errorf("member %s is reserved by another client: %w", mem, partition.ErrConflict)
	}
	return nil
}

// create sends the composition request and follows a task monitor.
func (m *Manager) create(ctx context.Context, s *service, id string, refs []odataID) error {
	var (
		hdr    http.Header
		status int
		err    error
	)
	if s.composeAction != "" {
		body := map[string]any{
			"RequestFormat": "Manifest",
			"RequestType":   "Apply",
			"Manifest": map[string]any{
				"Description": "coldstandby: compose " + id,
				"Stanzas": []any{map[string]any{
					"StanzaType": "ComposeSystem",
					"StanzaId":   "coldstandby-" + id,
					"Request":    map[string]any{"Name": id, "Links": map[string]any{"ResourceBlocks": refs}},
				}},
			},
		}
		hdr, status, err = m.do(ctx, http.MethodPost, s.composeAction, body, nil, true)
	} else {
		body := map[string]any{"Name": id, "Links": map[string]any{"ResourceBlocks": refs}}
		hdr, status, err = m.do(ctx, http.MethodPost, s.systems, body, nil, true)
	}
	if err != nil {
		return err
	}
	if status == http.StatusAccepted {
		return m.waitTask(ctx, hdr)
	}
	return nil
}

// waitTask polls the task monitor of a 202 answer until the operation
// ends (DSP0266 "Asynchronous operations").
func (m *Manager) waitTask(ctx context.Context, hdr http.Header) error {
	monitor := hdr.Get("Location")
	if monitor == "" {
		return fmt.Errorf("202 without a task monitor: %w", partition.ErrOutcomeUnknown)
	}
	for {
		delay := m.poll
		if ra := hdr.Get("Retry-After"); ra != "" {
			if d, err := time.ParseDuration(ra + "s"); err == nil && d > 0 && d < time.Minute {
				delay = d
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for task %s: %w: %w", monitor, ctx.Err(), partition.ErrOutcomeUnknown)
		case <-t.C:
		}
		var status int
		var err error
		var task struct {
			TaskState string `json:"TaskState"`
			Messages  []struct {
				MessageID string `json:"MessageId"`
				Message   string `json:"Message"`
			} `json:"Messages"`
		}
		hdr, status, err = m.do(ctx, http.MethodGet, monitor, nil, &task, false)
		if err != nil {
			var he *httpError
			switch {
			case errors.Is(err, partition.ErrTransient) && ctx.Err() == nil:
				continue
			case errors.As(err, &he) && he.status == http.StatusNotFound:
				// The monitor itself is gone (expired): the result is lost.
				return fmt.Errorf("task monitor %s vanished: %w", monitor, partition.ErrOutcomeUnknown)
			case errors.As(err, &he):
				return fmt.Errorf("task %s failed: %w", monitor, unwrapKind(err, true))
			}
			return fmt.Errorf("task %s: %v: %w", monitor, err, partition.ErrOutcomeUnknown)
		}
		if status == http.StatusAccepted {
			continue
		}
		// Some services answer with the Task resource itself at the end.
		switch task.TaskState {
		case "", "Completed":
			return nil
		case "Exception", "Killed", "Cancelled", "Interrupted":
			he := &httpError{status: http.StatusBadRequest, message: "task " + task.TaskState}
			if len(task.Messages) > 0 {
				he.messageID, he.message = task.Messages[0].MessageID, task.TaskState+": "+task.Messages[0].Message
			}
			return fmt.Errorf("task %s failed: %w: %w", monitor, he, he.kind(true))
		default: // New, Starting, Running, Pending, Suspended, ...
			continue
		}
	}
}

// unwrapKind re-classifies a task's final error as a write's.
func unwrapKind(err error, write bool) error {
	var he *httpError
	if errors.As(err, &he) {
		return fmt.Errorf("%w: %w", he, he.kind(write))
	}
	return err
}

// Decompose deletes logical server id's composed system. An id that does
// not exist returns nil. Errors: ErrConflict when the service refuses
// (members running, when it requires them off); ErrTransient;
// ErrOutcomeUnknown; ctx errors.
func (m *Manager) Decompose(ctx context.Context, id string) error {
	fail := func(err error) error { return fmt.Errorf("redfish: decompose %s: %w", id, err) }
	if id == "" {
		return fail(fmt.Errorf("empty logical server ID: %w", partition.ErrInvalid))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.discover(ctx)
	if err != nil {
		return fail(err)
	}
	found := s.find(id)
	if len(found) == 0 {
		return nil
	}
	if len(found) > 1 {
		return fail(fmt.Errorf("%d composed systems answer to %s: %w", len(found), id, partition.ErrConflict))
	}
	hdr, status, err := m.do(ctx, http.MethodDelete, found[0].ODataID, nil, nil, true)
	if err != nil {
		if errors.Is(err, partition.ErrNotFound) {
			return nil // deleted meanwhile
		}
		return fail(err)
	}
	if status == http.StatusAccepted {
		if err := m.waitTask(ctx, hdr); err != nil {
			return fail(err)
		}
	}
	m.log.Info("redfish: decomposed", "driver", "redfish", "server", id)
	return nil
}
