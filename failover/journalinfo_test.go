package failover_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/failover"
)

func TestReadJournalSummarisesAFailover(t *testing.T) {
	s := patentSite(t)
	res := s.fail("srv01", bmc.FaultProcessor)
	if res.Outcome != failover.OutcomeDone {
		t.Fatal(res.Err)
	}
	info, err := s.o.Failover(context.Background(), res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != failover.KindFailover || info.Server != "srv01" || info.Fault.Type != bmc.FaultProcessor ||
		info.Outcome != failover.OutcomeDone || info.Unfinished() || info.Plan == nil || info.Plan.String() != res.Plan.String() {
		t.Fatalf("info %+v", info)
	}
	var steps []string
	for _, st := range info.Steps {
		if st.Result != failover.PhaseDone {
			t.Errorf("step %+v did not end done", st)
		}
		steps = append(steps, st.Step)
	}
	for _, want := range []string{"fence", "reserve", "storage", "zone", "vlan", "boot", "commit"} {
		if !slices.Contains(steps, want) {
			t.Errorf("no %s step in %v", want, steps)
		}
	}
	if info.Ended.Before(info.Started) || info.Ended.IsZero() {
		t.Errorf("started %v, ended %v", info.Started, info.Ended)
	}
	ids, err := s.store.(failover.JournalLister).Failovers(context.Background())
	if err != nil || !slices.Equal(ids, []string{res.ID}) {
		t.Fatalf("Failovers: %v %v", ids, err)
	}
	if _, err := failover.ReadJournal("x", nil); !errors.Is(err, failover.ErrInvalid) {
		t.Errorf("empty journal: %v", err)
	}
}

func TestUnfinishedListsOpenJournals(t *testing.T) {
	s := patentSite(t)
	cs := &crashStore{Store: s.store, budget: 8}
	_ = s.w.FailServer("srv01", bmc.FaultProcessor)
	res, _ := s.newOrchestrator(cs).HandleFault(context.Background(), bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor})
	u, err := s.o.Unfinished(context.Background())
	if err != nil || len(u) != 1 || u[0].ID != res.ID || !u[0].Unfinished() || u[0].Server != "srv01" {
		t.Fatalf("unfinished %+v %v", u, err)
	}
}
