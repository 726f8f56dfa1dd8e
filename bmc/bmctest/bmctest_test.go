package bmctest_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/bmc/bmctest"
	"github.com/coldstandby/coldstandby/internal/conformance"
)

// server is the simulated machine behind the reference BMC.
type server struct {
	mu             sync.Mutex
	power          bmc.PowerState
	ignoreShutdown bool
	bootDev        bmc.BootDevice
	persistent     bool
	events         []bmc.Event
	nextID         int
	restore        bmc.RestorePolicy
	conformance.Faults
	racy int // touched without the lock by the "racy" variant
}

// refBMC is a correct, in-memory bmc.BMC; variant breaks it on purpose.
type refBMC struct {
	s       *server
	variant string
	mine    bmc.PowerState    // the "memory-only" variant's idea of the power
	policy  bmc.RestorePolicy // the "restore-memory-only" variant's idea of the policy
}

var (
	_ bmc.BMC           = (*refBMC)(nil)
	_ bmc.DumpReporter  = (*refBMC)(nil)
	_ bmc.PowerRestorer = (*refBMC)(nil)
)

// begin checks ctx and the injected failure, then takes the lock.
func (b *refBMC) begin(ctx context.Context, op string) error {
	return b.s.Admit(ctx, &b.s.mu, op, "connection refused", b.variant, b.wait)
}

// wait holds a request for d, as a slow BMC does, unless ctx is done
// first.
func (b *refBMC) wait(ctx context.Context, d time.Duration) error {
	err := conformance.Hold(ctx, d, b.variant == "ignores-ctx")
	if err != nil && b.variant == "applies-after-cancel" {
		// The BMC carries the request out anyway, and the driver does
		// not say the outcome is unknown.
		time.AfterFunc(d, func() {
			b.s.mu.Lock()
			defer b.s.mu.Unlock()
			b.s.power = bmc.PowerOn
		})
	}
	return err
}

func (b *refBMC) PowerState(ctx context.Context) (bmc.PowerState, error) {
	if err := b.begin(ctx, "power state"); err != nil {
		return "", err
	}
	defer b.s.mu.Unlock()
	if b.variant == "memory-only" && b.mine != "" {
		return b.mine, nil
	}
	return b.s.power, nil
}

func (b *refBMC) PowerOn(ctx context.Context) error {
	if b.variant == "racy" {
		b.s.racy++
	}
	if err := b.begin(ctx, "power on"); err != nil {
		return err
	}
	defer b.s.mu.Unlock()
	if b.variant == "not-idempotent" && b.s.power == bmc.PowerOn {
		return fmt.Errorf("ref: power on: already on: %w", bmc.ErrConflict)
	}
	if b.variant == "memory-only" {
		b.mine = bmc.PowerOn
		return nil
	}
	b.s.power = bmc.PowerOn
	return nil
}

func (b *refBMC) Shutdown(ctx context.Context) error {
	if err := b.begin(ctx, "shutdown"); err != nil {
		return err
	}
	defer b.s.mu.Unlock()
	if b.s.power != bmc.PowerOn {
		return nil
	}
	if b.s.ignoreShutdown {
		if b.variant == "shutdown-waits" {
			return fmt.Errorf("ref: shutdown: server still on: %w", bmc.ErrOutcomeUnknown)
		}
		return nil
	}
	time.AfterFunc(10*time.Millisecond, func() {
		b.s.mu.Lock()
		defer b.s.mu.Unlock()
		b.s.power = bmc.PowerOff
	})
	return nil
}

func (b *refBMC) PowerOff(ctx context.Context) error {
	if b.variant == "racy" {
		b.s.racy++
	}
	if err := b.begin(ctx, "power off"); err != nil {
		return err
	}
	defer b.s.mu.Unlock()
	if b.variant == "returns-early" {
		time.AfterFunc(50*time.Millisecond, func() {
			b.s.mu.Lock()
			defer b.s.mu.Unlock()
			b.s.power = bmc.PowerOff
		})
		return nil
	}
	b.s.power = bmc.PowerOff
	return nil
}

func (b *refBMC) NMI(ctx context.Context) error {
	if err := b.begin(ctx, "nmi"); err != nil {
		return err
	}
	defer b.s.mu.Unlock()
	if b.variant == "unsupported-nmi" {
		return fmt.Errorf("ref: nmi: %w", bmc.ErrUnsupported)
	}
	if b.s.power != bmc.PowerOn {
		if b.variant == "wrong-kind" {
			return fmt.Errorf("ref: nmi: server off: %w", bmc.ErrInvalid)
		}
		return fmt.Errorf("ref: nmi: server off: %w", bmc.ErrConflict)
	}
	return nil
}

func (b *refBMC) SetBootDevice(ctx context.Context, dev bmc.BootDevice, persistent bool) error {
	if dev != bmc.BootDisk && dev != bmc.BootPXE && b.variant != "accepts-anything" {
		return fmt.Errorf("ref: boot device %q: %w", dev, bmc.ErrInvalid)
	}
	if err := b.begin(ctx, "set boot device"); err != nil {
		return err
	}
	defer b.s.mu.Unlock()
	b.s.bootDev, b.s.persistent = dev, persistent
	return nil
}

func (b *refBMC) Events(ctx context.Context, after bmc.Cursor) ([]bmc.Event, bmc.Cursor, error) {
	if err := b.begin(ctx, "events"); err != nil {
		return nil, after, err
	}
	defer b.s.mu.Unlock()
	start := 0
	if b.variant != "ignores-cursor" {
		for i, e := range b.s.events {
			if bmc.Cursor(e.ID) == after {
				start = i + 1
			}
		}
	}
	evs := append([]bmc.Event(nil), b.s.events[start:]...)
	if len(evs) == 0 {
		return nil, after, nil
	}
	return evs, bmc.Cursor(evs[len(evs)-1].ID), nil
}

func (b *refBMC) DumpInProgress(ctx context.Context) (bool, error) {
	if err := b.begin(ctx, "dump status"); err != nil {
		return false, err
	}
	defer b.s.mu.Unlock()
	return b.variant == "always-dumping", nil
}

func (b *refBMC) PowerRestorePolicy(ctx context.Context) (bmc.RestorePolicy, error) {
	if err := b.begin(ctx, "power restore policy"); err != nil {
		return "", err
	}
	defer b.s.mu.Unlock()
	if b.variant == "restore-memory-only" && b.policy != "" {
		return b.policy, nil
	}
	return b.s.restore, nil
}

func (b *refBMC) SetPowerRestorePolicy(ctx context.Context, p bmc.RestorePolicy) error {
	if !p.Valid() {
		switch b.variant {
		case "restore-accepts-anything":
		case "restore-wrong-kind":
			return fmt.Errorf("ref: power restore policy %q: %w", p, bmc.ErrUnsupported)
		default:
			return fmt.Errorf("ref: power restore policy %q: %w", p, bmc.ErrInvalid)
		}
	}
	if err := b.begin(ctx, "set power restore policy"); err != nil {
		return err
	}
	defer b.s.mu.Unlock()
	switch {
	case b.variant == "restore-refuses-on" && p == bmc.RestoreAlwaysOn && b.s.restore != p:
		return fmt.Errorf("ref: power restore policy %q: refused by the BMC: %w", p, bmc.ErrUnsupported)
	case b.variant == "restore-not-idempotent" && b.s.restore == p:
		return fmt.Errorf("ref: power restore policy already %q: %w", p, bmc.ErrConflict)
	case b.variant == "restore-memory-only":
		b.policy = p
	case b.variant == "restore-refuses-silently" && p == bmc.RestoreAlwaysOn:
		// Says yes, changes nothing.
	default:
		b.s.restore = p
	}
	return nil
}

// harness is the reference harness, with every optional capability.
type harness struct {
	s       *server
	variant string
}

func (h *harness) MakeBMC(context.Context) (bmc.BMC, error) {
	return &refBMC{s: h.s, variant: h.variant}, nil
}

func (h *harness) SetPower(_ context.Context, p bmc.PowerState) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.power = p
	return nil
}

func (h *harness) Power(context.Context) (bmc.PowerState, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.s.power, nil
}

func (h *harness) IgnoreShutdown(context.Context) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.ignoreShutdown = true
	return nil
}

func (h *harness) BootDevice(context.Context) (bmc.BootDevice, bool, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.s.bootDev, h.s.persistent, nil
}

func (h *harness) AddEvent(context.Context) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.nextID++
	h.s.events = append(h.s.events, bmc.Event{
		ID:       strconv.Itoa(h.s.nextID),
		Time:     time.Date(2026, 1, 1, 0, 0, h.s.nextID, 0, time.UTC),
		Message:  "test record",
		Severity: bmc.SeverityWarning,
	})
	return nil
}

func (h *harness) ClearEvents(context.Context) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.events, h.s.nextID = nil, 0 // record ids restart, like many SELs
	return nil
}

func (h *harness) RestorePolicy(context.Context) (bmc.RestorePolicy, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.s.restore, nil
}

func (h *harness) StallNext(_ context.Context, d time.Duration) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.Stall = d
	return nil
}

func (h *harness) FailNext(context.Context) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.FailNext = true
	return nil
}

func newHarness(variant string) func(t *testing.T) bmctest.Harness {
	return func(t *testing.T) bmctest.Harness {
		return &harness{s: &server{power: bmc.PowerOff, bootDev: bmc.BootPXE, restore: bmc.RestorePrevious}, variant: variant}
	}
}

// minimal has none of the optional capabilities, and its driver no
// DumpReporter and no NMI: the suite must pass it, skipping those parts.
type minimal struct{ h *harness }

func (m minimal) MakeBMC(ctx context.Context) (bmc.BMC, error) {
	d, _ := m.h.MakeBMC(ctx)
	return struct{ bmc.BMC }{d}, nil
}
func (m minimal) SetPower(ctx context.Context, p bmc.PowerState) error {
	return m.h.SetPower(ctx, p)
}
func (m minimal) Power(ctx context.Context) (bmc.PowerState, error) { return m.h.Power(ctx) }

func TestReference(t *testing.T) {
	bmctest.Run(t, newHarness(""))
}

// A BMC that refuses one policy (ipmi_sim refuses every change) passes:
// the contract allows ErrUnsupported for it.
func TestReferenceRefusingAPolicy(t *testing.T) {
	bmctest.Run(t, newHarness("restore-refuses-on"))
}

func TestReferenceWithoutOptionalCapabilities(t *testing.T) {
	bmctest.Run(t, func(t *testing.T) bmctest.Harness {
		return minimal{newHarness("unsupported-nmi")(t).(*harness)}
	})
}

const variantEnv = "BMCTEST_BROKEN_VARIANT"

// TestBrokenHelper runs the suite against a broken variant of the
// reference driver; TestBrokenDriversFail runs it in a subprocess.
func TestBrokenHelper(t *testing.T) {
	conformance.BrokenHelper(t, variantEnv, func(t *testing.T, v string) {
		bmctest.Run(t, newHarness(v))
	})
}

func TestBrokenDriversFail(t *testing.T) {
	conformance.BrokenDriversFail(t, variantEnv, []conformance.Broken{
		{Variant: "not-idempotent", Want: "PowerOn/already_on_returns_nil"},
		{Variant: "memory-only", Want: "PowerOn/turns_an_off_server_on"},
		{Variant: "returns-early", Want: "PowerOff/turns_an_on_server_off"},
		{Variant: "wrong-kind", Want: "NMI/server_off_is_conflict"},
		{Variant: "accepts-anything", Want: "SetBootDevice/unknown_device_is_invalid"},
		{Variant: "shutdown-waits", Want: "Shutdown/ignored_by_OS_then_PowerOff"},
		{Variant: "ignores-cursor", Want: "Events/new_records_oldest_first"},
		{Variant: "always-dumping", Want: "DumpInProgress/fresh_server_is_not_dumping"},
		{Variant: "restore-not-idempotent", Want: "PowerRestorePolicy/setting_the_current_policy_returns_nil"},
		{Variant: "restore-not-idempotent", Want: "PowerRestorePolicy/sets_each_policy_twice_is_once"},
		{Variant: "restore-memory-only", Want: "PowerRestorePolicy/sets_each_policy_twice_is_once"},
		{Variant: "restore-refuses-silently", Want: "PowerRestorePolicy/sets_each_policy_twice_is_once"},
		{Variant: "restore-accepts-anything", Want: "PowerRestorePolicy/unknown_policy_is_invalid"},
		{Variant: "restore-wrong-kind", Want: "PowerRestorePolicy/unknown_policy_is_invalid"},
		{Variant: "ignores-ctx", Want: "Context/cancelled/SetPowerRestorePolicy_changes_nothing"},
		{Variant: "transient-wrong-kind", Want: "TransientFailure/failed_request_changes_nothing_and_retry_succeeds"},
		{Variant: "ignores-ctx", Want: "Context/cancelled/PowerOn_changes_nothing"},
		{Variant: "ignores-ctx", Want: "Context/deadline_exceeded/reads"},
		{Variant: "ignores-ctx", Want: "Context/cancelled_mid_request_PowerOn"},
		{Variant: "applies-after-cancel", Want: "Context/cancelled_mid_request_PowerOn"},
		{Variant: "racy", Want: "Concurrency/parallel_PowerOn_then_PowerOff", RaceOnly: true},
	})
}
