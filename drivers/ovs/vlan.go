package ovs

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/coldstandby/coldstandby/fabric"
)

// OVS's Port table has three VLAN columns (ovs-vswitchd.conf.db(5), "VLAN
// Configuration"):
//
//	vlan_mode  optional: access, trunk, native-tagged, native-untagged,
//	           dot1q-tunnel; empty means access when tag is set, else trunk
//	tag        optional integer 0..4095: the access VLAN, or the native VLAN
//	trunks     set of integers 0..4095; empty means every VLAN
//
// The mapping to fabric.PortVLAN is described in the package doc.

// noVLAN is written to trunks for "no tagged VLAN": OVS reads an empty
// trunks set as "every VLAN", and VLAN 0 would admit untagged frames on a
// trunk port. 4095 is reserved by 802.1Q, so no valid frame carries it.
const noVLAN = 4095

// ovsPort is one Port row's VLAN columns as OVS stores them.
type ovsPort struct {
	Mode   string // "" when unset
	Tag    int    // -1 when unset
	Trunks []int  // sorted
}

// decodePort reads the row's columns (OVSDB JSON notation, RFC 7047 5.1).
func decodePort(row map[string]json.RawMessage) (ovsPort, error) {
	var p ovsPort
	modes, err := decodeSet[string](row["vlan_mode"])
	if err != nil {
		return p, fmt.Errorf("vlan_mode: %w", err)
	}
	if len(modes) > 0 {
		p.Mode = modes[0]
	}
	tags, err := decodeSet[int](row["tag"])
	if err != nil {
		return p, fmt.Errorf("tag: %w", err)
	}
	p.Tag = -1
	if len(tags) > 0 {
		p.Tag = tags[0]
	}
	p.Trunks, err = decodeSet[int](row["trunks"])
	if err != nil {
		return p, fmt.Errorf("trunks: %w", err)
	}
	slices.Sort(p.Trunks)
	return p, nil
}

// decodeSet decodes an OVSDB <set>: either one atom or ["set", [atoms]].
func decodeSet[T any](raw json.RawMessage) ([]T, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var pair []json.RawMessage
	if json.Unmarshal(raw, &pair) == nil {
		var tag string
		if len(pair) != 2 || json.Unmarshal(pair[0], &tag) != nil || tag != "set" {
			return nil, fmt.Errorf("unexpected value %s", raw)
		}
		var out []T
		if err := json.Unmarshal(pair[1], &out); err != nil {
			return nil, fmt.Errorf("unexpected set %s: %v", raw, err)
		}
		return out, nil
	}
	var one T
	if err := json.Unmarshal(raw, &one); err != nil {
		return nil, fmt.Errorf("unexpected atom %s: %v", raw, err)
	}
	return []T{one}, nil
}

// ovsSet encodes atoms as an OVSDB <set>.
func ovsSet[T any](atoms ...T) []any {
	if atoms == nil {
		atoms = []T{}
	}
	return []any{"set", atoms}
}

// toPortVLAN maps OVS's columns to the normal form. Settings outside the
// model (dot1q-tunnel, an access port without a VLAN or in VLAN 0 or
// 4095) are ErrUnsupported.
func (p ovsPort) toPortVLAN() (fabric.PortVLAN, error) {
	mode := p.Mode
	if mode == "" {
		mode = "trunk"
		if p.Tag >= 0 {
			mode = "access"
		}
	}
	trunks := func() []int {
		if len(p.Trunks) == 0 {
			return allVLANs()
		}
		var ids []int
		for _, id := range p.Trunks {
			if id >= 1 && id <= 4094 {
				ids = append(ids, id)
			}
		}
		return ids
	}
	native := 0
	if p.Tag >= 1 && p.Tag <= 4094 {
		native = p.Tag
	}
	var v fabric.PortVLAN
	switch mode {
	case "access":
		if p.Tag < 1 || p.Tag > 4094 {
			return v, fmt.Errorf("access port in VLAN %d (outside 1..4094): %w", p.Tag, fabric.ErrUnsupported)
		}
		v = fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: p.Tag}
	case "trunk":
		v = fabric.PortVLAN{Mode: fabric.Trunk, Trunk: trunks()}
	case "native-untagged":
		v = fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: native, Trunk: trunks()}
	case "native-tagged":
		// The native VLAN leaves the port tagged: it is one of the port's
		// tagged VLANs as well as the home of untagged frames.
		t := trunks()
		if native != 0 {
			t = append(t, native)
		}
		v = fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: native, Trunk: t}
	default:
		return v, fmt.Errorf("vlan_mode %q has no equivalent in the VLAN model: %w", mode, fabric.ErrUnsupported)
	}
	return v.Normalize(), nil
}

// fromPortVLAN maps a normalised, valid setting to OVS's columns.
func fromPortVLAN(v fabric.PortVLAN) ovsPort {
	if v.Mode == fabric.Access {
		return ovsPort{Mode: "access", Tag: v.AccessVLAN}
	}
	p := ovsPort{Mode: "trunk", Tag: -1}
	if v.NativeVLAN != 0 {
		p = ovsPort{Mode: "native-untagged", Tag: v.NativeVLAN}
	}
	switch {
	case len(v.Trunk) == 0:
		p.Trunks = []int{noVLAN}
	case len(v.Trunk) == 4094: // normalised and in range: every VLAN
		p.Trunks = nil
	default:
		p.Trunks = slices.Clone(v.Trunk)
	}
	return p
}

// row returns p as an OVSDB row for an update operation.
func (p ovsPort) row() map[string]any {
	var mode, tag []any
	if p.Mode == "" {
		mode = ovsSet[string]()
	} else {
		mode = ovsSet(p.Mode)
	}
	if p.Tag < 0 {
		tag = ovsSet[int]()
	} else {
		tag = ovsSet(p.Tag)
	}
	return map[string]any{"vlan_mode": mode, "tag": tag, "trunks": ovsSet(p.Trunks...)}
}

func allVLANs() []int {
	ids := make([]int, 4094)
	for i := range ids {
		ids[i] = i + 1
	}
	return ids
}
