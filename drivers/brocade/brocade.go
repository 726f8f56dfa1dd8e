// Package brocade is a fabric.FCZoner for Brocade Fabric OS switches
// through the FOS REST API (RESTCONF), with plain net/http and TLS
// verified by default.
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
// # Firmware
//
// The Zoner zones through the brocade-zone module
// (/rest/running/brocade-zone), which FOS has from 8.2.1b on (pyfos's
// version ranges); older firmware has only /rest/running/zoning, and the
// Zoner refuses it. At its first login, and again after the switch ended
// a session or could not be reached, it reads firmware-version from
// /rest/running/brocade-fibrechannel-switch/fibrechannel-switch (as
// pyfos and Broadcom's Ansible collection do after login; a switch
// without that resource is older than 8.2.1b) and returns ErrUnsupported
// naming the version when it is older than 8.2.1b. From 8.2.1b through
// 9.1 and 9.2 it sends the same requests: save and abort by cfg-action 1
// and 4, which Broadcom's Ansible collection (2.0.2) still sends on every
// version, rather than the cfg-action-v2 operations FOS 9.2 added.
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
// # Requests
//
// Every write names its target container, as brcdapi (zone.py) and
// Broadcom's Ansible collection (utils/brocade_zoning.py) send it:
// AddMember POSTs and RemoveMember DELETEs
// {"defined-configuration":{"zone":[{"zone-name":Z,"zone-type":T,
// "member-entry":{"entry-name":[W]}}]}} (zoneadd, zoneremove). Commit
// enables the effective configuration's cfg with the current checksum,
// PATCH effective-configuration {"effective-configuration":{"cfg-name":C,
// "checksum":K}} (Ansible's cfg_enable), which also saves the defined
// configuration; on a switch without an effective cfg it only saves,
// {"effective-configuration":{"checksum":K,"cfg-action":1}}. When that
// fails (a stale checksum, another session's transaction, a switch
// error) the Zoner aborts its transaction,
// {"effective-configuration":{"cfg-action":4}}, and logs out, so that the
// defined configuration is the active one again, and returns ErrConflict
// or ErrTransient.
//
// # Errors
//
// A message about a transaction or the checksum is ErrConflict (another
// session's outstanding transaction, FOS error -3, or a stale checksum).
// Otherwise the HTTP status decides: a 400 is a request the switch will
// never accept, ErrInvalid, or ErrUnsupported when the switch says the
// operation is not supported (never ErrTransient); 401 and 403 at login
// are ErrUnsupported (credentials or role); 503 and other busy answers
// are ErrTransient.
//
// # Security
//
// Login sends Basic credentials, so New refuses http:// endpoints unless
// the caller opts in with WithInsecureHTTP. The Zoner verifies the
// switch's certificate with a transport of its own (timeouts on dial, TLS
// handshake and response headers), never http.DefaultTransport, which
// any package in the program could make insecure; WithRootCAs trusts a
// private CA. A Zoner prints and logs as its endpoint, user and virtual
// fabric, never its password or session token.
//
// Sources: Broadcom's "Brocade Fabric OS REST API Reference" (FOS 8.2 to
// 9.2) for login/logout, the Custom_Basic token, media types, vf-id and
// the brocade-zone paths; Broadcom's pyfos (pyfos_brocade_zone.py for
// the cfg-action values and the version ranges of the modules,
// pyfos_auth.py for reading firmware-version at login); jconsoli/brcdapi
// (zone.py) and Broadcom's Ansible collection (utils/brocade_zoning.py,
// utils/brocade_connection.py) for the request bodies; OpenStack Cinder's
// brcd_rest_fc_zone_client for the "Response" wrapper and one-element
// lists sent as bare objects; RFC 8040 for the error body. No vendor code
// is used.
package brocade

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
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/internal/redact"
	"github.com/coldstandby/coldstandby/internal/resthttp"
	"github.com/coldstandby/coldstandby/storage"
)

var (
	_ fabric.FCZoner = (*Zoner)(nil)
	_ fabric.Aborter = (*Zoner)(nil)
)

// yang is the media type of FOS REST requests and answers.
const yang = "application/yang-data+json"

// zonePrefix is the brocade-zone module's path (FOS 8.2.1b and later).
const zonePrefix = "/rest/running/brocade-zone"

// MinFirmware is the oldest FOS the Zoner drives: the first with the
// brocade-zone module (pyfos VER_RANGE_821b_and_ABOVE).
const MinFirmware = "v8.2.1b"

// DefaultTimeout bounds each request of a Zoner made without
// WithHTTPClient.
const DefaultTimeout = 60 * time.Second

// Zoner edits the zoning of one virtual fabric of one Brocade switch. Make
// it with New; it is safe for concurrent use (calls are serialised, and
// changes of concurrent callers share one transaction).
type Zoner struct {
	base     *url.URL
	user     string
	password *redact.Secret
	vfid     int // -1: no vf-id query (the switch's default fabric)
	hc       *http.Client
	log      *slog.Logger
	cleanup  time.Duration

	idle time.Duration // abort an uncommitted transaction idle this long; 0: never

	mu       sync.Mutex
	token    *redact.Secret // session token while logged in; nil when not
	firmware string         // firmware-version read at login; "" until read or after a lost session
	pending  bool           // this Zoner has an open zoning transaction
	lost     error          // why uncommitted changes were dropped; reported by the next Commit
	timer    *time.Timer    // idle abort of the pending transaction
	gen      int            // bumped on every change, Commit and Close; stale idle timers do nothing
}

// Option configures a Zoner.
type Option func(*config) error

type config struct {
	vfid         int
	hc           *http.Client
	roots        *x509.CertPool
	log          *slog.Logger
	cleanup      time.Duration
	idle         time.Duration
	insecureHTTP bool
}

// WithVFID selects the virtual fabric (logical switch) by its FID, sent as
// the vf-id query parameter. The default sends none: the switch's default
// fabric.
func WithVFID(fid int) Option {
	return func(c *config) error {
		if fid < 1 || fid > 128 {
			return fmt.Errorf("brocade: vf-id %d out of 1..128: %w", fid, fabric.ErrInvalid)
		}
		c.vfid = fid
		return nil
	}
}

// WithHTTPClient sets the HTTP client (a proxy, a client certificate).
// Its Transport is used as it is; a client without a Transport gets the
// Zoner's own (never http.DefaultTransport). The default has a 60 s
// timeout and a transport of the Zoner's own that verifies certificates
// against the system roots.
func WithHTTPClient(c *http.Client) Option {
	return func(cfg *config) error {
		if c == nil {
			return fmt.Errorf("brocade: nil HTTP client: %w", fabric.ErrInvalid)
		}
		cfg.hc = c
		return nil
	}
}

// WithRootCAs verifies the switch's certificate against pool instead of
// the system roots (a private CA). It applies to the Zoner's own
// transport, not to a client given with WithHTTPClient.
func WithRootCAs(pool *x509.CertPool) Option {
	return func(cfg *config) error {
		if pool == nil {
			return fmt.Errorf("brocade: nil root CA pool: %w", fabric.ErrInvalid)
		}
		cfg.roots = pool
		return nil
	}
}

// WithInsecureHTTP lets New take an http:// endpoint.
//
// WARNING: the login then sends the password in clear text, every later
// request carries the session token in clear text, and anyone on the
// path can change the zoning the driver sees and writes. Use it only
// against a lab switch or a test server.
func WithInsecureHTTP() Option {
	return func(cfg *config) error {
		cfg.insecureHTTP = true
		return nil
	}
}

// WithLogger sets the logger for debug records of each request. The
// default discards.
func WithLogger(l *slog.Logger) Option {
	return func(cfg *config) error {
		if l == nil {
			return fmt.Errorf("brocade: nil logger: %w", fabric.ErrInvalid)
		}
		cfg.log = l
		return nil
	}
}

// WithCleanupTimeout bounds abort and logout, which run after the caller's
// context may have ended. The default is 15 s.
func WithCleanupTimeout(d time.Duration) Option {
	return func(cfg *config) error {
		if d <= 0 {
			return fmt.Errorf("brocade: cleanup timeout %v: %w", d, fabric.ErrInvalid)
		}
		cfg.cleanup = d
		return nil
	}
}

// WithIdleAbort sets how long a Zoner keeps uncommitted changes (and the
// session and zoning lock that hold them) after the last change before it
// aborts them and logs out; the next Commit then returns ErrConflict. The
// default is 5 minutes; 0 disables it (the caller must then always Commit
// or Close).
func WithIdleAbort(d time.Duration) Option {
	return func(cfg *config) error {
		if d < 0 {
			return fmt.Errorf("brocade: idle abort %v: %w", d, fabric.ErrInvalid)
		}
		cfg.idle = d
		return nil
	}
}

// New returns a Zoner for the switch whose management address is endpoint
// ("https://sw1.example.com"), logging in as user with password. An
// http:// endpoint needs WithInsecureHTTP; user information in the URL
// is refused. It does not contact the switch.
func New(endpoint, user, password string, opts ...Option) (*Zoner, error) {
	cfg := config{vfid: -1, cleanup: 15 * time.Second, idle: 5 * time.Minute}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	u, err := resthttp.Endpoint(endpoint, cfg.insecureHTTP, "brocade.WithInsecureHTTP()")
	if err != nil {
		return nil, fmt.Errorf("brocade: %w", err)
	}
	if user == "" {
		return nil, fmt.Errorf("brocade: user is required: %w", fabric.ErrInvalid)
	}
	z := &Zoner{base: u, user: user, password: redact.New(password), vfid: cfg.vfid, log: cfg.log,
		cleanup: cfg.cleanup, idle: cfg.idle}
	if cfg.hc != nil {
		z.hc = resthttp.OwnTransport(cfg.hc, cfg.roots)
	} else {
		z.hc = resthttp.NewClient(DefaultTimeout, cfg.roots)
	}
	if z.log == nil {
		z.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return z, nil
}

func (z *Zoner) info() redact.Info {
	attrs := []slog.Attr{slog.String("endpoint", z.base.String()), slog.String("user", z.user),
		slog.Any("password", z.password)}
	if z.vfid > 0 {
		attrs = append(attrs, slog.Int("vf-id", z.vfid))
	}
	return redact.Info{Type: "brocade.Zoner", Attrs: attrs}
}

// String describes the Zoner: endpoint, user and virtual fabric; the
// password shows as [redacted] and the session token not at all.
func (z *Zoner) String() string { return z.info().String() }

// GoString is String, so that %#v does not print the password.
func (z *Zoner) GoString() string { return z.info().String() }

// Format prints String for every verb.
func (z *Zoner) Format(f fmt.State, verb rune) { z.info().Format(f, verb) }

// LogValue logs the Zoner as a group of endpoint, user and vf-id.
func (z *Zoner) LogValue() slog.Value { return z.info().LogValue() }

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
		// Wrapped in its container, with the zone's type, as Broadcom's
		// Ansible collection sends zoneadd / zoneremove (zone_post,
		// zone_delete).
		rec := map[string]any{"zone-name": zone, "member-entry": map[string]any{"entry-name": []string{wwpn.String()}}}
		if zn.Type != nil {
			rec["zone-type"] = *zn.Type
		}
		body := map[string]any{"defined-configuration": map[string]any{"zone": []any{rec}}}
		err = z.do(ctx, method, zonePrefix+"/defined-configuration", body, nil)
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
	if err := z.do(ctx, http.MethodGet, zonePrefix+"/effective-configuration", nil, &eff); err != nil {
		return err
	}
	e := eff.Response.Effective
	if e.CfgName == "" {
		// Save only (brcdapi save, Ansible cfg_save).
		return z.do(ctx, http.MethodPatch, zonePrefix+"/effective-configuration",
			effective(map[string]any{"checksum": e.Checksum, "cfg-action": 1}), nil)
	}
	// Enable, which also saves (Ansible cfg_enable).
	return z.do(ctx, http.MethodPatch, zonePrefix+"/effective-configuration",
		effective(map[string]any{"cfg-name": e.CfgName, "checksum": e.Checksum}), nil)
}

// effective wraps a PATCH body of effective-configuration in its
// container, as brcdapi and Broadcom's Ansible collection send it.
func effective(v map[string]any) map[string]any {
	return map[string]any{"effective-configuration": v}
}

// abortBody aborts the session's zoning transaction (cfg-action 4: pyfos
// CFG_ACTION_ABORT, brcdapi abort, Ansible cfg_abort).
var abortBody = effective(map[string]any{"cfg-action": 4})

// Close aborts this Zoner's uncommitted changes, if any, and logs out. The
// Zoner stays usable: a later call logs in again.
func (z *Zoner) Close(ctx context.Context) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.disarmIdleAbort()
	z.lost = nil
	var err error
	if z.pending && z.token != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), z.cleanup)
		err = z.do(cctx, http.MethodPatch, zonePrefix+"/effective-configuration", abortBody, nil)
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
	if z.pending && z.token != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), z.cleanup)
		if err := z.do(cctx, http.MethodPatch, zonePrefix+"/effective-configuration", abortBody, nil); err != nil {
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
	if z.token == nil {
		if err := z.login(ctx); err != nil {
			return err
		}
		if z.firmware == "" {
			if err := z.checkFirmware(ctx); err != nil {
				z.logout(ctx)
				return err
			}
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
		token *redact.Secret
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
			// Unreachable, or refused: the switch may come back with
			// other firmware.
			z.firmware = ""
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

func (z *Zoner) doLogin(ctx context.Context) (*redact.Secret, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, z.base.String()+"/rest/login", nil)
	if err != nil {
		return nil, fmt.Errorf("login: %v: %w", err, fabric.ErrInvalid)
	}
	req.SetBasicAuth(z.user, z.password.Reveal())
	req.Header.Set("Accept", yang)
	resp, err := z.hc.Do(req)
	if err != nil {
		// Nothing was changed by a failed login: a read, as far as the
		// outcome goes.
		return nil, fmt.Errorf("login: %v: %w", err, resthttp.Failure(ctx, err, false))
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("login: %w", apiError(http.MethodPost, "/rest/login", resp.StatusCode, data))
	}
	tok := resp.Header.Get("Authorization")
	if tok == "" {
		return nil, fmt.Errorf("login: no Authorization header in the answer: %w", fabric.ErrTransient)
	}
	return redact.New(tok), nil
}

// checkFirmware reads the switch's firmware-version in the current
// session, as pyfos and Broadcom's Ansible collection do after login,
// and refuses firmware older than MinFirmware. The switch resource
// (brocade-fibrechannel-switch) exists from 8.2.1b on; a switch without
// it is older, and its legacy switch resource names the version.
func (z *Zoner) checkFirmware(ctx context.Context) error {
	var sw struct {
		Response struct {
			Switch oneOrMany[struct {
				Firmware string `json:"firmware-version"`
			}] `json:"fibrechannel-switch"`
		} `json:"Response"`
	}
	err := z.doQuery(ctx, http.MethodGet, "/rest/running/brocade-fibrechannel-switch/fibrechannel-switch", false, nil, &sw)
	if errors.Is(err, fabric.ErrNotFound) {
		// The legacy resource (pyfos up to 8.2.1a, Cinder, Ansible's
		// fallback) names the version for the error.
		if z.doQuery(ctx, http.MethodGet, "/rest/running/switch/fibrechannel-switch", false, nil, &sw) != nil || len(sw.Response.Switch) == 0 {
			return fmt.Errorf("the switch has no brocade-fibrechannel-switch module: FOS older than %s has no brocade-zone module: %w",
				MinFirmware, fabric.ErrUnsupported)
		}
	} else if err != nil {
		return fmt.Errorf("reading the firmware version: %w", err)
	}
	if len(sw.Response.Switch) == 0 || sw.Response.Switch[0].Firmware == "" {
		return fmt.Errorf("the switch reported no firmware-version: %w", fabric.ErrTransient)
	}
	fw := sw.Response.Switch[0].Firmware
	v, ok := parseFirmware(fw)
	if !ok {
		return fmt.Errorf("firmware-version %q is not a FOS version: %w", fw, fabric.ErrUnsupported)
	}
	if min, _ := parseFirmware(MinFirmware); v.less(min) {
		return fmt.Errorf("FOS %s is older than %s, the first with the brocade-zone module: %w", fw, MinFirmware, fabric.ErrUnsupported)
	}
	z.firmware = fw
	z.log.DebugContext(ctx, "fos firmware", "driver", "brocade", "firmware", fw)
	return nil
}

// firmware is a FOS firmware-version: v<major>.<minor>.<patch> and a
// release letter ("v8.2.1b", "v9.2.0"), compared as pyfos's fosversion
// does (no letter sorts before "a").
type firmware struct {
	major, minor, patch int
	rel                 string
}

func parseFirmware(s string) (firmware, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	parts := strings.SplitN(s, ".", 3)
	if len(parts) != 3 {
		return firmware{}, false
	}
	var f firmware
	var err error
	if f.major, err = strconv.Atoi(parts[0]); err != nil {
		return firmware{}, false
	}
	if f.minor, err = strconv.Atoi(parts[1]); err != nil {
		return firmware{}, false
	}
	n := 0
	for n < len(parts[2]) && parts[2][n] >= '0' && parts[2][n] <= '9' {
		n++
	}
	if f.patch, err = strconv.Atoi(parts[2][:n]); err != nil {
		return firmware{}, false
	}
	f.rel = parts[2][n:]
	if i := strings.IndexAny(f.rel, "._-"); i >= 0 {
		f.rel = f.rel[:i] // a build suffix ("v9.1.1b_01") does not count
	}
	return f, true
}

func (f firmware) less(g firmware) bool {
	for _, d := range []int{f.major - g.major, f.minor - g.minor, f.patch - g.patch} {
		if d != 0 {
			return d < 0
		}
	}
	return f.rel < g.rel
}

// logout ends the session, under a context that survives ctx, so that a
// cancelled caller does not leak one of the switch's few sessions.
func (z *Zoner) logout(ctx context.Context) {
	if z.token == nil {
		return
	}
	z.logoutToken(ctx, z.token)
	z.token = nil
}

// logoutToken ends session tok under a context that survives ctx.
func (z *Zoner) logoutToken(ctx context.Context, tok *redact.Secret) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), z.cleanup)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, z.base.String()+"/rest/logout", nil)
	if err == nil {
		req.Header.Set("Authorization", tok.Reveal())
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

// do sends one request in the current session, with the vf-id query of
// the Zoner's virtual fabric. A change whose request was sent and whose
// answer was lost (or ctx ended) wraps ErrOutcomeUnknown.
func (z *Zoner) do(ctx context.Context, method, path string, body, out any) error {
	return z.doQuery(ctx, method, path, true, body, out)
}

// doQuery is do; withVF says whether to send vf-id (the switch resource
// read at login is the chassis's, asked without it as pyfos and Ansible
// do).
func (z *Zoner) doQuery(ctx context.Context, method, path string, withVF bool, body, out any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	u := z.base.String() + path
	if withVF && z.vfid > 0 {
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
	req.Header.Set("Authorization", z.token.Reveal())
	req.Header.Set("Accept", yang)
	if body != nil {
		req.Header.Set("Content-Type", yang)
	}
	resp, err := z.hc.Do(req)
	change := method != http.MethodGet
	if err != nil {
		kind := resthttp.Failure(ctx, err, change)
		if !errors.Is(kind, fabric.ErrOutcomeUnknown) && ctx.Err() == nil {
			z.firmware = "" // unreachable: read the version again at the next login
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", method, path, kind)
		}
		return fmt.Errorf("%s %s: %v: %w", method, path, err, kind)
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
			// and with it any transaction it held. The switch may have
			// restarted with other firmware: read it again.
			if z.pending && z.lost == nil {
				z.lost = errors.New("the switch ended the session that held uncommitted changes")
			}
			z.token, z.pending, z.firmware = nil, false, ""
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
	case status == http.StatusUnauthorized && path != "/rest/login":
		// The session ended (expired or closed by the switch): a new
		// one may work; Commit reports any changes lost with it.
		e.kind = fabric.ErrTransient
	case status == http.StatusBadRequest && (strings.Contains(msg, "not supported") || strings.Contains(strings.ToLower(e.Tag), "not-supported")):
		// "Not supported on this platform" (as brcdapi sees it) and
		// RFC 8040's operation-not-supported.
		e.kind = fabric.ErrUnsupported
	default:
		// 400 ErrInvalid (never transient), 401 at login and 403
		// ErrUnsupported, 404 ErrNotFound, 503 ErrTransient, ...
		e.kind = resthttp.StatusKind(status, method != http.MethodGet)
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
	Type    *int   `json:"zone-type"`
	Members struct {
		Entries oneOrMany[string] `json:"entry-name"`
	} `json:"member-entry"`
}

type zone struct {
	Name    string
	Type    *int // zone-type as read (0 standard, 1 peer); nil when not reported
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
	if err := z.do(ctx, http.MethodGet, zonePrefix+"/defined-configuration", nil, &body); err != nil {
		return nil, err
	}
	d := &definedConfig{}
	for _, r := range body.Response.Defined.Zone {
		d.Zones = append(d.Zones, zone{Name: r.Name, Type: r.Type, Members: r.Members.Entries})
	}
	return d, nil
}

func checkWWPN(w storage.Initiator) error {
	if w.Kind() != storage.FC {
		return fmt.Errorf("%q is not a WWPN: %w", w.String(), fabric.ErrInvalid)
	}
	return nil
}
