package failover_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
	"github.com/coldstandby/coldstandby/search"
)

var (
	simSeed  = flag.Int64("sim.seed", -1, "run the failover simulation for this seed only (also COLDSTANDBY_SIM_SEED)")
	simSeeds = flag.Int("sim.seeds", 0, "number of simulation seeds (default 10000, 300 with -short)")
)

// TestSimulation is the deterministic simulation: for each seed a random
// small data centre, random simultaneous faults, random driver errors,
// latencies and lost responses, and sometimes a crash of the
// Orchestrator followed by Recover on a new one. After each seed the
// safety invariants must hold:
//
//	I1 no volume moved away from a server that was not off (live check)
//	I2 no volume masked to two servers, at any moment (live) or at the end
//	I3 every volume masked at the start is masked at the end, same LUN
//	   (volumes parked from a stopped preemption victim are recorded in
//	   its record instead)
//	I4 no reservation left, no spare given to two failures, no workload
//	   running twice
//	I5 every victim had a strictly lower priority than the failure it served
//	I7 no failover left unfinished after Recover
//
// A failing seed is reported with the flag that reruns it alone:
// go test ./failover -run TestSimulation -sim.seed=N.
func TestSimulation(t *testing.T) {
	if s := os.Getenv("COLDSTANDBY_SIM_SEED"); s != "" && *simSeed < 0 {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("COLDSTANDBY_SIM_SEED: %v", err)
		}
		*simSeed = v
	}
	if *simSeed >= 0 {
		if err := simulate(*simSeed, true); err != nil {
			t.Fatalf("seed %d: %v", *simSeed, err)
		}
		return
	}
	n := *simSeeds
	if n == 0 {
		n = 10000
		if testing.Short() {
			n = 300
		}
	}
	var next atomic.Int64
	var failures atomic.Int32
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				seed := next.Add(1) - 1
				if seed >= int64(n) || failures.Load() >= 3 {
					return
				}
				if err := simulate(seed, false); err != nil {
					failures.Add(1)
					t.Errorf("seed %d: %v\n\trerun alone: go test ./failover -run TestSimulation -sim.seed=%d -v", seed, err, seed)
				}
			}
		}()
	}
	wg.Wait()
}

var faultTypes = []bmc.FaultType{bmc.FaultProcessor, bmc.FaultMemory, bmc.FaultPowerSupply, bmc.FaultWatchdog,
	bmc.FaultOSStop, bmc.FaultPowerLost, bmc.FaultBMCUnreachable, bmc.FaultCorrectable}

func simulate(seed int64, verbose bool) (err error) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0xc01d))
	clk := fake.NewClock(t0)
	n := 4 + rng.IntN(13)
	w, layout, gerr := fake.Generate(n, seed, fake.WithClock(clk), fake.WithSeed(seed))
	if gerr != nil {
		return gerr
	}
	store := failover.NewMemStore()
	ctx := context.Background()
	if _, err := store.Put(ctx, failovertest.Records(w)...); err != nil {
		return err
	}
	base := w.Snapshot()
	opts := []failover.Option{
		failover.WithClock(clk),
		failover.WithTimeouts(fastTimeouts),
		failover.WithSearchOptions(failovertest.SearchOptions(w, layout)...),
		failover.WithFaultActions(map[bmc.FaultType]failover.Rule{bmc.FaultCorrectable: {Action: failover.ActReport}}, failover.Rule{Action: failover.ActNow}),
		failover.WithNMI(rng.IntN(2) == 0),
		failover.WithInitiatorSwap(rng.IntN(2) == 0),
	}
	// Driver trouble.
	methods := map[string][]string{
		fake.DriverBMC:       {"PowerState", "PowerOn", "Shutdown", "PowerOff", "SetBootDevice"},
		fake.DriverStorage:   {"Mappings", "Map", "Unmap", "SwapInitiators"},
		fake.DriverZoner:     {"Zones", "AddMember", "RemoveMember", "Commit"},
		fake.DriverVLAN:      {"PortVLAN", "SetPortVLAN"},
		fake.DriverPartition: {"Compose", "Decompose"},
	}
	drvs := []string{fake.DriverBMC, fake.DriverStorage, fake.DriverZoner, fake.DriverVLAN, fake.DriverPartition}
	for k := rng.IntN(4); k > 0; k-- {
		d := drvs[rng.IntN(len(drvs))]
		f := fake.Fault{Driver: d, Method: methods[d][rng.IntN(len(methods[d]))], Probability: 0.05 + rng.Float64()*0.25}
		switch rng.IntN(3) {
		case 0:
			f.Err = bmc.ErrTransient
		case 1:
			f.LostResponse = true
		default:
			f.Latency = time.Duration(1 + rng.Int64N(int64(3*time.Second)))
		}
		if _, err := w.Inject(f); err != nil {
			return err
		}
	}
	// Faults: a few active servers.
	var actives []string
	for _, s := range w.Servers() {
		if s.State == fake.StateActive {
			actives = append(actives, s.ID)
		}
	}
	rng.Shuffle(len(actives), func(i, j int) { actives[i], actives[j] = actives[j], actives[i] })
	var faults []bmc.Fault
	for _, id := range actives[:min(len(actives), 1+rng.IntN(3))] {
		ft := faultTypes[rng.IntN(len(faultTypes))]
		_ = w.FailServer(id, ft)
		faults = append(faults, bmc.Fault{Server: id, Type: ft})
	}
	// Maybe crash.
	var st failover.Store = store
	var cs *crashStore
	if rng.IntN(3) == 0 {
		cs = &crashStore{Store: store, budget: rng.IntN(40)}
		st = cs
	}
	o, err := failover.New(st, failovertest.Drivers(w), opts...)
	if err != nil {
		return err
	}
	// The faults the outside review found, scripted at driver calls:
	// a fenced server that comes back on (mains power returning under
	// its restore policy, or an operator) while its volumes are being
	// moved; storage writes whose lost answer lands later; a fault on a
	// standby that a failover is turning into a replacement; the caller
	// giving up (a graceful shutdown).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var late sync.WaitGroup
	var lateResults []failover.Result
	var lateMu sync.Mutex
	var current atomic.Pointer[failover.Orchestrator] // the one faults are delivered to
	current.Store(o)
	for _, f := range faults {
		if rng.IntN(3) != 0 {
			continue
		}
		id := f.Server
		power := func() { _, _ = w.ACPowerRestored(id) }
		if rng.IntN(2) == 0 {
			// An operator, only while the server's failover runs (what
			// anyone does to it afterwards is out of the failover's
			// hands).
			power = func() {
				if r, err := store.Get(context.Background(), search.ServerID(id)); err == nil && r.State == search.Failed && r.Reservation != "" {
					_ = w.SetPower(id, bmc.PowerOn)
				}
			}
		}
		if _, err := w.Inject(fake.Fault{Driver: fake.DriverStorage, Target: id, After: rng.IntN(6), Times: 1, Then: power}); err != nil {
			return err
		}
	}
	lands := rng.IntN(3) == 0
	if lands {
		m := []string{"Map", "Unmap", "SwapInitiators"}[rng.IntN(3)]
		if _, err := w.Inject(fake.Fault{Driver: fake.DriverStorage, Method: m, After: rng.IntN(4), Times: 1 + rng.IntN(2), LostResponse: true, LandLate: 1 + rng.IntN(20)}); err != nil {
			return err
		}
	}
	for _, sp := range w.Servers() {
		if sp.State != fake.StateStandby || rng.IntN(4) != 0 {
			continue
		}
		id := sp.ID
		if _, err := w.Inject(fake.Fault{Driver: fake.DriverBMC, Method: "PowerOn", Target: id, Times: 1, Then: func() {
			_ = w.FailServer(id, bmc.FaultMemory)
			late.Add(1)
			go func() {
				defer late.Done()
				res, _ := current.Load().HandleFault(context.Background(), bmc.Fault{Server: id, Type: bmc.FaultMemory})
				lateMu.Lock()
				lateResults = append(lateResults, res)
				lateMu.Unlock()
			}()
		}}); err != nil {
			return err
		}
	}
	if rng.IntN(6) == 0 {
		d := []string{fake.DriverBMC, fake.DriverStorage, fake.DriverZoner, fake.DriverVLAN}[rng.IntN(4)]
		if _, err := w.Inject(fake.Fault{Driver: d, After: rng.IntN(30), Times: 1, Then: cancel}); err != nil {
			return err
		}
	}
	var results []failover.Result
	if rng.IntN(2) == 0 {
		results, _ = o.HandleFaults(ctx, faults...)
	} else {
		results = make([]failover.Result, len(faults))
		var wg sync.WaitGroup
		for i, f := range faults {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], _ = o.HandleFault(ctx, f)
			}()
		}
		wg.Wait()
	}
	if verbose {
		for _, r := range results {
			fmt.Printf("%s %s: %s %v (%v)\n", r.Server, r.Fault.Type, r.Outcome, r.Plan, r.Err)
		}
	}
	late.Wait()
	lateMu.Lock()
	nLate := len(lateResults)
	results = append(results, lateResults...)
	lateMu.Unlock()
	if verbose {
		for _, r := range lateResults {
			fmt.Printf("late %s %s: %s %v (%v)\n", r.Server, r.Fault.Type, r.Outcome, r.Plan, r.Err)
		}
	}
	ctx = context.Background()
	// Recover on a new Orchestrator, which may itself crash (then a third
	// one recovers); the network heals for a second try.
	var rerr error
	if u, _ := store.Unfinished(ctx); len(u) > 0 && rng.IntN(3) == 0 {
		cs2 := &crashStore{Store: store, budget: rng.IntN(30)}
		o1, err := failover.New(cs2, failovertest.Drivers(w), opts...)
		if err != nil {
			return err
		}
		current.Store(o1)
		_, _ = o1.Recover(ctx)
		if verbose {
			fmt.Printf("recover crashing after %d writes: crashed %v\n", cs2.budget, cs2.dead())
		}
	}
	// Recover until nothing is left: faults delivered while a Recover
	// runs (the standby hooks) may be interrupted in turn.
	for round := 0; round < 3; round++ {
		late.Wait()
		u, _ := store.Unfinished(ctx)
		if len(u) == 0 {
			break
		}
		o2, err := failover.New(store, failovertest.Drivers(w), opts...)
		if err != nil {
			return err
		}
		current.Store(o2)
		rec, err := o2.Recover(ctx)
		rerr = err
		if verbose {
			fmt.Printf("recover: %d result(s), %v\n", len(rec), rerr)
			for _, r := range rec {
				fmt.Printf("  %s %s %s: %s %v (%v)\n", r.ID, r.Server, r.Fault.Type, r.Outcome, r.Plan, r.Err)
			}
		}
		results = append(results, rec...)
		if u, _ := store.Unfinished(ctx); len(u) > 0 {
			w.ClearFaults()
			rec, rerr = o2.Recover(ctx)
			results = append(results, rec...)
			if verbose {
				fmt.Printf("recover again: %d result(s), %v\n", len(rec), rerr)
			}
		}
	}
	late.Wait()
	if u, _ := store.Unfinished(ctx); len(u) > 0 {
		j, _ := store.Journal(ctx, u[0])
		var b strings.Builder
		for _, e := range j {
			fmt.Fprintf(&b, "\n\t\t%d %s %s %s %s", e.Seq, e.Phase, e.Step, e.Target, e.Error)
		}
		if verbose {
			for _, op := range w.Ops() {
				if op.Driver != fake.DriverZoner && op.Driver != fake.DriverVLAN {
					fmt.Println(op)
				}
			}
		}
		return fmt.Errorf("I7: unfinished after Recover: %v (%v); journal of the first:%s", u, rerr, b.String())
	}
	results = append(results, lateResults[nLate:]...)
	// A write that lands after its caller gave up (out of the DiskMapper
	// contract) can move a volume under a server that came back on, or
	// mask it to a second, off, server for a moment before the
	// Orchestrator finds and undoes it: in such seeds what the landing
	// itself did, and moments of I2 on a volume a late write touched,
	// are excused; the end state is not.
	var excuse func(fake.Violation) bool
	if lands {
		touched := map[string]bool{}
		for _, op := range w.Ops() {
			if op.Method == "(landed late)" {
				for _, f := range strings.Fields(op.Target) {
					touched[f] = true
				}
			}
		}
		excuse = func(v fake.Violation) bool {
			return strings.Contains(v.Detail, "(landed late)") ||
				(v.Invariant == "I2" && (touched[string(v.Volume)] || touched[v.Array]))
		}
	}
	if err := checkWorldExcept(w, base, store, excuse); err != nil {
		if verbose {
			recs, _ := store.List(ctx)
			for _, r := range recs {
				if r.Reservation == "" {
					continue
				}
				j, _ := store.Journal(ctx, r.Reservation)
				fmt.Printf("journal of %s (holds %s):\n", r.Reservation, r.ID)
				for _, e := range j {
					fmt.Printf("\t%d %s %s %s %s\n", e.Seq, e.Phase, e.Step, e.Target, e.Error)
				}
			}
			for _, op := range w.Ops() {
				if op.Driver != fake.DriverZoner && op.Driver != fake.DriverVLAN {
					fmt.Println(op)
				}
			}
		}
		return err
	}
	// I4 and I5 over the committed plans.
	used := map[search.ServerID]search.ServerID{}
	// A spare may serve a second failure later only as its preemption
	// victim (victims are Active, so the first failover had committed).
	preempted := map[search.ServerID]bool{}
	for _, r := range results {
		if r.Outcome == failover.OutcomeDone {
			for _, v := range r.Plan.Preemptions {
				preempted[v.Victim] = true
			}
		}
	}
	recs, _ := store.List(ctx)
	prio := map[search.ServerID]int{}
	for _, r := range recs {
		prio[r.ID] = r.Priority
	}
	for _, r := range results {
		if r.Outcome != failover.OutcomeDone {
			continue
		}
		victims := map[search.ServerID]bool{}
		for _, v := range r.Plan.Preemptions {
			victims[v.Victim] = true
		}
		for _, a := range r.Plan.Assignments {
			if prev, dup := used[a.Spare]; dup && !victims[a.Spare] && !preempted[a.Spare] {
				return fmt.Errorf("I4: %s serves %s and %s", a.Spare, prev, a.Failed)
			}
			used[a.Spare] = a.Failed
			st, _ := w.Server(string(a.Spare))
			if cur, _ := store.Get(ctx, a.Spare); cur.State == search.Active && st.Power != bmc.PowerOn {
				return fmt.Errorf("spare %s of %s is %s after a done failover", a.Spare, a.Failed, st.Power)
			}
		}
		for _, v := range r.Plan.Preemptions {
			// The failed server's priority now lives on its spare.
			if p := prio[r.Plan.Assignments[0].Spare]; v.Priority >= p {
				return fmt.Errorf("I5: victim %s (prio %d) taken for priority %d", v.Victim, v.Priority, p)
			}
		}
	}
	return nil
}
