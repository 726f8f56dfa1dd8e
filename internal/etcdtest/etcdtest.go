// Package etcdtest starts a real, single-member etcd server for tests:
// on 127.0.0.1 with free client and peer ports and a temporary data
// directory, waits until it reports healthy, and stops it when the test
// ends. It needs the etcd binary (Debian package etcd-server); without it
// the test is skipped on a developer's machine and fails in CI (see
// internal/testpeer). Only this module's tests import it.
package etcdtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/coldstandby/coldstandby/internal/testpeer"
)

// Server is a running etcd.
type Server struct {
	// Endpoint is the client URL, http://127.0.0.1:port.
	Endpoint string
	// DataDir is the server's data directory (removed after the test).
	DataDir string

	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
}

// Start starts etcd for t and stops it in t.Cleanup. It fails the test
// when etcd does not become healthy within 20 seconds.
func Start(t testing.TB) *Server {
	t.Helper()
	testpeer.LookPath(t, "etcd-server", "etcd")
	s, err := Launch(t.TempDir())
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Launch is Start for programs (a lab): it starts etcd with its data in
// dir, which must exist, and returns once etcd is healthy. The caller
// stops it with Stop.
func Launch(dir string) (*Server, error) {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		return nil, fmt.Errorf("etcd not found (Debian package etcd-server): %w", err)
	}
	var lastErr error
	// A port picked free can be taken before etcd binds it: try again.
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(bin, dir, attempt)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func start(bin, dir string, attempt int) (*Server, error) {
	cport, err := freePort()
	if err != nil {
		return nil, err
	}
	pport, err := freePort()
	if err != nil {
		return nil, err
	}
	curl := fmt.Sprintf("http://127.0.0.1:%d", cport)
	purl := fmt.Sprintf("http://127.0.0.1:%d", pport)
	data := fmt.Sprintf("%s/data%d", dir, attempt)
	cmd := exec.Command(bin,
		"--name", "test",
		"--data-dir", data,
		"--listen-client-urls", curl,
		"--advertise-client-urls", curl,
		"--listen-peer-urls", purl,
		"--initial-advertise-peer-urls", purl,
		"--initial-cluster", "test="+purl,
		"--initial-cluster-state", "new",
		"--logger", "zap",
		"--log-outputs", "stderr",
		"--log-level", "warn",
	)
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &Server{Endpoint: curl, DataDir: data, cmd: cmd, log: log, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return nil, fmt.Errorf("etcd exited at start-up:\n%s", log.String())
		default:
		}
		if healthy(curl) {
			return s, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	return nil, fmt.Errorf("etcd not healthy after 20s:\n%s", log.String())
}

func healthy(url string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url + "/health")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte(`"health":"true"`))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Stop terminates etcd (SIGTERM, then SIGKILL after 5 s) and waits.
// Idempotent; Start registers it with t.Cleanup.
func (s *Server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Log returns what etcd printed so far (warnings and errors).
func (s *Server) Log() string { return s.log.String() }

// Client returns a client of s, closed in t.Cleanup.
func (s *Server) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{s.Endpoint},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatalf("etcdtest: client: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Get(ctx, "health-probe"); err != nil {
		t.Fatalf("etcdtest: client cannot read: %v\n%s", err, s.Log())
	}
	return cli
}

// Prefix returns a key prefix unique to t, so that tests sharing one
// server do not see each other's keys.
func Prefix(t testing.TB) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return fmt.Sprintf("/test/%s-%d/", name, time.Now().UnixNano())
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 1<<20 {
		return len(p), nil
	}
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
