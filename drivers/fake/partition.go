package fake

import (
	"context"
	"slices"
	"strings"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/internal/errs"
	"github.com/coldstandby/coldstandby/partition"
)

// PartitionManager is the fake composition platform of a World. Members
// must be servers of the world, all of one ResourceZone. When the world has allowed combinations
// (SetCompositions), Compose accepts only those; with
// WithStrictPartitions, Decompose refuses while a member is not off.
type PartitionManager struct {
	w *World
}

var _ partition.PartitionManager = (*PartitionManager)(nil)

// List implements partition.PartitionManager.
func (p *PartitionManager) List(ctx context.Context) ([]partition.LogicalServer, error) {
	c, err := p.w.start(ctx, DriverPartition, "List", "", "")
	if err != nil {
		return nil, err
	}
	p.w.mu.Lock()
	out := p.w.logicalServersLocked()
	p.w.mu.Unlock()
	if err := c.finish(nil); err != nil {
		return nil, err
	}
	return out, nil
}

// Compose implements partition.PartitionManager.
func (p *PartitionManager) Compose(ctx context.Context, id string, members []string) error {
	c, err := p.w.start(ctx, DriverPartition, "Compose", id, strings.Join(members, ","), append([]string{id}, members...)...)
	if err != nil {
		return err
	}
	p.w.mu.Lock()
	err = p.composeLocked(id, members)
	p.w.mu.Unlock()
	return c.finish(err)
}

func (p *PartitionManager) composeLocked(id string, members []string) error {
	op := "partition: compose " + id + " of " + strings.Join(members, ",")
	if id == "" || len(members) == 0 {
		return errorf(errs.Invalid, "%s: empty id or member list", op)
	}
	set := slices.Clone(members)
	slices.Sort(set)
	for i, m := range set {
		if m == "" || (i > 0 && set[i-1] == m) {
			return errorf(errs.Invalid, "%s: empty or duplicate member %q", op, m)
		}
	}
	if cur, ok := p.w.partitions[id]; ok {
		cs := slices.Clone(cur)
		slices.Sort(cs)
		if slices.Equal(cs, set) {
			return nil
		}
		return errorf(errs.Conflict, "%s: %s exists with members %s", op, id, strings.Join(cur, ","))
	}
	for _, m := range set {
		if p.w.servers[m] == nil {
			return errorf(errs.NotFound, "%s: no server %s", op, m)
		}
		for other, ms := range p.w.partitions {
			if slices.Contains(ms, m) {
				return errorf(errs.Conflict, "%s: %s belongs to %s", op, m, other)
			}
		}
	}
	for _, m := range set[1:] {
		if a, b := p.w.servers[set[0]].spec.ResourceZone, p.w.servers[m].spec.ResourceZone; a != b {
			return errorf(errs.Conflict, "%s: %s and %s are in different resource zones (%q, %q)", op, set[0], m, a, b)
		}
	}
	if p.w.compositions != nil && !slices.ContainsFunc(p.w.compositions, func(c []string) bool { return slices.Equal(c, set) }) {
		return errorf(errs.Conflict, "%s: not an allowed combination", op)
	}
	p.w.partitions[id] = slices.Clone(members)
	return nil
}

// Decompose implements partition.PartitionManager.
func (p *PartitionManager) Decompose(ctx context.Context, id string) error {
	c, err := p.w.start(ctx, DriverPartition, "Decompose", id, "", id)
	if err != nil {
		return err
	}
	p.w.mu.Lock()
	err = func() error {
		if id == "" {
			return errorf(errs.Invalid, "partition: decompose: empty id")
		}
		ms, ok := p.w.partitions[id]
		if !ok {
			return nil
		}
		if p.w.cfg.strictDecompose {
			now := p.w.cfg.now()
			for _, m := range ms {
				if s := p.w.servers[m]; s != nil {
					s.settle(p.w, now)
					if s.power != bmc.PowerOff {
						return errorf(errs.Conflict, "partition: decompose %s: member %s is %s", id, m, s.power)
					}
				}
			}
		}
		delete(p.w.partitions, id)
		return nil
	}()
	p.w.mu.Unlock()
	return c.finish(err)
}
