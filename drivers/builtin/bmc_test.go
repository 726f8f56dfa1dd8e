package builtin_test

import (
	"context"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/builtin"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/site"
	"github.com/coldstandby/coldstandby/internal/ipmisim"
)

// ipmiSite is a one-server site whose BMC is reached over IPMI at
// endpoint, with the password in $BMC_PW.
func ipmiSite(t *testing.T, endpoint string) *site.Site {
	t.Helper()
	s, err := site.Decode([]byte(`apiVersion: coldstandby/v1alpha1
kind: Site
name: bmc-endpoint
hardwareClasses:
  - {name: A, cpuModel: x, cpuMHz: 1000, memoryMiB: 1024, chipset: c, nicPorts: 0, hbaPorts: 0}
servers:
  - id: s1
    class: A
    bmc: {driver: ipmi, endpoint: "` + endpoint + `", credentials: {username: ` + ipmisim.User + `, passwordEnv: BMC_PW}}
`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// build builds s's drivers with the BMC password in the environment.
func build(t *testing.T, s *site.Site) (*site.Parts, error) {
	t.Helper()
	return site.Build(context.Background(), s, builtin.Registry(), site.WithStore(failover.NewMemStore()),
		site.WithLookupEnv(func(k string) (string, bool) { return ipmisim.Password, k == "BMC_PW" }))
}

// TestIPMIEndpointWithPort: a site's BMC endpoint is host[:port] (the
// site file's documented form); the port reaches the BMC, as with a BMC
// behind a port forward or a simulator on a high UDP port.
func TestIPMIEndpointWithPort(t *testing.T) {
	sim := ipmisim.Start(t, ipmisim.WithPoweredOn())
	s := ipmiSite(t, sim.Addr())
	parts, err := build(t, s)
	if err != nil {
		t.Fatal(err)
	}
	defer parts.Close()
	recs, err := s.Records()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := parts.Drivers.BMC(recs[0])
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.PowerState(ctx)
	if err != nil || st != bmc.PowerOn {
		t.Fatalf("PowerState through %s = %v, %v; want on", sim.Addr(), st, err)
	}
}

// TestBMCEndpointForms: the endpoint forms a site may give, and the
// ones refused before any BMC is contacted.
func TestBMCEndpointForms(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		ok       bool
	}{
		{"bmc1.example.net", true},
		{"192.0.2.7", true},
		{"192.0.2.7:6230", true},
		{"[2001:db8::7]:623", true},
		{"2001:db8::7", true},
		{"192.0.2.7:0", false},
		{"192.0.2.7:70000", false},
		{"192.0.2.7:ipmi", false},
		{":623", false},
	} {
		t.Run(tc.endpoint, func(t *testing.T) {
			parts, err := build(t, ipmiSite(t, tc.endpoint))
			if err == nil {
				parts.Close()
			}
			if tc.ok && err != nil {
				t.Fatalf("endpoint %q refused: %v", tc.endpoint, err)
			}
			if !tc.ok && err == nil {
				t.Fatalf("endpoint %q accepted", tc.endpoint)
			}
		})
	}
}
