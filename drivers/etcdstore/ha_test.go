package etcdstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/etcdstore"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/storetest"
	"github.com/coldstandby/coldstandby/internal/etcdtest"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// cluster is several managers on one etcd and one fake data centre.
type cluster struct {
	t    *testing.T
	site *storetest.Site
	st   *etcdstore.Store // unfenced, for the test's own reads

	mu  sync.Mutex
	ops []taggedOp
}

type taggedOp struct {
	by string
	op storetest.Op
}

// manager is one management process: a session, a RunLeader loop that
// builds an Orchestrator on the fenced store, runs Recover, and then
// handles the faults the test sends it.
type manager struct {
	name    string
	sess    *concurrency.Session
	elected chan recovered
	faults  chan bmc.Fault
	results chan failover.Result
	done    chan error

	// Before, set by the test, runs before each mutating driver call.
	before atomic.Pointer[func(ctx context.Context, op storetest.Op) error]
	// after, set by the test, runs after each completed mutating call
	// (recorded already), before the Orchestrator sees the result.
	after atomic.Pointer[func(op storetest.Op)]
	// dead: every driver call after this is a bug (the process is gone).
	dead    atomic.Bool
	zombies atomic.Int32
	// lctx is the leadership context of the current term.
	lctx atomic.Pointer[context.Context]
}

type recovered struct {
	results []failover.Result
	err     error
}

func newCluster(t *testing.T, cli *clientv3.Client) *cluster {
	site := storetest.NewSite()
	st := newStore(t, cli)
	if _, err := st.Put(context.Background(), site.Records()...); err != nil {
		t.Fatal(err)
	}
	return &cluster{t: t, site: site, st: st}
}

func (c *cluster) start(ctx context.Context, name string, cli *clientv3.Client, ttl int) *manager {
	c.t.Helper()
	s, err := concurrency.NewSession(cli, concurrency.WithTTL(ttl))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = s.Close() })
	m := &manager{name: name, sess: s, elected: make(chan recovered, 1), faults: make(chan bmc.Fault, 1),
		results: make(chan failover.Result, 1), done: make(chan error, 1)}
	drv := storetest.Wrap(c.site.Drivers(), c.site.Clock, storetest.Hooks{
		Before: func(ctx context.Context, op storetest.Op) error {
			if m.dead.Load() && ctx.Err() == nil {
				// A call with a live context would be sent: a dead or
				// deposed leader acting. (A cancelled one is not sent.)
				c.t.Logf("%s is not the leader and tried %s", name, op)
				m.zombies.Add(1)
				return fmt.Errorf("%s is dead: %s not sent", name, op)
			}
			if f := m.before.Load(); f != nil {
				return (*f)(ctx, op)
			}
			return nil
		},
		After: func(op storetest.Op) {
			c.mu.Lock()
			c.ops = append(c.ops, taggedOp{by: name, op: op})
			c.mu.Unlock()
			if f := m.after.Load(); f != nil {
				(*f)(op)
			}
		},
	})
	go func() {
		m.done <- etcdstore.RunLeader(ctx, s, c.st, name, func(lctx context.Context, leader *etcdstore.Store) error {
			m.lctx.Store(&lctx)
			o, err := failover.New(leader, drv, c.site.Options()...)
			if err != nil {
				return err
			}
			res, err := o.Recover(lctx)
			m.elected <- recovered{res, err}
			for {
				select {
				case <-lctx.Done():
					return nil
				case f := <-m.faults:
					// As documented: faults run under the leadership
					// context, which ends the moment leadership is lost.
					r, _ := o.HandleFault(lctx, f)
					m.results <- r
				}
			}
		})
	}()
	return m
}

func (c *cluster) opsBy(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, o := range c.ops {
		if o.by == name {
			n++
		}
	}
	return n
}

// waitLeader returns the first of ms elected, with its Recover's outcome.
func waitLeader(t *testing.T, ms ...*manager) (*manager, recovered) {
	t.Helper()
	cases := make(chan struct {
		m *manager
		r recovered
	}, len(ms))
	stop := make(chan struct{})
	defer close(stop)
	for _, m := range ms {
		go func() {
			select {
			case r := <-m.elected:
				cases <- struct {
					m *manager
					r recovered
				}{m, r}
			case <-stop:
			}
		}()
	}
	select {
	case x := <-cases:
		return x.m, x.r
	case <-time.After(20 * time.Second):
		t.Fatal("no manager became leader within 20s")
	}
	return nil, recovered{}
}

// checkFailedOver checks that srv01's failover ended safely: the world's
// invariants and the store's (no reservation, nothing unfinished), web
// running from srv01's boot volume on one server.
func (c *cluster) checkFailedOver(ctx context.Context, leader *manager) {
	t := c.t
	t.Helper()
	old, err := c.st.Get(ctx, "srv01")
	if err != nil {
		t.Fatal(err)
	}
	if old.State == search.Active && old.MovedTo == "" {
		// Every HA test kills a leader after its first driver call, so
		// the failover is journaled: Recover must carry it out.
		t.Fatalf("Recover by %s left srv01 active and unreplaced", leader.name)
	}
	if err := c.site.Check(ctx, c.st); err != nil {
		t.Fatal(err)
	}
	c.checkOpLog()
	if old.State != search.Failed || old.MovedTo == "" {
		t.Fatalf("srv01: %s, moved to %q", old.State, old.MovedTo)
	}
	srv, _ := c.site.World.Server(string(old.MovedTo))
	if srv.Power != bmc.PowerOn || srv.BootVolume != "boot-srv01" {
		t.Fatalf("%s: %s, booted %q", old.MovedTo, srv.Power, srv.BootVolume)
	}
}

// checkOpLog checks the driver calls of every manager, in the order they
// completed, for steps applied twice in a harmful way: a volume mapped at
// another LUN than it had, or to a second server while a first still
// held it (the world records the latter as it happens too; this names
// the managers).
func (c *cluster) checkOpLog() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	lun := map[string]int{}
	held := map[string]string{} // volume -> holder
	for _, m := range c.site.Base.Masks {
		k := m.Array + "/" + string(m.Volume)
		lun[k] = m.LUN
		held[k] = m.Holder
	}
	owner := func(in []storage.Initiator) string {
		if len(in) == 0 {
			return ""
		}
		id, _ := c.site.World.ServerOf(in[0])
		return id
	}
	by := map[string]int{}
	for _, t := range c.ops {
		by[t.by]++
		op := t.op
		if op.Driver != "storage" {
			continue
		}
		k := op.Target + "/" + string(op.Volume)
		switch op.Method {
		case "Map":
			if l, ok := lun[k]; ok && l != op.LUN {
				c.t.Errorf("%s mapped %s at LUN %d, it had LUN %d", t.by, k, op.LUN, l)
			}
			if h, who := held[k], owner(op.Initiators); h != "" && h != who {
				c.t.Errorf("%s mapped %s to %s while %s held it", t.by, k, who, h)
			}
			held[k] = owner(op.Initiators)
		case "Unmap":
			if held[k] == owner(op.Initiators) {
				held[k] = ""
			}
		case "SwapInitiators":
			from, to := owner(op.Initiators), owner(op.To)
			for v, h := range held {
				if h == from && strings.HasPrefix(v, op.Target+"/") {
					held[v] = to
				}
			}
		}
	}
	c.t.Logf("driver calls by manager: %v", by)
}

// TestLeaderKilledMidFailover: the leader is killed (its session closed,
// as when the process dies and its lease is revoked or expires) while a
// driver call of the failover is held; another manager takes leadership,
// runs Recover and completes the failover; the dead leader never acts
// again.
func TestLeaderKilledMidFailover(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	for _, killAt := range []int{1, 2, 4, 7, 10} {
		t.Run(fmt.Sprintf("op%d", killAt), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			c := newCluster(t, cli)
			a := c.start(ctx, "a", cli, 10)
			if _, r := waitLeader(t, a); r.err != nil {
				t.Fatal(r.err)
			}
			b := c.start(ctx, "b", cli, 10)
			cm := c.start(ctx, "c", cli, 10)

			held := make(chan storetest.Op, 1)
			release := make(chan struct{})
			var n atomic.Int32
			hold := func(ctx context.Context, op storetest.Op) error {
				if n.Add(1) != int32(killAt) {
					return nil
				}
				held <- op
				<-release
				return errors.New("process killed: call never sent")
			}
			a.before.Store(&hold)
			if err := c.site.World.FailServer("srv01", bmc.FaultProcessor); err != nil {
				t.Fatal(err)
			}
			a.faults <- bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor, Time: c.site.Clock.Now()}
			var op storetest.Op
			select {
			case op = <-held:
			case r := <-a.results:
				t.Fatalf("the failover made fewer than %d driver calls (%s)", killAt, r.Outcome)
			}
			before := c.opsBy("a")
			// Kill a: its lease is revoked, its election key deleted, its
			// leadership context ends. From then on a call with a live
			// context (one that would be sent: rollback under
			// context.WithoutCancel, say) is a dead leader acting.
			_ = a.sess.Close()
			select {
			case <-(*a.lctx.Load()).Done():
			case <-time.After(5 * time.Second):
				t.Fatal("a's leadership context did not end when its session closed")
			}
			a.dead.Store(true)

			next, rec := waitLeader(t, b, cm)
			if rec.err != nil {
				t.Fatalf("%s's Recover: %v", next.name, rec.err)
			}
			for _, r := range rec.results {
				t.Logf("a killed at %s; %s recovered %s: %s", op, next.name, r.ID, r.Outcome)
			}
			// The dead leader's held call returns; it must stop at once.
			close(release)
			select {
			case r := <-a.results:
				if r.Outcome != failover.OutcomeInterrupted || !errors.Is(r.Err, failover.ErrNotLeader) && !errors.Is(r.Err, context.Canceled) {
					t.Fatalf("dead leader's failover: %s: %v; want interrupted by ErrNotLeader or the leadership context", r.Outcome, r.Err)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("the dead leader's failover did not stop")
			}
			if z := a.zombies.Load(); z != 0 {
				t.Fatalf("the dead leader started %d driver calls after it was killed", z)
			}
			t.Logf("a made %d driver calls in all, %d before the held one", c.opsBy("a"), before)
			if err := <-a.done; !errors.Is(err, failover.ErrNotLeader) {
				t.Fatalf("a's RunLeader: %v, want ErrNotLeader", err)
			}
			c.checkFailedOver(ctx, next)
			cancel()
			<-b.done
			<-cm.done
		})
	}
}

// TestNewLeaderKilledDuringRecover: a is killed mid-failover; b leads and
// is killed in the middle of its Recover; c leads, recovers both, and the
// failover ends safely. Neither dead leader acts again.
func TestNewLeaderKilledDuringRecover(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	c := newCluster(t, cli)
	a := c.start(ctx, "a", cli, 10)
	if _, r := waitLeader(t, a); r.err != nil {
		t.Fatal(r.err)
	}
	b := c.start(ctx, "b", cli, 10)

	// holdAt returns a Before hook that holds the n-th call, then fails
	// it (the process is dead by then).
	holdAt := func(n int32, held chan<- storetest.Op, release <-chan struct{}) *func(context.Context, storetest.Op) error {
		var k atomic.Int32
		f := func(ctx context.Context, op storetest.Op) error {
			if k.Add(1) != n {
				return nil
			}
			held <- op
			<-release
			return errors.New("process killed: call never sent")
		}
		return &f
	}
	kill := func(m *manager) {
		_ = m.sess.Close()
		select {
		case <-(*m.lctx.Load()).Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("%s's leadership context did not end when its session closed", m.name)
		}
		m.dead.Store(true)
	}
	heldA, releaseA := make(chan storetest.Op, 1), make(chan struct{})
	heldB, releaseB := make(chan storetest.Op, 1), make(chan struct{})
	a.before.Store(holdAt(6, heldA, releaseA))
	b.before.Store(holdAt(3, heldB, releaseB))
	if err := c.site.World.FailServer("srv01", bmc.FaultProcessor); err != nil {
		t.Fatal(err)
	}
	a.faults <- bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor, Time: c.site.Clock.Now()}
	opA := <-heldA
	kill(a)
	var opB storetest.Op
	select {
	case opB = <-heldB:
	case r := <-b.elected:
		t.Fatalf("b's Recover made fewer than 3 driver calls: %+v", r)
	case <-time.After(20 * time.Second):
		t.Fatal("b did not lead")
	}
	cm := c.start(ctx, "c", cli, 10)
	kill(b)
	next, rec := waitLeader(t, cm)
	if rec.err != nil {
		t.Fatalf("c's Recover: %v", rec.err)
	}
	for _, r := range rec.results {
		t.Logf("a killed at %s, b at %s in its Recover; c recovered %s: %s", opA, opB, r.ID, r.Outcome)
	}
	close(releaseA)
	close(releaseB)
	if r := <-a.results; r.Outcome != failover.OutcomeInterrupted {
		t.Fatalf("a's failover: %s: %v", r.Outcome, r.Err)
	}
	if r := <-b.elected; r.err == nil {
		t.Fatalf("b's Recover succeeded after b was killed: %+v", r.results)
	}
	if za, zb := a.zombies.Load(), b.zombies.Load(); za+zb != 0 {
		t.Fatalf("dead leaders started driver calls after they were killed: a %d, b %d", za, zb)
	}
	c.checkFailedOver(ctx, next)
	cancel()
	<-cm.done
}

// proxy forwards TCP to etcd and can stop forwarding without closing the
// connections: a network partition, as seen by one client.
type proxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	cond   *sync.Cond
	cut    bool
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: target}
	p.cond = sync.NewCond(&p.mu)
	t.Cleanup(func() {
		_ = l.Close()
		p.setCut(false)
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
	})
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				_ = in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go p.pipe(in, out)
			go p.pipe(out, in)
		}
	}()
	return p
}

func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		for p.cut {
			p.cond.Wait()
		}
		p.mu.Unlock()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				_ = dst.Close()
			}
			return
		}
	}
}

func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	p.cut = cut
	p.mu.Unlock()
	p.cond.Broadcast()
}

// TestPartitionedLeaderCannotCommit: the leader's network is cut while a
// step is under way (its driver call done, its journal entry not yet
// written); its lease expires; another manager leads and runs Recover.
// When the network heals, the old leader's next write fails with
// ErrNotLeader and it stops: nothing it does lands in the store or the
// world.
func TestPartitionedLeaderCannotCommit(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	px := newProxy(t, srv.Endpoint[len("http://"):])
	acli, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + px.l.Addr().String()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer acli.Close()

	c := newCluster(t, cli)
	a := c.start(ctx, "a", acli, 2)
	if _, r := waitLeader(t, a); r.err != nil {
		t.Fatal(r.err)
	}
	b := c.start(ctx, "b", cli, 2)

	held := make(chan storetest.Op, 1)
	release := make(chan struct{})
	var n atomic.Int32
	// The 3rd mutating call of a's failover: the call is made (the
	// hardware acts), then a's network goes before it journals Done.
	hold := func(op storetest.Op) {
		if n.Add(1) == 3 {
			px.setCut(true)
			held <- op
			<-release
		}
	}
	a.after.Store(&hold)
	if err := c.site.World.FailServer("srv01", bmc.FaultProcessor); err != nil {
		t.Fatal(err)
	}
	a.faults <- bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor, Time: c.site.Clock.Now()}
	op := <-held
	cut := time.Now()

	next, rec := waitLeader(t, b)
	// b leads: from now on any call a makes with a live context is a
	// deposed leader acting on the hardware.
	a.dead.Store(true)
	if rec.err != nil {
		t.Fatalf("%s's Recover: %v", next.name, rec.err)
	}
	t.Logf("a partitioned during %s; b led %v later and recovered %d failover(s)", op, time.Since(cut).Round(time.Millisecond), len(rec.results))
	storeRev := func() int64 {
		r, err := cli.Get(ctx, c.st.Prefix(), clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		return r.Header.Revision
	}
	before := c.opsBy("a")
	c.checkFailedOver(ctx, next)
	settled := storeRev()

	// Heal the network, then let a go on with its step.
	px.setCut(false)
	close(release)
	select {
	case r := <-a.results:
		if r.Outcome != failover.OutcomeInterrupted || !errors.Is(r.Err, failover.ErrNotLeader) {
			t.Fatalf("partitioned leader's failover: %s: %v; want interrupted by ErrNotLeader", r.Outcome, r.Err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the partitioned leader did not stop")
	}
	if err := <-a.done; !errors.Is(err, failover.ErrNotLeader) {
		t.Fatalf("a's RunLeader: %v, want ErrNotLeader", err)
	}
	// a made no driver call after the one it was in, and wrote nothing:
	// etcd's revision under the prefix did not move.
	if z := a.zombies.Load(); z != 0 {
		t.Fatalf("the partitioned leader started %d driver calls after b took over", z)
	}
	t.Logf("a made %d driver calls in all, %d when b took over", c.opsBy("a"), before)
	if got := storeRev(); got != settled {
		// Only a's writes could have moved it: b is idle.
		t.Fatalf("etcd revision moved from %d to %d after the partitioned leader woke", settled, got)
	}
	if err := c.site.Check(ctx, c.st); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-b.done
}
