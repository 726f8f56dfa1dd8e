// Package bmclib implements bmc.BMC for real BMCs over
// github.com/bmc-toolbox/bmclib/v2: IPMI through ipmitool, Redfish through
// gofish, and bmclib's vendor providers.
//
// Import it where you wire coldstandby to real hardware (a main package);
// libraries and tests should depend on bmc.BMC and use drivers/fake.
//
// What it adds to bmclib:
//   - Power states normalised to bmc.PowerOn / PowerOff / PowerUnknown
//     ("Chassis Power is on" and "On" are the same state; "PoweringOn" is
//     unknown).
//   - Confirmation instead of trust: PowerOn and PowerOff poll the power
//     state until the BMC reports the new state (bounded by ctx and
//     WithConfirmTimeout); Shutdown re-reads the state when bmclib reports
//     a failure it did not have (its Redfish "soft" reports false on
//     success).
//   - Bounds on everything: every request runs under WithCallTimeout even
//     when ctx has no deadline, and at most WithMaxSessions sessions are
//     open to one BMC.
//   - Error kinds: bmc.ErrTransient when the BMC could not be reached and
//     nothing was sent, bmc.ErrOutcomeUnknown when a state change may have
//     been sent, bmc.ErrUnsupported for commands the BMC refuses (NMI on
//     ipmi_sim) and for credentials a Redfish service refuses (401/403;
//     ipmitool cannot tell a wrong password from a silent BMC, so that is
//     ErrTransient), ctx.Err() when the caller gave up.
//   - No credentials in errors or logs: bmclib's errors are reduced to
//     their text with the password removed, and bmclib's logger is never
//     connected; a Driver prints and logs (fmt, slog) as its host, user
//     and providers, never its password. (bmclib's DEBUG_BMCLIB=true
//     environment variable dumps HTTP traffic, including credentials, to
//     stdout: never set it in production.)
//   - TLS verified by default (bmclib's default client skips
//     verification), with a transport of the driver's own: a client given
//     with WithHTTPClient but without a Transport gets it too, never a
//     copy of http.DefaultTransport, which any package could make
//     insecure.
//
// Each call opens a bmclib client, does its work and closes it, so a BMC
// that reboots or drops sessions costs one call, not the driver.
package bmclib

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	bmclibv2 "github.com/bmc-toolbox/bmclib/v2"
	"github.com/jacobweinstock/registrar"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/internal/redact"
)

// Driver is a bmc.BMC for one server's BMC. It is safe for concurrent use.
type Driver struct {
	host string
	user string
	pass *redact.Secret
	cfg  config
	sem  chan struct{}
	log  *slog.Logger

	// nmiRefused: the BMC's last answer to an NMI was a refusal
	// (ErrUnsupported), so that NMI says so even while the server is off.
	nmiRefused atomic.Bool
}

var _ bmc.BMC = (*Driver)(nil)

// New returns a driver for the BMC at host (a name or IP address, without
// port or scheme) with the given credentials. It does not contact the BMC.
func New(host, user, pass string, opts ...Option) (*Driver, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if host == "" || strings.ContainsAny(host, "/ ") || strings.Contains(host, "://") {
		return nil, invalid("host %q: want a host name or IP address", host)
	}
	if user == "" {
		return nil, invalid("host %s: empty user name", host)
	}
	if cfg.insecure && cfg.httpClient != nil {
		return nil, invalid("WithInsecureSkipVerify and WithHTTPClient together: set InsecureSkipVerify in your client's transport")
	}
	d := &Driver{host: host, user: user, pass: redact.New(pass), cfg: cfg, sem: make(chan struct{}, cfg.maxSessions)}
	d.log = cfg.logger.With("driver", "bmclib", "bmc", host)
	if cfg.insecure {
		d.log.Warn("TLS certificate verification of the BMC is disabled")
	}
	// Check the provider names against what bmclib registers.
	known := map[string]bool{}
	for _, drv := range d.client().Registry.Drivers {
		known[drv.Name] = true
	}
	for _, p := range cfg.providers {
		switch {
		case known[p]:
		case p == ProviderIPMI:
			// bmclib registers it only when it finds the program.
			return nil, invalid("bmclib's ipmitool provider is unavailable: install ipmitool or set WithIpmitoolPath")
		default:
			return nil, invalid("unknown bmclib provider %q", p)
		}
	}
	return d, nil
}

func (d *Driver) info() redact.Info {
	return redact.Info{Type: "bmclib.Driver", Attrs: []slog.Attr{
		slog.String("host", d.host), slog.String("user", d.user), slog.Any("password", d.pass),
		slog.String("providers", strings.Join(d.cfg.providers, ","))}}
}

// String describes the Driver: host, user and providers; the password
// shows as [redacted].
func (d *Driver) String() string { return d.info().String() }

// GoString is String, so that %#v does not print the password.
func (d *Driver) GoString() string { return d.info().String() }

// Format prints String for every verb.
func (d *Driver) Format(f fmt.State, verb rune) { d.info().Format(f, verb) }

// LogValue logs the Driver as a group of host, user and providers.
func (d *Driver) LogValue() slog.Value { return d.info().LogValue() }

// httpClient builds the HTTP client for the Redfish and vendor providers.
// A caller's client keeps its Transport; one without gets the driver's
// own, not http.DefaultTransport (which any package may have made
// insecure).
func (d *Driver) httpClient() *http.Client {
	if d.cfg.httpClient != nil {
		hc := *d.cfg.httpClient
		if hc.Transport == nil {
			hc.Transport = d.transport()
		}
		return &hc
	}
	return &http.Client{Timeout: d.cfg.callTimeout, Transport: d.transport()}
}

// transport is the driver's own HTTP transport: bounded dial and TLS
// handshake, no keep-alive (a session per call), certificates verified
// against WithRootCAs or the system roots unless WithInsecureSkipVerify.
func (d *Driver) transport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // a BMC is on the management network; never through a proxy
		DialContext:           (&net.Dialer{Timeout: d.cfg.callTimeout}).DialContext,
		TLSHandshakeTimeout:   d.cfg.callTimeout,
		ResponseHeaderTimeout: d.cfg.callTimeout,
		DisableKeepAlives:     true,
		TLSClientConfig: &tls.Config{
			RootCAs:            d.cfg.rootCAs,
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: d.cfg.insecure, //nolint:gosec // explicit, documented option
		},
	}
}

// client builds a bmclib client restricted to the configured providers, in
// their order. The registry's drivers are assigned directly: bmclib's
// For/Using filters only last one call.
func (d *Driver) client() *bmclibv2.Client {
	opts := []bmclibv2.Option{
		bmclibv2.WithHTTPClient(d.httpClient()),
		bmclibv2.WithIpmitoolPort(strconv.Itoa(d.cfg.ipmiPort)),
		bmclibv2.WithIpmitoolCipherSuite(d.cfg.cipherSuite),
		bmclibv2.WithRedfishPort(strconv.Itoa(d.cfg.redfishPort)),
		bmclibv2.WithRedfishUseBasicAuth(d.cfg.redfishBasic),
	}
	if d.cfg.ipmitoolPath != "" {
		opts = append(opts, bmclibv2.WithIpmitoolPath(d.cfg.ipmitoolPath))
	}
	if d.cfg.redfishSystem != "" {
		opts = append(opts, bmclibv2.WithRedfishSystemName(d.cfg.redfishSystem))
	}
	c := bmclibv2.NewClient(d.host, d.user, d.pass.Reveal(), opts...)
	var drivers registrar.Drivers
	for _, p := range d.cfg.providers {
		for _, drv := range c.Registry.Drivers {
			if drv.Name == p {
				drivers = append(drivers, drv)
			}
		}
	}
	if len(drivers) > 0 {
		c.Registry.Drivers = drivers
	}
	return c
}

// session is one open bmclib client.
type session struct {
	c *bmclibv2.Client
}

// open takes a session slot and opens a bmclib client, bounded by the call
// timeout. The returned function closes it and frees the slot.
func (d *Driver) open(ctx context.Context, op string) (*session, func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, d.ctxErr(op, ctx, false)
	}
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, d.ctxErr(op, ctx, false)
	}
	c := d.client()
	// bmclib's ipmitool provider keeps no session: its Open only reads
	// the power state, which every operation here does anyway.
	if !d.ipmiOnly() {
		cctx, cancel := context.WithTimeout(ctx, d.cfg.callTimeout)
		err := c.Open(cctx)
		cancel()
		if err != nil {
			<-d.sem
			return nil, nil, d.fail(op, ctx, "connect", err, false)
		}
	}
	closeFn := func() {
		// Close (a Redfish logout) survives the caller's cancellation,
		// bounded by its own timeout.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.callTimeout)
		_ = c.Close(cctx)
		cancel()
		<-d.sem
	}
	return &session{c: c}, closeFn, nil
}

func (d *Driver) ipmiOnly() bool {
	for _, p := range d.cfg.providers {
		if p != ProviderIPMI {
			return false
		}
	}
	return true
}

// redact removes the password from s.
func (d *Driver) redact(s string) string {
	if p := d.pass.Reveal(); p != "" {
		s = strings.ReplaceAll(s, p, "<redacted>")
	}
	return strings.TrimSpace(s)
}

// ctxErr is the error for a call whose ctx is done.
func (d *Driver) ctxErr(op string, ctx context.Context, sent bool) error {
	if sent {
		return fmt.Errorf("bmclib: %s %s: request sent, then %w: %w", op, d.host, ctx.Err(), bmc.ErrOutcomeUnknown)
	}
	return fmt.Errorf("bmclib: %s %s: %w", op, d.host, ctx.Err())
}

// unsupportedMarkers are answers by which a BMC refuses a command it does
// not implement: IPMI completion codes C1h (invalid command) and CCh
// (invalid data field, ipmi_sim's answer to chassis power diag), gofish's
// check of the allowable reset types, Redfish ActionNotSupported, and
// bmclib finding no provider that implements the feature.
var unsupportedMarkers = []string{
	"invalid data field in request",
	"invalid command",
	"is not supported by this service",
	"actionnotsupported",
	"actionparameternotsupported",
	"not supported",
	"no nmisender implementations",
	"no bootdevicesetter implementations",
}

// notSentMarkers are errors that show a request never reached the BMC:
// ipmitool could not open a session, or the TCP connection failed.
var notSentMarkers = []string{
	"unable to establish ipmi",
	"unable to establish lan session",
	"connection refused",
	"no such host",
	"network is unreachable",
	"no route to host",
}

func neverSent(msg string) bool {
	m := strings.ToLower(msg)
	for _, s := range notSentMarkers {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

func isUnsupported(msg string) bool {
	m := strings.ToLower(msg)
	for _, s := range unsupportedMarkers {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// fail turns a bmclib error into one of ours. sent says whether a state
// change may have reached the BMC. The bmclib error is not wrapped: its
// text is kept, without the password.
func (d *Driver) fail(op string, ctx context.Context, step string, err error, sent bool) error {
	if ctx.Err() != nil {
		return d.ctxErr(op, ctx, sent)
	}
	msg := d.redact(err.Error())
	msg = strings.Join(strings.Fields(msg), " ")
	if sent && neverSent(msg) {
		sent = false
	}
	timedOut := errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "deadline exceeded") ||
		strings.Contains(msg, "signal: killed")
	switch {
	case authRefused(msg):
		// Nothing was done, and retrying with the same credentials will
		// not help: the contract's kind for a refused client.
		return fmt.Errorf("bmclib: %s %s: %s: credentials refused: %s: %w", op, d.host, step, msg, bmc.ErrUnsupported)
	case timedOut && sent:
		return fmt.Errorf("bmclib: %s %s: %s: no answer within %v: %w", op, d.host, step, d.cfg.callTimeout, bmc.ErrOutcomeUnknown)
	case timedOut:
		return fmt.Errorf("bmclib: %s %s: %s: no answer within %v: %w", op, d.host, step, d.cfg.callTimeout, bmc.ErrTransient)
	case sent && isUnsupported(msg):
		return fmt.Errorf("bmclib: %s %s: %s: refused by the BMC: %s: %w", op, d.host, step, msg, bmc.ErrUnsupported)
	case sent:
		return fmt.Errorf("bmclib: %s %s: %s: %s: %w", op, d.host, step, msg, bmc.ErrOutcomeUnknown)
	default:
		return fmt.Errorf("bmclib: %s %s: %s: %s: %w", op, d.host, step, msg, bmc.ErrTransient)
	}
}

// authRefused reports whether a BMC's answer says it refused the
// credentials: an HTTP 401 or 403 from a Redfish service. ipmitool says
// "Unable to establish IPMI v2 / RMCP+ session" both for a wrong password
// and for a BMC that does not answer, so IPMI refusals stay ErrTransient.
func authRefused(msg string) bool {
	return strings.Contains(msg, "gofish: 401:") || strings.Contains(msg, "gofish: 403:") ||
		strings.Contains(msg, "401 Unauthorized") || strings.Contains(msg, "403 Forbidden")
}

// NormalizePower maps a power state as a BMC reports it (ipmitool's
// "Chassis Power is on", Redfish "On", "Off", "PoweringOn", ...) to a
// bmc.PowerState. Anything not clearly on or off is bmc.PowerUnknown.
func NormalizePower(s string) bmc.PowerState {
	for line := range strings.SplitSeq(s, "\n") {
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "on", "chassis power is on":
			return bmc.PowerOn
		case "off", "chassis power is off":
			return bmc.PowerOff
		}
	}
	return bmc.PowerUnknown
}

func (d *Driver) readPower(ctx context.Context, op string, s *session) (bmc.PowerState, error) {
	cctx, cancel := context.WithTimeout(ctx, d.cfg.callTimeout)
	defer cancel()
	raw, err := s.c.GetPowerState(cctx)
	if err != nil {
		return bmc.PowerUnknown, d.fail(op, ctx, "read power state", err, false)
	}
	return NormalizePower(raw), nil
}

// PowerState reads the chassis power state.
func (d *Driver) PowerState(ctx context.Context) (bmc.PowerState, error) {
	s, done, err := d.open(ctx, "power state")
	if err != nil {
		return bmc.PowerUnknown, err
	}
	defer done()
	return d.readPower(ctx, "power state", s)
}

// PowerOn turns the server on and returns once the BMC reports it on.
func (d *Driver) PowerOn(ctx context.Context) error {
	return d.setAndConfirm(ctx, "power on", "on", bmc.PowerOn)
}

// PowerOff cuts power at once and returns once the BMC reports it off.
func (d *Driver) PowerOff(ctx context.Context) error {
	return d.setAndConfirm(ctx, "power off", "off", bmc.PowerOff)
}

func (d *Driver) setAndConfirm(ctx context.Context, op, action string, want bmc.PowerState) error {
	start := time.Now()
	s, done, err := d.open(ctx, op)
	if err != nil {
		return err
	}
	defer done()
	st, err := d.readPower(ctx, op, s)
	if err != nil {
		return err // nothing was sent
	}
	if st == want {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, d.cfg.callTimeout)
	_, err = s.c.SetPowerState(cctx, action)
	cancel()
	if err != nil {
		// The reply may be wrong; the state is what counts.
		if st, rerr := d.readPower(ctx, op, s); rerr == nil && st == want {
			return nil
		}
		return d.fail(op, ctx, "set power "+action, err, true)
	}
	if err := d.confirm(ctx, op, s, want); err != nil {
		return err
	}
	d.log.DebugContext(ctx, "power state confirmed", "op", op, "state", want, "took", time.Since(start))
	return nil
}

// confirm polls the power state until it is want, ctx is done or the
// confirm timeout passes.
func (d *Driver) confirm(ctx context.Context, op string, s *session, want bmc.PowerState) error {
	deadline := time.Now().Add(d.cfg.confirmTimeout)
	var last bmc.PowerState
	var lastErr error
	for {
		st, err := d.readPower(ctx, op, s)
		if err == nil && st == want {
			return nil
		}
		last, lastErr = st, err
		if ctx.Err() != nil {
			return d.ctxErr(op, ctx, true)
		}
		wait := d.cfg.pollInterval
		if rem := time.Until(deadline); rem <= 0 {
			detail := fmt.Sprintf("BMC still reports %s", last)
			if lastErr != nil {
				detail = "last read failed: " + strings.TrimPrefix(lastErr.Error(), "bmclib: ")
			}
			return fmt.Errorf("bmclib: %s %s: not confirmed within %v (%s): %w", op, d.host, d.cfg.confirmTimeout, detail, bmc.ErrOutcomeUnknown)
		} else if rem < wait {
			wait = rem
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return d.ctxErr(op, ctx, true)
		case <-t.C:
		}
	}
}

// Shutdown asks the OS to shut down (ACPI soft off) and returns once the
// BMC accepted the request.
func (d *Driver) Shutdown(ctx context.Context) error {
	const op = "shutdown"
	s, done, err := d.open(ctx, op)
	if err != nil {
		return err
	}
	defer done()
	st, err := d.readPower(ctx, op, s)
	if err != nil {
		return err
	}
	if st == bmc.PowerOff {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, d.cfg.callTimeout)
	_, err = s.c.SetPowerState(cctx, "soft")
	cancel()
	if err == nil {
		return nil
	}
	// bmclib's Redfish provider answers (false, nil) after a successful
	// GracefulShutdown, which bmclib turns into "failed to set power
	// state". A provider that was tried and left no error delivered it.
	md := s.c.GetMetadata()
	for _, p := range md.ProvidersAttempted {
		if _, failed := md.FailedProviderDetail[p]; !failed && ctx.Err() == nil {
			d.log.DebugContext(ctx, "soft off reported as failed without an error: delivered", "provider", p)
			return nil
		}
	}
	if st, rerr := d.readPower(ctx, op, s); rerr == nil && st == bmc.PowerOff {
		return nil
	}
	return d.fail(op, ctx, "soft off", err, true)
}

// NMI sends a diagnostic interrupt. ipmi_sim and BMCs that answer "invalid
// command" or "invalid data field" return bmc.ErrUnsupported.
//
// Whether a BMC can send an NMI is only known from its answer, and NMI is
// not sent to a server that is off. The driver therefore remembers the
// BMC's last answer: after a refusal, NMI on a server that is off is
// ErrUnsupported (the contract's precedence), not ErrConflict; before any
// NMI was tried, or after one was accepted, it is ErrConflict. A server
// that is on is always asked again, so a BMC that starts accepting NMI is
// used.
func (d *Driver) NMI(ctx context.Context) error {
	const op = "nmi"
	s, done, err := d.open(ctx, op)
	if err != nil {
		return err
	}
	defer done()
	st, err := d.readPower(ctx, op, s)
	if err != nil {
		return err
	}
	if st != bmc.PowerOn {
		if d.nmiRefused.Load() {
			return fmt.Errorf("bmclib: %s %s: the BMC refused NMI when last asked (server is %s now): %w", op, d.host, st, bmc.ErrUnsupported)
		}
		return fmt.Errorf("bmclib: %s %s: server is %s, not on: %w", op, d.host, st, bmc.ErrConflict)
	}
	cctx, cancel := context.WithTimeout(ctx, d.cfg.callTimeout)
	err = s.c.SendNMI(cctx)
	cancel()
	if err != nil {
		ferr := d.fail(op, ctx, "send NMI", err, true)
		if errors.Is(ferr, bmc.ErrUnsupported) && !authRefused(err.Error()) {
			d.nmiRefused.Store(true) // the command, not this client, was refused
		}
		return ferr
	}
	d.nmiRefused.Store(false)
	return nil
}

// bootDevices maps our devices to bmclib's names.
var bootDevices = map[bmc.BootDevice]string{
	bmc.BootDisk: "disk",
	bmc.BootPXE:  "pxe",
}

// SetBootDevice sets the next boot device.
func (d *Driver) SetBootDevice(ctx context.Context, dev bmc.BootDevice, persistent bool) error {
	const op = "set boot device"
	name, ok := bootDevices[dev]
	if !ok {
		return fmt.Errorf("bmclib: %s %s: unknown boot device %q: %w", op, d.host, dev, bmc.ErrInvalid)
	}
	s, done, err := d.open(ctx, op)
	if err != nil {
		return err
	}
	defer done()
	cctx, cancel := context.WithTimeout(ctx, d.cfg.callTimeout)
	_, err = s.c.SetBootDevice(cctx, name, persistent, d.cfg.efiBoot)
	cancel()
	if err != nil {
		return d.fail(op, ctx, "set "+name, err, true)
	}
	return nil
}

// Events returns the event-log records after cursor: the SEL through
// ipmitool ("sel list"), or the Redfish managers' LogEntries. The cursor is
// the last record's ID and a hash of its content, so a log that was cleared
// and refilled up to the same ID is noticed and read from the beginning.
//
// bmclib reads the whole log each time (ipmitool "sel list" has no "since
// record" form): on a BMC with a full SEL (often 512 to 3000 records) one
// call can take many seconds over IPMI, so poll such BMCs less often or
// clear their SEL.
func (d *Driver) Events(ctx context.Context, after bmc.Cursor) ([]bmc.Event, bmc.Cursor, error) {
	const op = "events"
	s, done, err := d.open(ctx, op)
	if err != nil {
		return nil, after, err
	}
	defer done()
	cctx, cancel := context.WithTimeout(ctx, d.cfg.callTimeout)
	raw, err := s.c.GetSystemEventLogRaw(cctx)
	cancel()
	if err != nil {
		return nil, after, d.fail(op, ctx, "read event log", err, false)
	}
	evs, err := parseEventLog(raw)
	if err != nil {
		return nil, after, fmt.Errorf("bmclib: %s %s: %s: %w", op, d.host, d.redact(err.Error()), bmc.ErrTransient)
	}
	out, next := eventsAfter(evs, after)
	return out, next, nil
}

// parseEventLog parses what GetSystemEventLogRaw returned: a JSON array of
// Redfish LogEntries, or ipmitool's "sel list" text.
func parseEventLog(raw string) ([]bmc.Event, error) {
	t := strings.TrimSpace(raw)
	if strings.HasPrefix(t, "[") || t == "null" {
		return parseLogEntries(t)
	}
	return ParseSELList(raw), nil
}

func recordHash(raw string) string {
	h := fnv.New32a()
	h.Write([]byte(raw))
	return fmt.Sprintf("%08x", h.Sum32())
}

func cursorOf(e bmc.Event) bmc.Cursor {
	return bmc.Cursor(e.ID + "@" + recordHash(e.Raw))
}

// eventsAfter returns the records after the one cursor names and the new
// cursor. A cursor whose record is gone (a cleared log) restarts from the
// beginning.
func eventsAfter(evs []bmc.Event, after bmc.Cursor) ([]bmc.Event, bmc.Cursor) {
	start := 0
	if after != "" {
		i := slices.IndexFunc(evs, func(e bmc.Event) bool { return cursorOf(e) == after })
		start = i + 1 // -1 (not found) restarts at 0
	}
	out := evs[start:]
	if len(out) == 0 {
		return nil, after
	}
	return out, cursorOf(out[len(out)-1])
}
