package failover_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

// scaleSite is an Orchestrator without drivers (PlanScale calls none:
// it is built on the empty store, which New accepts) over a small site:
// two web servers, a failed database and standby servers of two sizes.
func scaleSite(t *testing.T) (*failover.Orchestrator, *failover.MemStore) {
	t.Helper()
	small := search.Hardware{CPUModel: "X1", CPUMHz: 2400, MemoryMiB: 65536, Chipset: "C1", NICPorts: 4, HBAPorts: 2}
	big := small
	big.MemoryMiB = 131072
	rec := func(id string, hw search.Hardware, st search.State, work string, prio int) failover.Record {
		return failover.Record{Server: search.Server{ID: search.ServerID(id), Hardware: hw, Switch: "sw1",
			DiskArray: "vsp1", Zone: "z-" + id, VLANs: []int{10}, State: st, Workload: work, Priority: prio}}
	}
	st := failover.NewMemStore()
	o, err := failover.New(st, failover.Drivers{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Put(context.Background(),
		rec("web-1", small, search.Active, "web", 50),
		rec("web-2", small, search.Active, "web", 50),
		rec("db-1", small, search.Failed, "db", 90),
		rec("s-1", small, search.Standby, "", 0),
		rec("s-2", small, search.Standby, "", 0),
		rec("s-3", big, search.Standby, "", 0),
	)
	if err != nil {
		t.Fatal(err)
	}
	return o, st
}

func TestPlanScale(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		failed []search.ServerID
		reqs   []search.ScaleRequest
		want   []string // failures' plans, then every scale plan
		err    error
	}{
		{name: "scale out like a running server",
			reqs: []search.ScaleRequest{{Kind: search.ScaleOut, Like: "web-1", Count: 2}},
			want: []string{"scale-out exact: new s-1", "scale-out exact: new s-2"}},
		{name: "scale up to a bigger server",
			reqs: []search.ScaleRequest{{Kind: search.ScaleUp, Like: "web-2", MinMemoryMiB: 131072}},
			want: []string{"scale-up exact: web-2 -> s-3"}},
		{name: "failures first",
			failed: []search.ServerID{"db-1"},
			reqs:   []search.ScaleRequest{{Kind: search.ScaleOut, Like: "web-1", Count: 2}},
			want: []string{"exact: db-1 -> s-1", "scale-out exact: new s-2",
				"none: 0/6 servers: 3 not standby, 2 taken by another request, 1 memory 131072 != 65536"},
			err: failover.ErrNoSpare},
		{name: "a bad request is invalid",
			reqs: []search.ScaleRequest{{Kind: search.ScaleUp, Like: "web-2", MinMemoryMiB: 1024}},
			err:  failover.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, st := scaleSite(t)
			before, _ := st.List(ctx)
			jp, err := o.PlanScale(ctx, tc.failed, tc.reqs...)
			if tc.err != nil && !errors.Is(err, tc.err) || tc.err == nil && err != nil {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.err == failover.ErrInvalid {
				// Translated at the boundary: the shared kind, the
				// search package's too, and its text said once.
				if !errors.Is(err, search.ErrInvalid) || strings.Count(err.Error(), "invalid argument") != 1 {
					t.Fatalf("err = %v, want failover.ErrInvalid and search.ErrInvalid, said once", err)
				}
				return
			}
			var got []string
			for _, p := range jp.Failures {
				got = append(got, p.String())
			}
			for _, ps := range jp.Scale {
				for _, p := range ps {
					got = append(got, p.String())
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
			after, _ := st.List(ctx)
			if fmt.Sprint(before) != fmt.Sprint(after) {
				t.Fatal("the store changed")
			}
		})
	}
}
