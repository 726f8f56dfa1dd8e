package fake_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/storage"
)

// A failover by hand: fence the failed server through its BMC, move its
// boot disk to the spare with the same LUN, boot the spare, and check the
// safety invariants against the state before.
func Example() {
	ctx := context.Background()
	clock := fake.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	w, _ := fake.PatentExample(fake.WithClock(clock))
	before := w.Snapshot()

	failed, spare := mustSpec(w, "srv01"), mustSpec(w, "srv02")
	_ = w.FailServer("srv01", bmc.FaultProcessor)

	// Fence: the hung OS ignores the graceful shutdown, so cut the power.
	_ = w.BMC("srv01").Shutdown(ctx)
	clock.Advance(time.Minute)
	p, _ := w.BMC("srv01").PowerState(ctx)
	fmt.Println("after shutdown:", p)
	_ = w.BMC("srv01").PowerOff(ctx)

	// Move the disks: the array keeps host objects, so swap initiators.
	dm := w.DiskMapper(failed.DiskArray)
	_ = dm.(storage.InitiatorSwapper).SwapInitiators(ctx, failed.Initiators, spare.Initiators)
	ms, _ := dm.Mappings(ctx, spare.Initiators)
	fmt.Println("spare sees:", ms)

	_ = w.BMC("srv02").SetBootDevice(ctx, bmc.BootDisk, true)
	_ = w.BMC("srv02").PowerOn(ctx)
	st, _ := w.Server("srv02")
	fmt.Println("spare:", st.Power, "booted from", st.BootVolume)
	fmt.Println("invariants:", w.CheckInvariants(before))
	// Output:
	// after shutdown: on
	// spare sees: [{boot-srv01 0} {data-srv01 1}]
	// spare: on booted from boot-srv01
	// invariants: <nil>
}

func mustSpec(w *fake.World, id string) fake.ServerSpec {
	s, ok := w.Spec(id)
	if !ok {
		panic("no server " + id)
	}
	return s
}

// A lost response: the change happens, the caller cannot know.
func ExampleWorld_Inject() {
	ctx := context.Background()
	w, _ := fake.PatentExample()
	_, _ = w.Inject(fake.Fault{Driver: fake.DriverBMC, Method: "PowerOff", Target: "srv07", LostResponse: true, Times: 1})

	err := w.BMC("srv07").PowerOff(ctx)
	fmt.Println(errors.Is(err, bmc.ErrOutcomeUnknown))
	p, _ := w.BMC("srv07").PowerState(ctx) // re-read before acting again
	fmt.Println(p)
	for _, op := range w.Ops() {
		fmt.Println(op.Driver, op.Method, op.Target, op.Lost)
	}
	// Output:
	// true
	// off
	// bmc PowerOff srv07 true
	// bmc PowerState srv07 false
}

// The checkers catch a boot disk given to a spare before the failed
// server was fenced.
func ExampleWorld_CheckInvariants() {
	ctx := context.Background()
	w, _ := fake.PatentExample()
	before := w.Snapshot()
	failed, spare := mustSpec(w, "srv01"), mustSpec(w, "srv02")

	dm := w.DiskMapper("array-1")
	_ = dm.Unmap(ctx, "boot-srv01", failed.Initiators)
	_ = dm.Map(ctx, "boot-srv01", spare.Initiators, 0)
	fmt.Println(w.CheckInvariants(before))
	// Output:
	// fake: 2 invariant violation(s)
	// 	I1: after map: volume array-1/boot-srv01 given to srv02 while its previous holder srv01 is on
	// 	I1: server srv01 is on but its volume array-1/boot-srv01 moved to srv02
}

func ExamplePatentExample() {
	w, layout := fake.PatentExample()
	for _, s := range w.Servers() {
		fmt.Printf("%s %-7s %-8s prio=%d %-5s %s %s %s\n", s.ID, s.State, s.Workload, s.Priority, s.Partition, s.Hardware.CPUModel, s.Switch, s.DiskArray)
	}
	for _, sc := range layout.Scenarios {
		fmt.Println(sc.Name, sc.Fail, "->", sc.WantSpares)
		if sc.WantVictim != "" {
			fmt.Println("  victim", sc.WantVictim, "moves to", sc.WantVictimTo)
		}
	}
	// Output:
	// srv01 active  web      prio=5       Xeon E5-2680 v2 (SR1A6) sw-1 array-1
	// srv02 standby          prio=0       Xeon E5-2680 v2 (SR1A6) sw-1 array-1
	// srv03 active  db       prio=8 lp-db Xeon E7-8870 (SLC3E) sw-1 array-1
	// srv04 active  db       prio=8 lp-db Xeon E7-8870 (SLC3E) sw-1 array-1
	// srv05 active  app      prio=4       Xeon E5-2620 v3 (SR207) sw-1 array-1
	// srv06 active  trading  prio=9       Xeon E5-2667 v4 (SR2P5) sw-2 array-1
	// srv07 active  batch    prio=2       Xeon E5-2667 v4 (SR2P5) sw-2 array-1
	// srv08 standby          prio=0       Xeon E5-2630 v4 (SR2R7) sw-2 array-1
	// srv09 standby          prio=0       Xeon E5-2680 v2 (SR1A6) sw-2 array-2
	// srv10 standby          prio=0       Xeon E7-8870 (SLC3E) sw-1 array-1
	// srv11 standby          prio=0       Xeon E7-8870 (SLC3E) sw-1 array-1
	// srv12 standby          prio=0       Xeon E5-2690 v3 (SR20Q) sw-1 array-1
	// exact [srv01] -> [srv02]
	// recompose [srv03 srv04] -> [srv10 srv11]
	// relaxed [srv05] -> [srv12]
	// preempt [srv06] -> [srv07]
	//   victim srv07 moves to srv08
}

func ExampleGenerate() {
	w, layout, err := fake.Generate(500, 1)
	if err != nil {
		panic(err)
	}
	standby := 0
	for _, s := range w.Servers() {
		if s.State == fake.StateStandby {
			standby++
		}
	}
	fmt.Println(len(w.Servers()), "servers,", standby, "standby,", len(w.LogicalServers()), "logical servers,", len(layout.Policies), "policies")
	fmt.Println(w.CheckInvariants(w.Snapshot()))
	// Output:
	// 500 servers, 35 standby, 8 logical servers, 95 policies
	// <nil>
}
