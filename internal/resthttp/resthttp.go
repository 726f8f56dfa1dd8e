// Package resthttp is what the REST drivers (drivers/ontap,
// drivers/brocade, drivers/redfish) share about HTTP: checking a
// management endpoint, an HTTP transport of their own with timeouts, and
// the error kind of a failed request or an error status.
//
// Why a transport of their own: a client whose Transport is nil uses
// http.DefaultTransport, a package variable that any package in the
// program may change (setting InsecureSkipVerify to reach a lab device
// is common), which would silently turn off the drivers' certificate
// verification. The drivers send Basic credentials, so they refuse
// http:// unless the caller opts in by name.
package resthttp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/coldstandby/coldstandby/internal/errs"
)

// Timeouts of the transport NewTransport builds.
const (
	DialTimeout           = 10 * time.Second // TCP connect
	TLSHandshakeTimeout   = 10 * time.Second
	ResponseHeaderTimeout = 60 * time.Second // request sent to first response byte
	IdleConnTimeout       = 90 * time.Second
	ExpectContinueTimeout = time.Second
)

// NewTransport returns an HTTP transport that belongs to its caller:
// certificates verified against roots (nil: the system roots), TLS 1.2 or
// later, the timeouts above, proxies from the environment as
// http.DefaultTransport does.
func NewTransport(roots *x509.CertPool) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   TLSHandshakeTimeout,
		ResponseHeaderTimeout: ResponseHeaderTimeout,
		IdleConnTimeout:       IdleConnTimeout,
		ExpectContinueTimeout: ExpectContinueTimeout,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	}
}

// NewClient returns a client with timeout and a transport of its own
// (NewTransport(roots)).
func NewClient(timeout time.Duration, roots *x509.CertPool) *http.Client {
	return &http.Client{Timeout: timeout, Transport: NewTransport(roots)}
}

// OwnTransport returns c when it has a Transport, and otherwise a copy of
// c with NewTransport(roots): a nil Transport would mean
// http.DefaultTransport.
func OwnTransport(c *http.Client, roots *x509.CertPool) *http.Client {
	if c.Transport != nil {
		return c
	}
	cp := *c
	cp.Transport = NewTransport(roots)
	return &cp
}

// Endpoint parses a management endpoint, "https://host[:port]". http://
// is refused (Basic credentials would cross the network in clear text)
// unless allowHTTP; so are user information in the URL (credentials
// belong in the arguments, not in a URL that ends up in errors and logs)
// and anything but a scheme and a host. Path and query are dropped. The
// error wraps errs.Invalid and does not repeat the URL's user
// information. optName names the driver's opt-in for http.
func Endpoint(raw string, allowHTTP bool, optName string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("endpoint: want https://host[:port]: %w", errs.Invalid)
	}
	shown := u.Redacted()
	switch {
	case u.User != nil:
		return nil, fmt.Errorf("endpoint %q: user information in the URL; pass credentials as arguments: %w", shown, errs.Invalid)
	case u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return nil, fmt.Errorf("endpoint %q: want https://host[:port]: %w", shown, errs.Invalid)
	case u.Scheme == "http" && !allowHTTP:
		return nil, fmt.Errorf("endpoint %q: http:// would send the credentials in clear text; use https:// or opt in with %s: %w",
			shown, optName, errs.Invalid)
	}
	u.Path, u.RawPath, u.RawQuery, u.Fragment = "", "", "", ""
	return u, nil
}

// NotSent reports whether err, from http.Client.Do, happened before the
// request could reach the server: a failed dial or name lookup, or a TLS
// handshake that failed (the request goes only after it), so that a
// retry cannot repeat a change.
func NotSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns) || Untrusted(err)
}

// Untrusted reports whether err is a failed verification of the server's
// certificate.
func Untrusted(err error) bool {
	var (
		cv  *tls.CertificateVerificationError
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		inv x509.CertificateInvalidError
	)
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &inv)
}

// Failure returns the error kind of a failed http.Client.Do (err) for a
// request made under ctx; write says whether the request changes the
// device.
//   - ctx ended: ctx's error, joined with errs.OutcomeUnknown for a write
//     (the request may have arrived);
//   - the server's certificate did not verify: errs.Unsupported (nothing
//     was sent, and retrying will not help);
//   - the request never left (dial, DNS), or it was a read:
//     errs.Transient;
//   - otherwise (a write whose answer was lost): errs.OutcomeUnknown.
func Failure(ctx context.Context, err error, write bool) error {
	if cerr := ctx.Err(); cerr != nil {
		if write {
			return errors.Join(cerr, errs.OutcomeUnknown)
		}
		return cerr
	}
	switch {
	case Untrusted(err):
		return errs.Unsupported
	case !write || NotSent(err):
		return errs.Transient
	}
	return errs.OutcomeUnknown
}

// StatusKind returns the error kind of an HTTP error status when the
// answer says nothing more specific (RFC 9110 section 15):
//   - 401, 403: errs.Unsupported (credentials or rights refused);
//   - 404, 410: errs.NotFound;
//   - 409, 412: errs.Conflict;
//   - 405, 501: errs.Unsupported (the device does not do this);
//   - 408, 429, 502, 503, 504: errs.Transient (the device did not act);
//   - any other 4xx: errs.Invalid (the device will never accept this
//     request; 400 is never transient);
//   - 500 and other 5xx: errs.OutcomeUnknown for a write (the change may
//     have been made before the error), errs.Transient for a read.
func StatusKind(status int, write bool) error {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return errs.Unsupported
	case http.StatusNotFound, http.StatusGone:
		return errs.NotFound
	case http.StatusConflict, http.StatusPreconditionFailed:
		return errs.Conflict
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return errs.Transient
	}
	switch {
	case status >= 400 && status < 500:
		return errs.Invalid
	case write:
		return errs.OutcomeUnknown
	}
	return errs.Transient
}
