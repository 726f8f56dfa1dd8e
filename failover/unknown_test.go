package failover_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/failover"
)

// unknownStore answers its n-th write (Put or Append, counted from 0)
// with ErrOutcomeUnknown, as an etcd client does when a request's answer
// is lost: with applied the write took effect, without it it did not.
type unknownStore struct {
	failover.Store
	applied bool
	mu      sync.Mutex
	n       int
	hit     string // "put" or "append" once the n-th write came
}

func (u *unknownStore) lose(kind string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.n--
	if u.n == -1 {
		u.hit = kind
		return true
	}
	return false
}

func (u *unknownStore) Put(ctx context.Context, recs ...failover.Record) ([]failover.Record, error) {
	if !u.lose("put") {
		return u.Store.Put(ctx, recs...)
	}
	if u.applied {
		if _, err := u.Store.Put(ctx, recs...); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("etcd: put: context deadline exceeded: %w", failover.ErrOutcomeUnknown)
}

func (u *unknownStore) Append(ctx context.Context, id string, e failover.Entry) error {
	if !u.lose("append") {
		return u.Store.Append(ctx, id, e)
	}
	if u.applied {
		if err := u.Store.Append(ctx, id, e); err != nil {
			return err
		}
	}
	return fmt.Errorf("etcd: append: connection reset: %w", failover.ErrOutcomeUnknown)
}

// TestStoreOutcomeUnknownAtEveryWrite makes each store write in turn
// answer ErrOutcomeUnknown, once having taken effect and once not: the
// failover must end safely (done, or interrupted and then finished by
// Recover), with the workload on a spare and I1-I4 holding. One lost
// answer is resolved by reading back (Get, Journal), so the failover is
// done without needing Recover.
func TestStoreOutcomeUnknownAtEveryWrite(t *testing.T) {
	for _, sc := range []struct{ name, server string }{
		{"exact", "srv01"},
		{"preempt", "srv06"},
	} {
		for _, applied := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/applied=%v", sc.name, applied), func(t *testing.T) {
				for n := 0; ; n++ {
					ctx := context.Background()
					s := patentSite(t)
					workload := s.rec(sc.server).Workload
					us := &unknownStore{Store: s.store, applied: applied, n: n}
					o := s.newOrchestrator(us)
					_ = s.w.FailServer(sc.server, bmc.FaultProcessor)
					res, err := o.HandleFault(ctx, bmc.Fault{Server: sc.server, Type: bmc.FaultProcessor})
					if us.hit == "" {
						if res.Outcome != failover.OutcomeDone {
							t.Fatalf("write %d: no lost answer but %s: %v", n, res.Outcome, err)
						}
						if n < 5 {
							t.Fatalf("only %d writes", n)
						}
						return
					}
					if res.Outcome != failover.OutcomeDone {
						t.Errorf("write %d (%s): ended %s, want done (the Orchestrator reads back after a lost answer): %v", n, us.hit, res.Outcome, err)
					}
					switch res.Outcome {
					case failover.OutcomeDone:
					case failover.OutcomeInterrupted:
						results, err := s.newOrchestrator(s.store).Recover(ctx)
						if err != nil {
							t.Fatalf("write %d (%s): recover: %+v %v", n, us.hit, results, err)
						}
					default:
						t.Fatalf("write %d (%s) lost: ended %s: %v", n, us.hit, res.Outcome, err)
					}
					if u, _ := s.store.Unfinished(ctx); len(u) != 0 {
						t.Fatalf("write %d (%s): unfinished %v", n, us.hit, u)
					}
					if res.Outcome != failover.OutcomeDone && n == 0 && !applied {
						continue // the fault was never journaled: the detector delivers it again
					}
					if err := workloadMoved(s.store, s.w, sc.server, workload); err != nil {
						t.Fatalf("write %d (%s): ended %s: %v", n, us.hit, res.Outcome, err)
					}
					if err := checkWorld(s.w, s.base, s.store); err != nil {
						t.Fatalf("write %d (%s): %v", n, us.hit, err)
					}
				}
			})
		}
	}
}
