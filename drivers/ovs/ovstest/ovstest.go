// Package ovstest runs a real Open vSwitch for tests: ovsdb-server and
// ovs-vswitchd with the userspace datapath (datapath_type=netdev) inside a
// network namespace the test creates, with hosts attached through veth
// pairs, each host in a namespace of its own. Everything is torn down when
// the test ends, namespaces included.
//
// Import it from tests of code that drives Open vSwitch (drivers/ovs). It
// needs root, iproute2, iputils-ping and openvswitch-switch; without them
// the test skips on a developer's machine and fails in CI (see
// internal/testpeer).
package ovstest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/internal/testpeer"
)

// Switch is a running Open vSwitch with one bridge.
type Switch struct {
	// DB is the OVSDB address for ovs-vsctl --db and ovs.New:
	// "unix:/tmp/.../db.sock".
	DB string
	// Bridge is the bridge's name ("br0").
	Bridge string
	// Netns is the switch's network namespace.
	Netns string
	// SSL is ovsdb-server's TLS address ("ssl:127.0.0.1:PORT") with
	// WithSSL, else "".
	SSL string

	clientTLS *tls.Config

	t      testing.TB
	dir    string
	id     string
	env    []string
	vsctl  string
	appctl string
	ipPath string
	ping   string

	ports *atomic.Int64 // shared by the views that For makes
}

// Host is a namespace attached to one switch port by a veth pair.
type Host struct {
	// Port is the switch-side port name (in the OVS Port table).
	Port string
	// Netns is the host's namespace; Addr its IPv4 address (CIDR).
	Netns, Addr string
}

// Option configures Start.
type Option func(*options)

type options struct{ ssl bool }

// WithSSL makes ovsdb-server also listen for TLS on 127.0.0.1 (SSL and
// ClientTLS tell how to reach it), with a CA, server and client
// certificates made for the test.
func WithSSL() Option { return func(o *options) { o.ssl = true } }

// Start runs ovsdb-server and ovs-vswitchd for t and stops them, and
// deletes every namespace it made, in t.Cleanup.
func Start(t testing.TB, opts ...Option) *Switch {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	paths := testpeer.LookPath(t, "openvswitch-switch", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovsdb-tool", "ovs-appctl")
	if paths == nil {
		return nil
	}
	ipPath := testpeer.LookPath(t, "iproute2", "ip")
	pingPath := testpeer.LookPath(t, "iputils-ping", "ping")
	if ipPath == nil || pingPath == nil {
		return nil
	}
	if os.Geteuid() != 0 {
		testpeer.Unavailable(t, "Open vSwitch in a network namespace needs root")
		return nil
	}
	schema := findSchema()
	if schema == "" {
		testpeer.Unavailable(t, "vswitch.ovsschema not found (Debian package openvswitch-common)")
		return nil
	}
	// A short directory: unix socket paths are limited to 107 bytes.
	dir, err := os.MkdirTemp("", "csovs")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	s := &Switch{
		Bridge: "br0",
		t:      t,
		dir:    dir,
		id:     hex.EncodeToString(b),
		vsctl:  paths[2],
		appctl: paths[4],
		ipPath: ipPath[0],
		ping:   pingPath[0],
		DB:     "unix:" + filepath.Join(dir, "db.sock"),
		ports:  new(atomic.Int64),
	}
	s.Netns = "cs-ovs-" + s.id
	// ovs-vswitchd dies without these pointing at a writable directory.
	s.env = append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_DBDIR="+dir, "OVS_LOGDIR="+dir)

	t.Cleanup(func() { os.RemoveAll(dir) })
	s.run("create database", paths[3], "create", filepath.Join(dir, "conf.db"), schema)
	s.ip("netns", "add", s.Netns)
	t.Cleanup(func() { s.ipQuiet("netns", "del", s.Netns) })

	args := []string{filepath.Join(dir, "conf.db"),
		"--remote=punix:" + filepath.Join(dir, "db.sock"),
		"--unixctl=" + filepath.Join(dir, "ovsdb-server.ctl"),
		"--log-file=" + filepath.Join(dir, "ovsdb-server.log")}
	if o.ssl {
		args = append(args, s.setupSSL()...)
	}
	s.daemon("ovsdb-server", paths[0], args...)
	s.waitSocket(filepath.Join(dir, "db.sock"))
	s.vsctlRun("--no-wait", "init")
	// The pid file and the control socket (ovs-vswitchd.<pid>.ctl in
	// OVS_RUNDIR) lie where a packaged ovs-vswitchd keeps them, beside
	// the database socket, so that clients find them as on a real host.
	s.daemon("ovs-vswitchd", s.ipPath, "netns", "exec", s.Netns, paths[1], s.DB,
		"--pidfile="+filepath.Join(dir, "ovs-vswitchd.pid"),
		"--log-file="+filepath.Join(dir, "ovs-vswitchd.log"))
	s.vsctlRun("add-br", s.Bridge, "--", "set", "bridge", s.Bridge, "datapath_type=netdev")
	if o.ssl {
		s.waitTCP(strings.TrimPrefix(s.SSL, "ssl:"))
	}
	return s
}

// setupSSL writes the certificates and returns ovsdb-server's arguments.
func (s *Switch) setupSSL() []string {
	s.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ca, caKey, caPEM := makeCert(s.t, "ovstest CA", nil, nil)
	_, _, srvPEM := makeCert(s.t, "ovsdb-server", ca, caKey)
	cli, cliKey, _ := makeCert(s.t, "coldstandby", ca, caKey)
	write := func(name string, data []byte) string {
		p := filepath.Join(s.dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			s.t.Fatal(err)
		}
		return p
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	s.SSL = fmt.Sprintf("ssl:127.0.0.1:%d", port)
	s.clientTLS = &tls.Config{
		RootCAs:      pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{cli.Raw}, PrivateKey: cliKey, Leaf: cli}},
		MinVersion:   tls.VersionTLS12,
	}
	return []string{
		fmt.Sprintf("--remote=pssl:%d:127.0.0.1", port),
		"--private-key=" + write("server-key.pem", srvPEM.key),
		"--certificate=" + write("server-cert.pem", srvPEM.cert),
		"--ca-cert=" + write("ca-cert.pem", caPEM.cert),
	}
}

type pemPair struct{ cert, key []byte }

// makeCert makes a certificate for 127.0.0.1 signed by parent (self-signed
// CA when parent is nil).
func makeCert(t testing.TB, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, pemPair) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"coldstandby tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key, pemPair{
		cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}

// ClientTLS returns a TLS configuration with the test CA and a client
// certificate that ovsdb-server accepts (nil without WithSSL).
func (s *Switch) ClientTLS() *tls.Config {
	if s.clientTLS == nil {
		return nil
	}
	return s.clientTLS.Clone()
}

func (s *Switch) waitTCP(addr string) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("ovstest: ovsdb-server did not listen on %s: %s", addr, s.logs())
}

// For returns a view of the same switch whose helpers report failures to
// t (a subtest sharing the switch its parent started). Ports and hosts
// made through the view stay until the switch is torn down.
func (s *Switch) For(t testing.TB) *Switch {
	c := *s
	c.t = t
	return &c
}

func findSchema() string {
	for _, p := range []string{"/usr/share/openvswitch/vswitch.ovsschema", "/usr/local/share/openvswitch/vswitch.ovsschema"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// daemon starts a long-running program and stops it at cleanup.
func (s *Switch) daemon(name, path string, args ...string) {
	s.t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Env = s.env
	cmd.Dir = s.dir
	log, err := os.Create(filepath.Join(s.dir, name+".out"))
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("ovstest: start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done); log.Close() }()
	s.t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
}

func (s *Switch) waitSocket(path string) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("ovstest: ovsdb-server did not listen on %s: %s", path, s.logs())
}

func (s *Switch) logs() string {
	var b strings.Builder
	for _, f := range []string{"ovsdb-server.out", "ovsdb-server.log", "ovs-vswitchd.out", "ovs-vswitchd.log"} {
		data, _ := os.ReadFile(filepath.Join(s.dir, f))
		if len(data) > 2000 {
			data = data[len(data)-2000:]
		}
		fmt.Fprintf(&b, "\n--- %s\n%s", f, data)
	}
	return b.String()
}

func (s *Switch) run(what, path string, args ...string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = s.env
	// Only stdout is the answer: OVS tools log warnings to stderr (an
	// "Unreasonably long poll interval" on a loaded machine), which must
	// not end up in what a test compares.
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("ovstest: %s: %s %s: %v\n%s%s%s", what, path, strings.Join(args, " "), err, out.String(), errOut.String(), s.logs())
	}
	return out.String()
}

func (s *Switch) ip(args ...string) { s.t.Helper(); s.run("ip", s.ipPath, args...) }

func (s *Switch) ipQuiet(args ...string) {
	cmd := exec.Command(s.ipPath, args...)
	_ = cmd.Run()
}

// Vsctl runs ovs-vsctl --timeout=10 against the switch and returns its
// output; a failure fails the test.
func (s *Switch) Vsctl(args ...string) string {
	s.t.Helper()
	return s.vsctlRun(args...)
}

func (s *Switch) vsctlRun(args ...string) string {
	s.t.Helper()
	return s.run("ovs-vsctl", s.vsctl, append([]string{"--db=" + s.DB, "--timeout=10"}, args...)...)
}

// AddHost makes a namespace with a veth interface addressed addr (CIDR,
// e.g. "10.99.0.1/24", assigned inside the namespace only), connects its
// peer to the bridge as a new port and sets that port's VLAN columns with
// ovs-vsctl arguments such as "tag=10" (none: OVS's default, a trunk of
// every VLAN).
func (s *Switch) AddHost(addr string, portSettings ...string) Host {
	s.t.Helper()
	return s.AddHostTo(s.Bridge, addr, portSettings...)
}

// AddHostTo is AddHost on another bridge (made with AddBridge).
func (s *Switch) AddHostTo(bridge, addr string, portSettings ...string) Host {
	s.t.Helper()
	n := s.ports.Add(1)
	h := Host{
		Port:  fmt.Sprintf("cs%sp%d", s.id, n),
		Netns: fmt.Sprintf("cs-ovs-%s-h%d", s.id, n),
		Addr:  addr,
	}
	hostIf := fmt.Sprintf("cs%sh%d", s.id, n)
	s.ip("netns", "add", h.Netns)
	s.t.Cleanup(func() { s.ipQuiet("netns", "del", h.Netns) })
	s.ip("link", "add", h.Port, "type", "veth", "peer", "name", hostIf)
	s.ip("link", "set", h.Port, "netns", s.Netns)
	s.ip("link", "set", hostIf, "netns", h.Netns)
	s.ip("-n", s.Netns, "link", "set", h.Port, "up")
	s.ip("-n", h.Netns, "link", "set", "lo", "up")
	s.ip("-n", h.Netns, "addr", "add", addr, "dev", hostIf)
	s.ip("-n", h.Netns, "link", "set", hostIf, "up")
	args := []string{"add-port", bridge, h.Port}
	if len(portSettings) > 0 {
		args = append(args, "--", "set", "port", h.Port)
		args = append(args, portSettings...)
	}
	s.vsctlRun(args...)
	return h
}

// AddBridge adds another userspace bridge to the switch and returns its
// name: a second switch, to be joined to the first with AddPatch.
func (s *Switch) AddBridge() string {
	s.t.Helper()
	name := fmt.Sprintf("cs%sb%d", s.id, s.ports.Add(1))
	s.vsctlRun("add-br", name, "--", "set", "bridge", name, "datapath_type=netdev")
	return name
}

// AddPatch links bridge a to bridge b with a pair of patch ports (a cable
// between two switches, carrying tagged frames) and sets each side's VLAN
// columns with ovs-vsctl arguments. It returns the two port names.
func (s *Switch) AddPatch(a, b string, settingsA, settingsB []string) (portA, portB string) {
	s.t.Helper()
	n := s.ports.Add(1)
	portA, portB = fmt.Sprintf("cs%sx%da", s.id, n), fmt.Sprintf("cs%sx%db", s.id, n)
	args := []string{
		"add-port", a, portA, "--", "set", "interface", portA, "type=patch", "options:peer=" + portB,
		"--", "add-port", b, portB, "--", "set", "interface", portB, "type=patch", "options:peer=" + portA,
	}
	if len(settingsA) > 0 {
		args = append(append(args, "--", "set", "port", portA), settingsA...)
	}
	if len(settingsB) > 0 {
		args = append(append(args, "--", "set", "port", portB), settingsB...)
	}
	s.vsctlRun(args...)
	return portA, portB
}

// AddPort adds a port without a host (an OVS internal port) with the
// given ovs-vsctl column settings and returns its name.
func (s *Switch) AddPort(portSettings ...string) string {
	s.t.Helper()
	name := fmt.Sprintf("cs%si%d", s.id, s.ports.Add(1))
	args := []string{"add-port", s.Bridge, name, "--", "set", "interface", name, "type=internal"}
	if len(portSettings) > 0 {
		args = append(args, "--", "set", "port", name)
		args = append(args, portSettings...)
	}
	s.vsctlRun(args...)
	return name
}

// Ping reports whether from reaches the IPv4 address to (no prefix) within
// about a second, with up to tries echo requests.
func (s *Switch) Ping(from Host, to string, tries int) bool {
	s.t.Helper()
	for i := 0; i < tries; i++ {
		cmd := exec.Command(s.ipPath, "netns", "exec", from.Netns, s.ping, "-c", "1", "-W", "1", "-n", "-q", to)
		if cmd.Run() == nil {
			return true
		}
	}
	return false
}

// StopVswitchd stops ovs-vswitchd early (the database stays up, but no
// change is applied any more).
func (s *Switch) StopVswitchd() {
	s.t.Helper()
	s.run("stop ovs-vswitchd", s.appctl, "-t", s.VswitchdControl(), "exit")
}

// VswitchdControl returns the path of ovs-vswitchd's control socket
// (ovs-appctl -t), waiting for ovs-vswitchd to write its pid file.
func (s *Switch) VswitchdControl() string {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(s.dir, "ovs-vswitchd.pid"))
		if pid := strings.TrimSpace(string(b)); err == nil && pid != "" {
			return filepath.Join(s.dir, "ovs-vswitchd."+pid+".ctl")
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("ovstest: ovs-vswitchd wrote no pid file: %v%s", err, s.logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop stops ovsdb-server early (to test an unreachable database); the
// rest is still torn down at cleanup.
func (s *Switch) Stop() {
	s.t.Helper()
	s.run("stop ovsdb-server", s.appctl, "-t", filepath.Join(s.dir, "ovsdb-server.ctl"), "exit")
}
