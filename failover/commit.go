package failover

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/coldstandby/coldstandby/search"
)

// commit makes the plan the truth in the store: the spares run the
// workloads, the failed servers stay failed (a failback's source becomes
// standby), victims say where their work went; reservations are cleared.
// A held server whose record keeps a fault reported meanwhile (by this
// instance or another) fails the commit, and is blamed.
func (r *run) commit(ctx context.Context, plan search.Plan) ([]search.ServerID, error) {
	// The volumes of servers this failover read but no longer moves (a
	// victim it dropped, an earlier attempt's) must be back with their
	// owners: a write to them that landed late, after they were given
	// back, is found here, before the failover ends (I3).
	moved := map[search.ServerID]bool{}
	for _, a := range plan.Assignments {
		moved[a.Failed] = true
	}
	for _, v := range plan.Preemptions {
		moved[v.Victim] = true
	}
	if err := r.settleVolumes(ctx, func(id search.ServerID) bool { return !moved[id] }); err != nil {
		return nil, err
	}
	if !r.o.unbatchedStore() {
		return r.commitBatched(ctx, plan)
	}
	return r.commitUnbatched(ctx, plan)
}

// commitBatched writes the commit in one Batcher write: the journaled
// commit with the journal's end, and the final records, each a
// compare-and-set on the revision the run knows. A record that changed
// meanwhile fails the write (nothing written): the records are read again
// and, unless a held server now keeps a fault, the commit is tried again.
func (r *run) commitBatched(ctx context.Context, plan search.Plan) ([]search.ServerID, error) {
	target := joinIDs(reservedSet(plan))
	var blame []search.ServerID
	err := r.check(ctx, "commit", target, "store", r.h.Server, "", func(ctx context.Context, a *AuditEntry) error {
		for try := 0; try < 16; try++ {
			a.Attempts++
			final, err := r.commitRecords(ctx, plan, &blame)
			if err != nil {
				return err
			}
			rec := stepRec{Kind: kindCommit, Records: final, Plan: &plan}
			intent, err := r.entry(PhaseIntent, "commit", target, rec, nil)
			if err != nil {
				return err
			}
			done, err := r.entry(PhaseDone, "commit", target, nil, nil)
			if err != nil {
				return err
			}
			end, err := r.entry(PhaseEnd, "end", string(OutcomeDone), map[string]string{"outcome": string(OutcomeDone)}, nil)
			if err != nil {
				return err
			}
			seqs, stored, err := r.o.flushRuns(ctx, []*run{r}, []*Entry{&intent}, final, &done, &end)
			if err == nil {
				r.know(stored...)
				r.mu.Lock()
				r.closed = true
				r.mu.Unlock()
				return nil
			}
			if !errors.Is(err, ErrConflict) || r.stopped() || seqs == nil {
				return err
			}
			ids := make([]search.ServerID, len(final))
			for i, x := range final {
				ids[i] = x.ID
			}
			r.forget(ids...)
		}
		return fmt.Errorf("commit: records kept changing: %w", ErrConflict)
	})
	return blame, err
}

// commitRecords reads the plan's records and returns the records the
// commit writes, or errBroken (adding the server to blame) when a held
// server now keeps a fault.
func (r *run) commitRecords(ctx context.Context, plan search.Plan, blame *[]search.ServerID) ([]Record, error) {
	recs, err := r.records(ctx, plan)
	if err != nil {
		return nil, err
	}
	for _, id := range reservedSet(plan) {
		if f := recs[id].PendingFaults; len(f) > 0 {
			*blame = append(*blame, id)
			return nil, fmt.Errorf("%s %w (%s)", id, errBroken, describe(f[0]))
		}
	}
	return r.finalRecords(plan, recs)
}

// commitUnbatched journals the commit, then writes the final records:
// from the intent on, the failover only goes forward (Recover rolls a
// journaled commit forward).
func (r *run) commitUnbatched(ctx context.Context, plan search.Plan) ([]search.ServerID, error) {
	o := r.o
	var rec stepRec
	var blame []search.ServerID
	err := r.check(ctx, "commit", joinIDs(reservedSet(plan)), "store", r.h.Server, "", func(ctx context.Context, a *AuditEntry) error {
		a.Attempts++
		final, err := r.commitRecords(ctx, plan, &blame)
		if err != nil {
			return err
		}
		rec = stepRec{Kind: kindCommit, Records: final, Plan: &plan}
		seq, err := r.journal(ctx, PhaseIntent, "commit", joinIDs(reservedSet(plan)), rec, nil)
		if err != nil {
			return err
		}
		r.push(seq, rec)
		// From here the failover only goes forward, as Recover would
		// take it: the write may have been applied even when it reports
		// an error (a lost answer), and a rollback under a journaled
		// commit would leave records saying the spare runs the workload
		// while it is off without its disks (or, after a crash during
		// that rollback, Recover would roll the commit forward onto an
		// undone world). applyCommit is idempotent: retry it, whatever
		// the caller's ctx; if it still fails, stop and leave the
		// journal open for Recover.
		cctx := context.WithoutCancel(ctx)
		for i := 0; i < o.cfg.attempts; i++ {
			if err = o.applyCommit(cctx, r, r.id, final); err == nil || r.stopped() {
				break
			}
		}
		if err != nil {
			r.kill(fmt.Errorf("failover %s: commit journaled but not written (Recover rolls it forward): %w", r.id, err))
		}
		return err
	})
	if err != nil {
		return blame, err
	}
	_, err = r.journal(context.WithoutCancel(ctx), PhaseDone, "commit", joinIDs(reservedSet(plan)), nil, nil)
	return nil, err
}

// applyCommit writes the final records of failover id, unless that was
// already done (no record holds its reservation any more).
func (o *Orchestrator) applyCommit(ctx context.Context, r *run, id string, final []Record) error {
	var idList []search.ServerID
	for _, x := range final {
		idList = append(idList, x.ID)
	}
	err := o.update(ctx, r, idList, func(m map[search.ServerID]*Record) error {
		held := false
		for _, x := range m {
			if x.Reservation == id {
				held = true
			}
		}
		if !held {
			return errAlreadyCommitted
		}
		for _, x := range final {
			rev := m[x.ID].Revision
			*m[x.ID] = x
			m[x.ID].Revision = rev
		}
		return nil
	})
	if errors.Is(err, errAlreadyCommitted) {
		return nil
	}
	return err
}

var errAlreadyCommitted = errors.New("already committed")

// finalRecords computes the records as the commit leaves them.
func (r *run) finalRecords(plan search.Plan, recs map[search.ServerID]Record) ([]Record, error) {
	r.mu.Lock()
	parked := r.parked
	part := r.partition
	r.mu.Unlock()
	out := map[search.ServerID]Record{}
	get := func(id search.ServerID) Record {
		if x, ok := out[id]; ok {
			return x
		}
		return recs[id]
	}
	victim := map[search.ServerID]search.Preemption{}
	for _, v := range plan.Preemptions {
		victim[v.Victim] = v
	}
	// Relocation targets take their victims' workloads.
	for _, v := range plan.Preemptions {
		vr := recs[v.Victim]
		if v.RelocateTo != "" {
			t := get(v.RelocateTo)
			t.State = search.Active
			t.Workload, t.Priority = v.Workload, v.Priority
			t.Zone, t.VLANs = vr.Zone, slices.Clone(vr.VLANs)
			t.Home = homeOf(vr)
			if t.Home == t.ID {
				t.Home = ""
			}
			t.Reservation, t.MovedTo, t.Note = "", "", fmt.Sprintf("took over %q from %s (preempted by %s)", v.Workload, v.Victim, r.h.Server)
			if len(t.SpareVLANs) == 0 {
				t.SpareVLANs = r.spareVLANs(t)
			}
			out[t.ID] = t
		}
	}
	// preempted records on a victim taken into the replacement where its
	// own workload went: relocated, or stopped with its volumes parked
	// (masked to nobody: its record is the only place that says what
	// to map back, I3).
	preempted := func(s *Record) {
		v, ok := victim[s.ID]
		if !ok {
			return
		}
		s.MovedTo = v.RelocateTo
		if v.RelocateTo != "" {
			s.Note = fmt.Sprintf("preempted by %s: workload %q (prio %d) moved to %s", r.h.Server, v.Workload, v.Priority, v.RelocateTo)
		} else {
			s.Note = fmt.Sprintf("preempted by %s: workload %q (prio %d) stopped, %d volume(s) parked", r.h.Server, v.Workload, v.Priority, len(parked[s.ID]))
			s.Parked = append(slices.Clone(s.Parked), parked[s.ID]...)
		}
	}
	var failedWorkload string
	var failedPrio int
	for _, a := range plan.Assignments {
		f := recs[a.Failed]
		failedWorkload, failedPrio = f.Workload, f.Priority
		s := get(a.Spare)
		s.State = search.Active
		s.Workload, s.Priority = f.Workload, f.Priority
		s.Zone, s.VLANs = f.Zone, slices.Clone(f.VLANs)
		s.Home = homeOf(f)
		if s.Home == s.ID {
			s.Home = "" // a failback: home runs its own workload again
			s.SpareVLANs = nil
		} else if len(s.SpareVLANs) == 0 {
			s.SpareVLANs = r.spareVLANs(s)
		}
		s.Reservation = ""
		s.Note = fmt.Sprintf("took over %q from %s (failover %s)", f.Workload, f.ID, r.id)
		if part != "" {
			s.Partition = search.PartitionID(part)
		} else if f.Partition == "" && len(plan.Replacement) <= 1 {
			s.Partition = ""
		}
		s.MovedTo = ""
		preempted(&s)
		out[s.ID] = s
	}
	// Replacement nodes that received no disks still join the workload.
	for _, id := range plan.Replacement {
		if _, ok := out[id]; ok {
			continue
		}
		s := get(id)
		s.State, s.Workload, s.Priority, s.Reservation = search.Active, failedWorkload, failedPrio, ""
		if part != "" {
			s.Partition = search.PartitionID(part)
		}
		s.MovedTo = ""
		preempted(&s)
		out[id] = s
	}
	// The failed servers.
	for _, a := range plan.Assignments {
		if _, taken := out[a.Failed]; taken {
			continue
		}
		f := get(a.Failed)
		if r.h.Kind == kindFailback {
			f.State = search.Standby
			f.MovedTo, f.Home, f.SpareVLANs = "", "", nil
			f.Note = fmt.Sprintf("workload %q moved back to %s", f.Workload, a.Spare)
		} else {
			f.State = search.Failed
			f.MovedTo = a.Spare
			f.Note = fmt.Sprintf("failed (%s); workload %q moved to %s", describe(r.h.Fault), f.Workload, a.Spare)
			f.Home = ""
		}
		f.Workload, f.Zone = "", "" // its WWPNs left their zones
		f.Reservation = ""
		out[f.ID] = f
	}
	// Failed members not in the plan's assignments: their claim ends.
	for _, id := range r.h.Members {
		if _, ok := out[id]; ok {
			continue
		}
		if x, ok := recs[id]; ok && x.Reservation == r.id {
			x.Reservation = ""
			out[id] = x
		}
	}
	// Any other reserved server (a victim not used as a spare) is freed.
	for _, id := range reservedSet(plan) {
		if _, ok := out[id]; !ok {
			x := get(id)
			x.Reservation = ""
			preempted(&x) // never lose what was parked
			out[id] = x
		}
	}
	ids := make([]search.ServerID, 0, len(out))
	for id := range out {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	final := make([]Record, len(ids))
	for i, id := range ids {
		final[i] = out[id]
	}
	return final, nil
}
