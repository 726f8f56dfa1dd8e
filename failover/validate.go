package failover

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// Validate reports whether r is a record the Orchestrator can act on by
// itself: what search.Server.Validate checks (an ID, a known state, sane
// hardware sizes, VLANs in 0..4094), initiators that are set (the zero
// Initiator is refused), a fabric named only on Fibre Channel HBAs, NICs
// with a switch and a port, parked volumes with an array, a volume and a
// LUN in 0..16383, and a Revision that is not negative. The error wraps
// ErrInvalid and names the server and the field.
//
// Every Store refuses to write a record that fails Validate (storetest
// checks it), so a bad record cannot reach a failover through the store.
// Rules that span records are ValidateRecords'.
func (r Record) Validate() error {
	if err := r.Server.Validate(); err != nil {
		return asKind(err, ErrInvalid)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("failover: record %s: %s: %w", r.ID, fmt.Sprintf(format, args...), ErrInvalid)
	}
	if r.Revision < 0 {
		return bad("negative revision %d", r.Revision)
	}
	for i, h := range r.HBAs {
		if h.Initiator.IsZero() {
			return bad("hbas[%d]: no initiator", i)
		}
		if h.Fabric != "" && h.Initiator.Kind() != storage.FC {
			return bad("hbas[%d]: fabric %q on a %s initiator (only Fibre Channel is zoned)", i, h.Fabric, h.Initiator.Kind())
		}
	}
	for i, n := range r.NICs {
		if n.Switch == "" || n.Port == "" {
			return bad("nics[%d]: switch and port are required", i)
		}
	}
	for i, p := range r.Parked {
		if p.Array == "" || p.Volume == "" {
			return bad("parked[%d]: array and volume are required", i)
		}
		if p.LUN < 0 || p.LUN > 16383 {
			return bad("parked[%d]: LUN %d not in 0..16383", i, p.LUN)
		}
	}
	if r.RestorePolicy != "" && !r.RestorePolicy.Valid() {
		return bad("restore_policy %q is not a power-restore policy", r.RestorePolicy)
	}
	for i, v := range r.SpareVLANs {
		if err := v.Validate(); err != nil {
			return bad("spare_vlans[%d]: %v", i, err)
		}
	}
	for i, f := range r.PendingFaults {
		if f.Type == "" {
			return bad("pending_faults[%d]: no fault type", i)
		}
	}
	if r.MovedTo == r.ID || r.Home == r.ID {
		return bad("moved_to or home names the server itself")
	}
	return nil
}

// ValidateRecords checks every record (Validate) and the rules that span
// records: no ID twice, no initiator on two servers (a volume masked to a
// shared initiator would be seen by both: I2), and an inventory that
// search can build with opts (members of one partition agreeing on their
// workload, priority, state and policy). The Orchestrator runs it on the
// whole store before it changes anything for a fault, so that a bad record
// elsewhere stops a failover before its server is fenced, not after. All
// problems are reported, joined; each wraps ErrInvalid.
func ValidateRecords(recs []Record, opts ...search.Option) error {
	var errs []error
	seen := make(map[search.ServerID]bool, len(recs))
	owner := map[storage.Initiator]search.ServerID{}
	srv := make([]search.Server, 0, len(recs))
	for _, r := range recs {
		if err := r.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[r.ID] {
			errs = append(errs, fmt.Errorf("failover: record %s: listed twice: %w", r.ID, ErrInvalid))
			continue
		}
		seen[r.ID] = true
		for _, h := range r.HBAs {
			if o, ok := owner[h.Initiator]; ok && o != r.ID {
				errs = append(errs, fmt.Errorf("failover: records %s and %s share initiator %s: %w", o, r.ID, h.Initiator, ErrInvalid))
			}
			owner[h.Initiator] = r.ID
		}
		srv = append(srv, r.Server)
	}
	if len(errs) == 0 {
		if _, err := search.NewInventory(srv, opts...); err != nil {
			errs = append(errs, searchErr("failover: inventory", err))
		}
	}
	slices.SortStableFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// searchErr translates an error of package search to this package's
// kinds at the boundary: search.ErrInvalid also matches ErrInvalid
// (search.ErrNoSpare is ErrNoSpare already).
func searchErr(op string, err error) error {
	if errors.Is(err, search.ErrInvalid) {
		err = asKind(err, ErrInvalid)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// asKind makes err also match kind, without repeating kind's text.
func asKind(err, kind error) error {
	if errors.Is(err, kind) {
		return err
	}
	return kindErr{err, kind}
}

type kindErr struct{ err, kind error }

func (e kindErr) Error() string   { return e.err.Error() }
func (e kindErr) Unwrap() []error { return []error{e.err, e.kind} }

// Unmanaged names the parts of a site that the Orchestrator must leave
// alone: disk arrays whose masking, fabrics whose zoning and switches
// whose VLANs something else keeps right (a site without FC switches to
// drive, VLANs that follow the server by other means). Their steps are
// skipped, and the plan and the audit say so ("unmanaged"). Anything a
// record names that is neither driven (Drivers) nor listed here makes New
// fail, since a failover would otherwise fence a server and then stop at
// the step it cannot take.
type Unmanaged struct {
	Arrays   []string // disk array names (search.Server.DiskArray)
	Fabrics  []string // FC fabric names (HBA.Fabric)
	Switches []string // switch names (NIC.Switch)
	// Partitions: logical servers are composed by something else (or
	// never recomposed), so no PartitionManager is needed.
	Partitions bool
}

func (u Unmanaged) array(n string) bool   { return slices.Contains(u.Arrays, n) }
func (u Unmanaged) fabric(n string) bool  { return slices.Contains(u.Fabrics, n) }
func (u Unmanaged) switch_(n string) bool { return slices.Contains(u.Switches, n) }

// WithUnmanaged declares the arrays, fabrics and switches (and whether
// partitions) that the Orchestrator leaves alone; see Unmanaged. It may be
// given several times; the lists add up.
func WithUnmanaged(u Unmanaged) Option {
	return func(c *config) error {
		for _, n := range slices.Concat(u.Arrays, u.Fabrics, u.Switches) {
			if n == "" {
				return fmt.Errorf("failover: WithUnmanaged: empty name: %w", ErrInvalid)
			}
		}
		c.unmanaged.Arrays = append(c.unmanaged.Arrays, u.Arrays...)
		c.unmanaged.Fabrics = append(c.unmanaged.Fabrics, u.Fabrics...)
		c.unmanaged.Switches = append(c.unmanaged.Switches, u.Switches...)
		c.unmanaged.Partitions = c.unmanaged.Partitions || u.Partitions
		return nil
	}
}

// checkDrivers reports every record that names an array, fabric or
// switch with neither a driver nor an Unmanaged entry, and a site with
// records but no BMC driver (no server could be fenced).
func (o *Orchestrator) checkDrivers(recs []Record) error {
	var errs []error
	u := o.cfg.unmanaged
	if len(recs) > 0 && o.drv.BMC == nil {
		errs = append(errs, fmt.Errorf("failover: no BMC driver (Drivers.BMC): no server can be fenced or booted: %w", ErrInvalid))
	}
	missing := map[string][]search.ServerID{}
	note := func(what string, id search.ServerID) { missing[what] = append(missing[what], id) }
	for _, r := range recs {
		if a := r.DiskArray; a != "" && len(r.HBAs) > 0 && !u.array(a) {
			if _, ok := o.drv.DiskMappers[a]; !ok {
				note(fmt.Sprintf("disk array %q has no DiskMapper (Drivers.DiskMappers)", a), r.ID)
			}
		}
		for _, h := range r.HBAs {
			if h.Fabric == "" || u.fabric(h.Fabric) {
				continue
			}
			if _, ok := o.drv.FCZoners[h.Fabric]; !ok {
				note(fmt.Sprintf("fabric %q has no FCZoner (Drivers.FCZoners)", h.Fabric), r.ID)
			}
		}
		for _, n := range r.NICs {
			if u.switch_(n.Switch) {
				continue
			}
			if _, ok := o.drv.VLANSwitches[n.Switch]; !ok {
				note(fmt.Sprintf("switch %q has no VLANSwitch (Drivers.VLANSwitches)", n.Switch), r.ID)
			}
		}
		if r.Partition != "" && o.drv.Partitions == nil && !u.Partitions {
			note("logical servers need a PartitionManager (Drivers.Partitions)", r.ID)
		}
	}
	whats := make([]string, 0, len(missing))
	for w := range missing {
		whats = append(whats, w)
	}
	slices.Sort(whats)
	for _, w := range whats {
		ids := slices.Compact(missing[w])
		errs = append(errs, fmt.Errorf("failover: %s, named by %s; add the driver or declare it WithUnmanaged: %w", w, joinIDs(ids), ErrInvalid))
	}
	return errors.Join(errs...)
}

// Check validates the store's records (ValidateRecords, with the search
// options) and that every array, fabric, switch and partition they name
// has a driver or is declared unmanaged. New runs it once; the
// Orchestrator runs it again for every fault before it changes anything,
// since records may have changed since. The error joins every problem;
// each wraps ErrInvalid (or is the store's error).
func (o *Orchestrator) Check(ctx context.Context) error {
	all, err := o.store.List(ctx)
	if err != nil {
		return fmt.Errorf("failover: check: %w", err)
	}
	return o.checkRecords(all)
}

func (o *Orchestrator) checkRecords(all []Record) error {
	return errors.Join(ValidateRecords(all, o.cfg.searchOpts...), o.checkDrivers(all))
}

// ValidatePut is the check every Store runs on the records given to Put
// before it writes anything: each record passes Validate and no ID comes
// twice. Store implementations call it (the store conformance suite
// checks that an invalid record is refused with ErrInvalid).
func ValidatePut(recs []Record) error {
	seen := make(map[search.ServerID]bool, len(recs))
	for _, r := range recs {
		if err := r.Validate(); err != nil {
			return err
		}
		if seen[r.ID] {
			return fmt.Errorf("failover: record %s: given twice: %w", r.ID, ErrInvalid)
		}
		seen[r.ID] = true
	}
	return nil
}

// checkDelete is the check a Store runs on the records given to
// Deleter.Delete: IDs set and not repeated.
func checkDelete(recs []Record) error {
	seen := make(map[search.ServerID]bool, len(recs))
	for _, r := range recs {
		if r.ID == "" {
			return fmt.Errorf("delete: empty ID: %w", ErrInvalid)
		}
		if seen[r.ID] {
			return fmt.Errorf("delete: %s given twice: %w", r.ID, ErrInvalid)
		}
		seen[r.ID] = true
	}
	return nil
}

// ValidateDelete is the check every Store that implements Deleter runs
// before it deletes anything: every record has an ID, none comes twice.
func ValidateDelete(recs []Record) error { return checkDelete(recs) }

// checkSite is checkRecords, with the checks that span records
// remembered: every record is validated each time (cheap), but the
// checks across records (shared initiators, the search inventory, the
// drivers) run again only when a field they read changed, not when a
// failover claimed or reserved a server, so a burst of faults does not
// re-check the whole site once per fault.
func (o *Orchestrator) checkSite(all []Record) error {
	if len(all) == 0 {
		return o.checkShape(all)
	}
	// The same shared snapshot (lister) is checked once, however many
	// faults that arrived together ask at once.
	o.checked.Lock()
	if c := o.checked.snap; c != nil && c.first == &all[0] && c.n == len(all) {
		o.checked.Unlock()
		<-c.done
		return c.err
	}
	c := &snapCheck{first: &all[0], n: len(all), done: make(chan struct{})}
	o.checked.snap = c
	o.checked.Unlock()
	c.err = o.checkShape(all)
	close(c.done)
	return c.err
}

// snapCheck is the check of one snapshot of the store.
type snapCheck struct {
	first *Record
	n     int
	done  chan struct{} // closed when err is set
	err   error
}

// checkShape validates every record, and checks across records when a
// field those checks read changed since the last check.
func (o *Orchestrator) checkShape(all []Record) error {
	var errs []error
	for _, r := range all {
		if err := r.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	key := shapeKey(all)
	o.checked.Lock()
	cached := o.checked.valid && o.checked.key == key && o.checked.n == len(all)
	err := o.checked.err
	o.checked.Unlock()
	if !cached {
		err = o.checkRecords(all)
	}
	o.checked.Lock()
	o.checked.key, o.checked.n, o.checked.err, o.checked.valid = key, len(all), err, true
	o.checked.Unlock()
	return err
}

// shapeKey hashes the fields of records that the checks across records
// read: identity, hardware, wiring, workload, priority, partition and
// VLANs (not the state, reservation, notes and other runtime fields,
// which Validate checks record by record).
func shapeKey(all []Record) uint64 {
	h := fnv.New64a()
	var b [8]byte
	num := func(n int64) {
		binary.LittleEndian.PutUint64(b[:], uint64(n))
		h.Write(b[:])
	}
	str := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	for _, r := range all {
		str(string(r.ID))
		hw := r.Hardware
		str(hw.CPUModel)
		str(hw.Chipset)
		num(int64(hw.CPUMHz))
		num(int64(hw.MemoryMiB))
		num(int64(hw.NICPorts))
		num(int64(hw.HBAPorts))
		str(r.Switch)
		str(r.DiskArray)
		str(r.Zone)
		str(r.Workload)
		num(int64(r.Priority))
		str(string(r.Partition))
		for _, v := range r.VLANs {
			num(int64(v))
		}
		num(-1)
		for _, x := range r.HBAs {
			str(x.Initiator.String())
			str(x.Fabric)
		}
		num(-2)
		for _, n := range r.NICs {
			str(n.Switch)
			str(n.Port)
		}
		num(-3)
	}
	return h.Sum64()
}
