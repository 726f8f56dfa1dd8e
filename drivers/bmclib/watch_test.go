package bmclib_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/bmclib"
	"github.com/coldstandby/coldstandby/internal/ipmisim"
)

// TestFaultDetectionEndToEnd: SEL records written into ipmi_sim and a BMC
// that stops answering become faults at the Watcher's callback, once each.
func TestFaultDetectionEndToEnd(t *testing.T) {
	t.Parallel()
	a, b := ipmisim.Start(t, ipmisim.WithPoweredOn()), ipmisim.Start(t, ipmisim.WithPoweredOn())
	a.AddSEL(t, ipmisim.SELRecord{SensorType: 0x07, SensorNumber: 9, EventType: 0x6f, Offset: 0}) // history
	var (
		mu     sync.Mutex
		faults []bmc.Fault
	)
	deliver := func(_ context.Context, f bmc.Fault) {
		mu.Lock()
		defer mu.Unlock()
		faults = append(faults, f)
	}
	got := func() []bmc.Fault {
		mu.Lock()
		defer mu.Unlock()
		return append([]bmc.Fault(nil), faults...)
	}
	w, err := bmc.NewWatcher([]bmc.Target{
		{Server: "a", BMC: ipmiDriver(t, a, bmclib.WithCallTimeout(time.Second))},
		{Server: "b", BMC: ipmiDriver(t, b, bmclib.WithCallTimeout(time.Second))},
	}, deliver, bmc.WithWatchInterval(100*time.Millisecond), bmc.WithUnreachableAfter(2),
		bmc.WithMaxBackoff(300*time.Millisecond), bmc.WithPollTimeout(3*time.Second), bmc.WithWatchSeed(42))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; faults so far: %+v", what, got())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait("both BMCs primed", func() bool { return len(w.Cursors()) == 2 })
	start := time.Now()
	a.AddSEL(t,
		ipmisim.SELRecord{SensorType: 0x0c, SensorNumber: 2, EventType: 0x6f, Offset: 1}, // uncorrectable ECC
		ipmisim.SELRecord{SensorType: 0x1f, SensorNumber: 3, EventType: 0x6f, Offset: 1}, // OS boot: no fault
		ipmisim.SELRecord{SensorType: 0x20, SensorNumber: 4, EventType: 0x6f, Offset: 1}, // OS critical stop
	)
	wait("two faults from a", func() bool { return len(got()) >= 2 })
	t.Logf("SEL record to delivered fault: %v", time.Since(start).Round(time.Millisecond))
	b.Stop()
	wait("b unreachable", func() bool { return len(got()) >= 3 })
	time.Sleep(500 * time.Millisecond) // more polls: nothing may repeat
	fs := got()
	if len(fs) != 3 {
		t.Fatalf("faults %+v, want exactly 3", fs)
	}
	want := []struct {
		server string
		typ    bmc.FaultType
	}{{"a", bmc.FaultMemory}, {"a", bmc.FaultOSStop}, {"b", bmc.FaultBMCUnreachable}}
	for i, w := range want {
		if fs[i].Server != w.server || fs[i].Type != w.typ {
			t.Errorf("fault %d = %s %s (%s), want %s %s", i, fs[i].Server, fs[i].Type, fs[i].Detail, w.server, w.typ)
		}
	}
}
