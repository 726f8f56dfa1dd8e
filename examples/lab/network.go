package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// network is the lab's Ethernet: Open vSwitch with the user-space data
// path (ovsdb-server and ovs-vswitchd, the switch in a network namespace
// of its own), one bridge, and hosts attached to it by veth pairs, each
// host in a namespace of its own. The servers' NICs are such hosts, and
// so are the workloads' peers the servers ping.
type network struct {
	id     string // short random ID in the namespaces' names
	dir    string // OVS_RUNDIR: the database, its socket and the logs
	db     string // "unix:<dir>/db.sock", the OVSDB address
	bridge string
	swNS   string

	env     []string
	procs   []*exec.Cmd
	waits   []chan struct{}
	hostNSs []string
}

// host is one namespace on the switch: a server's NIC or a workload peer.
type host struct {
	Port string // the switch port (OVS Port name), as the site names it
	NS   string // the host's network namespace
	Addr string // its IPv4 address, without prefix
}

// ovsSchema finds Open vSwitch's database schema.
func ovsSchema() (string, error) {
	for _, p := range []string{"/usr/share/openvswitch/vswitch.ovsschema", "/usr/local/share/openvswitch/vswitch.ovsschema"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("vswitch.ovsschema not found (Debian package openvswitch-common)")
}

// startNetwork starts ovsdb-server and ovs-vswitchd with their files in
// a new short directory (unix socket paths are limited to 107 bytes) and
// makes bridge br0 with the user-space data path.
func startNetwork(ctx context.Context, id string) (_ *network, err error) {
	schema, err := ovsSchema()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cslab-ovs-")
	if err != nil {
		return nil, err
	}
	n := &network{id: id, dir: dir, db: "unix:" + filepath.Join(dir, "db.sock"), bridge: "br0", swNS: "cslab-" + id + "-sw",
		env: append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_DBDIR="+dir, "OVS_LOGDIR="+dir)}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.close())
		}
	}()
	if _, err := n.cmd(ctx, "ovsdb-tool", "create", filepath.Join(dir, "conf.db"), schema); err != nil {
		return n, err
	}
	if _, err := n.cmd(ctx, "ip", "netns", "add", n.swNS); err != nil {
		return n, err
	}
	if err := n.daemon("ovsdb-server", "ovsdb-server", filepath.Join(dir, "conf.db"),
		"--remote=punix:"+filepath.Join(dir, "db.sock"),
		"--unixctl="+filepath.Join(dir, "ovsdb-server.ctl"),
		"--log-file="+filepath.Join(dir, "ovsdb-server.log")); err != nil {
		return n, err
	}
	if err := waitUnix(ctx, filepath.Join(dir, "db.sock")); err != nil {
		return n, fmt.Errorf("ovsdb-server: %w%s", err, n.logs())
	}
	if _, err := n.vsctl(ctx, "--no-wait", "init"); err != nil {
		return n, err
	}
	// ovs-vswitchd keeps its pid file and control socket beside the
	// database socket, where drivers/ovs finds them (as on a real host).
	vswitchd, err := exec.LookPath("ovs-vswitchd")
	if err != nil {
		return n, errors.New("ovs-vswitchd not found (Debian package openvswitch-switch)")
	}
	if err := n.daemon("ovs-vswitchd", "ip", "netns", "exec", n.swNS, vswitchd, n.db,
		"--pidfile="+filepath.Join(dir, "ovs-vswitchd.pid"),
		"--log-file="+filepath.Join(dir, "ovs-vswitchd.log")); err != nil {
		return n, err
	}
	if _, err := n.vsctl(ctx, "add-br", n.bridge, "--", "set", "bridge", n.bridge, "datapath_type=netdev"); err != nil {
		return n, err
	}
	return n, nil
}

// addHost makes namespace cslab-<id>-<name> with interface eth0 holding
// addr/24, cabled by a veth pair to a new switch port <name>-eth0 with
// VLAN tag (an access port). The link is up when up is set.
func (n *network) addHost(ctx context.Context, name, addr string, tag int, up bool) (host, error) {
	h := host{Port: name + "-eth0", NS: "cslab-" + n.id + "-" + name, Addr: addr}
	if _, err := n.cmd(ctx, "ip", "netns", "add", h.NS); err != nil {
		return h, err
	}
	n.hostNSs = append(n.hostNSs, h.NS)
	steps := [][]string{
		{"ip", "link", "add", h.Port, "netns", n.swNS, "type", "veth", "peer", "name", "eth0", "netns", h.NS},
		{"ip", "-n", n.swNS, "link", "set", h.Port, "up"},
		{"ip", "-n", h.NS, "link", "set", "lo", "up"},
		{"ip", "-n", h.NS, "addr", "add", addr + "/24", "dev", "eth0"},
	}
	for _, s := range steps {
		if _, err := n.cmd(ctx, s[0], s[1:]...); err != nil {
			return h, err
		}
	}
	if _, err := n.vsctl(ctx, "add-port", n.bridge, h.Port, "--", "set", "port", h.Port, fmt.Sprintf("tag=%d", tag)); err != nil {
		return h, err
	}
	return h, setLink(ctx, h.NS, up)
}

// setLink takes a host's eth0 up or down: a server's NIC has a link
// while the server is on.
func setLink(ctx context.Context, ns string, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	_, err := run(ctx, nil, "ip", "-n", ns, "link", "set", "eth0", state)
	return err
}

// ping reports whether namespace ns reaches addr: up to tries echo
// requests, each waiting a second for its answer.
func ping(ctx context.Context, ns, addr string, tries int) bool {
	for i := 0; i < tries; i++ {
		if _, err := run(ctx, nil, "ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", "-n", "-q", addr); err == nil {
			return true
		}
	}
	return false
}

// portTag reads a port's VLAN tag with ovs-vsctl, Open vSwitch's own tool.
func (n *network) portTag(ctx context.Context, port string) (string, error) {
	out, err := n.vsctl(ctx, "get", "port", port, "tag")
	return strings.TrimSpace(out), err
}

func (n *network) vsctl(ctx context.Context, args ...string) (string, error) {
	return n.cmd(ctx, "ovs-vsctl", append([]string{"--db=" + n.db, "--timeout=10"}, args...)...)
}

func (n *network) cmd(ctx context.Context, name string, args ...string) (string, error) {
	return run(ctx, n.env, name, args...)
}

// daemon starts a long-running program of the switch.
func (n *network) daemon(logName, name string, args ...string) error {
	path, err := exec.LookPath(name)
	if err != nil {
		return fmt.Errorf("%s not found (Debian package openvswitch-switch or iproute2)", name)
	}
	out, err := os.Create(filepath.Join(n.dir, logName+".out"))
	if err != nil {
		return err
	}
	cmd := exec.Command(path, args...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = n.env, n.dir, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} // if the lab dies without stopping it
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start %s: %w", logName, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); out.Close(); close(done) }()
	n.procs, n.waits = append(n.procs, cmd), append(n.waits, done)
	return nil
}

// close stops the switch's daemons (last started first) and deletes the
// namespaces and the directory.
func (n *network) close() error {
	var errs []error
	for i := len(n.procs) - 1; i >= 0; i-- {
		_ = n.procs[i].Process.Signal(os.Interrupt)
		select {
		case <-n.waits[i]:
		case <-time.After(5 * time.Second):
			_ = n.procs[i].Process.Kill()
			<-n.waits[i]
		}
	}
	for _, ns := range append(n.hostNSs, n.swNS) {
		if _, err := run(context.Background(), nil, "ip", "netns", "del", ns); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, os.RemoveAll(n.dir))...)
}

func (n *network) logs() string {
	var b strings.Builder
	for _, f := range []string{"ovsdb-server.out", "ovsdb-server.log", "ovs-vswitchd.out", "ovs-vswitchd.log"} {
		data, _ := os.ReadFile(filepath.Join(n.dir, f))
		if len(data) > 2000 {
			data = data[len(data)-2000:]
		}
		fmt.Fprintf(&b, "\n--- %s\n%s", f, data)
	}
	return b.String()
}

func waitUnix(ctx context.Context, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if c, err := net.Dial("unix", path); err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nothing listens on %s: %w", path, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// run runs a program (env nil: this process's) and returns its standard
// output; the error quotes its standard error.
func run(ctx context.Context, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()+" "+out.String()))
	}
	return out.String(), nil
}
