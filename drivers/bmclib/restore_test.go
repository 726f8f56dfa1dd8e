package bmclib_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/bmclib"
	"github.com/coldstandby/coldstandby/internal/ipmisim"
	"github.com/coldstandby/coldstandby/internal/redfishbmc"
	"github.com/coldstandby/coldstandby/internal/testpeer"
)

// ipmi_sim reports "Power Restore Policy : always-off" in chassis status
// and answers Set Power Restore Policy with completion code C1h, invalid
// command: the driver reads it, accepts setting what it holds, and says
// the BMC refuses the others. ipmitool gets the password only in its
// environment.
func TestPowerRestorePolicyOnIPMISim(t *testing.T) {
	t.Parallel()
	sim := ipmisim.Start(t)
	real := testpeer.LookPath(t, "ipmitool", "ipmitool")[0]
	dir := t.TempDir()
	argv := filepath.Join(dir, "argv")
	wrapper := filepath.Join(dir, "ipmitool")
	script := fmt.Sprintf("#!/bin/sh\necho \"$@\" >> %q\n[ -n \"$IPMITOOL_PASSWORD\" ] || echo NO-PASSWORD-IN-ENV >> %q\nexec %q \"$@\"\n", argv, argv, real)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	d := ipmiDriver(t, sim, bmclib.WithIpmitoolPath(wrapper))
	p, err := d.PowerRestorePolicy(t.Context())
	if err != nil || p != bmc.RestoreAlwaysOff {
		t.Fatalf("PowerRestorePolicy = %q, %v; want always-off, what ipmi_sim reports", p, err)
	}
	if err := d.SetPowerRestorePolicy(t.Context(), bmc.RestoreAlwaysOff); err != nil {
		t.Errorf("setting the policy ipmi_sim holds: %v, want nil", err)
	}
	for _, p := range []bmc.RestorePolicy{bmc.RestoreAlwaysOn, bmc.RestorePrevious} {
		err := d.SetPowerRestorePolicy(t.Context(), p)
		if !errors.Is(err, bmc.ErrUnsupported) || !strings.Contains(err.Error(), "Invalid command") {
			t.Errorf("SetPowerRestorePolicy(%s) on ipmi_sim: %v, want ErrUnsupported saying the BMC answered invalid command", p, err)
		}
	}
	calls, err := os.ReadFile(argv)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"chassis status", "chassis policy always-on", "-E", "-U " + ipmisim.User} {
		if !strings.Contains(string(calls), want) {
			t.Errorf("ipmitool was never run with %q:\n%s", want, calls)
		}
	}
	if strings.Contains(string(calls), ipmisim.Password) || strings.Contains(string(calls), "NO-PASSWORD-IN-ENV") {
		t.Errorf("the password was in ipmitool's argv, or missing from its environment:\n%s", calls)
	}
}

func TestPowerRestorePolicyOverRedfish(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		opts []bmclib.Option
	}{
		{"session", nil},
		{"basic_auth", []bmclib.Option{bmclib.WithRedfishBasicAuth()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := redfishbmc.Start(t)
			d := redfishDriver(t, s, c.opts...)
			for _, want := range []struct {
				p    bmc.RestorePolicy
				wire string
			}{{bmc.RestoreAlwaysOff, "AlwaysOff"}, {bmc.RestorePrevious, "LastState"}, {bmc.RestoreAlwaysOn, "AlwaysOn"}} {
				if err := d.SetPowerRestorePolicy(t.Context(), want.p); err != nil {
					t.Fatalf("SetPowerRestorePolicy(%s): %v", want.p, err)
				}
				if got := s.RestorePolicy(); got != want.wire {
					t.Errorf("after SetPowerRestorePolicy(%s) the BMC holds %s, want %s", want.p, got, want.wire)
				}
				if got, err := d.PowerRestorePolicy(t.Context()); err != nil || got != want.p {
					t.Errorf("PowerRestorePolicy = %s, %v; want %s", got, err, want.p)
				}
			}
			patches := s.Patches()
			if err := d.SetPowerRestorePolicy(t.Context(), bmc.RestoreAlwaysOn); err != nil || s.Patches() != patches {
				t.Errorf("setting the current policy: %v, %d PATCH requests; want nil and none", err, s.Patches()-patches)
			}
			if n := s.Sessions(); n != 0 {
				t.Errorf("%d Redfish sessions left open, want 0", n)
			}
		})
	}
	t.Run("a_policy_the_BMC_does_not_offer", func(t *testing.T) {
		s := redfishbmc.Start(t)
		s.LimitRestorePolicies("AlwaysOn", "AlwaysOff")
		d := redfishDriver(t, s)
		err := d.SetPowerRestorePolicy(t.Context(), bmc.RestorePrevious)
		if !errors.Is(err, bmc.ErrUnsupported) || s.RestorePolicy() != "AlwaysOn" {
			t.Errorf("LastState on a BMC without it: %v, policy %s; want ErrUnsupported and AlwaysOn kept", err, s.RestorePolicy())
		}
		if err := d.SetPowerRestorePolicy(t.Context(), bmc.RestoreAlwaysOff); err != nil || s.RestorePolicy() != "AlwaysOff" {
			t.Errorf("AlwaysOff: %v, policy %s", err, s.RestorePolicy())
		}
	})
	t.Run("unreachable_BMC_is_transient", func(t *testing.T) {
		s := redfishbmc.Start(t)
		d := redfishDriver(t, s)
		s.FailNext()
		if _, err := d.PowerRestorePolicy(t.Context()); !errors.Is(err, bmc.ErrTransient) {
			t.Errorf("PowerRestorePolicy with the connection dropped: %v, want ErrTransient", err)
		}
		s.FailNext()
		if err := d.SetPowerRestorePolicy(t.Context(), bmc.RestoreAlwaysOff); !errors.Is(err, bmc.ErrTransient) || s.RestorePolicy() != "AlwaysOn" {
			t.Errorf("SetPowerRestorePolicy with the connection dropped: %v, policy %s; want ErrTransient, unchanged", err, s.RestorePolicy())
		}
	})
}

// With IPMI first and Redfish second, a BMC whose IPMI does not answer
// (here: it refuses the credentials, which ipmitool cannot tell from
// silence) is served over Redfish.
func TestPowerRestorePolicyFallsBackToTheNextProvider(t *testing.T) {
	t.Parallel()
	sim := ipmisim.Start(t) // answers IPMI on 127.0.0.1, with other credentials
	s := redfishbmc.Start(t)
	d, err := bmclib.New(s.Host, redfishbmc.User, redfishbmc.Password,
		bmclib.WithProviders(bmclib.ProviderIPMI, bmclib.ProviderRedfish),
		bmclib.WithIPMIPort(sim.Port), bmclib.WithIPMICipherSuite(ipmisim.CipherSuite),
		bmclib.WithRedfishPort(s.Port), bmclib.WithRootCAs(s.Roots), bmclib.WithCallTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetPowerRestorePolicy(t.Context(), bmc.RestoreAlwaysOff); err != nil || s.RestorePolicy() != "AlwaysOff" {
		t.Fatalf("SetPowerRestorePolicy: %v, Redfish policy %s; want AlwaysOff set over Redfish", err, s.RestorePolicy())
	}
	if p, err := d.PowerRestorePolicy(t.Context()); err != nil || p != bmc.RestoreAlwaysOff {
		t.Fatalf("PowerRestorePolicy = %s, %v", p, err)
	}
}

func TestPowerRestorePolicyNeedsAProviderThatHasIt(t *testing.T) {
	t.Parallel()
	d, err := bmclib.New("127.0.0.1", "u", "p", bmclib.WithProviders(bmclib.ProviderIntelAMT))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.PowerRestorePolicy(t.Context()); !errors.Is(err, bmc.ErrUnsupported) {
		t.Errorf("PowerRestorePolicy through Intel AMT: %v, want ErrUnsupported", err)
	}
	if err := d.SetPowerRestorePolicy(t.Context(), "bogus"); !errors.Is(err, bmc.ErrInvalid) {
		t.Errorf("SetPowerRestorePolicy(bogus): %v, want ErrInvalid", err)
	}
}
