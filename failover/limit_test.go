package failover_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
	"github.com/coldstandby/coldstandby/failover/storetest"
)

// limitedStore is a MemStore whose writes hold at most max entries and
// records together (as etcd's --max-txn-ops limits a transaction), and
// which refuses larger ones as the BatchLimiter contract says.
type limitedStore struct {
	*failover.MemStore
	max    int
	writes atomic.Int64
}

func size(b failover.Batch) int {
	n := len(b.Puts)
	for _, a := range b.Appends {
		n += len(a.Entries)
	}
	return n
}

func (s *limitedStore) Fits(b failover.Batch) bool { return size(b) <= s.max }

func (s *limitedStore) Write(ctx context.Context, b failover.Batch) ([]failover.Record, error) {
	if !s.Fits(b) {
		return nil, fmt.Errorf("limited store: %d items, at most %d: %w", size(b), s.max, failover.ErrInvalid)
	}
	s.writes.Add(1)
	return s.MemStore.Write(ctx, b)
}

// TestWritesKeepTheStoreLimit fails many servers at once on a store with
// a small write limit: the joint reservation is written in parts, a
// failover's results of earlier steps before its intent, and every
// failover still finishes.
func TestWritesKeepTheStoreLimit(t *testing.T) {
	for _, max := range []int{6, 9, 40} {
		t.Run(fmt.Sprint("max=", max), func(t *testing.T) {
			ctx := context.Background()
			clk := fake.NewClock(failovertest.Epoch)
			w, faults := storetest.MassWorld(t, storetest.MassShape{Failures: 30, Fabrics: 3, Switches: 5}, fake.WithClock(clk))
			for _, f := range faults {
				if err := w.FailServer(f.Server, f.Type); err != nil {
					t.Fatal(err)
				}
			}
			st := &limitedStore{MemStore: failover.NewMemStore(), max: max}
			if _, err := st.Put(ctx, failovertest.Records(w)...); err != nil {
				t.Fatal(err)
			}
			o, err := failover.New(st, failovertest.Drivers(w), failover.WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			results, err := o.HandleFaults(ctx, faults...)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range results {
				if r.Outcome != failover.OutcomeDone {
					t.Fatalf("%s: %s: %v", r.Server, r.Outcome, r.Err)
				}
			}
			if u, _ := st.Unfinished(ctx); len(u) != 0 {
				t.Fatalf("unfinished journals: %v", u)
			}
			if err := w.CheckInvariants(nil); err != nil {
				t.Fatal(err)
			}
			// 30 failovers' reservations cannot share one write of 6.
			if n := st.writes.Load(); n < int64(len(faults)) {
				t.Fatalf("%d writes for %d failovers", n, len(faults))
			}
		})
	}
}
