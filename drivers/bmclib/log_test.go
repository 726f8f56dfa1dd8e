package bmclib_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var logs sync.Map // test name -> *syncBuffer

// captureLogger returns a debug-level logger whose output logged returns.
func captureLogger(t *testing.T) *slog.Logger {
	buf := &syncBuffer{}
	logs.Store(t.Name(), buf)
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func logged(t *testing.T) string {
	v, ok := logs.Load(t.Name())
	if !ok {
		return ""
	}
	return v.(*syncBuffer).String()
}

func assertNoSecret(t *testing.T, text, secret string) {
	t.Helper()
	if strings.Contains(text, secret) {
		t.Errorf("the password appears in %q", text)
	}
}
