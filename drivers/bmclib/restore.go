package bmclib

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"

	"github.com/coldstandby/coldstandby/bmc"
)

// bmclib v2.3.5 has no power-restore policy: the driver speaks to the BMC
// itself, IPMI through the same ipmitool program and options that bmclib's
// ipmitool provider uses (the password in the environment, never in argv),
// Redfish through the driver's own HTTP client (verified TLS, bounded
// timeouts, a session closed after each call).

var _ bmc.PowerRestorer = (*Driver)(nil)

// ipmiPolicies maps our policies to ipmitool's names, which are also what
// "chassis status" prints (IPMI 2.0 Get Chassis Status, byte 2 bits 6:5).
var ipmiPolicies = map[bmc.RestorePolicy]string{
	bmc.RestoreAlwaysOff: "always-off",
	bmc.RestoreAlwaysOn:  "always-on",
	bmc.RestorePrevious:  "previous",
}

// redfishPolicies maps our policies to ComputerSystem.PowerRestorePolicy
// (DSP0268 PowerRestorePolicyTypes).
var redfishPolicies = map[bmc.RestorePolicy]string{
	bmc.RestoreAlwaysOff: "AlwaysOff",
	bmc.RestoreAlwaysOn:  "AlwaysOn",
	bmc.RestorePrevious:  "LastState",
}

// restoreProtocol is how a provider reads and sets the policy: "ipmi",
// "redfish", or "" for providers without it.
func restoreProtocol(provider string) string {
	switch provider {
	case ProviderIPMI:
		return "ipmi"
	case ProviderRedfish, ProviderDell, ProviderOpenBMC:
		return "redfish"
	}
	return ""
}

// PowerRestorePolicy reads the power-restore policy: IPMI "chassis
// status" (its "Power Restore Policy" line) or the Redfish ComputerSystem's
// PowerRestorePolicy, through the configured providers in order (ipmitool
// for ProviderIPMI; Redfish for ProviderRedfish, ProviderDell and
// ProviderOpenBMC). A provider that cannot be reached (ErrTransient) or
// has no policy (ErrUnsupported) makes the next one try. A value that is
// none of the three policies (IPMI "unknown", an OEM Redfish value) is
// returned as read.
func (d *Driver) PowerRestorePolicy(ctx context.Context) (bmc.RestorePolicy, error) {
	const op = "power restore policy"
	var p bmc.RestorePolicy
	err := d.eachRestoreProvider(ctx, op, func(proto string) error {
		var err error
		if proto == "ipmi" {
			p, err = d.ipmiRestorePolicy(ctx, op)
		} else {
			p, err = d.redfishRestorePolicy(ctx, op)
		}
		return err
	})
	return p, err
}

// SetPowerRestorePolicy sets the power-restore policy (IPMI "chassis
// policy", Redfish PATCH of PowerRestorePolicy) and returns once the BMC
// reports it set. A policy the BMC refuses (IPMI "invalid command", as
// ipmi_sim answers; a Redfish PropertyValueNotInList) is ErrUnsupported.
func (d *Driver) SetPowerRestorePolicy(ctx context.Context, p bmc.RestorePolicy) error {
	const op = "set power restore policy"
	if !p.Valid() {
		return fmt.Errorf("bmclib: %s %s: unknown policy %q: %w", op, d.host, p, bmc.ErrInvalid)
	}
	return d.eachRestoreProvider(ctx, op, func(proto string) error {
		if proto == "ipmi" {
			return d.ipmiSetRestorePolicy(ctx, op, p)
		}
		return d.redfishSetRestorePolicy(ctx, op, p)
	})
}

// eachRestoreProvider runs call for the configured providers that have a
// power-restore policy, in order, until one succeeds or fails with an
// error that the next could not mend (anything but ErrTransient and
// ErrUnsupported, or a done ctx).
func (d *Driver) eachRestoreProvider(ctx context.Context, op string, call func(proto string) error) error {
	var errs []error
	tried := map[string]bool{}
	for _, prov := range d.cfg.providers {
		proto := restoreProtocol(prov)
		if proto == "" || tried[proto] {
			continue
		}
		tried[proto] = true
		err := call(proto)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !errors.Is(err, bmc.ErrTransient) && !errors.Is(err, bmc.ErrUnsupported) {
			return err
		}
		errs = append(errs, err)
	}
	switch len(errs) {
	case 0:
		return fmt.Errorf("bmclib: %s %s: none of the providers %v has a power-restore policy: %w", op, d.host, d.cfg.providers, bmc.ErrUnsupported)
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

// slot takes one of the driver's session slots until release.
func (d *Driver) slot(ctx context.Context, op string) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, d.ctxErr(op, ctx, false)
	}
	select {
	case d.sem <- struct{}{}:
		return func() { <-d.sem }, nil
	case <-ctx.Done():
		return nil, d.ctxErr(op, ctx, false)
	}
}

// ipmitool runs ipmitool with args against the BMC, as bmclib's ipmitool
// provider does: lanplus, the user in argv, the password only in the
// environment (-E), the configured cipher suite (or 3, then 17).
func (d *Driver) ipmitool(ctx context.Context, args ...string) (string, error) {
	path := d.cfg.ipmitoolPath
	if path == "" {
		var err error
		if path, err = exec.LookPath("ipmitool"); err != nil {
			return "", fmt.Errorf("ipmitool not found: %w", err)
		}
	}
	suites := []string{"3", "17"}
	if d.cfg.cipherSuite != "" {
		suites = []string{d.cfg.cipherSuite}
	}
	cctx, cancel := context.WithTimeout(ctx, d.cfg.callTimeout)
	defer cancel()
	var out []byte
	var err error
	for _, cs := range suites {
		full := append([]string{"-I", "lanplus", "-U", d.user, "-E", "-N", "5",
			"-H", d.host, "-p", strconv.Itoa(d.cfg.ipmiPort), "-C", cs}, args...)
		cmd := exec.CommandContext(cctx, path, full...)
		cmd.Env = []string{"IPMITOOL_PASSWORD=" + d.pass.Reveal()}
		out, err = cmd.CombinedOutput()
		if err == nil || cctx.Err() != nil {
			break
		}
	}
	if cctx.Err() != nil {
		return string(out), cctx.Err()
	}
	if err != nil {
		return string(out), fmt.Errorf("%s (%v)", strings.TrimSpace(string(out)), err)
	}
	return string(out), nil
}

// parseChassisPolicy finds the policy in "ipmitool chassis status".
func parseChassisPolicy(out string) (bmc.RestorePolicy, bool) {
	for line := range strings.SplitSeq(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) != "Power Restore Policy" {
			continue
		}
		v = strings.TrimSpace(v)
		for p, name := range ipmiPolicies {
			if v == name {
				return p, true
			}
		}
		if v == "" {
			return "", false
		}
		return bmc.RestorePolicy(v), true
	}
	return "", false
}

func (d *Driver) ipmiRestorePolicy(ctx context.Context, op string) (bmc.RestorePolicy, error) {
	release, err := d.slot(ctx, op)
	if err != nil {
		return "", err
	}
	defer release()
	return d.ipmiReadPolicy(ctx, op)
}

func (d *Driver) ipmiReadPolicy(ctx context.Context, op string) (bmc.RestorePolicy, error) {
	out, err := d.ipmitool(ctx, "chassis", "status")
	if err != nil {
		return "", d.fail(op, ctx, "chassis status", err, false)
	}
	p, ok := parseChassisPolicy(out)
	if !ok {
		return "", fmt.Errorf("bmclib: %s %s: chassis status without a power restore policy: %q: %w", op, d.host, d.redact(out), bmc.ErrUnsupported)
	}
	return p, nil
}

func (d *Driver) ipmiSetRestorePolicy(ctx context.Context, op string, p bmc.RestorePolicy) error {
	release, err := d.slot(ctx, op)
	if err != nil {
		return err
	}
	defer release()
	cur, err := d.ipmiReadPolicy(ctx, op)
	if err != nil {
		return err // nothing was sent
	}
	if cur == p {
		return nil
	}
	if _, err := d.ipmitool(ctx, "chassis", "policy", ipmiPolicies[p]); err != nil {
		return d.fail(op, ctx, "chassis policy "+ipmiPolicies[p], err, true)
	}
	return d.confirmPolicy(ctx, op, p, func() (bmc.RestorePolicy, error) { return d.ipmiReadPolicy(ctx, op) })
}

// confirmPolicy reads the policy back after a set the BMC accepted.
func (d *Driver) confirmPolicy(ctx context.Context, op string, want bmc.RestorePolicy, read func() (bmc.RestorePolicy, error)) error {
	got, err := read()
	switch {
	case err != nil:
		return fmt.Errorf("bmclib: %s %s: set, then the read-back failed: %s: %w", op, d.host, strings.TrimPrefix(err.Error(), "bmclib: "), bmc.ErrOutcomeUnknown)
	case got != want:
		return fmt.Errorf("bmclib: %s %s: the BMC accepted %q but reports %q: %w", op, d.host, want, got, bmc.ErrOutcomeUnknown)
	}
	d.log.DebugContext(ctx, "power restore policy set", "policy", want)
	return nil
}

// redfish is one Redfish session (or basic authentication) to the BMC.
type redfish struct {
	d      *Driver
	hc     *http.Client
	base   string
	token  string
	logout string // the session's URI, deleted by close
}

// redfishErr is a Redfish error answer.
type redfishErr struct {
	status int
	ids    []string // MessageIds of the error and its extended info
	msg    string
}

func (e *redfishErr) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.status, e.msg)
}

func (e *redfishErr) has(key string) bool {
	for _, id := range e.ids {
		if _, k, ok := bmc.ParseMessageID(id); ok && k == key {
			return true
		}
	}
	return false
}

func (d *Driver) redfishSession(ctx context.Context, op string) (*redfish, func(), error) {
	release, err := d.slot(ctx, op)
	if err != nil {
		return nil, nil, err
	}
	r := &redfish{d: d, hc: d.httpClient(), base: "https://" + net.JoinHostPort(d.host, strconv.Itoa(d.cfg.redfishPort))}
	if !d.cfg.redfishBasic {
		body, _ := json.Marshal(map[string]string{"UserName": d.user, "Password": d.pass.Reveal()})
		resp, _, err := r.do(ctx, http.MethodPost, "/redfish/v1/SessionService/Sessions", body)
		if err != nil {
			release()
			return nil, nil, d.redfishFail(op, ctx, "log in", err, false)
		}
		r.token = resp.Header.Get("X-Auth-Token")
		r.logout = resp.Header.Get("Location")
		if u, err := http.NewRequest(http.MethodGet, r.logout, nil); err == nil && u.URL.Host != "" {
			r.logout = u.URL.Path // never follow a session URI to another host
		}
		if r.token == "" {
			release()
			return nil, nil, fmt.Errorf("bmclib: %s %s: log in: no X-Auth-Token in the answer: %w", op, d.host, bmc.ErrTransient)
		}
	}
	closeFn := func() {
		if r.logout != "" {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.callTimeout)
			_, _, _ = r.do(cctx, http.MethodDelete, r.logout, nil)
			cancel()
		}
		release()
	}
	return r, closeFn, nil
}

// do sends one request (body is JSON) and returns the answer and its
// body; a status of 400 or more is a *redfishErr.
func (r *redfish) do(ctx context.Context, method, path string, body []byte) (*http.Response, []byte, error) {
	return r.send(ctx, method, path, body, "")
}

// send is do with an If-Match header when etag is set.
func (r *redfish) send(ctx context.Context, method, path string, body []byte, etag string) (*http.Response, []byte, error) {
	cctx, cancel := context.WithTimeout(ctx, r.d.cfg.callTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(cctx, method, r.base+path, rd)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if etag != "" {
		req.Header.Set("If-Match", etag)
	}
	if r.token != "" {
		req.Header.Set("X-Auth-Token", r.token)
	} else if r.d.cfg.redfishBasic {
		req.SetBasicAuth(r.d.user, r.d.pass.Reveal())
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode >= 400 {
		e := &redfishErr{status: resp.StatusCode, msg: http.StatusText(resp.StatusCode)}
		var doc struct {
			Error struct {
				Code     string `json:"code"`
				Message  string `json:"message"`
				Extended []struct {
					MessageID string `json:"MessageId"`
					Message   string
				} `json:"@Message.ExtendedInfo"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &doc) == nil {
			if doc.Error.Message != "" {
				e.msg = doc.Error.Message
			}
			e.ids = append(e.ids, doc.Error.Code)
			for _, x := range doc.Error.Extended {
				e.ids = append(e.ids, x.MessageID)
			}
		}
		return resp, b, e
	}
	return resp, b, nil
}

// redfishFail turns a Redfish request error into one of the driver's
// kinds. sent says whether a change may have reached the BMC.
func (d *Driver) redfishFail(op string, ctx context.Context, step string, err error, sent bool) error {
	if ctx.Err() != nil {
		return d.ctxErr(op, ctx, sent)
	}
	var re *redfishErr
	if errors.As(err, &re) {
		msg := d.redact(re.Error())
		switch {
		case re.status == http.StatusUnauthorized || re.status == http.StatusForbidden:
			return fmt.Errorf("bmclib: %s %s: %s: credentials refused: %s: %w", op, d.host, step, msg, bmc.ErrUnsupported)
		case re.has("PropertyValueNotInList") || re.has("PropertyNotWritable") || re.has("PropertyUnknown") ||
			re.has("PropertyValueTypeError") || re.status == http.StatusNotFound ||
			re.status == http.StatusMethodNotAllowed || re.status == http.StatusNotImplemented:
			return fmt.Errorf("bmclib: %s %s: %s: refused by the BMC: %s: %w", op, d.host, step, msg, bmc.ErrUnsupported)
		case re.status == http.StatusPreconditionFailed || re.status == http.StatusTooManyRequests ||
			re.status == http.StatusServiceUnavailable || !sent:
			// Not applied (a change made meanwhile, a busy service), or a
			// read: the same request may succeed.
			return fmt.Errorf("bmclib: %s %s: %s: %s: %w", op, d.host, step, msg, bmc.ErrTransient)
		case re.status < 500:
			return fmt.Errorf("bmclib: %s %s: %s: refused by the BMC: %s: %w", op, d.host, step, msg, bmc.ErrUnsupported)
		}
		return fmt.Errorf("bmclib: %s %s: %s: %s: %w", op, d.host, step, msg, bmc.ErrOutcomeUnknown)
	}
	return d.fail(op, ctx, step, err, sent)
}

// system finds the ComputerSystem's URI: the one WithRedfishSystem names
// (by Id or Name), or the only one.
func (r *redfish) system(ctx context.Context, op string) (string, error) {
	d := r.d
	_, b, err := r.do(ctx, http.MethodGet, "/redfish/v1/Systems", nil)
	if err != nil {
		return "", d.redfishFail(op, ctx, "list systems", err, false)
	}
	var coll struct {
		Members []struct {
			ID string `json:"@odata.id"`
		}
	}
	if err := json.Unmarshal(b, &coll); err != nil {
		return "", fmt.Errorf("bmclib: %s %s: list systems: %v: %w", op, d.host, err, bmc.ErrTransient)
	}
	if d.cfg.redfishSystem == "" {
		if len(coll.Members) != 1 {
			return "", fmt.Errorf("bmclib: %s %s: the BMC manages %d systems: choose one with WithRedfishSystem: %w", op, d.host, len(coll.Members), bmc.ErrInvalid)
		}
		return coll.Members[0].ID, nil
	}
	for _, m := range coll.Members {
		if strings.HasSuffix(strings.TrimSuffix(m.ID, "/"), "/"+d.cfg.redfishSystem) {
			return m.ID, nil
		}
	}
	for _, m := range coll.Members {
		_, b, err := r.do(ctx, http.MethodGet, m.ID, nil)
		if err != nil {
			return "", d.redfishFail(op, ctx, "read system "+m.ID, err, false)
		}
		var sys struct{ Name string }
		if json.Unmarshal(b, &sys) == nil && sys.Name == d.cfg.redfishSystem {
			return m.ID, nil
		}
	}
	return "", fmt.Errorf("bmclib: %s %s: no system %q: %w", op, d.host, d.cfg.redfishSystem, bmc.ErrNotFound)
}

// readPolicy reads the system's PowerRestorePolicy and its ETag.
func (r *redfish) readPolicy(ctx context.Context, op, uri string) (bmc.RestorePolicy, string, error) {
	d := r.d
	resp, b, err := r.do(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return "", "", d.redfishFail(op, ctx, "read "+uri, err, false)
	}
	var sys struct {
		Policy *string `json:"PowerRestorePolicy"`
		ETag   string  `json:"@odata.etag"`
	}
	if err := json.Unmarshal(b, &sys); err != nil {
		return "", "", fmt.Errorf("bmclib: %s %s: read %s: %v: %w", op, d.host, uri, err, bmc.ErrTransient)
	}
	if sys.Policy == nil {
		return "", "", fmt.Errorf("bmclib: %s %s: %s has no PowerRestorePolicy: %w", op, d.host, uri, bmc.ErrUnsupported)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		etag = sys.ETag
	}
	for p, name := range redfishPolicies {
		if *sys.Policy == name {
			return p, etag, nil
		}
	}
	return bmc.RestorePolicy(*sys.Policy), etag, nil
}

// redfishRestorePolicy reads the policy in a session of its own.
func (d *Driver) redfishRestorePolicy(ctx context.Context, op string) (bmc.RestorePolicy, error) {
	r, done, err := d.redfishSession(ctx, op)
	if err != nil {
		return "", err
	}
	defer done()
	uri, err := r.system(ctx, op)
	if err != nil {
		return "", err
	}
	p, _, err := r.readPolicy(ctx, op, uri)
	return p, err
}

func (d *Driver) redfishSetRestorePolicy(ctx context.Context, op string, p bmc.RestorePolicy) error {
	r, done, err := d.redfishSession(ctx, op)
	if err != nil {
		return err
	}
	defer done()
	uri, err := r.system(ctx, op)
	if err != nil {
		return err
	}
	cur, etag, err := r.readPolicy(ctx, op, uri)
	if err != nil {
		return err
	}
	if cur == p {
		return nil
	}
	body, _ := json.Marshal(map[string]string{"PowerRestorePolicy": redfishPolicies[p]})
	// If-Match with the ETag read, as Redfish services ask of PATCH.
	if _, _, err := r.send(ctx, http.MethodPatch, uri, body, etag); err != nil {
		return d.redfishFail(op, ctx, "PATCH PowerRestorePolicy", err, true)
	}
	return d.confirmPolicy(ctx, op, p, func() (bmc.RestorePolicy, error) {
		got, _, err := r.readPolicy(ctx, op, uri)
		return got, err
	})
}
