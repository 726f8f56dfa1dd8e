package search

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("search.update-golden", false, "rewrite testdata/plans.golden with the plans of this code")

// goldenServers and goldenFailures size the golden rounds: every matrix
// shape that fits, small enough for the default test run.
const (
	goldenServers  = 5000
	goldenFailures = 300
)

// TestPlansGolden: the FindAll plans of every matrix shape (at
// goldenServers servers, goldenFailures failures) hash to the values in
// testdata/plans.golden. The ranking leaves some ties between plans of
// equal objective to the order the search queues equal-cost entries, so a
// change to the streams' bounds or the queue can change a plan without
// failing any other test; a change meant to be only faster must keep
// every hash. When plans are meant to change (a ranking or tie rule), run
// with -search.update-golden and say in the commit which rule moved them.
// Under the race detector (eight times slower here) it checks one shape
// in four.
func TestPlansGolden(t *testing.T) {
	path := filepath.Join("testdata", "plans.golden")
	if *updateGolden && raceEnabled {
		t.Fatal("-search.update-golden needs every shape: run it without -race")
	}
	var got []string
	checked := map[string]bool{}
	for i, sh := range matrixShapes() {
		if raceEnabled && i%4 != 0 {
			continue
		}
		checked[sh.String()] = true
		servers, opts, ok := genShape(sh, goldenServers, 1)
		if !ok {
			continue
		}
		inv, err := NewInventory(servers, opts...)
		if err != nil {
			t.Fatal(err)
		}
		failed := exactIDs(inv, goldenFailures, 3)
		invF, err := NewInventory(withFailed(servers, failed), opts...)
		if err != nil {
			t.Fatal(err)
		}
		plans, err := invF.FindAll(failed...)
		b, jerr := json.Marshal(plans)
		if jerr != nil {
			t.Fatal(jerr)
		}
		h := fnv.New64a()
		h.Write(b)
		if err != nil {
			h.Write([]byte(err.Error()))
		}
		got = append(got, fmt.Sprintf("%s %016x", sh, h.Sum64()))
	}
	if len(got) < len(checked)/2 {
		t.Fatalf("only %d of %d shapes fit in %d servers", len(got), len(checked), goldenServers)
	}
	if *updateGolden {
		if err := os.WriteFile(path, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run with -search.update-golden to write it)", err)
	}
	defer f.Close()
	var want []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && checked[f[0]] {
			want = append(want, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if slices.Equal(got, want) {
		return
	}
	wantSet := make(map[string]bool, len(want))
	for _, w := range want {
		wantSet[w] = true
	}
	var moved []string
	for _, g := range got {
		if !wantSet[g] {
			moved = append(moved, strings.Fields(g)[0])
		}
	}
	t.Fatalf("the plans of %d of %d shapes changed (%d golden lines checked): %v\nIf that is meant (a ranking or tie rule), rerun with -search.update-golden and say why in the commit.", len(moved), len(got), len(want), moved)
}
