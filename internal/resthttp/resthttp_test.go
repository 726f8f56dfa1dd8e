package resthttp_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/internal/errs"
	"github.com/coldstandby/coldstandby/internal/resthttp"
	"github.com/coldstandby/coldstandby/internal/resthttp/resthttptest"
)

func TestEndpoint(t *testing.T) {
	for _, tc := range []struct {
		raw       string
		allowHTTP bool
		want      string // "" for an error
		mention   string // the error says this
	}{
		{"https://cluster1.example.com", false, "https://cluster1.example.com", ""},
		{"https://cluster1.example.com:8443/api?x=1", false, "https://cluster1.example.com:8443", ""},
		{"http://cluster1.example.com", false, "", "WithInsecureHTTP"},
		{"http://cluster1.example.com", true, "http://cluster1.example.com", ""},
		{"https://admin:hunter2@cluster1", false, "", "user information"},
		{"ftp://x", false, "", "https://"},
		{"cluster1", false, "", "https://"},
		{"", false, "", "https://"},
		{"https://", false, "", "https://"},
		{"::", false, "", "https://"},
	} {
		u, err := resthttp.Endpoint(tc.raw, tc.allowHTTP, "WithInsecureHTTP()")
		switch {
		case tc.want == "" && !errors.Is(err, errs.Invalid):
			t.Errorf("Endpoint(%q): %v, %v; want ErrInvalid", tc.raw, u, err)
		case tc.want == "" && !strings.Contains(err.Error(), tc.mention):
			t.Errorf("Endpoint(%q): %q does not mention %q", tc.raw, err, tc.mention)
		case tc.want == "" && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("Endpoint(%q): the error shows the password: %v", tc.raw, err)
		case tc.want != "" && (err != nil || u.String() != tc.want):
			t.Errorf("Endpoint(%q) = %v, %v; want %s", tc.raw, u, err, tc.want)
		}
	}
}

func TestStatusKind(t *testing.T) {
	for _, tc := range []struct {
		status int
		write  bool
		want   error
	}{
		{400, false, errs.Invalid},
		{400, true, errs.Invalid},
		{401, true, errs.Unsupported},
		{403, false, errs.Unsupported},
		{404, true, errs.NotFound},
		{405, true, errs.Unsupported},
		{406, false, errs.Invalid},
		{409, true, errs.Conflict},
		{412, true, errs.Conflict},
		{415, true, errs.Invalid},
		{422, true, errs.Invalid},
		{429, true, errs.Transient},
		{500, false, errs.Transient},
		{500, true, errs.OutcomeUnknown},
		{501, true, errs.Unsupported},
		{502, true, errs.Transient},
		{503, true, errs.Transient},
		{504, true, errs.Transient},
	} {
		if got := resthttp.StatusKind(tc.status, tc.write); got != tc.want {
			t.Errorf("StatusKind(%d, write %v) = %v, want %v", tc.status, tc.write, got, tc.want)
		}
	}
}

func TestFailure(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	untrusted := quietTLSServer(http.NotFoundHandler())
	defer untrusted.Close()
	c := resthttp.NewClient(5*time.Second, nil)
	do := func(ctx context.Context, url string) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	ctx := context.Background()
	refused := do(ctx, closed.URL)
	badCert := do(ctx, untrusted.URL)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	gone := do(cancelled, untrusted.URL)
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		err   error
		write bool
		want  []error
	}{
		{"refused write: never sent", ctx, refused, true, []error{errs.Transient}},
		{"refused read", ctx, refused, false, []error{errs.Transient}},
		{"untrusted certificate", ctx, badCert, true, []error{errs.Unsupported}},
		{"lost answer of a write", ctx, errors.New("connection reset by peer"), true, []error{errs.OutcomeUnknown}},
		{"lost answer of a read", ctx, errors.New("connection reset by peer"), false, []error{errs.Transient}},
		{"cancelled write", cancelled, gone, true, []error{context.Canceled, errs.OutcomeUnknown}},
		{"cancelled read", cancelled, gone, false, []error{context.Canceled}},
	} {
		got := resthttp.Failure(tc.ctx, tc.err, tc.write)
		for _, w := range tc.want {
			if !errors.Is(got, w) {
				t.Errorf("%s: Failure = %v, want %v", tc.name, got, w)
			}
		}
	}
}

// TestOwnTransportIgnoresDefaultTransport: another package turning off
// verification in http.DefaultTransport does not reach a client made
// here, nor one a caller gave without a Transport.
func TestOwnTransportIgnoresDefaultTransport(t *testing.T) {
	srv := quietTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	resthttptest.InsecureDefaultTransport(t)
	if resp, err := http.Get(srv.URL); err != nil {
		t.Fatalf("the test did not make http.DefaultTransport insecure: %v", err)
	} else {
		resp.Body.Close()
	}
	for name, c := range map[string]*http.Client{
		"NewClient":                   resthttp.NewClient(5*time.Second, nil),
		"OwnTransport(nil Transport)": resthttp.OwnTransport(&http.Client{Timeout: 5 * time.Second}, nil),
	} {
		resp, err := c.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: untrusted certificate accepted", name)
		} else if !resthttp.Untrusted(err) {
			t.Errorf("%s: %v, want a certificate error", name, err)
		}
	}
	// A caller's own Transport is kept as it is.
	own := srv.Client()
	if got := resthttp.OwnTransport(own, nil); got != own {
		t.Error("OwnTransport replaced a caller's transport")
	}
	// With the server's CA as roots, the driver's transport trusts it.
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	resp, err := resthttp.NewClient(5*time.Second, pool).Get(srv.URL)
	if err != nil {
		t.Fatalf("with the server's CA: %v", err)
	}
	resp.Body.Close()
}

func TestNewTransportHasTimeouts(t *testing.T) {
	tr := resthttp.NewTransport(nil)
	if tr.DialContext == nil || tr.TLSHandshakeTimeout <= 0 || tr.ResponseHeaderTimeout <= 0 || tr.IdleConnTimeout <= 0 {
		t.Errorf("transport without timeouts: %+v", tr)
	}
	if tr.TLSClientConfig == nil || tr.TLSClientConfig.InsecureSkipVerify || tr.TLSClientConfig.MinVersion == 0 {
		t.Errorf("TLS config %+v", tr.TLSClientConfig)
	}
}

func TestShape(t *testing.T) {
	a, _ := resthttptest.Shape([]byte(`{"defined-configuration":{"zone":[{"zone-name":"z","member-entry":{"entry-name":["a","b"]}}]}}`))
	b, _ := resthttptest.Shape([]byte(`{"defined-configuration":{"zone":[{"member-entry":{"entry-name":["c"]},"zone-name":"y"}]}}`))
	c, _ := resthttptest.Shape([]byte(`{"zone":[{"zone-name":"z","member-entry":{"entry-name":["a"]}}]}`))
	if a != b {
		t.Errorf("same structure, different shapes:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("the bare body has the wrapped body's shape: %s", c)
	}
	if _, err := resthttptest.Shape([]byte(`{`)); err == nil {
		t.Error("malformed JSON has a shape")
	}
}

// quietTLSServer is an httptest TLS server that does not log the
// handshakes the tests make it refuse.
func quietTLSServer(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	return srv
}
