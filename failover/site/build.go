package site

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/partition"
	"github.com/coldstandby/coldstandby/storage"
)

// Factories turn a declaration into a driver. They run when Build is
// called (BMCs: when the Orchestrator first needs a server's BMC), get
// the Env of the build (the site, the records, secrets, shared state),
// and return errors that name what failed; they must not log secrets.
type (
	BMCFactory       func(env *Env, r failover.Record) (bmc.BMC, error)
	ArrayFactory     func(ctx context.Context, env *Env, a Array) (storage.DiskMapper, error)
	FabricFactory    func(ctx context.Context, env *Env, d Device) (fabric.FCZoner, error)
	SwitchFactory    func(ctx context.Context, env *Env, d Device) (fabric.VLANSwitch, error)
	PartitionFactory func(ctx context.Context, env *Env, d Device) (partition.PartitionManager, error)
	// StoreFactory opens the store a site names (kind "bolt" or "etcd").
	// It runs before the records are read: env.Records is nil.
	StoreFactory func(ctx context.Context, env *Env, st Store) (failover.Store, error)
)

// Registry maps driver type names (Device.Driver, BMC.Driver) to
// factories. A program builds one (drivers/builtin.Registry returns the
// drivers of this module) and adds its own types to the maps; there is no
// global registry. A Registry is not safe for concurrent modification.
type Registry struct {
	BMCs       map[string]BMCFactory
	Arrays     map[string]ArrayFactory
	Fabrics    map[string]FabricFactory
	Switches   map[string]SwitchFactory
	Partitions map[string]PartitionFactory
	// Stores by kind: "bolt" (Store.Bolt) and "etcd" (Store.Etcd).
	Stores map[string]StoreFactory
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{
		BMCs: map[string]BMCFactory{}, Arrays: map[string]ArrayFactory{}, Fabrics: map[string]FabricFactory{},
		Switches: map[string]SwitchFactory{}, Partitions: map[string]PartitionFactory{}, Stores: map[string]StoreFactory{},
	}
}

// Env is what factories of one Build share.
type Env struct {
	Site *Site
	// Records are the store's records when the drivers are built (nil for
	// store factories).
	Records []failover.Record

	lookupEnv func(string) (string, bool)
	sharedMu  sync.Mutex // held while a shared value is made
	shared    map[string]any
	mu        sync.Mutex // guards closers and opts (a maker may add them)
	closers   []func() error
	opts      []failover.Option
}

// Shared returns the value kept under key for this build, calling mk the
// first time: drivers that share one connection or simulation (the fake
// world) keep it here.
func (e *Env) Shared(key string, mk func() (any, error)) (any, error) {
	e.sharedMu.Lock()
	defer e.sharedMu.Unlock()
	if v, ok := e.shared[key]; ok {
		return v, nil
	}
	v, err := mk()
	if err != nil {
		return nil, err
	}
	e.shared[key] = v
	return v, nil
}

// OnClose registers fn to run when the Parts are closed (in reverse
// order).
func (e *Env) OnClose(fn func() error) {
	e.mu.Lock()
	e.closers = append(e.closers, fn)
	e.mu.Unlock()
}

// AddOptions adds Orchestrator options (a simulation's virtual clock).
func (e *Env) AddOptions(opts ...failover.Option) {
	e.mu.Lock()
	e.opts = append(e.opts, opts...)
	e.mu.Unlock()
}

// Path resolves a path of the site (relative to the site file's
// directory).
func (e *Env) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || e.Site.dir == "" {
		return p
	}
	return filepath.Join(e.Site.dir, p)
}

// Secret reads the password c refers to and returns it with the username.
// The error names the variable or file, never the value.
func (e *Env) Secret(c *Credentials) (user, password string, err error) {
	if c == nil {
		return "", "", nil
	}
	switch {
	case c.PasswordEnv != "":
		v, ok := e.lookupEnv(c.PasswordEnv)
		if !ok {
			return "", "", fmt.Errorf("site: credentials: environment variable %s is not set: %w", c.PasswordEnv, failover.ErrInvalid)
		}
		return c.Username, v, nil
	case c.PasswordFile != "":
		b, err := os.ReadFile(e.Path(c.PasswordFile))
		if err != nil {
			return "", "", fmt.Errorf("site: credentials: %w", err)
		}
		return c.Username, strings.TrimRight(string(b), "\r\n"), nil
	}
	return c.Username, "", nil
}

// Parts are a site turned into running parts.
type Parts struct {
	Site    *Site
	Store   failover.Store
	Drivers failover.Drivers
	// Options are the site's (Site.Options) and the drivers' (a fake
	// world's virtual clock).
	Options []failover.Option
	env     *Env
}

// Env returns the build's Env (its shared values: the fake world).
func (p *Parts) Env() *Env { return p.env }

// Close closes what the build opened (stores, connections), in reverse
// order, and joins their errors.
func (p *Parts) Close() error {
	var errs []error
	for i := len(p.env.closers) - 1; i >= 0; i-- {
		errs = append(errs, p.env.closers[i]())
	}
	return errors.Join(errs...)
}

// BuildOption configures Build.
type BuildOption func(*buildConfig)

type buildConfig struct {
	store     failover.Store
	statePath string
	lookupEnv func(string) (string, bool)
}

// WithStore uses st instead of the store the site names (tests, a
// MemStore).
func WithStore(st failover.Store) BuildOption { return func(c *buildConfig) { c.store = st } }

// WithStatePath replaces the site's bbolt file (the command's --state).
func WithStatePath(path string) BuildOption { return func(c *buildConfig) { c.statePath = path } }

// WithLookupEnv replaces os.LookupEnv for credentials given by variable.
func WithLookupEnv(fn func(string) (string, bool)) BuildOption {
	return func(c *buildConfig) { c.lookupEnv = fn }
}

// DefaultStateFile is the bbolt file of a site that names no store.
const DefaultStateFile = "coldstandby.db"

// OpenStore opens the store the site names through reg (see Build). The
// caller closes it with the returned function.
func (s *Site) OpenStore(ctx context.Context, reg *Registry, opts ...BuildOption) (failover.Store, func() error, error) {
	cfg := buildConfig{lookupEnv: os.LookupEnv}
	for _, o := range opts {
		o(&cfg)
	}
	env := &Env{Site: s, lookupEnv: cfg.lookupEnv, shared: map[string]any{}}
	st, err := openStore(ctx, s, reg, env, cfg)
	if err != nil {
		return nil, nil, err
	}
	p := &Parts{env: env}
	return st, p.Close, nil
}

func openStore(ctx context.Context, s *Site, reg *Registry, env *Env, cfg buildConfig) (failover.Store, error) {
	if cfg.store != nil {
		return cfg.store, nil
	}
	spec := s.Store
	kind := "bolt"
	if spec.Etcd != nil && cfg.statePath == "" {
		kind = "etcd"
	} else {
		spec.Etcd = nil
		spec.Bolt = cmp.Or(cfg.statePath, env.Path(cmp.Or(spec.Bolt, DefaultStateFile)))
	}
	f, ok := reg.Stores[kind]
	if !ok {
		return nil, fmt.Errorf("site: store: no %q store in the registry: %w", kind, failover.ErrInvalid)
	}
	st, err := f(ctx, env, spec)
	if err != nil {
		return nil, fmt.Errorf("site: store: %w", err)
	}
	return st, nil
}

// Build turns a valid site into running parts: it opens the store (the
// site's, or WithStore / WithStatePath), reads its records, and builds
// every managed device's driver through reg, with the records of the
// store (a simulation starts from the state they describe). Unknown
// driver types and factory errors are all reported, joined, each naming
// its device; on error everything opened is closed. Build does not write
// the store: Apply does.
func Build(ctx context.Context, s *Site, reg *Registry, opts ...BuildOption) (*Parts, error) {
	cfg := buildConfig{lookupEnv: os.LookupEnv}
	for _, o := range opts {
		o(&cfg)
	}
	env := &Env{Site: s, lookupEnv: cfg.lookupEnv, shared: map[string]any{}}
	p := &Parts{Site: s, env: env}
	st, err := openStore(ctx, s, reg, env, cfg)
	if err != nil {
		return nil, err
	}
	p.Store = st
	recs, err := st.List(ctx)
	if err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("site: read the store: %w", err)
	}
	env.Records = recs
	var errs []error
	unknown := func(what, name, typ string, known []string) {
		errs = append(errs, fmt.Errorf("site: %s %s: unknown driver type %q (known: %s): %w", what, name, typ, strings.Join(known, ", "), failover.ErrInvalid))
	}
	d := failover.Drivers{DiskMappers: map[string]storage.DiskMapper{}, FCZoners: map[string]fabric.FCZoner{}, VLANSwitches: map[string]fabric.VLANSwitch{}}
	for _, a := range s.Arrays {
		if a.Unmanaged {
			continue
		}
		f, ok := reg.Arrays[a.Driver]
		if !ok {
			unknown("array", a.Name, a.Driver, sortedKeys(reg.Arrays))
			continue
		}
		m, err := f(ctx, env, a)
		if err != nil {
			errs = append(errs, fmt.Errorf("site: array %s (%s): %w", a.Name, a.Driver, err))
			continue
		}
		d.DiskMappers[a.Name] = m
	}
	for _, fb := range s.Fabrics {
		if fb.Unmanaged {
			continue
		}
		f, ok := reg.Fabrics[fb.Driver]
		if !ok {
			unknown("fabric", fb.Name, fb.Driver, sortedKeys(reg.Fabrics))
			continue
		}
		z, err := f(ctx, env, fb)
		if err != nil {
			errs = append(errs, fmt.Errorf("site: fabric %s (%s): %w", fb.Name, fb.Driver, err))
			continue
		}
		d.FCZoners[fb.Name] = z
	}
	for _, sw := range s.Switches {
		if sw.Unmanaged {
			continue
		}
		f, ok := reg.Switches[sw.Driver]
		if !ok {
			unknown("switch", sw.Name, sw.Driver, sortedKeys(reg.Switches))
			continue
		}
		v, err := f(ctx, env, sw)
		if err != nil {
			errs = append(errs, fmt.Errorf("site: switch %s (%s): %w", sw.Name, sw.Driver, err))
			continue
		}
		d.VLANSwitches[sw.Name] = v
	}
	if pm := s.Partitions; pm != nil && !pm.Unmanaged {
		if f, ok := reg.Partitions[pm.Driver]; !ok {
			unknown("partitions", "manager", pm.Driver, sortedKeys(reg.Partitions))
		} else if m, err := f(ctx, env, *pm); err != nil {
			errs = append(errs, fmt.Errorf("site: partitions (%s): %w", pm.Driver, err))
		} else {
			d.Partitions = m
		}
	}
	// BMC driver types of the site and of the records (a record may name
	// one the site no longer does until apply).
	var bmcTypes []string
	for _, sv := range s.Servers {
		bmcTypes = append(bmcTypes, s.bmcOf(sv).Driver)
	}
	for _, r := range recs {
		bmcTypes = append(bmcTypes, r.BMC.Driver)
	}
	slices.Sort(bmcTypes)
	for _, t := range slices.Compact(bmcTypes) {
		if _, ok := reg.BMCs[t]; !ok && t != "" {
			unknown("bmc", "driver", t, sortedKeys(reg.BMCs))
		}
	}
	d.BMC = func(r failover.Record) (bmc.BMC, error) {
		f, ok := reg.BMCs[r.BMC.Driver]
		if !ok {
			return nil, fmt.Errorf("site: server %s: unknown BMC driver type %q: %w", r.ID, r.BMC.Driver, failover.ErrInvalid)
		}
		return f(env, r)
	}
	// Make every server's BMC driver once now: a missing credential shows
	// before a failover needs it (and a simulation sets its clock).
	siteRecs, _ := s.Records()
	for _, r := range slices.Concat(siteRecs, recs) {
		if _, ok := reg.BMCs[r.BMC.Driver]; !ok {
			continue
		}
		if _, err := d.BMC(r); err != nil {
			errs = append(errs, fmt.Errorf("site: server %s: BMC (%s): %w", r.ID, r.BMC.Driver, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		_ = p.Close()
		return nil, err
	}
	p.Drivers = d
	p.Options = append(s.Options(), env.opts...)
	return p, nil
}

// Orchestrator returns a failover.Orchestrator over the parts, with their
// options and then opts.
func (p *Parts) Orchestrator(opts ...failover.Option) (*failover.Orchestrator, error) {
	return failover.New(p.Store, p.Drivers, append(slices.Clone(p.Options), opts...)...)
}
