package fake

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/storage"
)

// fits is a small stand-in for package search, enough to check that the
// example data centre is built so that each scenario has the intended
// answer: hard constraints (array, chipset, port counts, same switch when
// asked) always; CPU model, MHz and memory exact unless policy relaxes.
func fits(failed, cand ServerSpec, p *Policy) bool {
	if cand.DiskArray != failed.DiskArray || cand.Hardware.Chipset != failed.Hardware.Chipset ||
		cand.Hardware.NICPorts != failed.Hardware.NICPorts || cand.Hardware.HBAPorts != failed.Hardware.HBAPorts {
		return false
	}
	if p != nil && p.SameSwitch && cand.Switch != failed.Switch {
		return false
	}
	if p == nil || (p.MinCPUMHz == 0 && p.MinMemoryMiB == 0 && !p.AllowOtherCPUModel) {
		return cand.Hardware == failed.Hardware
	}
	return cand.Hardware.CPUMHz >= p.MinCPUMHz && cand.Hardware.MemoryMiB >= p.MinMemoryMiB &&
		(p.AllowOtherCPUModel || cand.Hardware.CPUModel == failed.Hardware.CPUModel)
}

func TestPatentExampleScenariosHaveTheirIntendedAnswer(t *testing.T) {
	w, layout := PatentExample()
	specs := map[string]ServerSpec{}
	for _, s := range w.Servers() {
		specs[s.ID] = s
	}
	if len(specs) != 12 {
		t.Fatalf("%d servers", len(specs))
	}
	policy := func(id string) *Policy {
		for i := range layout.Policies {
			if layout.Policies[i].Server == id {
				return &layout.Policies[i]
			}
		}
		return nil
	}
	standbysFitting := func(failed ServerSpec, p *Policy) []string {
		var out []string
		for _, s := range w.Servers() {
			if s.State == StateStandby && fits(failed, s, p) {
				out = append(out, s.ID)
			}
		}
		return out
	}
	names := map[string]bool{}
	for _, sc := range layout.Scenarios {
		names[sc.Name] = true
		for _, id := range append(slices.Clone(sc.Fail), sc.WantSpares...) {
			if _, ok := specs[id]; !ok {
				t.Fatalf("%s: unknown server %s", sc.Name, id)
			}
		}
		failed := specs[sc.Fail[0]]
		exact := standbysFitting(failed, policy(failed.ID))
		switch sc.Name {
		case "exact":
			if !slices.Equal(exact, sc.WantSpares) {
				t.Errorf("exact: fitting standbys %v, want %v", exact, sc.WantSpares)
			}
			other := 0
			for _, s := range specs {
				if s.State == StateStandby && s.Hardware == failed.Hardware && s.DiskArray != failed.DiskArray {
					other++
				}
			}
			if other == 0 {
				t.Errorf("exact: want a same-hardware standby on another disk array, to be rejected")
			}
		case "recompose":
			if failed.Partition == "" || len(sc.Fail) != 2 {
				t.Fatalf("recompose: %s is not a 2-node logical server", failed.ID)
			}
			combo := slices.Clone(sc.WantSpares)
			slices.Sort(combo)
			if !slices.ContainsFunc(layout.Compositions, func(c []string) bool { return slices.Equal(c, combo) }) {
				t.Errorf("recompose: %v is not an allowed combination", combo)
			}
			for i, m := range sc.Fail {
				if s := specs[sc.WantSpares[i]]; s.State != StateStandby || s.Partition != "" || !fits(specs[m], s, nil) {
					t.Errorf("recompose: %s cannot replace %s", s.ID, m)
				}
			}
		case "relaxed":
			if got := standbysFitting(failed, nil); len(got) != 0 {
				t.Errorf("relaxed: exact standbys %v exist", got)
			}
			if !slices.Equal(exact, sc.WantSpares) {
				t.Errorf("relaxed: standbys under policy %v, want %v", exact, sc.WantSpares)
			}
		case "preempt":
			if len(exact) != 0 {
				t.Errorf("preempt: standbys %v fit, want none", exact)
			}
			v := specs[sc.WantVictim]
			if v.State != StateActive || v.Priority >= failed.Priority || !fits(failed, v, policy(failed.ID)) {
				t.Errorf("preempt: %s is not a lower-priority fitting victim", v.ID)
			}
			if got := standbysFitting(v, policy(v.ID)); !slices.Equal(got, []string{sc.WantVictimTo}) {
				t.Errorf("preempt: the victim's standbys %v, want [%s]", got, sc.WantVictimTo)
			}
		}
	}
	for _, n := range []string{"exact", "recompose", "relaxed", "preempt"} {
		if !names[n] {
			t.Errorf("no scenario %q", n)
		}
	}
	// Zone and VLAN differences between each failed server and its spare.
	for _, sc := range layout.Scenarios {
		f, s := specs[sc.Fail[0]], specs[sc.WantSpares[0]]
		if f.VLAN.Equal(s.VLAN) || slices.Equal(f.Zones, s.Zones) {
			t.Errorf("%s: %s and %s have the same VLAN or zones", sc.Name, f.ID, s.ID)
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, la, err := Generate(300, 42)
	must(t, err)
	b, lb, err := Generate(300, 42)
	must(t, err)
	if !reflect.DeepEqual(a.Servers(), b.Servers()) || !reflect.DeepEqual(la, lb) ||
		!reflect.DeepEqual(a.Masking(""), b.Masking("")) || !reflect.DeepEqual(a.LogicalServers(), b.LogicalServers()) {
		t.Fatal("same n and seed, different worlds")
	}
	c, _, err := Generate(300, 43)
	must(t, err)
	if reflect.DeepEqual(a.Servers(), c.Servers()) {
		t.Fatal("different seeds, same world")
	}
	if _, _, err := Generate(0, 1); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("n=0: %v", err)
	}
}

func TestGeneratedWorldShape(t *testing.T) {
	const n = 1000
	w, layout, err := Generate(n, 7)
	must(t, err)
	servers := w.Servers()
	if len(servers) != n || !slices.IsSortedFunc(servers, func(a, b ServerSpec) int {
		if a.ID < b.ID {
			return -1
		}
		return 1
	}) {
		t.Fatalf("%d servers or not sorted", len(servers))
	}
	standby, lun1, classes, switches, arrays := 0, 0, map[Hardware]bool{}, map[string]bool{}, map[string]bool{}
	for _, s := range servers {
		classes[s.Hardware] = true
		switches[s.Switch] = true
		arrays[s.DiskArray] = true
		if s.State == StateStandby {
			standby++
			if w.Power(s.ID) != bmc.PowerOff || len(s.BootVolumes) != 0 {
				t.Fatalf("standby %s is on or has volumes", s.ID)
			}
			continue
		}
		if w.Power(s.ID) != bmc.PowerOn || len(s.Zones) != 1 || len(s.BootVolumes) == 0 || s.BootVolumes[0].LUN != 0 {
			t.Fatalf("active %+v", s)
		}
		if h := w.VolumeHolders(s.DiskArray, s.BootVolumes[0].ID); !slices.Equal(h, []string{s.ID}) {
			t.Fatalf("boot volume of %s held by %v", s.ID, h)
		}
		if len(s.BootVolumes) > 1 {
			lun1++
		}
	}
	if standby < n*5/100 || standby > n*10/100 {
		t.Errorf("%d standby of %d, want 5-10%%", standby, n)
	}
	if lun1 == 0 || len(classes) != len(genClasses) || len(switches) != 25 || len(arrays) != 10 {
		t.Errorf("lun1 %d, classes %d, switches %d, arrays %d", lun1, len(classes), len(switches), len(arrays))
	}
	ls := w.LogicalServers()
	if len(ls) == 0 || len(layout.Policies) == 0 || len(layout.Compositions) <= len(ls) {
		t.Errorf("%d logical servers, %d policies, %d compositions", len(ls), len(layout.Policies), len(layout.Compositions))
	}
	for _, l := range ls {
		if len(l.Members) != 2 {
			t.Errorf("logical server %+v", l)
		}
	}
}

func BenchmarkGenerate1000(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Generate(1000, 1); err != nil {
			b.Fatal(err)
		}
	}
}
