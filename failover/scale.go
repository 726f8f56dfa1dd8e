package failover

import (
	"context"
	"fmt"

	"github.com/coldstandby/coldstandby/search"
)

// PlanScale plans scale requests against the current records, read only
// like DryRun: "Count more logical servers like this one (or this
// template)" for a search.ScaleOut, "a bigger logical server for this
// one, at least these MHz and memory" for a search.ScaleUp. It lists the
// store, builds the search inventory as a failover does (reserved servers
// count as taken) and runs search.Inventory.FindJoint; it touches no
// device and writes nothing. failed may name servers to plan jointly:
// failures come first (none of them loses a spare to a scale request),
// then the scale requests by priority. The Orchestrator has no step that
// carries out a scale plan; the caller decides what to do with it.
//
// Errors: the store's errors; ErrInvalid (and search.ErrInvalid) for a bad
// request (an unknown or not Active Like, an empty template, a scale-up
// that asks for nothing bigger); ErrNoSpare, with the search's
// explanation, when some failure or requested logical server is
// unplaced: the returned plan is then valid except for those entries
// (Kind 0, with a Reason).
func (o *Orchestrator) PlanScale(ctx context.Context, failed []search.ServerID, reqs ...search.ScaleRequest) (search.JointPlan, error) {
	all, err := o.store.List(ctx)
	if err != nil {
		return search.JointPlan{}, fmt.Errorf("failover: plan scale: %w", err)
	}
	inv, err := o.inventory(all, nil)
	if err != nil {
		return search.JointPlan{}, err
	}
	jp, err := inv.FindJoint(failed, reqs...)
	if err != nil {
		return jp, searchErr("failover: plan scale", err)
	}
	return jp, nil
}
