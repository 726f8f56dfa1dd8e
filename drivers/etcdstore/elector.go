package etcdstore

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/coldstandby/coldstandby/failover"
)

// DefaultLeaseTTL is the lease of an Elector's sessions, in seconds: how
// long a leader that died without resigning keeps the others waiting.
const DefaultLeaseTTL = 10

// Elector runs terms of leadership for managers sharing one Store, each
// term in a new session: it is what a daemon that serves the same store
// with others needs (package daemon's Elector interface), built on
// RunLeader. It is safe for concurrent use.
type Elector struct {
	st   *Store
	name string
	ttl  int
}

// ElectorOption configures NewElector.
type ElectorOption func(*Elector) error

// WithLeaseTTL sets the session lease in seconds (default
// DefaultLeaseTTL). etcd rounds a lease up to its minimum (about 2 s
// with default settings).
func WithLeaseTTL(seconds int) ElectorOption {
	return func(e *Elector) error {
		if seconds < 1 {
			return fmt.Errorf("etcdstore: lease TTL %d s: want >= 1: %w", seconds, failover.ErrInvalid)
		}
		e.ttl = seconds
		return nil
	}
}

// NewElector returns an Elector over st (an unfenced store, from New)
// that campaigns as name (shown by Leader; use the host name). Errors
// wrap failover.ErrInvalid: a nil or fenced store, an empty name, a bad
// option.
func NewElector(st *Store, name string, opts ...ElectorOption) (*Elector, error) {
	if st == nil || st.fence != nil {
		return nil, fmt.Errorf("etcdstore: NewElector: want an unfenced store: %w", failover.ErrInvalid)
	}
	if name == "" {
		return nil, fmt.Errorf("etcdstore: NewElector: empty name: %w", failover.ErrInvalid)
	}
	e := &Elector{st: st, name: name, ttl: DefaultLeaseTTL}
	for _, o := range opts {
		if err := o(e); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Name returns the name this Elector campaigns as.
func (e *Elector) Name() string { return e.name }

// RunTerm runs one term: it opens a session, campaigns (blocking while
// another instance leads) and, once elected, calls lead with the store
// fenced to this term and a context that ends as soon as leadership is
// lost or ctx ends (see RunLeader). When lead returns it resigns and
// closes the session, so that another instance is elected at once. It
// returns lead's error, or an error wrapping failover.ErrNotLeader when
// leadership was lost, ctx's error when ctx ended first, or
// failover.ErrTransient when no session could be opened. Call it again
// for another term.
func (e *Elector) RunTerm(ctx context.Context, lead func(ctx context.Context, st failover.Store) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("etcdstore: term: %w", err)
	}
	// The session's context ends with ctx only while the lease is being
	// granted; after that it outlives ctx until the session is closed,
	// so that Close can revoke the lease (RunLeader resigns first: the
	// next instance is elected at once either way).
	sctx, scancel := context.WithCancel(context.WithoutCancel(ctx))
	defer scancel()
	detach := context.AfterFunc(ctx, scancel)
	sess, err := concurrency.NewSession(e.st.cli, concurrency.WithTTL(e.ttl), concurrency.WithContext(sctx))
	detached := detach()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("etcdstore: term: new session: %w", ctx.Err())
		}
		return fmt.Errorf("etcdstore: term: new session: %v: %w", err, failover.ErrTransient)
	}
	defer sess.Close()
	if !detached {
		return fmt.Errorf("etcdstore: term: %w", ctx.Err())
	}
	return RunLeader(ctx, sess, e.st, e.name, func(lctx context.Context, leader *Store) error {
		return lead(lctx, leader)
	})
}

// Leader returns the name of the instance that leads now, "" when none
// does. It is one etcd read.
func (e *Elector) Leader(ctx context.Context) (string, error) {
	// concurrency.Election keeps its candidates under prefix + "/"; the
	// leader is the oldest.
	resp, err := e.st.cli.Get(ctx, e.st.ElectionPrefix()+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return "", e.st.rpcErr(ctx, "leader", err)
	}
	if len(resp.Kvs) == 0 {
		return "", nil
	}
	return string(resp.Kvs[0].Value), nil
}
