// Command ipmi fails over between two servers whose BMCs are real IPMI
// simulators (OpenIPMI's ipmi_sim, driven through drivers/bmclib and
// ipmitool), while their disks, zoning and VLANs live in the simulated data
// centre of drivers/fake.
//
// The chain is the production one: a processor IERR is written into the
// active server's SEL, the bmc.Watcher polling both BMCs classifies it and
// hands the fault to the Orchestrator, which fences the server (its OS
// ignores the ACPI shutdown, so it is forced off and confirmed off through
// IPMI), moves the boot LUN to the standby with the same LUN number, zones
// it, sets its VLAN, sets its boot device to disk and powers it on through
// IPMI, confirmed.
//
// It needs ipmi_sim and ipmitool (Debian packages openipmi and ipmitool):
//
//	go run ./examples/ipmi
package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/bmclib"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
	"github.com/coldstandby/coldstandby/internal/ipmisim"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ipmi:", err)
		os.Exit(1)
	}
}

// server is one simulated server: its IPMI simulator and its place in the
// fake data centre.
type server struct {
	spec fake.ServerSpec
	sim  *ipmisim.Server
}

func run(ctx context.Context, w io.Writer) error {
	dir, err := os.MkdirTemp("", "coldstandby-ipmi-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	hw := fake.Hardware{CPUModel: "Xeon Gold 6338 (SRKJ9)", CPUMHz: 2000, MemoryMiB: 262144, Chipset: "C621A", NICPorts: 1, HBAPorts: 1}
	servers := []*server{
		{spec: fake.ServerSpec{ID: "srv-a", Hardware: hw, State: fake.StateActive, Workload: "web", Priority: 5,
			Switch: "sw-1", SwitchPorts: []string{"eth1/1"}, VLAN: fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10},
			DiskArray: "array-1", Fabric: "fab-1", Zones: []string{"z-srv-a"},
			Initiators:  []storage.Initiator{storage.MustParseInitiator("21:00:00:24:ff:00:0a:01")},
			BootVolumes: []fake.Volume{{ID: "boot-web", LUN: 0, SizeBytes: 200 << 30}, {ID: "data-web", LUN: 1, SizeBytes: 1 << 40}},
			Power:       bmc.PowerOn}},
		{spec: fake.ServerSpec{ID: "srv-b", Hardware: hw, State: fake.StateStandby,
			Switch: "sw-1", SwitchPorts: []string{"eth1/2"}, VLAN: fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 999},
			DiskArray: "array-1", Fabric: "fab-1",
			Initiators: []storage.Initiator{storage.MustParseInitiator("21:00:00:24:ff:00:0b:01")},
			Power:      bmc.PowerOff}},
	}

	// The BMCs: one ipmi_sim each, on 127.0.0.1 and a free UDP port.
	for _, s := range servers {
		var opts []ipmisim.Option
		if s.spec.Power == bmc.PowerOn {
			opts = append(opts, ipmisim.WithPoweredOn())
		}
		sub := filepath.Join(dir, s.spec.ID)
		if err := os.Mkdir(sub, 0o755); err != nil {
			return err
		}
		if s.sim, err = ipmisim.Launch(sub, opts...); err != nil {
			return err
		}
		defer s.sim.Stop()
	}
	// srv-a's OS hangs: it will ignore the graceful shutdown.
	if err := servers[0].sim.WriteIgnoreShutdown(true); err != nil {
		return err
	}

	// Storage, zoning and VLANs: the fake data centre.
	world := fake.NewWorld()
	for _, s := range servers {
		if err := world.AddServer(s.spec); err != nil {
			return err
		}
	}
	if err := world.AddZone("fab-1", "z-srv-a", storage.MustParseInitiator("50:06:0e:80:10:00:01:00")); err != nil {
		return err
	}

	// One bmclib driver per server, IPMI only, bounded calls.
	bmcs := map[string]bmc.BMC{}
	for _, s := range servers {
		d, err := bmclib.New(s.sim.Host, ipmisim.User, ipmisim.Password,
			bmclib.WithProviders(bmclib.ProviderIPMI),
			bmclib.WithIPMIPort(s.sim.Port),
			bmclib.WithIPMICipherSuite(ipmisim.CipherSuite),
			bmclib.WithCallTimeout(5*time.Second),
			bmclib.WithConfirmTimeout(20*time.Second),
			bmclib.WithPollInterval(100*time.Millisecond))
		if err != nil {
			return err
		}
		bmcs[s.sim.Addr()] = d
	}

	store := failover.NewMemStore()
	if _, err := store.Put(ctx, records(servers)...); err != nil {
		return err
	}
	drivers := failover.Drivers{
		BMC: func(r failover.Record) (bmc.BMC, error) {
			d, ok := bmcs[r.BMC.Endpoint]
			if !ok {
				return nil, fmt.Errorf("no BMC at %s: %w", r.BMC.Endpoint, bmc.ErrNotFound)
			}
			return d, nil
		},
		DiskMappers:  map[string]storage.DiskMapper{"array-1": world.DiskMapper("array-1")},
		FCZoners:     map[string]fabric.FCZoner{"fab-1": world.Zoner("fab-1")},
		VLANSwitches: map[string]fabric.VLANSwitch{"sw-1": world.Switch("sw-1")},
	}
	o, err := failover.New(store, drivers,
		failover.WithTimeouts(failover.Timeouts{Shutdown: 2 * time.Second, Poll: 200 * time.Millisecond}))
	if err != nil {
		return err
	}

	// The watcher polls both SELs and hands faults over.
	faults := make(chan bmc.Fault, 8)
	var targets []bmc.Target
	for _, s := range servers {
		targets = append(targets, bmc.Target{Server: s.spec.ID, BMC: bmcs[s.sim.Addr()]})
	}
	watcher, err := bmc.NewWatcher(targets, func(_ context.Context, f bmc.Fault) { faults <- f },
		bmc.WithWatchInterval(250*time.Millisecond), bmc.WithWatchSeed(1))
	if err != nil {
		return err
	}
	wctx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan error, 1)
	go func() { watchDone <- watcher.Run(wctx) }()
	defer func() {
		stopWatch()
		<-watchDone
	}()
	for len(watcher.Cursors()) < len(servers) { // both logs read once: history is not a fault
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}

	before := table(ctx, store, world, servers)
	fmt.Fprintln(w, "== ipmi: srv-a (web) fails with a processor IERR; standby srv-b takes over")
	for _, s := range servers {
		fmt.Fprintf(w, "BMC %s: ipmi_sim at %s (UDP), driven by bmclib's ipmitool provider\n", s.spec.ID, s.sim.Addr())
	}
	fmt.Fprintln(w, "SEL:   srv-a <- Processor #0x01 | IERR | Asserted")
	if err := servers[0].sim.WriteSEL(ctx, ipmisim.SELRecord{SensorType: 0x07, SensorNumber: 1, EventType: 0x6f, Offset: 0}); err != nil {
		return err
	}
	var f bmc.Fault
	select {
	case f = <-faults:
	case <-ctx.Done():
		return fmt.Errorf("no fault delivered: %w", ctx.Err())
	}
	if f.Event == nil {
		return fmt.Errorf("unexpected fault before the IERR: %s", f.Detail)
	}
	fmt.Fprintf(w, "fault: %s %s (%s)\n", f.Server, f.Type, f.Event.Message)

	res, err := o.HandleFault(ctx, f)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "plan:  %s\n", res.Plan)
	fmt.Fprintln(w, "timeline (real time):")
	timeline(w, res)
	fmt.Fprintf(w, "outcome: %s\n", res.Outcome)
	fmt.Fprintln(w, "servers (before -> after):")
	diff(w, before, table(ctx, store, world, servers))
	return nil
}

// records are the Orchestrator's records of the two servers: what the
// fake world knows of them, with the BMC reached over IPMI.
func records(servers []*server) []failover.Record {
	var out []failover.Record
	for _, s := range servers {
		r := failovertest.Record(s.spec)
		// Credentials is a reference to a secret, never the secret.
		r.BMC = failover.BMCRef{Driver: "ipmi", Endpoint: s.sim.Addr(), Credentials: "vault:bmc/" + s.spec.ID}
		out = append(out, r)
	}
	return out
}

func timeline(w io.Writer, res failover.Result) {
	audit := slices.Clone(res.Audit)
	slices.SortStableFunc(audit, func(a, b failover.AuditEntry) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Step, b.Step), cmp.Compare(a.Target, b.Target))
	})
	if len(audit) == 0 {
		return
	}
	t0 := audit[0].Start
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  at\tstep\ttarget\ttook\tcalls\t")
	for _, a := range audit {
		if strings.HasSuffix(a.Step, ".read") {
			continue
		}
		note := ""
		if a.Err != "" {
			note = "  " + a.Err
		}
		fmt.Fprintf(tw, "  +%s\t%s\t%s\t%s\t%d\t%s\n", a.Start.Sub(t0).Round(10*time.Millisecond), a.Step, a.Target,
			a.Duration.Round(10*time.Millisecond), a.Attempts, note)
	}
	tw.Flush()
}

// row is one server as an operator sees it: the Orchestrator's record,
// the BMC's power and boot device (ipmi_sim), the LUNs its HBA sees and
// its port's VLAN (the fake data centre).
type row struct {
	id, state, workload, power, boot, luns, vlan string
}

func table(ctx context.Context, st failover.Store, w *fake.World, servers []*server) []row {
	var out []row
	for _, s := range servers {
		r := row{id: s.spec.ID, state: "?", workload: "-", power: "off", boot: s.sim.BootDevice(), luns: "-"}
		if rec, err := st.Get(ctx, search.ServerID(s.spec.ID)); err == nil {
			r.state = string(rec.State)
			if rec.Workload != "" {
				r.workload = fmt.Sprintf("%s(%d)", rec.Workload, rec.Priority)
			}
		}
		if s.sim.PoweredOn() {
			r.power = "on"
		}
		if r.boot == "" {
			r.boot = "-"
		} else if r.boot == "default" {
			r.boot = "disk"
		}
		if ss, ok := w.Server(s.spec.ID); ok {
			var luns []string
			for _, m := range ss.Volumes {
				luns = append(luns, fmt.Sprintf("%d:%s", m.LUN, m.Volume))
			}
			if len(luns) > 0 {
				r.luns = strings.Join(luns, ",")
			}
			if len(ss.PortVLANs) > 0 {
				r.vlan = fmt.Sprint(ss.PortVLANs[0].AccessVLAN)
			}
		}
		out = append(out, r)
	}
	return out
}

func diff(w io.Writer, before, after []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  \tserver\tstate\tworkload\tpower\tboot\tLUNs\tVLAN\t\tstate\tworkload\tpower\tboot\tLUNs\tVLAN\t")
	for i, b := range before {
		a := after[i]
		mark := " "
		if a != b {
			mark = "*"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t->\t%s\t%s\t%s\t%s\t%s\t%s\t\n", mark, b.id, b.state, b.workload, b.power, b.boot, b.luns, b.vlan,
			a.state, a.workload, a.power, a.boot, a.luns, a.vlan)
	}
	tw.Flush()
}
