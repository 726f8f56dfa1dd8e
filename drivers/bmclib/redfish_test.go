package bmclib_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/bmc/bmctest"
	"github.com/coldstandby/coldstandby/drivers/bmclib"
	"github.com/coldstandby/coldstandby/internal/redfishbmc"
)

func redfishDriver(t testing.TB, s *redfishbmc.Server, opts ...bmclib.Option) *bmclib.Driver {
	t.Helper()
	base := []bmclib.Option{
		bmclib.WithProviders(bmclib.ProviderRedfish),
		bmclib.WithRedfishPort(s.Port),
		bmclib.WithRootCAs(s.Roots),
		bmclib.WithCallTimeout(5 * time.Second),
		bmclib.WithConfirmTimeout(5 * time.Second),
		bmclib.WithPollInterval(20 * time.Millisecond),
	}
	d, err := bmclib.New(s.Host, redfishbmc.User, redfishbmc.Password, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type redfishHarness struct {
	t      *testing.T
	srv    *redfishbmc.Server
	events atomic.Int32
}

func (h *redfishHarness) MakeBMC(context.Context) (bmc.BMC, error) {
	return redfishDriver(h.t, h.srv), nil
}

func (h *redfishHarness) SetPower(_ context.Context, state bmc.PowerState) error {
	h.srv.SetPower(state == bmc.PowerOn)
	return nil
}

func (h *redfishHarness) Power(context.Context) (bmc.PowerState, error) {
	return bmclib.NormalizePower(h.srv.PowerState()), nil
}

func (h *redfishHarness) IgnoreShutdown(context.Context) error {
	h.srv.IgnoreShutdown(true)
	return nil
}

func (h *redfishHarness) BootDevice(context.Context) (bmc.BootDevice, bool, error) {
	target, enabled := h.srv.Boot()
	devs := map[string]bmc.BootDevice{"Hdd": bmc.BootDisk, "Pxe": bmc.BootPXE}
	dev, ok := devs[target]
	if !ok {
		dev = bmc.BootDevice("redfish:" + target)
	}
	return dev, enabled == "Continuous", nil
}

func (h *redfishHarness) AddEvent(context.Context) error {
	n := h.events.Add(1)
	h.srv.AddLogEntry(map[string]any{"Message": fmt.Sprintf("test record %d", n), "Created": fmt.Sprintf("2026-11-26T04:%02d:00Z", n)})
	return nil
}

func (h *redfishHarness) ClearEvents(context.Context) error {
	h.srv.ClearLog()
	return nil
}

func (h *redfishHarness) RestorePolicy(context.Context) (bmc.RestorePolicy, error) {
	policies := map[string]bmc.RestorePolicy{"AlwaysOff": bmc.RestoreAlwaysOff, "AlwaysOn": bmc.RestoreAlwaysOn, "LastState": bmc.RestorePrevious}
	p, ok := policies[h.srv.RestorePolicy()]
	if !ok {
		return "", fmt.Errorf("unknown PowerRestorePolicy %q", h.srv.RestorePolicy())
	}
	return p, nil
}

func (h *redfishHarness) FailNext(context.Context) error {
	h.srv.FailNext()
	return nil
}

var (
	_ bmctest.ShutdownIgnorer     = (*redfishHarness)(nil)
	_ bmctest.BootDeviceReader    = (*redfishHarness)(nil)
	_ bmctest.EventLogger         = (*redfishHarness)(nil)
	_ bmctest.TransientFailer     = (*redfishHarness)(nil)
	_ bmctest.RestorePolicyReader = (*redfishHarness)(nil)
)

func TestConformanceRedfish(t *testing.T) {
	t.Parallel()
	bmctest.Run(t, func(t *testing.T) bmctest.Harness {
		return &redfishHarness{t: t, srv: redfishbmc.Start(t)}
	})
}

func TestRedfishTLSIsVerifiedByDefault(t *testing.T) {
	t.Parallel()
	s := redfishbmc.Start(t)
	d, err := bmclib.New(s.Host, redfishbmc.User, redfishbmc.Password,
		bmclib.WithProviders(bmclib.ProviderRedfish), bmclib.WithRedfishPort(s.Port),
		bmclib.WithCallTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.PowerState(t.Context())
	if err == nil {
		t.Fatal("PowerState against a BMC with an untrusted certificate succeeded; want a TLS error")
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("error %q does not say the certificate was refused", err)
	}
	if s.Sessions() != 0 {
		t.Errorf("%d sessions were opened over unverified TLS", s.Sessions())
	}

	insecure, err := bmclib.New(s.Host, redfishbmc.User, redfishbmc.Password,
		bmclib.WithProviders(bmclib.ProviderRedfish), bmclib.WithRedfishPort(s.Port),
		bmclib.WithInsecureSkipVerify(), bmclib.WithCallTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := insecure.PowerState(t.Context()); err != nil || p != bmc.PowerOff {
		t.Fatalf("PowerState with WithInsecureSkipVerify = %v, %v; want off", p, err)
	}
}

func TestRedfishShutdownDespiteBmclibReportingFailure(t *testing.T) {
	t.Parallel()
	s := redfishbmc.Start(t)
	s.SetPower(true)
	d := redfishDriver(t, s)
	// bmclib's Redfish "soft" returns (false, nil) after a successful
	// GracefulShutdown; the driver must not report that as a failure.
	if err := d.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := s.Resets(); len(got) != 1 || got[0] != "GracefulShutdown" {
		t.Fatalf("resets = %v, want one GracefulShutdown", got)
	}
	if s.PowerState() != "Off" {
		t.Fatalf("power %s after Shutdown, want Off", s.PowerState())
	}
}

func TestRedfishNMI(t *testing.T) {
	t.Parallel()
	s := redfishbmc.Start(t)
	s.SetPower(true)
	d := redfishDriver(t, s)
	if err := d.NMI(t.Context()); err != nil {
		t.Fatalf("NMI: %v", err)
	}
	if s.NMIs() != 1 {
		t.Fatalf("BMC got %d NMIs, want 1", s.NMIs())
	}
	s.RefuseNMI(true)
	if err := d.NMI(t.Context()); !errors.Is(err, bmc.ErrUnsupported) {
		t.Fatalf("NMI refused by the BMC: %v, want ErrUnsupported", err)
	}
}

func TestRedfishSessionsAreClosed(t *testing.T) {
	t.Parallel()
	s := redfishbmc.Start(t)
	d := redfishDriver(t, s)
	for range 3 {
		if _, err := d.PowerState(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.PowerOn(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := s.Sessions(); n != 0 {
		t.Fatalf("%d Redfish sessions left open, want 0", n)
	}
}

func TestRedfishEventsAreParsedAndClassified(t *testing.T) {
	t.Parallel()
	s := redfishbmc.Start(t)
	d := redfishDriver(t, s)
	evs, cur, err := d.Events(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	// The mockup's own entry: Event.1.0.TempWayTooHot, Critical.
	if len(evs) != 1 || evs[0].MessageID != "Event.1.0.TempWayTooHot" || evs[0].Severity != bmc.SeverityCritical {
		t.Fatalf("mockup log = %+v, want its TempWayTooHot entry", evs)
	}
	if ft, ok := bmc.Classify(evs[0]); !ok || ft != bmc.FaultTemperature {
		t.Errorf("TempWayTooHot classified %q, %v; want temperature", ft, ok)
	}
	s.AddLogEntry(map[string]any{"Severity": "Critical", "MessageId": "OpenBMC.0.1.MemoryECCUncorrectable",
		"Message": "DIMM A1 uncorrectable", "EntryType": "SEL", "SensorType": "Memory", "EntryCode": "Assert"})
	evs, _, err = d.Events(t.Context(), cur)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].SensorType != 0x0c {
		t.Fatalf("new records = %+v, want the memory entry with sensor type 0x0c", evs)
	}
	if ft, ok := bmc.Classify(evs[0]); !ok || ft != bmc.FaultMemory {
		t.Errorf("MemoryECCUncorrectable classified %q, %v; want memory", ft, ok)
	}
}

func TestRedfishWrongPasswordNeverShowsCredentials(t *testing.T) {
	t.Parallel()
	s := redfishbmc.Start(t)
	const wrong = "Wr0ng-Redfish-Pw-77"
	d, err := bmclib.New(s.Host, redfishbmc.User, wrong,
		bmclib.WithProviders(bmclib.ProviderRedfish), bmclib.WithRedfishPort(s.Port),
		bmclib.WithRootCAs(s.Roots), bmclib.WithCallTimeout(5*time.Second), bmclib.WithLogger(captureLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, call := range []func() error{
		func() error { _, err := d.PowerState(t.Context()); return err },
		func() error { return d.PowerOff(t.Context()) },
		func() error { _, _, err := d.Events(t.Context(), ""); return err },
	} {
		err := call()
		if !errors.Is(err, bmc.ErrUnsupported) || !strings.Contains(fmt.Sprint(err), "credentials refused") {
			t.Errorf("call with a wrong password: %v, want ErrUnsupported (credentials refused)", err)
		}
		if err != nil {
			assertNoSecret(t, err.Error(), wrong)
		}
	}
	assertNoSecret(t, logged(t), wrong)
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]bmclib.Option{
		"unknown provider":        {bmclib.WithProviders("telnet")},
		"no provider":             {bmclib.WithProviders()},
		"port 0":                  {bmclib.WithIPMIPort(0)},
		"negative timeout":        {bmclib.WithCallTimeout(-time.Second)},
		"insecure and own client": {bmclib.WithInsecureSkipVerify(), bmclib.WithHTTPClient(&http.Client{})},
	} {
		if _, err := bmclib.New("bmc1", "u", "p", opts...); !errors.Is(err, bmc.ErrInvalid) {
			t.Errorf("%s: New: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := bmclib.New("https://bmc1", "u", "p"); !errors.Is(err, bmc.ErrInvalid) {
		t.Errorf("host with a scheme: %v, want ErrInvalid", err)
	}
	if _, err := bmclib.New("bmc1", "u", "p"); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// A BMC that answers "PoweringOn" for a while: PowerState says unknown,
// PowerOn returns only once the BMC reports On.
func TestRedfishPowerOnWaitsForConfirmation(t *testing.T) {
	t.Parallel()
	s := redfishbmc.Start(t)
	s.SetTransition(400 * time.Millisecond)
	d := redfishDriver(t, s)
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- d.PowerOn(t.Context()) }()
	deadline := time.Now().Add(5 * time.Second)
	for s.PowerState() != "PoweringOn" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if p, err := d.PowerState(t.Context()); err == nil && p != bmc.PowerUnknown && s.PowerState() == "PoweringOn" {
		t.Errorf("PowerState while the BMC says PoweringOn = %s, want unknown", p)
	}
	if err := <-done; err != nil {
		t.Fatalf("PowerOn: %v", err)
	}
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("PowerOn returned after %v, before the BMC reported On", took)
	}
	if s.PowerState() != "On" {
		t.Fatalf("PowerOn returned with the BMC at %s", s.PowerState())
	}
}

func TestRedfishUnconfirmedPowerOffIsOutcomeUnknown(t *testing.T) {
	t.Parallel()
	s := redfishbmc.Start(t)
	s.SetPower(true)
	s.SetTransition(-1) // never finishes
	d := redfishDriver(t, s, bmclib.WithConfirmTimeout(500*time.Millisecond))
	start := time.Now()
	err := d.PowerOff(t.Context())
	if !errors.Is(err, bmc.ErrOutcomeUnknown) {
		t.Fatalf("PowerOff never confirmed: %v, want ErrOutcomeUnknown", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %v with a 500ms confirm timeout", took)
	}

	// Cancelled while confirming: ctx's error and outcome unknown. The
	// cancel waits for the BMC to have the request (a fixed delay could
	// fire before the request went out on a loaded machine, and then the
	// outcome is known: nothing was sent).
	s2 := redfishbmc.Start(t)
	s2.SetTransition(-1)
	d2 := redfishDriver(t, s2)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		defer cancel()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if s2.PowerState() == "PoweringOn" {
				time.Sleep(50 * time.Millisecond) // the driver is confirming now
				return
			}
		}
	}()
	err = d2.PowerOn(ctx)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, bmc.ErrOutcomeUnknown) {
		t.Fatalf("PowerOn cancelled while confirming: %v, want context.Canceled and ErrOutcomeUnknown", err)
	}
}

// A BMC that accepts TCP connections and never answers: bmclib's Open
// would wait about 50 s; the driver gives up after its call timeout.
func TestRedfishSilentBMCFailsWithinCallTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	d, err := bmclib.New("127.0.0.1", redfishbmc.User, redfishbmc.Password,
		bmclib.WithProviders(bmclib.ProviderRedfish), bmclib.WithRedfishPort(port), bmclib.WithCallTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = d.PowerState(context.Background())
	took := time.Since(start)
	if !errors.Is(err, bmc.ErrTransient) {
		t.Errorf("PowerState against a silent BMC: %v, want ErrTransient", err)
	}
	if took > 2500*time.Millisecond {
		t.Errorf("PowerState against a silent BMC took %v, want about the 1s call timeout", took)
	}
	t.Logf("silent Redfish BMC failed after %v: %v", took.Round(time.Millisecond), err)
}

func TestNewWithoutIpmitoolSaysSo(t *testing.T) {
	t.Parallel()
	_, err := bmclib.New("bmc1", "u", "p", bmclib.WithProviders(bmclib.ProviderIPMI),
		bmclib.WithIpmitoolPath("/nonexistent/ipmitool"))
	if !errors.Is(err, bmc.ErrInvalid) || !strings.Contains(err.Error(), "ipmitool") {
		t.Fatalf("New with a missing ipmitool: %v, want ErrInvalid naming ipmitool", err)
	}
}
