package search

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestJointDeterminism: shuffling the servers, the options, the failures
// and the scale requests never changes any plan (I6), lent compositions,
// scale-in and scale requests included.
func TestJointDeterminism(t *testing.T) {
	n := 1500
	if testing.Short() {
		n = 300
	}
	kn := knobs{maxSpares: 8, maxVictims: 9, maxLent: 7, preempt: 3, scaleIn: 2, pairs: 2}
	rng := rand.New(rand.NewPCG(2026, 17))
	for i := range n {
		in := randInstanceWith(rng, kn)
		// A few different scale requests.
		var actives []ServerID
		for _, s := range in.servers {
			if s.State == Active && s.Priority < 20 {
				actives = append(actives, s.ID)
			}
		}
		scale := append([]ScaleRequest(nil), in.scale...)
		for k, id := range actives {
			if k == 2 {
				break
			}
			scale = append(scale, ScaleRequest{Kind: ScaleOut, Like: id, Count: 1 + k})
		}
		run := func(servers []Server, opts []Option, failed []ServerID, sc []ScaleRequest) (map[ServerID]string, map[string]string, error) {
			inv, err := NewInventory(servers, opts...)
			if err != nil {
				t.Fatal(err)
			}
			jp, err := inv.FindJoint(failed, sc...)
			fp := make(map[ServerID]string)
			for k, p := range jp.Failures {
				fp[failed[k]] = p.String()
			}
			sp := make(map[string]string)
			for k, ps := range jp.Scale {
				sp[scaleKey(&sc[k])] = fmt.Sprint(ps)
			}
			return fp, sp, err
		}
		wantF, wantS, wantErr := run(in.servers, in.opts, in.failed, scale)
		for range 3 {
			s2 := append([]Server(nil), in.servers...)
			rng.Shuffle(len(s2), func(a, b int) { s2[a], s2[b] = s2[b], s2[a] })
			// Each server and workload has at most one policy here, so the
			// options commute.
			o2 := append([]Option(nil), in.opts...)
			rng.Shuffle(len(o2), func(a, b int) { o2[a], o2[b] = o2[b], o2[a] })
			f2 := append([]ServerID(nil), in.failed...)
			rng.Shuffle(len(f2), func(a, b int) { f2[a], f2[b] = f2[b], f2[a] })
			sc2 := append([]ScaleRequest(nil), scale...)
			rng.Shuffle(len(sc2), func(a, b int) { sc2[a], sc2[b] = sc2[b], sc2[a] })
			gotF, gotS, gotErr := run(s2, o2, f2, sc2)
			if (wantErr == nil) != (gotErr == nil) {
				t.Fatalf("instance %d: error %v after shuffling, %v before", i, gotErr, wantErr)
			}
			for id, w := range wantF {
				if gotF[id] != w {
					t.Fatalf("instance %d, %s: %s after shuffling, %s before", i, id, gotF[id], w)
				}
			}
			for k, w := range wantS {
				if gotS[k] != w {
					t.Fatalf("instance %d, %s: %s after shuffling, %s before", i, k, gotS[k], w)
				}
			}
		}
	}
}
