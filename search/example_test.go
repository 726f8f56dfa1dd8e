package search_test

import (
	"errors"
	"fmt"

	"github.com/coldstandby/coldstandby/search"
)

var (
	small = search.Hardware{CPUModel: "Xeon-6430 S1", CPUMHz: 2100, MemoryMiB: 65536, Chipset: "C741", NICPorts: 4, HBAPorts: 2}
	big   = search.Hardware{CPUModel: "Xeon-6430 S1", CPUMHz: 2600, MemoryMiB: 131072, Chipset: "C741", NICPorts: 4, HBAPorts: 2}
)

func srv(id string, hw search.Hardware, st search.State, work string, prio int) search.Server {
	return search.Server{
		ID: search.ServerID(id), Hardware: hw, Switch: "sw1", DiskArray: "vsp1",
		Zone: "z-" + work, VLANs: []int{10}, State: st, Workload: work, Priority: prio,
	}
}

// An exact spare wins; the plan names the one-to-one move of the boot disks.
func ExampleInventory_Find() {
	inv, err := search.NewInventory([]search.Server{
		srv("r1-02", small, search.Failed, "web", 50),
		srv("r1-09", small, search.Standby, "", 0),
		srv("r1-10", big, search.Standby, "", 0),
	})
	if err != nil {
		panic(err)
	}
	plan, err := inv.Find("r1-02")
	fmt.Println(plan, err)
	// Output: exact: r1-02 -> r1-09 <nil>
}

// With no standby server left, a policy with Preempt takes the server of a
// lower-priority workload; the victim is relocated to a standby server its
// own policy accepts.
func ExampleInventory_Find_preempted() {
	inv, err := search.NewInventory([]search.Server{
		srv("db-1", big, search.Failed, "db", 90),
		srv("batch-3", big, search.Active, "batch", 10),
		srv("web-1", big, search.Active, "web", 50),
		srv("s-11", small, search.Standby, "", 0),
	},
		search.WithPolicy("db-1", search.Policy{Preempt: true}),
		search.WithWorkloadPolicy("batch", search.Policy{MinMemoryMiB: 32768, MinCPUMHz: 2000}),
	)
	if err != nil {
		panic(err)
	}
	plan, _ := inv.Find("db-1")
	fmt.Println(plan)
	// Output: preempted: db-1 -> batch-3 (victim batch-3 "batch" prio 10 relocated to s-11)
}

// When nothing fits, the error wraps ErrNoSpare and counts why each server
// was rejected.
func ExampleErrNoSpare() {
	inv, err := search.NewInventory([]search.Server{
		srv("r1-02", big, search.Failed, "web", 50),
		srv("r1-03", small, search.Standby, "", 0),
		srv("r1-04", small, search.Standby, "", 0),
		srv("r1-05", big, search.Active, "db", 60),
	}, search.WithPolicy("r1-02", search.Policy{MinMemoryMiB: 65537, AnyCPUModel: true, MinCPUMHz: 2000}))
	if err != nil {
		panic(err)
	}
	_, err = inv.Find("r1-02")
	fmt.Println(errors.Is(err, search.ErrNoSpare))
	fmt.Println(err)
	// Output:
	// true
	// search: find r1-02: 0/3 servers: 2 memory 65536 < 65537, 1 not standby: no spare
}

// A rack dies: FindAll plans the failures jointly. Greedy in input order
// would give r1 (the only spare web-2 can use) to web-1; the joint plan
// restores both.
func ExampleInventory_FindAll() {
	relaxed := search.Policy{MinCPUMHz: 2000, MinMemoryMiB: 65536}
	inv, err := search.NewInventory([]search.Server{
		srv("web-1", small, search.Failed, "web", 50),
		srv("web-2", small, search.Failed, "web", 50),
		srv("r1", small, search.Standby, "", 0),
		srv("r2", big, search.Standby, "", 0),
	}, search.WithPolicy("web-1", relaxed))
	if err != nil {
		panic(err)
	}
	plans, err := inv.FindAll("web-1", "web-2")
	for _, p := range plans {
		fmt.Println(p)
	}
	fmt.Println(err)
	// Output:
	// relaxed: web-1 -> r2
	// exact: web-2 -> r1
	// <nil>
}

// The Orchestrator reserves the spare it is about to use by deriving a new
// snapshot; the next search skips it.
func ExampleInventory_With() {
	inv, err := search.NewInventory([]search.Server{
		srv("r1-02", small, search.Failed, "web", 50),
		srv("r1-09", small, search.Standby, "", 0),
		srv("r1-10", small, search.Standby, "", 0),
	})
	if err != nil {
		panic(err)
	}
	plan, _ := inv.Find("r1-02")
	spare, _ := inv.Server(plan.Assignments[0].Spare)
	spare.State = search.Reserved
	next, err := inv.With(spare)
	if err != nil {
		panic(err)
	}
	again, _ := next.Find("r1-02")
	fmt.Println(plan)
	fmt.Println(again)
	// Output:
	// exact: r1-02 -> r1-09
	// exact: r1-02 -> r1-10
}

// Coverage answers "what if this server failed now" for every Active server
// and counts how many failures of each hardware class the pool absorbs.
func ExampleInventory_Coverage() {
	inv, err := search.NewInventory([]search.Server{
		srv("app-1", small, search.Active, "app", 50),
		srv("app-2", small, search.Active, "app", 50),
		srv("db-1", big, search.Active, "db", 90),
		srv("sp-1", small, search.Standby, "", 0),
	})
	if err != nil {
		panic(err)
	}
	cov := inv.Coverage()
	for _, s := range cov.Servers {
		fmt.Println(s.Server, "->", s.Plan)
	}
	for _, c := range cov.Classes {
		fmt.Printf("%d MiB: %d active, %d standby, absorbs %d\n", c.Hardware.MemoryMiB, c.Active, c.Standby, c.Absorb)
	}
	// Output:
	// app-1 -> exact: app-1 -> sp-1
	// app-2 -> exact: app-2 -> sp-1
	// db-1 -> none: 0/3 servers: 2 not standby, 1 CPU MHz 2100 != 2600
	// 65536 MiB: 2 active, 1 standby, absorbs 1
	// 131072 MiB: 1 active, 0 standby, absorbs 0
}

// A logical server of two nodes fails and no spare logical server or
// composition of standby servers fits: with Preempt, an allowed
// combination is composed from a standby server and a server lent by a
// lower-priority workload (patent embodiment 4).
func ExampleInventory_Find_lent() {
	db := func(id string) search.Server {
		s := srv(id, big, search.Failed, "db", 90)
		s.Partition = "db"
		return s
	}
	inv, err := search.NewInventory([]search.Server{
		db("db-1"), db("db-2"),
		srv("s-1", big, search.Standby, "", 0),
		srv("batch-7", big, search.Active, "batch", 10),
	},
		search.WithPolicy("db-1", search.Policy{Preempt: true}),
		search.WithCombination("s-1", "batch-7"),
	)
	if err != nil {
		panic(err)
	}
	plan, _ := inv.Find("db-1")
	fmt.Println(plan)
	// Output: preempted (compose batch-7+s-1): db-1 -> batch-7, db-2 -> s-1 (victim batch-7 "batch" prio 10 stopped)
}

// A workload that runs on several logical servers and tolerates losing
// some (ScaleInMin) is scaled in rather than stopped or moved: its server
// is taken, its other servers go on.
func ExampleInventory_Find_scaleIn() {
	inv, err := search.NewInventory([]search.Server{
		srv("db-1", small, search.Failed, "db", 90),
		srv("web-1", small, search.Active, "web", 20),
		srv("web-2", small, search.Active, "web", 20),
		srv("web-3", small, search.Active, "web", 20),
	},
		search.WithPolicy("db-1", search.Policy{Preempt: true}),
		search.WithWorkloadPolicy("web", search.Policy{ScaleInMin: 2}),
	)
	if err != nil {
		panic(err)
	}
	plan, _ := inv.Find("db-1")
	fmt.Println(plan)
	// Output: preempted: db-1 -> web-1 (victim web-1 "web" prio 20 scaled in)
}

// Scale-out: two more logical servers like a running one, through the
// same stages as a failover (here exact, then relaxed under its policy).
func ExampleInventory_FindScale() {
	inv, err := search.NewInventory([]search.Server{
		srv("web-1", small, search.Active, "web", 50),
		srv("s-1", small, search.Standby, "", 0),
		srv("s-2", big, search.Standby, "", 0),
	}, search.WithWorkloadPolicy("web", search.Policy{MinMemoryMiB: 65536, MinCPUMHz: 2000}))
	if err != nil {
		panic(err)
	}
	plans, err := inv.FindScale(search.ScaleRequest{Kind: search.ScaleOut, Like: "web-1", Count: 2})
	for _, p := range plans {
		fmt.Println(p)
	}
	fmt.Println(err)
	// Output:
	// scale-out exact: new s-1
	// scale-out relaxed: new s-2
	// <nil>
}

// Scale-up: a bigger logical server for a running one; its boot disks
// move there.
func ExampleInventory_FindScale_scaleUp() {
	inv, err := search.NewInventory([]search.Server{
		srv("web-1", small, search.Active, "web", 50),
		srv("s-1", small, search.Standby, "", 0),
		srv("s-2", big, search.Standby, "", 0),
	}, search.WithWorkloadPolicy("web", search.Policy{MinCPUMHz: 2000}))
	if err != nil {
		panic(err)
	}
	plans, err := inv.FindScale(search.ScaleRequest{Kind: search.ScaleUp, Like: "web-1", MinMemoryMiB: 131072})
	fmt.Println(plans[0], err)
	// Output: scale-up relaxed: web-1 -> s-2 <nil>
}

// Failures and scale requests planned together: the failure is served
// first, whatever the priorities; the scale-out is told why it is not.
func ExampleInventory_FindJoint() {
	inv, err := search.NewInventory([]search.Server{
		srv("app-1", small, search.Failed, "app", 10),
		srv("web-1", small, search.Active, "web", 90),
		srv("s-1", small, search.Standby, "", 0),
	})
	if err != nil {
		panic(err)
	}
	jp, err := inv.FindJoint([]search.ServerID{"app-1"}, search.ScaleRequest{Kind: search.ScaleOut, Like: "web-1"})
	fmt.Println(jp.Failures[0])
	fmt.Println(jp.Scale[0][0])
	fmt.Println(errors.Is(err, search.ErrNoSpare))
	// Output:
	// exact: app-1 -> s-1
	// none: 0/3 servers: 2 not standby, 1 taken by another request
	// true
}
