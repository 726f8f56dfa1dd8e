package failover

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// HandleFaults handles several faults that arrived together (a chassis or
// a rack died). Faults whose action is ActNow are fenced concurrently,
// planned jointly with search's FindAll (no server given to two failures,
// the highest priorities served first) and reserved together in one
// compare-and-set: the joint plan is kept as planned, or, when another
// failover took one of its servers meanwhile, the whole set is planned
// again. A failure the joint plan leaves without a spare ends as
// OutcomeNoSpare with FindAll's explanation, the same on every run. The
// reserved plans are then carried out concurrently (a plan whose spare
// fails tries the next candidate on its own). The other faults go through
// HandleFault, concurrently too. Results are in the order of faults; the
// error combines theirs.
func (o *Orchestrator) HandleFaults(ctx context.Context, faults ...bmc.Fault) ([]Result, error) {
	results := make([]Result, len(faults))
	var wg, others sync.WaitGroup
	type joint struct {
		i  int
		r  *run
		fl *flight
	}
	var mu sync.Mutex
	var prepared []joint
	for i, f := range faults {
		if o.rule(f.Type).Action != ActNow || f.Server == "" {
			others.Add(1)
			go func() {
				defer others.Done()
				results[i], _ = o.HandleFault(ctx, f)
			}()
			continue
		}
		// Claimed in the order of the faults (two faults for members of
		// one logical server: the first handles it, whatever the
		// scheduling), prepared concurrently.
		res := Result{Server: search.ServerID(f.Server), Fault: f, Action: ActNow}
		rec, err := o.store.Get(ctx, res.Server)
		var mem []Record
		if err == nil {
			mem, err = o.membersOf(ctx, rec)
		}
		if err != nil {
			res.Err = fmt.Errorf("failover: fault on %s: %w", f.Server, err)
			results[i] = res
			continue
		}
		fl := &flight{}
		if !o.claim(ids(mem), fl) {
			res.Outcome = OutcomeAbsorbed
			o.emit(Event{Kind: EventFaultAbsorbed, Server: res.Server, Detail: "already being handled"})
			results[i] = res
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, res, ok := o.prepare(ctx, res)
			results[i] = res
			if !ok {
				o.release(fl)
				return
			}
			mu.Lock()
			prepared = append(prepared, joint{i: i, r: r, fl: fl})
			mu.Unlock()
		}()
	}
	wg.Wait() // every jointly handled server is fenced (or done with)
	// Plan in the order of the faults, not of the goroutines.
	slices.SortFunc(prepared, func(a, b joint) int { return a.i - b.i })
	runs := make([]*run, len(prepared))
	for k, j := range prepared {
		runs[k] = j.r
	}
	plans, err := o.reserveJointly(ctx, runs)
	var ewg sync.WaitGroup
	for k, j := range prepared {
		ewg.Add(1)
		go func() {
			defer ewg.Done()
			defer o.release(j.fl)
			res := results[j.i]
			switch {
			case err != nil:
				results[j.i] = j.r.finish(ctx, res, OutcomeFailed, fmt.Errorf("failover: %s: joint plan: %w", j.r.h.Server, err))
			case plans[k].Kind == 0:
				res.Plan = plans[k]
				results[j.i] = j.r.finish(ctx, res, OutcomeNoSpare, fmt.Errorf("failover: %s: %s: %w", j.r.h.Server, plans[k].Reason, ErrNoSpare))
			default:
				results[j.i] = o.execute(ctx, j.r, &plans[k])
			}
		}()
	}
	ewg.Wait()
	others.Wait()
	var touched []search.ServerID
	for _, j := range prepared {
		touched = append(touched, j.r.touched()...)
	}
	slices.Sort(touched)
	o.drainPending(ctx, slices.Compact(touched))
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return results, errors.Join(errs...)
}

// reserveJointly plans the failures of runs together (FindAll) and
// reserves every plan in one compare-and-set, each run journaling its
// reservation first (I7). When the write loses to another writer, the
// whole set is planned again. It returns the plans, index for index;
// unplaced ones have Kind 0 and a Reason, and stay unreserved.
func (o *Orchestrator) reserveJointly(ctx context.Context, runs []*run) ([]search.Plan, error) {
	if len(runs) == 0 {
		return nil, nil
	}
	failed := make([]search.ServerID, len(runs))
	for k, r := range runs {
		failed[k] = r.h.Server
	}
	var lastErr error
	for try := 0; try < 16; try++ {
		all, err := o.store.List(ctx)
		if err != nil {
			return nil, err
		}
		inv, err := o.inventory(all, nil)
		if err != nil {
			return nil, err
		}
		plans, err := inv.FindAll(failed...)
		if err != nil && !errors.Is(err, ErrNoSpare) {
			return nil, searchErr("joint plan", err)
		}
		byID := make(map[search.ServerID]Record, len(all))
		for _, x := range all {
			byID[x.ID] = x
		}
		var recs []Record
		steps := make([]*stepRec, len(runs))
		owner := map[search.ServerID]string{}
		stale := false
		for k, r := range runs {
			if plans[k].Kind == 0 {
				continue
			}
			st := &stepRec{Kind: "reserve", Plan: &plans[k]}
			for _, id := range reservedSet(plans[k]) {
				x, ok := byID[id]
				if !ok {
					return nil, fmt.Errorf("plan uses unknown server %s: %w", id, ErrNotFound)
				}
				if prev, dup := owner[id]; dup {
					return nil, fmt.Errorf("joint plan gives %s to %s and %s: %w", id, prev, r.id, ErrConflict)
				}
				owner[id] = r.id
				if x.Reservation != "" && x.Reservation != r.id {
					stale = true
				}
				st.Reserved = append(st.Reserved, reservation{ID: id, Prev: x.State})
				x.Reservation = r.id
				if x.State == search.Standby {
					x.State = search.Reserved
				}
				recs = append(recs, x)
			}
			steps[k] = st
		}
		if stale {
			lastErr = fmt.Errorf("a planned server was reserved meanwhile: %w", ErrConflict)
			continue
		}
		if len(recs) == 0 {
			return plans, nil
		}
		// Journal every run's intent, then write all reservations at once.
		seqs := make([]int64, len(runs))
		for k, r := range runs {
			if steps[k] == nil {
				continue
			}
			seq, err := r.journal(ctx, PhaseIntent, "reserve", joinIDs(reservedSet(plans[k])), steps[k], nil)
			if err != nil {
				return nil, err
			}
			seqs[k] = seq
			r.push(seq, *steps[k])
		}
		_, err = o.put(ctx, recs...)
		for k, r := range runs {
			if steps[k] == nil {
				continue
			}
			phase := PhaseDone
			if err != nil {
				phase = PhaseFailed
				if errors.Is(err, ErrNotLeader) {
					r.kill(err)
				}
			}
			if r.stopped() {
				continue
			}
			if _, jerr := r.journal(ctx, phase, "reserve", joinIDs(reservedSet(plans[k])), steps[k], err); jerr != nil && err == nil {
				err = jerr
			}
		}
		if err == nil {
			for k, r := range runs {
				if plans[k].Kind != 0 {
					r.reserved(plans[k])
				}
			}
			return plans, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, err
		}
		lastErr = err
	}
	return nil, fmt.Errorf("could not reserve the joint plan: %w", lastErr)
}

// PlannedStep is one step a failover would run.
type PlannedStep struct {
	Step    string // as in AuditEntry
	Target  string
	Driver  string
	Skipped string // why it would be skipped ("" when it would run)
}

// DryRunResult is what a failover of a server would do now.
type DryRunResult struct {
	Server search.ServerID
	Plan   search.Plan
	Steps  []PlannedStep
}

// DryRun plans a failover of server as if it failed now and lists the
// steps it would run, without touching any device or the store. Volumes
// are not listed one by one (that needs reading the array): the storage
// step names the disk array and the two servers. A step on a part
// declared Unmanaged is listed with Skipped saying so. The error wraps
// ErrNoSpare (with the search's explanation) when nothing could take
// over, and ErrInvalid when the records or drivers would make HandleFault
// refuse the fault (see Check).
func (o *Orchestrator) DryRun(ctx context.Context, server search.ServerID) (DryRunResult, error) {
	out := DryRunResult{Server: server}
	all, err := o.store.List(ctx)
	if err != nil {
		return out, fmt.Errorf("failover: dry run %s: %w", server, err)
	}
	byID := map[search.ServerID]Record{}
	for _, r := range all {
		byID[r.ID] = r
	}
	rec, ok := byID[server]
	if !ok {
		return out, fmt.Errorf("failover: dry run %s: %w", server, ErrNotFound)
	}
	if err := o.checkRecords(all); err != nil {
		return out, fmt.Errorf("failover: dry run %s: a fault would be refused: %w", server, err)
	}
	inv, err := o.inventory(all, nil)
	if err != nil {
		return out, err
	}
	plan, err := inv.Find(server)
	out.Plan = plan
	if err != nil {
		return out, fmt.Errorf("failover: dry run %s: %w", server, err)
	}
	add := func(step, target, driver, skipped string) {
		out.Steps = append(out.Steps, PlannedStep{Step: step, Target: target, Driver: driver, Skipped: skipped})
	}
	skip := func(_ any, why string, err error) string {
		if err != nil {
			return err.Error()
		}
		return why
	}
	for _, m := range members(all, rec) {
		add("fence", string(m.ID), "bmc", "")
	}
	add("reserve", joinIDs(reservedSet(plan)), "store", "")
	move := func(src, dst Record) {
		add("storage", src.DiskArray+": "+string(src.ID)+" -> "+string(dst.ID), "storage", skip(o.diskMapper(src.DiskArray)))
		for i := 0; i < min(len(src.HBAs), len(dst.HBAs)); i++ {
			fh := src.HBAs[i]
			if fh.Fabric == "" || fh.Initiator.Kind() != storage.FC {
				continue
			}
			add("zone", fmt.Sprintf("%s: %s -> %s", fh.Fabric, fh.Initiator, dst.HBAs[i].Initiator), "zoner", skip(o.fcZoner(fh.Fabric)))
		}
		for i := 0; i < min(len(src.NICs), len(dst.NICs)); i++ {
			fn, sn := src.NICs[i], dst.NICs[i]
			why := cmp.Or(skip(o.vlanSwitch(fn.Switch)), skip(o.vlanSwitch(sn.Switch)))
			add("vlan", fmt.Sprintf("%s/%s -> %s/%s", fn.Switch, fn.Port, sn.Switch, sn.Port), "vlan", why)
		}
	}
	for _, v := range plan.Preemptions {
		add("fence", string(v.Victim), "bmc", "")
		if v.RelocateTo == "" {
			arr := byID[v.Victim].DiskArray
			add("park", arr+": "+string(v.Victim), "storage", skip(o.diskMapper(arr)))
			continue
		}
		move(byID[v.Victim], byID[v.RelocateTo])
		add("boot", string(v.RelocateTo), "bmc", "")
	}
	if plan.Compose {
		add("compose", partitionID(plan), "partition", skip(o.partitionManager()))
	}
	for _, a := range plan.Assignments {
		move(byID[a.Failed], byID[a.Spare])
	}
	boots := map[search.ServerID]bool{}
	for _, a := range plan.Assignments {
		boots[a.Spare] = true
	}
	for _, id := range plan.Replacement {
		boots[id] = true
	}
	for _, id := range reservedSet(plan) {
		if boots[id] {
			add("boot", string(id), "bmc", "")
		}
	}
	add("commit", joinIDs(reservedSet(plan)), "store", "")
	return out, nil
}

// Coverage reports, from the current records, for each active server
// whether a spare would take over now and which, and per hardware class
// how many simultaneous failures the standby pool can absorb (see
// search.Coverage). Reserved servers count as taken.
func (o *Orchestrator) Coverage(ctx context.Context) (search.Coverage, error) {
	all, err := o.store.List(ctx)
	if err != nil {
		return search.Coverage{}, fmt.Errorf("failover: coverage: %w", err)
	}
	inv, err := o.inventory(all, nil)
	if err != nil {
		return search.Coverage{}, err
	}
	return inv.Coverage(), nil
}

// MarkStandby returns a repaired server (Failed, or set aside in
// Maintenance) to the standby pool. It checks what it can reach: no
// failover of the server may be under way or unfinished (once its disks
// have moved it is off and sees nothing, but a rollback or Recover may
// still map them back to it), and the server must be confirmed off
// through its BMC and see no volume on its disk array (a spare must not
// hold anybody's disks). Errors: ErrNotFound; ErrConflict when the
// server is reserved, being failed over, named by an unfinished
// failover's journal, active, on, or still sees volumes.
func (o *Orchestrator) MarkStandby(ctx context.Context, server search.ServerID) error {
	rec, err := o.store.Get(ctx, server)
	if err != nil {
		return fmt.Errorf("failover: mark standby %s: %w", server, err)
	}
	fl := &flight{}
	if !o.claim([]search.ServerID{server}, fl) {
		return fmt.Errorf("failover: mark standby %s: a failover of it is under way: %w", server, ErrConflict)
	}
	defer o.release(fl)
	if id, err := o.unfinishedOf(ctx, server); err != nil {
		return fmt.Errorf("failover: mark standby %s: %w", server, err)
	} else if id != "" {
		return fmt.Errorf("failover: mark standby %s: failover %s of it is unfinished (Recover it first): %w", server, id, ErrConflict)
	}
	switch {
	case rec.Reservation != "":
		return fmt.Errorf("failover: mark standby %s: reserved by failover %s: %w", server, rec.Reservation, ErrConflict)
	case rec.State == search.Standby:
		return nil
	case rec.State != search.Failed && rec.State != search.Maintenance:
		return fmt.Errorf("failover: mark standby %s: server is %s: %w", server, rec.State, ErrConflict)
	}
	b, err := o.bmcOf(rec)
	if err != nil {
		return fmt.Errorf("failover: mark standby %s: %w", server, err)
	}
	st, err := b.PowerState(ctx)
	if err != nil {
		return fmt.Errorf("failover: mark standby %s: %w", server, err)
	}
	if st != bmc.PowerOff {
		return fmt.Errorf("failover: mark standby %s: power is %s, want off: %w", server, st, ErrConflict)
	}
	if dm, ok := o.drv.DiskMappers[rec.DiskArray]; ok && len(initiators(rec)) > 0 {
		maps, err := dm.Mappings(ctx, initiators(rec))
		if err != nil {
			return fmt.Errorf("failover: mark standby %s: %w", server, err)
		}
		if len(maps) > 0 {
			return fmt.Errorf("failover: mark standby %s: still sees %d volume(s) (first %s): %w", server, len(maps), maps[0].Volume, ErrConflict)
		}
	}
	// Give back the power-restore policy fencing replaced.
	if p := rec.RestorePolicy; p != "" {
		pr, ok := b.(bmc.PowerRestorer)
		if !ok {
			return fmt.Errorf("failover: mark standby %s: its BMC cannot set the power-restore policy back to %s: %w", server, p, ErrUnsupported)
		}
		if err := pr.SetPowerRestorePolicy(ctx, p); err != nil {
			return fmt.Errorf("failover: mark standby %s: power-restore policy back to %s: %w", server, p, err)
		}
	}
	return o.update(ctx, nil, []search.ServerID{server}, func(m map[search.ServerID]*Record) error {
		x := m[server]
		if x.Reservation != "" || (x.State != search.Failed && x.State != search.Maintenance && x.State != search.Standby) {
			return fmt.Errorf("failover: mark standby %s: changed meanwhile: %w", server, ErrConflict)
		}
		x.State, x.Workload, x.MovedTo, x.Home, x.Note = search.Standby, "", "", "", "repaired"
		x.RestorePolicy, x.SpareVLANs = "", nil
		return nil
	})
}

// unfinishedOf returns the ID of an unfinished failover, not run by this
// instance, whose failed servers include server ("" when there is none).
// The failovers this instance runs are skipped: they hold their servers'
// claims, which the callers take or check.
func (o *Orchestrator) unfinishedOf(ctx context.Context, server search.ServerID) (string, error) {
	ids, err := o.store.Unfinished(ctx)
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		if o.liveRun(id) != nil {
			continue
		}
		j, err := o.store.Journal(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // closed and removed meanwhile
		}
		if err != nil {
			return "", err
		}
		if len(j) == 0 {
			continue
		}
		var h header
		if err := json.Unmarshal(j[0].Data, &h); err != nil {
			return id, nil // unreadable: assume it may touch the server
		}
		if h.Server == server || slices.Contains(h.Members, server) {
			return id, nil
		}
	}
	return "", nil
}

// Failback moves the workload that left home in a failover back to it:
// home must be a standby again (see MarkStandby). The server running the
// workload now is shut down (gracefully first) and fenced, the disks,
// zones and VLANs move back, home boots, and the other server becomes a
// standby. It is journaled and recovered like a failover; on failure it is
// rolled back (the workload restarts where it was).
func (o *Orchestrator) Failback(ctx context.Context, home search.ServerID) (Result, error) {
	res := Result{Server: home}
	all, err := o.store.List(ctx)
	if err != nil {
		res.Err = fmt.Errorf("failover: failback %s: %w", home, err)
		return res, res.Err
	}
	var cur *Record
	var h *Record
	for k := range all {
		x := &all[k]
		if x.ID == home {
			h = x
		}
		if x.Home == home && x.State == search.Active {
			cur = x
		}
	}
	switch {
	case h == nil:
		res.Err = fmt.Errorf("failover: failback %s: %w", home, ErrNotFound)
	case cur == nil:
		res.Err = fmt.Errorf("failover: failback %s: no active server runs its workload: %w", home, ErrNotFound)
	case cur.Reservation != "":
		res.Err = fmt.Errorf("failover: failback %s: %s is held by failover %s: %w", home, cur.ID, cur.Reservation, ErrConflict)
	case h.State != search.Standby || h.Reservation != "":
		res.Err = fmt.Errorf("failover: failback %s: it is %s, want standby (MarkStandby first): %w", home, h.State, ErrConflict)
	case cur.Partition != "" || h.Partition != "":
		res.Err = fmt.Errorf("failover: failback %s: logical servers: %w", home, ErrUnsupported)
	}
	if res.Err != nil {
		return res, res.Err
	}
	fl := &flight{}
	if !o.claim([]search.ServerID{cur.ID, home}, fl) {
		res.Err = fmt.Errorf("failover: failback %s: %s or %s is busy: %w", home, cur.ID, home, ErrConflict)
		return res, res.Err
	}
	defer o.release(fl)
	plan := search.Plan{Kind: search.Exact, Assignments: []search.Assignment{{Failed: cur.ID, Spare: home}}, Replacement: []search.ServerID{home}}
	hd := header{Kind: kindFailback, Server: cur.ID, Members: []search.ServerID{cur.ID}, Fault: bmc.Fault{Server: string(cur.ID), Type: "failback", Detail: "failback to " + string(home)}, Plan: &plan}
	r, err := o.begin(ctx, hd)
	if err != nil {
		res.Outcome, res.Err = OutcomeInterrupted, err
		return res, err
	}
	res.ID = r.id
	// Hold the source like a victim, and home (I4), before touching any
	// hardware: a failover that wants the source (preemption,
	// relocation) must not move its disks while this one does, and one
	// that takes home would leave the source fenced for nothing. The
	// compare-and-set also catches a reservation taken since the List
	// above. (Home keeps its state: the plan's reserve step marks it.)
	src := cur.ID
	rsv := &stepRec{Reserved: []reservation{{ID: home, Prev: h.State}, {ID: src, Prev: cur.State}}}
	if err := r.step(ctx, "reserve", string(src)+","+string(home), "store", rsv, src, home, func(ctx context.Context, a *AuditEntry) error {
		a.Attempts++
		return o.update(ctx, r, []search.ServerID{src, home}, func(m map[search.ServerID]*Record) error {
			for _, x := range m {
				if x.Reservation != "" && x.Reservation != r.id {
					return fmt.Errorf("%s is held by failover %s: %w", x.ID, x.Reservation, ErrConflict)
				}
			}
			x, hx := m[src], m[home]
			if x.State != search.Active || x.Home != home || hx.State != search.Standby {
				return fmt.Errorf("%s or %s changed meanwhile (%s with home %q, %s): %w", src, home, x.State, x.Home, hx.State, ErrConflict)
			}
			x.Reservation, hx.Reservation = r.id, r.id
			return nil
		})
	}); err != nil {
		if r.stopped() {
			res = r.finish(ctx, res, OutcomeInterrupted, r.deadErr())
			return res, res.Err
		}
		if rerr := r.rollback(ctx); rerr != nil {
			res = r.finish(ctx, res, OutcomeInterrupted, errors.Join(err, rerr))
			return res, res.Err
		}
		res = r.finish(ctx, res, OutcomeFailed, fmt.Errorf("failover: failback %s: %w", home, err))
		return res, res.Err
	}
	if err := r.fence(ctx, *cur, true); err != nil {
		if r.stopped() {
			res = r.finish(ctx, res, OutcomeInterrupted, r.deadErr())
			return res, res.Err
		}
		// Nothing moved yet: bring the workload back where it was.
		if rerr := r.rollback(ctx); rerr != nil {
			res = r.finish(ctx, res, OutcomeInterrupted, errors.Join(err, rerr))
			return res, res.Err
		}
		res = r.finish(ctx, res, OutcomeFencingFailed, fmt.Errorf("failover: failback %s: %w: %w", home, ErrFencingFailed, err))
		return res, res.Err
	}
	res = o.execute(ctx, r, nil)
	res.Server = home
	return res, res.Err
}
