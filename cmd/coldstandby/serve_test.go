package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/drivers/builtin"
)

const serveToken = "serve-test-token-0123456789"

// syncBuf is a bytes.Buffer safe for the daemon's and the test's
// goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// served is a `coldstandby serve` running in-process.
type served struct {
	base   string
	stderr *syncBuf
	sig    chan os.Signal
	code   chan int
}

// serveDemo copies the demo site (and a token file) into a directory and
// runs serve on it with args added.
func serveDemo(t *testing.T, scheme string, args ...string) *served {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(demoSite)
	if err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(site, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(serveToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &served{stderr: &syncBuf{}, sig: make(chan os.Signal, 4), code: make(chan int, 1)}
	e := env{stdout: io.Discard, stderr: s.stderr, getenv: func(string) string { return "" },
		reg: builtin.Registry(), signals: func() (<-chan os.Signal, func()) { return s.sig, func() {} }}
	all := append([]string{"serve", "--site", site, "--listen", "127.0.0.1:0", "--token", "file:token",
		"--log-format", "json", "--watch-interval", "50ms"}, args...)
	go func() { s.code <- run(context.Background(), all, e) }()
	addr := regexp.MustCompile(`"msg":"serving","addr":"([^"]+)"`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := addr.FindStringSubmatch(s.stderr.String()); m != nil {
			s.base = scheme + "://" + m[1]
			break
		}
		select {
		case code := <-s.code:
			t.Fatalf("serve exited %d:\n%s", code, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", s.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() {
		select {
		case s.sig <- syscall.SIGTERM:
		default:
		}
		select {
		case <-s.code:
		case <-time.After(20 * time.Second):
		}
	})
	return s
}

func (s *served) stop(t *testing.T) int {
	t.Helper()
	s.sig <- syscall.SIGTERM
	select {
	case code := <-s.code:
		s.code <- code // for the cleanup
		return code
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not stop on SIGTERM:\n%s", s.stderr.String())
		return -1
	}
}

func request(t *testing.T, c *http.Client, method, url, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+serveToken)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %d: %v", method, url, resp.StatusCode, err)
		}
	}
	return resp.StatusCode
}

// `coldstandby serve` on the demo site: ready, a fault through the API
// fails srv01 over, SIGHUP reloads, SIGTERM stops it with exit 0.
func TestServeRunsTheDemoSiteUntilSIGTERM(t *testing.T) {
	s := serveDemo(t, "http")
	c := http.DefaultClient
	var ready struct{ Ready, Leading bool }
	deadline := time.Now().Add(20 * time.Second)
	for request(t, c, "GET", s.base+"/readyz", "", &ready) != 200 || !ready.Leading {
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %s", s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var f struct{ Failover, State string }
	if code := request(t, c, "POST", s.base+"/v1/faults", `{"server":"srv01","type":"processor"}`, &f); code != 202 || f.Failover == "" {
		t.Fatalf("POST /v1/faults: %d %+v", code, f)
	}
	var fd struct{ Failover struct{ Outcome string } }
	for request(t, c, "GET", s.base+"/v1/failovers/"+f.Failover, "", &fd); fd.Failover.Outcome == ""; request(t, c, "GET", s.base+"/v1/failovers/"+f.Failover, "", &fd) {
		if time.Now().After(deadline) {
			t.Fatal("the failover did not end")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fd.Failover.Outcome != "done" {
		t.Fatalf("failover %s: %s", f.Failover, fd.Failover.Outcome)
	}
	s.sig <- syscall.SIGHUP
	for !strings.Contains(s.stderr.String(), `"msg":"reloaded the site"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no reload after SIGHUP:\n%s", s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := s.stop(t); code != exitOK {
		t.Fatalf("serve exited %d after SIGTERM:\n%s", code, s.stderr.String())
	}
	for _, want := range []string{`"msg":"fault"`, `"msg":"plan"`, `"msg":"step finished"`, `"msg":"failover ended"`, `"msg":"stopped"`} {
		if !strings.Contains(s.stderr.String(), want) {
			t.Errorf("the JSON log lacks %s", want)
		}
	}
}

// selfSigned writes a certificate and key for 127.0.0.1 into dir.
func selfSigned(t *testing.T, dir string) (cert, key string, pool *x509.CertPool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "coldstandby test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(k)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return cert, key, pool
}

// With a certificate, serve answers HTTPS only.
func TestServeWithTLS(t *testing.T) {
	cert, key, pool := selfSigned(t, t.TempDir())
	s := serveDemo(t, "https", "--tls-cert", cert, "--tls-key", key)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	if code := request(t, c, "GET", s.base+"/healthz", "", nil); code != 200 {
		t.Errorf("GET /healthz over TLS: %d", code)
	}
	// Plain HTTP to the TLS listener gets Go's 400, not the API.
	if resp, err := http.Get("http://" + strings.TrimPrefix(s.base, "https://") + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200 on the TLS listener")
		}
	}
	if code := s.stop(t); code != exitOK {
		t.Fatalf("exit %d", code)
	}
}

// Bad flags are usage errors; a broken site file is invalid.
func TestServeRefusesBadInvocations(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"serve", "--tls-cert", "x.pem"}, exitUsage},
		{[]string{"serve", "--log-format", "xml"}, exitUsage},
		{[]string{"serve", "--log-level", "loud"}, exitUsage},
		{[]string{"serve", "--site", filepath.Join(dir, "missing.yaml")}, exitFailure},
		{[]string{"serve", "--token", "env:COLDSTANDBY_TEST_NO_SUCH_VARIABLE", "--listen", "127.0.0.1:0"}, exitInvalid},
	} {
		_, errOut, code := cli(t, dir, c.args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d: %s", c.args, code, c.code, errOut)
		}
	}
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("apiVersion: coldstandby/v1alpha1\nkind: Site\nservers: [{id: a, class: nope}]\n"), 0o600)
	if _, errOut, code := cli(t, dir, "serve", "--site", bad); code != exitInvalid {
		t.Errorf("serve with an invalid site: exit %d, want %d: %s", code, exitInvalid, errOut)
	}
}
