package search

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
)

// FindScale plans one scale request alone: for a ScaleOut, Count logical
// servers planned jointly (nothing used twice); for a ScaleUp, one. Each
// goes through the same stages and ranking as a failure (exact, recomposed,
// relaxed, preempted when the policy has Preempt), and an unplaced one has
// Kind 0 and a Reason counting why every server was rejected. The error
// wraps ErrNoSpare when some are unplaced, ErrInvalid for a bad request
// (unknown or not Active Like, no template, a template with negative or
// absurd sizes, a negative Count, a ScaleUp that asks for nothing bigger).
func (inv *Inventory) FindScale(r ScaleRequest) ([]Plan, error) {
	jp, err := inv.findJoint("find scale", nil, []ScaleRequest{r})
	if jp == nil {
		return nil, err
	}
	return jp.Scale[0], err
}

// scaleRequests builds the requests of scale request r (index si).
func (inv *Inventory) scaleRequests(op string, si int, r *ScaleRequest) ([]request, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("search: %s: %s: "+format+": %w", append([]any{op, scaleName(r)}, append(args, ErrInvalid)...)...)
	}
	base := request{kind: rkScaleOut, self: -1, ls: -1, scale: si}
	var likeLS int32 = -1
	if r.Like != "" {
		i, ok := inv.index(r.Like)
		if !ok {
			return nil, bad("unknown server")
		}
		s := &inv.srvs[i]
		if s.state != stActive {
			return nil, bad("server is %s, not active", stateNames[s.state])
		}
		likeLS = s.ls
		base.prio = int(s.prio)
		base.pol = inv.policies[inv.ls[s.ls].pol]
		for _, m := range inv.lsMembers(s.ls) {
			base.nodes = append(base.nodes, inv.nodeOf(m))
		}
	}
	switch r.Kind {
	case ScaleOut:
		if r.Count < 0 || r.Count > len(inv.srvs) {
			return nil, bad("count %d out of range", r.Count)
		}
		if r.Like == "" {
			if len(r.Template) == 0 {
				return nil, bad("neither Like nor Template")
			}
			for k := range r.Template {
				f, err := inv.templateNode(&r.Template[k])
				if err != nil {
					return nil, bad("template node %d: %v", k, err)
				}
				base.nodes = append(base.nodes, f)
			}
			if r.Priority > MaxPriority || r.Priority < -MaxPriority {
				return nil, bad("priority %d out of range (±%d)", r.Priority, MaxPriority)
			}
			base.prio = r.Priority
			if w, ok := inv.strID(r.Workload); ok {
				if p, ok := inv.wlPolicy[w]; ok {
					base.pol = inv.policies[p]
				}
			}
		} else {
			// New logical servers like Like's: its members as templates.
			for k := range base.nodes {
				base.nodes[k].idx = -1
			}
		}
	case ScaleUp:
		if r.Like == "" {
			return nil, bad("a scale-up needs Like")
		}
		base.kind, base.self, base.ls = rkScaleUp, base.nodes[0].idx, likeLS
		var maxMHz, tot int
		for k := range base.nodes {
			maxMHz = max(maxMHz, base.nodes[k].h.CPUMHz)
			tot += base.nodes[k].h.MemoryMiB
		}
		if r.MinCPUMHz < 0 || r.MinMemoryMiB < 0 || r.MinCPUMHz > maxMHz2 || int64(r.MinMemoryMiB) > maxMiB {
			return nil, bad("size out of range")
		}
		if r.MinCPUMHz <= maxMHz && r.MinMemoryMiB <= tot {
			return nil, bad("%d MHz and %d MiB are not bigger than %d MHz and %d MiB", r.MinCPUMHz, r.MinMemoryMiB, maxMHz, tot)
		}
	default:
		return nil, bad("unknown kind %d", int(r.Kind))
	}
	if r.Policy != nil {
		p := *r.Policy
		if p.MinCPUMHz < 0 || p.MinMemoryMiB < 0 || p.ScaleInMin < 0 || p.MinCPUMHz > maxMHz2 || int64(p.MinMemoryMiB) > maxMiB {
			return nil, bad("policy minimum out of range")
		}
		base.pol = p
	}
	if r.Kind == ScaleUp {
		// The bigger logical server: at least these sizes; exactly these
		// sizes (memory split evenly) is the exact stage.
		var maxMHz, tot int
		for k := range base.nodes {
			maxMHz = max(maxMHz, base.nodes[k].h.CPUMHz)
			tot += base.nodes[k].h.MemoryMiB
		}
		base.pol.MinCPUMHz = max(r.MinCPUMHz, maxMHz)
		base.pol.MinMemoryMiB = max(r.MinMemoryMiB, tot)
		n := len(base.nodes)
		for k := range base.nodes {
			f := &base.nodes[k]
			h := f.h.Hardware
			h.CPUMHz = base.pol.MinCPUMHz
			h.MemoryMiB = base.pol.MinMemoryMiB / n
			f.h = &hwInfo{Hardware: h, chip: f.h.chip, model: f.h.model}
			f.hw = -1
			if base.pol.MinMemoryMiB%n == 0 {
				if hw, ok := inv.hwIdx[h]; ok {
					f.hw = hw
				}
			}
		}
		base.key = scaleKey(r)
		return []request{base}, nil
	}
	base.key = scaleKey(r)
	count := max(r.Count, 1)
	out := make([]request, count)
	for u := range out {
		out[u] = base
		out[u].unit = u
		out[u].nodes = slices.Clone(base.nodes)
	}
	return out, nil
}

// maxMHz2 is maxMHz as an int.
const maxMHz2 = maxMHz

// templateNode turns a template server into a request node; values the
// inventory does not have match nothing.
func (inv *Inventory) templateNode(t *Server) (fnode, error) {
	h := t.Hardware
	if h.CPUMHz < 0 || h.MemoryMiB < 0 || h.NICPorts < 0 || h.HBAPorts < 0 ||
		h.CPUMHz > maxMHz || int64(h.MemoryMiB) > maxMiB || h.NICPorts > maxPorts || h.HBAPorts > maxPorts {
		return fnode{}, fmt.Errorf("hardware size out of range")
	}
	id := func(s string) int32 {
		if v, ok := inv.strID(s); ok {
			return v
		}
		return -1
	}
	f := fnode{idx: -1}
	f.id = t.ID
	f.hw = -1
	if hw, ok := inv.hwIdx[h]; ok {
		f.hw = hw
		f.h = &inv.hw[hw]
	} else {
		f.h = &hwInfo{Hardware: h, chip: id(h.Chipset), model: id(h.CPUModel)}
	}
	f.sw, f.arr, f.zone = id(t.Switch), id(t.DiskArray), id(t.Zone)
	if f.zone >= 0 {
		f.zflags = uint8(inv.idx.zbits[f.zone] & 7)
	}
	vl := slices.Clone(t.VLANs)
	slices.Sort(vl)
	vl = slices.Compact(vl)
	var kb []byte
	for _, v := range vl {
		if v < 0 || v > 4094 {
			return fnode{}, fmt.Errorf("VLAN %d out of range", v)
		}
		kb = strconv.AppendInt(kb, int64(v), 10)
		kb = append(kb, ',')
	}
	f.vlans = -1
	if v, ok := inv.vlanIdx[string(kb)]; ok {
		f.vlans = v
	}
	f.work, f.ls, f.part = -1, -1, -1
	return f, nil
}

// strID returns the interned index of s.
func (inv *Inventory) strID(s string) (int32, bool) {
	k, ok := slices.BinarySearchFunc(inv.strSorted, s, func(i int32, s string) int { return cmp.Compare(inv.strs[i], s) })
	if !ok {
		return -1, false
	}
	return inv.strSorted[k], true
}

// scaleKey describes what r asks for, to order scale requests.
func scaleKey(r *ScaleRequest) string {
	t := make([]Server, len(r.Template))
	for k, s := range r.Template {
		v := slices.Clone(s.VLANs)
		slices.Sort(v)
		t[k] = Server{Hardware: s.Hardware, Switch: s.Switch, DiskArray: s.DiskArray, Zone: s.Zone, VLANs: slices.Compact(v)}
	}
	p := "nil"
	if r.Policy != nil {
		p = fmt.Sprintf("%+v", *r.Policy)
	}
	return fmt.Sprintf("%d|%s|%v|%s|%d|%d|%d|%d|%s", r.Kind, r.Like, t, r.Workload, r.Priority, r.Count, r.MinCPUMHz, r.MinMemoryMiB, p)
}
