package brocade_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/drivers/brocade"
	"github.com/coldstandby/coldstandby/drivers/brocade/brocadetest"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/internal/redact"
	"github.com/coldstandby/coldstandby/internal/resthttp/resthttptest"
)

// TestPasswordNeverPrinted: no fmt verb, slog handler, debug log or
// error of the Zoner shows the switch password.
func TestPasswordNeverPrinted(t *testing.T) {
	srv := newSwitch(t)
	const secret = "Pa55-w0rd-fos-91ac"
	srv.Password = secret
	var logs resthttptest.SyncBuffer
	z, err := brocade.New(srv.URL, srv.User, secret, brocade.WithHTTPClient(srv.Client()),
		brocade.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	if leaks := redact.Leaks(z, secret); len(leaks) != 0 {
		t.Errorf("the password shows through %v", leaks)
	}
	if s := fmt.Sprint(z); !strings.Contains(s, srv.User) || !strings.Contains(s, srv.URL) {
		t.Errorf("Sprint = %q, want the endpoint and user", s)
	}
	ctx := context.Background()
	w := freshWWPNs(1)[0]
	if err := z.AddMember(ctx, "z_host1_a", w); err != nil {
		t.Fatal(err)
	}
	if leaks := redact.Leaks(z, secret); len(leaks) != 0 {
		t.Errorf("with a session open, the password shows through %v", leaks)
	}
	if err := z.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var errs []error
	wrong, _ := brocade.New(srv.URL, srv.User, "wrong-"+secret, brocade.WithHTTPClient(srv.Client()))
	_, err = wrong.Zones(ctx, w)
	errs = append(errs, err)
	down, _ := brocade.New("https://127.0.0.1:1", srv.User, secret)
	_, err = down.Zones(ctx, w)
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil {
			t.Error("no error to check")
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows the password: %v", err)
		}
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("debug log shows the password:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "fos request") {
		t.Errorf("no debug records to check:\n%s", logs.String())
	}
}

// TestRefusesPlainHTTP: the login sends Basic credentials; New refuses
// http:// unless the caller opts in by name.
func TestRefusesPlainHTTP(t *testing.T) {
	_, err := brocade.New("http://sw1.example.com", "admin", "pw")
	if !errors.Is(err, fabric.ErrInvalid) || !strings.Contains(err.Error(), "WithInsecureHTTP") {
		t.Fatalf("http:// endpoint: %v, want ErrInvalid naming WithInsecureHTTP", err)
	}
	if _, err := brocade.New("https://admin:pw@sw1.example.com", "admin", "pw"); !errors.Is(err, fabric.ErrInvalid) {
		t.Errorf("credentials in the URL: %v, want ErrInvalid", err)
	}
}

// TestVerifiesTLSWhateverDefaultTransportSays: a package that makes
// http.DefaultTransport insecure does not make the Zoner insecure.
func TestVerifiesTLSWhateverDefaultTransportSays(t *testing.T) {
	srv := newSwitch(t)
	resthttptest.InsecureDefaultTransport(t)
	if resp, err := http.Post(srv.URL+"/rest/logout", "", nil); err == nil {
		resp.Body.Close()
	} else {
		t.Fatalf("http.DefaultTransport still verifies: %v", err)
	}
	for name, opts := range map[string][]brocade.Option{
		"default client":           nil,
		"client without Transport": {brocade.WithHTTPClient(&http.Client{})},
	} {
		z, err := brocade.New(srv.URL, srv.User, srv.Password, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := z.Zones(context.Background(), freshWWPNs(1)[0]); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s: untrusted certificate: %v, want a certificate error", name, err)
		}
	}
	if _, logins, _ := srv.Sessions(); logins != 0 {
		t.Errorf("%d logins through an unverified connection", logins)
	}
}

// TestBadRequestIsNotTransient: a 400 is a request the switch will never
// accept: ErrInvalid, or ErrUnsupported when the switch says the
// operation is not supported; never ErrTransient, which callers retry.
func TestBadRequestIsNotTransient(t *testing.T) {
	for _, tc := range []struct {
		tag, msg string
		want     error
	}{
		{"invalid-value", "Invalid request body", fabric.ErrInvalid},
		{"malformed-message", "Request body does not match the resource", fabric.ErrInvalid},
		{"operation-not-supported", "Not supported on this platform", fabric.ErrUnsupported},
		{"operation-failed", brocadetest.MsgOutstanding, fabric.ErrConflict},
	} {
		srv := newSwitch(t)
		z := newZoner(t, srv)
		ctx := context.Background()
		w := freshWWPNs(1)[0]
		// Fail the change, not the login or the reads before it.
		srv.FailNextWrite(http.StatusBadRequest, tc.tag, tc.msg)
		err := z.AddMember(ctx, "z_host1_a", w)
		if !errors.Is(err, tc.want) || errors.Is(err, fabric.ErrTransient) {
			t.Errorf("400 %s %q: %v, want %v", tc.tag, tc.msg, err, tc.want)
		}
	}
}
