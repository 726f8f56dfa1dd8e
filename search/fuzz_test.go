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
