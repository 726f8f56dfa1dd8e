package site

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// bmcOf is sv's BMC with the defaults filled in.
func (s *Site) bmcOf(sv Server) BMC {
	b := sv.BMC
	d := s.Defaults.BMC
	b.Driver = cmp.Or(b.Driver, d.Driver)
	b.Endpoint = cmp.Or(b.Endpoint, d.Endpoint)
	if b.Credentials == nil {
		b.Credentials = d.Credentials
	}
	return b
}

func (s *Site) workload(name string) (Workload, bool) {
	for _, w := range s.Workloads {
		if w.Name == name {
			return w, true
		}
	}
	return Workload{}, false
}

func (s *Site) priorityOf(sv Server, _ map[string]Workload) int {
	if sv.Priority != nil {
		return *sv.Priority
	}
	w, _ := s.workload(sv.Workload)
	return w.Priority
}

func (s *Site) stateOf(sv Server) search.State {
	if sv.State != "" {
		return search.State(sv.State)
	}
	if sv.Workload != "" {
		return search.Active
	}
	return search.Standby
}

func (s *Site) hardwareOf(sv Server) Hardware {
	if sv.Hardware != nil {
		return *sv.Hardware
	}
	for _, c := range s.HardwareClasses {
		if c.Name == sv.Class {
			return c.Hardware
		}
	}
	return Hardware{}
}

// switchOf is the switch search compares: the declared one, else the
// switch of the server's NICs.
func (s *Site) switchOf(sv Server) string {
	if sv.Switch != "" || len(sv.NICs) == 0 {
		return sv.Switch
	}
	return sv.NICs[0].Switch
}

// Record converts one server of the site to its Orchestrator record (no
// runtime state, Revision 0). The site must be valid.
func (s *Site) Record(sv Server) (failover.Record, error) {
	hw := s.hardwareOf(sv)
	b := s.bmcOf(sv)
	r := failover.Record{
		Server: search.Server{
			ID: search.ServerID(sv.ID),
			Hardware: search.Hardware{CPUModel: hw.CPUModel, CPUMHz: hw.CPUMHz, MemoryMiB: hw.MemoryMiB,
				Chipset: hw.Chipset, NICPorts: hw.NICPorts, HBAPorts: hw.HBAPorts},
			Switch: s.switchOf(sv), DiskArray: sv.DiskArray, Zone: sv.Zone, VLANs: slices.Clone(sv.VLANs),
			State: s.stateOf(sv), Workload: sv.Workload, Priority: s.priorityOf(sv, nil),
			Partition: search.PartitionID(sv.Partition),
		},
		BMC: failover.BMCRef{Driver: b.Driver, Endpoint: b.Endpoint, Credentials: CredentialRef(b.Credentials)},
	}
	for i, h := range sv.HBAs {
		in, _, err := h.initiator()
		if err != nil {
			return failover.Record{}, fmt.Errorf("site: server %s: hbas[%d]: %w: %w", sv.ID, i, err, failover.ErrInvalid)
		}
		r.HBAs = append(r.HBAs, failover.HBA{Initiator: in, Fabric: h.Fabric})
	}
	for _, n := range sv.NICs {
		r.NICs = append(r.NICs, failover.NIC{Switch: n.Switch, Port: n.Port})
	}
	return r, nil
}

// Records converts the site's servers to Orchestrator records, sorted by
// ID: what apply writes (see Diff). The site must be valid.
func (s *Site) Records() ([]failover.Record, error) {
	out := make([]failover.Record, 0, len(s.Servers))
	for _, sv := range s.Servers {
		r, err := s.Record(sv)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b failover.Record) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// searchPolicy is the one place a site Policy becomes a search.Policy:
// add a field here when search.Policy gains one.
func searchPolicy(p Policy) search.Policy {
	return search.Policy{
		MinCPUMHz:              p.MinCPUMHz,
		MinMemoryMiB:           p.MinMemoryMiB,
		AnyCPUModel:            p.AnyCPUModel,
		AllowPartitionMismatch: p.AllowPartitionMismatch,
		AnySwitch:              p.AnySwitch,
		Preempt:                p.Preempt,
	}
}

// SearchOptions returns the site's search policies and allowed
// combinations: a server's own policy (WithPolicy; for a partition, its
// members', which agree) takes precedence over its workload's
// (WithWorkloadPolicy).
func (s *Site) SearchOptions() []search.Option {
	var opts []search.Option
	for _, w := range s.Workloads {
		if w.Policy != nil {
			opts = append(opts, search.WithWorkloadPolicy(w.Name, searchPolicy(*w.Policy)))
		}
	}
	for _, sv := range s.Servers {
		if sv.Policy != nil {
			opts = append(opts, search.WithPolicy(search.ServerID(sv.ID), searchPolicy(*sv.Policy)))
		}
	}
	for _, c := range s.Combinations {
		ids := make([]search.ServerID, len(c))
		for i, id := range c {
			ids[i] = search.ServerID(id)
		}
		opts = append(opts, search.WithCombination(ids...))
	}
	return opts
}

// Unmanaged lists the devices the site declares unmanaged.
func (s *Site) Unmanaged() failover.Unmanaged {
	var u failover.Unmanaged
	for _, a := range s.Arrays {
		if a.Unmanaged {
			u.Arrays = append(u.Arrays, a.Name)
		}
	}
	for _, f := range s.Fabrics {
		if f.Unmanaged {
			u.Fabrics = append(u.Fabrics, f.Name)
		}
	}
	for _, sw := range s.Switches {
		if sw.Unmanaged {
			u.Switches = append(u.Switches, sw.Name)
		}
	}
	u.Partitions = s.Partitions != nil && s.Partitions.Unmanaged
	return u
}

var actions = map[string]failover.Action{"now": failover.ActNow, "after-delay": failover.ActAfterDelay, "report": failover.ActReport}

// Options returns the Orchestrator options the site sets: its search
// options, the devices it leaves unmanaged, timeouts, the fault-action
// table (failover.DefaultFaultActions with the site's rows over it),
// retries, candidates, NMI and initiator swap. The site must be valid.
func (s *Site) Options() []failover.Option {
	f := s.Failover
	t := f.Timeouts
	opts := []failover.Option{
		failover.WithSearchOptions(s.SearchOptions()...),
		failover.WithUnmanaged(s.Unmanaged()),
		failover.WithTimeouts(failover.Timeouts{
			Step: time.Duration(t.Step), Shutdown: time.Duration(t.Shutdown), Dump: time.Duration(t.Dump),
			PowerOff: time.Duration(t.PowerOff), Boot: time.Duration(t.Boot), Health: time.Duration(t.Health),
			Rollback: time.Duration(t.Rollback), Poll: time.Duration(t.Poll),
			RetryBase: time.Duration(t.RetryBase), RetryLimit: time.Duration(t.RetryLimit),
		}),
	}
	if len(f.FaultActions) > 0 {
		table := failover.DefaultFaultActions()
		def := failover.Rule{Action: failover.ActNow}
		for k, r := range f.FaultActions {
			rule := failover.Rule{Action: actions[r.Action], Delay: time.Duration(r.Delay), Fence: table[bmc.FaultType(k)].Fence}
			switch r.Fence {
			case "graceful":
				rule.Fence = failover.FenceGraceful
			case "force":
				rule.Fence = failover.FenceForce
			}
			if k == "default" {
				def = rule
				continue
			}
			table[bmc.FaultType(k)] = rule
		}
		opts = append(opts, failover.WithFaultActions(table, def))
	}
	if f.Attempts > 0 || f.UndoAttempts > 0 {
		opts = append(opts, failover.WithRetries(cmp.Or(f.Attempts, 4), cmp.Or(f.UndoAttempts, 8)))
	}
	if f.Candidates > 0 {
		opts = append(opts, failover.WithCandidates(f.Candidates))
	}
	if f.NMI {
		opts = append(opts, failover.WithNMI(true))
	}
	if f.InitiatorSwap != nil {
		opts = append(opts, failover.WithInitiatorSwap(*f.InitiatorSwap))
	}
	return opts
}

// CredentialRef writes credentials as the reference a record keeps
// (failover.BMCRef.Credentials): "env:VAR" or "file:PATH", after
// "USER@" when there is a username; "" for none.
func CredentialRef(c *Credentials) string {
	if c == nil {
		return ""
	}
	ref := "env:" + c.PasswordEnv
	if c.PasswordFile != "" {
		ref = "file:" + c.PasswordFile
	}
	if c.Username != "" {
		ref = c.Username + "@" + ref
	}
	return ref
}

// ParseCredentialRef reads a reference written by CredentialRef.
func ParseCredentialRef(ref string) (*Credentials, error) {
	if ref == "" {
		return nil, nil
	}
	var c Credentials
	rest := ref
	if i := max(strings.LastIndex(ref, "@env:"), strings.LastIndex(ref, "@file:")); i >= 0 {
		c.Username, rest = ref[:i], ref[i+1:]
	}
	switch {
	case strings.HasPrefix(rest, "env:") && len(rest) > 4:
		c.PasswordEnv = rest[4:]
	case strings.HasPrefix(rest, "file:") && len(rest) > 5:
		c.PasswordFile = rest[5:]
	default:
		return nil, fmt.Errorf("site: credential reference %q: want [USER@]env:VAR or [USER@]file:PATH: %w", ref, failover.ErrInvalid)
	}
	return &c, nil
}

// FromRecords returns a copy of base whose servers are recs described as
// a site: the inverse of Records. What records do not hold (hardware
// classes, policies, volumes, simulation settings) is taken from base's
// server of the same ID; a field equal to what base would derive
// (defaults, the workload's priority, the NICs' switch) is left out. So a
// site in that form survives site -> records -> site unchanged. Runtime
// states (failed, reserved) are written as they are; such a site is a
// snapshot, not one to apply.
func FromRecords(base *Site, recs []failover.Record) (*Site, error) {
	out := *base
	out.Servers = nil
	byID := map[string]Server{}
	for _, sv := range base.Servers {
		byID[sv.ID] = sv
	}
	for _, r := range recs {
		old := byID[string(r.ID)]
		sv := Server{
			ID: string(r.ID), DiskArray: r.DiskArray, Zone: r.Zone, VLANs: slices.Clone(r.VLANs),
			Workload: r.Workload, Partition: string(r.Partition),
			Policy: old.Policy, Volumes: slices.Clone(old.Volumes), Simulation: old.Simulation,
		}
		hw := Hardware{CPUModel: r.Hardware.CPUModel, CPUMHz: r.Hardware.CPUMHz, MemoryMiB: r.Hardware.MemoryMiB,
			Chipset: r.Hardware.Chipset, NICPorts: r.Hardware.NICPorts, HBAPorts: r.Hardware.HBAPorts}
		if old.Class != "" && base.hardwareOf(old) == hw {
			sv.Class = old.Class
		} else {
			sv.Hardware = &hw
		}
		cred, err := ParseCredentialRef(r.BMC.Credentials)
		if err != nil {
			return nil, fmt.Errorf("site: server %s: %w", r.ID, err)
		}
		d := base.Defaults.BMC
		if r.BMC.Driver != d.Driver {
			sv.BMC.Driver = r.BMC.Driver
		}
		if r.BMC.Endpoint != d.Endpoint {
			sv.BMC.Endpoint = r.BMC.Endpoint
		}
		if CredentialRef(cred) != CredentialRef(d.Credentials) {
			sv.BMC.Credentials = cred
		}
		for _, h := range r.HBAs {
			hba := HBA{Fabric: h.Fabric}
			switch h.Initiator.Kind() {
			case storage.ISCSI:
				hba.IQN = h.Initiator.String()
			case storage.NVMe:
				hba.NQN = h.Initiator.String()
			default:
				hba.WWPN = h.Initiator.String()
			}
			sv.HBAs = append(sv.HBAs, hba)
		}
		for _, n := range r.NICs {
			sv.NICs = append(sv.NICs, NIC{Switch: n.Switch, Port: n.Port})
		}
		if base.switchOf(Server{NICs: sv.NICs}) != r.Switch {
			sv.Switch = r.Switch
		}
		if def := base.stateOf(Server{Workload: r.Workload}); def != r.State {
			sv.State = string(r.State)
		}
		if w, _ := base.workload(r.Workload); w.Priority != r.Priority {
			p := r.Priority
			sv.Priority = &p
		}
		out.Servers = append(out.Servers, sv)
	}
	return &out, nil
}
