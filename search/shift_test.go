package search

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// shifted is in with every workload's priority moved by d: servers in
// service, scale requests. Only the order of priorities means anything.
func shifted(in instance, d int) instance {
	out := in
	out.servers = slices.Clone(in.servers)
	for i := range out.servers {
		if out.servers[i].Workload != "" {
			out.servers[i].Priority += d
		}
	}
	out.scale = slices.Clone(in.scale)
	for i := range out.scale {
		out.scale[i].Priority += d
	}
	return out
}

// planShape is what a plan decides, without the priorities it reports.
func planShape(p Plan) Plan {
	p.Reason = ""
	p.Preemptions = slices.Clone(p.Preemptions)
	for k := range p.Preemptions {
		p.Preemptions[k].Priority = 0
	}
	return p
}

// TestPriorityShiftKeepsPlans: moving every priority by the same amount,
// below zero too, changes no decision. The search's lower bounds on a
// victim's priority must hold for negative priorities.
func TestPriorityShiftKeepsPlans(t *testing.T) {
	n := 4000
	if testing.Short() {
		n = 1000
	}
	rng := rand.New(rand.NewPCG(2026, 12))
	kn := []knobs{plainKnobs, lendKnobs}
	for i := range n {
		in := randInstanceWith(rng, kn[i%2])
		var want []Plan
		for _, d := range []int{0, -1000, 1000} {
			s := shifted(in, d)
			inv, err := NewInventory(s.servers, s.opts...)
			if err != nil {
				t.Fatalf("instance %d: NewInventory: %v", i, err)
			}
			jp, err := inv.FindJoint(s.failed, s.scale...)
			if errors.Is(err, ErrInvalid) {
				break // a scale-up that asks for nothing bigger
			}
			if err != nil && !isNoSpare(err) {
				t.Fatalf("instance %d: FindJoint: %v", i, err)
			}
			var got []Plan
			for _, ps := range append([][]Plan{jp.Failures}, jp.Scale...) {
				for _, p := range ps {
					got = append(got, planShape(p))
				}
			}
			if d == 0 {
				want = got
				continue
			}
			if !slices.EqualFunc(got, want, func(a, b Plan) bool { return a.String() == b.String() }) {
				t.Fatalf("instance %d: priorities moved by %d change the plans:\n%v\nwant\n%v\nservers %+v", i, d, got, want, in.servers)
			}
		}
	}
}
