package failover_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/failovertest"
	"github.com/coldstandby/coldstandby/storage"
)

// cutShortSwapper is a disk array whose first swap away from `from` is
// cut short half way, as the InitiatorSwapper contract allows: the host
// then holds neither set (modelled by a third, unused set of
// initiators), and only SwapInitiators(from, to) again finishes it. The
// next `transient` forward calls fail before acting.
type cutShortSwapper struct {
	storage.DiskMapper
	sw        storage.InitiatorSwapper
	from, mid []storage.Initiator

	mu        sync.Mutex
	phase     int // 0: untouched, 1: cut short (host holds mid), 2: finished
	to        []storage.Initiator
	transient int
}

func (c *cutShortSwapper) SwapInitiators(ctx context.Context, from, to []storage.Initiator) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.phase == 0 && slices.Equal(from, c.from):
		if err := c.sw.SwapInitiators(ctx, from, c.mid); err != nil {
			return err
		}
		c.phase, c.to = 1, to
		return failover.ErrOutcomeUnknown
	case c.phase == 1 && slices.Equal(from, c.from) && slices.Equal(to, c.to):
		if c.transient > 0 {
			c.transient--
			return failover.ErrTransient
		}
		c.phase = 2
		return c.sw.SwapInitiators(ctx, c.mid, to)
	case c.phase == 1:
		// No host has exactly `from`, nor already `to`.
		return storage.ErrNotFound
	}
	return c.sw.SwapInitiators(ctx, from, to)
}

// A swap cut short leaves the volumes masked to nobody; its undo must
// finish it before swapping back (the only way the contract offers out of
// that state), or the rollback fails for ever and the boot disk stays
// masked to no server.
func TestUndoOfACutShortSwapFinishesItFirst(t *testing.T) {
	s := patentSite(t)
	drv := failovertest.Drivers(s.w)
	inner := drv.DiskMappers["array-1"]
	spec, _ := s.w.Spec("srv01")
	cs := &cutShortSwapper{DiskMapper: inner, sw: inner.(storage.InitiatorSwapper), from: spec.Initiators,
		mid:       []storage.Initiator{mustInit("21:00:00:24:ff:0f:0f:01"), mustInit("21:00:00:24:ff:0f:0f:02")},
		transient: 3}
	drv.DiskMappers["array-1"] = cs
	o, err := failover.New(s.store, drv, s.opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.w.FailServer("srv01", bmc.FaultProcessor); err != nil {
		t.Fatal(err)
	}
	res, _ := o.HandleFault(context.Background(), bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor})
	if res.Outcome == failover.OutcomeInterrupted {
		t.Errorf("rollback failed: %v", res.Err)
	}
	for _, vol := range []string{"boot-srv01", "data-srv01"} {
		h := s.holders("array-1", vol)
		if len(h) != 1 || (res.Outcome != failover.OutcomeDone && h[0] != "srv01") {
			t.Errorf("%s: %s held by %v", res.Outcome, vol, h)
		}
	}
	if un, _ := s.store.Unfinished(context.Background()); len(un) != 0 {
		t.Errorf("unfinished: %v", un)
	}
}
