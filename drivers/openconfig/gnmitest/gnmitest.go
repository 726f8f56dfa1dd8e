// Package gnmitest is an in-process gNMI target for tests: it keeps the
// OpenConfig switched-vlan configuration of a set of interfaces, answers
// Get and Set (Delete, Replace, Update, applied atomically) on
//
//	/interfaces/interface[name=X]/ethernet/switched-vlan/config[/LEAF]
//
// (aggregation instead of ethernet for interfaces made with AddLAG)
// over grpc/test/bufconn, optionally with TLS and username/password
// metadata, validates paths and values as the openconfig-vlan model says,
// and answers errors with the gRPC codes the gNMI specification gives.
//
// Import it from tests of code that drives gNMI switches
// (drivers/openconfig). Behaviour follows the gNMI specification
// (openconfig/reference rpc/gnmi/gnmi-specification.md: 2.2.2.1 path
// target only in the prefix, 3.3 Get, 3.4 Set, 2.6 errors),
// openconfig-vlan.yang and openconfig-vlan-types.yang (openconfig/public
// release/models/vlan: interface-mode ACCESS or TRUNK, access-vlan and
// native-vlan of type vlan-id, uint16 1..4094; trunk-vlans a union of
// vlan-id and vlan-range, a string "x..y" matching the module's pattern)
// and RFC 7951 (JSON_IETF: a uint16 is a JSON number, top-level members
// are module-qualified).
//
// # Dialects
//
// WithDialect makes the server answer as a particular implementation
// does, as its users' clients show:
//
//   - Generic (the default) follows the models strictly: a trunk-vlans
//     element is a number or a "x..y" string, and a numeric string such
//     as "10" matches neither member of the union and is refused.
//   - EOS answers as Arista EOS, as SAP's networking-ccloud
//     (github.com/sapcc/networking-ccloud, networking_ccloud/ml2/agent/
//     eos/switch.py and its unit-test fixtures) shows it: a trunk always
//     reports native-vlan (1 when none was set), trunk-vlans mixes
//     numbers and "x..y" strings, and single VLANs sent as strings ("10",
//     as networking-ccloud's _compress_vlan_list sends them) are taken.
//   - SONiC answers as the SONiC management framework, as
//     sonic-net/sonic-mgmt-common translib/transformer/sw_vlan.go and the
//     SONiC design doc doc/mgmt/OpenConfig_VLAN_Interface.md show it: a
//     container GET is wrapped, {"openconfig-vlan:config":{...}}, with
//     unqualified leaves; trunk-vlans come back one number per VLAN;
//     there is no native-vlan (models/yang/extensions/
//     openconfig-interfaces-deviation.yang marks it not-supported on
//     aggregates, so it is refused there, and the transformer never
//     reads it on Ethernet ports, so it is dropped there): the untagged
//     VLAN of a trunk port is its access-vlan; a string element without
//     ".." (or "-") adds no VLAN (utils.ExtractVlanIdsFromRange) and one
//     with it adds the range.
package gnmitest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gnmipb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// ServerName is the TLS name of the server's certificate.
const ServerName = "gnmi.test"

// Config is one interface's switched-vlan configuration; zero values are
// absent leaves. TrunkVLANs holds numbers (int) and "a..b" strings.
type Config struct {
	Mode       string // "ACCESS", "TRUNK" or "" (absent)
	AccessVLAN int
	NativeVLAN int
	TrunkVLANs []any
}

// Dialect selects how a Server reads and answers values (see the
// package doc).
type Dialect int

// Dialects.
const (
	Generic Dialect = iota
	EOS
	SONiC
)

// Server is a running gNMI target.
type Server struct {
	lis       *bufconn.Listener
	srv       *grpc.Server
	tlsClient *tls.Config
	user      string
	pass      string
	leafMode  bool
	dialect   Dialect

	mu       sync.Mutex
	ifaces   map[string]*Config // nil *Config: an interface without switched-vlan
	lags     map[string]bool    // interfaces whose container is aggregation
	failNext []codes.Code
	failSet  []codes.Code
	stall    time.Duration
	sets     int
	lastSet  *gnmipb.SetRequest
}

// Option configures a Server.
type Option func(*Server)

// WithTLS serves TLS with a certificate made for the test; ClientTLS
// returns the matching client configuration.
func WithTLS() Option { return func(s *Server) { s.tlsClient = &tls.Config{} } }

// WithCredentials requires "username" and "password" request metadata.
func WithCredentials(user, pass string) Option {
	return func(s *Server) { s.user, s.pass = user, pass }
}

// WithDialect makes the server read and answer values as dialect d does.
func WithDialect(d Dialect) Option { return func(s *Server) { s.dialect = d } }

// WithLeafUpdates makes Get answer each leaf as its own update with a
// scalar TypedValue (uint_val, string_val, leaflist_val), as some targets
// do, instead of one JSON_IETF container.
func WithLeafUpdates() Option { return func(s *Server) { s.leafMode = true } }

// Start runs a Server until the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{lis: bufconn.Listen(1 << 20), ifaces: map[string]*Config{}, lags: map[string]bool{}}
	for _, o := range opts {
		o(s)
	}
	var sopts []grpc.ServerOption
	if s.tlsClient != nil {
		cert, pool, err := selfSigned()
		if err != nil {
			t.Fatalf("gnmitest: certificate: %v", err)
		}
		sopts = append(sopts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})))
		s.tlsClient = &tls.Config{RootCAs: pool, ServerName: ServerName, MinVersion: tls.VersionTLS12}
	}
	s.srv = grpc.NewServer(sopts...)
	gnmipb.RegisterGNMIServer(s.srv, &service{s: s})
	go func() { _ = s.srv.Serve(s.lis) }()
	t.Cleanup(s.srv.Stop)
	return s
}

// Target is the gRPC target name to dial (with DialOption).
func (s *Server) Target() string { return "passthrough:///" + ServerName }

// DialOption connects gRPC clients to the in-process listener.
func (s *Server) DialOption() grpc.DialOption {
	return grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return s.lis.DialContext(ctx)
	})
}

// ClientTLS returns a client TLS configuration that trusts the server
// (nil without WithTLS).
func (s *Server) ClientTLS() *tls.Config { return s.tlsClient.Clone() }

// AddInterface creates (or replaces) interface name with configuration c;
// a nil c makes a routed interface without switched-vlan configuration.
func (s *Server) AddInterface(name string, c *Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c != nil {
		cp := *c
		cp.TrunkVLANs = append([]any(nil), c.TrunkVLANs...)
		c = &cp
	}
	s.ifaces[name] = c
}

// AddLAG creates (or replaces) aggregate interface name, whose
// switched-vlan lives under aggregation instead of ethernet.
func (s *Server) AddLAG(name string, c *Config) {
	s.AddInterface(name, c)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lags[name] = true
}

// Interface returns interface name's configuration as stored, and whether
// it has one.
func (s *Server) Interface(name string) (Config, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.ifaces[name]
	if c == nil {
		return Config{}, false
	}
	cp := *c
	cp.TrunkVLANs = append([]any(nil), c.TrunkVLANs...)
	return cp, true
}

// FailNext makes the next Get or Set fail with code, without effect.
func (s *Server) FailNext(code codes.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, code)
}

// FailNextSet makes the next Set fail with code, without effect; Gets
// are not affected.
func (s *Server) FailNextSet(code codes.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failSet = append(s.failSet, code)
}

// StallNext holds the next Get or Set for d before carrying it out and
// answering, even if the client gives up meanwhile.
func (s *Server) StallNext(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stall = d
}

// held sleeps for a pending stall (called without s.mu).
func (s *Server) held() {
	s.mu.Lock()
	d := s.stall
	s.stall = 0
	s.mu.Unlock()
	time.Sleep(d)
}

// LastSet returns the last SetRequest the server applied, or nil.
func (s *Server) LastSet() *gnmipb.SetRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastSet
}

// Sets counts the Set RPCs that changed the configuration.
func (s *Server) Sets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sets
}

type service struct {
	gnmipb.UnimplementedGNMIServer
	s *Server
}

func (v *service) authenticate(ctx context.Context) error {
	if v.s.user == "" {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if first(md.Get("username")) != v.s.user || first(md.Get("password")) != v.s.pass {
		return status.Error(codes.Unauthenticated, "bad username or password")
	}
	return nil
}

func first(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return l[0]
}

// injected returns the next injected failure, if any (s.mu held).
func (s *Server) injected() error {
	if len(s.failNext) == 0 {
		return nil
	}
	code := s.failNext[0]
	s.failNext = s.failNext[1:]
	return status.Errorf(code, "injected failure")
}

func (v *service) Capabilities(ctx context.Context, _ *gnmipb.CapabilityRequest) (*gnmipb.CapabilityResponse, error) {
	if err := v.authenticate(ctx); err != nil {
		return nil, err
	}
	return &gnmipb.CapabilityResponse{
		SupportedModels: []*gnmipb.ModelData{
			{Name: "openconfig-interfaces", Organization: "OpenConfig working group", Version: "3.0.0"},
			{Name: "openconfig-vlan", Organization: "OpenConfig working group", Version: "3.2.0"},
		},
		SupportedEncodings: []gnmipb.Encoding{gnmipb.Encoding_JSON_IETF, gnmipb.Encoding_JSON},
		GNMIVersion:        "0.10.0",
	}, nil
}

// location is a parsed path: an interface and an optional leaf.
type location struct {
	iface     string
	container string // "ethernet" or "aggregation"
	leaf      string // "" for the config container
}

var leaves = map[string]bool{"interface-mode": true, "access-vlan": true, "native-vlan": true, "trunk-vlans": true}

func stripModule(name string) (string, error) {
	mod, local, ok := strings.Cut(name, ":")
	if !ok {
		return name, nil
	}
	switch mod {
	case "openconfig-interfaces", "openconfig-if-ethernet", "openconfig-if-aggregate", "openconfig-vlan":
		return local, nil
	}
	return "", status.Errorf(codes.InvalidArgument, "unknown module %q in %q", mod, name)
}

// parsePath checks that prefix+p names the switched-vlan config container
// or one of its leaves. A path of another shape is InvalidArgument (not a
// path this target supports).
func parsePath(prefix, p *gnmipb.Path) (location, error) {
	origin := p.GetOrigin()
	if origin == "" {
		origin = prefix.GetOrigin()
	}
	if origin != "" && origin != "openconfig" {
		return location{}, status.Errorf(codes.InvalidArgument, "unsupported origin %q", origin)
	}
	if p.GetTarget() != "" {
		// gNMI specification 2.2.2.1: the target "MUST only ever be
		// present on the prefix path".
		return location{}, status.Error(codes.InvalidArgument, "path target is only allowed in the prefix")
	}
	if len(p.GetElement()) > 0 || len(prefix.GetElement()) > 0 {
		return location{}, status.Error(codes.InvalidArgument, "deprecated string path elements are not supported; use elem")
	}
	elems := append(append([]*gnmipb.PathElem(nil), prefix.GetElem()...), p.GetElem()...)
	want := []string{"interfaces", "interface", "ethernet", "switched-vlan", "config"}
	if len(elems) < len(want) || len(elems) > len(want)+1 {
		return location{}, status.Errorf(codes.InvalidArgument, "unsupported path %s", pathString(elems))
	}
	loc := location{container: "ethernet"}
	for i, e := range elems {
		name, err := stripModule(e.GetName())
		if err != nil {
			return location{}, err
		}
		if i == 2 && name == "aggregation" {
			loc.container = name
		} else if i < len(want) && name != want[i] {
			return location{}, status.Errorf(codes.InvalidArgument, "unsupported path %s", pathString(elems))
		}
		switch {
		case i == 1:
			n, ok := e.GetKey()["name"]
			if !ok || n == "" || len(e.GetKey()) != 1 {
				return location{}, status.Errorf(codes.InvalidArgument, "interface needs exactly the key name: %s", pathString(elems))
			}
			loc.iface = n
		case len(e.GetKey()) != 0:
			return location{}, status.Errorf(codes.InvalidArgument, "unexpected key on %s", name)
		case i == len(want):
			if !leaves[name] {
				return location{}, status.Errorf(codes.InvalidArgument, "unknown leaf %q", name)
			}
			loc.leaf = name
		}
	}
	return loc, nil
}

func pathString(elems []*gnmipb.PathElem) string {
	var b strings.Builder
	for _, e := range elems {
		b.WriteString("/" + e.GetName())
		for k, v := range e.GetKey() {
			fmt.Fprintf(&b, "[%s=%s]", k, v)
		}
	}
	return b.String()
}

func (v *service) Get(ctx context.Context, req *gnmipb.GetRequest) (*gnmipb.GetResponse, error) {
	if err := v.authenticate(ctx); err != nil {
		return nil, err
	}
	switch req.GetEncoding() {
	case gnmipb.Encoding_JSON_IETF, gnmipb.Encoding_JSON:
	default:
		return nil, status.Errorf(codes.Unimplemented, "encoding %v not supported", req.GetEncoding())
	}
	if len(req.GetUseModels()) > 0 {
		return nil, status.Error(codes.Unimplemented, "use_models not supported")
	}
	s := v.s
	s.held()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.injected(); err != nil {
		return nil, err
	}
	if len(req.GetPath()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "no path")
	}
	n := &gnmipb.Notification{Timestamp: time.Now().UnixNano(), Prefix: req.GetPrefix()}
	for _, p := range req.GetPath() {
		loc, err := parsePath(req.GetPrefix(), p)
		if err != nil {
			return nil, err
		}
		c, ok := s.ifaces[loc.iface]
		if !ok {
			return nil, status.Errorf(codes.NotFound, "no interface %q", loc.iface)
		}
		if s.lags[loc.iface] != (loc.container == "aggregation") {
			return nil, status.Errorf(codes.NotFound, "interface %q has no %s container", loc.iface, loc.container)
		}
		if c == nil {
			return nil, status.Errorf(codes.NotFound, "interface %q has no switched-vlan configuration", loc.iface)
		}
		obj := s.render(c)
		switch {
		case loc.leaf != "":
			x, ok := obj["openconfig-vlan:"+loc.leaf]
			if !ok {
				return nil, status.Errorf(codes.NotFound, "leaf %s of %q not set", loc.leaf, loc.iface)
			}
			if s.dialect == SONiC {
				// SONiC names the leaf in its value too:
				// {"openconfig-vlan:access-vlan":20} (design doc, 3.3.2.1).
				x = map[string]any{"openconfig-vlan:" + loc.leaf: x}
			}
			n.Update = append(n.Update, &gnmipb.Update{Path: p, Val: jsonVal(x, req.GetEncoding())})
		case s.leafMode:
			for _, k := range []string{"interface-mode", "access-vlan", "native-vlan", "trunk-vlans"} {
				x, ok := obj["openconfig-vlan:"+k]
				if !ok {
					continue
				}
				lp := &gnmipb.Path{Origin: p.GetOrigin(), Elem: append(append([]*gnmipb.PathElem(nil), p.GetElem()...), &gnmipb.PathElem{Name: k})}
				n.Update = append(n.Update, &gnmipb.Update{Path: lp, Val: scalarVal(x)})
			}
		case s.dialect == SONiC:
			inner := map[string]any{}
			for k, v := range obj {
				inner[strings.TrimPrefix(k, "openconfig-vlan:")] = v
			}
			n.Update = append(n.Update, &gnmipb.Update{Path: p, Val: jsonVal(map[string]any{"openconfig-vlan:config": inner}, req.GetEncoding())})
		default:
			n.Update = append(n.Update, &gnmipb.Update{Path: p, Val: jsonVal(obj, req.GetEncoding())})
		}
	}
	return &gnmipb.GetResponse{Notification: []*gnmipb.Notification{n}}, nil
}

func jsonVal(x any, enc gnmipb.Encoding) *gnmipb.TypedValue {
	b, _ := json.Marshal(x)
	if enc == gnmipb.Encoding_JSON {
		return &gnmipb.TypedValue{Value: &gnmipb.TypedValue_JsonVal{JsonVal: b}}
	}
	return &gnmipb.TypedValue{Value: &gnmipb.TypedValue_JsonIetfVal{JsonIetfVal: b}}
}

func scalarVal(x any) *gnmipb.TypedValue {
	switch y := x.(type) {
	case int:
		return &gnmipb.TypedValue{Value: &gnmipb.TypedValue_UintVal{UintVal: uint64(y)}}
	case string:
		return &gnmipb.TypedValue{Value: &gnmipb.TypedValue_StringVal{StringVal: y}}
	case []any:
		var el []*gnmipb.TypedValue
		for _, e := range y {
			el = append(el, scalarVal(e))
		}
		return &gnmipb.TypedValue{Value: &gnmipb.TypedValue_LeaflistVal{LeaflistVal: &gnmipb.ScalarArray{Element: el}}}
	}
	panic(fmt.Sprintf("gnmitest: no scalar for %T", x))
}

// render returns c's leaves as the server's dialect reports them,
// module-qualified: EOS reports native-vlan 1 on a trunk that has none
// set; SONiC reports a trunk's untagged VLAN as access-vlan and its
// trunk VLANs one number each.
func (s *Server) render(c *Config) map[string]any {
	m := c.json()
	switch s.dialect {
	case EOS:
		if c.Mode == "TRUNK" && c.NativeVLAN == 0 {
			m["openconfig-vlan:native-vlan"] = 1
		}
	case SONiC:
		delete(m, "openconfig-vlan:native-vlan")
		if c.Mode == "TRUNK" && c.NativeVLAN != 0 {
			m["openconfig-vlan:access-vlan"] = c.NativeVLAN
		}
		if len(c.TrunkVLANs) > 0 {
			var ids []any
			for _, x := range c.TrunkVLANs {
				switch y := x.(type) {
				case int:
					ids = append(ids, y)
				case string:
					a, b, _ := strings.Cut(y, "..")
					lo, _ := strconv.Atoi(a)
					hi, _ := strconv.Atoi(b)
					for id := lo; id <= hi; id++ {
						ids = append(ids, id)
					}
				}
			}
			m["openconfig-vlan:trunk-vlans"] = ids
		}
	}
	return m
}

// json renders c as a JSON_IETF object with module-qualified members.
func (c *Config) json() map[string]any {
	m := map[string]any{}
	if c.Mode != "" {
		m["openconfig-vlan:interface-mode"] = c.Mode
	}
	if c.AccessVLAN != 0 {
		m["openconfig-vlan:access-vlan"] = c.AccessVLAN
	}
	if c.NativeVLAN != 0 {
		m["openconfig-vlan:native-vlan"] = c.NativeVLAN
	}
	if len(c.TrunkVLANs) > 0 {
		m["openconfig-vlan:trunk-vlans"] = append([]any(nil), c.TrunkVLANs...)
	}
	return m
}

// vlanRangeRE is openconfig-vlan-types.yang's vlan-range pattern: two
// VLAN ids in 1..4094 without leading zeros, joined by "..".
var vlanRangeRE = regexp.MustCompile(`^(409[0-4]|40[0-8][0-9]|[1-3][0-9]{3}|[1-9][0-9]{1,2}|[1-9])\.\.(409[0-4]|40[0-8][0-9]|[1-3][0-9]{3}|[1-9][0-9]{1,2}|[1-9])$`)

var numericRE = regexp.MustCompile(`^[0-9]+$`)

// setLeaf validates and stores one leaf value (decoded JSON) of the
// container (ethernet or aggregation) as the dialect d does.
func (c *Config) setLeaf(d Dialect, container, leaf string, x any) error {
	vlan := func() (int, error) {
		f, ok := x.(float64)
		if !ok || f != float64(int(f)) || f < 1 || f > 4094 {
			return 0, status.Errorf(codes.InvalidArgument, "%s: %v is not a vlan-id (a number in 1..4094)", leaf, x)
		}
		return int(f), nil
	}
	var err error
	switch leaf {
	case "interface-mode":
		m, _ := x.(string)
		if _, after, ok := strings.Cut(m, ":"); ok {
			m = after
		}
		if m != "ACCESS" && m != "TRUNK" {
			return status.Errorf(codes.InvalidArgument, "interface-mode: %v is not ACCESS or TRUNK", x)
		}
		c.Mode = m
	case "access-vlan":
		c.AccessVLAN, err = vlan()
	case "native-vlan":
		if d == SONiC {
			if container == "aggregation" {
				return status.Error(codes.InvalidArgument, "native-vlan is not supported") // deviate not-supported
			}
			return nil // the transformer never reads it
		}
		c.NativeVLAN, err = vlan()
	case "trunk-vlans":
		list, ok := x.([]any)
		if !ok {
			list = []any{x}
		}
		var out []any
		for _, e := range list {
			switch y := e.(type) {
			case float64:
				if y != float64(int(y)) || y < 1 || y > 4094 {
					return status.Errorf(codes.InvalidArgument, "trunk-vlans: %v is not a vlan-id in 1..4094", y)
				}
				out = append(out, int(y))
			case string:
				switch {
				case d == SONiC && !strings.Contains(y, "..") && !strings.Contains(y, "-"):
					// ExtractVlanIdsFromRange adds nothing for it.
				case d == SONiC:
					a, b, ok := strings.Cut(y, "..")
					if !ok {
						a, b, _ = strings.Cut(y, "-")
					}
					lo, _ := strconv.Atoi(a)
					hi, _ := strconv.Atoi(b)
					for id := lo; id <= hi && id <= 4094; id++ {
						if id >= 1 {
							out = append(out, id)
						}
					}
				case d == EOS && numericRE.MatchString(y):
					id, _ := strconv.Atoi(y)
					if id < 1 || id > 4094 {
						return status.Errorf(codes.InvalidArgument, "trunk-vlans: %q is not a VLAN id in 1..4094", y)
					}
					out = append(out, id)
				case vlanRangeRE.MatchString(y):
					out = append(out, y)
				default:
					return status.Errorf(codes.InvalidArgument, "trunk-vlans: %q matches neither vlan-id (a number) nor vlan-range (x..y)", y)
				}
			default:
				return status.Errorf(codes.InvalidArgument, "trunk-vlans: unexpected %v", e)
			}
		}
		c.TrunkVLANs = out
	}
	return err
}

func (c *Config) clearLeaf(leaf string) {
	switch leaf {
	case "interface-mode":
		c.Mode = ""
	case "access-vlan":
		c.AccessVLAN = 0
	case "native-vlan":
		c.NativeVLAN = 0
	case "trunk-vlans":
		c.TrunkVLANs = nil
	}
}

// decodeUpdate returns the leaves an update carries.
func decodeUpdate(loc location, tv *gnmipb.TypedValue) (map[string]any, error) {
	var x any
	switch val := tv.GetValue().(type) {
	case *gnmipb.TypedValue_JsonIetfVal:
		if err := json.Unmarshal(val.JsonIetfVal, &x); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "bad JSON_IETF value: %v", err)
		}
	case *gnmipb.TypedValue_JsonVal:
		if err := json.Unmarshal(val.JsonVal, &x); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "bad JSON value: %v", err)
		}
	case *gnmipb.TypedValue_UintVal:
		x = float64(val.UintVal)
	case *gnmipb.TypedValue_StringVal:
		x = val.StringVal
	default:
		return nil, status.Errorf(codes.InvalidArgument, "unsupported value type %T", tv.GetValue())
	}
	if loc.leaf != "" {
		return map[string]any{loc.leaf: x}, nil
	}
	obj, ok := x.(map[string]any)
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument, "config container value must be an object, not %T", x)
	}
	// The container named in its own value, {"openconfig-vlan:config":
	// {...}}, as SONiC's gnmi_set example sends it.
	if inner, ok := obj["openconfig-vlan:config"].(map[string]any); ok && len(obj) == 1 {
		obj = inner
	}
	out := map[string]any{}
	for k, y := range obj {
		name, err := stripModule(k)
		if err != nil {
			return nil, err
		}
		if !leaves[name] {
			return nil, status.Errorf(codes.InvalidArgument, "unknown leaf %q in config", k)
		}
		out[name] = y
	}
	return out, nil
}

func (v *service) Set(ctx context.Context, req *gnmipb.SetRequest) (*gnmipb.SetResponse, error) {
	if err := v.authenticate(ctx); err != nil {
		return nil, err
	}
	s := v.s
	s.held()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.injected(); err != nil {
		return nil, err
	}
	if len(s.failSet) > 0 {
		code := s.failSet[0]
		s.failSet = s.failSet[1:]
		return nil, status.Errorf(code, "injected Set failure")
	}
	// Work on copies; commit only if every operation succeeds (3.4.3).
	work := map[string]*Config{}
	get := func(loc location) (*Config, error) {
		if c, ok := work[loc.iface]; ok {
			return c, nil
		}
		c, ok := s.ifaces[loc.iface]
		if !ok {
			return nil, status.Errorf(codes.NotFound, "no interface %q", loc.iface)
		}
		if s.lags[loc.iface] != (loc.container == "aggregation") {
			return nil, status.Errorf(codes.NotFound, "interface %q has no %s container", loc.iface, loc.container)
		}
		cp := &Config{}
		if c != nil {
			*cp = *c
			cp.TrunkVLANs = append([]any(nil), c.TrunkVLANs...)
		}
		work[loc.iface] = cp
		return cp, nil
	}
	var results []*gnmipb.UpdateResult
	for _, p := range req.GetDelete() {
		loc, err := parsePath(req.GetPrefix(), p)
		if err != nil {
			return nil, err
		}
		c, err := get(loc)
		if err != nil {
			return nil, err
		}
		if loc.leaf == "" {
			*c = Config{}
		} else {
			c.clearLeaf(loc.leaf)
		}
		results = append(results, &gnmipb.UpdateResult{Path: p, Op: gnmipb.UpdateResult_DELETE})
	}
	apply := func(u *gnmipb.Update, replace bool) error {
		loc, err := parsePath(req.GetPrefix(), u.GetPath())
		if err != nil {
			return err
		}
		c, err := get(loc)
		if err != nil {
			return err
		}
		vals, err := decodeUpdate(loc, u.GetVal())
		if err != nil {
			return err
		}
		if replace && loc.leaf == "" {
			*c = Config{}
		}
		// interface-mode first: how SONiC reads access-vlan depends on it.
		if x, ok := vals["interface-mode"]; ok {
			if err := c.setLeaf(s.dialect, loc.container, "interface-mode", x); err != nil {
				return err
			}
		}
		for leaf, x := range vals {
			if leaf == "interface-mode" {
				continue
			}
			if err := c.setLeaf(s.dialect, loc.container, leaf, x); err != nil {
				return err
			}
		}
		if s.dialect == SONiC && c.Mode == "TRUNK" && c.AccessVLAN != 0 {
			// The untagged VLAN of a SONiC trunk port.
			c.NativeVLAN, c.AccessVLAN = c.AccessVLAN, 0
		}
		return nil
	}
	for _, u := range req.GetReplace() {
		if err := apply(u, true); err != nil {
			return nil, err
		}
		results = append(results, &gnmipb.UpdateResult{Path: u.GetPath(), Op: gnmipb.UpdateResult_REPLACE})
	}
	for _, u := range req.GetUpdate() {
		if err := apply(u, false); err != nil {
			return nil, err
		}
		results = append(results, &gnmipb.UpdateResult{Path: u.GetPath(), Op: gnmipb.UpdateResult_UPDATE})
	}
	for name, c := range work {
		if c.Mode == "ACCESS" && len(c.TrunkVLANs) > 0 {
			return nil, status.Errorf(codes.InvalidArgument, "interface %q: trunk-vlans on an ACCESS port", name)
		}
	}
	for name, c := range work {
		if c.Mode == "" && c.AccessVLAN == 0 && c.NativeVLAN == 0 && len(c.TrunkVLANs) == 0 {
			c = nil // all leaves deleted: no switched-vlan configuration
		}
		s.ifaces[name] = c
	}
	s.sets++
	s.lastSet = req
	return &gnmipb.SetResponse{Prefix: req.GetPrefix(), Response: results, Timestamp: time.Now().UnixNano()}, nil
}

// selfSigned makes a CA-signed-by-itself certificate for ServerName.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: ServerName},
		DNSNames:              []string{ServerName},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
