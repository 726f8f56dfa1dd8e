package site

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

// Deleter is failover.Deleter: Apply removes servers that left the site
// only through a store that implements it (MemStore, boltstore and
// etcdstore do).
type Deleter = failover.Deleter

// ChangeKind says what apply does to a server's record.
type ChangeKind string

// Change kinds.
const (
	Add    ChangeKind = "add"
	Update ChangeKind = "update"
	Remove ChangeKind = "remove"
)

// FieldChange is one field of a record that apply changes (or, with Kept,
// that differs from the site but is runtime state apply keeps).
type FieldChange struct {
	Field string `json:"field"`
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
	// Kept: the store's value (From) stays, although the site says To:
	// the Orchestrator owns it now (Why: a failover moved the workload, a
	// server failed).
	Kept bool   `json:"kept,omitempty"`
	Why  string `json:"why,omitempty"`
}

// Change is what apply does to one server.
type Change struct {
	Kind   ChangeKind      `json:"kind"`
	Server search.ServerID `json:"server"`
	Fields []FieldChange   `json:"fields,omitempty"`
	// Refused says why apply will not make this change ("" when it
	// will): it would break a failover in progress, or the store cannot
	// delete.
	Refused string `json:"refused,omitempty"`

	rec failover.Record // what to write (Add, Update) or delete (Remove)
}

// Diff is the difference between a site and a store.
type Diff struct {
	Changes []Change `json:"changes"` // sorted by server
	// Unchanged counts the servers whose records stay as they are.
	Unchanged int `json:"unchanged"`
}

// Empty reports whether apply would write nothing.
func (d *Diff) Empty() bool {
	for _, c := range d.Changes {
		if c.Kind != Update || slices.ContainsFunc(c.Fields, func(f FieldChange) bool { return !f.Kept }) {
			return false
		}
	}
	return true
}

// Refused returns the changes apply refuses.
func (d *Diff) Refused() []Change {
	var out []Change
	for _, c := range d.Changes {
		if c.Refused != "" {
			out = append(out, c)
		}
	}
	return out
}

// busy describes what holds a server at runtime ("" when nothing does).
type busy struct {
	failover string // the failover that holds it or names it in its open journal
	runtime  string // why its role fields are the Orchestrator's now
}

// Compute the runtime situation of every record.
func situation(ctx context.Context, st failover.Store, recs []failover.Record) (map[search.ServerID]busy, error) {
	out := map[search.ServerID]busy{}
	homes := map[search.ServerID]search.ServerID{}
	for _, r := range recs {
		if r.Home != "" && r.State == search.Active {
			homes[r.Home] = r.ID
		}
	}
	for _, r := range recs {
		var b busy
		b.failover = r.Reservation
		switch {
		case r.Reservation != "":
			b.runtime = "reserved by failover " + r.Reservation
		case r.State == search.Failed:
			b.runtime = "failed"
		case r.State == search.Reserved:
			b.runtime = "reserved"
		case r.Home != "":
			b.runtime = "runs the workload of " + string(r.Home) + " since a failover"
		case r.MovedTo != "":
			b.runtime = "its workload moved to " + string(r.MovedTo)
		case len(r.Parked) > 0:
			b.runtime = "its volumes are parked"
		case homes[r.ID] != "":
			b.runtime = "its workload runs on " + string(homes[r.ID])
		}
		out[r.ID] = b
	}
	ids, err := st.Unfinished(ctx)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		j, err := st.Journal(ctx, id)
		if errors.Is(err, failover.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if b := out[r.ID]; b.failover == "" && journalNames(j, r.ID) {
				b.failover = id
				if b.runtime == "" {
					b.runtime = "named by unfinished failover " + id
				}
				out[r.ID] = b
			}
		}
	}
	return out, nil
}

// journalNames reports whether an open journal may concern server id: its
// ID appears as a JSON string in an entry's data or as a word of an
// entry's target. It is wider than failover.ReadJournal's header and
// plan on purpose: a journal also names the spares of attempts it rolled
// back, and being conservative here only makes apply refuse more.
func journalNames(j []failover.Entry, id search.ServerID) bool {
	quoted, _ := json.Marshal(string(id))
	for _, e := range j {
		if strings.Contains(string(e.Data), string(quoted)) {
			return true
		}
		if slices.Contains(strings.FieldsFunc(e.Target, func(r rune) bool { return r == ',' || r == ' ' || r == ':' }), string(id)) {
			return true
		}
	}
	return false
}

// roleFields are the record fields a failover changes: while a server has
// a runtime story they are the Orchestrator's, and apply keeps them.
var roleFields = []string{"state", "workload", "priority", "zone", "vlans", "partition"}

// wiringFields are what a failover in progress relies on.
var wiringFields = []string{"bmc", "hbas", "nics", "diskArray", "switch"}

func isField(f string, set []string) bool {
	for _, s := range set {
		if f == s || strings.HasPrefix(f, s+".") || strings.HasPrefix(f, s+"[") {
			return true
		}
	}
	return false
}

// Diff compares the site (the wanted inventory) with the store and says,
// per server, what Apply would write: servers to add, fields to change,
// servers to remove, runtime state it keeps, and the changes it refuses
// (rewiring or removing a server that a failover holds or that an
// unfinished failover's journal names; removing a server whose workload
// moved or that runs another's; removals the store cannot delete). The
// role fields (state, workload, priority, zone, VLANs, partition) of a
// server with a runtime story (failed, reserved, running another's
// workload, its own workload or volumes elsewhere) stay as the store has
// them, and the Diff lists them as kept. The site
// must be valid.
func (s *Site) Diff(ctx context.Context, st failover.Store) (*Diff, error) {
	want, err := s.Records()
	if err != nil {
		return nil, err
	}
	have, err := st.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("site: diff: %w", err)
	}
	sit, err := situation(ctx, st, have)
	if err != nil {
		return nil, fmt.Errorf("site: diff: %w", err)
	}
	cur := map[search.ServerID]failover.Record{}
	for _, r := range have {
		cur[r.ID] = r
	}
	homes := map[search.ServerID]search.ServerID{}
	for _, r := range have {
		if r.Home != "" && r.State == search.Active {
			homes[r.Home] = r.ID
		}
	}
	_, canDelete := st.(Deleter)
	d := &Diff{}
	inSite := map[search.ServerID]bool{}
	for _, w := range want {
		inSite[w.ID] = true
		c, ok := cur[w.ID]
		if !ok {
			d.Changes = append(d.Changes, Change{Kind: Add, Server: w.ID, Fields: fieldDiff(failover.Record{}, w, nil), rec: w})
			continue
		}
		b := sit[w.ID]
		merged := w
		// Runtime state is the Orchestrator's: always kept.
		merged.Reservation, merged.MovedTo, merged.Home, merged.Parked, merged.Note = c.Reservation, c.MovedTo, c.Home, c.Parked, c.Note
		merged.Revision = c.Revision
		var kept []string
		if b.runtime != "" {
			merged.State, merged.Workload, merged.Priority = c.State, c.Workload, c.Priority
			merged.Zone, merged.VLANs, merged.Partition = c.Zone, c.VLANs, c.Partition
			kept = roleFields
		}
		fields := fieldDiff(c, merged, nil)
		for _, f := range fieldDiff(merged, w, nil) {
			if isField(f.Field, kept) {
				f.Kept, f.Why = true, b.runtime
				fields = append(fields, f)
			}
		}
		if len(fields) == 0 {
			d.Unchanged++
			continue
		}
		ch := Change{Kind: Update, Server: w.ID, Fields: fields, rec: merged}
		if b.failover != "" && slices.ContainsFunc(fields, func(f FieldChange) bool { return !f.Kept && isField(f.Field, wiringFields) }) {
			ch.Refused = fmt.Sprintf("failover %s holds %s; rewiring it now would break that failover (wait for it to end, or Recover it)", b.failover, w.ID)
		}
		d.Changes = append(d.Changes, ch)
	}
	for _, c := range have {
		if inSite[c.ID] {
			continue
		}
		ch := Change{Kind: Remove, Server: c.ID, Fields: fieldDiff(c, failover.Record{}, nil), rec: c}
		b := sit[c.ID]
		switch {
		case b.failover != "":
			ch.Refused = fmt.Sprintf("failover %s holds %s; removing it now would break that failover (wait for it to end, or Recover it)", b.failover, c.ID)
		case b.runtime != "" && c.State != search.Failed:
			ch.Refused = fmt.Sprintf("%s %s; fail it back or move its work before removing it", c.ID, b.runtime)
		case homes[c.ID] != "":
			ch.Refused = fmt.Sprintf("%s's workload runs on %s; fail it back or update that server first", c.ID, homes[c.ID])
		case !canDelete:
			ch.Refused = fmt.Sprintf("the store cannot delete records (it does not implement failover.Deleter); %s stays", c.ID)
		}
		d.Changes = append(d.Changes, ch)
	}
	slices.SortFunc(d.Changes, func(a, b Change) int { return strings.Compare(string(a.Server), string(b.Server)) })
	return d, nil
}

// Apply writes the site into the store: it computes the Diff and, unless
// a change is refused, writes every added and updated record in one
// compare-and-set Put (and deletes removed ones through Deleter), keeping
// all runtime state. It returns the Diff it applied. The error wraps
// ErrConflict when a change is refused (nothing written; the error lists
// why) or the store changed since it was read (nothing written: run it
// again), and the store's errors otherwise. Applying the same site twice
// writes nothing the second time.
func (s *Site) Apply(ctx context.Context, st failover.Store) (*Diff, error) {
	d, err := s.Diff(ctx, st)
	if err != nil {
		return nil, err
	}
	if ref := d.Refused(); len(ref) > 0 {
		msgs := make([]string, len(ref))
		for i, c := range ref {
			msgs[i] = string(c.Server) + ": " + c.Refused
		}
		return d, fmt.Errorf("site: apply refused, nothing written:\n  %s: %w", strings.Join(msgs, "\n  "), failover.ErrConflict)
	}
	var put, del []failover.Record
	for _, c := range d.Changes {
		switch {
		case c.Kind == Remove:
			del = append(del, c.rec)
		case slices.ContainsFunc(c.Fields, func(f FieldChange) bool { return !f.Kept }):
			put = append(put, c.rec)
		}
	}
	if len(put) > 0 {
		if _, err := st.Put(ctx, put...); err != nil {
			if errors.Is(err, failover.ErrConflict) {
				return d, fmt.Errorf("site: apply: the store changed since it was read (a failover ran?); nothing written, run it again: %w", err)
			}
			return d, fmt.Errorf("site: apply: %w", err)
		}
	}
	if len(del) > 0 {
		if err := st.(Deleter).Delete(ctx, del...); err != nil {
			return d, fmt.Errorf("site: apply: records written, deleting removed servers failed: %w", err)
		}
	}
	return d, nil
}

// fieldDiff lists the fields whose rendering differs between a and b.
func fieldDiff(a, b failover.Record, _ []string) []FieldChange {
	fa, fb := Fields(a), Fields(b)
	keys := map[string]bool{}
	var order []string
	for _, f := range append(fa, fb...) {
		if !keys[f[0]] {
			keys[f[0]] = true
			order = append(order, f[0])
		}
	}
	get := func(fs [][2]string, k string) string {
		for _, f := range fs {
			if f[0] == k {
				return f[1]
			}
		}
		return ""
	}
	var out []FieldChange
	for _, k := range order {
		if x, y := get(fa, k), get(fb, k); x != y {
			out = append(out, FieldChange{Field: k, From: x, To: y})
		}
	}
	return out
}

// Fields renders the inventory fields of a record as (name, value) pairs
// in a fixed order, named as in the site file; empty values are left out.
func Fields(r failover.Record) [][2]string {
	var out [][2]string
	add := func(k, v string) {
		if v != "" && v != "0" && v != "[]" {
			out = append(out, [2]string{k, v})
		}
	}
	h := r.Hardware
	add("hardware.cpuModel", h.CPUModel)
	add("hardware.cpuMHz", strconv.Itoa(h.CPUMHz))
	add("hardware.memoryMiB", strconv.Itoa(h.MemoryMiB))
	add("hardware.chipset", h.Chipset)
	add("hardware.nicPorts", strconv.Itoa(h.NICPorts))
	add("hardware.hbaPorts", strconv.Itoa(h.HBAPorts))
	add("bmc.driver", r.BMC.Driver)
	add("bmc.endpoint", r.BMC.Endpoint)
	add("bmc.credentials", r.BMC.Credentials)
	for i, hba := range r.HBAs {
		v := hba.Initiator.String()
		if hba.Fabric != "" {
			v += " on " + hba.Fabric
		}
		add(fmt.Sprintf("hbas[%d]", i), v)
	}
	for i, n := range r.NICs {
		add(fmt.Sprintf("nics[%d]", i), n.Switch+" "+n.Port)
	}
	add("switch", r.Switch)
	add("diskArray", r.DiskArray)
	add("zone", r.Zone)
	add("vlans", fmt.Sprint(r.VLANs))
	add("state", string(r.State))
	add("workload", r.Workload)
	add("priority", strconv.Itoa(r.Priority))
	add("partition", string(r.Partition))
	return out
}
