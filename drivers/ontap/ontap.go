// Package ontap is a storage.DiskMapper and storage.InitiatorSwapper for
// NetApp ONTAP 9.6 and later, through its REST API (plain net/http, HTTP
// basic authentication over TLS, verified by default).
//
// Import it to wire an ONTAP cluster's SAN into coldstandby:
//
//	m, err := ontap.New("https://cluster1.example.com", "svm1", "coldstandby", password)
//	if err != nil {
//		return err
//	}
//	// m is a storage.DiskMapper; m.SwapInitiators moves a whole igroup.
//
// # Model
//
// A VolumeID is the name of an ONTAP LUN in the SVM given to New: its
// path ("/vol/boot_r1_01/lun0") on unified ONTAP, or its plain name
// ("boot_r1_01") on ASA r2 systems, which name LUNs without a volume path
// (a letter or "_" first, then letters, digits and "_"; NetApp's Ansible
// na_ontap_lun_map.py). A host is an initiator group (igroup): Map needs
// an igroup whose initiators are exactly the given initiators and maps
// the LUN to it (POST /api/protocols/san/lun-maps with
// logical_unit_number); the driver does not create igroups. Mappings
// reports the LUN maps of every igroup that holds one of the initiators.
// Unmap deletes the LUN maps through which the initiators see the volume,
// and refuses (ErrConflict) when such an igroup also holds initiators that
// were not named, because deleting its map would hide the volume from
// them too.
//
// Nested igroups (ONTAP 9.9.1 and later) are understood: a parent igroup
// lists the initiators of the igroups nested in it, and its LUN maps are
// seen by all of them, but initiators are added to and removed from the
// igroup that holds them directly. When a parent and the igroup nested in
// it have the same initiators, Map picks the one that holds them directly,
// and SwapInitiators always edits that one, so that the parents follow.
//
// Both failover strategies work: remap each LUN to the spare's igroup with
// the same LUN ID (Unmap then Map), or SwapInitiators, which replaces the
// failed server's initiators in its igroup with the spare's, leaving every
// LUN map as it is. SwapInitiators removes the old initiators before it
// adds the new ones, so no igroup ever holds both servers' initiators, and
// marks the igroup (its comment) for the time of the swap so that a call
// interrupted at any point can be resumed.
//
// ONTAP accepts LUN IDs 0..4095 (lun_map.logical_unit_number, "Max value:
// 4095"); larger IDs, which the storage contract allows, are ErrInvalid.
//
// # Errors
//
// An error answer is classified by the ONTAP error codes the endpoints'
// reference pages document (see classify), and otherwise by its HTTP
// status: a 400 is ErrInvalid, never ErrTransient.
//
// # Security
//
// The Mapper sends the password with every request (HTTP basic
// authentication), so New refuses http:// endpoints unless the caller
// opts in with WithInsecureHTTP. It verifies the cluster's certificate
// with a transport of its own (timeouts on dial, TLS handshake and
// response headers), never http.DefaultTransport, which any package in
// the program could make insecure; WithRootCAs trusts a private CA. A
// Mapper prints and logs as its endpoint, SVM and user, never its
// password.
//
// Sources: NetApp's ONTAP REST API reference (docs.netapp.com/us-en/
// ontap-restapi): "Retrieve initiator groups", "Add one or more initiators
// to an initiator group", "Delete an initiator from an initiator group",
// "Create a LUN map", "Retrieve LUN maps", "Delete a LUN map", "Retrieve
// LUNs", "Update an initiator group" (the igroup comment SwapInitiators
// uses as its marker), and the ONTAP CLI reference pages "lun mapping
// create" for the mapping rules and "lun igroup modify" for the comment's
// 254-character limit; NetApp Trident's models generated from ONTAP's
// OpenAPI document for nested igroups (storage_drivers/ontap/api/rest/
// models/igroup.go, igroup_initiator_list_item.go); NetApp's Ansible
// collection for the request shapes real clients send. No NetApp code is
// used.
package ontap

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coldstandby/coldstandby/internal/redact"
	"github.com/coldstandby/coldstandby/internal/resthttp"
	"github.com/coldstandby/coldstandby/storage"
)

var (
	_ storage.DiskMapper       = (*Mapper)(nil)
	_ storage.InitiatorSwapper = (*Mapper)(nil)
)

// MaxLUN is the highest LUN ID ONTAP accepts.
const MaxLUN = 4095

// DefaultTimeout bounds each request of a Mapper made without
// WithHTTPClient.
const DefaultTimeout = 60 * time.Second

// Mapper drives one SVM of one ONTAP cluster. Make it with New; it is safe
// for concurrent use (calls that read then change are serialised).
type Mapper struct {
	base     *url.URL
	svm      string
	user     string
	password *redact.Secret
	hc       *http.Client
	log      *slog.Logger

	mu sync.Mutex
}

// Option configures a Mapper.
type Option func(*config) error

type config struct {
	hc           *http.Client
	roots        *x509.CertPool
	log          *slog.Logger
	insecureHTTP bool
}

// WithHTTPClient sets the HTTP client, for example one with a proxy or a
// client certificate. Its Transport is used as it is; a client without a
// Transport gets the Mapper's own (never http.DefaultTransport). The
// default is a client with a 60 s timeout and a transport of the Mapper's
// own that verifies certificates against the system roots.
func WithHTTPClient(c *http.Client) Option {
	return func(cfg *config) error {
		if c == nil {
			return fmt.Errorf("ontap: nil HTTP client: %w", storage.ErrInvalid)
		}
		cfg.hc = c
		return nil
	}
}

// WithRootCAs verifies the cluster's certificate against pool instead of
// the system roots (a private CA). It applies to the Mapper's own
// transport, not to a client given with WithHTTPClient.
func WithRootCAs(pool *x509.CertPool) Option {
	return func(cfg *config) error {
		if pool == nil {
			return fmt.Errorf("ontap: nil root CA pool: %w", storage.ErrInvalid)
		}
		cfg.roots = pool
		return nil
	}
}

// WithInsecureHTTP lets New take an http:// endpoint.
//
// WARNING: the password then crosses the network in clear text with
// every request, and anyone on the path can change what the driver sees
// and does. Use it only against a lab cluster or a test server.
func WithInsecureHTTP() Option {
	return func(cfg *config) error {
		cfg.insecureHTTP = true
		return nil
	}
}

// WithLogger sets the logger for debug records of each request (method,
// path, status; never credentials). The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(cfg *config) error {
		if l == nil {
			return fmt.Errorf("ontap: nil logger: %w", storage.ErrInvalid)
		}
		cfg.log = l
		return nil
	}
}

// New returns a Mapper for SVM svm of the cluster whose management
// address is endpoint ("https://cluster1.example.com"; requests go to
// endpoint + "/api/..."), authenticating as user with password. An
// http:// endpoint needs WithInsecureHTTP; user information in the URL
// is refused. It does not contact the cluster.
func New(endpoint, svm, user, password string, opts ...Option) (*Mapper, error) {
	var cfg config
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	u, err := resthttp.Endpoint(endpoint, cfg.insecureHTTP, "ontap.WithInsecureHTTP()")
	if err != nil {
		return nil, fmt.Errorf("ontap: %w", err)
	}
	if svm == "" || user == "" {
		return nil, fmt.Errorf("ontap: SVM and user are required: %w", storage.ErrInvalid)
	}
	m := &Mapper{base: u, svm: svm, user: user, password: redact.New(password), log: cfg.log}
	if cfg.hc != nil {
		m.hc = resthttp.OwnTransport(cfg.hc, cfg.roots)
	} else {
		m.hc = resthttp.NewClient(DefaultTimeout, cfg.roots)
	}
	if m.log == nil {
		m.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return m, nil
}

func (m *Mapper) info() redact.Info {
	return redact.Info{Type: "ontap.Mapper", Attrs: []slog.Attr{
		slog.String("endpoint", m.base.String()), slog.String("svm", m.svm),
		slog.String("user", m.user), slog.Any("password", m.password)}}
}

// String describes the Mapper: endpoint, SVM and user; the password
// shows as [redacted].
func (m *Mapper) String() string { return m.info().String() }

// GoString is String, so that %#v does not print the password.
func (m *Mapper) GoString() string { return m.info().String() }

// Format prints String for every verb.
func (m *Mapper) Format(f fmt.State, verb rune) { m.info().Format(f, verb) }

// LogValue logs the Mapper as a group of endpoint, svm and user.
func (m *Mapper) LogValue() slog.Value { return m.info().LogValue() }

// igroup is an initiator group record. Initiators arrive as records
// {"name": ...} (igroup.initiators[], ONTAP 9.6+), and an initiator
// inherited from a nested igroup also names the igroup that holds it
// directly, {"name": ..., "igroup": {"uuid": ...}} (9.9.1+); plain
// strings (as in the igroup sub-object of lun-map records) are accepted
// too. An igroup without initiators has no "initiators" member.
type igroup struct {
	UUID       string      `json:"uuid"`
	Name       string      `json:"name"`
	Protocol   string      `json:"protocol"`
	Comment    string      `json:"comment"` // read by SwapInitiators only
	Initiators []initiator `json:"initiators"`
}

type initiator struct {
	Name  string
	Owner string // uuid of the nested igroup that holds it; "" when this one does
}

func (i *initiator) UnmarshalJSON(b []byte) error {
	var s string
	if err := jsonUnmarshal(b, &s); err == nil {
		i.Name = s
		return nil
	}
	var o struct {
		Name   string `json:"name"`
		Igroup *struct {
			UUID string `json:"uuid"`
		} `json:"igroup"`
	}
	if err := jsonUnmarshal(b, &o); err != nil {
		return err
	}
	i.Name = o.Name
	if o.Igroup != nil {
		i.Owner = o.Igroup.UUID
	}
	return nil
}

// key normalises an initiator name as the storage package does, so that
// two spellings of one WWPN compare equal; unparsable names compare by
// their lower-cased text.
func key(name string) string {
	if in, err := storage.ParseInitiator(name); err == nil {
		return in.String()
	}
	return "?" + strings.ToLower(strings.TrimSpace(name))
}

// keys returns every initiator of g, those of nested igroups included.
func (g *igroup) keys() []string {
	out := make([]string, len(g.Initiators))
	for i, in := range g.Initiators {
		out[i] = key(in.Name)
	}
	return out
}

func (g *igroup) has(k string) bool { return slices.Contains(g.keys(), k) }

// holds reports whether g holds its initiators itself: none of them is
// inherited from a nested igroup. (An empty igroup holds them itself.)
func (g *igroup) holds() bool {
	return !slices.ContainsFunc(g.Initiators, func(in initiator) bool { return in.Owner != "" && in.Owner != g.UUID })
}

type ref struct {
	UUID string `json:"uuid"`
	Name string `json:"name"`
}

type lunMap struct {
	LUN    ref `json:"lun"`
	Igroup ref `json:"igroup"`
	Number int `json:"logical_unit_number"`
}

// state is one read of the SVM's igroups and LUN maps.
type state struct {
	igroups []igroup
	maps    []lunMap
}

// read reads the SVM's igroups and LUN maps. The igroups' "initiators"
// are asked for whole, as NetApp's Ansible na_ontap_igroup.py does: on
// 9.9.1 and later the records of inherited initiators then name the
// nested igroup that holds them, and "initiators" is a valid field on
// every version from 9.6.
func (m *Mapper) read(ctx context.Context) (*state, error) {
	return m.readFields(ctx, "uuid,name,protocol,initiators")
}

// readSwap is read with the igroups' comments, which hold SwapInitiators'
// marker. Only SwapInitiators asks for them, so that Map, Unmap and
// Mappings keep working on clusters without igroup comments.
func (m *Mapper) readSwap(ctx context.Context) (*state, error) {
	return m.readFields(ctx, "uuid,name,protocol,comment,initiators")
}

func (m *Mapper) readFields(ctx context.Context, igroupFields string) (*state, error) {
	igs, err := getAll[igroup](ctx, m, "/api/protocols/san/igroups", url.Values{
		"svm.name": {m.svm}, "fields": {igroupFields}})
	if err != nil {
		return nil, err
	}
	maps, err := getAll[lunMap](ctx, m, "/api/protocols/san/lun-maps", url.Values{
		"svm.name": {m.svm}, "fields": {"logical_unit_number,lun.uuid,lun.name,igroup.uuid,igroup.name"}})
	if err != nil {
		return nil, err
	}
	return &state{igroups: igs, maps: maps}, nil
}

func (s *state) igroup(uuid string) *igroup {
	for i := range s.igroups {
		if s.igroups[i].UUID == uuid {
			return &s.igroups[i]
		}
	}
	return nil
}

// seenBy returns the LUN maps through which initiator key k sees LUNs.
func (s *state) seenBy(k string) []lunMap {
	var out []lunMap
	for _, lm := range s.maps {
		if g := s.igroup(lm.Igroup.UUID); g != nil && g.has(k) {
			out = append(out, lm)
		}
	}
	return out
}

// asaR2Name is the form of a LUN name on ASA r2 systems: "The name must
// begin with a letter or "_" and contain only "_" and alphanumeric
// characters" (NetApp's Ansible na_ontap_lun_map.py).
var asaR2Name = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkVolume accepts a LUN path (unified ONTAP) or an ASA r2 LUN name.
// Anything else cannot name a LUN, which the contract reports as
// ErrNotFound.
func checkVolume(vol storage.VolumeID) error {
	if strings.HasPrefix(string(vol), "/") || asaR2Name.MatchString(string(vol)) {
		return nil
	}
	return fmt.Errorf("volume %q: want an ONTAP LUN path /vol/VOLUME/LUN or an ASA r2 LUN name: %w", vol, storage.ErrNotFound)
}

func (m *Mapper) findLUN(ctx context.Context, vol storage.VolumeID) (ref, error) {
	if err := checkVolume(vol); err != nil {
		return ref{}, err
	}
	luns, err := getAll[ref](ctx, m, "/api/storage/luns", url.Values{
		"svm.name": {m.svm}, "name": {string(vol)}, "fields": {"uuid,name"}})
	if err != nil {
		return ref{}, err
	}
	for _, l := range luns {
		if l.Name == string(vol) {
			return l, nil
		}
	}
	return ref{}, fmt.Errorf("no LUN %s in SVM %s: %w", vol, m.svm, storage.ErrNotFound)
}

// Mappings implements storage.DiskMapper.
func (m *Mapper) Mappings(ctx context.Context, initiators []storage.Initiator) ([]storage.Mapping, error) {
	keys, err := keysOf(initiators)
	if err != nil {
		return nil, fmt.Errorf("ontap: mappings: %w", err)
	}
	st, err := m.read(ctx)
	if err != nil {
		return nil, fmt.Errorf("ontap: mappings of %s: %w", names(initiators), err)
	}
	var out []storage.Mapping
	for _, k := range keys {
		for _, lm := range st.seenBy(k) {
			mp := storage.Mapping{Volume: storage.VolumeID(lm.LUN.Name), LUN: lm.Number}
			if !slices.Contains(out, mp) {
				out = append(out, mp)
			}
		}
	}
	slices.SortFunc(out, func(a, b storage.Mapping) int {
		if a.LUN != b.LUN {
			return a.LUN - b.LUN
		}
		return strings.Compare(string(a.Volume), string(b.Volume))
	})
	return out, nil
}

// Map implements storage.DiskMapper: it maps the LUN to the igroup whose
// initiators are exactly initiators, with logical_unit_number lun.
func (m *Mapper) Map(ctx context.Context, volume storage.VolumeID, initiators []storage.Initiator, lun int) error {
	op := fmt.Sprintf("ontap: map %s to %s at LUN %d", volume, names(initiators), lun)
	if lun < 0 || lun > MaxLUN {
		return fmt.Errorf("%s: LUN ID out of ONTAP's range 0..%d: %w", op, MaxLUN, storage.ErrInvalid)
	}
	keys, err := keysOf(initiators)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.findLUN(ctx, volume)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	st, err := m.read(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	// The igroup with exactly these initiators; of a parent and the
	// igroup nested in it with the same initiators, the one that holds
	// them directly.
	var exact, direct []*igroup
	for i := range st.igroups {
		if g := &st.igroups[i]; sameSet(g.keys(), keys) {
			exact = append(exact, g)
			if g.holds() {
				direct = append(direct, g)
			}
		}
	}
	if len(exact) > 1 && len(direct) > 0 {
		exact = direct
	}
	var target *igroup
	switch {
	case len(exact) > 1:
		return fmt.Errorf("%s: igroups %s and %s both have exactly these initiators: %w",
			op, exact[0].Name, exact[1].Name, storage.ErrConflict)
	case len(exact) == 1:
		target = exact[0]
	}
	if target == nil {
		return fmt.Errorf("%s: no igroup in SVM %s has exactly these initiators: %w", op, m.svm, storage.ErrNotFound)
	}
	// The rules of `lun mapping create`: every initiator sees a LUN once
	// and a LUN ID once. Checked here so that the error names the cause.
	allSee := true
	for _, k := range keys {
		sees := false
		for _, lm := range st.seenBy(k) {
			switch {
			case lm.LUN.UUID == l.UUID && lm.Number != lun:
				return fmt.Errorf("%s: %s already sees this volume at LUN %d: %w", op, k, lm.Number, storage.ErrConflict)
			case lm.LUN.UUID == l.UUID && lm.Igroup.UUID != target.UUID:
				return fmt.Errorf("%s: %s already sees this volume through igroup %s: %w", op, k, lm.Igroup.Name, storage.ErrConflict)
			case lm.LUN.UUID == l.UUID:
				sees = true
			case lm.Number == lun:
				return fmt.Errorf("%s: %s already sees %s at LUN %d: %w", op, k, lm.LUN.Name, lun, storage.ErrConflict)
			}
		}
		allSee = allSee && sees
	}
	if allSee {
		return nil
	}
	// The shape of the reference page's example, {"svm":{"name"},
	// "igroup":{"name"},"lun":{"name"}}, with the documented
	// logical_unit_number. Names are unique within the SVM.
	body := map[string]any{
		"svm":                 map[string]string{"name": m.svm},
		"igroup":              map[string]string{"name": target.Name},
		"lun":                 map[string]string{"name": l.Name},
		"logical_unit_number": lun,
	}
	if err := m.do(ctx, http.MethodPost, "/api/protocols/san/lun-maps", body, nil); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	m.log.DebugContext(ctx, "mapped", "driver", "ontap", "volume", string(volume), "igroup", target.Name, "lun", lun)
	return nil
}

// Unmap implements storage.DiskMapper: it deletes the LUN maps of the
// igroups through which initiators see volume.
func (m *Mapper) Unmap(ctx context.Context, volume storage.VolumeID, initiators []storage.Initiator) error {
	op := fmt.Sprintf("ontap: unmap %s from %s", volume, names(initiators))
	keys, err := keysOf(initiators)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.findLUN(ctx, volume)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	st, err := m.read(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	var del []lunMap
	for _, lm := range st.maps {
		g := st.igroup(lm.Igroup.UUID)
		if lm.LUN.UUID != l.UUID || g == nil || !overlap(g.keys(), keys) {
			continue
		}
		for _, k := range g.keys() {
			if !slices.Contains(keys, k) {
				return fmt.Errorf("%s: igroup %s also holds %s, which would lose the volume too: %w",
					op, g.Name, strings.TrimPrefix(k, "?"), storage.ErrConflict)
			}
		}
		del = append(del, lm)
	}
	for _, lm := range del {
		err := m.do(ctx, http.MethodDelete, "/api/protocols/san/lun-maps/"+url.PathEscape(lm.LUN.UUID)+"/"+url.PathEscape(lm.Igroup.UUID), nil, nil)
		if err != nil && !isCode(err, codeMapNotFound) {
			return fmt.Errorf("%s: %w", op, err)
		}
		m.log.DebugContext(ctx, "unmapped", "driver", "ontap", "volume", string(volume), "igroup", lm.Igroup.Name)
	}
	return nil
}

// SwapInitiators implements storage.InitiatorSwapper on the igroup whose
// initiators are exactly from. It never lets the igroup hold initiators
// of from and of to at the same time (invariant I2: a boot volume is
// never masked to two servers at once), so it works in four steps, each
// one request:
//
//  1. PATCH the igroup's comment to a swap marker,
//     "coldstandby-swap to=<sorted to> was=<original comment>";
//  2. DELETE each initiator of from (allow_delete_while_mapped=true);
//     the igroup keeps its LUN maps but nobody sees them;
//  3. POST the initiators of to;
//  4. PATCH the comment back to the original.
//
// Every LUN map and LUN ID stays as it was. The failed server should be
// fenced first all the same: between steps 2 and 3 its initiators have
// already lost the LUNs, but a host keeps I/O it had in flight.
//
// The swap is idempotent and resumable: a call interrupted after any
// request (a crash, ErrTransient, ErrOutcomeUnknown) is finished by
// calling SwapInitiators again with the same arguments. The marker is what
// finds the igroup while it holds neither from nor to: an igroup marked
// for exactly these initiators of to is resumed before anything else.
// An igroup left by an older version of this driver holding all of from
// and part of to is swapped the same way (from removed first).
//
// When several igroups hold from (the spare's own igroup after a swap
// and a swap back), the one with LUN maps is moved; an igroup without LUN
// maps is left alone when another igroup already has exactly to.
//
// With nested igroups the swap edits the igroup that holds the
// initiators directly; the igroups it is nested in follow, and their LUN
// maps count as the igroup's own in the checks below.
//
// ONTAP lets an initiator be in several igroups, so the initiators of to
// stay in any other igroup; when what they see there collides with the
// moved LUN maps (the same LUN, or the same LUN ID), the swap fails with
// ErrConflict before changing anything. The marker and the original
// comment must fit ONTAP's 254 characters, or the swap fails with
// ErrConflict before changing anything (shorten the igroup's comment, or
// remap the LUNs instead). The igroup comment is not in the ONTAP 9.6 REST
// reference; when the cluster refuses it (in the GET or the first PATCH),
// the error wraps ErrUnsupported and no initiator was touched.
func (m *Mapper) SwapInitiators(ctx context.Context, from, to []storage.Initiator) error {
	op := fmt.Sprintf("ontap: swap initiators %s -> %s", names(from), names(to))
	fk, err := keysOf(from)
	if err != nil {
		return fmt.Errorf("%s: from: %w", op, err)
	}
	tk, err := keysOf(to)
	if err != nil {
		return fmt.Errorf("%s: to: %w", op, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st, err := m.readSwap(ctx)
	if errors.Is(err, storage.ErrInvalid) {
		return fmt.Errorf("%s: the cluster refuses to report igroup comments: %v: %w", op, err, storage.ErrUnsupported)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	union := append(slices.Clone(fk), tk...)
	g, err := st.swapTarget(fk, tk, union)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if g == nil {
		return nil // done
	}
	// What the LUN maps the new initiators will see through g (its own,
	// and those of the igroups g is nested in) would collide with.
	line := st.lineage(g)
	var moved []lunMap
	for _, lm := range st.maps {
		if slices.Contains(line, lm.Igroup.UUID) {
			moved = append(moved, lm)
		}
	}
	for _, k := range tk {
		if g.has(k) {
			continue
		}
		for _, other := range st.seenBy(k) {
			if slices.Contains(line, other.Igroup.UUID) {
				continue
			}
			for _, mv := range moved {
				if other.LUN.UUID == mv.LUN.UUID || other.Number == mv.Number {
					return fmt.Errorf("%s: %s already sees %s at LUN %d through igroup %s, which collides with %s at LUN %d: %w",
						op, k, other.LUN.Name, other.Number, other.Igroup.Name, mv.LUN.Name, mv.Number, storage.ErrConflict)
				}
			}
		}
	}
	gpath := "/api/protocols/san/igroups/" + url.PathEscape(g.UUID)
	orig, marked := parseMarker(g.Comment, tk)
	if !marked {
		orig = g.Comment
		if o, ok := parseAnyMarker(orig); ok {
			// A marker of an abandoned swap to other initiators: keep
			// the comment it saved, not the marker.
			orig = o
		}
		mark := marker(tk, orig)
		if len(mark) > maxComment {
			return fmt.Errorf("%s: igroup %s: its comment (%d characters) and the swap marker exceed ONTAP's %d: %w",
				op, g.Name, len(orig), maxComment, storage.ErrConflict)
		}
		if err := m.do(ctx, http.MethodPatch, gpath, map[string]string{"comment": mark}, nil); err != nil {
			if errors.Is(err, storage.ErrInvalid) {
				return fmt.Errorf("%s: mark igroup %s (the cluster refuses an igroup comment): %v: %w", op, g.Name, err, storage.ErrUnsupported)
			}
			return fmt.Errorf("%s: mark igroup %s: %w", op, g.Name, err)
		}
		m.log.DebugContext(ctx, "marked igroup", "driver", "ontap", "igroup", g.Name)
	}
	base := gpath + "/initiators"
	for _, in := range g.Initiators {
		if slices.Contains(tk, key(in.Name)) {
			continue
		}
		path := base + "/" + url.PathEscape(in.Name) + "?allow_delete_while_mapped=true"
		if err := m.do(ctx, http.MethodDelete, path, nil, nil); err != nil && !isCode(err, codeNotMember) {
			return fmt.Errorf("%s: remove %s from igroup %s: %w", op, in.Name, g.Name, err)
		}
		m.log.DebugContext(ctx, "removed initiator", "driver", "ontap", "igroup", g.Name, "initiator", in.Name)
	}
	var add []map[string]string
	for i, in := range to {
		if g.has(tk[i]) || slices.ContainsFunc(add, func(r map[string]string) bool { return r["name"] == in.String() }) {
			continue
		}
		add = append(add, map[string]string{"name": in.String()})
	}
	if len(add) > 0 {
		if err := m.do(ctx, http.MethodPost, base, map[string]any{"records": add}, nil); err != nil {
			return fmt.Errorf("%s: add %s to igroup %s: %w", op, names(to), g.Name, err)
		}
		m.log.DebugContext(ctx, "added initiators", "driver", "ontap", "igroup", g.Name, "initiators", len(add))
	}
	if err := m.do(ctx, http.MethodPatch, gpath, map[string]string{"comment": orig}, nil); err != nil {
		return fmt.Errorf("%s: restore the comment of igroup %s: %w", op, g.Name, err)
	}
	m.log.DebugContext(ctx, "swapped initiators", "driver", "ontap", "igroup", g.Name)
	return nil
}

// lineage returns the uuids of g and of every igroup g is nested in: an
// igroup whose GET names g as the owner of one of its initiators. (An
// igroup that holds no initiators at the moment, half way through a swap,
// shows no parents; ONTAP then refuses an addition that would collide
// with their LUN maps itself, 1254193 / 1254324.)
func (st *state) lineage(g *igroup) []string {
	out := []string{g.UUID}
	for _, x := range st.igroups {
		if x.UUID != g.UUID && slices.ContainsFunc(x.Initiators, func(in initiator) bool { return in.Owner == g.UUID }) {
			out = append(out, x.UUID)
		}
	}
	return out
}

// swapTarget picks the igroup SwapInitiators works on, or nil when the
// swap is already done. Only an igroup that holds its initiators itself
// qualifies: a parent igroup lists its nested igroups' initiators, but
// they can only be changed where they are held, and the parent follows.
func (st *state) swapTarget(fk, tk, union []string) (*igroup, error) {
	// An igroup marked for these initiators of to is a swap under way.
	var marked []*igroup
	for i := range st.igroups {
		if _, ok := parseMarker(st.igroups[i].Comment, tk); ok && st.igroups[i].holds() {
			marked = append(marked, &st.igroups[i])
		}
	}
	switch {
	case len(marked) > 1:
		return nil, fmt.Errorf("igroups %s and %s both carry the swap marker for these initiators: %w",
			marked[0].Name, marked[1].Name, storage.ErrConflict)
	case len(marked) == 1:
		g := marked[0]
		for _, k := range g.keys() {
			if !slices.Contains(union, k) {
				return nil, fmt.Errorf("igroup %s, half way through this swap, also holds %s: %w",
					g.Name, strings.TrimPrefix(k, "?"), storage.ErrConflict)
			}
		}
		return g, nil
	}
	var cands []*igroup
	done := false
	for i := range st.igroups {
		g := &st.igroups[i]
		if !g.holds() {
			continue
		}
		ks := g.keys()
		if sameSet(ks, tk) {
			done = true
			continue
		}
		if len(ks) > 0 && subset(ks, union) && (subset(fk, ks) || subset(tk, ks)) {
			cands = append(cands, g)
		}
	}
	// A spare often has an igroup of its own, without LUN maps: after a
	// swap and a swap back (a rollback) two igroups hold the same
	// initiators. The one with LUN maps is the host being moved; an
	// unmapped one is left alone when another igroup already has to.
	mapped := func(g *igroup) bool {
		line := st.lineage(g)
		return slices.ContainsFunc(st.maps, func(lm lunMap) bool { return slices.Contains(line, lm.Igroup.UUID) })
	}
	if len(cands) > 1 || done {
		var withMaps []*igroup
		for _, g := range cands {
			if mapped(g) {
				withMaps = append(withMaps, g)
			}
		}
		if len(cands) > 1 && len(withMaps) == 0 {
			return nil, fmt.Errorf("igroups %s and %s both hold these initiators and neither has LUN maps: %w",
				cands[0].Name, cands[1].Name, storage.ErrConflict)
		}
		cands = withMaps
	}
	switch {
	case len(cands) > 1:
		return nil, fmt.Errorf("igroups %s and %s both hold these initiators: %w", cands[0].Name, cands[1].Name, storage.ErrConflict)
	case len(cands) == 0 && done:
		return nil, nil
	case len(cands) == 0:
		return nil, fmt.Errorf("no igroup has exactly these initiators of from, nor a swap marker for to: %w", storage.ErrNotFound)
	}
	return cands[0], nil
}

// maxComment is the longest igroup comment ONTAP accepts (`lun igroup
// modify -comment`: "The limit is 254 characters").
const maxComment = 254

// markerPrefix starts the comment of an igroup SwapInitiators is working
// on; the sorted initiators of to follow, then " was=" and the comment
// to restore.
const markerPrefix = "coldstandby-swap to="

func marker(tk []string, orig string) string {
	return markerPrefix + markerList(tk) + " was=" + orig
}

func markerList(tk []string) string {
	s := make([]string, 0, len(tk))
	for _, k := range tk {
		s = append(s, strings.TrimPrefix(k, "?"))
	}
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ",")
}

// parseAnyMarker returns the original comment saved in a swap marker.
func parseAnyMarker(comment string) (orig string, ok bool) {
	rest, ok := strings.CutPrefix(comment, markerPrefix)
	if !ok {
		return "", false
	}
	_, orig, ok = strings.Cut(rest, " was=")
	return orig, ok
}

// parseMarker returns the original comment saved in a swap marker for
// exactly the initiators tk.
func parseMarker(comment string, tk []string) (orig string, ok bool) {
	rest, ok := strings.CutPrefix(comment, markerPrefix)
	if !ok {
		return "", false
	}
	list, orig, ok := strings.Cut(rest, " was=")
	if !ok || list != markerList(tk) {
		return "", false
	}
	return orig, true
}

func keysOf(ins []storage.Initiator) ([]string, error) {
	if len(ins) == 0 {
		return nil, fmt.Errorf("no initiators: %w", storage.ErrInvalid)
	}
	out := make([]string, 0, len(ins))
	for _, in := range ins {
		if in.IsZero() {
			return nil, fmt.Errorf("zero initiator: %w", storage.ErrInvalid)
		}
		out = append(out, in.String())
	}
	return out, nil
}

func names(ins []storage.Initiator) string {
	s := make([]string, len(ins))
	for i, in := range ins {
		s[i] = in.String()
	}
	return strings.Join(s, ",")
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func sameSet(a, b []string) bool { return subset(a, b) && subset(b, a) }

func overlap(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
