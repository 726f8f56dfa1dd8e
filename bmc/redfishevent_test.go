package bmc_test

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
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/internal/mockups"
)

const testSecret = "0123456789abcdef-event-secret"

func readMockup(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := mockups.ReadFile(rel)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEventFromLogEntryDSP2046Example(t *testing.T) {
	e, err := bmc.EventFromLogEntry(readMockup(t, "DSP2046-examples/LogEntry-v1-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2012, 3, 7, 14, 44, 0, 0, time.UTC)
	if e.ID != "1" || !e.Time.Equal(want) || e.MessageID != "Contoso.1.0.TempAssert" ||
		e.Severity != bmc.SeverityCritical || e.SensorName != "/redfish/v1/Chassis/1U/Thermal" ||
		e.Message != "Temperature threshold exceeded" || !e.Asserted || e.Raw == "" {
		t.Fatalf("parsed %+v", e)
	}
	if ft, ok := bmc.Classify(e); !ok || ft != bmc.FaultTemperature {
		t.Errorf("classified %q, %v; want temperature", ft, ok)
	}
}

func TestEventFromLogEntryMockupLogs(t *testing.T) {
	for _, rel := range []string{
		"public-rackmount1/Managers/BMC/LogServices/Log/Entries/1/index.json",
		"public-rackmount1/Systems/437XR1138R2/LogServices/Log1/Entries/1/index.json",
		"public-rackmount1/Systems/437XR1138R2/LogServices/Log1/Entries/2/index.json",
	} {
		e, err := bmc.EventFromLogEntry(readMockup(t, rel))
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if e.ID == "" || e.Time.IsZero() || e.Severity == "" {
			t.Errorf("%s: parsed %+v", rel, e)
		}
		if ft, ok := bmc.Classify(e); ok && ft == "" {
			t.Errorf("%s: fault without type", rel)
		}
	}
	if _, err := bmc.EventFromLogEntry([]byte(`{"Message":"no id"}`)); !errors.Is(err, bmc.ErrInvalid) {
		t.Errorf("entry without Id: %v, want ErrInvalid", err)
	}
}

// eventPayload wraps the DSP2046 SubmitTestEvent example (an event
// record's properties) into a DMTF Event, as a BMC pushes it.
func eventPayload(t *testing.T, context string) []byte {
	t.Helper()
	var rec map[string]any
	if err := json.Unmarshal(readMockup(t, "DSP2046-examples/EventService-v1-SubmitTestEvent-request-example.json"), &rec); err != nil {
		t.Fatal(err)
	}
	rec["MemberId"] = "0"
	rec["EventType"] = "Alert"
	b, _ := json.Marshal(map[string]any{
		"@odata.type": "#Event.v1_7_0.Event", "Id": "5", "Name": "Event Array",
		"Context": context, "Events": []any{rec},
	})
	return b
}

type collector struct {
	mu     sync.Mutex
	faults []bmc.Fault
}

func (c *collector) deliver(_ context.Context, f bmc.Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = append(c.faults, f)
}

func (c *collector) got() []bmc.Fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]bmc.Fault(nil), c.faults...)
}

// run delivers h's queue until the test ends.
func run(t testing.TB, h *bmc.EventHandler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// drained closes h, which returns once every accepted fault was
// delivered, and returns what the collector got.
func (c *collector) drained(t *testing.T, h *bmc.EventHandler) []bmc.Fault {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if left, err := h.Close(ctx); err != nil || len(left) != 0 {
		t.Fatalf("Close = %d faults left, %v; want all delivered", len(left), err)
	}
	return c.got()
}

func post(t *testing.T, h http.Handler, body []byte, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/redfish-events", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestEventHandlerDeliversEachFaultOnce(t *testing.T) {
	var c collector
	h, err := bmc.NewEventHandler(c.deliver, bmc.WithSharedSecret("X-Event-Secret", testSecret))
	if err != nil {
		t.Fatal(err)
	}
	run(t, h)
	auth := map[string]string{"X-Event-Secret": testSecret}
	body := eventPayload(t, "r12-07")
	for i := range 2 { // the BMC retries: the second delivery is absorbed
		if w := post(t, h, body, auth); w.Code != http.StatusAccepted {
			t.Fatalf("push #%d: %d %s", i+1, w.Code, w.Body)
		}
	}
	// A LogEntry pushed as is (an extension some BMCs use).
	le := readMockup(t, "DSP2046-examples/LogEntry-v1-example.json")
	var m map[string]any
	_ = json.Unmarshal(le, &m)
	m["Context"] = "r12-08"
	le, _ = json.Marshal(m)
	if w := post(t, h, le, auth); w.Code != http.StatusAccepted {
		t.Fatalf("LogEntry push: %d %s", w.Code, w.Body)
	}
	got := c.drained(t, h)
	if len(got) != 2 {
		t.Fatalf("delivered %d faults, want 2 (the Event once, the LogEntry): %+v", len(got), got)
	}
	if got[1].Server != "r12-08" || got[1].Type != bmc.FaultTemperature {
		t.Fatalf("fault of the LogEntry push: %+v", got[1])
	}
	f := got[0]
	if f.Server != "r12-07" || f.Event == nil || f.Event.MessageID != "Event.1.0.FanWayTooSlow" ||
		!f.Time.Equal(time.Date(2016, 1, 10, 18, 2, 0, 0, time.UTC)) {
		t.Fatalf("fault %+v", f)
	}
	// A Critical fan event on the chassis' Thermal resource.
	if f.Type != bmc.FaultTemperature {
		t.Errorf("fault type %q, want temperature", f.Type)
	}

}

func TestEventHandlerRejects(t *testing.T) {
	var c collector
	h, err := bmc.NewEventHandler(c.deliver, bmc.WithSharedSecret("X-Event-Secret", testSecret), bmc.WithMaxEventBytes(4096))
	if err != nil {
		t.Fatal(err)
	}
	run(t, h)
	good := eventPayload(t, "r1")
	auth := map[string]string{"X-Event-Secret": testSecret}
	huge := append([]byte(`{"Context":"r1","Events":[{"EventId":"1","Message":"`), bytes.Repeat([]byte("x"), 5000)...)
	huge = append(huge, []byte(`"}]}`)...)
	for _, c := range []struct {
		name   string
		method string
		body   []byte
		hdr    map[string]string
		ctype  string
		want   int
	}{
		{"no secret", "POST", good, nil, "application/json", http.StatusUnauthorized},
		{"wrong secret", "POST", good, map[string]string{"X-Event-Secret": testSecret + "x"}, "application/json", http.StatusUnauthorized},
		{"GET", "GET", nil, auth, "application/json", http.StatusMethodNotAllowed},
		{"not JSON content type", "POST", good, auth, "text/plain", http.StatusUnsupportedMediaType},
		{"oversized", "POST", huge, auth, "application/json", http.StatusRequestEntityTooLarge},
		{"malformed JSON", "POST", []byte(`{"Events": [`), auth, "application/json", http.StatusBadRequest},
		{"no events", "POST", []byte(`{"@odata.type":"#Event.v1_7_0.Event","Context":"r1","Events":[]}`), auth, "application/json", http.StatusBadRequest},
		{"other resource", "POST", []byte(`{"@odata.type":"#Chassis.v1_0_0.Chassis","Id":"1"}`), auth, "application/json", http.StatusBadRequest},
		{"record without ids", "POST", []byte(`{"Context":"r1","Events":[{"Message":"?"}]}`), auth, "application/json", http.StatusBadRequest},
		{"no context", "POST", eventPayload(t, ""), auth, "application/json", http.StatusUnprocessableEntity},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, "/e", bytes.NewReader(c.body))
			r.Header.Set("Content-Type", c.ctype)
			for k, v := range c.hdr {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.want {
				t.Errorf("status %d (%s), want %d", w.Code, strings.TrimSpace(w.Body.String()), c.want)
			}
		})
	}
	if got := c.drained(t, h); len(got) != 0 {
		t.Errorf("rejected pushes delivered %d faults", len(got))
	}
}

func TestNewEventHandlerNeedsAuthentication(t *testing.T) {
	var c collector
	if _, err := bmc.NewEventHandler(c.deliver); !errors.Is(err, bmc.ErrInvalid) {
		t.Errorf("no authentication: %v, want ErrInvalid", err)
	}
	if _, err := bmc.NewEventHandler(c.deliver, bmc.WithSharedSecret("X-S", "short")); !errors.Is(err, bmc.ErrInvalid) {
		t.Errorf("short secret: %v, want ErrInvalid", err)
	}
	if _, err := bmc.NewEventHandler(nil, bmc.WithSharedSecret("X-S", testSecret)); !errors.Is(err, bmc.ErrInvalid) {
		t.Errorf("nil deliver: %v, want ErrInvalid", err)
	}
}

// certs makes a CA, a client certificate it signed for cn, and a
// self-signed impostor with the same name.
func certs(t *testing.T, cn string) (pool *x509.CertPool, client, impostor tls.Certificate) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	leaf := func(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, serial int64) tls.Certificate {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		if parent == nil {
			parent, parentKey = tmpl, k
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &k.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
	}
	return pool, leaf(ca, caKey, 2), leaf(nil, nil, 3)
}

func TestEventHandlerMutualTLS(t *testing.T) {
	pool, client, impostor := certs(t, "bmc-r12-07")
	var c collector
	h, err := bmc.NewEventHandler(c.deliver, bmc.WithClientCertificate(func(cert *x509.Certificate) error {
		if cert.Subject.CommonName != "bmc-r12-07" {
			return errors.New("unknown BMC")
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	run(t, h)
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven}
	srv.StartTLS()
	defer srv.Close()
	serverRoots := x509.NewCertPool()
	serverRoots.AddCert(srv.Certificate())
	push := func(cert *tls.Certificate) (int, error) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: serverRoots}}
		if cert != nil {
			tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
		}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Post(srv.URL, "application/json", bytes.NewReader(eventPayload(t, "r12-07")))
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := push(nil); err != nil || code != http.StatusUnauthorized {
		t.Errorf("without a client certificate: %d, %v; want 401", code, err)
	}
	if code, err := push(&impostor); err == nil && code == http.StatusAccepted {
		t.Errorf("a self-signed client certificate was accepted")
	}
	if code, err := push(&client); err != nil || code != http.StatusAccepted {
		t.Fatalf("with the CA-signed certificate: %d, %v; want 202", code, err)
	}
	if got := c.drained(t, h); len(got) != 1 || got[0].Server != "r12-07" {
		t.Fatalf("faults %+v", got)
	}
}

func BenchmarkEventHandler(b *testing.B) {
	h, err := bmc.NewEventHandler(func(context.Context, bmc.Fault) {}, bmc.WithSharedSecret("X-Event-Secret", testSecret))
	if err != nil {
		b.Fatal(err)
	}
	run(b, h)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		body, _ := json.Marshal(map[string]any{"Context": "r1", "Events": []any{map[string]any{
			"EventId": strconv.Itoa(i), "MessageId": "OpenBMC.0.1.CPUError", "Severity": "Critical", "Message": "CPU 1 IERR"}}})
		r := httptest.NewRequest(http.MethodPost, "/e", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-Event-Secret", testSecret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusAccepted {
			b.Fatal(w.Code, w.Body)
		}
	}
}
