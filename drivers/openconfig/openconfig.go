// Package openconfig is a fabric.VLANSwitch for switches that speak gNMI
// with the OpenConfig VLAN model (Arista EOS, Cisco NX-OS and IOS XR,
// Juniper, Nokia SR Linux, SONiC). Import it to let coldstandby set access
// and trunk VLANs on such a switch; drivers/openconfig/gnmitest is an
// in-process gNMI server for tests.
//
// It reads with Get and writes with Set Replace on
//
//	/interfaces/interface[name=PORT]/ethernet/switched-vlan/config
//
// (…/aggregation/switched-vlan/config for a LAG: the driver falls back to
// it when the ethernet container does not exist) in JSON_IETF encoding,
// with the leaves interface-mode (ACCESS, TRUNK),
// access-vlan, native-vlan and trunk-vlans (VLAN ids and "10..20" ranges).
// Replace is declarative: the container ends up exactly as written.
//
// # Mapping to fabric.PortVLAN
//
//	access N                 interface-mode ACCESS, access-vlan N
//	trunk T, native N        interface-mode TRUNK, native-vlan N, trunk-vlans T
//	trunk T, native 0        interface-mode TRUNK, trunk-vlans T (no native-vlan:
//	                         untagged frames follow the switch's default)
//	trunk with no tagged VLAN  ErrUnsupported: the model reads an absent
//	                         trunk-vlans as "every VLAN" and cannot say "none"
//
// When reading, an absent trunk-vlans is every VLAN (1..4094) and ranges
// are expanded; an ACCESS port without access-vlan, or a mode other than
// ACCESS and TRUNK, is ErrUnsupported. Leaves may come back as one JSON
// container, wrapped in its own name ({"openconfig-vlan:config":{...}},
// as SONiC sends it) or not, or as separate leaf updates,
// module-qualified or not; trunk-vlans elements as numbers, "x..y"
// strings or numeric strings.
//
// # Targets
//
// Arista EOS reports native-vlan 1 on a trunk where none was set (as the
// answers in SAP's networking-ccloud EOS tests show), so a trunk written
// with native 0 reads back with native 1. SONiC has no native-vlan
// (sonic-mgmt-common's transformer never reads it on Ethernet ports, and
// its deviations mark it not-supported on aggregates): the untagged VLAN
// of a SONiC trunk port is its access-vlan. The driver reads an
// access-vlan on a TRUNK port without native-vlan as the native VLAN
// (the model's "when" forbids access-vlan on a trunk, so only such a
// target sends it), and writes the native VLAN as access-vlan with
// WithNativeVLANAsAccessVLAN; use that option, and WithModulePrefixes for
// the paths SONiC documents, with SONiC.
//
// gNMI has no compare-and-set: SetPortVLAN reads, then replaces, and
// changes of one port made through one Switch take turns; prev may miss a
// change that another management client made in between.
//
// # Errors
//
// gRPC status codes map to the error kinds: NotFound to ErrNotFound;
// InvalidArgument and OutOfRange to ErrInvalid; Unavailable,
// ResourceExhausted and Aborted to ErrTransient; FailedPrecondition to
// ErrConflict; Unimplemented, Unauthenticated and PermissionDenied to
// ErrUnsupported (retrying will not help); any other failure of a Set
// (DeadlineExceeded, Canceled, Internal, Unknown) to ErrOutcomeUnknown,
// and of a Get to ErrTransient.
package openconfig

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	gnmipb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/internal/keylock"
	"github.com/coldstandby/coldstandby/internal/redact"
)

var _ fabric.VLANSwitch = (*Switch)(nil)

// Switch is a fabric.VLANSwitch over one gNMI target. It is safe for
// concurrent use. It prints and logs as its target and user, never its
// password.
type Switch struct {
	client         gnmipb.GNMIClient
	conn           *grpc.ClientConn // owned when made by Dial
	address        string           // Dial's address; "" with New
	origin         string
	target         string
	username       string
	password       *redact.Secret
	nativeAsAccess bool
	modulePrefixes bool
	log            *slog.Logger

	tlsConfig   *tls.Config
	insecure    bool
	dialOptions []grpc.DialOption

	ports keylock.Locks // writers of one port take turns
}

// Option configures a Switch.
type Option func(*Switch) error

// WithCredentials sends username and password as the "username" and
// "password" request metadata on every RPC, the way gNMI targets
// authenticate clients (gnmic, gnmi_cli). Dial refuses them without TLS.
func WithCredentials(username, password string) Option {
	return func(s *Switch) error {
		if username == "" {
			return errors.New("empty username")
		}
		s.username, s.password = username, redact.New(password)
		return nil
	}
}

// WithModulePrefixes qualifies the path elements that enter another YANG
// module with the module's name, as SONiC's documented requests do
// (/openconfig-interfaces:interfaces/interface[name=Ethernet0]/
// openconfig-if-ethernet:ethernet/openconfig-vlan:switched-vlan/config,
// sonic-net/SONiC doc/mgmt/OpenConfig_VLAN_Interface.md); SONiC's
// translib registers its applications under such paths.
func WithModulePrefixes() Option {
	return func(s *Switch) error { s.modulePrefixes = true; return nil }
}

// WithNativeVLANAsAccessVLAN writes a trunk's native (untagged) VLAN as
// the access-vlan leaf instead of native-vlan, for targets without
// native-vlan, SONiC's management framework among them (see the package
// doc). Reading understands both forms with or without it.
func WithNativeVLANAsAccessVLAN() Option {
	return func(s *Switch) error { s.nativeAsAccess = true; return nil }
}

// WithOrigin sets the origin of every path (default none; some targets
// want "openconfig").
func WithOrigin(origin string) Option {
	return func(s *Switch) error { s.origin = origin; return nil }
}

// WithTarget sets the gNMI target of every request, in its prefix (the
// only place the gNMI specification, 2.2.2.1, allows it): for a gNMI
// proxy that serves several devices, or SONiC's "OC-YANG" (default
// none).
func WithTarget(target string) Option {
	return func(s *Switch) error { s.target = target; return nil }
}

// WithTLS sets Dial's TLS configuration (server CA, client certificate
// for mutual TLS). Dial requires it or WithInsecure.
func WithTLS(cfg *tls.Config) Option {
	return func(s *Switch) error {
		if cfg == nil {
			return errors.New("nil TLS config")
		}
		s.tlsConfig = cfg
		return nil
	}
}

// WithInsecure lets Dial connect without TLS (lab switches only; it
// refuses credentials then).
func WithInsecure() Option {
	return func(s *Switch) error { s.insecure = true; return nil }
}

// WithDialOptions adds gRPC dial options for Dial (a custom dialer,
// keepalive parameters).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(s *Switch) error { s.dialOptions = append(s.dialOptions, opts...); return nil }
}

// WithLogger logs changes to l (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(s *Switch) error {
		if l == nil {
			return errors.New("nil logger")
		}
		s.log = l
		return nil
	}
}

func newSwitch(opts []Option) (*Switch, error) {
	s := &Switch{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, fmt.Errorf("openconfig: %w: %w", err, fabric.ErrInvalid)
		}
	}
	return s, nil
}

// New returns a Switch that uses conn, a gRPC connection the caller made
// (and closes) with its own transport security. The Dial-only options
// (WithTLS, WithInsecure, WithDialOptions) are ignored.
func New(conn grpc.ClientConnInterface, opts ...Option) (*Switch, error) {
	if conn == nil {
		return nil, fmt.Errorf("openconfig: nil connection: %w", fabric.ErrInvalid)
	}
	s, err := newSwitch(opts)
	if err != nil {
		return nil, err
	}
	s.client = gnmipb.NewGNMIClient(conn)
	return s, nil
}

// Dial returns a Switch for the gNMI target at address ("switch1:6030",
// or any gRPC target name), over TLS (WithTLS) or, explicitly, without
// (WithInsecure). It does not connect yet; Close releases the
// connection.
func Dial(address string, opts ...Option) (*Switch, error) {
	s, err := newSwitch(opts)
	if err != nil {
		return nil, err
	}
	var creds credentials.TransportCredentials
	switch {
	case s.tlsConfig != nil && s.insecure:
		return nil, fmt.Errorf("openconfig: dial %s: both WithTLS and WithInsecure: %w", address, fabric.ErrInvalid)
	case s.tlsConfig != nil:
		creds = credentials.NewTLS(s.tlsConfig)
	case s.insecure:
		if s.username != "" {
			return nil, fmt.Errorf("openconfig: dial %s: refusing to send credentials without TLS: %w", address, fabric.ErrInvalid)
		}
		creds = insecure.NewCredentials()
	default:
		return nil, fmt.Errorf("openconfig: dial %s: need WithTLS (or WithInsecure for a lab switch): %w", address, fabric.ErrInvalid)
	}
	conn, err := grpc.NewClient(address, append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, s.dialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("openconfig: dial %s: %v: %w", address, err, fabric.ErrInvalid)
	}
	s.conn = conn
	s.address = address
	s.client = gnmipb.NewGNMIClient(conn)
	return s, nil
}

func (s *Switch) info() redact.Info {
	attrs := []slog.Attr{}
	if s.address != "" {
		attrs = append(attrs, slog.String("address", s.address))
	}
	if s.target != "" {
		attrs = append(attrs, slog.String("target", s.target))
	}
	if s.username != "" {
		attrs = append(attrs, slog.String("user", s.username), slog.Any("password", s.password))
	}
	return redact.Info{Type: "openconfig.Switch", Attrs: attrs}
}

// String describes the Switch: address, target and user; the password
// shows as [redacted].
func (s *Switch) String() string { return s.info().String() }

// GoString is String, so that %#v does not print the password.
func (s *Switch) GoString() string { return s.info().String() }

// Format prints String for every verb.
func (s *Switch) Format(f fmt.State, verb rune) { s.info().Format(f, verb) }

// LogValue logs the Switch as a group of address, target and user.
func (s *Switch) LogValue() slog.Value { return s.info().LogValue() }

// Close closes the connection Dial made; with New it does nothing.
func (s *Switch) Close() error {
	if s.conn != nil {
		return s.conn.Close()
	}
	return nil
}

func (s *Switch) rpcContext(ctx context.Context) context.Context {
	if s.username == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "username", s.username, "password", s.password.Reveal())
}

// prefix is the prefix of every request: the target, when set, and
// nothing else.
func (s *Switch) prefix() *gnmipb.Path {
	if s.target == "" {
		return nil
	}
	return &gnmipb.Path{Target: s.target}
}

// Containers of switched-vlan: physical ports and aggregates (LAGs).
const (
	ethernet    = "ethernet"
	aggregation = "aggregation"
)

// configPath is /interfaces/interface[name=port]/CONTAINER/switched-vlan/config.
// With WithModulePrefixes the elements that enter a new YANG module are
// qualified with it: /openconfig-interfaces:interfaces/interface[name=P]/
// openconfig-if-ethernet:ethernet (or openconfig-if-aggregate:aggregation)
// /openconfig-vlan:switched-vlan/config.
func (s *Switch) configPath(port, container string) *gnmipb.Path {
	names := []string{"interfaces", container, "switched-vlan"}
	if s.modulePrefixes {
		mod := "openconfig-if-ethernet:"
		if container == aggregation {
			mod = "openconfig-if-aggregate:"
		}
		names = []string{"openconfig-interfaces:interfaces", mod + container, "openconfig-vlan:switched-vlan"}
	}
	return &gnmipb.Path{
		Origin: s.origin,
		Elem: []*gnmipb.PathElem{
			{Name: names[0]},
			{Name: "interface", Key: map[string]string{"name": port}},
			{Name: names[1]},
			{Name: names[2]},
			{Name: "config"},
		},
	}
}

// classify maps a gRPC error to an error kind; write says whether the RPC
// may have changed the switch.
func classify(ctx context.Context, err error, write bool) error {
	st, _ := status.FromError(err)
	msg := st.Message()
	var kind error
	switch st.Code() {
	case codes.NotFound:
		kind = fabric.ErrNotFound
	case codes.InvalidArgument, codes.OutOfRange:
		kind = fabric.ErrInvalid
	case codes.Unavailable, codes.ResourceExhausted, codes.Aborted:
		kind = fabric.ErrTransient
	case codes.FailedPrecondition:
		kind = fabric.ErrConflict
	case codes.Unimplemented, codes.Unauthenticated, codes.PermissionDenied:
		kind = fabric.ErrUnsupported
	default:
		kind = fabric.ErrTransient
		if write {
			kind = fabric.ErrOutcomeUnknown
		}
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if write {
			kind = fabric.ErrOutcomeUnknown
		} else {
			kind = fabric.ErrTransient
		}
		return fmt.Errorf("%s: %w: %w", st.Code(), ctxErr, kind)
	}
	return fmt.Errorf("%s: %s: %w", st.Code(), msg, kind)
}

// PortVLAN reads port's VLAN setting (see the package doc for the
// mapping). Errors: ErrNotFound for an unknown port or one without
// switched-vlan configuration; ErrUnsupported for a setting outside the
// model; ErrTransient; ctx errors.
func (s *Switch) PortVLAN(ctx context.Context, port string) (fabric.PortVLAN, error) {
	if port == "" {
		return fabric.PortVLAN{}, fmt.Errorf("openconfig: read VLANs of %q: empty port name: %w", port, fabric.ErrInvalid)
	}
	v, _, err := s.get(ctx, port)
	if err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("openconfig: read VLANs of %s: %w", port, err)
	}
	return v, nil
}

// get reads port's setting from the ethernet container or, when the port
// has none (a LAG), from the aggregation container, and says which.
func (s *Switch) get(ctx context.Context, port string) (fabric.PortVLAN, string, error) {
	v, err := s.getFrom(ctx, port, ethernet)
	if errors.Is(err, fabric.ErrNotFound) {
		var aggErr error
		if v, aggErr = s.getFrom(ctx, port, aggregation); aggErr == nil {
			return v, aggregation, nil
		} else if !errors.Is(aggErr, fabric.ErrNotFound) {
			return fabric.PortVLAN{}, "", aggErr
		}
	}
	return v, ethernet, err
}

func (s *Switch) getFrom(ctx context.Context, port, container string) (fabric.PortVLAN, error) {
	if err := ctx.Err(); err != nil {
		return fabric.PortVLAN{}, err
	}
	resp, err := s.client.Get(s.rpcContext(ctx), &gnmipb.GetRequest{
		Prefix:   s.prefix(),
		Path:     []*gnmipb.Path{s.configPath(port, container)},
		Type:     gnmipb.GetRequest_CONFIG,
		Encoding: gnmipb.Encoding_JSON_IETF,
	})
	if err != nil {
		return fabric.PortVLAN{}, classify(ctx, err, false)
	}
	leaves, err := collectLeaves(resp)
	if err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("%v: %w", err, fabric.ErrTransient)
	}
	if len(leaves) == 0 {
		return fabric.PortVLAN{}, fmt.Errorf("no switched-vlan configuration: %w", fabric.ErrNotFound)
	}
	return fromLeaves(leaves)
}

// SetPortVLAN replaces port's VLAN setting with v and returns the one it
// replaced; when the port already has v it sends no Set.
//
// Errors: ErrInvalid; ErrUnsupported for a trunk without tagged VLANs or a
// current setting outside the model; ErrNotFound; ErrTransient;
// ErrOutcomeUnknown; ctx errors.
func (s *Switch) SetPortVLAN(ctx context.Context, port string, v fabric.PortVLAN) (fabric.PortVLAN, error) {
	if port == "" {
		return fabric.PortVLAN{}, fmt.Errorf("openconfig: set VLANs of %q: empty port name: %w", port, fabric.ErrInvalid)
	}
	if err := v.Validate(); err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("openconfig: set VLANs of %s: %w", port, err)
	}
	v = v.Normalize()
	body, err := toJSON(v, s.nativeAsAccess)
	if err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("openconfig: set VLANs of %s to %v: %w", port, v, err)
	}
	unlock, err := s.lockPort(ctx, port)
	if err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("openconfig: set VLANs of %s: waiting for another change of the port: %w", port, err)
	}
	defer unlock()
	prev, container, err := s.get(ctx, port)
	if err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("openconfig: set VLANs of %s to %v: read current: %w", port, v, err)
	}
	if prev.Equal(v) {
		return prev, nil
	}
	if err := ctx.Err(); err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("openconfig: set VLANs of %s to %v: %w", port, v, err)
	}
	_, err = s.client.Set(s.rpcContext(ctx), &gnmipb.SetRequest{
		Prefix: s.prefix(),
		Replace: []*gnmipb.Update{{
			Path: s.configPath(port, container),
			Val:  &gnmipb.TypedValue{Value: &gnmipb.TypedValue_JsonIetfVal{JsonIetfVal: body}},
		}},
	})
	if err != nil {
		return fabric.PortVLAN{}, fmt.Errorf("openconfig: set VLANs of %s to %v: %w", port, v, classify(ctx, err, true))
	}
	s.log.Info("openconfig: port VLANs set", "driver", "openconfig", "port", port, "prev", prev.String(), "vlan", v.String())
	return prev, nil
}

// Leaf names of openconfig-vlan's switched-vlan config container.
const (
	leafMode   = "interface-mode"
	leafAccess = "access-vlan"
	leafNative = "native-vlan"
	leafTrunk  = "trunk-vlans"
	modulePfx  = "openconfig-vlan:"
)

// toJSON encodes v as the JSON_IETF value of the config container;
// nativeAsAccess writes a trunk's native VLAN as access-vlan (SONiC).
func toJSON(v fabric.PortVLAN, nativeAsAccess bool) ([]byte, error) {
	m := map[string]any{}
	switch v.Mode {
	case fabric.Access:
		m[modulePfx+leafMode] = "ACCESS"
		m[modulePfx+leafAccess] = v.AccessVLAN
	case fabric.Trunk:
		if len(v.Trunk) == 0 {
			return nil, fmt.Errorf("a trunk without tagged VLANs cannot be written in OpenConfig (absent trunk-vlans means all): %w", fabric.ErrUnsupported)
		}
		m[modulePfx+leafMode] = "TRUNK"
		switch {
		case v.NativeVLAN != 0 && nativeAsAccess:
			m[modulePfx+leafAccess] = v.NativeVLAN
		case v.NativeVLAN != 0:
			m[modulePfx+leafNative] = v.NativeVLAN
		}
		m[modulePfx+leafTrunk] = TrunkVLANs(v.Trunk)
	}
	return json.Marshal(m)
}

// TrunkVLANs writes ids (sorted, unique) as an OpenConfig trunk-vlans
// leaf-list: single VLANs as numbers, runs of two or more as "a..b".
func TrunkVLANs(ids []int) []any {
	ids = fabric.PortVLAN{Trunk: ids}.Normalize().Trunk
	out := []any{}
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if j > i {
			out = append(out, strconv.Itoa(ids[i])+".."+strconv.Itoa(ids[j]))
		} else {
			out = append(out, ids[i])
		}
		i = j + 1
	}
	return out
}

// ParseTrunkVLANs reads a trunk-vlans leaf-list (numbers, "a..b" ranges,
// or numeric strings) into sorted unique ids. Errors wrap ErrInvalid.
func ParseTrunkVLANs(items []any) ([]int, error) {
	var parts []string
	for _, it := range items {
		switch x := it.(type) {
		case float64:
			if x != float64(int(x)) {
				return nil, fmt.Errorf("trunk-vlans: %v is not a VLAN id: %w", x, fabric.ErrInvalid)
			}
			parts = append(parts, strconv.Itoa(int(x)))
		case json.Number:
			parts = append(parts, x.String())
		case string:
			if strings.Contains(x, ",") || (strings.Contains(x, "-") && !strings.Contains(x, "..")) {
				return nil, fmt.Errorf("trunk-vlans: %q is not a VLAN id or a..b range: %w", x, fabric.ErrInvalid)
			}
			parts = append(parts, x)
		default:
			return nil, fmt.Errorf("trunk-vlans: unexpected %T %v: %w", it, it, fabric.ErrInvalid)
		}
	}
	return fabric.ParseVLANList(strings.Join(parts, ","))
}

// collectLeaves gathers the config container's leaves from a Get
// response, whether the target sent the container as one JSON value or
// each leaf as its own update.
func collectLeaves(resp *gnmipb.GetResponse) (map[string]any, error) {
	leaves := map[string]any{}
	for _, n := range resp.GetNotification() {
		for _, u := range n.GetUpdate() {
			elems := append(append([]*gnmipb.PathElem(nil), n.GetPrefix().GetElem()...), u.GetPath().GetElem()...)
			leaf := ""
			if len(elems) > 0 {
				if last := stripPrefix(elems[len(elems)-1].GetName()); last != "config" {
					leaf = last
				}
			}
			val, err := decodeValue(u.GetVal())
			if err != nil {
				return nil, fmt.Errorf("update %v: %v", u.GetPath(), err)
			}
			if leaf == "" {
				obj, ok := val.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("config container is %T, not an object", val)
				}
				// Some targets wrap the container: {"openconfig-vlan:config": {...}}.
				if inner, ok := obj[modulePfx+"config"].(map[string]any); ok && len(obj) == 1 {
					obj = inner
				} else if inner, ok := obj["config"].(map[string]any); ok && len(obj) == 1 {
					obj = inner
				}
				for k, x := range obj {
					leaves[stripPrefix(k)] = x
				}
				continue
			}
			leaves[leaf] = val
		}
	}
	return leaves, nil
}

func stripPrefix(name string) string {
	if _, after, ok := strings.Cut(name, ":"); ok {
		return after
	}
	return name
}

// decodeValue turns a TypedValue into JSON-like Go values.
func decodeValue(tv *gnmipb.TypedValue) (any, error) {
	switch x := tv.GetValue().(type) {
	case *gnmipb.TypedValue_JsonIetfVal:
		var v any
		err := json.Unmarshal(x.JsonIetfVal, &v)
		return v, err
	case *gnmipb.TypedValue_JsonVal:
		var v any
		err := json.Unmarshal(x.JsonVal, &v)
		return v, err
	case *gnmipb.TypedValue_UintVal:
		return float64(x.UintVal), nil
	case *gnmipb.TypedValue_IntVal:
		return float64(x.IntVal), nil
	case *gnmipb.TypedValue_StringVal:
		return x.StringVal, nil
	case *gnmipb.TypedValue_LeaflistVal:
		var out []any
		for _, e := range x.LeaflistVal.GetElement() {
			v, err := decodeValue(e)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported value type %T", tv.GetValue())
}

// fromLeaves maps the config leaves to the normal form.
func fromLeaves(leaves map[string]any) (fabric.PortVLAN, error) {
	vlanID := func(name string) (int, bool, error) {
		x, ok := leaves[name]
		if !ok {
			return 0, false, nil
		}
		var id int
		switch n := x.(type) {
		case float64:
			id = int(n)
		case string: // a uint16 may come quoted
			var err error
			if id, err = strconv.Atoi(n); err != nil {
				return 0, true, fmt.Errorf("%s %q is not a number: %w", name, n, fabric.ErrTransient)
			}
		default:
			return 0, true, fmt.Errorf("%s is %T: %w", name, x, fabric.ErrTransient)
		}
		if id < 1 || id > 4094 {
			return 0, true, fmt.Errorf("%s %d outside 1..4094: %w", name, id, fabric.ErrUnsupported)
		}
		return id, true, nil
	}
	mode, _ := leaves[leafMode].(string)
	switch stripPrefix(mode) {
	case "ACCESS":
		id, ok, err := vlanID(leafAccess)
		if err != nil {
			return fabric.PortVLAN{}, err
		}
		if !ok {
			return fabric.PortVLAN{}, fmt.Errorf("ACCESS port without access-vlan: %w", fabric.ErrUnsupported)
		}
		return fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: id}, nil
	case "TRUNK":
		native, ok, err := vlanID(leafNative)
		if err != nil {
			return fabric.PortVLAN{}, err
		}
		if !ok {
			// SONiC: a trunk's untagged VLAN is its access-vlan.
			if native, _, err = vlanID(leafAccess); err != nil {
				return fabric.PortVLAN{}, err
			}
		}
		var trunk []int
		switch x := leaves[leafTrunk].(type) {
		case nil:
			for id := 1; id <= 4094; id++ {
				trunk = append(trunk, id)
			}
		case []any:
			if trunk, err = ParseTrunkVLANs(x); err != nil {
				return fabric.PortVLAN{}, fmt.Errorf("switch sent %w", err)
			}
		default:
			if trunk, err = ParseTrunkVLANs([]any{x}); err != nil {
				return fabric.PortVLAN{}, fmt.Errorf("switch sent %w", err)
			}
		}
		return fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: native, Trunk: trunk}.Normalize(), nil
	}
	return fabric.PortVLAN{}, fmt.Errorf("interface-mode %q has no equivalent in the VLAN model: %w", mode, fabric.ErrUnsupported)
}

// lockPort makes this Switch's changes of one port take turns, so that
// each one's read-then-replace returns the setting it replaced.
func (s *Switch) lockPort(ctx context.Context, port string) (func(), error) {
	return s.ports.Lock(ctx, port)
}
