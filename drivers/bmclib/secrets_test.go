package bmclib_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/drivers/bmclib"
	"github.com/coldstandby/coldstandby/internal/redact"
	"github.com/coldstandby/coldstandby/internal/redfishbmc"
	"github.com/coldstandby/coldstandby/internal/resthttp/resthttptest"
)

// TestPasswordNeverPrinted: the Driver holds the BMC password; no fmt
// verb, slog handler or error shows it.
func TestPasswordNeverPrinted(t *testing.T) {
	t.Parallel()
	const secret = "Pa55-w0rd-bmc-e7a1"
	d, err := bmclib.New("127.0.0.1", "admin", secret, bmclib.WithProviders(bmclib.ProviderRedfish),
		bmclib.WithRedfishPort(1), bmclib.WithCallTimeout(2*time.Second), bmclib.WithLogger(captureLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if leaks := redact.Leaks(d, secret); len(leaks) != 0 {
		t.Errorf("the password shows through %v", leaks)
	}
	if got := fmt.Sprint(d); !strings.Contains(got, "127.0.0.1") || !strings.Contains(got, "admin") {
		t.Errorf("Sprint = %q, want the host and user", got)
	}
	if _, err := d.PowerState(t.Context()); err == nil {
		t.Fatal("PowerState on a closed port succeeded")
	} else {
		assertNoSecret(t, err.Error(), secret)
	}
	assertNoSecret(t, logged(t), secret)
}

// TestClientWithoutTransportIgnoresDefaultTransport: a client given
// with WithHTTPClient but without a Transport used to get a clone of
// http.DefaultTransport, and with it any InsecureSkipVerify another
// package had set there. It gets the driver's own transport now. (Not
// parallel: it changes http.DefaultTransport.)
func TestClientWithoutTransportIgnoresDefaultTransport(t *testing.T) {
	s := redfishbmc.Start(t)
	resthttptest.InsecureDefaultTransport(t)
	d, err := bmclib.New(s.Host, redfishbmc.User, redfishbmc.Password,
		bmclib.WithProviders(bmclib.ProviderRedfish), bmclib.WithRedfishPort(s.Port),
		bmclib.WithHTTPClient(&http.Client{Timeout: 5 * time.Second}), bmclib.WithCallTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.PowerState(t.Context())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("PowerState against an untrusted certificate: %v, want a certificate error", err)
	}
	if s.Sessions() != 0 {
		t.Errorf("%d sessions opened over unverified TLS", s.Sessions())
	}
}
