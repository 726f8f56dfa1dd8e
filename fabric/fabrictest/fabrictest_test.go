package fabrictest_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/fabric/fabrictest"
	"github.com/coldstandby/coldstandby/internal/conformance"
	"github.com/coldstandby/coldstandby/storage"
	"github.com/coldstandby/coldstandby/storage/storagetest"
)

// zoneSet is zone name -> members.
type zoneSet map[string]map[storage.Initiator]bool

func (z zoneSet) clone() zoneSet {
	c := zoneSet{}
	for name, m := range z {
		c[name] = maps.Clone(m)
	}
	return c
}

func (z zoneSet) zonesOf(w storage.Initiator) []string {
	var out []string
	for name, m := range z {
		if m[w] {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// fcSwitch is the simulated fabric behind the reference FCZoner: an
// active configuration and a defined one being edited.
type fcSwitch struct {
	mu         sync.Mutex
	active     zoneSet
	defined    zoneSet
	failCommit bool
	conformance.Faults
}

// refZoner is a correct, in-memory fabric.FCZoner; variant breaks it on
// purpose.
type refZoner struct {
	s       *fcSwitch
	variant string
}

var (
	_ fabric.FCZoner = (*refZoner)(nil)
	_ fabric.Aborter = (*refZoner)(nil)
)

func checkCtx(ctx context.Context, variant, op string) error {
	if variant == "ignores-ctx" {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ref: %s: %w", op, err)
	}
	return nil
}

func (r *refZoner) begin(ctx context.Context, op string, w storage.Initiator) error {
	if w.Kind() != storage.FC {
		return fmt.Errorf("ref: %s: %q is not a WWPN: %w", op, w, fabric.ErrInvalid)
	}
	return r.s.Admit(ctx, &r.s.mu, op, "switch busy", r.variant, nil)
}

func (r *refZoner) Zones(ctx context.Context, w storage.Initiator) ([]string, error) {
	if err := r.begin(ctx, "zones", w); err != nil {
		return nil, err
	}
	defer r.s.mu.Unlock()
	out := r.s.defined.zonesOf(w)
	if r.variant == "unsorted" {
		slices.Reverse(out)
	}
	return out, nil
}

func (r *refZoner) edit(ctx context.Context, op, zone string, w storage.Initiator, add bool) error {
	if err := r.begin(ctx, op, w); err != nil {
		return err
	}
	defer r.s.mu.Unlock()
	m, ok := r.s.defined[zone]
	if !ok {
		if r.variant == "wrong-kind" {
			return fmt.Errorf("ref: %s: zone %s: %w", op, zone, fabric.ErrInvalid)
		}
		return fmt.Errorf("ref: %s: zone %s: %w", op, zone, fabric.ErrNotFound)
	}
	switch r.variant {
	case "racy":
		// Copy-on-write without holding the lock in between.
		c := maps.Clone(m)
		r.s.mu.Unlock()
		time.Sleep(time.Millisecond)
		if add {
			c[w] = true
		} else {
			delete(c, w)
		}
		r.s.mu.Lock()
		r.s.defined[zone] = c
	case "not-idempotent":
		if add && m[w] {
			return fmt.Errorf("ref: %s: already a member: %w", op, fabric.ErrConflict)
		}
		fallthrough
	default:
		if add {
			m[w] = true
		} else {
			delete(m, w)
		}
	}
	if r.variant == "no-transaction" {
		r.s.active = r.s.defined.clone()
	}
	return nil
}

func (r *refZoner) AddMember(ctx context.Context, zone string, w storage.Initiator) error {
	return r.edit(ctx, "add member", zone, w, true)
}

func (r *refZoner) RemoveMember(ctx context.Context, zone string, w storage.Initiator) error {
	return r.edit(ctx, "remove member", zone, w, false)
}

func (r *refZoner) Commit(ctx context.Context) error {
	if err := checkCtx(ctx, r.variant, "commit"); err != nil {
		return err
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.s.failCommit {
		r.s.failCommit = false
		if r.variant != "keeps-pending" {
			r.s.defined = r.s.active.clone() // abort
		}
		return fmt.Errorf("ref: commit: checksum changed: %w", fabric.ErrConflict)
	}
	r.s.active = r.s.defined.clone()
	return nil
}

// Abort implements fabric.Aborter.
func (r *refZoner) Abort(ctx context.Context) error {
	if err := checkCtx(ctx, r.variant, "abort"); err != nil {
		return err
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.variant != "abort-keeps-pending" {
		r.s.defined = r.s.active.clone()
	}
	return nil
}

// zonerHarness is the reference harness, with every optional capability.
type zonerHarness struct {
	s       *fcSwitch
	variant string
}

func (h *zonerHarness) MakeZoner(context.Context) (fabric.FCZoner, error) {
	return &refZoner{s: h.s, variant: h.variant}, nil
}

func (h *zonerHarness) ZoneFixture(_ context.Context, n int) ([2]string, []storage.Initiator, error) {
	return [2]string{"z_b", "z_a"}, storagetest.Initiators(storage.FC, n), nil
}

func (h *zonerHarness) ActiveZones(_ context.Context, w storage.Initiator) ([]string, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.s.active.zonesOf(w), nil
}

func (h *zonerHarness) FailNextCommit(context.Context) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.failCommit = true
	return nil
}

func (h *zonerHarness) StallNext(_ context.Context, d time.Duration) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.Stall = d
	return nil
}

func (h *zonerHarness) FailNext(context.Context) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.FailNext = true
	return nil
}

func newZonerHarness(variant string) func(t *testing.T) fabrictest.ZonerHarness {
	return func(t *testing.T) fabrictest.ZonerHarness {
		other := storage.MustParseInitiator("10:00:00:00:c9:00:00:01")
		zs := zoneSet{"z_a": {other: true}, "z_b": {}, "z_other": {other: true}}
		return &zonerHarness{s: &fcSwitch{active: zs, defined: zs.clone()}, variant: variant}
	}
}

// minimalZoner has no optional capability.
type minimalZoner struct{ h *zonerHarness }

func (m minimalZoner) MakeZoner(ctx context.Context) (fabric.FCZoner, error) {
	return m.h.MakeZoner(ctx)
}
func (m minimalZoner) ZoneFixture(ctx context.Context, n int) ([2]string, []storage.Initiator, error) {
	return m.h.ZoneFixture(ctx, n)
}
func (m minimalZoner) ActiveZones(ctx context.Context, w storage.Initiator) ([]string, error) {
	return m.h.ActiveZones(ctx, w)
}

// vSwitch is the simulated Ethernet switch behind the reference
// VLANSwitch.
type vSwitch struct {
	mu    sync.Mutex
	ports map[string]fabric.PortVLAN
	conformance.Faults
}

// refVLAN is a correct, in-memory fabric.VLANSwitch; variant breaks it on
// purpose.
type refVLAN struct {
	s       *vSwitch
	variant string
}

var _ fabric.VLANSwitch = (*refVLAN)(nil)

func (r *refVLAN) begin(ctx context.Context, op string) error {
	return r.s.Admit(ctx, &r.s.mu, op, "switch busy", r.variant, nil)
}

func (r *refVLAN) PortVLAN(ctx context.Context, port string) (fabric.PortVLAN, error) {
	if err := r.begin(ctx, "port vlan"); err != nil {
		return fabric.PortVLAN{}, err
	}
	defer r.s.mu.Unlock()
	v, ok := r.s.ports[port]
	if !ok {
		return fabric.PortVLAN{}, fmt.Errorf("ref: port %s: %w", port, fabric.ErrNotFound)
	}
	return v, nil
}

func (r *refVLAN) SetPortVLAN(ctx context.Context, port string, v fabric.PortVLAN) (fabric.PortVLAN, error) {
	if err := v.Validate(); err != nil && r.variant != "accepts-invalid" {
		return fabric.PortVLAN{}, fmt.Errorf("ref: set port %s: %w", port, err)
	}
	if r.variant != "not-normalised" {
		v = v.Normalize()
	}
	if err := r.begin(ctx, "set port vlan"); err != nil {
		return fabric.PortVLAN{}, err
	}
	prev, ok := r.s.ports[port]
	if !ok {
		r.s.mu.Unlock()
		if r.variant == "wrong-kind" {
			return fabric.PortVLAN{}, fmt.Errorf("ref: port %s: %w", port, fabric.ErrInvalid)
		}
		return fabric.PortVLAN{}, fmt.Errorf("ref: port %s: %w", port, fabric.ErrNotFound)
	}
	if r.variant == "racy" {
		// Read, then write without holding the lock in between.
		r.s.mu.Unlock()
		time.Sleep(time.Millisecond)
		r.s.mu.Lock()
	}
	defer r.s.mu.Unlock()
	if r.variant == "memory-only" {
		return prev, nil
	}
	r.s.ports[port] = v
	if r.variant == "returns-new" {
		return v, nil
	}
	return prev, nil
}

// vlanHarness is the reference harness, with every optional capability.
type vlanHarness struct {
	s       *vSwitch
	variant string
}

func (h *vlanHarness) MakeSwitch(context.Context) (fabric.VLANSwitch, error) {
	return &refVLAN{s: h.s, variant: h.variant}, nil
}

func (h *vlanHarness) VLANFixture(_ context.Context, n int) ([]string, fabric.PortVLAN, fabric.PortVLAN, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	var ports []string
	for i := range n {
		p := fmt.Sprintf("eth%d", i)
		h.s.ports[p] = fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 1}
		ports = append(ports, p)
	}
	return ports,
		fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 110},
		fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 1, Trunk: []int{110, 120, 130}},
		nil
}

func (h *vlanHarness) ReadPort(_ context.Context, port string) (fabric.PortVLAN, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	v, ok := h.s.ports[port]
	if !ok {
		return fabric.PortVLAN{}, fmt.Errorf("no port %s", port)
	}
	return v.Normalize(), nil
}

func (h *vlanHarness) StallNext(_ context.Context, d time.Duration) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.Stall = d
	return nil
}

func (h *vlanHarness) FailNext(context.Context) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.FailNext = true
	return nil
}

func newVLANHarness(variant string) func(t *testing.T) fabrictest.VLANHarness {
	return func(t *testing.T) fabrictest.VLANHarness {
		return &vlanHarness{s: &vSwitch{ports: map[string]fabric.PortVLAN{}}, variant: variant}
	}
}

// minimalVLAN has no optional capability.
type minimalVLAN struct{ h *vlanHarness }

func (m minimalVLAN) MakeSwitch(ctx context.Context) (fabric.VLANSwitch, error) {
	return m.h.MakeSwitch(ctx)
}
func (m minimalVLAN) VLANFixture(ctx context.Context, n int) ([]string, fabric.PortVLAN, fabric.PortVLAN, error) {
	return m.h.VLANFixture(ctx, n)
}
func (m minimalVLAN) ReadPort(ctx context.Context, port string) (fabric.PortVLAN, error) {
	return m.h.ReadPort(ctx, port)
}

func TestReferenceZoner(t *testing.T) {
	fabrictest.RunZoner(t, newZonerHarness(""))
}

func TestReferenceZonerWithoutOptionalCapabilities(t *testing.T) {
	fabrictest.RunZoner(t, func(t *testing.T) fabrictest.ZonerHarness {
		return minimalZoner{newZonerHarness("")(t).(*zonerHarness)}
	})
}

func TestReferenceVLAN(t *testing.T) {
	fabrictest.RunVLAN(t, newVLANHarness(""))
}

func TestReferenceVLANWithoutOptionalCapabilities(t *testing.T) {
	fabrictest.RunVLAN(t, func(t *testing.T) fabrictest.VLANHarness {
		return minimalVLAN{newVLANHarness("")(t).(*vlanHarness)}
	})
}

const variantEnv = "FABRICTEST_BROKEN_VARIANT"

// TestBrokenHelper runs a suite against a broken variant of a reference
// driver ("zoner:..." or "vlan:..."); TestBrokenDriversFail runs it in a
// subprocess.
func TestBrokenHelper(t *testing.T) {
	conformance.BrokenHelper(t, variantEnv, func(t *testing.T, v string) {
		if variant, ok := strings.CutPrefix(v, "zoner:"); ok {
			fabrictest.RunZoner(t, newZonerHarness(variant))
			return
		}
		fabrictest.RunVLAN(t, newVLANHarness(strings.TrimPrefix(v, "vlan:")))
	})
}

func TestBrokenDriversFail(t *testing.T) {
	conformance.BrokenDriversFail(t, variantEnv, []conformance.Broken{
		{Variant: "zoner:not-idempotent", Want: "AddMember/twice_is_once"},
		{Variant: "zoner:no-transaction", Want: "AddMember/pending_until_Commit"},
		{Variant: "zoner:wrong-kind", Want: "AddMember/unknown_zone_is_not_found"},
		{Variant: "zoner:unsorted", Want: "Zones/sorted_zone_names"},
		{Variant: "zoner:keeps-pending", Want: "Commit/failed_Commit_aborts_pending_changes"},
		{Variant: "zoner:abort-keeps-pending", Want: "Abort/discards_pending_changes"},
		{Variant: "zoner:transient-wrong-kind", Want: "TransientFailure/failed_AddMember_changes_nothing_and_retry_succeeds"},
		{Variant: "zoner:ignores-ctx", Want: "Context/cancelled/AddMember_changes_nothing"},
		{Variant: "zoner:ignores-ctx", Want: "Context/deadline_exceeded/Commit_activates_nothing"},
		{Variant: "zoner:ignores-ctx", Want: "Context/cancelled_mid_request_AddMember"},
		{Variant: "zoner:racy", Want: "Concurrency/distinct_members_one_Commit"},
		{Variant: "vlan:returns-new", Want: "SetPortVLAN/sets_and_returns_previous"},
		{Variant: "vlan:memory-only", Want: "SetPortVLAN/sets_and_returns_previous"},
		{Variant: "vlan:not-normalised", Want: "SetPortVLAN/trunk_list_in_any_spelling"},
		{Variant: "vlan:accepts-invalid", Want: "SetPortVLAN/invalid_setting_is_invalid"},
		{Variant: "vlan:wrong-kind", Want: "SetPortVLAN/unknown_port_is_not_found"},
		{Variant: "vlan:transient-wrong-kind", Want: "TransientFailure/failed_SetPortVLAN_changes_nothing_and_retry_succeeds"},
		{Variant: "vlan:ignores-ctx", Want: "Context/cancelled/SetPortVLAN_changes_nothing"},
		{Variant: "vlan:ignores-ctx", Want: "Context/cancelled_mid_request_SetPortVLAN"},
		{Variant: "vlan:racy", Want: "Concurrency/one_port_exactly_one_sees_the_old_setting"},
	})
}
