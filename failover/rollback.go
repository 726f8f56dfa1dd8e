package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/internal/opid"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// rollback undoes every journaled step of the run that is not undone
// yet, newest first, under a context that survives the caller's
// cancellation, with its own timeout. Each undo is journaled (undo, then
// undone). It stops at the first undo that fails: the journal stays open
// and Recover tries again.
func (r *run) rollback(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(opid.With(context.WithoutCancel(ctx), r.id), r.o.cfg.timeouts.Rollback)
	defer cancel()
	for {
		r.mu.Lock()
		if len(r.stack) == 0 {
			r.mu.Unlock()
			return nil
		}
		p := r.stack[len(r.stack)-1]
		r.mu.Unlock()
		if p.rec.Kind == "commit" {
			// Commits are rolled forward, never back; a commit that
			// failed wrote nothing (Put is atomic).
			r.pop()
			continue
		}
		u := p.rec
		u.Of = p.seq
		target := undoTarget(p.rec)
		if _, err := r.journal(rctx, PhaseUndo, p.rec.Kind, target, u, nil); err != nil {
			return err
		}
		a := AuditEntry{Step: "undo:" + p.rec.Kind, Target: target, Driver: driverOf(p.rec.Kind), Start: r.o.cfg.clock.Now()}
		err := r.undo(rctx, &a, p.rec)
		a.Duration = r.o.cfg.clock.Now().Sub(a.Start)
		if err != nil {
			a.Err = err.Error()
		}
		r.addAudit(a)
		r.o.emit(Event{Kind: EventStepFinished, Failover: r.id, Server: p.rec.Server, Spare: p.rec.Spare, Step: a.Step, Target: target, Driver: a.Driver, Attempts: a.Attempts, Duration: a.Duration, Err: err})
		if err != nil {
			if r.stopped() {
				return r.deadErr()
			}
			_, _ = r.journal(rctx, PhaseFailed, p.rec.Kind, target, u, err)
			return fmt.Errorf("failover: %s: undo %s %s: %w: %w", r.id, p.rec.Kind, target, ErrRollbackFailed, err)
		}
		if _, err := r.journal(rctx, PhaseUndone, p.rec.Kind, target, u, nil); err != nil {
			return err
		}
		r.pop()
	}
}

func (r *run) pop() {
	r.mu.Lock()
	r.stack = r.stack[:len(r.stack)-1]
	r.mu.Unlock()
}

func undoTarget(rec stepRec) string {
	switch rec.Kind {
	case "volumes":
		return fmt.Sprintf("%s: %s has its %d volume(s)", rec.Array, rec.Server, len(rec.Maps))
	case "storage", "park":
		if rec.Swap {
			return fmt.Sprintf("%s: %s <- %s", rec.Array, rec.Server, rec.Spare)
		}
		return fmt.Sprintf("%s/%s lun %d -> %s", rec.Array, rec.Volume, rec.LUN, rec.Server)
	case "zone":
		return fmt.Sprintf("%s: %s <- %s", rec.Fabric, rec.FailedWWPN, rec.SpareWWPN)
	case "vlan":
		return rec.Switch + "/" + rec.Port
	case "compose":
		return rec.Partition
	case "reserve":
		ids := make([]search.ServerID, len(rec.Reserved))
		for i, x := range rec.Reserved {
			ids[i] = x.ID
		}
		return joinIDs(ids)
	}
	return string(rec.Server)
}

func driverOf(kind string) string {
	switch kind {
	case "fence", "boot":
		return "bmc"
	case "storage", "park", "volumes":
		return "storage"
	case "zone":
		return "zoner"
	case "vlan":
		return "vlan"
	case "compose":
		return "partition"
	}
	return "store"
}

// undo reverses one step. Every undo is idempotent and safe when the step
// never happened (a crash between the intent and the driver call).
func (r *run) undo(ctx context.Context, a *AuditEntry, rec stepRec) error {
	o := r.o
	if err := r.mayAct(); err != nil {
		return err
	}
	n := o.cfg.undoAttempts
	switch rec.Kind {
	case "fence":
		if !rec.Victim {
			return nil // a failed server stays off
		}
		x, err := o.store.Get(ctx, rec.Server)
		if err != nil {
			return r.storeErr(err)
		}
		b, err := o.bmcOf(x)
		if err != nil {
			return err
		}
		err = r.call(ctx, a, n, func(ctx context.Context) error { return b.SetBootDevice(ctx, bmc.BootDisk, true) }, nil)
		if err == nil {
			err = r.call(ctx, a, n, b.PowerOn, func(ctx context.Context) (bool, error) {
				st, err := b.PowerState(ctx)
				return st == bmc.PowerOn, err
			})
		}
		if err == nil || r.stopped() {
			return err
		}
		// Its disks are back; only its restart failed. That is a new
		// failure of the victim, not a reason to stop the rollback. When
		// it is known to be off, mark it failed (a fault on it will fail
		// it over); when its state cannot be read it may still be running
		// its workload, so its record is left alone.
		r.o.emit(Event{Kind: EventFailoverFailed, Failover: r.id, Server: rec.Server, Err: err, Detail: "preemption victim could not be restarted"})
		if st, serr := b.PowerState(ctx); serr != nil || st != bmc.PowerOff {
			return nil
		}
		return o.update(ctx, r, []search.ServerID{rec.Server}, func(m map[search.ServerID]*Record) error {
			x := m[rec.Server]
			if x.State == search.Active {
				x.State = search.Failed
				x.Note = fmt.Sprintf("could not be restarted after the rollback of failover %s: %v", r.id, err)
			}
			return nil
		})
	case "boot":
		x, err := o.store.Get(ctx, rec.Server)
		if err != nil {
			return r.storeErr(err)
		}
		b, err := o.bmcOf(x)
		if err != nil {
			return err
		}
		perr := r.call(ctx, a, n, b.PowerOff, nil)
		if _, err := r.waitPower(ctx, a, b, bmc.PowerOff, o.cfg.timeouts.PowerOff); err != nil {
			return fmt.Errorf("%s not confirmed off (%v): %w", rec.Server, perr, err)
		}
		return nil
	case "storage", "park":
		dm, ok := o.drv.DiskMappers[rec.Array]
		if !ok {
			return fmt.Errorf("no DiskMapper for disk array %q: %w", rec.Array, ErrNotFound)
		}
		if rec.Swap {
			var back bool
			if err := r.call(ctx, a, n, func(ctx context.Context) error {
				var err error
				back, err = sees(ctx, dm, rec.From, rec.Maps)
				return err
			}, nil); err != nil {
				return err
			}
			if back {
				return nil // never swapped, or swapped back already
			}
			sw, ok := dm.(storage.InitiatorSwapper)
			if !ok {
				return fmt.Errorf("disk array %q cannot swap initiators: %w", rec.Array, ErrUnsupported)
			}
			// A swap cut short (a crash, a lost answer) leaves the host
			// with neither set: the volumes are masked to nobody, and by
			// the contract only the same swap again gets out of that
			// state. Finish it, unless To sees the volumes already (the
			// swap is complete), then swap back.
			var there bool
			if err := r.call(ctx, a, n, func(ctx context.Context) error {
				var err error
				there, err = sees(ctx, dm, rec.To, rec.Maps)
				return err
			}, nil); err != nil {
				return err
			}
			if !there {
				if err := r.call(ctx, a, n, func(ctx context.Context) error {
					err := sw.SwapInitiators(ctx, rec.From, rec.To)
					if errors.Is(err, ErrNotFound) {
						return nil // no host has either set: swapping back says why
					}
					return err
				}, func(ctx context.Context) (bool, error) { return sees(ctx, dm, rec.To, rec.Maps) }); err != nil {
					return err
				}
			}
			return r.call(ctx, a, n, func(ctx context.Context) error { return sw.SwapInitiators(ctx, rec.To, rec.From) },
				func(ctx context.Context) (bool, error) { return sees(ctx, dm, rec.From, rec.Maps) })
		}
		if !rec.Park {
			if gone, err := notSees(ctx, dm, rec.To, rec.Volume); err != nil || !gone {
				if err := r.call(ctx, a, n, func(ctx context.Context) error { return dm.Unmap(ctx, rec.Volume, rec.To) },
					func(ctx context.Context) (bool, error) { return notSees(ctx, dm, rec.To, rec.Volume) }); err != nil {
					return err
				}
			}
		}
		m := storage.Mapping{Volume: rec.Volume, LUN: rec.LUN}
		if home, err := sees(ctx, dm, rec.From, []storage.Mapping{m}); err == nil && home {
			return nil
		}
		return r.call(ctx, a, n, func(ctx context.Context) error { return dm.Map(ctx, rec.Volume, rec.From, rec.LUN) },
			func(ctx context.Context) (bool, error) { return sees(ctx, dm, rec.From, []storage.Mapping{m}) })
	case "zone":
		z, ok := o.drv.FCZoners[rec.Fabric]
		if !ok {
			return fmt.Errorf("no FCZoner for fabric %q: %w", rec.Fabric, ErrNotFound)
		}
		lk := o.zoneLock(z, rec.Fabric)
		lk.Lock()
		defer lk.Unlock()
		return r.applyZones(ctx, a, z, n, undoZoneEdits(rec.FailedWWPN, rec.SpareWWPN, rec.FailedZones, rec.SpareZones), true)
	case "vlan":
		s, ok := o.drv.VLANSwitches[rec.Switch]
		if !ok {
			return fmt.Errorf("no VLANSwitch %q: %w", rec.Switch, ErrNotFound)
		}
		prev := *rec.Prev
		if v, err := s.PortVLAN(ctx, rec.Port); err == nil && v.Equal(prev) {
			a.Attempts++
			return nil // never changed, or restored already
		}
		return r.call(ctx, a, n, func(ctx context.Context) error {
			_, err := s.SetPortVLAN(ctx, rec.Port, prev)
			return err
		}, func(ctx context.Context) (bool, error) {
			v, err := s.PortVLAN(ctx, rec.Port)
			return v.Equal(prev), err
		})
	case "volumes":
		// Runs after every storage undo of the attempt: src must have
		// every volume back at its LUN (a write that lands late may have
		// taken one away again).
		dm, ok := o.drv.DiskMappers[rec.Array]
		if !ok {
			return fmt.Errorf("no DiskMapper for disk array %q: %w", rec.Array, ErrNotFound)
		}
		src := Record{Server: search.Server{ID: rec.Server, DiskArray: rec.Array}}
		for _, in := range rec.From {
			src.HBAs = append(src.HBAs, HBA{Initiator: in})
		}
		return r.reconcile(ctx, a, dm, src, rec.Maps, "")
	case "compose":
		if o.drv.Partitions == nil {
			return nil
		}
		return r.call(ctx, a, n, func(ctx context.Context) error { return o.drv.Partitions.Decompose(ctx, rec.Partition) }, nil)
	case "reserve":
		idList := make([]search.ServerID, len(rec.Reserved))
		prev := map[search.ServerID]search.State{}
		for i, x := range rec.Reserved {
			idList[i] = x.ID
			prev[x.ID] = x.Prev
		}
		a.Attempts++
		return o.update(ctx, r, idList, func(m map[search.ServerID]*Record) error {
			for id, x := range m {
				if x.Reservation != r.id {
					continue
				}
				x.Reservation = ""
				if x.State == search.Reserved {
					x.State = prev[id]
				}
			}
			return nil
		})
	}
	return fmt.Errorf("unknown step kind %q: %w", rec.Kind, ErrInvalid)
}

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

// Recover finishes or rolls back every failover a previous Orchestrator
// on the same Store left unfinished (I7): a failover whose commit was
// journaled is committed; any other is rolled back step by step from its
// journal, and then, when its failed server still needs a replacement,
// carried out again from the start in the same journal (fencing is
// idempotent), so that a crash at any point of Recover itself leaves the
// journal open with the fault in it: a fault once journaled is never lost
// (unless the fault-action table now says report only and the server was
// not touched yet: then it ends as reported). Faults kept for servers
// that failovers held (Record.PendingFaults) are handled once those end.
//
// Call it at start-up, before delivering faults, and after a failover was
// interrupted by its caller's ctx. A failover this Orchestrator is still
// running is not crashed and is left alone (its Result has only the ID);
// one whose servers another running failover of this instance holds is
// left for a later call, with an error wrapping ErrConflict. It returns
// the results of the failovers it completed or restarted, and the errors
// combined.
func (o *Orchestrator) Recover(ctx context.Context) ([]Result, error) {
	unfinished, err := o.store.Unfinished(ctx)
	if err != nil {
		return nil, fmt.Errorf("failover: recover: %w", err)
	}
	var results []Result
	var errs []error
	for _, id := range unfinished {
		res, err := o.recoverOne(ctx, id)
		results = append(results, res)
		if err != nil {
			errs = append(errs, err)
			if errors.Is(err, ErrNotLeader) || ctx.Err() != nil {
				return results, errors.Join(errs...)
			}
		}
	}
	// Faults kept while failovers held their servers.
	all, err := o.store.List(ctx)
	if err != nil {
		return results, errors.Join(append(errs, fmt.Errorf("failover: recover: %w", err))...)
	}
	var pending []search.ServerID
	for _, x := range all {
		if len(x.PendingFaults) > 0 && x.Reservation == "" {
			pending = append(pending, x.ID)
		}
	}
	for _, res := range o.drainPending(ctx, pending) {
		results = append(results, res)
		if res.Err != nil {
			errs = append(errs, res.Err)
		}
	}
	return results, errors.Join(errs...)
}

// recoverOne finishes failover id from its journal.
func (o *Orchestrator) recoverOne(ctx context.Context, id string) (Result, error) {
	r := &run{o: o, id: id, start: o.cfg.clock.Now()}
	if !o.adopt(r) {
		// This instance is running it (or another Recover call is
		// recovering it): it is not crashed, and rolling its journal
		// back while it acts would undo its moves under its feet.
		return Result{ID: id}, nil
	}
	j, err := o.store.Journal(ctx, id)
	if err != nil {
		o.disown(r)
		return Result{ID: id}, fmt.Errorf("failover: recover %s: %w", id, err)
	}
	if err := r.load(j); err != nil {
		o.disown(r)
		return Result{ID: id}, fmt.Errorf("failover: recover %s: %w", id, err)
	}
	h := r.h
	res := Result{ID: id, Server: h.Server, Fault: h.Fault, Action: o.rule(h.Fault.Type).Action}
	fl := &flight{}
	if !o.claim(h.Members, fl) {
		// Another failover of this instance is acting on these servers
		// (a fault delivered before Recover): rolling this journal back
		// now would move their disks under it. Leave it for a later
		// Recover.
		o.disown(r)
		err := fmt.Errorf("failover: recover %s: %v being handled by another failover; call Recover again when it ends: %w", id, h.Members, ErrConflict)
		return Result{ID: id, Server: h.Server, Fault: h.Fault, Outcome: OutcomeInterrupted, Err: err}, err
	}
	defer o.release(fl)
	res, err = o.resume(ctx, r, res)
	o.release(fl)
	o.drainPending(ctx, r.touched())
	return res, err
}

// load rebuilds a run from its journal: the header, the step intents not
// undone (the rollback stack), and what the storage steps recorded.
func (r *run) load(j []Entry) error {
	for _, e := range j {
		r.seq = e.Seq
		switch e.Phase {
		case PhaseBegin:
			if err := json.Unmarshal(e.Data, &r.h); err != nil {
				return fmt.Errorf("bad header: %v: %w", err, ErrInvalid)
			}
		case PhaseIntent:
			var rec stepRec
			if err := json.Unmarshal(e.Data, &rec); err != nil {
				return fmt.Errorf("bad entry %d: %v: %w", e.Seq, err, ErrInvalid)
			}
			r.stack = append(r.stack, pending{seq: e.Seq, rec: rec})
			r.remember(rec)
		case PhaseUndone:
			var rec stepRec
			if err := json.Unmarshal(e.Data, &rec); err == nil {
				r.stack = slices.DeleteFunc(r.stack, func(p pending) bool { return p.seq == rec.Of })
			}
		}
	}
	return nil
}

// remember keeps what a journaled step tells later attempts: the volumes
// a server had at the first read, where storage steps moved them, and
// the servers reserved.
func (r *run) remember(rec stepRec) {
	switch rec.Kind {
	case "volumes":
		k := volKey{rec.Server, rec.Array}
		if r.vols == nil {
			r.vols = map[volKey][]storage.Mapping{}
		}
		if _, ok := r.vols[k]; !ok {
			r.vols[k] = slices.Clone(rec.Maps)
		}
	case "storage", "park":
		r.moves = append(r.moves, rec)
	case "reserve":
		if r.used == nil {
			r.used = map[search.ServerID]bool{}
		}
		for _, x := range rec.Reserved {
			r.used[x.ID] = true
		}
	}
}

// resume carries a loaded run to its end: a journaled commit is rolled
// forward; otherwise the run is rolled back and, when its failed server
// still needs a replacement, carried out again in the same journal.
func (o *Orchestrator) resume(ctx context.Context, r *run, res Result) (Result, error) {
	id, h := r.id, r.h
	for _, p := range r.stack {
		if p.rec.Kind == "commit" {
			if err := o.applyCommit(ctx, r, id, p.rec.Records); err != nil {
				res = r.finish(ctx, res, OutcomeInterrupted, fmt.Errorf("failover: recover %s: commit: %w", id, err))
				return res, res.Err
			}
			if p.rec.Plan != nil {
				res.Plan = *p.rec.Plan
			}
			res = r.finish(ctx, res, OutcomeDone, nil)
			o.emit(Event{Kind: EventRecovered, Failover: id, Server: h.Server, Detail: "commit rolled forward"})
			return res, res.Err
		}
	}
	if err := r.rollback(ctx); err != nil {
		res = r.finish(ctx, res, OutcomeInterrupted, err)
		return res, err
	}
	o.emit(Event{Kind: EventRecovered, Failover: id, Server: h.Server, Detail: "rolled back"})
	if h.Kind != kindFailover {
		// A failback rolled back: the workload runs where it was.
		res = r.finish(ctx, res, OutcomeFailed, fmt.Errorf("failover %s: interrupted and rolled back by Recover", id))
		if res.Outcome == OutcomeInterrupted {
			return res, res.Err
		}
		return res, nil
	}
	// Start over when the failed server still needs a replacement, in
	// this journal: it holds the fault, so the fault is not lost because
	// the process died before the server's record said Failed (a crash
	// right after PhaseBegin), nor because a Recover crashed.
	rec, err := o.store.Get(ctx, h.Server)
	if err != nil {
		res = r.finish(ctx, res, OutcomeInterrupted, fmt.Errorf("failover: recover %s: %w", id, err))
		return res, res.Err
	}
	claimed := rec.Reservation == id
	switch {
	case !claimed && (rec.MovedTo != "" || (rec.State != search.Failed && rec.State != search.Active)):
		res = r.finish(ctx, res, OutcomeFailed, fmt.Errorf("failover %s: rolled back by Recover; %s no longer needs it (%s)", id, h.Server, rec.State))
		return res, nil
	case !claimed && rec.State == search.Active && o.rule(h.Fault.Type).Action == ActReport:
		// The fault-action table (changed since the fault was taken)
		// says report only, and nothing was done to the server yet: it
		// was never claimed, so never fenced. A server already claimed
		// may be fenced, so its failover is carried out whatever the
		// table says now: leaving it would lose the workload.
		res.Action = ActReport
		o.emit(Event{Kind: EventFaultReported, Failover: id, Server: h.Server, Detail: describe(h.Fault) + " (recovered; the fault-action table says report)"})
		res = r.finish(ctx, res, OutcomeReported, nil)
		return res, res.Err
	}
	all, err := o.store.List(ctx)
	if err == nil {
		err = o.checkRecords(all)
	}
	if err != nil {
		res = r.finish(ctx, res, OutcomeInterrupted, fmt.Errorf("failover: recover %s: %w", id, err))
		return res, res.Err
	}
	res.Action = ActNow
	r, res, ok := r.claimAndFence(ctx, res)
	if !ok {
		return res, res.Err
	}
	res = o.execute(ctx, r, nil)
	return res, res.Err
}
