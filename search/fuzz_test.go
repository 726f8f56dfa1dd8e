package search_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/coldstandby/coldstandby/search"
)

// decode turns fuzz bytes into servers and options, including invalid ones
// (negative sizes, unknown states and IDs, disagreeing partitions).
func decode(data []byte) ([]search.Server, []search.Option) {
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return int(b)
	}
	n := next() % 24
	var servers []search.Server
	for range n {
		h := search.Hardware{
			CPUModel: fmt.Sprint("m", next()%3), CPUMHz: 2000 + 200*(next()%4) - 3000*boolInt(next()%40 == 0),
			MemoryMiB: 32768 * (next() % 4), Chipset: fmt.Sprint("c", next()%2), NICPorts: next()%3 - boolInt(next()%50 == 0),
			HBAPorts: 2,
		}
		s := search.Server{
			ID: search.ServerID(fmt.Sprint("s", next()%30)), Hardware: h,
			Switch: fmt.Sprint("sw", next()%3), DiskArray: fmt.Sprint("a", next()%2), Zone: fmt.Sprint("z", next()%2),
			VLANs: []int{next() * 20}, State: []search.State{search.Active, search.Standby, search.Failed, search.Reserved, search.Maintenance, "bogus"}[next()%6],
			Workload: fmt.Sprint("w", next()%3), Priority: next()%4 - 1,
		}
		if p := next() % 5; p < 2 {
			s.Partition = search.PartitionID(fmt.Sprint("p", p))
		}
		servers = append(servers, s)
	}
	var opts []search.Option
	for range next() % 6 {
		switch next() % 3 {
		case 0:
			opts = append(opts, search.WithPolicy(search.ServerID(fmt.Sprint("s", next()%32)), search.Policy{
				MinCPUMHz: 200*(next()%20) - 100*boolInt(next()%30 == 0), MinMemoryMiB: 16384 * (next() % 8),
				AnyCPUModel: next()%2 == 0, AllowPartitionMismatch: next()%2 == 0, AnySwitch: next()%2 == 0, Preempt: next()%2 == 0,
			}))
		case 1:
			var ids []search.ServerID
			for range next() % 4 {
				ids = append(ids, search.ServerID(fmt.Sprint("s", next()%32)))
			}
			opts = append(opts, search.WithCombination(ids...))
		case 2:
			opts = append(opts, search.WithWorkloadPolicy(fmt.Sprint("w", next()%3), search.Policy{MinMemoryMiB: 32768, Preempt: true}))
		}
	}
	return servers, opts
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// FuzzInventoryFind: NewInventory, Find, FindAll and Coverage never panic;
// bad input is ErrInvalid, a request is served or ErrNoSpare, and a plan
// has one assignment per member of the failed logical server.
func FuzzInventoryFind(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 2, 1, 0, 4, 1, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 4})
	f.Add([]byte("a fairly long seed that makes many servers with many different attributes and options to go"))
	f.Fuzz(func(t *testing.T, data []byte) {
		servers, opts := decode(data)
		inv, err := search.NewInventory(servers, opts...)
		if err != nil {
			if !errors.Is(err, search.ErrInvalid) || errors.Is(err, search.ErrNoSpare) {
				t.Fatalf("NewInventory: %v", err)
			}
			return
		}
		var failed []search.ServerID
		for _, s := range inv.Servers() {
			p, err := inv.Find(s.ID)
			switch {
			case s.State != search.Active && s.State != search.Failed:
				if !errors.Is(err, search.ErrInvalid) {
					t.Fatalf("Find(%s %s): %v", s.ID, s.State, err)
				}
				continue
			case err != nil && !errors.Is(err, search.ErrNoSpare):
				t.Fatalf("Find(%s): %v", s.ID, err)
			case err == nil && len(p.Assignments) == 0:
				t.Fatalf("Find(%s): empty plan %v", s.ID, p)
			}
			failed = append(failed, s.ID)
		}
		plans, err := inv.FindAll(failed...)
		if err != nil && !errors.Is(err, search.ErrNoSpare) {
			t.Fatalf("FindAll: %v", err)
		}
		if len(plans) != len(failed) {
			t.Fatalf("FindAll: %d plans for %d failures", len(plans), len(failed))
		}
		_ = inv.Coverage()
	})
}

// decodeScale turns the last bytes of data into up to three scale
// requests over the servers (valid and invalid ones).
func decodeScale(data []byte, servers []search.Server) []search.ScaleRequest {
	if len(data) > 12 {
		data = data[len(data)-12:]
	}
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return int(b)
	}
	var out []search.ScaleRequest
	for range next() % 4 {
		r := search.ScaleRequest{Kind: search.ScaleKind(next() % 3), Count: next()%4 - boolInt(next()%20 == 0)}
		if len(servers) > 0 && next()%3 > 0 {
			r.Like = servers[next()%len(servers)].ID
		} else {
			r.Template = []search.Server{{Hardware: search.Hardware{CPUModel: "m0", CPUMHz: 2000 + 200*(next()%4),
				MemoryMiB: 32768 * (next() % 4), Chipset: "c0", NICPorts: next() % 3, HBAPorts: 2},
				Switch: fmt.Sprint("sw", next()%4), DiskArray: "a0", Zone: "z0", VLANs: []int{next() * 20}}}
			r.Priority = next() % 4
		}
		r.MinMemoryMiB = 32768 * (next() % 6)
		if next()%2 == 0 {
			r.Policy = &search.Policy{MinMemoryMiB: 32768 * (next() % 3), Preempt: next()%2 == 0, AnyCPUModel: true, ScaleInMin: next() % 3}
		}
		out = append(out, r)
	}
	return out
}

// FuzzFindJoint: failures and scale requests planned together never panic;
// bad input is ErrInvalid with no plans, otherwise every request has its
// plans (Count of them for a scale-out) and nothing is used twice.
func FuzzFindJoint(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 2, 1, 0, 4, 1, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 4, 2, 1, 2, 0, 1, 0, 0, 0, 0, 2, 1, 0})
	f.Add([]byte("another fairly long seed with servers, options and then a few scale requests at the very end"))
	f.Fuzz(func(t *testing.T, data []byte) {
		servers, opts := decode(data)
		inv, err := search.NewInventory(servers, opts...)
		if err != nil {
			return
		}
		var failed []search.ServerID
		for _, s := range inv.Servers() {
			if s.State == search.Failed {
				failed = append(failed, s.ID)
			}
		}
		scale := decodeScale(data, inv.Servers())
		jp, err := inv.FindJoint(failed, scale...)
		switch {
		case errors.Is(err, search.ErrInvalid):
			if len(jp.Failures) != 0 || len(jp.Scale) != 0 {
				t.Fatalf("plans with ErrInvalid: %+v", jp)
			}
			return
		case err != nil && !errors.Is(err, search.ErrNoSpare):
			t.Fatalf("FindJoint: %v", err)
		}
		if len(jp.Failures) != len(failed) || len(jp.Scale) != len(scale) {
			t.Fatalf("%d/%d failure plans, %d/%d scale plans", len(jp.Failures), len(failed), len(jp.Scale), len(scale))
		}
		used := make(map[search.ServerID]string)
		use := func(id search.ServerID, by string) {
			if prev, ok := used[id]; ok && prev != by {
				t.Fatalf("%s used by %s and %s", id, prev, by)
			}
			used[id] = by
		}
		for i, p := range jp.Failures {
			for _, id := range p.Replacement {
				use(id, p.String())
			}
			if p.Kind != 0 && len(p.Assignments) == 0 {
				t.Fatalf("failure %s: plan without assignments %v", failed[i], p)
			}
		}
		for i, ps := range jp.Scale {
			want := max(scale[i].Count, 1)
			if scale[i].Kind == search.ScaleUp {
				want = 1
			}
			if len(ps) != want {
				t.Fatalf("scale request %d: %d plans, want %d", i, len(ps), want)
			}
			for _, p := range ps {
				for _, id := range p.Replacement {
					use(id, p.String())
				}
			}
		}
	})
}
