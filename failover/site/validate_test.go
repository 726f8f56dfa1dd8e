package site_test

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/site"
	"github.com/coldstandby/coldstandby/search"
)

const demoFile = "../../examples/site/demo.yaml"

// base is a small valid site.
const base = `apiVersion: coldstandby/v1alpha1
kind: Site
defaults:
  bmc: {driver: fake}
hardwareClasses:
  - {name: A, cpuModel: X1, cpuMHz: 2000, memoryMiB: 65536, chipset: C1, nicPorts: 1, hbaPorts: 2}
workloads:
  - {name: web, priority: 5, policy: {preempt: true}}
arrays:
  - {name: array-1, driver: fake, targets: [{wwpn: "50:00:00:00:00:00:00:01", fabric: fab-a}]}
fabrics:
  - {name: fab-a, driver: fake}
  - {name: fab-b, driver: fake}
switches:
  - {name: sw-1, driver: fake}
servers:
  - id: s1
    class: A
    hbas: [{wwpn: "21:00:00:00:00:00:01:01", fabric: fab-a}, {wwpn: "21:00:00:00:00:00:01:02", fabric: fab-b}]
    nics: [{switch: sw-1, port: p1}]
    diskArray: array-1
    zone: z-s1
    vlans: [10]
    workload: web
    volumes: [{id: boot-s1, lun: 0}]
  - id: s2
    class: A
    hbas: [{wwpn: "21:00:00:00:00:00:02:01", fabric: fab-a}, {wwpn: "21:00:00:00:00:00:02:02", fabric: fab-b}]
    nics: [{switch: sw-1, port: p2}]
    diskArray: array-1
    vlans: [999]
`

// aboveMaxPriority is a priority out of range where int has 64 bits
// (where it has 32, none is: the absurd cases skip).
var aboveMaxPriority = func() int { p := search.MaxPriority; return p + 1 }()

func decode(t *testing.T, y string) *site.Site {
	t.Helper()
	s, err := site.Decode([]byte(y))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return s
}

func problems(t *testing.T, err error) []site.Problem {
	t.Helper()
	if err == nil {
		return nil
	}
	var se *site.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *site.Error", err)
	}
	if !errors.Is(err, failover.ErrInvalid) {
		t.Errorf("error does not wrap ErrInvalid")
	}
	return se.Problems
}

func TestBaseSiteIsValid(t *testing.T) {
	if err := decode(t, base).Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := site.Load(demoFile); err != nil {
		t.Fatal(err)
	}
}

// Every validation rule, with the path the problem is reported at.
func TestValidateReportsEachRuleAtItsPath(t *testing.T) {
	for _, tc := range []struct {
		name, path, msg string
		edit            func(s *site.Site)
	}{
		{"api version", "apiVersion", "want", func(s *site.Site) { s.APIVersion = "v0" }},
		{"kind", "kind", "want", func(s *site.Site) { s.Kind = "Cluster" }},
		{"bolt and etcd", "store", "not both", func(s *site.Site) { s.Store = site.Store{Bolt: "x", Etcd: &site.Etcd{Endpoints: []string{"h:2379"}}} }},
		{"etcd without endpoints", "store.etcd.endpoints", "at least one", func(s *site.Site) { s.Store.Etcd = &site.Etcd{} }},
		{"class without name", "hardwareClasses[0].name", "required", func(s *site.Site) { s.HardwareClasses[0].Name = "" }},
		{"class twice", "hardwareClasses[1].name", "twice", func(s *site.Site) { s.HardwareClasses = append(s.HardwareClasses, s.HardwareClasses[0]) }},
		{"class without MHz", "hardwareClasses[0].cpuMHz", "positive", func(s *site.Site) { s.HardwareClasses[0].CPUMHz = 0 }},
		{"workload twice", "workloads[1].name", "twice", func(s *site.Site) { s.Workloads = append(s.Workloads, s.Workloads[0]) }},
		{"negative priority", "workloads[0].priority", "negative", func(s *site.Site) { s.Workloads[0].Priority = -1 }},
		{"absurd priority", "workloads[0].priority", "at most", func(s *site.Site) { s.Workloads[0].Priority = aboveMaxPriority }},
		{"negative policy", "workloads[0].policy.minCPUMHz", "negative", func(s *site.Site) { s.Workloads[0].Policy.MinCPUMHz = -1 }},
		{"device without driver", "arrays[0].driver", "required", func(s *site.Site) { s.Arrays[0].Driver = "" }},
		{"unmanaged with driver", "fabrics[0].unmanaged", "no driver", func(s *site.Site) { s.Fabrics[0].Unmanaged = true }},
		{"device twice", "switches[1].name", "twice", func(s *site.Site) { s.Switches = append(s.Switches, s.Switches[0]) }},
		{"password in endpoint", "arrays[0].endpoint", "password", func(s *site.Site) { s.Arrays[0].Endpoint = "https://admin:pw@array" }},
		{"secret in options", `switches[0].options.token`, "secrets", func(s *site.Site) { s.Switches[0].Options = map[string]string{"token": "x"} }},
		{"credentials without password ref", "arrays[0].credentials", "passwordEnv", func(s *site.Site) { s.Arrays[0].Credentials = &site.Credentials{Username: "u"} }},
		{"credentials with both refs", "arrays[0].credentials", "not both", func(s *site.Site) {
			s.Arrays[0].Credentials = &site.Credentials{PasswordEnv: "A", PasswordFile: "f"}
		}},
		{"bad env name", "arrays[0].credentials.passwordEnv", "not an environment", func(s *site.Site) { s.Arrays[0].Credentials = &site.Credentials{PasswordEnv: "A-B"} }},
		{"bad target", "arrays[0].targets[0].wwpn", "WWPN", func(s *site.Site) { s.Arrays[0].Targets[0].WWPN = "zz" }},
		{"target on unknown fabric", "arrays[0].targets[0].fabric", "not declared", func(s *site.Site) { s.Arrays[0].Targets[0].Fabric = "fab-z" }},
		{"server without id", "servers[1].id", "required", func(s *site.Site) { s.Servers[1].ID = "" }},
		{"server twice", "servers[1].id", "also", func(s *site.Site) { s.Servers[1].ID = "s1" }},
		{"class and hardware", "servers[0].hardware", "not both", func(s *site.Site) { s.Servers[0].Hardware = &site.Hardware{} }},
		{"no hardware", "servers[0]", "class", func(s *site.Site) { s.Servers[0].Class = "" }},
		{"unknown class", "servers[0].class", "not declared", func(s *site.Site) { s.Servers[0].Class = "Z" }},
		{"no BMC driver", "servers[0].bmc.driver", "required", func(s *site.Site) { s.Defaults.BMC.Driver = "" }},
		{"bad wwpn", "servers[0].hbas[0].wwpn", "WWPN", func(s *site.Site) { s.Servers[0].HBAs[0].WWPN = "21:00" }},
		{"two initiators", "servers[0].hbas[0]", "one initiator", func(s *site.Site) { s.Servers[0].HBAs[0].IQN = "iqn.2020-01.com.x:y" }},
		{"no initiator", "servers[0].hbas[0]", "wwpn, iqn or nqn", func(s *site.Site) { s.Servers[0].HBAs[0] = site.HBA{} }},
		{"initiator twice", "servers[1].hbas[0].wwpn", "also", func(s *site.Site) { s.Servers[1].HBAs[0].WWPN = s.Servers[0].HBAs[0].WWPN }},
		{"fabric on iSCSI", "servers[0].hbas[1].fabric", "Fibre Channel", func(s *site.Site) {
			s.Servers[0].HBAs[1] = site.HBA{IQN: "iqn.2020-01.com.x:y", Fabric: "fab-b"}
		}},
		{"undeclared fabric", "servers[0].hbas[0].fabric", "not declared", func(s *site.Site) { s.Servers[0].HBAs[0].Fabric = "fab-z" }},
		{"HBA i on another fabric", "servers[1].hbas[1].fabric", "same fabric", func(s *site.Site) { s.Servers[1].HBAs[1].Fabric = "fab-a" }},
		{"HBA count", "servers[0].hbas", "HBA ports", func(s *site.Site) { s.Servers[0].HBAs = s.Servers[0].HBAs[:1] }},
		{"NIC count", "servers[0].nics", "NIC ports", func(s *site.Site) {
			s.Servers[0].NICs = append(s.Servers[0].NICs, site.NIC{Switch: "sw-1", Port: "p9"})
		}},
		{"undeclared switch", "servers[0].nics[0].switch", "not declared", func(s *site.Site) { s.Servers[0].NICs[0].Switch = "sw-9" }},
		{"port without name", "servers[0].nics[0].port", "required", func(s *site.Site) { s.Servers[0].NICs[0].Port = "" }},
		{"port twice", "servers[1].nics[0]", "also", func(s *site.Site) { s.Servers[1].NICs[0].Port = "p1" }},
		{"undeclared server switch", "servers[0].switch", "not declared", func(s *site.Site) { s.Servers[0].Switch = "sw-9" }},
		{"undeclared array", "servers[0].diskArray", "not declared", func(s *site.Site) { s.Servers[0].DiskArray = "array-9" }},
		{"HBAs without array", "servers[0].diskArray", "required", func(s *site.Site) { s.Servers[0].DiskArray = "" }},
		{"VLAN out of range", "servers[0].vlans[0]", "1..4094", func(s *site.Site) { s.Servers[0].VLANs = []int{4095} }},
		{"VLAN twice", "servers[0].vlans[1]", "twice", func(s *site.Site) { s.Servers[0].VLANs = []int{10, 10} }},
		{"runtime state", "servers[0].state", "runtime", func(s *site.Site) { s.Servers[0].State = "failed" }},
		{"unknown state", "servers[0].state", "want active", func(s *site.Site) { s.Servers[0].State = "busy" }},
		{"undeclared workload", "servers[0].workload", "not declared", func(s *site.Site) { s.Servers[0].Workload = "db" }},
		{"standby with workload", "servers[0].workload", "standby", func(s *site.Site) { s.Servers[0].State = "standby" }},
		{"negative server priority", "servers[0].priority", "negative", func(s *site.Site) { p := -1; s.Servers[0].Priority = &p }},
		{"absurd server priority", "servers[0].priority", "at most", func(s *site.Site) { p := aboveMaxPriority; s.Servers[0].Priority = &p }},
		{"volume without id", "servers[0].volumes[0].id", "required", func(s *site.Site) { s.Servers[0].Volumes[0].ID = "" }},
		{"volume LUN range", "servers[0].volumes[0].lun", "0..16383", func(s *site.Site) { s.Servers[0].Volumes[0].LUN = 20000 }},
		{"LUN twice", "servers[0].volumes[1].lun", "twice", func(s *site.Site) {
			s.Servers[0].Volumes = append(s.Servers[0].Volumes, site.Volume{ID: "data", LUN: 0})
		}},
		{"volume twice", "servers[1].volumes[0].id", "also", func(s *site.Site) { s.Servers[1].Volumes = s.Servers[0].Volumes }},
		{"volumes without HBAs", "servers[0].volumes", "HBAs", func(s *site.Site) { s.Servers[0].HBAs = nil }},
		{"partition without manager", "partitions", "partition manager", func(s *site.Site) {
			s.Servers[0].Partition, s.Servers[1].Partition, s.Servers[1].Workload = "lp", "lp", "web"
		}},
		{"partition members disagree", "servers[1].workload", "members of a partition agree", func(s *site.Site) {
			s.Partitions = &site.Device{Driver: "fake"}
			s.Servers[0].Partition, s.Servers[1].Partition = "lp", "lp"
		}},
		{"partition policies disagree", "servers[1].policy", "one policy", func(s *site.Site) {
			s.Partitions = &site.Device{Driver: "fake"}
			s.Servers[0].Partition, s.Servers[1].Partition, s.Servers[1].Workload = "lp", "lp", "web"
			s.Servers[1].Policy = &site.Policy{AnySwitch: true}
		}},
		{"combination of one", "combinations[0]", "at least two", func(s *site.Site) { s.Combinations = [][]string{{"s1"}}; s.Partitions = &site.Device{Unmanaged: true} }},
		{"combination of unknown server", "combinations[0][1]", "not in servers", func(s *site.Site) {
			s.Combinations = [][]string{{"s1", "s9"}}
			s.Partitions = &site.Device{Unmanaged: true}
		}},
		{"combinations without manager", "partitions", "combinations", func(s *site.Site) { s.Combinations = [][]string{{"s1", "s2"}} }},
		{"partition manager with a name", "partitions.name", "no name", func(s *site.Site) { s.Partitions = &site.Device{Name: "x", Driver: "fake"} }},
		{"unknown fault type", "failover.faultActions.meteor", "unknown fault type", func(s *site.Site) {
			s.Failover.FaultActions = map[string]site.FaultRule{"meteor": {Action: "now"}}
		}},
		{"unknown action", "failover.faultActions.memory.action", "want now", func(s *site.Site) {
			s.Failover.FaultActions = map[string]site.FaultRule{"memory": {Action: "panic"}}
		}},
		{"unknown fencing", "failover.faultActions.memory.fence", "want graceful or force", func(s *site.Site) {
			s.Failover.FaultActions = map[string]site.FaultRule{"memory": {Action: "now", Fence: "gently"}}
		}},
		{"after-delay without delay", "failover.faultActions.temperature.delay", "positive", func(s *site.Site) {
			s.Failover.FaultActions = map[string]site.FaultRule{"temperature": {Action: "after-delay"}}
		}},
		{"delay on now", "failover.faultActions.default.delay", "only after-delay", func(s *site.Site) {
			s.Failover.FaultActions = map[string]site.FaultRule{"default": {Action: "now", Delay: 1}}
		}},
		{"negative timeout", "failover.timeouts.boot", "negative", func(s *site.Site) { s.Failover.Timeouts.Boot = -1 }},
		{"negative attempts", "failover.attempts", "negative", func(s *site.Site) { s.Failover.Attempts = -1 }},
		{"negative candidates", "failover.candidates", "negative", func(s *site.Site) { s.Failover.Candidates = -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.name, "absurd") && strconv.IntSize == 32 {
				t.Skip("no int is above search.MaxPriority where int has 32 bits")
			}
			s := decode(t, base)
			tc.edit(s)
			probs := problems(t, s.Validate())
			found := false
			for _, p := range probs {
				if p.Path == tc.path && strings.Contains(p.Msg, tc.msg) {
					found = true
				}
				if p.Line == 0 {
					t.Errorf("problem without a line: %v", p)
				}
			}
			if !found {
				t.Errorf("no problem at %s containing %q; got %v", tc.path, tc.msg, probs)
			}
		})
	}
}

// Decoding is strict, and every problem of the file comes at once with
// its path and line.
func TestDecodeReportsEveryProblemWithPathAndLine(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []site.Problem // Msg: a substring
	}{
		{"unknown field", "apiVersion: x\nkind: Site\nservers: []\nsevrers: []\n", []site.Problem{{Path: "sevrers", Line: 4, Msg: "unknown field"}}},
		{"field name case", "apiVersion: x\nkind: Site\nServers: []\n", []site.Problem{{Path: "Servers", Line: 3, Msg: `did you mean "servers"`}}},
		{"inline secret", "servers:\n  - id: a\n    bmc: {password: hunter2}\n", []site.Problem{{Path: "servers[0].bmc.password", Line: 3, Msg: "secrets are never written"}}},
		{"field twice", "kind: Site\nkind: Site\n", []site.Problem{{Path: "kind", Line: 2, Msg: "twice"}}},
		{"wrong kind of value", "servers: {a: 1}\n", []site.Problem{{Path: "servers", Line: 1, Msg: "want a list"}}},
		{"octal-looking integer", "servers:\n  - id: a\n    vlans: [010]\n", []site.Problem{{Path: "servers[0].vlans[0]", Line: 3, Msg: "decimal"}}},
		{"hex integer", "failover: {attempts: 0x10}\n", []site.Problem{{Path: "failover.attempts", Line: 1, Msg: "decimal"}}},
		{"quoted bool", "failover: {nmi: \"true\"}\n", []site.Problem{{Path: "failover.nmi", Line: 1, Msg: "true or false"}}},
		{"yes for a bool", "failover: {nmi: yes}\n", []site.Problem{{Path: "failover.nmi", Line: 1, Msg: "true or false"}}},
		{"bad duration", "failover: {timeouts: {boot: 5 minutes}}\n", []site.Problem{{Path: "failover.timeouts.boot", Line: 1, Msg: "not a duration"}}},
		{"unquoted yes for a string", "servers:\n  - id: a\n    workload: yes\n", []site.Problem{{Path: "servers[0].workload", Line: 3, Msg: "quotes"}}},
		{"unquoted 007 for a string", "servers:\n  - id: a\n    nics: [{switch: s, port: 007}]\n", []site.Problem{{Path: "servers[0].nics[0].port", Line: 3, Msg: "quotes"}}},
		{"two documents", "kind: Site\n---\nkind: Site\n", []site.Problem{{Line: 2, Msg: "more than one"}}},
		{"not YAML", "servers: [\n", []site.Problem{{Line: 1, Msg: "not valid YAML"}}},
		{"empty", "", []site.Problem{{Line: 1, Msg: "empty"}}},
		{"several at once", "kind: Site\nfoo: 1\nservers:\n  - id: a\n    bar: 2\n    vlans: [x]\n",
			[]site.Problem{{Path: "foo", Line: 2, Msg: "unknown"}, {Path: "servers[0].bar", Line: 5, Msg: "unknown"}, {Path: "servers[0].vlans[0]", Line: 6, Msg: "decimal"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := site.Decode([]byte(tc.yaml))
			probs := problems(t, err)
			if len(probs) != len(tc.want) {
				t.Fatalf("problems %v, want %d", probs, len(tc.want))
			}
			for i, w := range tc.want {
				p := probs[i]
				if p.Path != w.Path || p.Line != w.Line || !strings.Contains(p.Msg, w.Msg) {
					t.Errorf("problem %d = %+v, want %+v", i, p, w)
				}
			}
		})
	}
}

// Anchors and merge keys work, and the values they bring are checked.
func TestDecodeFollowsAnchorsAndMergeKeys(t *testing.T) {
	y := base + `  - id: s3
    <<: &wired {class: A, diskArray: array-1, vlans: [999]}
    hbas: [{wwpn: "21:00:00:00:00:00:03:01", fabric: fab-a}, {wwpn: "21:00:00:00:00:00:03:02", fabric: fab-b}]
    nics: [{switch: sw-1, port: p3}]
`
	s := decode(t, y)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if sv := s.Servers[2]; sv.Class != "A" || sv.DiskArray != "array-1" {
		t.Errorf("merged server = %+v", sv)
	}
	_, err := site.Decode([]byte(base + "  - <<: {id: s4, bogus: 1}\n"))
	if probs := problems(t, err); len(probs) != 1 || !strings.Contains(probs[0].Msg, "unknown field") {
		t.Errorf("merged unknown field: %v", probs)
	}
}

func TestLoadReportsFormAndContentProblemsTogether(t *testing.T) {
	f := t.TempDir() + "/site.yaml"
	y := strings.Replace(base, "port: p2", "port: 007", 1)
	y = strings.Replace(y, "vlans: [10]", "vlans: [5000]", 1)
	if err := os.WriteFile(f, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := site.Load(f)
	probs := problems(t, err)
	var paths []string
	for _, p := range probs {
		paths = append(paths, p.Path)
	}
	if len(probs) != 2 || probs[0].Path != "servers[0].vlans[0]" || probs[1].Path != "servers[1].nics[0].port" {
		t.Errorf("problems at %v, want servers[0].vlans[0] and servers[1].nics[0].port", paths)
	}
	if !strings.Contains(err.Error(), f) {
		t.Errorf("error %q does not name the file", err)
	}
}
