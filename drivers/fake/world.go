package fake

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/internal/errs"
	"github.com/coldstandby/coldstandby/partition"
	"github.com/coldstandby/coldstandby/storage"
)

// Server states, as in the patent's server management table.
const (
	StateActive  = "active"
	StateStandby = "standby"
	StateFailed  = "failed"
)

// Hardware describes a server's hardware, the columns the spare search
// compares.
type Hardware struct {
	CPUModel  string // including the stepping, e.g. "Xeon E5-2680 v2 (SR1A6)"
	CPUMHz    int
	MemoryMiB int
	Chipset   string // chipset or server model
	NICPorts  int
	HBAPorts  int
}

// Volume is a boot (or data) volume of a server: the volume and the host
// LUN number its initiators see it at.
type Volume struct {
	ID        storage.VolumeID
	LUN       int
	SizeBytes int64 // 0: 100 GiB
}

// OS is how a server's operating system behaves.
type OS struct {
	// ShutdownDelay is how long a graceful shutdown takes (0: it is off
	// as soon as Shutdown returns).
	ShutdownDelay time.Duration
	// RefuseShutdown makes the OS ignore graceful shutdown requests.
	RefuseShutdown bool
	// DumpTime is how long the memory dump an NMI (or an OS crash)
	// triggers takes; 0 means no dump is written.
	DumpTime time.Duration
	// NoNMI makes the BMC unable to send an NMI (ErrUnsupported).
	NoNMI bool
}

// ServerSpec is one server: its wiring, the descriptive data the
// Orchestrator keeps in its records, and its simulated behaviour.
type ServerSpec struct {
	ID       string
	Hardware Hardware
	State    string // StateActive, StateStandby or StateFailed
	Workload string // "" for none (a standby)
	Priority int    // higher is more important
	// Partition is the logical server the server is a member of ("" for
	// none). Members are listed in the order they are added.
	Partition string
	// ResourceZone is the composition domain (a Redfish resource zone, a
	// chassis): the fake platform composes only servers of one zone.
	ResourceZone string

	Switch      string          // Ethernet switch
	SwitchPorts []string        // the ports of its NICs on Switch
	VLAN        fabric.PortVLAN // the setting of those ports; zero: access 1
	DiskArray   string          // the array its boot volumes live in
	Fabric      string          // the FC fabric of its HBAs
	Zones       []string        // zones its FC initiators are members of (created as needed)
	Initiators  []storage.Initiator
	// InitiatorFabrics is the fabric of each initiator, in the order of
	// Initiators, for a server cabled to several fabrics (dual A/B SANs);
	// an entry that is missing or "" means Fabric. Each initiator is
	// zoned in Zones on its own fabric.
	InitiatorFabrics []string
	BootVolumes      []Volume // created if missing and masked to Initiators

	Power bmc.PowerState // initial power; "": on when active, off otherwise
	OS    OS
}

// FabricOf returns the fabric of the spec's initiator i: its entry in
// InitiatorFabrics, else Fabric.
func (s ServerSpec) FabricOf(i int) string {
	if i < len(s.InitiatorFabrics) && s.InitiatorFabrics[i] != "" {
		return s.InitiatorFabrics[i]
	}
	return s.Fabric
}

// World is the simulated data centre. Its zero value is not usable; call
// NewWorld.
type World struct {
	mu  sync.Mutex
	cfg config

	servers      map[string]*server
	owner        map[storage.Initiator]string // initiator -> server ID
	arrays       map[string]*array
	fabrics      map[string]*fabricState
	switches     map[string]*switchState
	partitions   map[string][]string
	compositions [][]string // sorted member sets; nil: any combination

	faults    []*faultState
	nextFault FaultID
	ops       []Op
	calls     map[string]int
	landings  []*landing // storage changes held back (Fault.LandLate)
	landing   bool       // one of them is being applied

	violations []Violation
}

// NewWorld returns an empty world.
func NewWorld(opts ...Option) *World {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	return &World{
		cfg:        cfg,
		servers:    map[string]*server{},
		owner:      map[storage.Initiator]string{},
		arrays:     map[string]*array{},
		fabrics:    map[string]*fabricState{},
		switches:   map[string]*switchState{},
		partitions: map[string][]string{},
		calls:      map[string]int{},
	}
}

// Now reads the world's clock.
func (w *World) Now() time.Time { return w.cfg.now() }

const defaultVolumeSize = 100 << 30

// AddServer adds a server with its wiring: its BMC, a host object named
// after it on its disk array, its boot volumes (created when missing) masked
// to its initiators at their LUNs, its initiators in its zones (defined and
// active), its switch ports with its VLAN setting, and its membership of
// its partition. Errors wrap ErrInvalid (empty ID, zero or non-FC
// initiator in a zone, bad VLAN, bad LUN) or ErrConflict (an ID, initiator
// or port that exists already, a LUN in use); on error nothing changes.
func (w *World) AddServer(spec ServerSpec) error {
	spec = cloneSpec(spec)
	if spec.ID == "" {
		return errorf(errs.Invalid, "add server: empty ID")
	}
	if spec.VLAN.Mode == "" {
		spec.VLAN = fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 1}
	}
	spec.VLAN = spec.VLAN.Normalize()
	if err := spec.VLAN.Validate(); err != nil {
		return errorf(errs.Invalid, "add server %s: %v", spec.ID, err)
	}
	switch spec.Power {
	case "":
		spec.Power = bmc.PowerOff
		if spec.State == StateActive {
			spec.Power = bmc.PowerOn
		}
	case bmc.PowerOn, bmc.PowerOff:
	default:
		return errorf(errs.Invalid, "add server %s: initial power %q", spec.ID, spec.Power)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.servers[spec.ID]; ok {
		return errorf(errs.Conflict, "add server %s: exists", spec.ID)
	}
	seen := map[storage.Initiator]bool{}
	for _, in := range spec.Initiators {
		if in.IsZero() {
			return errorf(errs.Invalid, "add server %s: zero initiator", spec.ID)
		}
		if o, ok := w.owner[in]; ok || seen[in] {
			return errorf(errs.Conflict, "add server %s: initiator %s already belongs to %s", spec.ID, in, cmp.Or(o, spec.ID))
		}
		seen[in] = true
		if len(spec.Zones) > 0 && in.Kind() != storage.FC {
			return errorf(errs.Invalid, "add server %s: zoned initiator %s is not FC", spec.ID, in)
		}
	}
	if len(spec.InitiatorFabrics) > len(spec.Initiators) {
		return errorf(errs.Invalid, "add server %s: %d initiator fabrics for %d initiators", spec.ID, len(spec.InitiatorFabrics), len(spec.Initiators))
	}
	if len(spec.Zones) > 0 {
		for i := range spec.Initiators {
			if spec.FabricOf(i) == "" {
				return errorf(errs.Invalid, "add server %s: zones without a fabric", spec.ID)
			}
		}
	}
	if len(spec.SwitchPorts) > 0 {
		if spec.Switch == "" {
			return errorf(errs.Invalid, "add server %s: ports without a switch", spec.ID)
		}
		if sw := w.switches[spec.Switch]; sw != nil {
			for _, p := range spec.SwitchPorts {
				if _, ok := sw.ports[p]; ok {
					return errorf(errs.Conflict, "add server %s: port %s/%s exists", spec.ID, spec.Switch, p)
				}
			}
		}
	}
	if len(spec.BootVolumes) > 0 {
		if spec.DiskArray == "" || len(spec.Initiators) == 0 {
			return errorf(errs.Invalid, "add server %s: boot volumes need a disk array and initiators", spec.ID)
		}
		a := w.arrays[spec.DiskArray]
		luns := map[int]bool{}
		for _, v := range spec.BootVolumes {
			if v.ID == "" || v.LUN < 0 || v.LUN > maxLUN || luns[v.LUN] {
				return errorf(errs.Invalid, "add server %s: boot volume %q at LUN %d", spec.ID, v.ID, v.LUN)
			}
			luns[v.LUN] = true
			if a != nil && len(a.holders(v.ID)) > 0 {
				return errorf(errs.Conflict, "add server %s: volume %s is masked already", spec.ID, v.ID)
			}
		}
	}
	// Validated: apply.
	s := &server{spec: spec, power: spec.Power, boot: bmc.BootDisk, os: spec.OS}
	w.servers[spec.ID] = s
	for _, in := range spec.Initiators {
		w.owner[in] = spec.ID
	}
	if spec.DiskArray != "" {
		a := w.array(spec.DiskArray)
		if len(spec.Initiators) > 0 {
			a.setHost(spec.ID, spec.Initiators)
		}
		for _, v := range spec.BootVolumes {
			if _, ok := a.volumes[v.ID]; !ok {
				a.volumes[v.ID] = cmp.Or(v.SizeBytes, defaultVolumeSize)
			}
			for _, in := range spec.Initiators {
				a.mask(in, v.LUN, v.ID)
			}
			a.prev[v.ID] = []string{spec.ID}
		}
	}
	if spec.Fabric != "" {
		w.fabric(spec.Fabric)
	}
	for i, in := range spec.Initiators {
		if spec.FabricOf(i) == "" {
			continue
		}
		f := w.fabric(spec.FabricOf(i))
		for _, z := range spec.Zones {
			f.defined.add(z, in)
			f.active.add(z, in)
		}
	}
	if spec.Switch != "" {
		sw := w.switchNamed(spec.Switch)
		for _, p := range spec.SwitchPorts {
			sw.ports[p] = cloneVLAN(spec.VLAN)
			sw.owner[p] = spec.ID
		}
	}
	if spec.Partition != "" {
		w.partitions[spec.Partition] = append(w.partitions[spec.Partition], spec.ID)
	}
	return nil
}

func cloneSpec(s ServerSpec) ServerSpec {
	s.SwitchPorts = slices.Clone(s.SwitchPorts)
	s.Zones = slices.Clone(s.Zones)
	s.Initiators = slices.Clone(s.Initiators)
	s.InitiatorFabrics = slices.Clone(s.InitiatorFabrics)
	s.BootVolumes = slices.Clone(s.BootVolumes)
	s.VLAN.Trunk = slices.Clone(s.VLAN.Trunk)
	return s
}

// Servers returns the specs of every server as they were added, sorted by
// ID. The live state (power, masking, zoning) is read with Server,
// Masking, Zones and PortVLAN.
func (w *World) Servers() []ServerSpec {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]ServerSpec, 0, len(w.servers))
	for _, s := range w.servers {
		out = append(out, cloneSpec(s.spec))
	}
	slices.SortFunc(out, func(a, b ServerSpec) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Spec returns one server's spec as it was added.
func (w *World) Spec(id string) (ServerSpec, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.servers[id]
	if !ok {
		return ServerSpec{}, false
	}
	return cloneSpec(s.spec), true
}

// ServerOf returns the ID of the server that owns initiator in, if any.
func (w *World) ServerOf(in storage.Initiator) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	id, ok := w.owner[in]
	return id, ok
}

// AddVolume creates a volume in array (created if missing). sizeBytes 0
// means 100 GiB. An existing volume is ErrConflict.
func (w *World) AddVolume(array string, id storage.VolumeID, sizeBytes int64) error {
	if array == "" || id == "" || sizeBytes < 0 {
		return errorf(errs.Invalid, "add volume %q in %q", id, array)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.array(array)
	if _, ok := a.volumes[id]; ok {
		return errorf(errs.Conflict, "add volume %s in %s: exists", id, array)
	}
	a.volumes[id] = cmp.Or(sizeBytes, defaultVolumeSize)
	return nil
}

// AddHost creates (or replaces) a host object named name in array, with
// initiators, for SwapInitiators. Servers get one named after them. An
// initiator can belong to one host object of an array only: it is removed
// from any other.
func (w *World) AddHost(array, name string, initiators ...storage.Initiator) error {
	if array == "" || name == "" || len(initiators) == 0 || slices.ContainsFunc(initiators, storage.Initiator.IsZero) {
		return errorf(errs.Invalid, "add host %q in %q", name, array)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.array(array).setHost(name, initiators)
	return nil
}

// AddZone creates zone name in fabric (created if missing), defined and
// active, with members (which must be FC initiators). An existing zone
// gets the members added.
func (w *World) AddZone(fabricName, name string, members ...storage.Initiator) error {
	if fabricName == "" || name == "" {
		return errorf(errs.Invalid, "add zone %q in %q", name, fabricName)
	}
	for _, m := range members {
		if m.Kind() != storage.FC {
			return errorf(errs.Invalid, "add zone %s: member %q is not a WWPN", name, m)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.fabric(fabricName)
	f.defined.ensure(name)
	f.active.ensure(name)
	for _, m := range members {
		f.defined.add(name, m)
		f.active.add(name, m)
	}
	return nil
}

// AddPort creates port on switch (created if missing) with VLAN setting v
// (a zero v is access 1). An existing port is ErrConflict.
func (w *World) AddPort(switchName, port string, v fabric.PortVLAN) error {
	if switchName == "" || port == "" {
		return errorf(errs.Invalid, "add port %q on %q", port, switchName)
	}
	if v.Mode == "" {
		v = fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 1}
	}
	if err := v.Validate(); err != nil {
		return errorf(errs.Invalid, "add port %s/%s: %v", switchName, port, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	sw := w.switchNamed(switchName)
	if _, ok := sw.ports[port]; ok {
		return errorf(errs.Conflict, "add port %s/%s: exists", switchName, port)
	}
	sw.ports[port] = v.Normalize()
	return nil
}

// SetCompositions sets the platform's allowed combinations (the patent's
// partition-configurable table): Compose accepts only a member set equal
// to one of combos. nil allows any combination (the default).
func (w *World) SetCompositions(combos [][]string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if combos == nil {
		w.compositions = nil
		return
	}
	w.compositions = make([][]string, 0, len(combos))
	for _, c := range combos {
		c = slices.Clone(c)
		slices.Sort(c)
		w.compositions = append(w.compositions, c)
	}
}

// Compositions returns the allowed combinations, each sorted; nil when any
// combination is allowed.
func (w *World) Compositions() [][]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.compositions == nil {
		return nil
	}
	out := make([][]string, len(w.compositions))
	for i, c := range w.compositions {
		out[i] = slices.Clone(c)
	}
	return out
}

// LogicalServers returns the live partitions, sorted by ID.
func (w *World) LogicalServers() []partition.LogicalServer {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.logicalServersLocked()
}

func (w *World) logicalServersLocked() []partition.LogicalServer {
	out := make([]partition.LogicalServer, 0, len(w.partitions))
	for id, ms := range w.partitions {
		out = append(out, partition.LogicalServer{ID: id, Members: slices.Clone(ms)})
	}
	slices.SortFunc(out, func(a, b partition.LogicalServer) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (w *World) array(name string) *array {
	a := w.arrays[name]
	if a == nil {
		a = newArray(name)
		w.arrays[name] = a
	}
	return a
}

func (w *World) fabric(name string) *fabricState {
	f := w.fabrics[name]
	if f == nil {
		f = &fabricState{defined: newZoneSet(), active: newZoneSet()}
		w.fabrics[name] = f
	}
	return f
}

func (w *World) switchNamed(name string) *switchState {
	sw := w.switches[name]
	if sw == nil {
		sw = &switchState{ports: map[string]fabric.PortVLAN{}, owner: map[string]string{}}
		w.switches[name] = sw
	}
	return sw
}

// ownerOf names who holds an initiator: its server, else the host object
// holding it in a, else the initiator itself.
func (w *World) ownerOf(a *array, in storage.Initiator) string {
	if id, ok := w.owner[in]; ok {
		return id
	}
	if h, ok := a.hostOf[in]; ok {
		return "host " + h
	}
	return "initiator " + in.String()
}

// BMC returns the fake BMC of server id (which need not exist yet; calls
// for an unknown server fail with ErrNotFound). It also implements
// bmc.DumpReporter.
func (w *World) BMC(id string) bmc.BMC { return &BMC{w: w, id: id} }

// DiskMapper returns the fake LUN masking of array. It also implements
// storage.InitiatorSwapper.
func (w *World) DiskMapper(array string) storage.DiskMapper { return &DiskMapper{w: w, array: array} }

// Zoner returns the fake zoning session of fabric. Every call returns the
// same session, so changes made through any of them share one transaction.
func (w *World) Zoner(fabricName string) fabric.FCZoner { return &Zoner{w: w, fabric: fabricName} }

// Switch returns the fake Ethernet switch name.
func (w *World) Switch(name string) fabric.VLANSwitch { return &Switch{w: w, name: name} }

// Partitions returns the fake PartitionManager of the world's platform.
func (w *World) Partitions() partition.PartitionManager { return &PartitionManager{w: w} }
