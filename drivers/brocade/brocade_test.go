package brocade_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/drivers/brocade"
	"github.com/coldstandby/coldstandby/drivers/brocade/brocadetest"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/fabric/fabrictest"
	"github.com/coldstandby/coldstandby/storage"
)

// Targets of the fixture zones: array ports, in the spelling FOS uses.
const (
	targetA = "50:0a:09:81:00:00:00:01"
	targetB = "50:0a:09:82:00:00:00:02"
)

var wwpnSeq atomic.Int64

func freshWWPNs(n int) []storage.Initiator {
	out := make([]storage.Initiator, n)
	for i := range out {
		out[i] = storage.MustParseInitiator(fmt.Sprintf("10:00:00:00:c9:%02x:%02x:%02x", 0x10, i, wwpnSeq.Add(1)%256))
	}
	return out
}

func newSwitch(t testing.TB) *brocadetest.Server {
	srv := brocadetest.New(t)
	srv.Setup(brocadetest.DefaultVFID, "cfg_prod", map[string][]string{
		"z_host1_a": {targetA},
		"z_host2_b": {targetB, "10:00:00:00:c9:aa:bb:cc"},
	})
	return srv
}

func newZoner(t testing.TB, srv *brocadetest.Server, opts ...brocade.Option) *brocade.Zoner {
	t.Helper()
	z, err := brocade.New(srv.URL, srv.User, srv.Password, append([]brocade.Option{brocade.WithHTTPClient(srv.Client())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = z.Close(context.Background()) })
	return z
}

type harness struct{ srv *brocadetest.Server }

var (
	_ fabrictest.ZonerHarness    = (*harness)(nil)
	_ fabrictest.CommitFailer    = (*harness)(nil)
	_ fabrictest.TransientFailer = (*harness)(nil)
	_ fabrictest.Staller         = (*harness)(nil)
)

func (h *harness) MakeZoner(context.Context) (fabric.FCZoner, error) {
	return brocade.New(h.srv.URL, h.srv.User, h.srv.Password, brocade.WithHTTPClient(h.srv.Client()))
}

func (h *harness) ZoneFixture(_ context.Context, n int) ([2]string, []storage.Initiator, error) {
	return [2]string{"z_host1_a", "z_host2_b"}, freshWWPNs(n), nil
}

func (h *harness) ActiveZones(_ context.Context, w storage.Initiator) ([]string, error) {
	return h.srv.ActiveZones(brocadetest.DefaultVFID, w.String()), nil
}

func (h *harness) FailNextCommit(context.Context) error {
	h.srv.FailNextCommit(brocadetest.DefaultVFID)
	return nil
}

func (h *harness) StallNext(_ context.Context, d time.Duration) error {
	h.srv.StallNext(d)
	return nil
}

func (h *harness) FailNext(context.Context) error {
	h.srv.FailNext(http.StatusServiceUnavailable)
	return nil
}

func TestConformance(t *testing.T) {
	fabrictest.RunZoner(t, func(t *testing.T) fabrictest.ZonerHarness {
		return &harness{srv: newSwitch(t)}
	})
}

func wantSessions(t *testing.T, srv *brocadetest.Server, live int) {
	t.Helper()
	if got, logins, logouts := srv.Sessions(); got != live {
		t.Fatalf("%d live sessions (%d logins, %d logouts), want %d", got, logins, logouts, live)
	}
}

func TestSessionsAreReleased(t *testing.T) {
	srv := newSwitch(t)
	z := newZoner(t, srv)
	ctx := context.Background()
	w := freshWWPNs(1)[0]
	if _, err := z.Zones(ctx, w); err != nil {
		t.Fatal(err)
	}
	wantSessions(t, srv, 0)
	if err := z.AddMember(ctx, "no_such_zone", w); !errors.Is(err, fabric.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	wantSessions(t, srv, 0)
	if err := z.AddMember(ctx, "z_host1_a", w); err != nil {
		t.Fatal(err)
	}
	wantSessions(t, srv, 1) // the session holds the transaction
	if err := z.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wantSessions(t, srv, 0)
	// A caller cancelled before anything was sent logs nothing in.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := z.Zones(cctx, w); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if _, logins, _ := srv.Sessions(); logins != 3 {
		t.Fatalf("%d logins, want 3", logins)
	}
}

func TestCommitChangesChecksumAndActivates(t *testing.T) {
	srv := newSwitch(t)
	z := newZoner(t, srv)
	ctx := context.Background()
	w := freshWWPNs(1)[0]
	before := srv.Checksum(brocadetest.DefaultVFID)
	if err := z.AddMember(ctx, "z_host1_a", w); err != nil {
		t.Fatal(err)
	}
	if got := srv.ActiveZones(brocadetest.DefaultVFID, w.String()); len(got) != 0 {
		t.Fatalf("active before Commit: %v", got)
	}
	if err := z.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if srv.Checksum(brocadetest.DefaultVFID) == before {
		t.Fatal("checksum unchanged by the commit")
	}
	if got := srv.ActiveZones(brocadetest.DefaultVFID, w.String()); fmt.Sprint(got) != "[z_host1_a]" {
		t.Fatalf("active after Commit: %v", got)
	}
	if got := srv.DefinedMembers(brocadetest.DefaultVFID, "z_host1_a"); len(got) != 2 {
		t.Fatalf("saved defined members %v", got)
	}
}

func TestOutstandingTransactionOfAnotherSession(t *testing.T) {
	srv := newSwitch(t)
	a, b := newZoner(t, srv), newZoner(t, srv)
	ctx := context.Background()
	w := freshWWPNs(2)
	if err := a.AddMember(ctx, "z_host1_a", w[0]); err != nil {
		t.Fatal(err)
	}
	err := b.AddMember(ctx, "z_host2_b", w[1])
	if !errors.Is(err, fabric.ErrConflict) {
		t.Fatalf("second session: got %v, want ErrConflict", err)
	}
	wantSessions(t, srv, 1) // b logged out again
	// b does not see a's uncommitted change; a does.
	if got, _ := b.Zones(ctx, w[0]); len(got) != 0 {
		t.Fatalf("another session sees uncommitted %v", got)
	}
	if got, _ := a.Zones(ctx, w[0]); fmt.Sprint(got) != "[z_host1_a]" {
		t.Fatalf("own session sees %v", got)
	}
	if err := a.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.AddMember(ctx, "z_host2_b", w[1]); err != nil {
		t.Fatalf("after a's commit: %v", err)
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := srv.ActiveZones(brocadetest.DefaultVFID, w[1].String()); fmt.Sprint(got) != "[z_host2_b]" {
		t.Fatalf("active: %v", got)
	}

	// A transaction held outside (a CLI user) blocks a commit too.
	release := srv.HoldTransaction(brocadetest.DefaultVFID)
	defer release()
	if err := a.RemoveMember(ctx, "z_host1_a", w[0]); !errors.Is(err, fabric.ErrConflict) {
		t.Fatalf("with a CLI transaction open: got %v, want ErrConflict", err)
	}
}

func TestStaleChecksumAborts(t *testing.T) {
	srv := newSwitch(t)
	z := newZoner(t, srv)
	ctx := context.Background()
	w := freshWWPNs(1)[0]
	if err := z.AddMember(ctx, "z_host1_a", w); err != nil {
		t.Fatal(err)
	}
	srv.FailNextCommit(brocadetest.DefaultVFID)
	err := z.Commit(ctx)
	if !errors.Is(err, fabric.ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
	if srv.TransactionOpen(brocadetest.DefaultVFID) {
		t.Fatal("transaction left open after a failed commit")
	}
	wantSessions(t, srv, 0)
	if got, _ := z.Zones(ctx, w); len(got) != 0 {
		t.Fatalf("aborted change still defined: %v", got)
	}
}

func TestSessionLimit(t *testing.T) {
	srv := newSwitch(t)
	srv.SetMaxSessions(1)
	a, b := newZoner(t, srv), newZoner(t, srv)
	ctx := context.Background()
	w := freshWWPNs(1)[0]
	if err := a.AddMember(ctx, "z_host1_a", w); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Zones(ctx, w); !errors.Is(err, fabric.ErrTransient) {
		t.Fatalf("no session left: got %v, want ErrTransient", err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if srv.TransactionOpen(brocadetest.DefaultVFID) {
		t.Fatal("Close left the transaction open")
	}
	if got, err := b.Zones(ctx, w); err != nil || len(got) != 0 {
		t.Fatalf("after Close: %v, %v", got, err)
	}
}

func TestVirtualFabric(t *testing.T) {
	srv := newSwitch(t)
	srv.AddFabric(7)
	srv.Setup(7, "cfg_vf7", map[string][]string{"z_vf7": {targetA}})
	z := newZoner(t, srv, brocade.WithVFID(7))
	ctx := context.Background()
	w := freshWWPNs(1)[0]
	if err := z.AddMember(ctx, "z_host1_a", w); !errors.Is(err, fabric.ErrNotFound) {
		t.Fatalf("zone of another fabric: got %v, want ErrNotFound", err)
	}
	if err := z.AddMember(ctx, "z_vf7", w); err != nil {
		t.Fatal(err)
	}
	if err := z.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := srv.ActiveZones(7, w.String()); fmt.Sprint(got) != "[z_vf7]" {
		t.Fatalf("fabric 7: %v", got)
	}
	if got := srv.ActiveZones(brocadetest.DefaultVFID, w.String()); len(got) != 0 {
		t.Fatalf("default fabric changed: %v", got)
	}
	bad := newZoner(t, srv, brocade.WithVFID(9))
	if _, err := bad.Zones(ctx, w); err == nil {
		t.Fatal("unknown vf-id: no error")
	}
	if _, err := brocade.New(srv.URL, "u", "p", brocade.WithVFID(0)); !errors.Is(err, fabric.ErrInvalid) {
		t.Fatalf("vf-id 0: %v", err)
	}
}

func TestLastMemberAndCredentials(t *testing.T) {
	srv := newSwitch(t)
	z := newZoner(t, srv)
	ctx := context.Background()
	if err := z.RemoveMember(ctx, "z_host1_a", storage.MustParseInitiator(targetA)); !errors.Is(err, fabric.ErrConflict) {
		t.Fatalf("removing the last member: got %v, want ErrConflict", err)
	}
	bad, err := brocade.New(srv.URL, srv.User, "wrong", brocade.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Zones(ctx, freshWWPNs(1)[0]); !errors.Is(err, fabric.ErrUnsupported) {
		t.Fatalf("wrong password: got %v, want ErrUnsupported", err)
	}
	strict, err := brocade.New(srv.URL, srv.User, srv.Password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strict.Zones(ctx, freshWWPNs(1)[0]); err == nil {
		t.Fatal("self-signed certificate accepted by the default client")
	}
	wantSessions(t, srv, 0)
}

// TestCancelledLoginDoesNotLeakSession: the switch is slow to answer the
// login and the caller gives up; the session the switch opened anyway is
// logged out once its answer arrives.
func TestCancelledLoginDoesNotLeakSession(t *testing.T) {
	srv := newSwitch(t)
	z := newZoner(t, srv)
	srv.StallNext(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := z.Zones(ctx, freshWWPNs(1)[0])
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 250*time.Millisecond {
		t.Fatalf("got %v after %v, want a prompt DeadlineExceeded", err, time.Since(start))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		live, logins, logouts := srv.Sessions()
		if logins == 1 && live == 0 && logouts == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("session leaked: %d live, %d logins, %d logouts", live, logins, logouts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
