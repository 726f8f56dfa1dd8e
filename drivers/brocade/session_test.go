package brocade_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/drivers/brocade"
	"github.com/coldstandby/coldstandby/drivers/brocade/brocadetest"
	"github.com/coldstandby/coldstandby/fabric"
)

// A caller that changes zoning and then never commits nor closes (a
// rollback path that forgot, a stuck goroutine) must not hold one of the
// switch's few sessions and its zoning lock for good.
func TestIdleTransactionIsAbortedAndReported(t *testing.T) {
	srv := newSwitch(t)
	z := newZoner(t, srv, brocade.WithIdleAbort(50*time.Millisecond))
	ctx := context.Background()
	w := freshWWPNs(1)[0]
	if err := z.AddMember(ctx, "z_host1_a", w); err != nil {
		t.Fatal(err)
	}
	wantSessions(t, srv, 1)
	deadline := time.Now().Add(5 * time.Second)
	for {
		live, _, _ := srv.Sessions()
		if live == 0 && !srv.TransactionOpen(brocadetest.DefaultVFID) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the idle timeout: %d live sessions, transaction open %v", live, srv.TransactionOpen(brocadetest.DefaultVFID))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The aborted change is gone, and Commit says so instead of nil.
	if got, err := z.Zones(ctx, w); err != nil || len(got) != 0 {
		t.Fatalf("zones of %s after the abort: %v, %v", w, got, err)
	}
	if err := z.Commit(ctx); !errors.Is(err, fabric.ErrConflict) {
		t.Fatalf("Commit after an idle abort: %v, want ErrConflict", err)
	}
	// Reported once: applied again, the change commits.
	if err := z.AddMember(ctx, "z_host1_a", w); err != nil {
		t.Fatal(err)
	}
	if err := z.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := srv.ActiveZones(brocadetest.DefaultVFID, w.String()); fmt.Sprint(got) != "[z_host1_a]" {
		t.Fatalf("active after the second Commit: %v", got)
	}
	wantSessions(t, srv, 0)
}

// Changes keep their transaction while the caller keeps working: each
// change restarts the idle timer.
func TestIdleTimerRestartsOnEveryChange(t *testing.T) {
	srv := newSwitch(t)
	z := newZoner(t, srv, brocade.WithIdleAbort(time.Second))
	ctx := context.Background()
	ws := freshWWPNs(5) // 5 x 250 ms outlasts the 1 s timeout only if each change restarts it
	for _, w := range ws {
		if err := z.AddMember(ctx, "z_host1_a", w); err != nil {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err := z.Commit(ctx); err != nil {
		t.Fatalf("Commit within the idle timeout of the last change: %v", err)
	}
	for _, w := range ws {
		if got := srv.ActiveZones(brocadetest.DefaultVFID, w.String()); fmt.Sprint(got) != "[z_host1_a]" {
			t.Fatalf("active zones of %s: %v", w, got)
		}
	}
}

// When the switch ends the session that holds uncommitted changes, a
// later change goes into a new transaction; committing that one alone
// would silently drop the first change. Commit must refuse instead.
func TestExpiredSessionLosesNoChangeSilently(t *testing.T) {
	srv := newSwitch(t)
	z := newZoner(t, srv)
	ctx := context.Background()
	ws := freshWWPNs(2)
	if err := z.AddMember(ctx, "z_host1_a", ws[0]); err != nil {
		t.Fatal(err)
	}
	srv.ExpireSessions()
	if err := z.AddMember(ctx, "z_host1_a", ws[1]); err == nil {
		t.Log("the change after expiry succeeded at once")
	} else if err := z.AddMember(ctx, "z_host1_a", ws[1]); err != nil {
		t.Fatal(err)
	}
	if err := z.Commit(ctx); !errors.Is(err, fabric.ErrConflict) {
		t.Fatalf("Commit after a lost transaction: %v, want ErrConflict", err)
	}
	for _, w := range ws {
		if got := srv.ActiveZones(brocadetest.DefaultVFID, w.String()); len(got) != 0 {
			t.Fatalf("%s active in %v after a refused commit: half-applied", w, got)
		}
	}
	if srv.TransactionOpen(brocadetest.DefaultVFID) {
		t.Fatal("transaction left open")
	}
	wantSessions(t, srv, 0)
	// Nothing pending any more: Commit is a no-op again.
	if err := z.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// Close ends the transaction and the session, and the Zoner stays usable.
func TestCloseAbortsAndLogsOut(t *testing.T) {
	srv := newSwitch(t)
	z := newZoner(t, srv)
	ctx := context.Background()
	w := freshWWPNs(1)[0]
	if err := z.AddMember(ctx, "z_host1_a", w); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(ctx); err != nil {
		t.Fatal(err)
	}
	wantSessions(t, srv, 0)
	if srv.TransactionOpen(brocadetest.DefaultVFID) {
		t.Fatal("transaction left open by Close")
	}
	if got, err := z.Zones(ctx, w); err != nil || len(got) != 0 {
		t.Fatalf("zones after Close: %v, %v", got, err)
	}
	if err := z.Commit(ctx); err != nil {
		t.Fatalf("Commit after Close: %v", err)
	}
	if got := srv.ActiveZones(brocadetest.DefaultVFID, w.String()); len(got) != 0 {
		t.Fatalf("aborted change active: %v", got)
	}
}
