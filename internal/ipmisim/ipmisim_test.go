package ipmisim_test

import (
	"context"
	"os"
	"path/filepath"
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

// TestPowerHookRunsWithEachPowerChange: the hook sees every power change
// made through IPMI, before it is recorded, and a failing hook leaves the
// power as it was and fails the command.
func TestPowerHookRunsWithEachPowerChange(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "hook.log")
	hook := filepath.Join(dir, "hook")
	script := "#!/bin/sh\n[ -e " + filepath.Join(dir, "refuse") + " ] && exit 3\necho \"$1 $2\" >> " + log + "\n"
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	s := ipmisim.Start(t, ipmisim.WithPowerHook(hook, "eth0"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, args := range [][]string{{"chassis", "power", "on"}, {"chassis", "power", "soft"}, {"chassis", "power", "on"}, {"chassis", "power", "off"}} {
		if _, err := s.Ipmitool(ctx, args...); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(log)
	if want := "eth0 1\neth0 0\neth0 1\neth0 0\n"; string(got) != want {
		t.Fatalf("hook calls:\n%s\nwant:\n%s", got, want)
	}
	s.SetPower(t, false) // behind the BMC's back: no hook
	if got2, _ := os.ReadFile(log); string(got2) != string(got) {
		t.Fatalf("SetPower ran the hook: %q", got2)
	}
	if err := os.WriteFile(filepath.Join(dir, "refuse"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ipmitool(ctx, "chassis", "power", "on"); err == nil {
		t.Error("power on succeeded although the hook failed")
	}
	if s.PoweredOn() {
		t.Error("the power changed although the hook failed")
	}
}
