package bmc_test

import (
	"context"
	"fmt"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
)

func ExampleNewWatcher() {
	// Two servers; their BMCs are simulated here (logBMC in the tests),
	// drivers/bmclib in production. r2 stops answering.
	r1, r2 := &logBMC{}, &logBMC{}
	clock := newFakeClock()
	w, err := bmc.NewWatcher([]bmc.Target{{Server: "r1", BMC: r1}, {Server: "r2", BMC: r2}},
		func(_ context.Context, f bmc.Fault) { fmt.Println("fault:", f.Server, f.Type) },
		bmc.WithWatchClock(clock), bmc.WithWatchInterval(30*time.Second), bmc.WithWatchParallelism(1),
		bmc.WithUnreachableAfter(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	w.PollDue(ctx)     // the first poll notes where each log ends
	r1.add(0x23, 0x01) // watchdog 2: hard reset
	r2.setDown(true)
	for range 10 { // Run does this on the real clock
		clock.Advance(time.Minute)
		w.PollDue(ctx)
	}
	// Output:
	// fault: r1 watchdog
	// fault: r2 bmc-unreachable
}
