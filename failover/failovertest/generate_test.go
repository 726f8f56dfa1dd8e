package failovertest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
)

// Every world fake.Generate makes, over its whole documented range of
// sizes, must give records and search options that the Orchestrator
// accepts: otherwise every failover in it is refused (or, before the
// intake checked the inventory, fenced and then failed).
func TestGeneratedSitesAreValidOverTheWholeRange(t *testing.T) {
	type size struct {
		n     int
		seeds int
	}
	sizes := []size{{1, 20}, {2, 20}, {3, 20}, {39, 20}, {41, 20}, {100, 20}, {101, 20}, {300, 60}, {1000, 3}, {99999, 1}}
	if testing.Short() {
		sizes = sizes[:9]
	}
	for _, sz := range sizes {
		t.Run(fmt.Sprint(sz.n), func(t *testing.T) {
			for seed := int64(1); seed <= int64(sz.seeds); seed++ {
				w, l, err := fake.Generate(sz.n, seed)
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				recs := failovertest.Records(w)
				opts := failovertest.SearchOptions(w, l)
				if err := failover.ValidateRecords(recs, opts...); err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				if sz.n > 1000 {
					continue // New on a MemStore adds nothing that ValidateRecords did not check
				}
				st := failover.NewMemStore()
				if _, err := st.Put(context.Background(), recs...); err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				if _, err := failover.New(st, failovertest.Drivers(w), failover.WithSearchOptions(opts...)); err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
			}
		})
	}
	if _, _, err := fake.Generate(100000, 1); err == nil {
		t.Fatal("Generate(100000) outside its documented range: no error")
	}
}
