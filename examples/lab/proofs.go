package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/coldstandby/coldstandby/drivers/tgt"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
	"github.com/coldstandby/coldstandby/storage"
)

// disk is a LUN as an initiator sees it through libiscsi's tools: its
// number, size and identity (the unit serial number and device
// identification VPD pages, as iscsi-inq prints them).
type disk struct {
	Target string
	LUN    int
	Size   int64
	Serial string // VPD page 0x80
	DevID  string // VPD page 0x83
}

func (d disk) String() string {
	return fmt.Sprintf("LUN %d of %s, %d MiB, serial %q, device identification %s", d.LUN, d.Target, d.Size>>20, d.Serial, designators(d.DevID))
}

// designators summarises iscsi-inq's device identification page: the
// designator types, with the text of the ASCII ones.
func designators(page string) string {
	var out []string
	typ, ascii := "", false
	for _, line := range strings.Split(page, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "Code Set:"):
			ascii = strings.Contains(line, "ASCII")
		case strings.HasPrefix(line, "Designator Type:"):
			typ = strings.TrimSpace(line[strings.IndexByte(line, ')')+1:])
		case strings.HasPrefix(line, "Designator:"):
			if ascii {
				typ += " " + strings.TrimSuffix(strings.TrimPrefix(line, "Designator:["), "]")
			}
			out = append(out, typ)
		}
	}
	return "[" + strings.Join(out, ", ") + "]"
}

// seenBy lists the data LUNs initiator sees on the lab's tgtd
// (iscsi-ls -s, logged in as that initiator name).
func (l *Lab) seenBy(ctx context.Context, in storage.Initiator) ([]disk, error) {
	out, err := run(ctx, nil, "iscsi-ls", "-i", in.String(), "-s", "iscsi://"+l.TGT.Portal())
	if err != nil {
		return nil, err
	}
	var ds []disk
	var target string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "Target:"); ok {
			target, _, _ = strings.Cut(rest, " ")
			continue
		}
		if rest, ok := strings.CutPrefix(line, "Lun:"); ok && strings.Contains(line, "DIRECT_ACCESS") {
			n, _, _ := strings.Cut(rest, " ")
			lun, err := strconv.Atoi(strings.TrimSpace(n))
			if err != nil {
				return nil, fmt.Errorf("iscsi-ls: %q", line)
			}
			ds = append(ds, disk{Target: target, LUN: lun})
		}
	}
	return ds, nil
}

// identify reads volume v as initiator: its size (iscsi-readcapacity16)
// and its unit serial number and device identification VPD pages
// (iscsi-inq -e 1 -c 0x80, 0x83).
func (l *Lab) identify(ctx context.Context, in storage.Initiator, v storage.VolumeID) (disk, error) {
	name, lun, err := tgt.ParseVolumeID(v)
	if err != nil {
		return disk{}, err
	}
	u := fmt.Sprintf("iscsi://%s/%s/%d", l.TGT.Portal(), name, lun)
	d := disk{Target: name, LUN: lun}
	out, err := run(ctx, nil, "iscsi-readcapacity16", "-i", in.String(), "-s", u)
	if err != nil {
		return d, err
	}
	if d.Size, err = strconv.ParseInt(strings.TrimSpace(out), 10, 64); err != nil {
		return d, fmt.Errorf("iscsi-readcapacity16 -s: %q", out)
	}
	if d.Serial, err = run(ctx, nil, "iscsi-inq", "-i", in.String(), "-e", "1", "-c", "128", u); err != nil {
		return d, err
	}
	serial := d.Serial
	if _, v, ok := strings.Cut(serial, "Unit Serial Number:["); ok {
		serial, _, _ = strings.Cut(v, "]")
	}
	d.Serial = strings.TrimSpace(serial)
	if d.DevID, err = run(ctx, nil, "iscsi-inq", "-i", in.String(), "-e", "1", "-c", "131", u); err != nil {
		return d, err
	}
	return d, nil
}

// Proof is one check of a failover's outcome, made with a peer's own
// tool.
type Proof struct {
	Name   string
	OK     bool
	Detail string
}

// Proofs are an act's checks.
type Proofs []Proof

func (ps *Proofs) add(name string, ok bool, format string, args ...any) {
	*ps = append(*ps, Proof{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
}

// Failed returns the names of the proofs that failed.
func (ps Proofs) Failed() []string {
	var out []string
	for _, p := range ps {
		if !p.OK {
			out = append(out, p.Name)
		}
	}
	return out
}

// Print writes one line per proof.
func (ps Proofs) Print(w io.Writer) {
	for _, p := range ps {
		mark := "ok  "
		if !p.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %-22s %s\n", mark, p.Name, p.Detail)
	}
}

// Before is what the lab recorded before a fault, with the peers' tools:
// the failed server's boot disk as its own initiator sees it.
type Before struct {
	Boot disk
}

// Record reads s's boot disk as s's initiator: it must see exactly that
// LUN. It is what the proofs compare with after the failover.
func (l *Lab) Record(ctx context.Context, s *server, boot storage.VolumeID) (Before, error) {
	seen, err := l.seenBy(ctx, s.IQN)
	if err != nil {
		return Before{}, err
	}
	name, lun, _ := tgt.ParseVolumeID(boot)
	if len(seen) != 1 || seen[0].Target != name || seen[0].LUN != lun {
		return Before{}, fmt.Errorf("%s sees %v before the fault, want only LUN %d of %s", s.ID, seen, lun, name)
	}
	d, err := l.identify(ctx, s.IQN, boot)
	return Before{Boot: d}, err
}

// Expect is what an act must end with.
type Expect struct {
	Failed, Taker *server
	Workload      string
	Boot          storage.VolumeID // the workload's boot volume
	VLAN          int              // the workload's VLAN
	// Victim is a preempted server whose boot volume is parked (no
	// server sees it).
	Victim *server
}

// Prove checks act's outcome with the peers' own tools: libiscsi as each
// initiator, ping in the servers' namespaces and ovs-vsctl, ipmitool
// against each BMC, and etcd's client on the store's keys.
func (l *Lab) Prove(ctx context.Context, act *Act, before Before, e Expect) Proofs {
	var ps Proofs
	name, lun, _ := tgt.ParseVolumeID(e.Boot)

	// Storage: the taker sees the same LUN, the same disk.
	seen, err := l.seenBy(ctx, e.Taker.IQN)
	want := []disk{{Target: name, LUN: lun}}
	ps.add("storage/taker-sees", err == nil && slices.Equal(seen, want),
		"as %s (%s), iscsi-ls lists %v (want only LUN %d of %s) %v", e.Taker.ID, e.Taker.IQN, targets(seen), lun, name, errOrNil(err))
	got, err := l.identify(ctx, e.Taker.IQN, e.Boot)
	ps.add("storage/same-disk", err == nil && got == before.Boot,
		"as %s: %s; before the fault, as %s: %s; VPD 0x80 and 0x83 %s %v",
		e.Taker.ID, got, e.Failed.ID, before.Boot, sameOrNot(got.Serial == before.Boot.Serial && got.DevID == before.Boot.DevID), errOrNil(err))
	// The failed server is shut out.
	seen, err = l.seenBy(ctx, e.Failed.IQN)
	ps.add("storage/failed-sees-none", err == nil && len(seen) == 0, "as %s (%s), iscsi-ls lists %v %v", e.Failed.ID, e.Failed.IQN, targets(seen), errOrNil(err))
	out, err := run(ctx, nil, "iscsi-inq", "-i", e.Failed.IQN.String(), fmt.Sprintf("iscsi://%s/%s/%d", l.TGT.Portal(), name, lun))
	ps.add("storage/failed-refused", err != nil && strings.Contains(err.Error(), "Login Failed"),
		"as %s, iscsi-inq of LUN %d: %s", e.Failed.ID, lun, firstLine(errText(err, out)))
	if v := e.Victim; v != nil {
		var lines []string
		parked := true
		for _, s := range l.Servers {
			seen, err := l.seenBy(ctx, s.IQN)
			for _, d := range seen {
				if storage.VolumeID(fmt.Sprintf("%s/%d", d.Target, d.LUN)) == v.Boot {
					parked = false
				}
			}
			if err != nil {
				parked = false
			}
			lines = append(lines, fmt.Sprintf("%s %v", s.ID, targets(seen)))
		}
		ps.add("storage/victim-parked", parked, "%s's %s is masked to no server: iscsi-ls as %s", v.ID, v.Boot, strings.Join(lines, ", "))
	}

	// Network: the taker's NIC is on the workload's VLAN and reaches it;
	// the failed server's NIC reaches nothing (it is off).
	peer := l.Peers[e.VLAN]
	tag, err := l.Net.portTag(ctx, e.Taker.NIC.Port)
	ps.add("network/taker-vlan", err == nil && tag == strconv.Itoa(e.VLAN), "ovs-vsctl get port %s tag: %s (want %d) %v", e.Taker.NIC.Port, tag, e.VLAN, errOrNil(err))
	ps.add("network/taker-reaches", ping(ctx, e.Taker.NIC.NS, peer.Addr, 3), "%s's namespace pings %s on VLAN %d", e.Taker.ID, peer.Addr, e.VLAN)
	for _, v := range slices.Sorted(maps.Keys(l.Peers)) {
		if other := l.Peers[v]; v != e.VLAN {
			ps.add("network/isolated", !ping(ctx, e.Taker.NIC.NS, other.Addr, 1), "%s's namespace does not reach %s on VLAN %d", e.Taker.ID, other.Addr, v)
		}
	}
	ps.add("network/failed-cut", !ping(ctx, e.Failed.NIC.NS, peer.Addr, 1), "%s's namespace does not reach %s (its NIC went down with its power)", e.Failed.ID, peer.Addr)

	// BMCs, through ipmitool.
	power := func(s *server) string {
		out, err := s.Sim.Ipmitool(ctx, "chassis", "power", "status")
		if err != nil {
			return err.Error()
		}
		return strings.TrimSpace(out)
	}
	p := power(e.Failed)
	ps.add("bmc/failed-off", p == "Chassis Power is off", "%s: ipmitool chassis power status: %s", e.Failed.ID, p)
	if v := e.Victim; v != nil && v != e.Taker {
		p := power(v)
		ps.add("bmc/victim-off", p == "Chassis Power is off", "%s: %s", v.ID, p)
	}
	p = power(e.Taker)
	ps.add("bmc/taker-on", p == "Chassis Power is on", "%s: ipmitool chassis power status: %s", e.Taker.ID, p)
	out, err = e.Taker.Sim.Ipmitool(ctx, "chassis", "bootparam", "get", "5")
	sel := "?"
	for _, l := range strings.Split(out, "\n") {
		if _, v, ok := strings.Cut(l, "Boot Device Selector :"); ok {
			sel = strings.TrimSpace(v)
		}
	}
	ps.add("bmc/taker-boots-disk", err == nil && sel == "Force Boot from default Hard-Drive", "%s: ipmitool chassis bootparam get 5: %s %v", e.Taker.ID, sel, errOrNil(err))

	// The store: etcd holds the closed journal and the new records.
	ps = append(ps, l.proveStore(ctx, act, e)...)
	return ps
}

// proveStore reads the store's keys with etcd's client: the failover's
// journal ends with its end entry and is no longer listed open; the
// records say who runs the workload.
func (l *Lab) proveStore(ctx context.Context, act *Act, e Expect) Proofs {
	var ps Proofs
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{l.Etcd.Endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		ps.add("etcd/journal-closed", false, "%v", err)
		return ps
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	prefix := l.Site.Store.Etcd.Prefix
	id := act.Failover.Failover.ID
	resp, err := cli.Get(ctx, prefix+"j/"+url.PathEscape(id)+"/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	var last failover.Entry
	n := 0
	if err == nil {
		n = len(resp.Kvs)
		if n > 0 {
			err = json.Unmarshal(resp.Kvs[n-1].Value, &last)
		}
	}
	open, oerr := cli.Get(ctx, prefix+"open/"+url.PathEscape(id))
	ps.add("etcd/journal-closed", err == nil && oerr == nil && n > 0 && last.Phase == failover.PhaseEnd && len(open.Kvs) == 0,
		"%s: %d entries under %sj/, the last %q (seq %d); open marker present: %v %v", id, n, prefix, last.Phase, last.Seq, oerr == nil && len(open.Kvs) > 0, errOrNil(err))
	rec := func(s *server) (failover.Record, error) {
		var r failover.Record
		resp, err := cli.Get(ctx, prefix+"rec/"+s.ID)
		if err == nil && len(resp.Kvs) == 1 {
			err = json.Unmarshal(resp.Kvs[0].Value, &r)
		} else if err == nil {
			err = fmt.Errorf("no record")
		}
		return r, err
	}
	fr, err1 := rec(e.Failed)
	tr, err2 := rec(e.Taker)
	ps.add("etcd/records", err1 == nil && err2 == nil && fr.State == search.Failed && fr.MovedTo == search.ServerID(e.Taker.ID) &&
		tr.State == search.Active && tr.Workload == e.Workload,
		"rec/%s: %s, moved to %s; rec/%s: %s running %s %v", e.Failed.ID, fr.State, fr.MovedTo, e.Taker.ID, tr.State, tr.Workload, errOrNil(cmpErr(err1, err2)))
	if v := e.Victim; v != nil {
		vr, err := rec(v)
		var parked []string
		for _, p := range vr.Parked {
			parked = append(parked, fmt.Sprintf("%s lun %d", p.Volume, p.LUN))
		}
		ok := err == nil && len(vr.Parked) == 1 && vr.Parked[0].Volume == v.Boot
		ps.add("etcd/victim-parked", ok, "rec/%s parks %v %v", v.ID, parked, errOrNil(err))
	}
	return ps
}

func targets(ds []disk) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s lun %d", d.Target[strings.LastIndexByte(d.Target, ':')+1:], d.LUN))
	}
	return out
}

func errOrNil(err error) string {
	if err == nil {
		return ""
	}
	return "(" + err.Error() + ")"
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func errText(err error, out string) string {
	if err != nil {
		return err.Error()
	}
	return "no error: " + out
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if i := strings.Index(s, "Login Failed"); i >= 0 {
		return s[i:]
	}
	return s
}

func sameOrNot(same bool) string {
	if same {
		return "identical"
	}
	return "DIFFER"
}
