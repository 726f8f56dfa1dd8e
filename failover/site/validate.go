package site

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// checker collects problems with their lines.
type checker struct {
	s     *Site
	probs []Problem
}

func (c *checker) add(path, format string, args ...any) {
	c.probs = append(c.probs, Problem{Path: path, Line: c.s.Line(path), Msg: fmt.Sprintf(format, args...)})
}

// Validate checks the site's content and its cross-references and returns
// an *Error listing every problem (wrapping failover.ErrInvalid), or nil.
//
// Besides each field's own rules it checks that every array, fabric and
// switch a server names is declared (with a driver or unmanaged), that a
// workload a server runs and a class it names exist, that no initiator,
// switch port or volume belongs to two servers, that HBAs and NICs match
// the hardware's port counts, that the servers of one disk array cable
// HBA i to the same fabric (a failover moves HBA i's zones to the spare's
// HBA i), that members of a partition agree, and then what the
// Orchestrator itself checks (failover.ValidateRecords with the site's
// search options).
func (s *Site) Validate() error {
	c := &checker{s: s}
	c.header()
	c.store()
	classes := c.classes()
	workloads := c.workloads()
	arrays := c.devices("arrays", arrayDevices(s.Arrays))
	fabrics := c.devices("fabrics", s.Fabrics)
	switches := c.devices("switches", s.Switches)
	c.targets(fabrics)
	if s.Partitions != nil {
		c.device("partitions", *s.Partitions, false)
	}
	c.credentials("defaults.bmc.credentials", s.Defaults.BMC.Credentials)
	c.servers(classes, workloads, arrays, fabrics, switches)
	c.combinations()
	c.failover()
	if len(c.probs) == 0 {
		c.records()
	}
	return newError("", c.probs)
}

func (c *checker) header() {
	if c.s.APIVersion != APIVersion {
		c.add("apiVersion", "is %q, want %q", c.s.APIVersion, APIVersion)
	}
	if c.s.Kind != Kind {
		c.add("kind", "is %q, want %q", c.s.Kind, Kind)
	}
}

func (c *checker) store() {
	st := c.s.Store
	if st.Bolt != "" && st.Etcd != nil {
		c.add("store", "give bolt or etcd, not both")
	}
	if e := st.Etcd; e != nil {
		if len(e.Endpoints) == 0 {
			c.add("store.etcd.endpoints", "at least one endpoint is required")
		}
		for i, ep := range e.Endpoints {
			c.endpoint(fmt.Sprintf("store.etcd.endpoints[%d]", i), ep)
		}
		c.credentials("store.etcd.credentials", e.Credentials)
	}
}

func (c *checker) classes() map[string]Hardware {
	out := map[string]Hardware{}
	for i, hc := range c.s.HardwareClasses {
		p := fmt.Sprintf("hardwareClasses[%d]", i)
		switch _, dup := out[hc.Name]; {
		case hc.Name == "":
			c.add(p+".name", "is required")
		case dup:
			c.add(p+".name", "class %q is declared twice", hc.Name)
		}
		c.hardware(p, hc.Hardware)
		out[hc.Name] = hc.Hardware
	}
	return out
}

func (c *checker) hardware(p string, h Hardware) {
	if h.CPUModel == "" {
		c.add(p+".cpuModel", "is required")
	}
	if h.CPUMHz <= 0 {
		c.add(p+".cpuMHz", "must be positive")
	}
	if h.MemoryMiB <= 0 {
		c.add(p+".memoryMiB", "must be positive")
	}
	if h.Chipset == "" {
		c.add(p+".chipset", "is required")
	}
	if h.NICPorts < 0 {
		c.add(p+".nicPorts", "must not be negative")
	}
	if h.HBAPorts < 0 {
		c.add(p+".hbaPorts", "must not be negative")
	}
}

func (c *checker) workloads() map[string]Workload {
	out := map[string]Workload{}
	for i, w := range c.s.Workloads {
		p := fmt.Sprintf("workloads[%d]", i)
		switch _, dup := out[w.Name]; {
		case w.Name == "":
			c.add(p+".name", "is required")
		case dup:
			c.add(p+".name", "workload %q is declared twice", w.Name)
		}
		if w.Priority < 0 {
			c.add(p+".priority", "must not be negative")
		} else if w.Priority > search.MaxPriority {
			c.add(p+".priority", "must be at most %d", search.MaxPriority)
		}
		c.policy(p+".policy", w.Policy)
		out[w.Name] = w
	}
	return out
}

func (c *checker) policy(p string, pol *Policy) {
	if pol == nil {
		return
	}
	if pol.MinCPUMHz < 0 {
		c.add(p+".minCPUMHz", "must not be negative")
	}
	if pol.MinMemoryMiB < 0 {
		c.add(p+".minMemoryMiB", "must not be negative")
	}
}

func arrayDevices(as []Array) []Device {
	out := make([]Device, len(as))
	for i, a := range as {
		out[i] = a.Device
	}
	return out
}

// devices checks a list of devices and returns them by name.
func (c *checker) devices(list string, ds []Device) map[string]Device {
	out := map[string]Device{}
	for i, d := range ds {
		p := fmt.Sprintf("%s[%d]", list, i)
		switch _, dup := out[d.Name]; {
		case d.Name == "":
			c.add(p+".name", "is required")
		case dup:
			c.add(p+".name", "%q is declared twice", d.Name)
		}
		c.device(p, d, true)
		out[d.Name] = d
	}
	return out
}

func (c *checker) device(p string, d Device, named bool) {
	switch {
	case d.Driver == "" && !d.Unmanaged:
		c.add(p+".driver", "is required (or unmanaged: true when something else keeps this device right)")
	case d.Driver != "" && d.Unmanaged:
		c.add(p+".unmanaged", "an unmanaged device has no driver; drop one of them")
	}
	if !named && d.Name != "" {
		c.add(p+".name", "the partition manager has no name")
	}
	c.endpoint(p+".endpoint", d.Endpoint)
	c.credentials(p+".credentials", d.Credentials)
	for _, k := range sortedKeys(d.Options) {
		if looksSecret(k) {
			c.add(joinKey(p+".options", k), "secrets are never written in a site file; give credentials by reference (credentials.passwordEnv or passwordFile)")
		}
	}
}

// endpoint refuses a password written into a URL.
func (c *checker) endpoint(p, ep string) {
	if !strings.Contains(ep, "://") {
		return
	}
	u, err := url.Parse(ep)
	if err != nil {
		c.add(p, "not a URL: %v", err)
		return
	}
	if _, ok := u.User.Password(); ok {
		c.add(p, "holds a password; give credentials by reference (credentials.passwordEnv or passwordFile)")
	}
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (c *checker) credentials(p string, cr *Credentials) {
	if cr == nil {
		return
	}
	switch {
	case cr.PasswordEnv != "" && cr.PasswordFile != "":
		c.add(p, "give passwordEnv or passwordFile, not both")
	case cr.PasswordEnv == "" && cr.PasswordFile == "":
		c.add(p, "give passwordEnv (an environment variable) or passwordFile (a file) for the password")
	case cr.PasswordEnv != "" && !envName.MatchString(cr.PasswordEnv):
		c.add(p+".passwordEnv", "%q is not an environment variable name", cr.PasswordEnv)
	}
}

func (c *checker) targets(fabrics map[string]Device) {
	for i, a := range c.s.Arrays {
		for j, t := range a.Targets {
			p := fmt.Sprintf("arrays[%d].targets[%d]", i, j)
			if _, err := storage.ParseWWPN(t.WWPN); err != nil {
				c.add(p+".wwpn", "not a WWPN: %v", err)
			}
			if _, ok := fabrics[t.Fabric]; t.Fabric != "" && !ok {
				c.add(p+".fabric", "fabric %q is not declared in fabrics", t.Fabric)
			}
		}
	}
}

// owners remembers which server first used a shared resource.
type owners map[string]string

func (o owners) claim(c *checker, key, path, what string) {
	if first, ok := o[key]; ok {
		c.add(path, "%s is also %s", what, first)
		return
	}
	o[key] = path
}

func (c *checker) servers(classes map[string]Hardware, workloads map[string]Workload, arrays, fabrics, switches map[string]Device) {
	ids := owners{}
	inits := owners{}
	ports := owners{}
	vols := owners{}
	type cabling struct {
		path    string
		fabrics []string
	}
	byArray := map[string]cabling{}
	for i, sv := range c.s.Servers {
		p := fmt.Sprintf("servers[%d]", i)
		if sv.ID == "" {
			c.add(p+".id", "is required")
		} else {
			ids.claim(c, sv.ID, p+".id", "server "+sv.ID)
		}
		hw, hwOK := c.serverHardware(p, sv, classes)
		c.serverBMC(p, sv)

		var hbaFabrics []string
		for j, h := range sv.HBAs {
			hp := fmt.Sprintf("%s.hbas[%d]", p, j)
			in, field, err := h.initiator()
			if err != nil {
				c.add(hp+field, "%v", err)
				continue
			}
			inits.claim(c, in.String(), hp+field, "initiator "+in.String()+" of "+hp)
			if h.Fabric != "" {
				if in.Kind() != storage.FC {
					c.add(hp+".fabric", "only Fibre Channel HBAs (wwpn) are on a fabric")
				} else if _, ok := fabrics[h.Fabric]; !ok {
					c.add(hp+".fabric", "fabric %q is not declared in fabrics", h.Fabric)
				}
			}
			hbaFabrics = append(hbaFabrics, h.Fabric)
		}
		nicSwitches := map[string]bool{}
		for j, n := range sv.NICs {
			np := fmt.Sprintf("%s.nics[%d]", p, j)
			if n.Switch == "" {
				c.add(np+".switch", "is required")
			} else if _, ok := switches[n.Switch]; !ok {
				c.add(np+".switch", "switch %q is not declared in switches", n.Switch)
			}
			if n.Port == "" {
				c.add(np+".port", "is required")
			}
			if n.Switch != "" && n.Port != "" {
				ports.claim(c, n.Switch+"\x00"+n.Port, np, "port "+n.Switch+"/"+n.Port+" of "+np)
			}
			nicSwitches[n.Switch] = true
		}
		if hwOK {
			if len(sv.HBAs) > 0 && len(sv.HBAs) != hw.HBAPorts {
				c.add(p+".hbas", "%d listed, but the hardware has %d HBA ports", len(sv.HBAs), hw.HBAPorts)
			}
			if len(sv.NICs) > 0 && len(sv.NICs) != hw.NICPorts {
				c.add(p+".nics", "%d listed, but the hardware has %d NIC ports", len(sv.NICs), hw.NICPorts)
			}
		}
		switch {
		case sv.Switch != "":
			if _, ok := switches[sv.Switch]; !ok {
				c.add(p+".switch", "switch %q is not declared in switches", sv.Switch)
			}
		case len(nicSwitches) > 1:
			c.add(p+".switch", "its NICs are on several switches; say which one search compares")
		}
		if sv.DiskArray != "" {
			if _, ok := arrays[sv.DiskArray]; !ok {
				c.add(p+".diskArray", "disk array %q is not declared in arrays", sv.DiskArray)
			}
		} else if len(sv.HBAs) > 0 || len(sv.Volumes) > 0 {
			c.add(p+".diskArray", "is required: the server has HBAs or volumes")
		}
		if sv.DiskArray != "" && len(hbaFabrics) > 0 {
			if first, ok := byArray[sv.DiskArray]; ok && len(first.fabrics) == len(hbaFabrics) {
				for j := range hbaFabrics {
					if hbaFabrics[j] != first.fabrics[j] {
						c.add(fmt.Sprintf("%s.hbas[%d].fabric", p, j), "is %q, but %s has HBA %d on %q: servers of one disk array cable HBA i to the same fabric (a failover moves HBA i's zones to the spare's HBA i)",
							hbaFabrics[j], first.path, j, first.fabrics[j])
					}
				}
			} else if !ok {
				byArray[sv.DiskArray] = cabling{path: p, fabrics: hbaFabrics}
			}
		}
		seenVLAN := map[int]bool{}
		for j, v := range sv.VLANs {
			vp := fmt.Sprintf("%s.vlans[%d]", p, j)
			if v < 1 || v > 4094 {
				c.add(vp, "VLAN %d not in 1..4094", v)
			}
			if seenVLAN[v] {
				c.add(vp, "VLAN %d listed twice", v)
			}
			seenVLAN[v] = true
		}
		switch sv.State {
		case "", string(search.Active), string(search.Standby), string(search.Maintenance):
		case string(search.Failed), string(search.Reserved):
			c.add(p+".state", "%q is a runtime state the Orchestrator sets; a site says active, standby or maintenance (apply keeps runtime states)", sv.State)
		default:
			c.add(p+".state", "%q: want active, standby or maintenance", sv.State)
		}
		if sv.Workload != "" {
			if _, ok := workloads[sv.Workload]; !ok {
				c.add(p+".workload", "workload %q is not declared in workloads", sv.Workload)
			}
			if sv.State == string(search.Standby) {
				c.add(p+".workload", "a standby server runs no workload")
			}
		}
		if sv.Priority != nil && *sv.Priority < 0 {
			c.add(p+".priority", "must not be negative")
		} else if sv.Priority != nil && *sv.Priority > search.MaxPriority {
			c.add(p+".priority", "must be at most %d", search.MaxPriority)
		}
		c.policy(p+".policy", sv.Policy)
		luns := map[int]bool{}
		for j, v := range sv.Volumes {
			vp := fmt.Sprintf("%s.volumes[%d]", p, j)
			if v.ID == "" {
				c.add(vp+".id", "is required")
			} else {
				vols.claim(c, sv.DiskArray+"\x00"+v.ID, vp+".id", "volume "+v.ID+" of "+vp)
			}
			if v.LUN < 0 || v.LUN > 16383 {
				c.add(vp+".lun", "LUN %d not in 0..16383", v.LUN)
			} else if luns[v.LUN] {
				c.add(vp+".lun", "LUN %d used twice", v.LUN)
			}
			luns[v.LUN] = true
			if v.SizeGiB < 0 {
				c.add(vp+".sizeGiB", "must not be negative")
			}
		}
		if len(sv.Volumes) > 0 && len(sv.HBAs) == 0 {
			c.add(p+".volumes", "volumes need HBAs to be masked to")
		}
	}
	c.partitions(workloads)
}

func (c *checker) serverHardware(p string, sv Server, classes map[string]Hardware) (Hardware, bool) {
	switch {
	case sv.Class != "" && sv.Hardware != nil:
		c.add(p+".hardware", "give class or hardware, not both")
	case sv.Class != "":
		hw, ok := classes[sv.Class]
		if !ok {
			c.add(p+".class", "hardware class %q is not declared in hardwareClasses", sv.Class)
		}
		return hw, ok
	case sv.Hardware != nil:
		c.hardware(p+".hardware", *sv.Hardware)
		return *sv.Hardware, true
	default:
		c.add(p, "give class (a hardware class) or hardware")
	}
	return Hardware{}, false
}

func (c *checker) serverBMC(p string, sv Server) {
	b := c.s.bmcOf(sv)
	if b.Driver == "" {
		c.add(p+".bmc.driver", "is required (here or in defaults.bmc)")
	}
	c.endpoint(p+".bmc.endpoint", sv.BMC.Endpoint)
	c.credentials(p+".bmc.credentials", sv.BMC.Credentials)
}

// partitions checks that members of a partition agree on what search
// requires them to.
func (c *checker) partitions(workloads map[string]Workload) {
	first := map[string]int{}
	for i, sv := range c.s.Servers {
		if sv.Partition == "" {
			continue
		}
		f, ok := first[sv.Partition]
		if !ok {
			first[sv.Partition] = i
			continue
		}
		a := c.s.Servers[f]
		p := fmt.Sprintf("servers[%d]", i)
		other := fmt.Sprintf("servers[%d] (%s)", f, a.ID)
		if a.Workload != sv.Workload {
			c.add(p+".workload", "%q, but partition %s member %s runs %q: members of a partition agree", sv.Workload, sv.Partition, other, a.Workload)
		}
		if c.s.priorityOf(a, workloads) != c.s.priorityOf(sv, workloads) {
			c.add(p+".priority", "partition %s members disagree on priority (%d, %s has %d)", sv.Partition, c.s.priorityOf(sv, workloads), other, c.s.priorityOf(a, workloads))
		}
		if c.s.stateOf(a) != c.s.stateOf(sv) {
			c.add(p+".state", "%s, but partition %s member %s is %s: members of a partition agree", c.s.stateOf(sv), sv.Partition, other, c.s.stateOf(a))
		}
		if !equalPolicy(a.Policy, sv.Policy) {
			c.add(p+".policy", "differs from partition %s member %s: members of a partition share one policy", sv.Partition, other)
		}
	}
	if len(first) > 0 && c.s.Partitions == nil {
		c.add("partitions", "servers are in partitions: declare the partition manager (a driver, or unmanaged: true)")
	}
}

func equalPolicy(a, b *Policy) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func (c *checker) combinations() {
	known := map[string]bool{}
	for _, sv := range c.s.Servers {
		known[sv.ID] = true
	}
	for i, combo := range c.s.Combinations {
		p := fmt.Sprintf("combinations[%d]", i)
		if len(combo) < 2 {
			c.add(p, "a combination has at least two servers")
		}
		seen := map[string]bool{}
		for j, id := range combo {
			switch {
			case !known[id]:
				c.add(fmt.Sprintf("%s[%d]", p, j), "server %q is not in servers", id)
			case seen[id]:
				c.add(fmt.Sprintf("%s[%d]", p, j), "server %q listed twice", id)
			}
			seen[id] = true
		}
	}
	if len(c.s.Combinations) > 0 && c.s.Partitions == nil {
		c.add("partitions", "combinations are listed: declare the partition manager that composes them (a driver, or unmanaged: true)")
	}
}

func (c *checker) failover() {
	f := c.s.Failover
	for _, k := range sortedKeys(f.FaultActions) {
		r := f.FaultActions[k]
		p := joinKey("failover.faultActions", k)
		if k != "default" && !slices.Contains(faultTypes, bmc.FaultType(k)) {
			c.add(p, "unknown fault type %q (want default or one of %s)", k, joinFaultTypes())
		}
		switch r.Action {
		case "now", "report":
			if r.Delay != 0 {
				c.add(p+".delay", "only after-delay takes a delay")
			}
		case "after-delay":
			if r.Delay <= 0 {
				c.add(p+".delay", "after-delay needs a positive delay")
			}
		default:
			c.add(p+".action", "%q: want now, after-delay or report", r.Action)
		}
		if r.Fence != "" && r.Fence != "graceful" && r.Fence != "force" {
			c.add(p+".fence", "%q: want graceful or force", r.Fence)
		}
	}
	t := f.Timeouts
	for name, d := range map[string]Duration{"step": t.Step, "shutdown": t.Shutdown, "dump": t.Dump, "powerOff": t.PowerOff, "boot": t.Boot,
		"health": t.Health, "rollback": t.Rollback, "poll": t.Poll, "retryBase": t.RetryBase, "retryLimit": t.RetryLimit} {
		if d < 0 {
			c.add("failover.timeouts."+name, "must not be negative")
		}
	}
	if f.Attempts < 0 {
		c.add("failover.attempts", "must not be negative")
	}
	if f.UndoAttempts < 0 {
		c.add("failover.undoAttempts", "must not be negative")
	}
	if f.Candidates < 0 {
		c.add("failover.candidates", "must not be negative")
	}
}

var faultTypes = []bmc.FaultType{bmc.FaultProcessor, bmc.FaultMemory, bmc.FaultPowerSupply, bmc.FaultWatchdog, bmc.FaultOSStop,
	bmc.FaultPowerLost, bmc.FaultBMCUnreachable, bmc.FaultTemperature, bmc.FaultBus, bmc.FaultCorrectable, bmc.FaultOther}

func joinFaultTypes() string {
	s := make([]string, len(faultTypes))
	for i, t := range faultTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

var recordID = regexp.MustCompile(`records? ([^ :]+)`)

// records runs the Orchestrator's own checks on the converted records and
// places each problem on the server it names.
func (c *checker) records() {
	recs, err := c.s.Records()
	if err == nil {
		err = failover.ValidateRecords(recs, c.s.SearchOptions()...)
	}
	if err == nil {
		return
	}
	index := map[string]int{}
	for i, sv := range c.s.Servers {
		index[sv.ID] = i
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		path := "servers"
		if m := recordID.FindStringSubmatch(e.Error()); m != nil {
			if i, ok := index[m[1]]; ok {
				path = fmt.Sprintf("servers[%d]", i)
			}
		}
		c.add(path, "%s", strings.TrimPrefix(e.Error(), "failover: "))
	}
}

// initiator parses the HBA's initiator and names its field.
func (h HBA) initiator() (storage.Initiator, string, error) {
	n := 0
	for _, v := range []string{h.WWPN, h.IQN, h.NQN} {
		if v != "" {
			n++
		}
	}
	switch {
	case n == 0:
		return storage.Initiator{}, "", errors.New("give its initiator: wwpn, iqn or nqn")
	case n > 1:
		return storage.Initiator{}, "", errors.New("give one initiator: wwpn, iqn or nqn")
	case h.WWPN != "":
		in, err := storage.ParseWWPN(h.WWPN)
		return in, ".wwpn", wrapParse("WWPN", err)
	case h.IQN != "":
		in, err := storage.ParseIQN(h.IQN)
		return in, ".iqn", wrapParse("IQN", err)
	default:
		in, err := storage.ParseNQN(h.NQN)
		return in, ".nqn", wrapParse("NQN", err)
	}
}

func wrapParse(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("not a valid %s: %w", what, err)
}
