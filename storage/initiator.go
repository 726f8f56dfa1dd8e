package storage

import (
	"fmt"
	"strings"
)

// InitiatorKind is the transport an initiator name belongs to.
type InitiatorKind uint8

// Initiator kinds.
const (
	FC    InitiatorKind = iota + 1 // Fibre Channel port, named by its WWPN
	ISCSI                          // iSCSI initiator, named by its IQN (or EUI)
	NVMe                           // NVMe-oF host, named by its NQN
)

func (k InitiatorKind) String() string {
	switch k {
	case FC:
		return "fc"
	case ISCSI:
		return "iscsi"
	case NVMe:
		return "nvme"
	}
	return fmt.Sprintf("InitiatorKind(%d)", uint8(k))
}

// Initiator is a host port that a disk array masks LUNs to. Values are
// comparable and only made by the Parse functions, so a non-zero Initiator
// is always well formed and normalised: two spellings of one WWPN give
// equal values. The zero Initiator is invalid.
type Initiator struct {
	kind InitiatorKind
	name string
}

// Kind reports the transport; 0 for the zero Initiator.
func (i Initiator) Kind() InitiatorKind { return i.kind }

// IsZero reports whether i is the zero (invalid) Initiator.
func (i Initiator) IsZero() bool { return i.kind == 0 }

// String returns the normalised name: "21:00:00:24:ff:4c:9d:2e" for a
// WWPN, the IQN or NQN as given for iSCSI and NVMe (IQNs lower-cased).
func (i Initiator) String() string { return i.name }

// MarshalText implements encoding.TextMarshaler as "kind:name", for
// journals and JSON records.
func (i Initiator) MarshalText() ([]byte, error) {
	if i.IsZero() {
		return []byte{}, nil
	}
	return []byte(i.kind.String() + ":" + i.name), nil
}

// UnmarshalText parses what MarshalText wrote, or any spelling that
// ParseInitiator accepts.
func (i *Initiator) UnmarshalText(b []byte) error {
	s := string(b)
	if s == "" {
		*i = Initiator{}
		return nil
	}
	for _, k := range []InitiatorKind{FC, ISCSI, NVMe} {
		if rest, ok := strings.CutPrefix(s, k.String()+":"); ok {
			v, err := parseKind(k, rest)
			if err != nil {
				return err
			}
			*i = v
			return nil
		}
	}
	v, err := ParseInitiator(s)
	if err != nil {
		return err
	}
	*i = v
	return nil
}

func parseKind(k InitiatorKind, s string) (Initiator, error) {
	switch k {
	case FC:
		return ParseWWPN(s)
	case ISCSI:
		return ParseIQN(s)
	default:
		return ParseNQN(s)
	}
}

// ParseWWPN parses a Fibre Channel port name written in any common
// spelling: "21:00:00:24:FF:4C:9D:2E", "21-00-00-24-ff-4c-9d-2e",
// "2100.0024.ff4c.9d2e", "21000024ff4c9d2e" or "0x21000024ff4c9d2e". The
// result is lower case with colons. An error wraps ErrInvalid.
func ParseWWPN(s string) (Initiator, error) {
	orig := s
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "0x") || strings.HasPrefix(t, "0X") {
		t = t[2:]
	}
	var hex []byte
	sep := byte(0)
	groupLen, groups := 0, []int{}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
			hex = append(hex, c)
			groupLen++
		case c >= 'A' && c <= 'F':
			hex = append(hex, c+'a'-'A')
			groupLen++
		case c == ':' || c == '-' || c == '.':
			if sep == 0 {
				sep = c
			} else if sep != c {
				return Initiator{}, fmt.Errorf("storage: WWPN %q: mixed separators: %w", orig, ErrInvalid)
			}
			groups = append(groups, groupLen)
			groupLen = 0
		default:
			return Initiator{}, fmt.Errorf("storage: WWPN %q: unexpected character %q: %w", orig, c, ErrInvalid)
		}
	}
	if len(hex) != 16 {
		return Initiator{}, fmt.Errorf("storage: WWPN %q: want 16 hex digits, have %d: %w", orig, len(hex), ErrInvalid)
	}
	if sep != 0 {
		groups = append(groups, groupLen)
		want := 2
		if sep == '.' {
			want = 4
		}
		for _, g := range groups {
			if g != want {
				return Initiator{}, fmt.Errorf("storage: WWPN %q: groups of %d digits expected: %w", orig, want, ErrInvalid)
			}
		}
	}
	var b strings.Builder
	b.Grow(23)
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.Write(hex[i : i+2])
	}
	return Initiator{kind: FC, name: b.String()}, nil
}

// ParseIQN parses an iSCSI name: "iqn.YYYY-MM.reversed.domain[:suffix]"
// (RFC 3720 section 3.2.6; lower-cased, as iSCSI names compare
// case-insensitively) or "eui." followed by 16 hex digits. An error wraps
// ErrInvalid.
func ParseIQN(s string) (Initiator, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch {
	case strings.HasPrefix(t, "iqn."):
		// iqn.YYYY-MM.naming-authority[:unique]
		rest := t[4:]
		if len(rest) < 9 || rest[4] != '-' || rest[7] != '.' || !digits(rest[:4]) || !digits(rest[5:7]) {
			return Initiator{}, fmt.Errorf("storage: IQN %q: want iqn.YYYY-MM.authority: %w", s, ErrInvalid)
		}
		auth, _, _ := strings.Cut(rest[8:], ":")
		if auth == "" {
			return Initiator{}, fmt.Errorf("storage: IQN %q: empty naming authority: %w", s, ErrInvalid)
		}
	case strings.HasPrefix(t, "eui."):
		if len(t) != 20 || !isHex(t[4:]) {
			return Initiator{}, fmt.Errorf("storage: EUI %q: want eui. and 16 hex digits: %w", s, ErrInvalid)
		}
	default:
		return Initiator{}, fmt.Errorf("storage: iSCSI name %q: want iqn. or eui. prefix: %w", s, ErrInvalid)
	}
	if len(t) > 223 || strings.ContainsAny(t, " \t\n/\\") {
		return Initiator{}, fmt.Errorf("storage: iSCSI name %q: too long or bad characters: %w", s, ErrInvalid)
	}
	return Initiator{kind: ISCSI, name: t}, nil
}

// ParseNQN parses an NVMe Qualified Name: "nqn.YYYY-MM.reversed.domain:..."
// or "nqn.2014-08.org.nvmexpress:uuid:<uuid>", at most 223 bytes (NVMe
// base specification 4.5). NQNs are case-sensitive and kept as given. An
// error wraps ErrInvalid.
func ParseNQN(s string) (Initiator, error) {
	t := strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(t, "nqn.")
	if !ok || len(rest) < 9 || rest[4] != '-' || rest[7] != '.' || !digits(rest[:4]) || !digits(rest[5:7]) {
		return Initiator{}, fmt.Errorf("storage: NQN %q: want nqn.YYYY-MM.authority: %w", s, ErrInvalid)
	}
	if len(t) > 223 || strings.ContainsAny(t, " \t\n") {
		return Initiator{}, fmt.Errorf("storage: NQN %q: too long or white space: %w", s, ErrInvalid)
	}
	return Initiator{kind: NVMe, name: t}, nil
}

// ParseInitiator recognises the kind from the spelling: "iqn." or "eui."
// is iSCSI, "nqn." is NVMe, anything else must be a WWPN.
func ParseInitiator(s string) (Initiator, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch {
	case strings.HasPrefix(t, "iqn."), strings.HasPrefix(t, "eui."):
		return ParseIQN(s)
	case strings.HasPrefix(t, "nqn."):
		return ParseNQN(s)
	}
	return ParseWWPN(s)
}

// MustParseInitiator is ParseInitiator for literals in tests and examples;
// it panics on a malformed name.
func MustParseInitiator(s string) Initiator {
	i, err := ParseInitiator(s)
	if err != nil {
		panic(err)
	}
	return i
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}
