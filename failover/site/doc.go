// Package site is the site file: an operator's description of a data
// centre (servers with their hardware, BMCs, HBAs and NICs; the disk
// arrays, fabrics, switches and partition manager with the driver type
// that reaches each; workloads with their priorities and search
// policies; the allowed combinations; the fault-action table; timeouts;
// the store), decoded strictly from YAML and validated with every
// problem's path and line, and the package that turns it into running
// parts: the Orchestrator's records (Records) and options (Options), its
// Drivers and Store built through a Registry of driver types that a
// program extends with its own (Build), and apply: the difference
// between the site and a store (Diff) and its compare-and-set write
// (Apply), which keeps every runtime state and refuses to disturb a
// failover in progress.
//
// Who imports it: programs that run coldstandby from a site file (the
// coldstandby command, daemons) and tests that describe their site once.
// It imports no driver: drivers/builtin returns a Registry with the
// drivers of this module, and drivers/fake/fakesite builds a simulated
// data centre from a site.
//
// A site file looks like this (examples/site/demo.yaml is a whole one;
// site.schema.json, from Schema, lets editors check and complete it):
//
//	apiVersion: coldstandby/v1alpha1
//	kind: Site
//	store: {bolt: state.db}            # relative to the site file
//	defaults:
//	  bmc: {driver: ipmi, credentials: {username: admin, passwordEnv: BMC_PASSWORD}}
//	workloads:
//	  - {name: web, priority: 5, policy: {anyCPUModel: true, minCPUMHz: 2400}}
//	arrays:
//	  - {name: array-1, driver: ontap, endpoint: "https://cluster1", options: {svm: svm1},
//	     credentials: {username: admin, passwordFile: secrets/ontap}}
//	fabrics:
//	  - {name: fab-a, unmanaged: true}  # zoning kept by hand
//	switches:
//	  - {name: sw-1, driver: ovs, endpoint: "unix:/run/openvswitch/db.sock"}
//	servers:
//	  - id: r01
//	    hardware: {cpuModel: "Xeon 6338 (SRKJ9)", cpuMHz: 2000, memoryMiB: 262144, chipset: C621A, nicPorts: 1, hbaPorts: 1}
//	    bmc: {endpoint: 10.1.2.3}
//	    hbas: [{wwpn: "21:00:00:24:ff:00:01:01", fabric: fab-a}]
//	    nics: [{switch: sw-1, port: eth1}]
//	    diskArray: array-1
//	    workload: web
//
// Credentials are references only (an environment variable or a file);
// a field that would hold a secret inline is an error.
package site
