package site

import (
	"encoding/json"
	"fmt"
	"time"
)

// APIVersion and Kind identify a site file. A file with another
// apiVersion or kind is refused, so that the format can evolve.
const (
	APIVersion = "coldstandby/v1alpha1"
	Kind       = "Site"
)

// Site is a data centre as an operator describes it: the wanted inventory
// (servers and their wiring), the devices that drive it, the search
// policies and workload priorities, the fault-action table, the timeouts
// and the store. Field names are the YAML keys; see site.schema.json.
type Site struct {
	// APIVersion must be "coldstandby/v1alpha1".
	APIVersion string `json:"apiVersion"`
	// Kind must be "Site".
	Kind string `json:"kind"`
	// Name names the site in output (default: the file's base name).
	Name string `json:"name,omitempty"`

	// Store is where the Orchestrator keeps its records and journals
	// (default: a bbolt file "coldstandby.db" beside the site file).
	Store Store `json:"store,omitzero"`

	// Defaults are inherited by every server that leaves the field empty.
	Defaults Defaults `json:"defaults,omitzero"`
	// HardwareClasses name hardware shared by many servers (Server.Class).
	HardwareClasses []HardwareClass `json:"hardwareClasses,omitempty"`
	// Workloads give each workload its priority and search policy.
	Workloads []Workload `json:"workloads,omitempty"`
	// Combinations are the patent's partition-configurable table: sets of
	// standby servers that may be composed into one logical server.
	Combinations [][]string `json:"combinations,omitempty"`

	// Arrays, Fabrics and Switches are the devices the records name
	// (Server.DiskArray, HBA.Fabric, NIC.Switch), each with the driver
	// type that reaches it or unmanaged: true.
	Arrays   []Array  `json:"arrays,omitempty"`
	Fabrics  []Device `json:"fabrics,omitempty"`
	Switches []Device `json:"switches,omitempty"`
	// Partitions is the partition manager that composes logical servers;
	// required when a server has a partition or combinations are listed,
	// unless unmanaged.
	Partitions *Device `json:"partitions,omitempty"`

	// Servers is the server management table.
	Servers []Server `json:"servers"`

	// Failover tunes the Orchestrator.
	Failover Failover `json:"failover,omitzero"`

	// dir is the directory of the site file: relative paths (the bbolt
	// file, credential files) are relative to it.
	dir string
	// pos maps a path ("servers[3].hbas[0].wwpn") to its line in the file.
	pos map[string]int
}

// Store says where the records and journals are kept: a bbolt file
// (the default) or etcd (when Etcd is set).
type Store struct {
	// Bolt is the bbolt file, relative to the site file's directory
	// (default "coldstandby.db").
	Bolt string `json:"bolt,omitempty"`
	// Etcd keeps the state in etcd, shared by several managers.
	Etcd *Etcd `json:"etcd,omitempty"`
}

// Etcd is an etcd cluster holding the state under Prefix.
type Etcd struct {
	Endpoints []string `json:"endpoints"`
	// Prefix is the key prefix (default "/coldstandby/<site name>/").
	Prefix      string       `json:"prefix,omitempty"`
	Credentials *Credentials `json:"credentials,omitempty"`
	TLS         *TLS         `json:"tls,omitempty"`
}

// Credentials refer to a secret; they never hold it. The password comes
// from an environment variable or a file (relative to the site file);
// give exactly one of them.
type Credentials struct {
	Username     string `json:"username,omitempty"`
	PasswordEnv  string `json:"passwordEnv,omitempty"`
	PasswordFile string `json:"passwordFile,omitempty"`
}

// TLS configures a driver's TLS client. Certificates are verified unless
// InsecureSkipVerify is set.
type TLS struct {
	CAFile             string `json:"caFile,omitempty"`
	CertFile           string `json:"certFile,omitempty"`
	KeyFile            string `json:"keyFile,omitempty"`
	InsecureSkipVerify bool   `json:"insecureSkipVerify,omitempty"`
}

// Device is a disk array, FC fabric, Ethernet switch or partition manager:
// the driver type that reaches it (a name in the Registry) and how.
type Device struct {
	// Name is what servers refer to (Server.DiskArray, HBA.Fabric,
	// NIC.Switch); ignored for partitions.
	Name string `json:"name"`
	// Driver is the driver type ("fake", "ontap", "brocade", "ovs", ...);
	// empty only when Unmanaged.
	Driver string `json:"driver,omitempty"`
	// Unmanaged: something else keeps this device right (a site with no
	// FC switch to drive, VLANs that follow the server by other means);
	// the Orchestrator skips its steps and says so.
	Unmanaged bool `json:"unmanaged,omitempty"`
	// Endpoint is the device's address (URL, host:port, socket).
	Endpoint    string       `json:"endpoint,omitempty"`
	Credentials *Credentials `json:"credentials,omitempty"`
	TLS         *TLS         `json:"tls,omitempty"`
	// Options are driver-specific settings (for example ontap's "svm",
	// brocade's "vfid"); never secrets.
	Options map[string]string `json:"options,omitempty"`
}

// Array is a disk array: a Device plus the target ports servers are zoned
// with (used by the fake driver to build its zones; documentation
// otherwise).
type Array struct {
	Device
	Targets []Target `json:"targets,omitempty"`
}

// Target is one target port of a disk array and the fabric it is on.
type Target struct {
	WWPN   string `json:"wwpn"`
	Fabric string `json:"fabric,omitempty"`
}

// Defaults are inherited by servers.
type Defaults struct {
	// BMC fields a server leaves empty are taken from here.
	BMC BMC `json:"bmc,omitzero"`
	// Simulation fields a server leaves empty are taken from here (fake
	// driver only).
	Simulation Simulation `json:"simulation,omitzero"`
}

// HardwareClass names one hardware configuration.
type HardwareClass struct {
	Name string `json:"name"`
	Hardware
}

// Hardware is what a server is made of; two servers match exactly when
// all fields are equal.
type Hardware struct {
	CPUModel  string `json:"cpuModel"` // including the stepping
	CPUMHz    int    `json:"cpuMHz"`
	MemoryMiB int    `json:"memoryMiB"`
	Chipset   string `json:"chipset"` // chipset or server model
	NICPorts  int    `json:"nicPorts"`
	HBAPorts  int    `json:"hbaPorts"`
}

// Workload is a kind of work servers run: its priority (larger is more
// important; preemption takes only strictly lower priorities) and the
// search policy of the servers that run it.
type Workload struct {
	Name     string  `json:"name"`
	Priority int     `json:"priority,omitempty"`
	Policy   *Policy `json:"policy,omitempty"`
}

// Policy is the patent's search policy: what a spare may differ in. It
// mirrors search.Policy field for field (see searchPolicy); the zero value
// allows exact matching only.
type Policy struct {
	// MinCPUMHz: every node of the replacement has at least this clock
	// (0: each node's must equal its failed counterpart's).
	MinCPUMHz int `json:"minCPUMHz,omitempty"`
	// MinMemoryMiB: the replacement's total memory is at least this
	// (0: memory must be equal).
	MinMemoryMiB int `json:"minMemoryMiB,omitempty"`
	// AnyCPUModel accepts another CPU model or stepping.
	AnyCPUModel bool `json:"anyCPUModel,omitempty"`
	// AllowPartitionMismatch lets a logical server of another node count
	// take over.
	AllowPartitionMismatch bool `json:"allowPartitionMismatch,omitempty"`
	// AnySwitch accepts a spare on another network switch.
	AnySwitch bool `json:"anySwitch,omitempty"`
	// Preempt may take servers running strictly lower-priority work.
	Preempt bool `json:"preempt,omitempty"`
}

// Server is one row of the server management table, with its wiring.
type Server struct {
	ID string `json:"id"`
	// Class names a hardware class; give Class or Hardware.
	Class    string    `json:"class,omitempty"`
	Hardware *Hardware `json:"hardware,omitempty"`

	BMC  BMC   `json:"bmc,omitzero"`
	HBAs []HBA `json:"hbas,omitempty"`
	NICs []NIC `json:"nics,omitempty"`

	// Switch is the network switch the server is cabled to (what search
	// compares); default: the switch of its NICs.
	Switch    string `json:"switch,omitempty"`
	DiskArray string `json:"diskArray,omitempty"`
	Zone      string `json:"zone,omitempty"`
	// VLANs are the server's VLANs: one is an access port, several a
	// trunk (the fake driver builds its ports so).
	VLANs []int `json:"vlans,omitempty"`

	// State is active, standby or maintenance (default: active with a
	// workload, standby without). Failed and reserved are runtime states
	// the Orchestrator sets; apply keeps them.
	State    string `json:"state,omitempty"`
	Workload string `json:"workload,omitempty"`
	// Priority defaults to the workload's.
	Priority  *int   `json:"priority,omitempty"`
	Partition string `json:"partition,omitempty"`
	// Policy is this server's search policy; it takes precedence over its
	// workload's. Members of a partition must agree.
	Policy *Policy `json:"policy,omitempty"`

	// Volumes are the server's boot (LUN 0) and data volumes: the fake
	// driver creates and masks them; with real arrays they document what
	// the array holds (the Orchestrator reads the masking live).
	Volumes []Volume `json:"volumes,omitempty"`
	// Simulation sets the fake driver's behaviour of this server.
	Simulation *Simulation `json:"simulation,omitempty"`
}

// BMC says how to reach a server's BMC.
type BMC struct {
	// Driver is the BMC driver type ("fake", "ipmi", "redfish", ...).
	Driver string `json:"driver,omitempty"`
	// Endpoint is host[:port] or a URL.
	Endpoint    string       `json:"endpoint,omitempty"`
	Credentials *Credentials `json:"credentials,omitempty"`
}

// HBA is one host bus adapter port: its initiator (exactly one of WWPN,
// IQN, NQN) and, for Fibre Channel, the fabric it is cabled to.
type HBA struct {
	WWPN   string `json:"wwpn,omitempty"`
	IQN    string `json:"iqn,omitempty"`
	NQN    string `json:"nqn,omitempty"`
	Fabric string `json:"fabric,omitempty"`
}

// NIC is one network port and the switch port it is cabled to.
type NIC struct {
	Switch string `json:"switch"`
	Port   string `json:"port"`
}

// Volume is a volume and the host LUN number the server sees it at.
type Volume struct {
	ID      string `json:"id"`
	LUN     int    `json:"lun"`
	SizeGiB int    `json:"sizeGiB,omitempty"`
}

// Simulation is how the fake driver's server behaves.
type Simulation struct {
	// ShutdownDelay is how long a graceful shutdown takes.
	ShutdownDelay Duration `json:"shutdownDelay,omitempty"`
	// DumpTime is how long a memory dump takes (0: no dump).
	DumpTime Duration `json:"dumpTime,omitempty"`
	// RefuseShutdown makes the operating system ignore graceful shutdowns.
	RefuseShutdown bool `json:"refuseShutdown,omitempty"`
	// ResourceZone is the composition domain (a chassis): the fake
	// partition manager composes only servers of one zone (default: the
	// server's switch).
	ResourceZone string `json:"resourceZone,omitempty"`
}

// Failover tunes the Orchestrator; zero fields keep its defaults.
type Failover struct {
	Timeouts Timeouts `json:"timeouts,omitzero"`
	// FaultActions change rows of the fault-action table: keys are fault
	// types ("processor", "temperature", ...) or "default" (types not
	// listed); rows not given keep failover.DefaultFaultActions.
	FaultActions map[string]FaultRule `json:"faultActions,omitempty"`
	// Attempts of a driver call on a transient error (default 4) and of
	// an undo during rollback (default 8).
	Attempts     int `json:"attempts,omitempty"`
	UndoAttempts int `json:"undoAttempts,omitempty"`
	// Candidates is how many spares one failover tries (default 3).
	Candidates int `json:"candidates,omitempty"`
	// NMI makes fencing ask for a memory dump first.
	NMI bool `json:"nmi,omitempty"`
	// InitiatorSwap (default true) lets storage moves swap initiators
	// when the array can.
	InitiatorSwap *bool `json:"initiatorSwap,omitempty"`
}

// Timeouts bound the phases of a failover (see failover.Timeouts).
type Timeouts struct {
	Step       Duration `json:"step,omitempty"`
	Shutdown   Duration `json:"shutdown,omitempty"`
	Dump       Duration `json:"dump,omitempty"`
	PowerOff   Duration `json:"powerOff,omitempty"`
	Boot       Duration `json:"boot,omitempty"`
	Health     Duration `json:"health,omitempty"`
	Rollback   Duration `json:"rollback,omitempty"`
	Poll       Duration `json:"poll,omitempty"`
	RetryBase  Duration `json:"retryBase,omitempty"`
	RetryLimit Duration `json:"retryLimit,omitempty"`
}

// FaultRule is one row of the fault-action table.
type FaultRule struct {
	// Action is "now", "after-delay" or "report".
	Action string `json:"action"`
	// Delay is for after-delay ("30s", "2m").
	Delay Duration `json:"delay,omitempty"`
	// Fence is how the failed server is fenced: "graceful" (a shutdown
	// first, then forced off) or "force" (the OS is hung: straight to the
	// dump wait and forced off). Empty keeps the default of the fault
	// type (failover.DefaultFaultActions).
	Fence string `json:"fence,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("30s",
// "2m0s").
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string ("90s", "2m").
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"30s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (such as \"30s\", \"2m\")", s)
	}
	*d = Duration(v)
	return nil
}

// Dir returns the directory relative paths of the site are resolved in.
func (s *Site) Dir() string { return s.dir }

// SetDir sets the directory relative paths are resolved in (Load sets it
// to the site file's).
func (s *Site) SetDir(dir string) { s.dir = dir }

// Line returns the line of path in the file the site was decoded from (0
// when unknown): the path's own line, or the nearest enclosing one.
func (s *Site) Line(path string) int {
	for p := path; ; p = parentPath(p) {
		if l, ok := s.pos[p]; ok {
			return l
		}
		if p == "" {
			return 0
		}
	}
}
