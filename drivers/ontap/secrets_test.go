package ontap_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/drivers/ontap"
	"github.com/coldstandby/coldstandby/drivers/ontap/ontaptest"
	"github.com/coldstandby/coldstandby/internal/redact"
	"github.com/coldstandby/coldstandby/internal/resthttp/resthttptest"
	"github.com/coldstandby/coldstandby/storage"
)

// TestPasswordNeverPrinted: the Mapper holds the cluster's password; no
// fmt verb, slog handler, debug log of its requests or error it returns
// may show it.
func TestPasswordNeverPrinted(t *testing.T) {
	srv := ontaptest.New(t, svm)
	const secret = "Pa55-w0rd-ontap-7f3c"
	srv.Password = secret
	srv.AddLUN("/vol/boot/lun0")
	srv.AddIgroup("r1-01", "fcp", failedWWPNs...)
	var logs resthttptest.SyncBuffer
	m, err := ontap.New(srv.URL, svm, srv.User, secret, ontap.WithHTTPClient(srv.Client()),
		ontap.WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	if leaks := redact.Leaks(m, secret); len(leaks) != 0 {
		t.Errorf("the password shows through %v", leaks)
	}
	if s := fmt.Sprint(m); !strings.Contains(s, srv.User) || !strings.Contains(s, svm) {
		t.Errorf("Sprint = %q, want the user and SVM", s)
	}
	ctx := context.Background()
	if err := m.Map(ctx, "/vol/boot/lun0", inits(failedWWPNs...), 0); err != nil {
		t.Fatal(err)
	}
	var errs []error
	_, err = m.Mappings(ctx, inits("20:00:00:25:b5:00:00:99"))
	errs = append(errs, err)
	wrong, _ := ontap.New(srv.URL, svm, srv.User, "wrong-"+secret, ontap.WithHTTPClient(srv.Client()))
	_, err = wrong.Mappings(ctx, inits(failedWWPNs...))
	errs = append(errs, err)
	down, _ := ontap.New("https://127.0.0.1:1", svm, srv.User, secret)
	_, err = down.Mappings(ctx, inits(failedWWPNs...))
	errs = append(errs, err)
	for _, err := range errs {
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("error shows the password: %v", err)
		}
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("debug log shows the password:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "ontap request") {
		t.Errorf("no debug records to check:\n%s", logs.String())
	}
}

// TestRefusesPlainHTTP: Basic credentials over http:// cross the network
// in clear text; New refuses unless the caller opts in by name.
func TestRefusesPlainHTTP(t *testing.T) {
	_, err := ontap.New("http://cluster1.example.com", svm, "admin", "pw")
	if !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), "WithInsecureHTTP") {
		t.Fatalf("http:// endpoint: %v, want ErrInvalid naming WithInsecureHTTP", err)
	}
	if _, err := ontap.New("https://admin:pw@cluster1.example.com", svm, "admin", "pw"); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("credentials in the URL: %v, want ErrInvalid", err)
	}
}

// TestVerifiesTLSWhateverDefaultTransportSays: another package turning
// off verification in http.DefaultTransport must not turn it off for
// the Mapper.
func TestVerifiesTLSWhateverDefaultTransportSays(t *testing.T) {
	srv := ontaptest.New(t, svm)
	resthttptest.InsecureDefaultTransport(t)
	if resp, err := http.Get(srv.URL + "/api/cluster"); err == nil {
		resp.Body.Close()
	} else {
		t.Fatalf("http.DefaultTransport still verifies: %v", err)
	}
	strict, err := ontap.New(srv.URL, svm, srv.User, srv.Password)
	if err != nil {
		t.Fatal(err)
	}
	_, err = strict.Mappings(context.Background(), inits(failedWWPNs...))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: got %v, want a certificate error", err)
	}
	// A caller's client without a Transport gets the driver's, not
	// http.DefaultTransport.
	bare, err := ontap.New(srv.URL, svm, srv.User, srv.Password, ontap.WithHTTPClient(&http.Client{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bare.Mappings(context.Background(), inits(failedWWPNs...)); err == nil {
		t.Fatal("a client without Transport used the insecure http.DefaultTransport")
	}
}
