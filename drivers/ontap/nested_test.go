package ontap_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/coldstandby/coldstandby/drivers/ontap/ontaptest"
	"github.com/coldstandby/coldstandby/storage"
)

// Nested igroups (ONTAP 9.9.1 and later): a parent igroup's GET lists
// the initiators of the igroups nested in it, but an initiator can only be
// removed from, or added to, the igroup that holds it directly.

// TestSwapInNestedIgroup: the failed server's initiators sit in igroup
// r1-01, nested in the cluster igroup that holds the LUN maps. The swap
// edits r1-01 (the parent follows), and never lets one igroup see both
// servers.
func TestSwapInNestedIgroup(t *testing.T) {
	srv, m := setup(t)
	ctx := context.Background()
	srv.AddLUN("/vol/boot/lun0")
	srv.AddLUN("/vol/data/lun1")
	srv.AddIgroup("r1-01", "fcp", failedWWPNs...)
	srv.AddNestedIgroup("cluster-a", "fcp", "r1-01")
	srv.WatchDisjoint(failedWWPNs, spareWWPNs)
	failed, spare := inits(failedWWPNs...), inits(spareWWPNs...)
	// The cluster igroup holds exactly the failed server's initiators
	// too, through r1-01; Map must pick the igroup that holds them.
	if err := m.Map(ctx, "/vol/boot/lun0", failed, 0); err != nil {
		t.Fatalf("Map with a nested igroup of the same initiators: %v", err)
	}
	mapVia(t, srv, "/vol/data/lun1", "cluster-a", 1)
	if got := visible(srv, failedWWPNs...); got != "[{/vol/boot/lun0 0} {/vol/data/lun1 1}]" {
		t.Fatalf("before the swap the failed server sees %s", got)
	}
	if got, err := m.Mappings(ctx, failed); err != nil || fmt.Sprint(got) != "[{/vol/boot/lun0 0} {/vol/data/lun1 1}]" {
		t.Fatalf("Mappings through the parent igroup: %v, %v", got, err)
	}
	if err := m.SwapInitiators(ctx, failed, spare); err != nil {
		t.Fatalf("swap in a nested igroup: %v", err)
	}
	if got := visible(srv, spareWWPNs...); got != "[{/vol/boot/lun0 0} {/vol/data/lun1 1}]" {
		t.Fatalf("spare sees %s", got)
	}
	if got := srv.Visible(failedWWPNs...); len(got) != 0 {
		t.Fatalf("failed server still sees %v", got)
	}
	if got := srv.IgroupInitiators("r1-01"); !sameNames(got, spareWWPNs) {
		t.Fatalf("r1-01 holds %v", got)
	}
	if got := srv.IgroupInitiators("cluster-a"); len(got) != 0 {
		t.Fatalf("initiators added to the parent igroup directly: %v", got)
	}
	if b := srv.Breaches(); len(b) != 0 {
		t.Fatalf("both servers masked at once: %v", b)
	}
	// And back (a rollback).
	if err := m.SwapInitiators(ctx, spare, failed); err != nil {
		t.Fatalf("swap back: %v", err)
	}
	if got := visible(srv, failedWWPNs...); got != "[{/vol/boot/lun0 0} {/vol/data/lun1 1}]" {
		t.Fatalf("after the swap back the failed server sees %s", got)
	}
}

// TestSwapRefusesCollisionThroughParent: the spare already sees LUN ID 1
// elsewhere; the failed server's LUN 1 comes from the parent igroup. The
// swap must see that collision before it changes anything.
func TestSwapRefusesCollisionThroughParent(t *testing.T) {
	srv, m := setup(t)
	ctx := context.Background()
	srv.AddLUN("/vol/boot/lun0")
	srv.AddLUN("/vol/shared/lun1")
	srv.AddLUN("/vol/spare-own/lun1")
	srv.AddIgroup("r1-01", "fcp", failedWWPNs...)
	srv.AddNestedIgroup("cluster-a", "fcp", "r1-01")
	srv.AddIgroup("r9-spare", "fcp", spareWWPNs...)
	mapVia(t, srv, "/vol/boot/lun0", "r1-01", 0)
	mapVia(t, srv, "/vol/shared/lun1", "cluster-a", 1)
	mapVia(t, srv, "/vol/spare-own/lun1", "r9-spare", 1)
	err := m.SwapInitiators(ctx, inits(failedWWPNs...), inits(spareWWPNs...))
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("got %v, want ErrConflict (LUN ID 1 twice for the spare)", err)
	}
	if got := srv.IgroupInitiators("r1-01"); !sameNames(got, failedWWPNs) {
		t.Fatalf("r1-01 changed to %v", got)
	}
}

// TestUnmapThroughParentWithOtherHosts: a volume the failed server sees
// through a parent igroup that holds another host too cannot be unmapped
// from the failed server alone.
func TestUnmapThroughParentWithOtherHosts(t *testing.T) {
	srv, m := setup(t)
	ctx := context.Background()
	srv.AddLUN("/vol/shared/lun0")
	srv.AddIgroup("r1-01", "fcp", failedWWPNs...)
	srv.AddIgroup("r2-01", "fcp", spareWWPNs...)
	srv.AddNestedIgroup("cluster-a", "fcp", "r1-01", "r2-01")
	mapVia(t, srv, "/vol/shared/lun0", "cluster-a", 0)
	if err := m.Unmap(ctx, "/vol/shared/lun0", inits(failedWWPNs...)); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
	if got := visible(srv, spareWWPNs...); got != "[{/vol/shared/lun0 0}]" {
		t.Fatalf("the other host lost the volume: %s", got)
	}
}

// mapVia maps volume to the igroup named group through the API, as an
// administrator would.
func mapVia(t *testing.T, srv *ontaptest.Server, volume, group string, lun int) {
	t.Helper()
	status, body := call(t, srv, "POST", "/api/protocols/san/lun-maps",
		fmt.Sprintf(`{"svm":{"name":%q},"igroup":{"name":%q},"lun":{"name":%q},"logical_unit_number":%d}`, svm, group, volume, lun))
	if status != 201 {
		t.Fatalf("map %s to %s: %d %s", volume, group, status, body)
	}
}
