// Package ovs is a fabric.VLANSwitch for Open vSwitch, speaking the OVSDB
// management protocol (RFC 7047) to ovsdb-server over a unix socket, TCP
// or TLS. Import it to let coldstandby set the VLANs of OVS ports (a
// hypervisor's or a white-box switch's); it has no dependency beyond the
// standard library.
//
// Every call is one or two OVSDB transactions on the Port table's
// vlan_mode, tag and trunks columns. SetPortVLAN reads the row, then writes
// it in a transaction guarded by a "wait" operation on the values it read,
// so the returned previous setting is exactly what was replaced even when
// another client (ovs-vsctl) writes at the same time; it then waits, like
// ovs-vsctl, until ovs-vswitchd reports that it applied the change
// (Open_vSwitch next_cfg / cur_cfg), and then, through ovs-vswitchd's
// control socket, until the data path's cached flows follow it (see
// SetPortVLAN), so that the port carries the new VLANs, and no longer the
// old ones, when it returns.
//
// # Mapping to fabric.PortVLAN
//
//	fabric.PortVLAN                    OVS Port columns written
//	access N                           vlan_mode=access tag=N trunks=[]
//	trunk T, native 0                  vlan_mode=trunk tag=[] trunks=T
//	trunk T, native N                  vlan_mode=native-untagged tag=N trunks=T
//	trunk with no tagged VLAN          trunks=[4095] (OVS reads [] as "all")
//	trunk of all of 1..4094            trunks=[]
//
// A native VLAN is written native-untagged: untagged frames join VLAN N
// and frames of VLAN N leave untagged, the usual meaning of "native VLAN"
// on switches. When reading, OVS's own spellings are accepted too: an
// empty vlan_mode means access when tag is set and trunk otherwise; empty
// trunks means every VLAN (1..4094); VLANs 0 and 4095 in trunks are
// ignored (OVS's VLAN 0 holds a trunk port's untagged frames, which the
// model calls "native 0"); native-tagged N reads as native N with N also
// among the tagged VLANs, since its frames leave the port tagged. Writing
// that value back gives native-untagged: SetPortVLAN compares normalised
// settings first and leaves a port that already has the requested setting
// untouched, so idempotency holds for every spelling. dot1q-tunnel ports
// and access ports without a VLAN in 1..4094 have no equivalent:
// PortVLAN and SetPortVLAN return ErrUnsupported for them.
package ovs

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/internal/keylock"
)

var _ fabric.VLANSwitch = (*Switch)(nil)

// Switch is a fabric.VLANSwitch over one OVSDB server. It is safe for
// concurrent use; it keeps one connection, reopened after a failure.
type Switch struct {
	network, address string
	db               string
	applyWait        time.Duration
	vswitchdCtl      string // WithVswitchdControl
	log              *slog.Logger
	dial             func(ctx context.Context, network, address string) (net.Conn, error)
	customDial       bool
	tlsConfig        *tls.Config

	connSem chan struct{} // capacity 1: guards conn and closed, waits honour ctx
	conn    *rpcConn
	closed  bool

	ports keylock.Locks // writers of one port take turns
}

// lockPort serialises this Switch's writers of one port, so that they do
// not starve each other in the guarded write; other clients are handled
// by the guard and retries.
func (s *Switch) lockPort(ctx context.Context, port string) (unlock func(), err error) {
	return s.ports.Lock(ctx, port)
}

// Option configures a Switch.
type Option func(*Switch) error

// WithDatabase names the OVSDB database (default "Open_vSwitch").
func WithDatabase(name string) Option {
	return func(s *Switch) error {
		if name == "" {
			return errors.New("empty database name")
		}
		s.db = name
		return nil
	}
}

// WithApplyWait sets how long SetPortVLAN waits for ovs-vswitchd to apply
// a committed change and for the data path to follow (default 10 s). 0
// disables both waits (ovs-vsctl --no-wait), for a database without a
// running ovs-vswitchd.
func WithApplyWait(d time.Duration) Option {
	return func(s *Switch) error {
		if d < 0 {
			return fmt.Errorf("negative apply wait %v", d)
		}
		s.applyWait = d
		return nil
	}
}

// WithVswitchdControl names ovs-vswitchd's control socket (what
// ovs-appctl -t talks to, e.g. "/run/openvswitch/ovs-vswitchd.1234.ctl"),
// through which SetPortVLAN waits until the data path forwards by the new
// VLANs (see SetPortVLAN). By default it is found beside a unix database
// socket, as ovs-appctl finds it; for a database reached over TCP or TLS
// it can only be named, and only on the switch itself.
func WithVswitchdControl(path string) Option {
	return func(s *Switch) error {
		if path == "" {
			return errors.New("empty ovs-vswitchd control socket path")
		}
		s.vswitchdCtl = path
		return nil
	}
}

// WithLogger logs connections and changes to l (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(s *Switch) error {
		if l == nil {
			return errors.New("nil logger")
		}
		s.log = l
		return nil
	}
}

// WithDialer replaces the dialer (default net.Dialer.DialContext), for
// example to reach ovsdb-server through an SSH tunnel or over TLS.
func WithDialer(dial func(ctx context.Context, network, address string) (net.Conn, error)) Option {
	return func(s *Switch) error {
		if dial == nil {
			return errors.New("nil dialer")
		}
		s.dial = dial
		s.customDial = true
		return nil
	}
}

// WithTLS sets the TLS configuration for "ssl:" addresses: the CA that
// signed ovsdb-server's certificate and, since ovsdb-server requires one,
// the client certificate (ovs-vsctl's --ca-cert, --certificate and
// --private-key).
func WithTLS(cfg *tls.Config) Option {
	return func(s *Switch) error {
		if cfg == nil {
			return errors.New("nil TLS config")
		}
		s.tlsConfig = cfg
		return nil
	}
}

// New returns a Switch for the OVSDB server at addr, written as ovs-vsctl
// --db takes it: "unix:/run/openvswitch/db.sock", "tcp:127.0.0.1:6640" or
// "ssl:192.0.2.10:6640" (with WithTLS). It does not connect; the first
// call does.
func New(addr string, opts ...Option) (*Switch, error) {
	network, address, ok := strings.Cut(addr, ":")
	if !ok || address == "" || (network != "unix" && network != "tcp" && network != "ssl") {
		return nil, fmt.Errorf("ovs: database address %q: want unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT: %w", addr, fabric.ErrInvalid)
	}
	var d net.Dialer
	s := &Switch{
		network:   network,
		address:   address,
		db:        "Open_vSwitch",
		applyWait: 10 * time.Second,
		log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		dial:      d.DialContext,
		connSem:   make(chan struct{}, 1),
	}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, fmt.Errorf("ovs: %w: %w", err, fabric.ErrInvalid)
		}
	}
	switch {
	case network == "ssl" && s.tlsConfig == nil:
		return nil, fmt.Errorf("ovs: database address %q needs WithTLS: %w", addr, fabric.ErrInvalid)
	case network != "ssl" && s.tlsConfig != nil:
		return nil, fmt.Errorf("ovs: WithTLS given for %q, which is not an ssl: address: %w", addr, fabric.ErrInvalid)
	case network == "ssl":
		s.network = "tcp"
		if !s.customDial {
			td := &tls.Dialer{Config: s.tlsConfig}
			s.dial = td.DialContext
		} else {
			raw, cfg := s.dial, s.tlsConfig
			s.dial = func(ctx context.Context, network, address string) (net.Conn, error) {
				c, err := raw(ctx, network, address)
				if err != nil {
					return nil, err
				}
				cfg := cfg.Clone()
				if cfg.ServerName == "" {
					cfg.ServerName, _, _ = net.SplitHostPort(address)
				}
				tc := tls.Client(c, cfg)
				if err := tc.HandshakeContext(ctx); err != nil {
					c.Close()
					return nil, err
				}
				return tc, nil
			}
		}
	}
	return s, nil
}

// Close closes the connection. Calls after Close fail with ErrTransient.
func (s *Switch) Close() error {
	s.connSem <- struct{}{}
	defer func() { <-s.connSem }()
	s.closed = true
	if s.conn != nil {
		s.conn.close()
		s.conn = nil
	}
	return nil
}

// dialTimeout bounds one connection attempt when ctx has no sooner
// deadline (a TCP connect to a host that drops packets takes minutes).
const dialTimeout = 10 * time.Second

// connect returns the open connection or dials a new one. Callers waiting
// for another caller's dial give up with their own ctx.
func (s *Switch) connect(ctx context.Context) (*rpcConn, error) {
	select {
	case s.connSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.connSem }()
	if s.closed {
		return nil, errors.New("switch closed")
	}
	if s.conn != nil && !s.conn.broken() {
		return s.conn, nil
	}
	if s.conn != nil {
		s.conn.close()
		s.conn = nil
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, err := s.dial(dctx, s.network, s.address)
	if err != nil {
		return nil, err
	}
	s.log.Debug("ovs: connected", "driver", "ovs", "db", s.network+":"+s.address)
	s.conn = newRPCConn(c)
	return s.conn, nil
}

// transact runs one OVSDB transaction and returns its per-operation
// results. Failures are classified: not sent is ErrTransient; sent and
// unanswered is ErrOutcomeUnknown when write is true, else ErrTransient;
// ctx errors are wrapped as well.
func (s *Switch) transact(ctx context.Context, write bool, ops ...map[string]any) ([]opResult, error) {
	c, err := s.connect(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect to %s:%s: %w: %w", s.network, s.address, ctx.Err(), fabric.ErrTransient)
		}
		return nil, fmt.Errorf("connect to %s:%s: %v: %w", s.network, s.address, err, fabric.ErrTransient)
	}
	params := []any{s.db}
	for _, op := range ops {
		params = append(params, op)
	}
	raw, err := c.call(ctx, "transact", params)
	if err != nil {
		var ce *callError
		var re *rpcError
		switch {
		case errors.As(err, &re):
			if strings.Contains(re.raw, "unknown database") {
				return nil, fmt.Errorf("%v: %w", err, fabric.ErrUnsupported)
			}
			return nil, fmt.Errorf("%v: %w", err, fabric.ErrTransient)
		case errors.As(err, &ce) && ce.sent && write:
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, fmt.Errorf("transaction sent, no answer: %w: %w", ctxErr, fabric.ErrOutcomeUnknown)
			}
			return nil, fmt.Errorf("transaction sent, no answer: %v: %w", err, fabric.ErrOutcomeUnknown)
		default:
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, fmt.Errorf("%w: %w", ctxErr, fabric.ErrTransient)
			}
			return nil, fmt.Errorf("%v: %w", err, fabric.ErrTransient)
		}
	}
	var results []opResult
	if err := json.Unmarshal(raw, &results); err != nil {
		return nil, fmt.Errorf("malformed transact result %.200s: %w", raw, fabric.ErrTransient)
	}
	// RFC 7047 4.1.3: an error in operation i leaves result i an error;
	// a commit failure adds one more element. Nothing was applied then.
	for i, r := range results {
		if r.Error == "" {
			continue
		}
		if r.Error == "timed out" && i < len(ops) && ops[i]["op"] == "wait" {
			return nil, errWaitFailed
		}
		kind := fabric.ErrTransient
		switch r.Error {
		case "constraint violation", "syntax error", "domain error", "range error", "unknown column", "unknown table":
			kind = fabric.ErrInvalid
		}
		return nil, fmt.Errorf("database refused the transaction: %s (%s): %w", r.Error, r.Details, kind)
	}
	if len(results) < len(ops) {
		return nil, fmt.Errorf("transact answered %d results for %d operations: %w", len(results), len(ops), fabric.ErrTransient)
	}
	return results, nil
}

// errWaitFailed: the row changed between our read and our write.
var errWaitFailed = errors.New("port changed concurrently")

type opResult struct {
	Rows    []map[string]json.RawMessage `json:"rows"`
	Count   int                          `json:"count"`
	Error   string                       `json:"error"`
	Details string                       `json:"details"`
}

// portRow reads the Port row named port.
func (s *Switch) portRow(ctx context.Context, port string) (map[string]json.RawMessage, error) {
	res, err := s.transact(ctx, false, map[string]any{
		"op":      "select",
		"table":   "Port",
		"where":   []any{[]any{"name", "==", port}},
		"columns": []string{"_uuid", "vlan_mode", "tag", "trunks"},
	})
	if err != nil {
		return nil, err
	}
	if len(res[0].Rows) == 0 {
		return nil, fmt.Errorf("no port %q: %w", port, fabric.ErrNotFound)
	}
	return res[0].Rows[0], nil
}

func checkPort(port string) error {
	if port == "" {
		return fmt.Errorf("empty port name: %w", fabric.ErrInvalid)
	}
	return nil
}

// PortVLAN reads port's VLAN setting (see the package doc for the
// mapping). Errors: ErrNotFound for an unknown port; ErrUnsupported for a
// setting outside the model; ErrTransient.
func (s *Switch) PortVLAN(ctx context.Context, port string) (fabric.PortVLAN, error) {
	if err := checkPort(port); err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("ovs: read VLANs of %q: %w", port, err)
	}
	row, err := s.portRow(ctx, port)
	if err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("ovs: read VLANs of %s: %w", port, err)
	}
	p, err := decodePort(row)
	if err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("ovs: read VLANs of %s: %v: %w", port, err, fabric.ErrTransient)
	}
	v, err := p.toPortVLAN()
	if err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("ovs: read VLANs of %s: %w", port, err)
	}
	return v, nil
}

// maxAttempts bounds the retries when another client changes the port
// between SetPortVLAN's read and its guarded write.
const maxAttempts = 5

// SetPortVLAN replaces port's VLAN setting with v and returns the one it
// replaced, then waits for ovs-vswitchd to apply it (WithApplyWait).
// When the port already has v it writes nothing.
//
// ovs-vswitchd reports a change applied before its revalidators have
// replaced the flows cached in the data path, which forward by the old
// setting meanwhile (tens of milliseconds on a loaded host). When
// SetPortVLAN can reach ovs-vswitchd's control socket (WithVswitchdControl;
// found by default beside a unix database socket), it also waits until a
// full revalidation pass has started and ended after the change, so no
// frame sent after it returns is forwarded by the old setting. That costs
// up to two revalidation periods (other_config:max-revalidator, 500 ms by
// default). Without the socket (a remote database) it returns once the
// change is applied, and cached flows may follow a little later.
//
// Errors: ErrInvalid; ErrNotFound; ErrUnsupported when the current setting
// has no equivalent in the model (see the package doc); ErrConflict when
// other clients kept changing the port; ErrTransient; ErrOutcomeUnknown
// (also when ovs-vswitchd, or the data path through a control socket named
// by WithVswitchdControl, did not confirm in time: the database holds v,
// re-read); ctx errors.
func (s *Switch) SetPortVLAN(ctx context.Context, port string, v fabric.PortVLAN) (fabric.PortVLAN, error) {
	if err := checkPort(port); err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("ovs: set VLANs of %q: %w", port, err)
	}
	if err := v.Validate(); err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("ovs: set VLANs of %s: %w", port, err)
	}
	v = v.Normalize()
	unlock, err := s.lockPort(ctx, port)
	if err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("ovs: set VLANs of %s: waiting for another change of the port: %w", port, err)
	}
	defer unlock()
	for attempt := 1; ; attempt++ {
		prev, err := s.setOnce(ctx, port, v)
		if errors.Is(err, errWaitFailed) {
			if attempt < maxAttempts {
				continue
			}
			err = fmt.Errorf("%w %d times: %w", err, attempt, fabric.ErrConflict)
		}
		if err != nil {
			return fabric.PortVLAN{}, fmt.Errorf("ovs: set VLANs of %s to %v: %w", port, v, err)
		}
		return prev, nil
	}
}

func (s *Switch) setOnce(ctx context.Context, port string, v fabric.PortVLAN) (fabric.PortVLAN, error) {
	row, err := s.portRow(ctx, port)
	if err != nil {
		return fabric.PortVLAN{}, err
	}
	p, err := decodePort(row)
	if err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("%v: %w", err, fabric.ErrTransient)
	}
	prev, err := p.toPortVLAN()
	if err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("current setting: %w", err)
	}
	if prev.Equal(v) {
		return prev, nil
	}
	byUUID := []any{[]any{"_uuid", "==", row["_uuid"]}}
	ops := []map[string]any{
		{
			"op": "wait", "table": "Port", "timeout": 0, "where": byUUID,
			"columns": []string{"vlan_mode", "tag", "trunks"},
			"until":   "==",
			"rows":    []any{map[string]json.RawMessage{"vlan_mode": row["vlan_mode"], "tag": row["tag"], "trunks": row["trunks"]}},
		},
		{"op": "update", "table": "Port", "where": byUUID, "row": fromPortVLAN(v).row()},
		{"op": "comment", "comment": "coldstandby: set VLANs of " + port + " to " + v.String()},
	}
	if s.applyWait > 0 {
		ops = append(ops,
			map[string]any{"op": "mutate", "table": "Open_vSwitch", "where": []any{}, "mutations": []any{[]any{"next_cfg", "+=", 1}}},
			map[string]any{"op": "select", "table": "Open_vSwitch", "where": []any{}, "columns": []string{"next_cfg"}},
		)
	}
	start := time.Now()
	res, err := s.transact(ctx, true, ops...)
	if err != nil {
		return fabric.PortVLAN{}, err
	}
	if res[1].Count == 0 { // the row went away after the wait: deleted
		return fabric.PortVLAN{}, fmt.Errorf("no port %q: %w", port, fabric.ErrNotFound)
	}
	s.log.Info("ovs: port VLANs set", "driver", "ovs", "port", port, "prev", prev.String(), "vlan", v.String())
	if s.applyWait == 0 {
		return prev, nil
	}
	next, err := readNextCfg(res[4])
	if err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("committed, but %v: %w", err, fabric.ErrOutcomeUnknown)
	}
	// One deadline for both confirmations.
	wctx, cancel := context.WithTimeout(ctx, s.applyWait)
	defer cancel()
	if err := s.waitApplied(wctx, next); err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("committed, %w", err)
	}
	if err := s.waitDatapath(wctx); err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("committed, %w", err)
	}
	s.log.Debug("ovs: applied", "driver", "ovs", "port", port, "took", time.Since(start))
	return prev, nil
}

// waitApplied polls Open_vSwitch.cur_cfg until ovs-vswitchd has caught up
// with next (what ovs-vsctl does without --no-wait) or ctx, which carries
// the apply deadline, ends.
func (s *Switch) waitApplied(ctx context.Context, next int64) error {
	delay := time.Millisecond
	for {
		res, err := s.transact(ctx, false, map[string]any{
			"op": "select", "table": "Open_vSwitch", "where": []any{}, "columns": []string{"cur_cfg"},
		})
		if err == nil && len(res[0].Rows) == 1 {
			cur, _ := decodeSet[int64](res[0].Rows[0]["cur_cfg"])
			if len(cur) == 1 && cur[0] >= next {
				return nil
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("ovs-vswitchd did not confirm within %v: %w: %w", s.applyWait, ctx.Err(), fabric.ErrOutcomeUnknown)
		case <-t.C:
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}
