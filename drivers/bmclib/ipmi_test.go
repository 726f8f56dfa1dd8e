package bmclib_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/bmc/bmctest"
	"github.com/coldstandby/coldstandby/drivers/bmclib"
	"github.com/coldstandby/coldstandby/internal/ipmisim"
	"github.com/coldstandby/coldstandby/internal/testpeer"
)

// ipmitoolWrapper writes a script that runs the real ipmitool, except that
// it fails once, like an unreachable BMC, after the file fail-next appears
// next to it.
func ipmitoolWrapper(t testing.TB) (path, failFile string) {
	t.Helper()
	real := testpeer.LookPath(t, "ipmitool", "ipmitool")[0]
	dir := t.TempDir()
	failFile = filepath.Join(dir, "fail-next")
	script := fmt.Sprintf(`#!/bin/sh
if rm "%s" 2>/dev/null; then
  echo "Error: Unable to establish IPMI v2 / RMCP+ session" >&2
  exit 1
fi
exec "%s" "$@"
`, failFile, real)
	path = filepath.Join(dir, "ipmitool")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, failFile
}

// ipmiHarness is one ipmi_sim server for bmc/bmctest.
type ipmiHarness struct {
	t        *testing.T
	sim      *ipmisim.Server
	wrapper  string
	failFile string
	events   atomic.Int32
}

func newIPMIHarness(t *testing.T) bmctest.Harness {
	wrapper, failFile := ipmitoolWrapper(t)
	return &ipmiHarness{t: t, sim: pooledSim(t), wrapper: wrapper, failFile: failFile}
}

// simPool keeps ipmi_sim processes between conformance subtests: starting
// one costs more than the subtest itself. Each is reset to a new one's
// state before reuse; TestMain stops them.
var simPool struct {
	mu   sync.Mutex
	free []*ipmisim.Server
	all  []*ipmisim.Server
	dir  string
}

func pooledSim(t *testing.T) *ipmisim.Server {
	t.Helper()
	testpeer.LookPath(t, "openipmi", "ipmi_sim")
	testpeer.LookPath(t, "ipmitool", "ipmitool")
	simPool.mu.Lock()
	var s *ipmisim.Server
	if n := len(simPool.free); n > 0 {
		s, simPool.free = simPool.free[n-1], simPool.free[:n-1]
	}
	simPool.mu.Unlock()
	if s == nil {
		simPool.mu.Lock()
		if simPool.dir == "" {
			d, err := os.MkdirTemp("", "bmclib-ipmisim-")
			if err != nil {
				simPool.mu.Unlock()
				t.Fatal(err)
			}
			simPool.dir = d
		}
		dir, err := os.MkdirTemp(simPool.dir, "sim-")
		simPool.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if s, err = ipmisim.Launch(dir); err != nil {
			t.Fatal(err)
		}
		simPool.mu.Lock()
		simPool.all = append(simPool.all, s)
		simPool.mu.Unlock()
	} else if err := s.Reset(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		simPool.mu.Lock()
		defer simPool.mu.Unlock()
		simPool.free = append(simPool.free, s)
	})
	return s
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, s := range simPool.all {
		s.Stop()
	}
	if simPool.dir != "" {
		os.RemoveAll(simPool.dir)
	}
	os.Exit(code)
}

func ipmiDriver(t testing.TB, sim *ipmisim.Server, opts ...bmclib.Option) *bmclib.Driver {
	t.Helper()
	base := []bmclib.Option{
		bmclib.WithProviders(bmclib.ProviderIPMI),
		bmclib.WithIPMIPort(sim.Port),
		bmclib.WithIPMICipherSuite(ipmisim.CipherSuite),
		bmclib.WithCallTimeout(10 * time.Second),
		bmclib.WithConfirmTimeout(10 * time.Second),
		bmclib.WithPollInterval(50 * time.Millisecond),
	}
	d, err := bmclib.New(sim.Host, ipmisim.User, ipmisim.Password, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (h *ipmiHarness) MakeBMC(context.Context) (bmc.BMC, error) {
	return ipmiDriver(h.t, h.sim, bmclib.WithIpmitoolPath(h.wrapper)), nil
}

func (h *ipmiHarness) SetPower(_ context.Context, state bmc.PowerState) error {
	h.sim.SetPower(h.t, state == bmc.PowerOn)
	return nil
}

func (h *ipmiHarness) Power(context.Context) (bmc.PowerState, error) {
	if h.sim.PoweredOn() {
		return bmc.PowerOn, nil
	}
	return bmc.PowerOff, nil
}

func (h *ipmiHarness) IgnoreShutdown(context.Context) error {
	h.sim.IgnoreShutdown(h.t, true)
	return nil
}

func (h *ipmiHarness) AddEvent(context.Context) error {
	n := h.events.Add(1)
	h.sim.AddSEL(h.t, ipmisim.SELRecord{SensorType: 0x0c, SensorNumber: uint8(n), EventType: 0x6f, Offset: 0})
	return nil
}

func (h *ipmiHarness) ClearEvents(ctx context.Context) error {
	_, err := h.sim.Ipmitool(ctx, "sel", "clear")
	return err
}

// RestorePolicy reads "Power Restore Policy" from ipmitool chassis status.
func (h *ipmiHarness) RestorePolicy(ctx context.Context) (bmc.RestorePolicy, error) {
	out, err := h.sim.Ipmitool(ctx, "chassis", "status")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(out, "\n") {
		if name, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "Power Restore Policy" {
			switch v = strings.TrimSpace(v); v {
			case "always-off":
				return bmc.RestoreAlwaysOff, nil
			case "always-on":
				return bmc.RestoreAlwaysOn, nil
			case "previous":
				return bmc.RestorePrevious, nil
			}
			return "", fmt.Errorf("chassis status: policy %q", v)
		}
	}
	return "", fmt.Errorf("chassis status without a policy: %q", out)
}

func (h *ipmiHarness) FailNext(context.Context) error {
	return os.WriteFile(h.failFile, nil, 0o644)
}

var (
	_ bmctest.ShutdownIgnorer     = (*ipmiHarness)(nil)
	_ bmctest.EventLogger         = (*ipmiHarness)(nil)
	_ bmctest.TransientFailer     = (*ipmiHarness)(nil)
	_ bmctest.RestorePolicyReader = (*ipmiHarness)(nil)
)

func TestConformanceIPMISim(t *testing.T) {
	t.Parallel()
	bmctest.Run(t, newIPMIHarness)
}

func TestNMIIsUnsupportedOnIPMISim(t *testing.T) {
	t.Parallel()
	sim := ipmisim.Start(t, ipmisim.WithPoweredOn())
	d := ipmiDriver(t, sim)
	err := d.NMI(t.Context())
	if !errors.Is(err, bmc.ErrUnsupported) {
		t.Fatalf("NMI on ipmi_sim: %v, want ErrUnsupported", err)
	}
	if !sim.PoweredOn() {
		t.Error("NMI changed the power state")
	}
}

func TestDeadBMCFailsWithinCallTimeout(t *testing.T) {
	t.Parallel()
	sim := ipmisim.Start(t)
	sim.Stop() // nothing answers on its port any more
	const callTimeout = 1500 * time.Millisecond
	d := ipmiDriver(t, sim, bmclib.WithCallTimeout(callTimeout))
	for name, call := range map[string]func(context.Context) error{
		"PowerState": func(ctx context.Context) error { _, err := d.PowerState(ctx); return err },
		"PowerOff":   d.PowerOff,
		"Events":     func(ctx context.Context) error { _, _, err := d.Events(ctx, ""); return err },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			err := call(context.Background()) // no deadline: the driver's own bound must hold
			took := time.Since(start)
			if !errors.Is(err, bmc.ErrTransient) {
				t.Errorf("%s against a dead BMC: %v, want ErrTransient", name, err)
			}
			if took > callTimeout+time.Second {
				t.Errorf("%s against a dead BMC took %v, want about the call timeout %v", name, took, callTimeout)
			}
			t.Logf("%s failed after %v: %v", name, took.Round(time.Millisecond), err)
		})
	}
}

func TestWrongPasswordNeverShowsCredentials(t *testing.T) {
	t.Parallel()
	sim := ipmisim.Start(t)
	const wrong = "Wr0ng-Passw0rd-x9"
	d, err := bmclib.New(sim.Host, ipmisim.User, wrong,
		bmclib.WithProviders(bmclib.ProviderIPMI), bmclib.WithIPMIPort(sim.Port),
		bmclib.WithCallTimeout(5*time.Second), bmclib.WithLogger(captureLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.PowerState(t.Context())
	if !errors.Is(err, bmc.ErrTransient) {
		t.Fatalf("PowerState with a wrong password: %v, want ErrTransient", err)
	}
	assertNoSecret(t, err.Error(), wrong)
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
		assertNoSecret(t, u.Error(), wrong)
	}
	assertNoSecret(t, logged(t), wrong)
}

func TestSetBootDeviceReachesTheChassis(t *testing.T) {
	t.Parallel()
	sim := ipmisim.Start(t)
	d := ipmiDriver(t, sim)
	if err := d.SetBootDevice(t.Context(), bmc.BootPXE, false); err != nil {
		t.Fatal(err)
	}
	if got := sim.BootDevice(); got != "pxe" {
		t.Fatalf("boot device = %q, want pxe", got)
	}
	if err := d.SetBootDevice(t.Context(), bmc.BootDisk, true); err != nil {
		t.Fatal(err)
	}
	// ipmi_sim passes IPMI's "force boot from default hard drive" on as
	// "default".
	if got := sim.BootDevice(); got != "default" {
		t.Fatalf("boot device = %q, want default (disk)", got)
	}
}

// TestPowerOffOnCycle measures a full cycle through ipmi_sim and ipmitool.
func TestPowerOffOnCycle(t *testing.T) {
	t.Parallel()
	sim := ipmisim.Start(t, ipmisim.WithPoweredOn())
	d := ipmiDriver(t, sim)
	const cycles = 2
	start := time.Now()
	for range cycles {
		if err := d.PowerOff(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := d.PowerOn(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("power off+on through ipmi_sim: %v per cycle", (time.Since(start) / cycles).Round(time.Millisecond))
	if !sim.PoweredOn() {
		t.Fatal("server is off after the last PowerOn")
	}
}

func TestDumpInProgressFromTheSEL(t *testing.T) {
	t.Parallel()
	sim := ipmisim.Start(t, ipmisim.WithPoweredOn())
	d := ipmiDriver(t, sim)
	want := func(step string, w bool) {
		t.Helper()
		got, err := d.DumpInProgress(t.Context())
		if err != nil {
			t.Fatalf("%s: DumpInProgress: %v", step, err)
		}
		if got != w {
			t.Errorf("%s: DumpInProgress = %v, want %v", step, got, w)
		}
	}
	want("fresh server", false)
	sim.AddSEL(t, ipmisim.SELRecord{SensorType: 0x20, SensorNumber: 1, EventType: 0x6f, Offset: 0x01}) // run-time critical stop
	want("after an OS critical stop", true)
	sim.SetPower(t, false)
	want("powered off", false)
	sim.SetPower(t, true)
	sim.AddSEL(t, ipmisim.SELRecord{SensorType: 0x1d, SensorNumber: 2, EventType: 0x6f, Offset: 0x02}) // warm reset boot
	want("after the reboot", false)
}
