package etcdstore_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/coldstandby/coldstandby/drivers/etcdstore"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/storetest"
	"github.com/coldstandby/coldstandby/internal/etcdtest"
	"github.com/coldstandby/coldstandby/search"
)

func newStore(t *testing.T, cli *clientv3.Client) *etcdstore.Store {
	t.Helper()
	st, err := etcdstore.New(cli, etcdtest.Prefix(t))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func session(t *testing.T, cli *clientv3.Client, ttl int) *concurrency.Session {
	t.Helper()
	s, err := concurrency.NewSession(cli, concurrency.WithTTL(ttl))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// elect makes session the leader of st's election and returns the
// fenced store.
func elect(t *testing.T, st *etcdstore.Store, s *concurrency.Session, onLost func()) *etcdstore.Store {
	t.Helper()
	e := concurrency.NewElection(s, st.ElectionPrefix())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Campaign(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	f, err := st.Fenced(s, e, onLost)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestConformance(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	t.Run("Unfenced", func(t *testing.T) {
		storetest.RunHarness(t, storetest.Harness{
			New: func(t *testing.T) failover.Store { return newStore(t, cli) },
			Reopen: func(t *testing.T, old failover.Store) failover.Store {
				// A new process: a new client on the same prefix.
				st, err := etcdstore.New(srv.Client(t), old.(*etcdstore.Store).Prefix())
				if err != nil {
					t.Fatal(err)
				}
				return st
			},
		})
	})
	t.Run("Fenced", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) failover.Store {
			return elect(t, newStore(t, cli), session(t, cli, 10), nil)
		})
	})
}

func TestNewRejectsBadInput(t *testing.T) {
	if _, err := etcdstore.New(nil, "/x/"); !errors.Is(err, failover.ErrInvalid) {
		t.Errorf("nil client: %v", err)
	}
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	for _, p := range []string{"", "/"} {
		if _, err := etcdstore.New(cli, p); !errors.Is(err, failover.ErrInvalid) {
			t.Errorf("prefix %q: %v, want ErrInvalid", p, err)
		}
	}
	st, err := etcdstore.New(cli, "/a/b")
	if err != nil || st.Prefix() != "/a/b/" {
		t.Fatalf("prefix without slash: %v, %v", st, err)
	}
}

// TestDeposedLeaderCannotWrite: once the leader's lease is gone (revoked
// here by an operator; expiry is the same on the server), its writes fail
// with ErrNotLeader, write nothing, and it knows at once.
func TestDeposedLeaderCannotWrite(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx := context.Background()
	st := newStore(t, cli)
	sa := session(t, cli, 10)
	var lost atomic.Int32
	// a won the election with sa, but its store watches another, live
	// session: only the fence compare inside each transaction can tell it
	// lost (a partitioned leader whose keepalives still seem fine).
	e := concurrency.NewElection(sa, st.ElectionPrefix())
	if err := e.Campaign(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	a, err := st.Fenced(session(t, cli, 10), e, func() { lost.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	recs, err := a.Put(ctx, failover.Record{Server: search.Server{ID: "srv01", State: search.Standby}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Append(ctx, "fo-1", failover.Entry{Seq: 1, Phase: failover.PhaseBegin}); err != nil {
		t.Fatal(err)
	}
	if a.Deposed() {
		t.Fatal("a leader with its election key reports Deposed")
	}
	// An operator revokes A's lease (a partitioned leader's lease expires
	// the same way on the server): A's election key is deleted.
	if _, err := cli.Revoke(ctx, sa.Lease()); err != nil {
		t.Fatal(err)
	}

	// B takes over and writes.
	b := elect(t, st, session(t, cli, 10), nil)
	next := recs[0]
	next.Reservation = "fo-b"
	if _, err := b.Put(ctx, next); err != nil {
		t.Fatal(err)
	}
	// A's writes fail, even those whose CAS would have passed.
	stale := recs[0]
	stale.Reservation = "fo-a"
	if _, err := a.Put(ctx, failover.Record{Server: search.Server{ID: "srv02", State: search.Standby}}); !errors.Is(err, failover.ErrNotLeader) {
		t.Fatalf("deposed leader's create: %v, want ErrNotLeader", err)
	}
	if err := a.Append(ctx, "fo-1", failover.Entry{Seq: 2, Phase: failover.PhaseIntent}); !errors.Is(err, failover.ErrNotLeader) {
		t.Fatalf("deposed leader's append: %v, want ErrNotLeader", err)
	}
	if _, err := a.Get(ctx, "srv01"); !errors.Is(err, failover.ErrNotLeader) {
		t.Fatalf("deposed leader's read: %v, want ErrNotLeader", err)
	}
	if !a.Deposed() {
		t.Fatal("Deposed is false after a fenced call failed with ErrNotLeader")
	}
	if n := lost.Load(); n != 1 {
		t.Fatalf("onLost called %d times, want 1", n)
	}
	if _, err := b.Get(ctx, "srv02"); !errors.Is(err, failover.ErrNotFound) {
		t.Fatalf("deposed leader's create landed: %v", err)
	}
	if j, _ := b.Journal(ctx, "fo-1"); len(j) != 1 {
		t.Fatalf("deposed leader's append landed: %d entries", len(j))
	}
	if r, _ := b.Get(ctx, "srv01"); r.Reservation != "fo-b" {
		t.Fatalf("srv01 reservation %q, want fo-b", r.Reservation)
	}
}

// TestRunLeaderHandsOver: one leader at a time; when the leader's
// session ends its context ends at once and the next candidate leads.
func TestRunLeaderHandsOver(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	st := newStore(t, cli)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var mu sync.Mutex
	var leading []string
	elected := make(chan string, 3)
	run := func(name string, s *concurrency.Session) chan error {
		done := make(chan error, 1)
		go func() {
			done <- etcdstore.RunLeader(ctx, s, st, name, func(lctx context.Context, l *etcdstore.Store) error {
				mu.Lock()
				leading = append(leading, name)
				if len(leading) > 1 {
					t.Errorf("two leaders at once: %v", leading)
				}
				mu.Unlock()
				elected <- name
				<-lctx.Done()
				mu.Lock()
				leading = slices.DeleteFunc(leading, func(n string) bool { return n == name })
				mu.Unlock()
				if ctx.Err() != nil {
					return nil // the test is over
				}
				// Leadership lost: the context says why, and the fenced
				// store refuses at once.
				if cause := context.Cause(lctx); !errors.Is(cause, failover.ErrNotLeader) {
					t.Errorf("%s: context ended by %v, want ErrNotLeader", name, cause)
				}
				_, err := l.Put(context.Background(), failover.Record{Server: search.Server{ID: search.ServerID(name), State: search.Standby}})
				if !errors.Is(err, failover.ErrNotLeader) {
					t.Errorf("%s after losing leadership: %v, want ErrNotLeader", name, err)
				}
				return nil
			})
		}()
		return done
	}
	sa := session(t, cli, 5)
	doneA := run("a", sa)
	first := <-elected
	if first != "a" {
		t.Fatalf("first leader %s", first)
	}
	sb := session(t, cli, 5)
	doneB := run("b", sb)
	select {
	case n := <-elected:
		t.Fatalf("%s elected while a leads", n)
	case <-time.After(500 * time.Millisecond):
	}
	// a's session is closed (a crash that revokes its lease, or a clean stop).
	start := time.Now()
	_ = sa.Close()
	if err := <-doneA; !errors.Is(err, failover.ErrNotLeader) {
		t.Fatalf("a's RunLeader: %v, want ErrNotLeader", err)
	}
	if n := <-elected; n != "b" {
		t.Fatalf("second leader %s", n)
	}
	t.Logf("handover took %v", time.Since(start))
	mu.Lock()
	if len(leading) != 1 {
		t.Fatalf("%d leaders at once", len(leading))
	}
	mu.Unlock()
	cancel()
	if err := <-doneB; !errors.Is(err, context.Canceled) && !errors.Is(err, failover.ErrNotLeader) {
		t.Fatalf("b's RunLeader after cancel: %v", err)
	}
}

func BenchmarkFailover(b *testing.B) {
	cli := etcdtest.Start(b).Client(b)
	storetest.BenchmarkFailover(b, func(b *testing.B) failover.Store {
		st, err := etcdstore.New(cli, etcdtest.Prefix(b))
		if err != nil {
			b.Fatal(err)
		}
		return st
	})
}

func BenchmarkReservations(b *testing.B) {
	srv := etcdtest.Start(b)
	cli := srv.Client(b)
	storetest.BenchmarkReservations(b, func(b *testing.B) failover.Store {
		st, err := etcdstore.New(cli, etcdtest.Prefix(b))
		if err != nil {
			b.Fatal(err)
		}
		s, err := concurrency.NewSession(cli)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		e := concurrency.NewElection(s, st.ElectionPrefix())
		if err := e.Campaign(context.Background(), "bench"); err != nil {
			b.Fatal(err)
		}
		f, err := st.Fenced(s, e, nil)
		if err != nil {
			b.Fatal(err)
		}
		return f // as a leader runs: every call fenced
	})
}

// TestWriteCutOffIsOutcomeUnknown: a write whose answer never comes may
// have been applied; the store says so (ErrOutcomeUnknown), never
// ErrTransient, which would promise that nothing was written. A read cut
// off the same way is only the context's error.
func TestWriteCutOffIsOutcomeUnknown(t *testing.T) {
	srv := etcdtest.Start(t)
	px := newProxy(t, srv.Endpoint[len("http://"):])
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + px.l.Addr().String()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	st := newStore(t, cli)
	ctx := context.Background()
	if _, err := st.Put(ctx, failover.Record{Server: search.Server{ID: "srv01", State: search.Standby}}); err != nil {
		t.Fatal(err)
	}
	px.setCut(true)
	defer px.setCut(false)
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		t.Cleanup(cancel)
		return c
	}
	_, err = st.Put(short(), failover.Record{Server: search.Server{ID: "srv02", State: search.Standby}})
	if !errors.Is(err, failover.ErrOutcomeUnknown) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, failover.ErrTransient) {
		t.Fatalf("cut-off Put: %v, want ErrOutcomeUnknown and DeadlineExceeded", err)
	}
	err = st.Append(short(), "fo-1", failover.Entry{Seq: 1, Phase: failover.PhaseBegin})
	if !errors.Is(err, failover.ErrOutcomeUnknown) {
		t.Fatalf("cut-off Append: %v, want ErrOutcomeUnknown", err)
	}
	_, err = st.Get(short(), "srv01")
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, failover.ErrOutcomeUnknown) {
		t.Fatalf("cut-off Get: %v, want DeadlineExceeded only", err)
	}
}

// TestRunLeaderDeposedWithoutWrite: a leader run by RunLeader learns it
// lost its election key from its watch, without making a store call, so
// the Orchestrator's Deposed check before each driver call stops it.
func TestRunLeaderDeposedWithoutWrite(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	st := newStore(t, cli)
	sess := session(t, cli, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	elected := make(chan *etcdstore.Store, 1)
	done := make(chan error, 1)
	go func() {
		done <- etcdstore.RunLeader(ctx, sess, st, "a", func(lctx context.Context, leader *etcdstore.Store) error {
			elected <- leader
			<-lctx.Done()
			return nil
		})
	}()
	var leader *etcdstore.Store
	select {
	case leader = <-elected:
	case <-ctx.Done():
		t.Fatal("not elected")
	}
	if leader.Deposed() {
		t.Fatal("a fresh leader reports Deposed")
	}
	if _, err := cli.Revoke(ctx, sess.Lease()); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !leader.Deposed(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Deposed still false 5 s after the election key was deleted")
		}
	}
	if err := <-done; !errors.Is(err, failover.ErrNotLeader) {
		t.Fatalf("RunLeader: %v, want ErrNotLeader", err)
	}
}
