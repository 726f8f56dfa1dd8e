// Package builtin returns a site.Registry with every driver of this
// module, under the type names a site file uses:
//
//	BMCs:       fake, ipmi (bmclib over ipmitool), redfish (bmclib over gofish)
//	arrays:     fake, ontap, tgt
//	fabrics:    fake, brocade
//	switches:   fake, ovs, openconfig
//	partitions: fake, redfish
//	stores:     bolt (drivers/boltstore), etcd (drivers/etcdstore)
//
// Import it in programs that run coldstandby from a site file (the
// coldstandby command does); add your own driver types to the Registry it
// returns.
//
// A BMC endpoint is host[:port]; the port defaults to the protocol's
// (623 for IPMI, 443 for Redfish).
//
// Driver options (Device.Options): ontap "svm" (required); tgt
// "controlPort", "tgtadm"; brocade "vfid"; openconfig "origin",
// "target"; redfish partitions "block.<server>" (the resource block of a
// server). ontap, brocade and redfish refuse an http:// endpoint (Basic
// credentials in clear text) unless the device says "insecureHTTP":
// "true". TLS (Device.TLS) applies to ontap,
// brocade, ovs (ssl: endpoints), openconfig, redfish and etcd.
//
// The fake driver type builds one simulated data centre per Build
// (drivers/fake/fakesite.World) from the store's records, so that a
// command run later sees what an earlier one did, and runs the
// Orchestrator in the simulation's virtual time.
package builtin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/bmclib"
	"github.com/coldstandby/coldstandby/drivers/boltstore"
	"github.com/coldstandby/coldstandby/drivers/brocade"
	"github.com/coldstandby/coldstandby/drivers/etcdstore"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/drivers/fake/fakesite"
	"github.com/coldstandby/coldstandby/drivers/ontap"
	"github.com/coldstandby/coldstandby/drivers/openconfig"
	"github.com/coldstandby/coldstandby/drivers/ovs"
	"github.com/coldstandby/coldstandby/drivers/redfish"
	"github.com/coldstandby/coldstandby/drivers/tgt"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/site"
	"github.com/coldstandby/coldstandby/partition"
	"github.com/coldstandby/coldstandby/storage"
)

// Option configures Registry.
type Option func(*config)

type config struct {
	fakeStart func() time.Time
}

// WithFakeStart sets where the fake driver's virtual clock starts
// (default: the real time when the world is built); tests fix it so
// that failover IDs and timelines repeat (two runs with the same start
// give the same failover ID to the same server: for tests only).
func WithFakeStart(t time.Time) Option {
	return func(c *config) { c.fakeStart = func() time.Time { return t } }
}

// Registry returns a new Registry with the drivers of this module.
func Registry(opts ...Option) *site.Registry {
	cfg := config{fakeStart: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	r := site.NewRegistry()
	world := func(env *site.Env) (*fake.World, error) {
		v, err := env.Shared("fake", func() (any, error) {
			clock := fake.NewClock(cfg.fakeStart())
			w, err := fakesite.World(env.Site, nonEmpty(env.Records), fake.WithClock(clock))
			if err != nil {
				return nil, err
			}
			env.AddOptions(failover.WithClock(clock))
			return w, nil
		})
		if err != nil {
			return nil, err
		}
		return v.(*fake.World), nil
	}

	r.BMCs["fake"] = func(env *site.Env, rec failover.Record) (bmc.BMC, error) {
		w, err := world(env)
		if err != nil {
			return nil, err
		}
		return fakesite.BMC(w)(rec)
	}
	r.BMCs["ipmi"] = bmcFactory(bmclib.ProviderIPMI)
	r.BMCs["redfish"] = bmcFactory(bmclib.ProviderRedfish)

	r.Arrays["fake"] = func(_ context.Context, env *site.Env, a site.Array) (storage.DiskMapper, error) {
		w, err := world(env)
		if err != nil {
			return nil, err
		}
		return w.DiskMapper(a.Name), nil
	}
	r.Arrays["ontap"] = func(_ context.Context, env *site.Env, a site.Array) (storage.DiskMapper, error) {
		user, pass, err := env.Secret(a.Credentials)
		if err != nil {
			return nil, err
		}
		hc, err := httpClient(env, a.TLS)
		if err != nil {
			return nil, err
		}
		opts := []ontap.Option{ontap.WithHTTPClient(hc)}
		if a.Options["insecureHTTP"] == "true" {
			opts = append(opts, ontap.WithInsecureHTTP())
		}
		return ontap.New(a.Endpoint, a.Options["svm"], user, pass, opts...)
	}
	r.Arrays["tgt"] = func(_ context.Context, _ *site.Env, a site.Array) (storage.DiskMapper, error) {
		var opts []tgt.Option
		if p := a.Options["controlPort"]; p != "" {
			n, err := strconv.Atoi(p)
			if err != nil {
				return nil, fmt.Errorf("option controlPort %q: %w", p, failover.ErrInvalid)
			}
			opts = append(opts, tgt.WithControlPort(n))
		}
		if p := a.Options["tgtadm"]; p != "" {
			opts = append(opts, tgt.WithTgtadm(p))
		}
		return tgt.New(opts...)
	}

	r.Fabrics["fake"] = func(_ context.Context, env *site.Env, d site.Device) (fabric.FCZoner, error) {
		w, err := world(env)
		if err != nil {
			return nil, err
		}
		return w.Zoner(d.Name), nil
	}
	r.Fabrics["brocade"] = func(_ context.Context, env *site.Env, d site.Device) (fabric.FCZoner, error) {
		user, pass, err := env.Secret(d.Credentials)
		if err != nil {
			return nil, err
		}
		hc, err := httpClient(env, d.TLS)
		if err != nil {
			return nil, err
		}
		opts := []brocade.Option{brocade.WithHTTPClient(hc)}
		if v := d.Options["vfid"]; v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("option vfid %q: %w", v, failover.ErrInvalid)
			}
			opts = append(opts, brocade.WithVFID(n))
		}
		if d.Options["insecureHTTP"] == "true" {
			opts = append(opts, brocade.WithInsecureHTTP())
		}
		z, err := brocade.New(d.Endpoint, user, pass, opts...)
		if err != nil {
			return nil, err
		}
		env.OnClose(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return z.Close(ctx)
		})
		return z, nil
	}

	r.Switches["fake"] = func(_ context.Context, env *site.Env, d site.Device) (fabric.VLANSwitch, error) {
		w, err := world(env)
		if err != nil {
			return nil, err
		}
		return w.Switch(d.Name), nil
	}
	r.Switches["ovs"] = func(_ context.Context, env *site.Env, d site.Device) (fabric.VLANSwitch, error) {
		var opts []ovs.Option
		if d.TLS != nil {
			tc, err := tlsConfig(env, d.TLS)
			if err != nil {
				return nil, err
			}
			opts = append(opts, ovs.WithTLS(tc))
		}
		sw, err := ovs.New(d.Endpoint, opts...)
		if err != nil {
			return nil, err
		}
		env.OnClose(sw.Close)
		return sw, nil
	}
	r.Switches["openconfig"] = func(_ context.Context, env *site.Env, d site.Device) (fabric.VLANSwitch, error) {
		var opts []openconfig.Option
		if d.TLS != nil {
			tc, err := tlsConfig(env, d.TLS)
			if err != nil {
				return nil, err
			}
			opts = append(opts, openconfig.WithTLS(tc))
		} else {
			opts = append(opts, openconfig.WithInsecure())
		}
		if d.Credentials != nil {
			user, pass, err := env.Secret(d.Credentials)
			if err != nil {
				return nil, err
			}
			opts = append(opts, openconfig.WithCredentials(user, pass))
		}
		if v := d.Options["origin"]; v != "" {
			opts = append(opts, openconfig.WithOrigin(v))
		}
		if v := d.Options["target"]; v != "" {
			opts = append(opts, openconfig.WithTarget(v))
		}
		sw, err := openconfig.Dial(d.Endpoint, opts...)
		if err != nil {
			return nil, err
		}
		env.OnClose(sw.Close)
		return sw, nil
	}

	r.Partitions["fake"] = func(_ context.Context, env *site.Env, _ site.Device) (partition.PartitionManager, error) {
		w, err := world(env)
		if err != nil {
			return nil, err
		}
		return w.Partitions(), nil
	}
	r.Partitions["redfish"] = func(_ context.Context, env *site.Env, d site.Device) (partition.PartitionManager, error) {
		hc, err := httpClient(env, d.TLS)
		if err != nil {
			return nil, err
		}
		opts := []redfish.Option{redfish.WithHTTPClient(hc)}
		if d.Credentials != nil {
			user, pass, err := env.Secret(d.Credentials)
			if err != nil {
				return nil, err
			}
			opts = append(opts, redfish.WithBasicAuth(user, pass))
		}
		members := map[string]string{}
		for k, v := range d.Options {
			if server, ok := strings.CutPrefix(k, "block."); ok {
				members[server] = v
			}
		}
		if len(members) > 0 {
			opts = append(opts, redfish.WithMembers(members))
		}
		if d.Options["insecureHTTP"] == "true" {
			opts = append(opts, redfish.WithInsecureHTTP())
		}
		return redfish.New(d.Endpoint, opts...)
	}

	r.Stores["bolt"] = func(_ context.Context, env *site.Env, st site.Store) (failover.Store, error) {
		s, err := boltstore.Open(st.Bolt)
		if err != nil {
			return nil, err
		}
		env.OnClose(s.Close)
		return s, nil
	}
	r.Stores["etcd"] = func(_ context.Context, env *site.Env, st site.Store) (failover.Store, error) {
		e := st.Etcd
		// The client's own logger is silenced, as every driver's is by
		// default: its errors reach the caller through the Store, and
		// zap's default writes JSON to standard error.
		cc := clientv3.Config{Endpoints: e.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
		if e.TLS != nil {
			tc, err := tlsConfig(env, e.TLS)
			if err != nil {
				return nil, err
			}
			cc.TLS = tc
		}
		if e.Credentials != nil {
			user, pass, err := env.Secret(e.Credentials)
			if err != nil {
				return nil, err
			}
			cc.Username, cc.Password = user, pass
		}
		cli, err := clientv3.New(cc)
		if err != nil {
			return nil, err
		}
		env.OnClose(cli.Close)
		prefix := e.Prefix
		if prefix == "" {
			prefix = "/coldstandby/" + cmpOr(env.Site.Name, "default") + "/"
		}
		return etcdstore.New(cli, prefix)
	}
	return r
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// nonEmpty is recs, or nil (the site's records) for an empty store.
func nonEmpty(recs []failover.Record) []failover.Record {
	if len(recs) == 0 {
		return nil
	}
	return recs
}

func bmcFactory(provider string) site.BMCFactory {
	return func(env *site.Env, r failover.Record) (bmc.BMC, error) {
		c, err := site.ParseCredentialRef(r.BMC.Credentials)
		if err != nil {
			return nil, err
		}
		user, pass, err := env.Secret(c)
		if err != nil {
			return nil, fmt.Errorf("server %s: %w", r.ID, err)
		}
		host, port, err := splitBMCEndpoint(r.BMC.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("server %s: %w", r.ID, err)
		}
		opts := []bmclib.Option{bmclib.WithProviders(provider)}
		if port != 0 {
			if provider == bmclib.ProviderIPMI {
				opts = append(opts, bmclib.WithIPMIPort(port))
			} else {
				opts = append(opts, bmclib.WithRedfishPort(port))
			}
		}
		return bmclib.New(host, user, pass, opts...)
	}
}

// splitBMCEndpoint splits a site's BMC endpoint, host[:port] (an IPv6
// address with a port in brackets), into the host and the port (0: the
// protocol's default, 623 for IPMI, 443 for Redfish).
func splitBMCEndpoint(ep string) (string, int, error) {
	host, p, err := net.SplitHostPort(ep)
	if err != nil {
		return ep, 0, nil // no port: a name, an IPv4 or a bare IPv6 address
	}
	port, perr := strconv.Atoi(p)
	if host == "" || perr != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("BMC endpoint %q: want host or host:port with a port in 1..65535: %w", ep, failover.ErrInvalid)
	}
	return host, port, nil
}

// tlsConfig builds a TLS client configuration; certificates are verified
// unless the site says otherwise.
func tlsConfig(env *site.Env, t *site.TLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // only when the site asks for it
	if t.CAFile != "" {
		pem, err := os.ReadFile(env.Path(t.CAFile))
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: %s holds no certificate: %w", t.CAFile, failover.ErrInvalid)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(env.Path(t.CertFile), env.Path(t.KeyFile))
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func httpClient(env *site.Env, t *site.TLS) (*http.Client, error) {
	if t == nil {
		return &http.Client{Timeout: 60 * time.Second}, nil
	}
	tc, err := tlsConfig(env, t)
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}, nil
}
