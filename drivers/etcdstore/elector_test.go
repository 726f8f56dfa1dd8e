package etcdstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/drivers/etcdstore"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/storetest"
	"github.com/coldstandby/coldstandby/internal/etcdtest"
	"github.com/coldstandby/coldstandby/search"
)

func TestNewElectorRejectsBadInput(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	st := newStore(t, cli)
	fenced := elect(t, st, session(t, cli, 10), nil)
	for name, c := range map[string]struct {
		st   *etcdstore.Store
		name string
		opts []etcdstore.ElectorOption
	}{
		"nil store":    {nil, "a", nil},
		"fenced store": {fenced, "a", nil},
		"empty name":   {st, "", nil},
		"zero TTL":     {st, "a", []etcdstore.ElectorOption{etcdstore.WithLeaseTTL(0)}},
	} {
		if _, err := etcdstore.NewElector(c.st, c.name, c.opts...); !errors.Is(err, failover.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// term is one RunTerm in the background.
type term struct {
	elected chan failover.Store
	stop    chan struct{}
	done    chan error
}

func runTerm(ctx context.Context, e *etcdstore.Elector) *term {
	tm := &term{elected: make(chan failover.Store, 1), stop: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		tm.done <- e.RunTerm(ctx, func(lctx context.Context, st failover.Store) error {
			tm.elected <- st
			select {
			case <-tm.stop:
				return nil
			case <-lctx.Done():
				return lctx.Err()
			}
		})
	}()
	return tm
}

func leaderIs(t *testing.T, e *etcdstore.Elector, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := e.Leader(ctx)
	if err != nil || got != want {
		t.Fatalf("Leader = %q, %v; want %q", got, err, want)
	}
}

// One instance leads at a time with a fenced store; when its term ends
// it resigns and the other is elected at once; a crashed one (its
// client gone, its lease left to expire) is replaced after the lease.
func TestElectorTermsHandOver(t *testing.T) {
	srv := etcdtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cliA, cliB := srv.Client(t), srv.Client(t)
	prefix := etcdtest.Prefix(t)
	stA, _ := etcdstore.New(cliA, prefix)
	stB, _ := etcdstore.New(cliB, prefix)
	a, err := etcdstore.NewElector(stA, "a", etcdstore.WithLeaseTTL(2))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := etcdstore.NewElector(stB, "b", etcdstore.WithLeaseTTL(2))
	leaderIs(t, b, "")

	ta := runTerm(ctx, a)
	fa := <-ta.elected
	if _, ok := fa.(failover.LeaderChecker); !ok {
		t.Fatal("the term's store is not fenced (no LeaderChecker)")
	}
	if _, err := fa.Put(ctx, storetest.NewSite().Records()[0]); err != nil {
		t.Fatalf("the leader cannot write: %v", err)
	}
	leaderIs(t, b, "a")
	tb := runTerm(ctx, b)
	select {
	case <-tb.elected:
		t.Fatal("b elected while a leads")
	case <-time.After(300 * time.Millisecond):
	}

	// a's term ends: b leads at once, and a's fenced store writes nothing.
	start := time.Now()
	close(ta.stop)
	if err := <-ta.done; err != nil {
		t.Fatalf("a's term: %v", err)
	}
	fb := <-tb.elected
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("b elected %v after a resigned; want at once", d)
	}
	leaderIs(t, a, "b")
	r, _ := fb.Get(ctx, search.ServerID("srv01"))
	if _, err := fa.Put(ctx, r); !errors.Is(err, failover.ErrNotLeader) {
		t.Errorf("a's store after its term: %v, want ErrNotLeader", err)
	}

	// b crashes: its client goes, its lease expires; a new term of a
	// is elected after the lease, and b's term ends as not leader.
	ta = runTerm(ctx, a)
	_ = cliB.Close()
	select {
	case err := <-tb.done:
		if !errors.Is(err, failover.ErrNotLeader) {
			t.Errorf("b's term after its client closed: %v, want ErrNotLeader", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b's term did not end when its client closed")
	}
	select {
	case <-ta.elected:
	case <-time.After(15 * time.Second):
		t.Fatal("a not elected after b's lease expired")
	}
	leaderIs(t, a, "a")
	cancel()
	if err := <-ta.done; !errors.Is(err, context.Canceled) {
		t.Errorf("a's term after ctx ended: %v", err)
	}
}
