// Package resthttptest helps the tests of the REST drivers: it turns off
// certificate verification in http.DefaultTransport for one test (to
// show a driver does not depend on it), records the requests a test
// server receives, reduces JSON bodies to their shape so that a test
// can compare what a driver sends with what real clients send, loads
// recorded payloads from testdata, and collects log output safely.
package resthttptest

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// LoadJSON decodes testdata/name (relative to the test's package) into v.
func LoadJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// SyncBuffer is a log sink that goroutines may write to while a test
// reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// InsecureDefaultTransport sets InsecureSkipVerify on
// http.DefaultTransport's TLS configuration, as a careless package in
// the same program might, until t ends. Tests that call it must not run
// in parallel with tests that use http.DefaultTransport.
func InsecureDefaultTransport(t testing.TB) {
	t.Helper()
	dt, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		t.Fatalf("http.DefaultTransport is a %T", http.DefaultTransport)
	}
	saved := dt.TLSClientConfig
	cfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the point of the test
	if saved != nil {
		cfg = saved.Clone()
		cfg.InsecureSkipVerify = true
	}
	dt.TLSClientConfig = cfg
	dt.CloseIdleConnections()
	t.Cleanup(func() {
		dt.TLSClientConfig = saved
		dt.CloseIdleConnections()
	})
}

// Request is one request a Recorder saw.
type Request struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// Recorder wraps a handler and records every request it serves.
type Recorder struct {
	next http.Handler
	mu   sync.Mutex
	reqs []Request
}

// NewRecorder returns a Recorder in front of next.
func NewRecorder(next http.Handler) *Recorder { return &Recorder{next: next} }

// ServeHTTP records r and passes it on.
func (rec *Recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body})
	rec.mu.Unlock()
	rec.next.ServeHTTP(w, r)
}

// Requests returns the requests seen so far.
func (rec *Recorder) Requests() []Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.reqs)
}

// Reset forgets the requests seen so far.
func (rec *Recorder) Reset() {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.reqs = nil
}

// Shape reduces a JSON document to its structure: object keys (sorted)
// with the shapes of their values, arrays as [shape of the first element],
// and scalars as their JSON type (string, number, bool, null). Two bodies
// with the same shape differ only in values.
func Shape(doc []byte) (string, error) {
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 {
		return "", nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("shape: %w", err)
	}
	return shape(v), nil
}

func shape(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%q:%s", k, shape(x[k]))
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		if len(x) == 0 {
			return "[]"
		}
		return "[" + shape(x[0]) + "]"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
