package search

import (
	"strings"
	"testing"
)

// BenchmarkColdFind is exact Find over 50,000 distinct failures of a
// 100,000-server matrix cell: the working set does not fit in the caches,
// so it counts the cache misses a Find takes (the matrix's Find reuses
// 1,000 failures, which partly stay cached):
//
//	go test ./search -run XXX -bench ColdFind -search.matrix=S10/C4/zone-unique/V1/2-node
func BenchmarkColdFind(b *testing.B) {
	if *matrixFlag == "" {
		b.Skip("name cells with -search.matrix")
	}
	for _, sh := range matrixShapes() {
		if *matrixFlag != "all" && !strings.Contains(sh.String(), *matrixFlag) {
			continue
		}
		servers, opts, ok := genShape(sh, 100000, 1)
		if !ok {
			continue
		}
		inv := mustInventory(b, servers, opts)
		ids := exactIDs(inv, 50000, 2)
		b.Run(strings.ReplaceAll(sh.String(), "/", "_"), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				inv.Find(ids[i%len(ids)])
			}
		})
	}
}
