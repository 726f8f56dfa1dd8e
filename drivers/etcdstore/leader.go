package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/coldstandby/coldstandby/failover"
)

// RunLeader runs one term of leadership. It campaigns on st's election
// prefix in session (blocking while another instance leads) with value
// naming this instance, and once elected calls onElected with a store
// fenced by this instance's election key (see Fenced) and a context that
// ends as soon as leadership is lost: the session ends (lease expired,
// revoked or closed), the election key is deleted, a fenced call found
// the key gone (ErrNotLeader), or ctx ends. onElected should build the
// Orchestrator on the fenced store, run Recover, then handle faults until
// its context ends. When onElected returns, RunLeader resigns (if it
// still leads) so another instance takes over at once.
//
// It returns onElected's error, wrapped together with failover.ErrNotLeader
// when leadership was lost; ctx's error when ctx ended first; or the
// session's failure while campaigning. A caller that wants to stand again
// makes a new session when the old one is done and calls RunLeader again.
func RunLeader(ctx context.Context, session *concurrency.Session, st *Store, value string, onElected func(ctx context.Context, leader *Store) error) error {
	if session == nil || st == nil || onElected == nil {
		return fmt.Errorf("etcdstore: RunLeader: nil session, store or onElected: %w", failover.ErrInvalid)
	}
	cctx, ccancel := context.WithCancel(ctx)
	defer ccancel()
	go func() {
		select {
		case <-session.Done():
			ccancel()
		case <-cctx.Done():
		}
	}()
	e := concurrency.NewElection(session, st.ElectionPrefix())
	if err := e.Campaign(cctx, value); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("etcdstore: campaign: %w", ctx.Err())
		}
		select {
		case <-session.Done():
			return fmt.Errorf("etcdstore: campaign: session ended: %w", failover.ErrNotLeader)
		default:
		}
		return fmt.Errorf("etcdstore: campaign: %v: %w", err, failover.ErrTransient)
	}

	lctx, lcancel := context.WithCancelCause(ctx)
	defer lcancel(nil)
	lostErr := fmt.Errorf("etcdstore: leadership of %s lost: %w", e.Key(), failover.ErrNotLeader)
	leader, err := st.Fenced(session, e, func() { lcancel(lostErr) })
	if err != nil {
		return err
	}
	// Lose leadership at once when the session ends or the key goes,
	// without waiting for the next store call to find out.
	go func() {
		select {
		case <-session.Done():
			leader.lose()
		case <-lctx.Done():
		}
	}()
	go func() {
		wch := st.cli.Watch(clientv3.WithRequireLeader(lctx), e.Key(), clientv3.WithRev(e.Rev()+1))
		for resp := range wch {
			for _, ev := range resp.Events {
				if ev.Type == clientv3.EventTypeDelete {
					leader.lose()
					return
				}
			}
			if resp.Canceled && lctx.Err() == nil {
				// The watch broke (partition): the fence still protects
				// every call, and the session's keepalive decides.
				return
			}
		}
	}()

	runErr := onElected(lctx, leader)
	lost := leader.deposed()
	lcancel(nil)
	if !lost {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = e.Resign(rctx)
		cancel()
	}
	switch {
	case lost && runErr != nil && !errors.Is(runErr, failover.ErrNotLeader):
		return fmt.Errorf("%w (%w)", lostErr, runErr)
	case lost:
		return lostErr
	case runErr != nil:
		return runErr
	case ctx.Err() != nil:
		return fmt.Errorf("etcdstore: leader: %w", ctx.Err())
	}
	return nil
}
