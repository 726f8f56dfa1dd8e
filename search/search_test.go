package search_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/search"
)

// mk builds a server on sw1/vsp1, zone z1, VLAN 10, with the given hardware;
// mods adjust it.

// aboveMaxPriority is a priority out of range where int has 64 bits
// (where it has 32, none is but math.MinInt: the absurd cases skip).
var aboveMaxPriority = func() int { p := search.MaxPriority; return p + 1 }()

func mk(id string, hw search.Hardware, st search.State, prio int, mods ...func(*search.Server)) search.Server {
	s := search.Server{ID: search.ServerID(id), Hardware: hw, Switch: "sw1", DiskArray: "vsp1",
		Zone: "z1", VLANs: []int{10}, State: st, Priority: prio}
	if st == search.Active || st == search.Failed {
		s.Workload = fmt.Sprintf("w%d", prio)
	}
	for _, m := range mods {
		m(&s)
	}
	return s
}

func part(p string) func(*search.Server) {
	return func(s *search.Server) { s.Partition = search.PartitionID(p) }
}
func zone(z string) func(*search.Server)  { return func(s *search.Server) { s.Zone = z } }
func swtch(w string) func(*search.Server) { return func(s *search.Server) { s.Switch = w } }
func array(a string) func(*search.Server) { return func(s *search.Server) { s.DiskArray = a } }
func vlans(v ...int) func(*search.Server) { return func(s *search.Server) { s.VLANs = v } }
func work(w string) func(*search.Server)  { return func(s *search.Server) { s.Workload = w } }

func hwMem(h search.Hardware, mem int) search.Hardware  { h.MemoryMiB = mem; return h }
func hwMHz(h search.Hardware, mhz int) search.Hardware  { h.CPUMHz = mhz; return h }
func hwCPU(h search.Hardware, m string) search.Hardware { h.CPUModel = m; return h }

var std = search.Hardware{CPUModel: "X1", CPUMHz: 2400, MemoryMiB: 65536, Chipset: "C1", NICPorts: 4, HBAPorts: 2}

func TestFindStages(t *testing.T) {
	F, S, A := search.Failed, search.Standby, search.Active
	relaxMem := search.Policy{MinMemoryMiB: 65536}
	tests := []struct {
		name    string
		servers []search.Server
		opts    []search.Option
		failed  search.ServerID
		want    string // Plan.String(), or the error text when wantErr
		wantErr bool
	}{
		{name: "exact standalone",
			servers: []search.Server{mk("f", std, F, 5), mk("s1", std, S, 0)},
			failed:  "f", want: "exact: f -> s1"},
		{name: "exact beats a relaxed candidate with a lower ID",
			servers: []search.Server{mk("f", std, F, 5), mk("a-big", hwMem(std, 131072), S, 0), mk("s1", std, S, 0)},
			opts:    []search.Option{search.WithPolicy("f", relaxMem)},
			failed:  "f", want: "exact: f -> s1"},
		{name: "exact partition replaced whole, one assignment per member",
			servers: []search.Server{mk("f1", std, F, 5, part("P")), mk("f2", hwMem(std, 32768), A, 5, part("P")),
				mk("s1", hwMem(std, 32768), S, 0, part("Q")), mk("s2", std, S, 0, part("Q"))},
			failed: "f2", want: "exact: f1 -> s2, f2 -> s1"},
		{name: "recomposed from an allowed combination",
			servers: []search.Server{mk("f1", std, F, 5, part("P")), mk("f2", std, F, 5, part("P")),
				mk("s1", std, S, 0), mk("s2", std, S, 0), mk("s3", std, S, 0)},
			opts:   []search.Option{search.WithCombination("s3", "s2")},
			failed: "f1", want: "recomposed (compose s2+s3): f1 -> s2, f2 -> s3"},
		{name: "no recomposition without an allowed combination",
			servers: []search.Server{mk("f1", std, F, 5, part("P")), mk("f2", std, F, 5, part("P")),
				mk("s1", std, S, 0), mk("s2", std, S, 0)},
			failed: "f1", wantErr: true, want: "2 not in an allowed combination"},
		{name: "a combination with a non-standby member is unusable",
			servers: []search.Server{mk("f1", std, F, 5, part("P")), mk("f2", std, F, 5, part("P")),
				mk("s1", std, S, 0), mk("s2", std, search.Reserved, 0)},
			opts:   []search.Option{search.WithCombination("s1", "s2")},
			failed: "f1", wantErr: true, want: "0/2 servers: 1 not in an allowed combination, 1 not standby"},
		{name: "relaxed memory takes the closest fit",
			servers: []search.Server{mk("f", std, F, 5), mk("s1", hwMem(std, 262144), S, 0), mk("s2", hwMem(std, 131072), S, 0)},
			opts:    []search.Option{search.WithPolicy("f", relaxMem)},
			failed:  "f", want: "relaxed: f -> s2"},
		{name: "relaxed MHz takes the least surplus",
			servers: []search.Server{mk("f", std, F, 5), mk("s1", hwMHz(std, 3200), S, 0), mk("s2", hwMHz(std, 2800), S, 0), mk("s3", hwMHz(std, 2000), S, 0)},
			opts:    []search.Option{search.WithPolicy("f", search.Policy{MinCPUMHz: 2400})},
			failed:  "f", want: "relaxed: f -> s2"},
		{name: "another CPU model only with AnyCPUModel",
			servers: []search.Server{mk("f", std, F, 5), mk("s1", hwCPU(std, "Y9"), S, 0)},
			failed:  "f", wantErr: true, want: "1 other CPU model"},
		{name: "relaxed any CPU model",
			servers: []search.Server{mk("f", std, F, 5), mk("s1", hwCPU(std, "Y9"), S, 0)},
			opts:    []search.Option{search.WithPolicy("f", search.Policy{AnyCPUModel: true})},
			failed:  "f", want: "relaxed: f -> s1"},
		{name: "relaxed mismatch: two nodes onto one big server",
			servers: []search.Server{mk("f1", std, F, 5, part("P")), mk("f2", std, F, 5, part("P")), mk("s1", hwMem(std, 131072), S, 0)},
			opts:    []search.Option{search.WithPolicy("f1", search.Policy{MinMemoryMiB: 131072, AllowPartitionMismatch: true})},
			failed:  "f2", want: "relaxed: f1 -> s1, f2 -> s1"},
		{name: "relaxed mismatch: one node onto a two-node partition",
			servers: []search.Server{mk("f", std, F, 5), mk("s1", std, S, 0, part("Q")), mk("s2", std, S, 0, part("Q"))},
			opts:    []search.Option{search.WithPolicy("f", search.Policy{MinMemoryMiB: 65536, AllowPartitionMismatch: true})},
			failed:  "f", want: "relaxed: f -> s1"},
		{name: "relaxed recomposition under the policy",
			servers: []search.Server{mk("f1", std, F, 5, part("P")), mk("f2", std, F, 5, part("P")),
				mk("s1", hwMHz(std, 2600), S, 0), mk("s2", hwMHz(std, 2600), S, 0)},
			opts:   []search.Option{search.WithCombination("s1", "s2"), search.WithPolicy("f1", search.Policy{MinCPUMHz: 2400})},
			failed: "f1", want: "relaxed (compose s1+s2): f1 -> s1, f2 -> s2"},
		{name: "preempted: lowest priority first",
			servers: []search.Server{mk("f", std, F, 50), mk("v1", std, A, 20), mk("v2", std, A, 10), mk("v3", std, A, 30)},
			opts:    []search.Option{search.WithPolicy("f", search.Policy{Preempt: true})},
			failed:  "f", want: `preempted: f -> v2 (victim v2 "w10" prio 10 stopped)`},
		{name: "preempted: fewest victims at equal priority",
			servers: []search.Server{mk("f", std, F, 50), mk("a1", std, A, 10, part("V")), mk("a2", std, A, 10, part("V")), mk("b1", hwMem(std, 131072), A, 10)},
			opts:    []search.Option{search.WithPolicy("f", search.Policy{Preempt: true, MinMemoryMiB: 65536, AllowPartitionMismatch: true})},
			failed:  "f", want: `preempted: f -> b1 (victim b1 "w10" prio 10 stopped)`},
		{name: "preempted: never equal priority",
			servers: []search.Server{mk("f", std, F, 50), mk("v1", std, A, 50)},
			opts:    []search.Option{search.WithPolicy("f", search.Policy{Preempt: true})},
			failed:  "f", wantErr: true, want: "1 priority 50 >= 50"},
		{name: "no preemption without the policy",
			servers: []search.Server{mk("f", std, F, 50), mk("v1", std, A, 10)},
			failed:  "f", wantErr: true, want: "0/1 servers: 1 not standby"},
		{name: "victim relocated to a standby its own policy accepts",
			servers: []search.Server{mk("f", std, F, 50), mk("v1", std, A, 10), mk("s1", hwMem(std, 32768), S, 0)},
			opts: []search.Option{search.WithPolicy("f", search.Policy{Preempt: true}),
				search.WithPolicy("v1", search.Policy{MinMemoryMiB: 32768})},
			failed: "f", want: `preempted: f -> v1 (victim v1 "w10" prio 10 relocated to s1)`},
		{name: "ranking: fewer reconfigurations beat a lower ID",
			servers: []search.Server{mk("f", std, F, 5, zone("z9"), vlans(20, 30)), mk("s1", std, S, 0),
				mk("s2", std, S, 0, zone("z9")), mk("s3", std, S, 0, zone("z9"), vlans(30, 20, 20))},
			failed: "f", want: "exact: f -> s3"},
		{name: "ranking: server ID last",
			servers: []search.Server{mk("f", std, F, 5), mk("s9", std, S, 0), mk("s10", std, S, 0)},
			failed:  "f", want: "exact: f -> s10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := search.NewInventory(tc.servers, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := inv.Find(tc.failed)
			if tc.wantErr {
				if !errors.Is(err, search.ErrNoSpare) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want ErrNoSpare containing %q", err, tc.want)
				}
				if plan.Kind != 0 || len(plan.Assignments) != 0 {
					t.Fatalf("plan %v with error", plan)
				}
				return
			}
			if err != nil || plan.String() != tc.want {
				t.Fatalf("got %v, %v; want %s", plan, err, tc.want)
			}
		})
	}
}

// TestHardConstraints: a policy that relaxes everything it can still never
// crosses a disk array, chipset or port count; the switch only with
// AnySwitch.
func TestHardConstraints(t *testing.T) {
	all := search.Policy{MinCPUMHz: 1, MinMemoryMiB: 1, AnyCPUModel: true, AllowPartitionMismatch: true, Preempt: true}
	anySw := all
	anySw.AnySwitch = true
	tests := []struct {
		name   string
		spare  search.Server
		policy search.Policy
		reason string // "" = accepted
	}{
		{"other disk array", mk("s", std, search.Standby, 0, array("vsp2")), anySw, "other disk array"},
		{"other chipset", mk("s", func() search.Hardware { h := std; h.Chipset = "C2"; return h }(), search.Standby, 0), anySw, "other chipset"},
		{"other NIC ports", mk("s", func() search.Hardware { h := std; h.NICPorts = 2; return h }(), search.Standby, 0), anySw, "other NIC ports"},
		{"other HBA ports", mk("s", func() search.Hardware { h := std; h.HBAPorts = 4; return h }(), search.Standby, 0), anySw, "other HBA ports"},
		{"other switch", mk("s", std, search.Standby, 0, swtch("sw2")), all, "other switch"},
		{"other switch with AnySwitch", mk("s", std, search.Standby, 0, swtch("sw2")), anySw, ""},
		{"victim on another disk array", mk("s", std, search.Active, 1, array("vsp2")), anySw, "other disk array"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := search.NewInventory([]search.Server{mk("f", std, search.Failed, 50), tc.spare},
				search.WithPolicy("f", tc.policy))
			if err != nil {
				t.Fatal(err)
			}
			p, err := inv.Find("f")
			if tc.reason == "" {
				if err != nil || p.Assignments[0].Spare != "s" {
					t.Fatalf("got %v, %v; want s", p, err)
				}
				return
			}
			if !errors.Is(err, search.ErrNoSpare) || !strings.HasSuffix(err.Error(), "0/1 servers: 1 "+tc.reason+": no spare") {
				t.Fatalf("err = %v, want the reason %q", err, tc.reason)
			}
		})
	}
}

func TestNoSpareExplanation(t *testing.T) {
	half := hwMem(std, 32768)
	servers := []search.Server{mk("f", std, search.Failed, 50)}
	for i := range 7 {
		servers = append(servers, mk(fmt.Sprintf("a%d", i), std, search.Active, 60))
	}
	for i := range 3 {
		servers = append(servers, mk(fmt.Sprintf("m%d", i), half, search.Standby, 0))
	}
	servers = append(servers, mk("x1", std, search.Standby, 0, array("vsp9")),
		mk("x2", func() search.Hardware { h := std; h.Chipset = "C9"; return h }(), search.Standby, 0))
	inv, err := search.NewInventory(servers, search.WithPolicy("f", search.Policy{MinMemoryMiB: 65536}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = inv.Find("f")
	want := "search: find f: 0/12 servers: 7 not standby, 3 memory 32768 < 65536, 1 other chipset, 1 other disk array: no spare"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
}

// Explanations count each server once, under its own reason: a partition
// whose members are of two hard keys counts only its member of the
// request's hard key under the partition's reason (its total memory), the
// other is of another chipset; the request's own servers are not counted
// (here the partition's second member, Active, counted under Preempt, of
// another CPU model than the member that failed).
func TestNoSpareExplanationCounts(t *testing.T) {
	c9, y2 := std, hwCPU(std, "Y2")
	c9.Chipset = "C9"
	for _, tc := range []struct {
		name    string
		servers []search.Server
		pol     search.Policy
		want    string
	}{
		{"members of two hard keys", []search.Server{
			mk("f1", std, search.Failed, 50, part("F")), mk("f2", std, search.Failed, 50, part("F")),
			mk("p1", std, search.Standby, 0, part("P")), mk("p2", c9, search.Standby, 0, part("P")),
		}, search.Policy{MinMemoryMiB: 200000}, "search: find f1: 0/2 servers: 1 memory 131072 < 200000, 1 other chipset: no spare"},
		{"own member of another model", []search.Server{
			mk("f1", std, search.Active, 50, part("F")), mk("f2", y2, search.Active, 50, part("F")),
			mk("s1", y2, search.Standby, 0),
		}, search.Policy{Preempt: true}, "search: find f1: 0/1 servers: 1 other CPU model: no spare"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := search.NewInventory(tc.servers, search.WithPolicy("f1", tc.pol))
			if err != nil {
				t.Fatal(err)
			}
			if _, err = inv.Find("f1"); err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v\nwant  %s", err, tc.want)
			}
		})
	}
}

// TestPriorityBounds: priorities of ±MaxPriority are valid, and the
// search ranks them (a failure at the top preempts a victim at the
// bottom, alone and jointly) wherever int has 32 bits or 64.
func TestPriorityBounds(t *testing.T) {
	servers := []search.Server{
		mk("f", std, search.Failed, search.MaxPriority, work("top")),
		mk("f2", std, search.Failed, search.MaxPriority-1, work("next")),
		mk("v", std, search.Active, -search.MaxPriority, work("bottom")),
		mk("w", std, search.Active, 0, work("middle")),
	}
	pol := search.Policy{Preempt: true}
	inv, err := search.NewInventory(servers, search.WithPolicy("f", pol), search.WithPolicy("f2", pol))
	if err != nil {
		t.Fatal(err)
	}
	p, err := inv.Find("f")
	if err != nil || len(p.Preemptions) != 1 || p.Preemptions[0].Victim != "v" || p.Preemptions[0].Priority != -search.MaxPriority {
		t.Fatalf("Find = %+v, %v; want v preempted at -MaxPriority", p, err)
	}
	plans, err := inv.FindAll("f2", "f")
	if err != nil || len(plans[1].Preemptions) != 1 || plans[1].Preemptions[0].Victim != "v" ||
		len(plans[0].Preemptions) != 1 || plans[0].Preemptions[0].Victim != "w" {
		t.Fatalf("FindAll = %+v, %v; want f on v, f2 on w", plans, err)
	}
}

func TestInvalidInput(t *testing.T) {
	ok := []search.Server{mk("a", std, search.Failed, 5), mk("b", std, search.Standby, 0)}
	tests := []struct {
		name    string
		servers []search.Server
		opts    []search.Option
	}{
		{"empty ID", []search.Server{mk("", std, search.Active, 1)}, nil},
		{"duplicate ID", []search.Server{mk("a", std, search.Active, 1), mk("a", std, search.Standby, 1)}, nil},
		{"unknown state", []search.Server{mk("a", std, "broken", 1)}, nil},
		{"negative memory", []search.Server{mk("a", hwMem(std, -1), search.Active, 1)}, nil},
		{"negative MHz", []search.Server{mk("a", hwMHz(std, -1), search.Active, 1)}, nil},
		{"negative ports", []search.Server{mk("a", func() search.Hardware { h := std; h.HBAPorts = -2; return h }(), search.Active, 1)}, nil},
		{"absurd MHz", []search.Server{mk("a", hwMHz(std, 1<<21), search.Active, 1)}, nil},
		{"absurd policy minimum", ok, []search.Option{search.WithPolicy("a", search.Policy{MinCPUMHz: 1 << 21})}},
		{"VLAN out of range", []search.Server{mk("a", std, search.Active, 1, vlans(5000))}, nil},
		{"absurd priority", []search.Server{mk("a", std, search.Active, aboveMaxPriority)}, nil},
		{"absurd negative priority", []search.Server{mk("a", std, search.Active, -aboveMaxPriority)}, nil},
		{"partition members disagree on priority", []search.Server{mk("a", std, search.Active, 1, part("P")), mk("b", std, search.Active, 2, part("P"))}, nil},
		{"partition members disagree on workload", []search.Server{mk("a", std, search.Active, 1, part("P"), work("x")), mk("b", std, search.Active, 1, part("P"), work("y"))}, nil},
		{"partition members with different policies", []search.Server{mk("a", std, search.Active, 1, part("P")), mk("b", std, search.Active, 1, part("P"))},
			[]search.Option{search.WithPolicy("a", search.Policy{Preempt: true}), search.WithPolicy("b", search.Policy{AnySwitch: true})}},
		{"policy for an unknown server", ok, []search.Option{search.WithPolicy("zz", search.Policy{})}},
		{"negative policy minimum", ok, []search.Option{search.WithPolicy("a", search.Policy{MinMemoryMiB: -1})}},
		{"combination with an unknown server", ok, []search.Option{search.WithCombination("b", "zz")}},
		{"combination with a server twice", ok, []search.Option{search.WithCombination("b", "b")}},
		{"empty combination", ok, []search.Option{search.WithCombination()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.name, "absurd") && strings.HasSuffix(tc.name, "priority") && strconv.IntSize == 32 {
				t.Skip("no int is beyond ±search.MaxPriority where int has 32 bits but MinInt, tested elsewhere")
			}
			_, err := search.NewInventory(tc.servers, tc.opts...)
			if !errors.Is(err, search.ErrInvalid) || errors.Is(err, search.ErrNoSpare) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	inv, err := search.NewInventory(ok)
	if err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"Find unknown":          func() error { _, err := inv.Find("zz"); return err },
		"Find a standby server": func() error { _, err := inv.Find("b"); return err },
		"FindAll unknown":       func() error { _, err := inv.FindAll("a", "zz"); return err },
		"FindAll twice":         func() error { _, err := inv.FindAll("a", "a"); return err },
	} {
		if err := call(); !errors.Is(err, search.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestFindAll(t *testing.T) {
	F, S, A := search.Failed, search.Standby, search.Active
	t.Run("higher priority never loses a spare to a lower one", func(t *testing.T) {
		inv, _ := search.NewInventory([]search.Server{mk("a-low", std, F, 10), mk("z-high", std, F, 90), mk("s1", std, S, 0)})
		plans, err := inv.FindAll("a-low", "z-high")
		if !errors.Is(err, search.ErrNoSpare) || plans[1].String() != "exact: z-high -> s1" || plans[0].Kind != 0 || plans[0].Reason == "" {
			t.Fatalf("got %v, %v", plans, err)
		}
		if !strings.Contains(plans[0].Reason, "1 taken by another failure") {
			t.Fatalf("reason %q", plans[0].Reason)
		}
	})
	t.Run("fewer preemptions at equal restored priority", func(t *testing.T) {
		pol := search.Policy{Preempt: true}
		inv, _ := search.NewInventory([]search.Server{mk("f1", std, F, 50), mk("f2", std, F, 50), mk("s1", std, S, 0), mk("v1", std, A, 10)},
			search.WithPolicy("f1", pol), search.WithPolicy("f2", pol))
		plans, err := inv.FindAll("f1", "f2")
		if err != nil || plans[0].Kind+plans[1].Kind != search.Exact+search.Preempted {
			t.Fatalf("got %v, %v", plans, err)
		}
	})
	t.Run("members of one partition share one plan", func(t *testing.T) {
		inv, _ := search.NewInventory([]search.Server{mk("f1", std, F, 5, part("P")), mk("f2", std, F, 5, part("P")),
			mk("s1", std, S, 0, part("Q")), mk("s2", std, S, 0, part("Q"))})
		plans, err := inv.FindAll("f2", "f1")
		if err != nil || plans[0].String() != plans[1].String() || plans[0].String() != "exact: f1 -> s1, f2 -> s2" {
			t.Fatalf("got %v, %v", plans, err)
		}
	})
	t.Run("victims are relocated once each", func(t *testing.T) {
		pol := search.Policy{Preempt: true}
		inv, _ := search.NewInventory([]search.Server{mk("f1", std, F, 50), mk("f2", std, F, 40), mk("v1", std, A, 10), mk("v2", std, A, 20),
			mk("s1", hwMem(std, 131072), S, 0)},
			search.WithPolicy("f1", pol), search.WithPolicy("f2", pol), search.WithWorkloadPolicy("w10", search.Policy{MinMemoryMiB: 1}),
			search.WithWorkloadPolicy("w20", search.Policy{MinMemoryMiB: 1}))
		plans, err := inv.FindAll("f1", "f2")
		if err != nil {
			t.Fatal(err)
		}
		got := plans[0].String() + " | " + plans[1].String()
		want := `preempted: f1 -> v1 (victim v1 "w10" prio 10 stopped) | preempted: f2 -> v2 (victim v2 "w20" prio 20 relocated to s1)`
		if got != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}

// TestDeterminism: shuffling the servers, the options and the order of the
// failures never changes the plans.
func TestDeterminism(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	hws := []search.Hardware{std, hwMem(std, 131072), hwMHz(std, 2600)}
	for iter := range 200 {
		var servers []search.Server
		var failed []search.ServerID
		var opts []search.Option
		for i := range 40 {
			id := search.ServerID(fmt.Sprintf("n%03d", i))
			st := []search.State{search.Active, search.Standby, search.Failed, search.Active}[rng.IntN(4)]
			prio := rng.IntN(4) * 10
			s := mk(string(id), hws[rng.IntN(3)], st, prio, zone([]string{"z1", "z2"}[rng.IntN(2)]), vlans(rng.IntN(3)))
			if i%10 < 2 && st != search.Standby {
				s.Partition = search.PartitionID(fmt.Sprintf("p%d", i/10))
				s.State, s.Priority, s.Workload = search.Active, 99, "part"
			}
			servers = append(servers, s)
			if st == search.Failed && s.Partition == "" {
				failed = append(failed, id)
				opts = append(opts, search.WithPolicy(id, search.Policy{MinMemoryMiB: 65536, Preempt: rng.IntN(2) == 0}))
			}
		}
		opts = append(opts, search.WithCombination("n003", "n013"), search.WithCombination("n023", "n033", "n005"))
		run := func(servers []search.Server, opts []search.Option, failed []search.ServerID) map[search.ServerID]string {
			inv, err := search.NewInventory(servers, opts...)
			if err != nil {
				t.Fatal(err)
			}
			out := make(map[search.ServerID]string)
			plans, _ := inv.FindAll(failed...)
			for i, p := range plans {
				single, _ := inv.Find(failed[i])
				out[failed[i]] = p.String() + " / " + single.String()
			}
			return out
		}
		want := run(servers, opts, failed)
		for range 3 {
			s2 := append([]search.Server(nil), servers...)
			rng.Shuffle(len(s2), func(i, j int) { s2[i], s2[j] = s2[j], s2[i] })
			f2 := append([]search.ServerID(nil), failed...)
			rng.Shuffle(len(f2), func(i, j int) { f2[i], f2[j] = f2[j], f2[i] })
			got := run(s2, opts, f2)
			for id, w := range want {
				if got[id] != w {
					t.Fatalf("iteration %d, %s: %s after shuffling, %s before", iter, id, got[id], w)
				}
			}
		}
	}
}

func TestCoverage(t *testing.T) {
	F, S, A := search.Failed, search.Standby, search.Active
	big := hwMem(std, 131072)
	inv, err := search.NewInventory([]search.Server{
		mk("a1", std, A, 10), mk("a2", std, A, 10), mk("a3", std, A, 10), mk("b1", big, A, 10),
		mk("f1", std, F, 10), mk("s1", std, S, 0), mk("s2", big, S, 0),
	}, search.WithPolicy("a3", search.Policy{MinMemoryMiB: 65536}))
	if err != nil {
		t.Fatal(err)
	}
	cov := inv.Coverage()
	var lines []string
	for _, s := range cov.Servers {
		lines = append(lines, fmt.Sprintf("%s: %v", s.Server, s.Plan))
	}
	for _, c := range cov.Classes {
		lines = append(lines, fmt.Sprintf("%d MiB: active %d standby %d absorb %d", c.Hardware.MemoryMiB, c.Active, c.Standby, c.Absorb))
	}
	got := strings.Join(lines, "\n")
	want := `a1: exact: a1 -> s1
a2: exact: a2 -> s1
a3: exact: a3 -> s1
b1: exact: b1 -> s2
65536 MiB: active 3 standby 1 absorb 2
131072 MiB: active 1 standby 1 absorb 1`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestWith(t *testing.T) {
	inv, err := search.NewInventory([]search.Server{mk("f", std, search.Failed, 5), mk("s1", std, search.Standby, 0), mk("s2", std, search.Standby, 0)})
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := inv.Server("s1")
	s1.State = search.Reserved
	inv2, err := inv.With(s1)
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := inv.Find("f")
	p2, _ := inv2.Find("f")
	if p1.String() != "exact: f -> s1" || p2.String() != "exact: f -> s2" || inv2.Len() != 3 {
		t.Fatalf("before %v, after %v", p1, p2)
	}
	if s, ok := inv2.Server("s1"); !ok || s.State != search.Reserved {
		t.Fatalf("Server(s1) = %+v, %v", s, ok)
	}
	if _, ok := inv.Server("nope"); ok {
		t.Fatal("unknown server found")
	}
}

// TestConcurrentUse: an Inventory is immutable; concurrent searches agree
// with sequential ones (run with -race).
func TestConcurrentUse(t *testing.T) {
	F, S, A := search.Failed, search.Standby, search.Active
	inv, err := search.NewInventory([]search.Server{mk("f1", std, F, 50), mk("f2", std, F, 40), mk("s1", std, S, 0), mk("v1", std, A, 10)},
		search.WithPolicy("f2", search.Policy{Preempt: true}))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := inv.FindAll("f1", "f2")
	wantP, _ := inv.Find("f1")
	done := make(chan string, 8)
	for range 8 {
		go func() {
			got, _ := inv.FindAll("f2", "f1")
			p, _ := inv.Find("f1")
			_ = inv.Coverage()
			done <- fmt.Sprint(got[1], got[0], p)
		}()
	}
	for range 8 {
		if got := <-done; got != fmt.Sprint(want[0], want[1], wantP) || wantP.String() != "exact: f1 -> s1" {
			t.Fatalf("concurrent result %s, want %v", got, want)
		}
	}
}

// TestLargePartitions: pairing a 16-node partition stays fast, whether a
// one-to-one match exists or not (Hall's condition fails by one node).
func TestLargePartitions(t *testing.T) {
	other := hwMem(std, 32768)
	var servers []search.Server
	for i := range 16 {
		hw := std
		if i < 2 {
			hw = other // two failed nodes need the other class...
		}
		servers = append(servers, mk(fmt.Sprintf("f%02d", i), hw, search.Failed, 5, part("P"), zone(fmt.Sprint("z", i%3))))
		shw := std
		if i == 0 {
			shw = other // ...but only one spare node has it
		}
		servers = append(servers, mk(fmt.Sprintf("s%02d", i), shw, search.Standby, 0, part("Q"), zone(fmt.Sprint("z", i%5))))
	}
	inv, err := search.NewInventory(servers)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := inv.Find("f00"); !errors.Is(err, search.ErrNoSpare) {
		t.Fatalf("err = %v, want ErrNoSpare", err)
	}
	servers[len(servers)-1].Hardware = other // now two spare nodes have it
	inv, err = search.NewInventory(servers)
	if err != nil {
		t.Fatal(err)
	}
	p, err := inv.Find("f00")
	if err != nil || len(p.Assignments) != 16 {
		t.Fatalf("got %v, %v", p, err)
	}
	seen := make(map[search.ServerID]bool)
	for _, a := range p.Assignments {
		f, _ := inv.Server(a.Failed)
		s, _ := inv.Server(a.Spare)
		if seen[a.Spare] || f.Hardware != s.Hardware {
			t.Fatalf("bad pairing %v", p)
		}
		seen[a.Spare] = true
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}
