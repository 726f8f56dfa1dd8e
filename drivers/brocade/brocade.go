// Package brocade is a fabric.FCZoner for Brocade Fabric OS switches
// through the FOS REST API (RESTCONF, FOS 8.2 and later), with plain
// net/http and TLS verified by default.
//
// Import it to let coldstandby zone a spare's HBA ports on a Brocade
// fabric:
//
//	z, err := brocade.New("https://sw1.example.com", "coldstandby", password, brocade.WithVFID(128))
//	if err != nil {
//		return err
//	}
//	defer z.Close(context.Background())
//	// z is a fabric.FCZoner
//
// # Sessions and transactions
//
// FOS ties a zoning transaction to the REST session that opened it, and
// allows few sessions per switch (three by default). The Zoner therefore
// logs in for each call and logs out afterwards, except while it has
// uncommitted changes: from the first AddMember or RemoveMember that
// changes the defined configuration until Commit it keeps that one session,
// so that its changes stay in its transaction. Logout always runs, under a
// context that survives the caller's cancellation, with its own timeout.
// Close aborts anything pending and logs out; call it when done, and on
// every path that gives up before Commit (a rollback, an error).
//
// A Zoner whose caller never commits nor closes would hold its session,
// and the switch's zoning lock, for good. It therefore aborts its
// transaction and logs out by itself once it has been idle for the
// WithIdleAbort timeout (5 minutes by default) since its last change.
// Changes lost that way, or with a session the switch ended (an HTTP 401),
// are never committed silently: the next Commit returns ErrConflict, and
// the caller re-reads with Zones and applies its changes again. A process
// that crashes leaves the session to the switch's own session timeout.
//
// Commit enables the effective configuration's cfg with the current
// checksum (PATCH effective-configuration/cfg-name/<cfg>), which also saves
// the defined configuration; on a switch without an effective cfg it only
// saves (cfg-action 1). When that fails (a stale checksum, another
// session's transaction, a switch error) the Zoner aborts its transaction
// (cfg-action 4) and logs out, so that the defined configuration is the
// active one again, and returns ErrConflict or ErrTransient.
//
// Sources: Broadcom's "Brocade Fabric OS REST API Reference" (FOS 8.2 to
// 9.2) for login/logout, the Custom_Basic token, media types, vf-id and
// the brocade-zone paths; pyfos_brocade_zone.py for the cfg-action values;
// Broadcom's Ansible zoning collection for POST (add members) and DELETE
// with a body (remove members) on defined-configuration; OpenStack
// Cinder's brcd_rest_fc_zone_client for the "Response" wrapper and
// one-element lists sent as bare objects; RFC 8040 for the error body. No
// vendor code is used.
package brocade

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/storage"
)

var (
	_ fabric.FCZoner = (*Zoner)(nil)
	_ fabric.Aborter = (*Zoner)(nil)
)

// yang is the media type of FOS REST requests and answers.
const yang = "application/yang-data+json"

// Zoner edits the zoning of one virtual fabric of one Brocade switch. Make
// it with New; it is safe for concurrent use (calls are serialised, and
// changes of concurrent callers share one transaction).
type Zoner struct {
	base           *url.URL
	user, password string
	vfid           int // -1: no vf-id query (the switch's default fabric)
	prefix         string
	hc             *http.Client
	log            *slog.Logger
	cleanup        time.Duration

	idle time.Duration // abort an uncommitted transaction idle this long; 0: never

	mu      sync.Mutex
	token   string      // session token while logged in
	pending bool        // this Zoner has an open zoning transaction
	lost    error       // why uncommitted changes were dropped; reported by the next Commit
	timer   *time.Timer // idle abort of the pending transaction
	gen     int         // bumped on every change, Commit and Close; stale idle timers do nothing
}

// Option configures a Zoner.
type Option func(*Zoner) error

// WithVFID selects the virtual fabric (logical switch) by its FID, sent as
// the vf-id query parameter. The default sends none: the switch's default
// fabric.
func WithVFID(fid int) Option {
	return func(z *Zoner) error {
		if fid < 1 || fid > 128 {
			return fmt.Errorf("brocade: vf-id %d out of 1..128: %w", fid, fabric.ErrInvalid)
		}
		z.vfid = fid
		return nil
	}
}

// WithHTTPClient sets the HTTP client (for example one that trusts a
// private CA). The default has a 60 s timeout and verifies TLS.
func WithHTTPClient(c *http.Client) Option {
	return func(z *Zoner) error {
		if c == nil {
			return fmt.Errorf("brocade: nil HTTP client: %w", fabric.ErrInvalid)
		}
		z.hc = c
		return nil
	}
}

// WithLogger sets the logger for debug records of each request. The
// default discards.
func WithLogger(l *slog.Logger) Option {
	return func(z *Zoner) error {
		if l == nil {
			return fmt.Errorf("brocade: nil logger: %w", fabric.ErrInvalid)
		}
		z.log = l
		return nil
	}
}

// WithLegacyPaths uses the FOS 8.2 module path /rest/running/zoning
// instead of /rest/running/brocade-zone (FOS 9 and later).
func WithLegacyPaths() Option {
	return func(z *Zoner) error {
		z.prefix = "/rest/running/zoning"
		return nil
	}
}

// WithCleanupTimeout bounds abort and logout, which run after the caller's
// context may have ended. The default is 15 s.
func WithCleanupTimeout(d time.Duration) Option {
	return func(z *Zoner) error {
		if d <= 0 {
			return fmt.Errorf("brocade: cleanup timeout %v: %w", d, fabric.ErrInvalid)
		}
		z.cleanup = d
		return nil
	}
}

// WithIdleAbort sets how long a Zoner keeps uncommitted changes (and the
// session and zoning lock that hold them) after the last change before it
// aborts them and logs out; the next Commit then returns ErrConflict. The
// default is 5 minutes; 0 disables it (the caller must then always Commit
// or Close).
func WithIdleAbort(d time.Duration) Option {
	return func(z *Zoner) error {
		if d < 0 {
			return fmt.Errorf("brocade: idle abort %v: %w", d, fabric.ErrInvalid)
		}
		z.idle = d
		return nil
	}
}

// New returns a Zoner for the switch whose management address is endpoint
// ("https://sw1.example.com"), logging in as user with password.
func New(endpoint, user, password string, opts ...Option) (*Zoner, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("brocade: endpoint %q: want https://host[:port]: %w", endpoint, fabric.ErrInvalid)
	}
	if user == "" {
		return nil, fmt.Errorf("brocade: user is required: %w", fabric.ErrInvalid)
	}
	u.Path, u.RawQuery = "", ""
	z := &Zoner{base: u, user: user, password: password, vfid: -1, prefix: "/rest/running/brocade-zone",
		hc: &http.Client{Timeout: 60 * time.Second}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		cleanup: 15 * time.Second, idle: 5 * time.Minute}
	for _, o := range opts {
		if err := o(z); err != nil {
			return nil, err
		}
	}
	return z, nil
}

// Zones implements fabric.FCZoner. It reads the defined configuration in
// this Zoner's session, so its uncommitted changes are included.
func (z *Zoner) Zones(ctx context.Context, wwpn storage.Initiator) ([]string, error) {
	if err := checkWWPN(wwpn); err != nil {
		return nil, fmt.Errorf("brocade: zones of %s: %w", wwpn, err)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	var out []string
	err := z.session(ctx, func() error {
		d, err := z.defined(ctx)
		if err != nil {
			return err
		}
		for _, zn := range d.Zones {
			if zn.has(wwpn) {
				out = append(out, zn.Name)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("brocade: zones of %s: %w", wwpn, err)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// AddMember implements fabric.FCZoner (POST defined-configuration with
// the member, FOS zoneadd).
func (z *Zoner) AddMember(ctx context.Context, zone string, wwpn storage.Initiator) error {
	return z.change(ctx, http.MethodPost, "add", zone, wwpn)
}

// RemoveMember implements fabric.FCZoner (DELETE defined-configuration
// with the member in the body, FOS zoneremove). Removing the last member
// of a zone deletes the zone on FOS; the Zoner refuses that with
// ErrConflict, since a zone in a configuration cannot be empty.
func (z *Zoner) RemoveMember(ctx context.Context, zone string, wwpn storage.Initiator) error {
	return z.change(ctx, http.MethodDelete, "remove", zone, wwpn)
}

func (z *Zoner) change(ctx context.Context, method, verb, zone string, wwpn storage.Initiator) error {
	op := fmt.Sprintf("brocade: %s %s in zone %s", verb, wwpn, zone)
	if err := checkWWPN(wwpn); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if zone == "" {
		return fmt.Errorf("%s: empty zone name: %w", op, fabric.ErrInvalid)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	err := z.session(ctx, func() error {
		d, err := z.defined(ctx)
		if err != nil {
			return err
		}
		zn := d.zone(zone)
		if zn == nil {
			return fmt.Errorf("no zone %s in the defined configuration: %w", zone, fabric.ErrNotFound)
		}
		member := zn.has(wwpn)
		if (method == http.MethodPost) == member {
			return nil // already as asked
		}
		if method == http.MethodDelete && len(zn.Members) == 1 {
			return fmt.Errorf("%s is the last member; FOS would delete the zone: %w", wwpn, fabric.ErrConflict)
		}
		body := map[string]any{"zone": []any{map[string]any{
			"zone-name": zone, "member-entry": map[string]any{"entry-name": []string{wwpn.String()}}}}}
		err = z.do(ctx, method, z.prefix+"/defined-configuration", body, nil)
		if err == nil || errors.Is(err, fabric.ErrOutcomeUnknown) {
			// The switch opened (or may have opened) a transaction
			// for this session: keep the session until Commit or Close.
			z.pending = true
		}
		return err
	})
	if z.pending {
		z.armIdleAbort()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	z.log.DebugContext(ctx, "zoning changed", "driver", "brocade", "op", verb, "zone", zone, "wwpn", wwpn.String())
	return nil
}

// Commit implements fabric.FCZoner.
func (z *Zoner) Commit(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("brocade: commit: %w", err)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	z.disarmIdleAbort()
	if lost := z.lost; lost != nil {
		// Some of this Zoner's changes are gone: committing the rest
		// would half-apply them. Abort what is left, as for a failed
		// commit, and let the caller re-read and apply again.
		z.lost = nil
		z.abort(ctx)
		return fmt.Errorf("brocade: commit (aborted): %v: %w", lost, fabric.ErrConflict)
	}
	if !z.pending {
		return nil
	}
	err := z.commit(ctx)
	// On error abort, so that the defined configuration is the active
	// one again; after an unknown outcome the abort finds no transaction
	// when the enable did happen, which is also fine. A session the
	// switch ended during the commit is reported by this error, not
	// again by the next Commit.
	if err == nil {
		z.pending = false
	}
	z.abort(ctx)
	z.lost = nil
	if err != nil {
		return fmt.Errorf("brocade: commit (aborted): %w", err)
	}
	z.log.DebugContext(ctx, "zoning committed", "driver", "brocade")
	return nil
}

func (z *Zoner) commit(ctx context.Context) error {
	var eff struct {
		Response struct {
			Effective struct {
				CfgName  string `json:"cfg-name"`
				Checksum string `json:"checksum"`
			} `json:"effective-configuration"`
		} `json:"Response"`
	}
	if err := z.do(ctx, http.MethodGet, z.prefix+"/effective-configuration", nil, &eff); err != nil {
		return err
	}
	e := eff.Response.Effective
	if e.CfgName == "" {
		return z.do(ctx, http.MethodPatch, z.prefix+"/effective-configuration",
			map[string]any{"checksum": e.Checksum, "cfg-action": 1}, nil)
	}
	return z.do(ctx, http.MethodPatch, z.prefix+"/effective-configuration/cfg-name/"+url.PathEscape(e.CfgName),
		map[string]any{"checksum": e.Checksum}, nil)
}

// Close aborts this Zoner's uncommitted changes, if any, and logs out. The
// Zoner stays usable: a later call logs in again.
func (z *Zoner) Close(ctx context.Context) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.disarmIdleAbort()
	z.lost = nil
	var err error
	if z.pending && z.token != "" {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), z.cleanup)
		err = z.do(cctx, http.MethodPatch, z.prefix+"/effective-configuration", map[string]any{"cfg-action": 4}, nil)
		cancel()
	}
	z.pending = false
	z.logout(ctx)
	if err != nil {
		return fmt.Errorf("brocade: close: abort: %w", err)
	}
	return nil
}

// Abort implements fabric.Aborter: it aborts this Zoner's uncommitted
// changes, if any, and logs out (it is Close; the Zoner stays usable).
func (z *Zoner) Abort(ctx context.Context) error { return z.Close(ctx) }

// abort aborts this Zoner's transaction, if any, and logs out, under a
// context that survives ctx. The caller holds z.mu.
func (z *Zoner) abort(ctx context.Context) {
	if z.pending && z.token != "" {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), z.cleanup)
		if err := z.do(cctx, http.MethodPatch, z.prefix+"/effective-configuration", map[string]any{"cfg-action": 4}, nil); err != nil {
			z.log.DebugContext(ctx, "abort failed; logout ends the transaction", "driver", "brocade", "err", err)
		}
		cancel()
	}
	z.pending = false
	z.logout(ctx)
}

// armIdleAbort (re)starts the idle timer of the pending transaction. The
// caller holds z.mu.
func (z *Zoner) armIdleAbort() {
	z.disarmIdleAbort()
	if z.idle <= 0 {
		return
	}
	gen := z.gen
	z.timer = time.AfterFunc(z.idle, func() { z.idleAbort(gen) })
}

// disarmIdleAbort stops the idle timer; a timer already firing sees a
// newer generation and does nothing. The caller holds z.mu.
func (z *Zoner) disarmIdleAbort() {
	z.gen++
	if z.timer != nil {
		z.timer.Stop()
		z.timer = nil
	}
}

// idleAbort aborts the transaction that has waited for Commit since
// generation gen, and remembers it for the next Commit.
func (z *Zoner) idleAbort(gen int) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if gen != z.gen || !z.pending {
		return
	}
	z.timer = nil
	ctx := context.Background()
	z.log.WarnContext(ctx, "aborting uncommitted zoning changes: no Commit or Close", "driver", "brocade", "idle", z.idle)
	z.abort(ctx)
	z.lost = fmt.Errorf("uncommitted changes aborted after %v without Commit", z.idle)
}

// session runs fn logged in: it reuses the session that holds this
// Zoner's transaction, or logs in, and logs out afterwards unless fn left
// a transaction open.
func (z *Zoner) session(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if z.token == "" {
		if err := z.login(ctx); err != nil {
			return err
		}
	}
	err := fn()
	if !z.pending {
		z.logout(ctx)
	}
	return err
}

// login opens a session. The login request runs under a context that
// survives ctx: when ctx ends first, login returns at once and a
// goroutine waits for the switch's answer and logs that session out, so
// that a cancelled caller never leaks one of the switch's few sessions.
func (z *Zoner) login(ctx context.Context) error {
	type result struct {
		token string
		err   error
	}
	ch := make(chan result, 1)
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), z.cleanup)
	go func() {
		defer cancel()
		tok, err := z.doLogin(lctx)
		ch <- result{tok, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return r.err
		}
		z.token = r.token
		return nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.err == nil {
				z.logoutToken(ctx, r.token)
			}
		}()
		return fmt.Errorf("login: %w", ctx.Err())
	}
}

func (z *Zoner) doLogin(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, z.base.String()+"/rest/login", nil)
	if err != nil {
		return "", fmt.Errorf("login: %v: %w", err, fabric.ErrInvalid)
	}
	req.SetBasicAuth(z.user, z.password)
	req.Header.Set("Accept", yang)
	resp, err := z.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("login: %v: %w", err, fabric.ErrTransient)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login: %w", apiError(http.MethodPost, "/rest/login", resp.StatusCode, data))
	}
	tok := resp.Header.Get("Authorization")
	if tok == "" {
		return "", fmt.Errorf("login: no Authorization header in the answer: %w", fabric.ErrTransient)
	}
	return tok, nil
}

// logout ends the session, under a context that survives ctx, so that a
// cancelled caller does not leak one of the switch's few sessions.
func (z *Zoner) logout(ctx context.Context) {
	if z.token == "" {
		return
	}
	z.logoutToken(ctx, z.token)
	z.token = ""
}

// logoutToken ends session tok under a context that survives ctx.
func (z *Zoner) logoutToken(ctx context.Context, tok string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), z.cleanup)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, z.base.String()+"/rest/logout", nil)
	if err == nil {
		req.Header.Set("Authorization", tok)
		req.Header.Set("Accept", yang)
		var resp *http.Response
		if resp, err = z.hc.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	if err != nil {
		z.log.DebugContext(ctx, "logout failed", "driver", "brocade", "err", err)
	}
}

// do sends one request in the current session. A change whose request was
// sent and whose answer was lost (or ctx ended) wraps ErrOutcomeUnknown.
func (z *Zoner) do(ctx context.Context, method, path string, body, out any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	u := z.base.String() + path
	if z.vfid > 0 {
		u += "?vf-id=" + strconv.Itoa(z.vfid)
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: %v: %w", method, path, err, fabric.ErrInvalid)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %v: %w", method, path, err, fabric.ErrInvalid)
	}
	req.Header.Set("Authorization", z.token)
	req.Header.Set("Accept", yang)
	if body != nil {
		req.Header.Set("Content-Type", yang)
	}
	resp, err := z.hc.Do(req)
	change := method != http.MethodGet
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			if change {
				return fmt.Errorf("%s %s: %w", method, path, errors.Join(cerr, fabric.ErrOutcomeUnknown))
			}
			return fmt.Errorf("%s %s: %w", method, path, cerr)
		}
		var op *net.OpError
		if !change || errors.As(err, &op) && op.Op == "dial" {
			return fmt.Errorf("%s %s: %v: %w", method, path, err, fabric.ErrTransient)
		}
		return fmt.Errorf("%s %s: %v: %w", method, path, err, fabric.ErrOutcomeUnknown)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	z.log.DebugContext(ctx, "fos request", "driver", "brocade", "method", method, "path", path, "status", resp.StatusCode)
	if err != nil {
		if change {
			return fmt.Errorf("%s %s: reading answer: %v: %w", method, path, err, fabric.ErrOutcomeUnknown)
		}
		return fmt.Errorf("%s %s: reading answer: %v: %w", method, path, err, fabric.ErrTransient)
	}
	if resp.StatusCode/100 != 2 {
		if resp.StatusCode == http.StatusUnauthorized {
			// The session is gone (expired or closed by the switch),
			// and with it any transaction it held.
			if z.pending && z.lost == nil {
				z.lost = errors.New("the switch ended the session that held uncommitted changes")
			}
			z.token, z.pending = "", false
		}
		return apiError(method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decoding answer: %v: %w", method, path, err, fabric.ErrTransient)
		}
	}
	return nil
}

// Error is an error answer of the FOS REST API: the HTTP status and the
// error-message of the RFC 8040 error body. It wraps the fabric error
// kind it stands for.
type Error struct {
	Method, Path string
	Status       int
	Tag, Message string
	kind         error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d %s: %s: %v", e.Method, e.Path, e.Status, e.Tag, e.Message, e.kind)
}

// Unwrap returns the fabric error kind.
func (e *Error) Unwrap() error { return e.kind }

func apiError(method, path string, status int, data []byte) error {
	e := &Error{Method: method, Path: path, Status: status}
	var body struct {
		Errors struct {
			Error oneOrMany[struct {
				Tag     string `json:"error-tag"`
				Message string `json:"error-message"`
			}] `json:"error"`
		} `json:"errors"`
	}
	if json.Unmarshal(data, &body) == nil && len(body.Errors.Error) > 0 {
		e.Tag, e.Message = body.Errors.Error[0].Tag, body.Errors.Error[0].Message
	} else {
		e.Message = strings.TrimSpace(string(data))
	}
	msg := strings.ToLower(e.Message)
	switch {
	case strings.Contains(msg, "transaction") || strings.Contains(msg, "checksum"):
		// Another session's open transaction (FOS error -3,
		// "outstanding admin transaction") or a stale checksum.
		e.kind = fabric.ErrConflict
	case status == http.StatusUnauthorized && path == "/rest/login", status == http.StatusForbidden:
		e.kind = fabric.ErrUnsupported // wrong credentials or role: retrying will not help
	case status == http.StatusNotFound:
		e.kind = fabric.ErrNotFound
	default:
		e.kind = fabric.ErrTransient
	}
	return e
}

// oneOrMany decodes a YANG list that FOS sends as a bare value when it
// has a single element.
type oneOrMany[T any] []T

func (l *oneOrMany[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var v []T
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*l = v
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		*l = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*l = []T{v}
	return nil
}

type zoneRec struct {
	Name    string `json:"zone-name"`
	Members struct {
		Entries oneOrMany[string] `json:"entry-name"`
	} `json:"member-entry"`
}

type zone struct {
	Name    string
	Members []string
}

// has reports whether w is a member, comparing WWPNs in any spelling.
func (zn *zone) has(w storage.Initiator) bool {
	for _, m := range zn.Members {
		if p, err := storage.ParseWWPN(m); err == nil && p == w {
			return true
		}
	}
	return false
}

type definedConfig struct{ Zones []zone }

func (d *definedConfig) zone(name string) *zone {
	for i := range d.Zones {
		if d.Zones[i].Name == name {
			return &d.Zones[i]
		}
	}
	return nil
}

// defined reads the defined configuration: {"Response":
// {"defined-configuration":{"zone":[...]}}}.
func (z *Zoner) defined(ctx context.Context) (*definedConfig, error) {
	var body struct {
		Response struct {
			Defined struct {
				Zone oneOrMany[zoneRec] `json:"zone"`
			} `json:"defined-configuration"`
		} `json:"Response"`
	}
	if err := z.do(ctx, http.MethodGet, z.prefix+"/defined-configuration", nil, &body); err != nil {
		return nil, err
	}
	d := &definedConfig{}
	for _, r := range body.Response.Defined.Zone {
		d.Zones = append(d.Zones, zone{Name: r.Name, Members: r.Members.Entries})
	}
	return d, nil
}

func checkWWPN(w storage.Initiator) error {
	if w.Kind() != storage.FC {
		return fmt.Errorf("%q is not a WWPN: %w", w.String(), fabric.ErrInvalid)
	}
	return nil
}
