package failover

import (
	"context"
	"fmt"
	"strings"

	"github.com/coldstandby/coldstandby/search"
)

// partitionID names the logical server composed for a plan.
func partitionID(p search.Plan) string {
	s := make([]string, len(p.Replacement))
	for i, id := range p.Replacement {
		s[i] = string(id)
	}
	return "lp-" + strings.Join(s, "+")
}

// compose composes the plan's replacement into one logical server.
func (r *run) compose(ctx context.Context, plan search.Plan) error {
	o := r.o
	id := partitionID(plan)
	pm, skip, err := o.partitionManager()
	if err != nil {
		return fmt.Errorf("failover: compose %s: %w", id, err)
	}
	if skip != "" {
		r.skipped("compose", id, skip, r.h.Server, "")
		return nil
	}
	members := make([]string, len(plan.Replacement))
	for i, m := range plan.Replacement {
		members[i] = string(m)
	}
	rec := &stepRec{Partition: id, Members: members}
	err = r.step(ctx, kindCompose, id, rec, r.h.Server, "", func(ctx context.Context, a *AuditEntry) error {
		return r.call(ctx, a, o.cfg.attempts, func(ctx context.Context) error {
			return pm.Compose(ctx, id, members)
		}, nil)
	})
	if err == nil {
		r.mu.Lock()
		r.partition = id
		r.mu.Unlock()
	}
	return err
}
