package redfish_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coldstandby/coldstandby/drivers/redfish"
	"github.com/coldstandby/coldstandby/drivers/redfish/redfishtest"
	"github.com/coldstandby/coldstandby/internal/redact"
	"github.com/coldstandby/coldstandby/internal/resthttp/resthttptest"
	"github.com/coldstandby/coldstandby/partition"
)

// TestPasswordNeverPrinted: no fmt verb, slog handler, log record or
// error of the Manager shows the service password.
func TestPasswordNeverPrinted(t *testing.T) {
	const secret = "Pa55-w0rd-redfish-4b2d"
	srv := redfishtest.Start(t, redfishtest.BladedPartitions, redfishtest.WithBasicAuth("admin", secret))
	srv.AddBlock("B1", "EncZone1")
	var logs bytes.Buffer
	m := newManager(t, srv, redfish.WithBasicAuth("admin", secret),
		redfish.WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if leaks := redact.Leaks(m, secret); len(leaks) != 0 {
		t.Errorf("the password shows through %v", leaks)
	}
	if got := fmt.Sprint(m); !strings.Contains(got, "admin") || !strings.Contains(got, srv.URL) {
		t.Errorf("Sprint = %q, want the service and user", got)
	}
	ctx := context.Background()
	if err := m.Compose(ctx, "lsrv1", []string{"B1"}); err != nil {
		t.Fatal(err)
	}
	wrong := newManager(t, srv, redfish.WithBasicAuth("admin", "wrong-"+secret))
	if _, err := wrong.List(ctx); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("wrong password: %v", err)
	}
	if strings.Contains(logs.String(), secret) || logs.Len() == 0 {
		t.Errorf("log:\n%s", logs.String())
	}
}

// TestRefusesPlainHTTP: with Basic credentials on every request, an
// http:// service URL needs the named opt-in.
func TestRefusesPlainHTTP(t *testing.T) {
	_, err := redfish.New("http://enclosure1.example", redfish.WithBasicAuth("admin", "pw"))
	if !errors.Is(err, partition.ErrInvalid) || !strings.Contains(err.Error(), "WithInsecureHTTP") {
		t.Fatalf("http:// service: %v, want ErrInvalid naming WithInsecureHTTP", err)
	}
	if _, err := redfish.New("https://admin:pw@enclosure1.example"); !errors.Is(err, partition.ErrInvalid) {
		t.Errorf("credentials in the URL: %v, want ErrInvalid", err)
	}
	if _, err := redfish.New("http://enclosure1.example", redfish.WithInsecureHTTP()); err != nil {
		t.Errorf("with WithInsecureHTTP: %v", err)
	}
}

// TestVerifiesTLSWhateverDefaultTransportSays: the default client (which
// used to be http.DefaultClient, without a timeout) has a timeout and a
// transport of its own, so a package that makes http.DefaultTransport
// insecure does not make the Manager insecure.
func TestVerifiesTLSWhateverDefaultTransportSays(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	defer srv.Close()
	resthttptest.InsecureDefaultTransport(t)
	if resp, err := http.Get(srv.URL); err == nil {
		resp.Body.Close()
	} else {
		t.Fatalf("http.DefaultTransport still verifies: %v", err)
	}
	hits.Store(0)
	for name, opts := range map[string][]redfish.Option{
		"default client":           nil,
		"client without Transport": {redfish.WithHTTPClient(&http.Client{})},
	} {
		m, err := redfish.New(srv.URL, append(opts, redfish.WithBasicAuth("admin", "pw"))...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.List(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s: untrusted certificate: %v, want a certificate error", name, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached the server through an unverified connection", n)
	}
	// With the service's CA, the Manager's own transport trusts it.
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	m, err := redfish.New(srv.URL, redfish.WithRootCAs(pool))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.List(context.Background()); err == nil || strings.Contains(err.Error(), "certificate") {
		t.Errorf("with WithRootCAs: %v, want the service's 404, not a certificate error", err)
	}
}
