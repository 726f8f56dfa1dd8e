package ipmisim_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/internal/ipmisim"
)

func TestSimulatedServerFollowsChassisCommands(t *testing.T) {
	s := ipmisim.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if s.PoweredOn() {
		t.Fatal("a new simulated server must start powered off")
	}
	if _, err := s.Ipmitool(ctx, "chassis", "power", "on"); err != nil {
		t.Fatal(err)
	}
	if !s.PoweredOn() {
		t.Fatal("power on did not reach the chassis script")
	}
	s.IgnoreShutdown(t, true)
	if _, err := s.Ipmitool(ctx, "chassis", "power", "soft"); err != nil {
		t.Fatal(err)
	}
	if !s.PoweredOn() {
		t.Fatal("server that ignores shutdown went off")
	}
	s.IgnoreShutdown(t, false)
	if _, err := s.Ipmitool(ctx, "chassis", "power", "soft"); err != nil {
		t.Fatal(err)
	}
	if s.PoweredOn() {
		t.Fatal("soft off was not honoured")
	}
	if _, err := s.Ipmitool(ctx, "chassis", "bootdev", "pxe"); err != nil {
		t.Fatal(err)
	}
	if got := s.BootDevice(); got != "pxe" {
		t.Fatalf("boot device = %q, want pxe", got)
	}
	calls := strings.Join(s.Calls(), ";")
	for _, want := range []string{"set power 1", "set shutdown 1", "set boot pxe"} {
		if !strings.Contains(calls, want) {
			t.Errorf("calls %q lack %q", calls, want)
		}
	}
}

func TestAddSELAppearsInTheLog(t *testing.T) {
	s := ipmisim.Start(t)
	s.AddSEL(t, ipmisim.SELRecord{SensorType: 0x0c, SensorNumber: 2, EventType: 0x6f, Offset: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := s.Ipmitool(ctx, "sel", "list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Memory #0x02 | Uncorrectable ECC | Asserted") {
		t.Fatalf("SEL lacks the record:\n%s", out)
	}
}

func TestTwoServersAreIndependent(t *testing.T) {
	a, b := ipmisim.Start(t, ipmisim.WithPoweredOn()), ipmisim.Start(t)
	if a.Port == b.Port {
		t.Fatal("two servers share a port")
	}
	if !a.PoweredOn() || b.PoweredOn() {
		t.Fatal("WithPoweredOn applied to the wrong server")
	}
	a.Stop()
	a.Stop() // idempotent
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.Ipmitool(ctx, "chassis", "power", "status"); err != nil {
		t.Fatalf("stopping one server broke the other: %v", err)
	}
}
