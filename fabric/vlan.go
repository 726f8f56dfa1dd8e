package fabric

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Mode is a switch port's VLAN mode.
type Mode string

// Port modes.
const (
	Access Mode = "access" // untagged frames in one VLAN (AccessVLAN)
	Trunk  Mode = "trunk"  // tagged frames of the Trunk VLANs; untagged ones in NativeVLAN
)

// PortVLAN is a switch port's VLAN setting.
//
// Normal form (what drivers return and Validate accepts):
//   - Access: AccessVLAN in 1..4094; NativeVLAN 0; Trunk nil.
//   - Trunk: Trunk sorted, without duplicates, each in 1..4094 (nil or
//     empty means no tagged VLAN); NativeVLAN 0 (none: untagged frames
//     dropped) or 1..4094; AccessVLAN 0.
type PortVLAN struct {
	Mode       Mode
	AccessVLAN int
	NativeVLAN int
	Trunk      []int
}

// Normalize returns v with Trunk sorted and deduplicated (and a nil Trunk
// for an empty one), so that equal settings compare Equal.
func (v PortVLAN) Normalize() PortVLAN {
	if len(v.Trunk) == 0 {
		v.Trunk = nil
		return v
	}
	t := slices.Clone(v.Trunk)
	slices.Sort(t)
	v.Trunk = slices.Compact(t)
	return v
}

// Validate reports whether v, once normalised, is a setting a switch can
// take. The error wraps ErrInvalid.
func (v PortVLAN) Validate() error {
	v = v.Normalize()
	bad := func(format string, a ...any) error {
		return fmt.Errorf("fabric: VLAN setting %v: %s: %w", v, fmt.Sprintf(format, a...), ErrInvalid)
	}
	switch v.Mode {
	case Access:
		if !validID(v.AccessVLAN) {
			return bad("access VLAN %d not in 1..4094", v.AccessVLAN)
		}
		if v.NativeVLAN != 0 || v.Trunk != nil {
			return bad("an access port has no native or trunk VLANs")
		}
	case Trunk:
		if v.AccessVLAN != 0 {
			return bad("a trunk port has no access VLAN")
		}
		if v.NativeVLAN != 0 && !validID(v.NativeVLAN) {
			return bad("native VLAN %d not in 1..4094", v.NativeVLAN)
		}
		for _, id := range v.Trunk {
			if !validID(id) {
				return bad("trunk VLAN %d not in 1..4094", id)
			}
		}
	default:
		return bad("unknown mode %q", v.Mode)
	}
	return nil
}

// Equal reports whether v and w are the same setting once normalised.
func (v PortVLAN) Equal(w PortVLAN) bool {
	v, w = v.Normalize(), w.Normalize()
	return v.Mode == w.Mode && v.AccessVLAN == w.AccessVLAN && v.NativeVLAN == w.NativeVLAN && slices.Equal(v.Trunk, w.Trunk)
}

// String formats v as "access 10" or "trunk 10,20-30 native 1".
func (v PortVLAN) String() string {
	switch v.Mode {
	case Access:
		return "access " + strconv.Itoa(v.AccessVLAN)
	case Trunk:
		s := "trunk " + FormatVLANList(v.Trunk)
		if v.NativeVLAN != 0 {
			s += " native " + strconv.Itoa(v.NativeVLAN)
		}
		return s
	}
	return fmt.Sprintf("%s? access=%d native=%d trunk=%v", v.Mode, v.AccessVLAN, v.NativeVLAN, v.Trunk)
}

// FormatVLANList writes ids (normalised first) as ranges: "10,20-30"; ""
// for none.
func FormatVLANList(ids []int) string {
	ids = PortVLAN{Trunk: ids}.Normalize().Trunk
	var b strings.Builder
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(ids[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(ids[j]))
		}
		i = j + 1
	}
	return b.String()
}

// ParseVLANList parses "10,20-30" (also "20..30", the OpenConfig range
// spelling) into sorted unique ids. An error wraps ErrInvalid.
func ParseVLANList(s string) ([]int, error) {
	var ids []int
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "..")
		if !isRange {
			lo, hi, isRange = strings.Cut(part, "-")
		}
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil || !validID(a) {
			return nil, fmt.Errorf("fabric: VLAN list %q: bad VLAN %q: %w", s, lo, ErrInvalid)
		}
		b := a
		if isRange {
			b, err = strconv.Atoi(strings.TrimSpace(hi))
			if err != nil || !validID(b) || b < a {
				return nil, fmt.Errorf("fabric: VLAN list %q: bad range %q: %w", s, part, ErrInvalid)
			}
		}
		for id := a; id <= b; id++ {
			ids = append(ids, id)
		}
	}
	return PortVLAN{Trunk: ids}.Normalize().Trunk, nil
}

func validID(id int) bool { return id >= 1 && id <= 4094 }
