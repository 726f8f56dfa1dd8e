package storage

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
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

// MarshalText implements encoding.TextMarshaler as "kind:name". The zero
// Initiator has no text form: ErrInvalid.
func (i Initiator) MarshalText() ([]byte, error) {
	if i.IsZero() {
		return nil, fmt.Errorf("storage: marshal the zero Initiator: %w", ErrInvalid)
	}
	return []byte(i.kind.String() + ":" + i.name), nil
}

// UnmarshalText parses what MarshalText wrote, or any spelling that
// ParseInitiator accepts. Empty text is ErrInvalid, like any other name
// that is not an initiator's.
func (i *Initiator) UnmarshalText(b []byte) error {
	s := string(b)
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

// MarshalJSON implements json.Marshaler: the text form as a JSON string,
// and "" for the zero Initiator, which JSON documents use for "no
// initiator" (give such fields the omitzero option to leave them out).
func (i Initiator) MarshalJSON() ([]byte, error) {
	if i.IsZero() {
		return []byte(`""`), nil
	}
	t, _ := i.MarshalText()
	return json.Marshal(string(t))
}

// UnmarshalJSON implements json.Unmarshaler: a JSON string that
// UnmarshalText accepts, or "" or null for the zero Initiator (no
// initiator, as MarshalJSON writes it and as records written before
// omitzero have it). Anything else is ErrInvalid.
func (i *Initiator) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*i = Initiator{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("storage: initiator %s: not a JSON string: %w", b, ErrInvalid)
	}
	if s == "" {
		*i = Initiator{}
		return nil
	}
	return i.UnmarshalText([]byte(s))
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

// maxNameLen is the longest iSCSI name (RFC 3720 section 3.2.6.1) and NQN
// (NVM Express Base Specification, "NVMe Qualified Names"), in bytes.
const maxNameLen = 223

// ParseWWPN parses a Fibre Channel port or node name (WWPN, WWNN) written
// in any common spelling: "21:00:00:24:FF:4C:9D:2E",
// "21-00-00-24-ff-4c-9d-2e", "2100.0024.ff4c.9d2e", "21000024ff4c9d2e" or
// "0x21000024ff4c9d2e". The name's first hex digit, its Network Address
// Authority (FC-FS), must be 1 (IEEE 48-bit), 2 (IEEE extended), 5 (IEEE
// registered) or 6 (IEEE registered extended); other NAAs, including the
// all-zero name, are not port names a host carries. The result is lower
// case with colons. An error wraps ErrInvalid.
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
	switch hex[0] {
	case '1', '2', '5', '6':
	default:
		return Initiator{}, fmt.Errorf("storage: WWPN %q: network address authority %c is not 1, 2, 5 or 6: %w", orig, hex[0], ErrInvalid)
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

// ParseIQN parses an iSCSI name (RFC 3720 section 3.2.6, RFC 3721):
//
//   - "iqn." YYYY "-" MM "." reversed domain name [":" unique name], for
//     example "iqn.1993-08.org.debian:01:abcdef": a month 01 to 12, a
//     domain of at least two labels (letters, digits and hyphens, neither
//     first nor last, at most 63 each), and a unique name of letters,
//     digits, '-', '.' and ':'. iSCSI names compare case-insensitively:
//     the result is lower case. Names with characters outside ASCII
//     (which RFC 3722 normalises) are refused.
//   - "eui." followed by 16 hex digits (an EUI-64), lower-cased.
//
// At most 223 bytes. An error wraps ErrInvalid.
func ParseIQN(s string) (Initiator, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	bad := func(why string) (Initiator, error) {
		return Initiator{}, fmt.Errorf("storage: iSCSI name %q: %s: %w", s, why, ErrInvalid)
	}
	if len(t) > maxNameLen {
		return bad(fmt.Sprintf("longer than %d bytes", maxNameLen))
	}
	switch {
	case strings.HasPrefix(t, "iqn."):
		rest, ok := parseDate(t[4:])
		if !ok {
			return bad("want iqn.YYYY-MM. with a month 01 to 12")
		}
		auth, unique, hasUnique := strings.Cut(rest, ":")
		if !domainName(auth, false) {
			return bad("the naming authority is not a reversed domain name")
		}
		if hasUnique {
			if unique == "" {
				return bad("empty unique name after ':'")
			}
			for i := 0; i < len(unique); i++ {
				if c := unique[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':') {
					return bad(fmt.Sprintf("character %q is not allowed (letters, digits, '-', '.', ':')", c))
				}
			}
		}
	case strings.HasPrefix(t, "eui."):
		if len(t) != 20 || !isHex(t[4:]) {
			return bad("want eui. and 16 hex digits")
		}
	default:
		return bad("want an iqn. or eui. name")
	}
	return Initiator{kind: ISCSI, name: t}, nil
}

// nvmeAuthority is the NVM Express naming authority's date and reversed
// domain; it names hosts only by UUID.
const nvmeAuthority = "2014-08.org.nvmexpress"

// ParseNQN parses an NVMe Qualified Name (NVM Express Base Specification,
// "NVMe Qualified Names"), at most 223 bytes:
//
//   - "nqn.2014-08.org.nvmexpress:uuid:" and a UUID in the form of RFC
//     4122 (8-4-4-4-12 hex digits);
//   - "nqn." YYYY "-" MM "." reversed domain name ":" a name chosen by
//     that domain's owner (printable UTF-8 without spaces), for example
//     "nqn.2014-08.com.example:host-12".
//
// The discovery service's NQN and other names under org.nvmexpress are
// not host names. NQNs are case-sensitive and kept as given. An error
// wraps ErrInvalid.
func ParseNQN(s string) (Initiator, error) {
	t := strings.TrimSpace(s)
	bad := func(why string) (Initiator, error) {
		return Initiator{}, fmt.Errorf("storage: NQN %q: %s: %w", s, why, ErrInvalid)
	}
	if len(t) > maxNameLen {
		return bad(fmt.Sprintf("longer than %d bytes", maxNameLen))
	}
	rest, ok := strings.CutPrefix(t, "nqn.")
	if !ok {
		return bad("want the prefix nqn.")
	}
	if uuid, ok := strings.CutPrefix(rest, nvmeAuthority+":uuid:"); ok {
		if !isUUID(uuid) {
			return bad("want a UUID (8-4-4-4-12 hex digits) after :uuid:")
		}
		return Initiator{kind: NVMe, name: t}, nil
	}
	after, ok := parseDate(rest)
	if !ok {
		return bad("want nqn.YYYY-MM. with a month 01 to 12")
	}
	auth, name, hasName := strings.Cut(after, ":")
	switch {
	case !domainName(auth, true):
		return bad("the naming authority is not a reversed domain name")
	case strings.EqualFold(auth, "org.nvmexpress") || len(auth) > 15 && strings.EqualFold(auth[:15], "org.nvmexpress."):
		return bad("NVM Express names hosts only as nqn.2014-08.org.nvmexpress:uuid:<UUID>")
	case !hasName || name == "":
		return bad("want ':' and a name after the naming authority")
	}
	if !utf8.ValidString(name) {
		return bad("not UTF-8")
	}
	for _, r := range name {
		if r == ' ' || !unicode.IsPrint(r) {
			return bad(fmt.Sprintf("character %q is not allowed (printable, no spaces)", r))
		}
	}
	return Initiator{kind: NVMe, name: t}, nil
}

// parseDate reads "YYYY-MM." with a month 01 to 12 and returns what
// follows.
func parseDate(s string) (string, bool) {
	if len(s) < 8 || s[4] != '-' || s[7] != '.' || !digits(s[:4]) || !digits(s[5:7]) {
		return "", false
	}
	if m := (s[5]-'0')*10 + s[6] - '0'; m < 1 || m > 12 {
		return "", false
	}
	return s[8:], true
}

// domainName reports whether s is a domain name of at least two labels
// (RFC 1035 section 2.3.1, with labels that may start with a digit as RFC
// 1123 allows): letters, digits and hyphens, not at a label's ends, 1 to
// 63 characters each. Upper-case letters only when upper is true.
func domainName(s string, upper bool) bool {
	labels := 0
	for label := range strings.SplitSeq(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || upper && c >= 'A' && c <= 'Z') {
				return false
			}
		}
		labels++
	}
	return labels >= 2
}

// isUUID reports whether s is a UUID in RFC 4122's string form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
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
