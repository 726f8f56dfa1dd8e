package search_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/search"
)

// planCase is one table row: an inventory, a request, the plans wanted.
type planCase struct {
	name    string
	servers []search.Server
	opts    []search.Option
	failed  []search.ServerID
	scale   []search.ScaleRequest
	want    []string // Plan.String() of the failures' plans, then the scale plans
	wantErr error
}

func runPlanCases(t *testing.T, cases []planCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := search.NewInventory(tc.servers, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			if len(tc.failed) == 1 && len(tc.scale) == 0 {
				p, ferr := inv.Find(tc.failed[0])
				got, err = append(got, p.String()), ferr
			} else {
				var jp search.JointPlan
				jp, err = inv.FindJoint(tc.failed, tc.scale...)
				for _, p := range jp.Failures {
					got = append(got, p.String())
				}
				for _, ps := range jp.Scale {
					for _, p := range ps {
						got = append(got, p.String())
					}
				}
			}
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if errors.Is(err, search.ErrInvalid) {
				return
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestLentComposition: when no standby logical server and no composition
// of standby servers fits, preemption composes an allowed combination of
// standby servers and servers lent by strictly lower-priority workloads.
func TestLentComposition(t *testing.T) {
	F, S, A := search.Failed, search.Standby, search.Active
	pre := search.Policy{Preempt: true}
	pair := func(extra ...search.Server) []search.Server {
		return append([]search.Server{mk("f1", std, F, 50, part("P")), mk("f2", std, F, 50, part("P"))}, extra...)
	}
	runPlanCases(t, []planCase{
		{name: "a standby server and a lent one composed",
			servers: pair(mk("s1", std, S, 0), mk("v1", std, A, 10)),
			opts:    []search.Option{search.WithPolicy("f1", pre), search.WithCombination("s1", "v1")},
			failed:  []search.ServerID{"f1"},
			want:    []string{`preempted (compose s1+v1): f1 -> s1, f2 -> v1 (victim v1 "w10" prio 10 stopped)`}},
		{name: "no lending without Preempt",
			servers: pair(mk("s1", std, S, 0), mk("v1", std, A, 10)),
			opts:    []search.Option{search.WithCombination("s1", "v1")},
			failed:  []search.ServerID{"f1"},
			want:    []string{"none: 0/2 servers: 1 not in an allowed combination, 1 not standby"}, wantErr: search.ErrNoSpare},
		{name: "a composition of standby servers comes first",
			servers: pair(mk("s1", std, S, 0), mk("s2", std, S, 0), mk("v1", std, A, 10)),
			opts:    []search.Option{search.WithPolicy("f1", pre), search.WithCombination("s1", "v1"), search.WithCombination("s1", "s2")},
			failed:  []search.ServerID{"f1"},
			want:    []string{"recomposed (compose s1+s2): f1 -> s1, f2 -> s2"}},
		{name: "never a lender of equal priority",
			servers: pair(mk("s1", std, S, 0), mk("v1", std, A, 50)),
			opts:    []search.Option{search.WithPolicy("f1", pre), search.WithCombination("s1", "v1")},
			failed:  []search.ServerID{"f1"},
			want:    []string{"none: 0/2 servers: 1 not in an allowed combination, 1 priority 50 >= 50"}, wantErr: search.ErrNoSpare},
		{name: "fewest lent servers",
			servers: pair(mk("a1", std, A, 10), mk("a2", std, A, 10), mk("s1", std, S, 0), mk("v3", std, A, 10)),
			opts:    []search.Option{search.WithPolicy("f1", pre), search.WithCombination("a1", "a2"), search.WithCombination("s1", "v3")},
			failed:  []search.ServerID{"f1"},
			want:    []string{`preempted (compose s1+v3): f1 -> s1, f2 -> v3 (victim v3 "w10" prio 10 stopped)`}},
		{name: "lowest priorities first",
			servers: pair(mk("s1", std, S, 0), mk("s2", std, S, 0), mk("va", std, A, 30), mk("vb", std, A, 10)),
			opts:    []search.Option{search.WithPolicy("f1", pre), search.WithCombination("s1", "va"), search.WithCombination("s2", "vb")},
			failed:  []search.ServerID{"f1"},
			want:    []string{`preempted (compose s2+vb): f1 -> s2, f2 -> vb (victim vb "w10" prio 10 relocated to s1)`}},
		{name: "one lent server beats a whole two-node victim of the same priority",
			servers: pair(mk("q1", std, A, 10, part("Q")), mk("q2", std, A, 10, part("Q")), mk("s1", std, S, 0), mk("v1", std, A, 10)),
			opts:    []search.Option{search.WithPolicy("f1", pre), search.WithCombination("s1", "v1")},
			failed:  []search.ServerID{"f1"},
			want:    []string{`preempted (compose s1+v1): f1 -> s1, f2 -> v1 (victim v1 "w10" prio 10 stopped)`}},
		{name: "the lender is relocated when its policy accepts a free standby server",
			servers: pair(mk("s1", std, S, 0), mk("v1", std, A, 10), mk("s9", hwMem(std, 32768), S, 0)),
			opts: []search.Option{search.WithPolicy("f1", pre), search.WithCombination("s1", "v1"),
				search.WithPolicy("v1", search.Policy{MinMemoryMiB: 32768})},
			failed: []search.ServerID{"f1"},
			want:   []string{`preempted (compose s1+v1): f1 -> s1, f2 -> v1 (victim v1 "w10" prio 10 relocated to s9)`}},
		{name: "joint planning shares the lenders",
			servers: append(pair(mk("s1", std, S, 0), mk("v1", std, A, 10), mk("v2", std, A, 10)),
				mk("g1", std, F, 40, part("G")), mk("g2", std, F, 40, part("G")), mk("s2", std, S, 0)),
			opts: []search.Option{search.WithPolicy("f1", pre), search.WithPolicy("g1", pre),
				search.WithCombination("s1", "v1"), search.WithCombination("s2", "v2"), search.WithCombination("s1", "s2")},
			failed: []search.ServerID{"f1", "g1"},
			want: []string{`preempted (compose s1+v1): f1 -> s1, f2 -> v1 (victim v1 "w10" prio 10 stopped)`,
				`preempted (compose s2+v2): g1 -> s2, g2 -> v2 (victim v2 "w10" prio 10 stopped)`}},
	})
}

// TestScaleIn: a victim whose workload tolerates losing logical servers
// (Policy.ScaleInMin) is scaled in rather than relocated or stopped, and
// such victims are preferred at equal priority.
func TestScaleIn(t *testing.T) {
	F, S, A := search.Failed, search.Standby, search.Active
	pre := search.Policy{Preempt: true}
	batch := func(id string, prio int) search.Server { return mk(id, std, A, prio, work("batch")) }
	tolerant := search.WithWorkloadPolicy("batch", search.Policy{ScaleInMin: 2})
	runPlanCases(t, []planCase{
		{name: "scaled in down to the minimum",
			servers: []search.Server{mk("f", std, F, 50), batch("b1", 10), batch("b2", 10), batch("b3", 10)},
			opts:    []search.Option{search.WithPolicy("f", pre), tolerant},
			failed:  []search.ServerID{"f"},
			want:    []string{`preempted: f -> b1 (victim b1 "batch" prio 10 scaled in)`}},
		{name: "at the minimum it is stopped",
			servers: []search.Server{mk("f", std, F, 50), batch("b1", 10), batch("b2", 10)},
			opts:    []search.Option{search.WithPolicy("f", pre), tolerant},
			failed:  []search.ServerID{"f"},
			want:    []string{`preempted: f -> b1 (victim b1 "batch" prio 10 stopped)`}},
		{name: "scaled in rather than relocated",
			servers: []search.Server{mk("f", std, F, 50), batch("b1", 10), batch("b2", 10), batch("b3", 10), mk("s9", hwMem(std, 32768), S, 0)},
			opts:    []search.Option{search.WithPolicy("f", pre), search.WithWorkloadPolicy("batch", search.Policy{ScaleInMin: 2, MinMemoryMiB: 32768})},
			failed:  []search.ServerID{"f"},
			want:    []string{`preempted: f -> b1 (victim b1 "batch" prio 10 scaled in)`}},
		{name: "a victim that can be scaled in beats one that would stop, at equal priority",
			servers: []search.Server{mk("f", std, F, 50), mk("a0", std, A, 10), batch("b1", 10), batch("b2", 10), batch("b3", 10)},
			opts:    []search.Option{search.WithPolicy("f", pre), tolerant},
			failed:  []search.ServerID{"f"},
			want:    []string{`preempted: f -> b1 (victim b1 "batch" prio 10 scaled in)`}},
		{name: "a lower priority still comes first",
			servers: []search.Server{mk("f", std, F, 50), mk("a0", std, A, 5), batch("b1", 10), batch("b2", 10), batch("b3", 10)},
			opts:    []search.Option{search.WithPolicy("f", pre), tolerant},
			failed:  []search.ServerID{"f"},
			want:    []string{`preempted: f -> a0 (victim a0 "w5" prio 5 stopped)`}},
		{name: "jointly, the workload loses no more than it tolerates",
			servers: []search.Server{mk("f1", std, F, 50), mk("f2", std, F, 40), batch("b1", 10), batch("b2", 10), batch("b3", 10)},
			opts:    []search.Option{search.WithPolicy("f1", pre), search.WithPolicy("f2", pre), tolerant},
			failed:  []search.ServerID{"f1", "f2"},
			want: []string{`preempted: f1 -> b1 (victim b1 "batch" prio 10 scaled in)`,
				`preempted: f2 -> b2 (victim b2 "batch" prio 10 stopped)`}},
		{name: "jointly, a victim scaled in beats a closer class that would stop",
			// The batch servers have twice the memory the policy asks (a
			// larger surplus than a0's and a1's class): scale-in ranks first.
			servers: []search.Server{mk("f1", std, F, 50), mk("f2", std, F, 40), mk("a0", hwMem(std, 32768), A, 10), mk("a1", hwMem(std, 32768), A, 10),
				batch("b1", 10), batch("b2", 10), batch("b3", 10), batch("b4", 10)},
			opts: []search.Option{search.WithPolicy("f1", search.Policy{Preempt: true, MinMemoryMiB: 32768}),
				search.WithPolicy("f2", search.Policy{Preempt: true, MinMemoryMiB: 32768}), tolerant},
			failed: []search.ServerID{"f1", "f2"},
			want: []string{`preempted: f1 -> b1 (victim b1 "batch" prio 10 scaled in)`,
				`preempted: f2 -> b2 (victim b2 "batch" prio 10 scaled in)`}},
		{name: "a lent server is scaled in too",
			servers: []search.Server{mk("f1", std, F, 50, part("P")), mk("f2", std, F, 50, part("P")), mk("s1", std, S, 0),
				batch("b1", 10), batch("b2", 10), batch("b3", 10)},
			opts:   []search.Option{search.WithPolicy("f1", pre), tolerant, search.WithCombination("s1", "b2")},
			failed: []search.ServerID{"f1"},
			want:   []string{`preempted (compose b2+s1): f1 -> b2, f2 -> s1 (victim b2 "batch" prio 10 scaled in)`}},
	})
}

// TestPreemptionJSON: plans are journaled; a Preemption's JSON form is the
// one written before ScaleIn existed unless the victim is scaled in.
func TestPreemptionJSON(t *testing.T) {
	old := `{"Victim":"v1","Workload":"batch","Priority":10,"RelocateTo":"s9"}`
	var p search.Preemption
	if err := json.Unmarshal([]byte(old), &p); err != nil || p.ScaleIn || p.RelocateTo != "s9" {
		t.Fatalf("%+v, %v", p, err)
	}
	b, _ := json.Marshal(p)
	if string(b) != old {
		t.Fatalf("marshal %s, want %s", b, old)
	}
	p.RelocateTo, p.ScaleIn = "", true
	b, _ = json.Marshal(p)
	if want := `{"Victim":"v1","Workload":"batch","Priority":10,"RelocateTo":"","ScaleIn":true}`; string(b) != want {
		t.Fatalf("marshal %s, want %s", b, want)
	}
	plan, _ := json.Marshal(search.Plan{Kind: search.Exact})
	if strings.Contains(string(plan), "Scale") {
		t.Fatalf("a failover plan's JSON names Scale: %s", plan)
	}
}

// TestScaleOut: more logical servers like a running server or a
// template, through the same stages.
func TestScaleOut(t *testing.T) {
	S, A := search.Standby, search.Active
	tpl := []search.Server{{Hardware: hwMHz(std, 2450), Switch: "sw1", DiskArray: "vsp1", Zone: "z1", VLANs: []int{10}}}
	runPlanCases(t, []planCase{
		{name: "like a running server, exact",
			servers: []search.Server{mk("web-1", std, A, 50), mk("s1", std, S, 0), mk("s2", std, S, 0), mk("s3", hwMem(std, 131072), S, 0)},
			scale:   []search.ScaleRequest{{Kind: search.ScaleOut, Like: "web-1", Count: 2}},
			want:    []string{"scale-out exact: new s1", "scale-out exact: new s2"}},
		{name: "more than the pool holds: the rest is explained",
			servers: []search.Server{mk("web-1", std, A, 50), mk("s1", std, S, 0)},
			scale:   []search.ScaleRequest{{Kind: search.ScaleOut, Like: "web-1", Count: 2}},
			want:    []string{"scale-out exact: new s1", "none: 0/2 servers: 1 not standby, 1 taken by another request"}, wantErr: search.ErrNoSpare},
		{name: "a template the inventory does not have, relaxed under its policy",
			servers: []search.Server{mk("s1", hwMHz(std, 2600), S, 0), mk("s2", hwMHz(std, 2500), S, 0)},
			scale: []search.ScaleRequest{{Kind: search.ScaleOut, Template: tpl, Workload: "web", Priority: 50,
				Policy: &search.Policy{MinCPUMHz: 2450}}},
			want: []string{"scale-out relaxed: new s2"}},
		// CPU models are compared as interned indexes: a model no server
		// has, or one spelled like another field's name, is another model.
		{name: "a template of a CPU model no server has",
			servers: []search.Server{mk("s1", std, S, 0)},
			scale:   []search.ScaleRequest{{Kind: search.ScaleOut, Template: []search.Server{{Hardware: hwCPU(std, "Z9"), Switch: "sw1", DiskArray: "vsp1", Zone: "z1"}}, Workload: "web", Priority: 50}},
			want:    []string{"none: 0/1 servers: 1 other CPU model"}, wantErr: search.ErrNoSpare},
		{name: "a template of a CPU model spelled like a switch",
			servers: []search.Server{mk("s1", std, S, 0)},
			scale:   []search.ScaleRequest{{Kind: search.ScaleOut, Template: []search.Server{{Hardware: hwCPU(std, "sw1"), Switch: "sw1", DiskArray: "vsp1", Zone: "z1"}}, Workload: "web", Priority: 50}},
			want:    []string{"none: 0/1 servers: 1 other CPU model"}, wantErr: search.ErrNoSpare},
		{name: "a template of a CPU model no server has, any model allowed",
			servers: []search.Server{mk("s1", std, S, 0)},
			scale: []search.ScaleRequest{{Kind: search.ScaleOut, Template: []search.Server{{Hardware: hwCPU(std, "Z9"), Switch: "sw1", DiskArray: "vsp1", Zone: "z1"}}, Workload: "web", Priority: 50,
				Policy: &search.Policy{AnyCPUModel: true}}},
			want: []string{"scale-out relaxed: new s1"}},
		{name: "a two-node template of a CPU model no server has",
			servers: []search.Server{mk("p1", std, S, 0, part("P")), mk("p2", std, S, 0, part("P"))},
			scale:   []search.ScaleRequest{{Kind: search.ScaleOut, Template: []search.Server{{Hardware: hwCPU(std, "Z9"), Switch: "sw1", DiskArray: "vsp1", Zone: "z1"}, {Hardware: hwCPU(std, "Z9"), Switch: "sw1", DiskArray: "vsp1", Zone: "z1"}}, Workload: "web", Priority: 50}},
			want:    []string{"none: 0/2 servers: 2 other CPU model"}, wantErr: search.ErrNoSpare},
		{name: "a two-node template of a CPU model no server has, any model allowed",
			servers: []search.Server{mk("p1", std, S, 0, part("P")), mk("p2", std, S, 0, part("P"))},
			scale: []search.ScaleRequest{{Kind: search.ScaleOut, Template: []search.Server{{Hardware: hwCPU(std, "Z9"), Switch: "sw1", DiskArray: "vsp1", Zone: "z1"}, {Hardware: hwCPU(std, "Z9"), Switch: "sw1", DiskArray: "vsp1", Zone: "z1"}}, Workload: "web", Priority: 50,
				Policy: &search.Policy{AnyCPUModel: true}}},
			want: []string{"scale-out relaxed: new p1+p2"}},
		{name: "preemption when the policy allows it",
			servers: []search.Server{mk("web-1", std, A, 50), mk("v1", std, A, 10)},
			scale:   []search.ScaleRequest{{Kind: search.ScaleOut, Like: "web-1", Policy: &search.Policy{Preempt: true}}},
			want:    []string{`scale-out preempted: new v1 (victim v1 "w10" prio 10 stopped)`}},
		{name: "a two-node template composed from an allowed combination",
			servers: []search.Server{mk("db-1", std, A, 70, part("D")), mk("db-2", std, A, 70, part("D")), mk("s1", std, S, 0), mk("s2", std, S, 0)},
			opts:    []search.Option{search.WithCombination("s1", "s2")},
			scale:   []search.ScaleRequest{{Kind: search.ScaleOut, Like: "db-1"}},
			want:    []string{"scale-out recomposed (compose s1+s2): new s1+s2"}},
		{name: "failures first",
			servers: []search.Server{mk("f", std, search.Failed, 10), mk("web-1", std, A, 90), mk("s1", std, S, 0)},
			failed:  []search.ServerID{"f"},
			scale:   []search.ScaleRequest{{Kind: search.ScaleOut, Like: "web-1"}},
			want:    []string{"exact: f -> s1", "none: 0/3 servers: 2 not standby, 1 taken by another request"}, wantErr: search.ErrNoSpare},
		{name: "between scale requests, higher priority first",
			servers: []search.Server{mk("lo", std, A, 10), mk("hi", std, A, 90), mk("s1", std, S, 0)},
			scale:   []search.ScaleRequest{{Kind: search.ScaleOut, Like: "lo"}, {Kind: search.ScaleOut, Like: "hi"}},
			want:    []string{"none: 0/3 servers: 2 not standby, 1 taken by another request", "scale-out exact: new s1"}, wantErr: search.ErrNoSpare},
		{name: "unknown Like", servers: []search.Server{mk("s1", std, S, 0)},
			scale: []search.ScaleRequest{{Kind: search.ScaleOut, Like: "zz"}}, wantErr: search.ErrInvalid},
		{name: "Like not running", servers: []search.Server{mk("s1", std, S, 0)},
			scale: []search.ScaleRequest{{Kind: search.ScaleOut, Like: "s1"}}, wantErr: search.ErrInvalid},
		{name: "neither Like nor template", servers: []search.Server{mk("s1", std, S, 0)},
			scale: []search.ScaleRequest{{Kind: search.ScaleOut}}, wantErr: search.ErrInvalid},
		{name: "negative count", servers: []search.Server{mk("a", std, A, 5)},
			scale: []search.ScaleRequest{{Kind: search.ScaleOut, Like: "a", Count: -1}}, wantErr: search.ErrInvalid},
		{name: "template VLAN out of range", servers: []search.Server{mk("s1", std, S, 0)},
			scale: []search.ScaleRequest{{Kind: search.ScaleOut, Template: []search.Server{{Hardware: std, VLANs: []int{5000}}}}}, wantErr: search.ErrInvalid},
		{name: "absurd priority", servers: []search.Server{mk("s1", std, S, 0)},
			scale: []search.ScaleRequest{{Kind: search.ScaleOut, Template: []search.Server{{Hardware: std}}, Priority: math.MinInt}}, wantErr: search.ErrInvalid},
	})
}

// TestScaleUp: a bigger logical server for a running one: exactly the
// size asked for first, then anything at least that big under the policy.
func TestScaleUp(t *testing.T) {
	S, A := search.Standby, search.Active
	big, bigger := hwMem(std, 131072), hwMem(std, 262144)
	runPlanCases(t, []planCase{
		{name: "exactly the size asked for",
			servers: []search.Server{mk("web-1", std, A, 50), mk("s1", bigger, S, 0), mk("s2", big, S, 0)},
			scale:   []search.ScaleRequest{{Kind: search.ScaleUp, Like: "web-1", MinMemoryMiB: 131072}},
			want:    []string{"scale-up exact: web-1 -> s2"}},
		{name: "at least the size, the closest fit",
			servers: []search.Server{mk("web-1", std, A, 50), mk("s1", hwMem(std, 524288), S, 0), mk("s2", bigger, S, 0), mk("s3", std, S, 0)},
			scale:   []search.ScaleRequest{{Kind: search.ScaleUp, Like: "web-1", MinMemoryMiB: 131072}},
			want:    []string{"scale-up relaxed: web-1 -> s2"}},
		{name: "faster CPUs",
			servers: []search.Server{mk("web-1", std, A, 50), mk("s1", hwMHz(std, 3000), S, 0), mk("s2", hwMHz(std, 2800), S, 0)},
			scale:   []search.ScaleRequest{{Kind: search.ScaleUp, Like: "web-1", MinCPUMHz: 2600}},
			want:    []string{"scale-up relaxed: web-1 -> s2"}},
		{name: "nothing bigger asked", servers: []search.Server{mk("web-1", std, A, 50)},
			scale: []search.ScaleRequest{{Kind: search.ScaleUp, Like: "web-1", MinMemoryMiB: 1024}}, wantErr: search.ErrInvalid},
		{name: "scale-up needs Like", servers: []search.Server{mk("web-1", std, A, 50)},
			scale: []search.ScaleRequest{{Kind: search.ScaleUp, MinMemoryMiB: 1 << 20}}, wantErr: search.ErrInvalid},
		{name: "with Preempt, a bigger server of lower priority",
			servers: []search.Server{mk("web-1", std, A, 50), mk("v1", big, A, 10)},
			scale: []search.ScaleRequest{{Kind: search.ScaleUp, Like: "web-1", MinMemoryMiB: 131072,
				Policy: &search.Policy{Preempt: true}}},
			want: []string{`scale-up preempted: web-1 -> v1 (victim v1 "w10" prio 10 stopped)`}},
	})
}

// TestNegativeVictimPriorities: priorities may be negative, and the
// victims of lowest priority are taken first whichever source they come
// from. A two-node failure that allows a mismatched partition reads its
// two-node victims and its victims of another node count from separate
// sources, each queued at a lower bound of its victims' priority: the
// lowest priority in service, not 0 (with 0, FindAll took the partition
// of priority -3 over the standalone server of -5). FindAll plans two
// failures, so the flow's streams serve them, not Find's search; the
// second failure, on another disk array, only makes it two.
func TestNegativeVictimPriorities(t *testing.T) {
	F, S, A := search.Failed, search.Standby, search.Active
	pol := search.Policy{Preempt: true, AllowPartitionMismatch: true}
	servers := func(qPrio, vPrio int) []search.Server {
		return []search.Server{
			mk("f1", std, F, 10, part("P")), mk("f2", std, F, 10, part("P")),
			mk("q1", std, A, qPrio, part("Q")), mk("q2", std, A, qPrio, part("Q")),
			mk("v1", hwMem(std, 131072), A, vPrio), // the memory of both failed nodes
			mk("x1", std, F, 10, array("vsp2")), mk("x2", std, S, 0, array("vsp2")),
		}
	}
	opts := []search.Option{search.WithPolicy("f1", pol)}
	one := `preempted: f1 -> v1, f2 -> v1 (victim v1 "w-5" prio -5 stopped)`
	two := `preempted: f1 -> q1, f2 -> q2 (victim q1 "w-5" prio -5 stopped) (victim q2 "w-5" prio -5 stopped)`
	both := []search.ServerID{"f1", "x1"}
	runPlanCases(t, []planCase{
		{name: "Find, the standalone victim lower", servers: servers(-3, -5), opts: opts, failed: both[:1], want: []string{one}},
		{name: "FindAll, the standalone victim lower", servers: servers(-3, -5), opts: opts, failed: both, want: []string{one, "exact: x1 -> x2"}},
		{name: "Find, the partition lower", servers: servers(-5, -3), opts: opts, failed: both[:1], want: []string{two}},
		{name: "FindAll, the partition lower", servers: servers(-5, -3), opts: opts, failed: both, want: []string{two, "exact: x1 -> x2"}},
	})
}

// TestJointReconfigurationsBeforeSurplus: in a joint round, a partition
// that keeps the failed nodes' VLANs (two reconfigurations: the zones)
// beats one of a smaller surplus that changes them too (four), although
// no partition shares a zone with the failures (the zone bound a stream
// queues its groups at counts two, not more).
func TestJointReconfigurationsBeforeSurplus(t *testing.T) {
	F, S := search.Failed, search.Standby
	x := hwMem(std, 49152)
	small := hwMem(std, 32768)
	node := func(id string, h search.Hardware, st search.State, prio int, p string, v int) search.Server {
		return mk(id, h, st, prio, part(p), zone("z-"+id), vlans(v))
	}
	relax := search.Policy{MinMemoryMiB: 32768}
	runPlanCases(t, []planCase{
		{name: "the VLANs kept rank before the surplus",
			servers: []search.Server{
				node("f1a", x, F, 50, "P1", 100), node("f1b", x, F, 50, "P1", 100),
				node("f2a", x, F, 50, "P2", 100), node("f2b", x, F, 50, "P2", 100),
				node("a1a", std, S, 0, "A1", 100), node("a1b", std, S, 0, "A1", 100),
				node("a2a", std, S, 0, "A2", 100), node("a2b", std, S, 0, "A2", 100),
				node("b1a", small, S, 0, "B1", 200), node("b1b", small, S, 0, "B1", 200),
				node("b2a", small, S, 0, "B2", 200), node("b2b", small, S, 0, "B2", 200)},
			opts:   []search.Option{search.WithPolicy("f1a", relax), search.WithPolicy("f2a", relax)},
			failed: []search.ServerID{"f1a", "f2a"},
			want:   []string{"relaxed: f1a -> a1a, f1b -> a1b", "relaxed: f2a -> a2a, f2b -> a2b"}},
	})
}
