package bmclib_test

import (
	"context"
	"errors"
	"fmt"
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

func (h *redfishHarness) FailNext(context.Context) error {
	h.srv.FailNext()
	return nil
}

var (
	_ bmctest.ShutdownIgnorer  = (*redfishHarness)(nil)
	_ bmctest.BootDeviceReader = (*redfishHarness)(nil)
	_ bmctest.EventLogger      = (*redfishHarness)(nil)
	_ bmctest.TransientFailer  = (*redfishHarness)(nil)
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
		if !errors.Is(err, bmc.ErrTransient) {
			t.Errorf("call with a wrong password: %v, want ErrTransient", err)
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
