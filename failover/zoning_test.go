package failover_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
	"github.com/coldstandby/coldstandby/storage"
)

// overlapZoner wraps one switch's FCZoner and counts calls that break
// the transaction discipline: an edit made while a Commit is under way
// (it would fall into that commit, or be dropped when it fails), or a
// Commit started while edits are under way. Commits are held (hold, real
// time) so that a concurrent session has the chance to break in.
type overlapZoner struct {
	fabric.FCZoner
	hold time.Duration

	mu         sync.Mutex
	editing    int
	committing bool
	overlaps   int
	commits    int
}

func (z *overlapZoner) edit(fn func() error) error {
	z.mu.Lock()
	if z.committing {
		z.overlaps++
	}
	z.editing++
	z.mu.Unlock()
	defer func() {
		z.mu.Lock()
		z.editing--
		z.mu.Unlock()
	}()
	return fn()
}

func (z *overlapZoner) AddMember(ctx context.Context, zone string, w storage.Initiator) error {
	return z.edit(func() error { return z.FCZoner.AddMember(ctx, zone, w) })
}

func (z *overlapZoner) RemoveMember(ctx context.Context, zone string, w storage.Initiator) error {
	return z.edit(func() error { return z.FCZoner.RemoveMember(ctx, zone, w) })
}

func (z *overlapZoner) Commit(ctx context.Context) error {
	z.mu.Lock()
	if z.editing > 0 || z.committing {
		z.overlaps++
	}
	z.committing = true
	z.commits++
	z.mu.Unlock()
	time.Sleep(z.hold)
	err := z.FCZoner.Commit(ctx)
	z.mu.Lock()
	z.committing = false
	z.mu.Unlock()
	return err
}

// TestZoningIsSerialisedPerFCZonerInstance gives two concurrent
// failovers different fabric names that map to the same FCZoner (one
// switch reached under two names): their edits go into transactions on
// that zoner one at a time (an edit must never fall into, or be dropped
// with, a commit it was not verified for), and when they arrive together
// into the same one.
func TestZoningIsSerialisedPerFCZonerInstance(t *testing.T) {
	clk := fake.NewClock(t0)
	w, l := fake.PatentExample(fake.WithClock(clk))
	spec, _ := w.Spec("srv01")
	spec.ID, spec.Workload, spec.Priority = "srv14", "web2", 5
	spec.SwitchPorts = []string{"eth1/42", "eth1/43"}
	spec.Zones = []string{"z-srv14"}
	spec.BootVolumes = []fake.Volume{{ID: "boot-srv14", LUN: 0}}
	spec.Initiators = []storage.Initiator{mustInit("21:00:00:24:ff:00:14:01"), mustInit("21:00:00:24:ff:00:14:02")}
	if err := w.AddServer(spec); err != nil {
		t.Fatal(err)
	}
	addSpare(t, w, "srv13")
	s := newSite(t, w, l, clk)
	real := s.rec("srv01").HBAs[0].Fabric
	// srv01 and srv14 are cabled to "name-a" and "name-b", both the
	// same switch; the spares' fabric is left unnamed.
	for id, name := range map[string]string{"srv01": "name-a", "srv14": "name-b", "srv02": "", "srv13": ""} {
		if err := updateRecord(s, id, func(r *failover.Record) {
			for i := range r.HBAs {
				r.HBAs[i].Fabric = name
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	z := &overlapZoner{FCZoner: w.Zoner(real), hold: 100 * time.Millisecond}
	d := failovertest.Drivers(w)
	d.FCZoners["name-a"], d.FCZoners["name-b"] = z, z
	o, err := failover.New(s.store, d, s.opts...)
	if err != nil {
		t.Fatal(err)
	}
	_ = w.FailServer("srv01", bmc.FaultProcessor)
	_ = w.FailServer("srv14", bmc.FaultProcessor)
	results, err := o.HandleFaults(context.Background(),
		bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor}, bmc.Fault{Server: "srv14", Type: bmc.FaultProcessor})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Outcome != failover.OutcomeDone {
			t.Fatalf("%s: %s %v", r.Server, r.Outcome, r.Err)
		}
	}
	if z.overlaps > 0 {
		t.Errorf("%d zoner call(s) broke a transaction on the same FCZoner", z.overlaps)
	}
	if z.commits > 2 {
		t.Errorf("%d commits for two failovers' zoning", z.commits)
	}
	s.checkWorld()
}
