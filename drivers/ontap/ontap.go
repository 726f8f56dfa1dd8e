// Package ontap is a storage.DiskMapper and storage.InitiatorSwapper for
// NetApp ONTAP 9.6 and later, through its REST API (plain net/http, HTTP
// basic authentication, TLS verified by default).
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
// A VolumeID is the path of an ONTAP LUN in the SVM given to New
// ("/vol/boot_r1_01/lun0"). A host is an initiator group (igroup): Map
// needs an igroup whose initiators are exactly the given initiators and
// maps the LUN to it (POST /api/protocols/san/lun-maps with
// logical_unit_number); the driver does not create igroups. Mappings
// reports the LUN maps of every igroup that holds one of the initiators.
// Unmap deletes the LUN maps through which the initiators see the volume,
// and refuses (ErrConflict) when such an igroup also holds initiators that
// were not named, because deleting its map would hide the volume from
// them too.
//
// Both failover strategies work: remap each LUN to the spare's igroup with
// the same LUN ID (Unmap then Map), or SwapInitiators, which replaces the
// failed server's initiators in its igroup with the spare's, leaving every
// LUN map as it is.
//
// ONTAP accepts LUN IDs 0..4095 (lun_map.logical_unit_number, "Max value:
// 4095"); larger IDs, which the storage contract allows, are ErrInvalid.
//
// Sources: NetApp's ONTAP REST API reference (docs.netapp.com/us-en/
// ontap-restapi): "Retrieve initiator groups", "Add one or more initiators
// to an initiator group", "Delete an initiator from an initiator group",
// "Create a LUN map", "Retrieve LUN maps", "Delete a LUN map", "Retrieve
// LUNs", and the ONTAP CLI reference page "lun mapping create" for the
// mapping rules. No NetApp code is used.
package ontap

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coldstandby/coldstandby/storage"
)

var (
	_ storage.DiskMapper       = (*Mapper)(nil)
	_ storage.InitiatorSwapper = (*Mapper)(nil)
)

// MaxLUN is the highest LUN ID ONTAP accepts.
const MaxLUN = 4095

// Mapper drives one SVM of one ONTAP cluster. Make it with New; it is safe
// for concurrent use (calls that read then change are serialised).
type Mapper struct {
	base           *url.URL
	svm            string
	user, password string
	hc             *http.Client
	log            *slog.Logger

	mu sync.Mutex
}

// Option configures a Mapper.
type Option func(*Mapper) error

// WithHTTPClient sets the HTTP client, for example one whose transport
// trusts a private CA. The default is a client with a 60 s timeout and
// Go's default TLS verification.
func WithHTTPClient(c *http.Client) Option {
	return func(m *Mapper) error {
		if c == nil {
			return fmt.Errorf("ontap: nil HTTP client: %w", storage.ErrInvalid)
		}
		m.hc = c
		return nil
	}
}

// WithLogger sets the logger for debug records of each request (method,
// path, status; never credentials). The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(m *Mapper) error {
		if l == nil {
			return fmt.Errorf("ontap: nil logger: %w", storage.ErrInvalid)
		}
		m.log = l
		return nil
	}
}

// New returns a Mapper for SVM svm of the cluster whose management
// address is endpoint ("https://cluster1.example.com"; requests go to
// endpoint + "/api/..."), authenticating as user with password.
func New(endpoint, svm, user, password string, opts ...Option) (*Mapper, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("ontap: endpoint %q: want https://host[:port]: %w", endpoint, storage.ErrInvalid)
	}
	if svm == "" || user == "" {
		return nil, fmt.Errorf("ontap: SVM and user are required: %w", storage.ErrInvalid)
	}
	u.Path, u.RawQuery = "", ""
	m := &Mapper{base: u, svm: svm, user: user, password: password,
		hc:  &http.Client{Timeout: 60 * time.Second},
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		if err := o(m); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// igroup is an initiator group record. Initiators arrive as records
// {"name": ...} (igroup.initiators[], ONTAP 9.6+); plain strings (as in the
// igroup sub-object of lun-map records) are accepted too.
type igroup struct {
	UUID       string      `json:"uuid"`
	Name       string      `json:"name"`
	Protocol   string      `json:"protocol"`
	Initiators []initiator `json:"initiators"`
}

type initiator struct{ Name string }

func (i *initiator) UnmarshalJSON(b []byte) error {
	var s string
	if err := jsonUnmarshal(b, &s); err == nil {
		i.Name = s
		return nil
	}
	var o struct {
		Name string `json:"name"`
	}
	if err := jsonUnmarshal(b, &o); err != nil {
		return err
	}
	i.Name = o.Name
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

func (g *igroup) keys() []string {
	out := make([]string, len(g.Initiators))
	for i, in := range g.Initiators {
		out[i] = key(in.Name)
	}
	return out
}

func (g *igroup) has(k string) bool { return slices.Contains(g.keys(), k) }

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

func (m *Mapper) read(ctx context.Context) (*state, error) {
	igs, err := getAll[igroup](ctx, m, "/api/protocols/san/igroups", url.Values{
		"svm.name": {m.svm}, "fields": {"uuid,name,protocol,initiators.name"}})
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

func (m *Mapper) findLUN(ctx context.Context, vol storage.VolumeID) (ref, error) {
	if vol == "" || !strings.HasPrefix(string(vol), "/") {
		return ref{}, fmt.Errorf("volume %q: want an ONTAP LUN path /vol/VOLUME/LUN: %w", vol, storage.ErrNotFound)
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
	var target *igroup
	for i := range st.igroups {
		if sameSet(st.igroups[i].keys(), keys) {
			if target != nil {
				return fmt.Errorf("%s: igroups %s and %s both have exactly these initiators: %w",
					op, target.Name, st.igroups[i].Name, storage.ErrConflict)
			}
			target = &st.igroups[i]
		}
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
	body := map[string]any{
		"svm":                 map[string]string{"name": m.svm},
		"igroup":              map[string]string{"uuid": target.UUID},
		"lun":                 map[string]string{"uuid": l.UUID},
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
// initiators are exactly from: it adds the initiators of to, then removes
// those of from (allow_delete_while_mapped=true), so every LUN map and
// LUN ID stays. For a moment both sets are in the igroup, which is why
// the failed server must be fenced first. A swap interrupted half way
// leaves an igroup holding part of both sets; calling SwapInitiators again
// with the same arguments finds it and finishes the swap.
//
// When several igroups hold from (the spare's own igroup after a swap
// and a swap back), the one with LUN maps is moved; an igroup without LUN
// maps is left alone when another igroup already has exactly to.
//
// ONTAP lets an initiator be in several igroups, so the initiators of to
// stay in any other igroup; when what they see there collides with the
// moved LUN maps (the same LUN, or the same LUN ID), the swap fails with
// ErrConflict before changing anything.
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
	st, err := m.read(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	union := append(slices.Clone(fk), tk...)
	var cands []*igroup
	done := false
	for i := range st.igroups {
		g := &st.igroups[i]
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
		return slices.ContainsFunc(st.maps, func(lm lunMap) bool { return lm.Igroup.UUID == g.UUID })
	}
	if len(cands) > 1 || done {
		var withMaps []*igroup
		for _, g := range cands {
			if mapped(g) {
				withMaps = append(withMaps, g)
			}
		}
		if len(cands) > 1 && len(withMaps) == 0 {
			return fmt.Errorf("%s: igroups %s and %s both hold these initiators and neither has LUN maps: %w",
				op, cands[0].Name, cands[1].Name, storage.ErrConflict)
		}
		cands = withMaps
	}
	switch {
	case len(cands) > 1:
		return fmt.Errorf("%s: igroups %s and %s both hold these initiators: %w", op, cands[0].Name, cands[1].Name, storage.ErrConflict)
	case len(cands) == 0 && done:
		return nil
	case len(cands) == 0:
		return fmt.Errorf("%s: no igroup in SVM %s has exactly %s: %w", op, m.svm, names(from), storage.ErrNotFound)
	}
	g := cands[0]
	// What the igroup's LUN maps would collide with for the new initiators.
	var moved []lunMap
	for _, lm := range st.maps {
		if lm.Igroup.UUID == g.UUID {
			moved = append(moved, lm)
		}
	}
	for _, k := range tk {
		if g.has(k) {
			continue
		}
		for _, other := range st.seenBy(k) {
			for _, mv := range moved {
				if other.LUN.UUID == mv.LUN.UUID || other.Number == mv.Number {
					return fmt.Errorf("%s: %s already sees %s at LUN %d through igroup %s, which collides with %s at LUN %d: %w",
						op, k, other.LUN.Name, other.Number, other.Igroup.Name, mv.LUN.Name, mv.Number, storage.ErrConflict)
				}
			}
		}
	}
	base := "/api/protocols/san/igroups/" + url.PathEscape(g.UUID) + "/initiators"
	added := map[string]bool{}
	for i, in := range to {
		if g.has(tk[i]) || added[tk[i]] {
			continue
		}
		added[tk[i]] = true
		if err := m.do(ctx, http.MethodPost, base, map[string]string{"name": in.String()}, nil); err != nil {
			return fmt.Errorf("%s: add %s to igroup %s: %w", op, in, g.Name, err)
		}
		m.log.DebugContext(ctx, "added initiator", "driver", "ontap", "igroup", g.Name, "initiator", in.String())
	}
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
	return nil
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
