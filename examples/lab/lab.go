package main

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coldstandby/coldstandby/drivers/tgt"
	"github.com/coldstandby/coldstandby/drivers/tgt/tgttest"
	"github.com/coldstandby/coldstandby/failover/site"
	"github.com/coldstandby/coldstandby/internal/etcdtest"
	"github.com/coldstandby/coldstandby/internal/ipmisim"
	"github.com/coldstandby/coldstandby/storage"
)

// siteFile is the lab's site, lab.yaml: the servers, their wiring and
// the drivers, with the runner's default addresses.
//
//go:embed lab.yaml
var siteFile []byte

// Config says how to run a lab.
type Config struct {
	// Dir, an empty or new directory, holds every peer's files and logs,
	// and is kept (default: a new directory under os.TempDir, removed by
	// Close unless Keep).
	Dir  string
	Keep bool
	// Coldstandby is the coldstandby command to run as the daemons
	// (default: built from this module with go build into Dir).
	Coldstandby string
	// WatchInterval is how often the daemons read each BMC's event log
	// (coldstandby serve --watch-interval; default 500ms).
	WatchInterval time.Duration
	// LeaseTTL is the leader's etcd lease in seconds (--lease-ttl;
	// default 2): how long a killed leader keeps the other waiting.
	LeaseTTL int
}

// server is one of the site's servers and what the lab runs for it.
type server struct {
	ID       string
	Workload string // at the start
	IQN      storage.Initiator
	VLAN     int // of its NIC's port at the start
	Boot     storage.VolumeID
	BootSize int64
	Sim      *ipmisim.Server
	NIC      host
}

// Lab is every peer of a lab, started: three ipmi_sim BMCs, tgtd, Open
// vSwitch with the servers' NICs and the workloads' peers in namespaces,
// etcd, and two coldstandby serve daemons.
type Lab struct {
	cfg      Config
	Dir      string
	SitePath string
	Site     *site.Site
	Servers  []*server
	// Peers holds, per VLAN of a workload, the address of a host on it
	// that the workload's server pings.
	Peers   map[int]host
	TGT     *tgttest.Daemon
	Net     *network
	Etcd    *etcdtest.Server
	Daemons []*daemonProc
	Token   string
	shims   *shims
	closers []func() error
}

// Server returns the server with id.
func (l *Lab) Server(id string) *server {
	for _, s := range l.Servers {
		if s.ID == id {
			return s
		}
	}
	panic("lab: no server " + id)
}

// Start starts every peer of the lab and both daemons, the first of
// which leads. On error everything started is stopped.
func Start(ctx context.Context, cfg Config) (_ *Lab, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the lab needs root (network namespaces, tgtd)")
	}
	if cfg.WatchInterval == 0 {
		cfg.WatchInterval = 500 * time.Millisecond
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 2
	}
	l := &Lab{cfg: cfg, Dir: cfg.Dir, Peers: map[int]host{}}
	if l.Dir != "" {
		if err := os.MkdirAll(l.Dir, 0o755); err != nil {
			return nil, err
		}
		if ents, err := os.ReadDir(l.Dir); err != nil || len(ents) > 0 {
			return nil, fmt.Errorf("lab directory %s: want an empty or new one (%d entries, %v)", l.Dir, len(ents), err)
		}
	} else {
		if l.Dir, err = os.MkdirTemp("", "coldstandby-lab-"); err != nil {
			return nil, err
		}
		if !cfg.Keep {
			l.closers = append(l.closers, func() error { return os.RemoveAll(l.Dir) })
		}
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Close())
		}
	}()
	base, err := site.Decode(siteFile)
	if err != nil {
		return l, fmt.Errorf("lab.yaml: %w", err)
	}
	id := randomHex(3)
	l.Token = randomHex(16)
	l.shims = &shims{dir: filepath.Join(l.Dir, "shims")}
	if err := os.MkdirAll(l.shims.dir, 0o755); err != nil {
		return l, err
	}

	// The network first: the BMCs' power hooks act on the NICs.
	if l.Net, err = startNetwork(ctx, id); err != nil {
		return l, fmt.Errorf("open vswitch: %w", err)
	}
	l.closers = append(l.closers, l.Net.close)
	for i, sv := range base.Servers {
		s := &server{ID: sv.ID, Workload: sv.Workload, VLAN: sv.VLANs[0]}
		if s.IQN, err = storage.ParseIQN(sv.HBAs[0].IQN); err != nil {
			return l, err
		}
		if len(sv.Volumes) > 0 {
			s.Boot, s.BootSize = storage.VolumeID(sv.Volumes[0].ID), 64<<20>>i
		}
		on := sv.Workload != ""
		if s.NIC, err = l.Net.addHost(ctx, sv.ID, fmt.Sprintf("10.0.0.%d", 11+i), s.VLAN, on); err != nil {
			return l, err
		}
		if s.NIC.Port != sv.NICs[0].Port {
			return l, fmt.Errorf("lab.yaml: server %s: NIC port %s, want %s", sv.ID, sv.NICs[0].Port, s.NIC.Port)
		}
		if on {
			if _, ok := l.Peers[s.VLAN]; !ok {
				p, err := l.Net.addHost(ctx, fmt.Sprintf("wl%d", s.VLAN), fmt.Sprintf("10.0.0.%d", len(l.Peers)+1), s.VLAN, true)
				if err != nil {
					return l, err
				}
				l.Peers[s.VLAN] = p
			}
		}
		l.Servers = append(l.Servers, s)
	}

	// The BMCs: the NIC follows the server's power.
	hook := filepath.Join(l.Dir, "nic-power.sh")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\n# $1 namespace, $2 interface, $3 power: the NIC has a link while the server is on\n"+
		"if [ \"$3\" = 1 ]; then s=up; else s=down; fi\nexec ip -n \"$1\" link set \"$2\" $s\n"), 0o755); err != nil {
		return l, err
	}
	for _, s := range l.Servers {
		dir := filepath.Join(l.Dir, "bmc-"+s.ID)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return l, err
		}
		opts := []ipmisim.Option{ipmisim.WithPowerHook(hook, s.NIC.NS, "eth0")}
		if s.Workload != "" {
			opts = append(opts, ipmisim.WithPoweredOn())
		}
		if s.Sim, err = ipmisim.Launch(dir, opts...); err != nil {
			return l, fmt.Errorf("ipmi_sim of %s: %w", s.ID, err)
		}
		l.closers = append(l.closers, func() error { s.Sim.Stop(); return nil })
		// Until a failover says otherwise, a server boots from the
		// network: a standby has no disk of its own.
		if _, err := s.Sim.Ipmitool(ctx, "chassis", "bootdev", "pxe"); err != nil {
			return l, err
		}
	}

	// The SAN: a target per boot volume, masked to its server.
	dir := filepath.Join(l.Dir, "tgt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return l, err
	}
	if l.TGT, err = tgttest.Launch(dir); err != nil {
		return l, fmt.Errorf("tgtd: %w", err)
	}
	l.closers = append(l.closers, l.TGT.Close)
	for _, s := range l.Servers {
		if s.Boot == "" {
			continue
		}
		if err := l.provision(ctx, s); err != nil {
			return l, err
		}
	}

	// The store.
	dir = filepath.Join(l.Dir, "etcd")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return l, err
	}
	if l.Etcd, err = etcdtest.Launch(dir); err != nil {
		return l, fmt.Errorf("etcd: %w", err)
	}
	l.closers = append(l.closers, func() error { l.Etcd.Stop(); return nil })

	// The site file with this lab's addresses, then the daemons.
	if err := l.writeSite(base); err != nil {
		return l, err
	}
	if l.cfg.Coldstandby == "" {
		if l.cfg.Coldstandby, err = buildColdstandby(ctx, l.Dir); err != nil {
			return l, err
		}
	}
	for _, name := range []string{"lab-a", "lab-b"} {
		d, err := l.startDaemon(ctx, name)
		if err != nil {
			return l, err
		}
		if name == "lab-a" {
			// The first one leads: wait until it does and has read every
			// BMC's event log once (what is there is history, not a fault).
			if err := waitFor(ctx, 30*time.Second, "lab-a to lead and watch every BMC", func() bool {
				st, err := d.status(ctx)
				return err == nil && st.Leading && !st.Recovering && st.Primed == len(l.Servers)
			}); err != nil {
				return l, fmt.Errorf("%w\n%s", err, d.logTail())
			}
		}
	}
	if err := waitFor(ctx, 30*time.Second, "lab-b to follow lab-a", func() bool {
		st, err := l.Daemons[1].status(ctx)
		return err == nil && st.Ready && !st.Leading && st.Leader == "lab-a"
	}); err != nil {
		return l, fmt.Errorf("%w\n%s", err, l.Daemons[1].logTail())
	}
	return l, nil
}

// provision creates s's boot volume in tgtd with a serial number and a
// device identifier of its own, and masks it to s's initiator, as the
// storage administrator did when s was installed.
func (l *Lab) provision(ctx context.Context, s *server) error {
	name, lun, err := tgt.ParseVolumeID(s.Boot)
	if err != nil {
		return err
	}
	if _, err := l.TGT.CreateVolume(ctx, name, lun, s.BootSize); err != nil {
		return err
	}
	tid := strconv.Itoa(l.TGT.TID(name))
	short := name[strings.LastIndexByte(name, ':')+1:]
	if _, err := l.TGT.Run(ctx, "--lld", "iscsi", "--mode", "logicalunit", "--op", "update", "--tid", tid, "--lun", strconv.Itoa(lun),
		"--params", "scsi_sn=LAB-"+strings.ToUpper(short)+",scsi_id=lab-"+short); err != nil {
		return err
	}
	_, err = l.TGT.Run(ctx, "--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", tid, "--initiator-name", s.IQN.String())
	return err
}

// writeSite writes lab.yaml with this lab's addresses: each BMC's
// ipmi_sim, tgtd's control port, the OVSDB socket and etcd.
func (l *Lab) writeSite(base *site.Site) error {
	text := string(siteFile)
	replace := func(old, new string) error {
		if n := strings.Count(text, old); n != 1 {
			return fmt.Errorf("lab.yaml: %q occurs %d times, want once", old, n)
		}
		text = strings.Replace(text, old, new, 1)
		return nil
	}
	var errs []error
	for i, sv := range base.Servers {
		errs = append(errs, replace(strconv.Quote(sv.BMC.Endpoint), strconv.Quote(l.Servers[i].Sim.Addr())))
	}
	errs = append(errs,
		replace(strconv.Quote(base.Arrays[0].Options["controlPort"]), strconv.Quote(strconv.Itoa(l.TGT.Control))),
		replace(strconv.Quote(base.Switches[0].Endpoint), strconv.Quote(l.Net.db)),
		replace(strconv.Quote(base.Store.Etcd.Endpoints[0]), strconv.Quote(l.Etcd.Endpoint)))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	l.SitePath = filepath.Join(l.Dir, "lab.yaml")
	if err := os.WriteFile(l.SitePath, []byte(text), 0o644); err != nil {
		return err
	}
	s, err := site.Load(l.SitePath)
	if err != nil {
		return err
	}
	l.Site = s
	return nil
}

// buildColdstandby builds the coldstandby command of this module into
// dir.
func buildColdstandby(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "coldstandby")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/coldstandby/coldstandby/cmd/coldstandby")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build cmd/coldstandby: %v\n%s", err, out.String())
	}
	return bin, nil
}

// Close stops everything the lab started, in reverse order.
func (l *Lab) Close() error {
	var errs []error
	for _, d := range l.Daemons {
		errs = append(errs, d.stop())
	}
	l.Daemons = nil
	for i := len(l.closers) - 1; i >= 0; i-- {
		errs = append(errs, l.closers[i]())
	}
	l.closers = nil
	return errors.Join(errs...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// waitFor polls cond every 20 ms until it holds, ctx ends or limit
// passes.
func waitFor(ctx context.Context, limit time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", limit, what)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
