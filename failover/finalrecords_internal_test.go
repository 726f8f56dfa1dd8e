package failover

import (
	"slices"
	"testing"

	"github.com/coldstandby/coldstandby/search"
)

// A stopped victim taken into a composed replacement as a node that
// receives no disks (a node-count mismatch) still has its parked volumes
// recorded: they are masked to nobody, and its record is the only place
// that says what to map back.
func TestFinalRecordsKeepParkedVolumesOfEveryVictim(t *testing.T) {
	o, err := New(NewMemStore(), Drivers{})
	if err != nil {
		t.Fatal(err)
	}
	pv := ParkedVolume{Array: "a1", Volume: "boot-v2", LUN: 3}
	r := &run{o: o, id: "f1", h: header{Kind: kindFailover, Server: "f"},
		parked: map[search.ServerID][]ParkedVolume{"v2": {pv}}}
	rec := func(id search.ServerID, st search.State, wl string) Record {
		return Record{Server: search.Server{ID: id, State: st, Workload: wl}, Reservation: "f1"}
	}
	recs := map[search.ServerID]Record{
		"f":  {Server: search.Server{ID: "f", State: search.Failed, Workload: "db", Priority: 9}},
		"s1": rec("s1", search.Reserved, ""),
		"v2": rec("v2", search.Active, "batch"),
	}
	plan := search.Plan{Kind: search.Recomposed, Compose: true,
		Assignments: []search.Assignment{{Failed: "f", Spare: "s1"}},
		Replacement: []search.ServerID{"s1", "v2"},
		Preemptions: []search.Preemption{{Victim: "v2", Workload: "batch", Priority: 1}}}
	final, err := r.finalRecords(plan, recs)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(final, func(x Record) bool { return x.ID == "v2" })
	if i < 0 {
		t.Fatal("no final record for v2")
	}
	v2 := final[i]
	if !slices.Equal(v2.Parked, []ParkedVolume{pv}) || v2.Workload != "db" || v2.Reservation != "" {
		t.Errorf("v2 %+v", v2)
	}
}
