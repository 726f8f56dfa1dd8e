package storage_test

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/coldstandby/coldstandby/storage"
)

// The fuzz test's oracle: a second reading of the naming rules, written
// as a table of regular expressions and checks, independent of the
// parser's hand-written scanner.

const (
	label   = `[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?`
	labelUC = `[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?`
	hx      = `[0-9a-f]`
)

type nameRule struct {
	kind    storage.InitiatorKind
	prefix  string // matched case-insensitively on the trimmed input, as ParseInitiator picks the kind
	fold    bool   // the name is lower-cased before matching (iSCSI, WWPN)
	re      *regexp.Regexp
	check   func(m []string) bool // extra checks on the submatches
	maxLen  int
	nosuch  func(s string) bool // names the rule refuses although they match
	display func(s string) string
}

func month(m []string) bool {
	n, err := strconv.Atoi(m[2])
	return err == nil && n >= 1 && n <= 12
}

var hostNAA = map[byte]bool{'1': true, '2': true, '5': true, '6': true}

func wwpnDisplay(s string) string {
	h := strings.NewReplacer(":", "", "-", "", ".", "").Replace(strings.TrimPrefix(s, "0x"))
	var parts []string
	for i := 0; i < 16; i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

var nameRules = []nameRule{
	{kind: storage.ISCSI, prefix: "iqn.", fold: true, maxLen: 223,
		re:    regexp.MustCompile(`^iqn\.(\d{4})-(\d{2})\.(` + label + `(?:\.` + label + `)+)(?::([a-z0-9.:-]+))?$`),
		check: month},
	{kind: storage.ISCSI, prefix: "eui.", fold: true, maxLen: 223,
		re: regexp.MustCompile(`^eui\.` + hx + `{16}$`)},
	{kind: storage.NVMe, prefix: "nqn.", maxLen: 223,
		re: regexp.MustCompile(`^nqn\.2014-08\.org\.nvmexpress:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)},
	{kind: storage.NVMe, prefix: "nqn.", maxLen: 223,
		re:    regexp.MustCompile(`^nqn\.(\d{4})-(\d{2})\.(` + labelUC + `(?:\.` + labelUC + `)+):([\p{L}\p{M}\p{N}\p{P}\p{S}]+)$`),
		check: func(m []string) bool { return month(m) && utf8.ValidString(m[4]) },
		nosuch: func(s string) bool {
			d := strings.ToLower(regexp.MustCompile(`^nqn\.\d{4}-\d{2}\.([^:]*)`).FindStringSubmatch(s)[1])
			return d == "org.nvmexpress" || strings.HasPrefix(d, "org.nvmexpress.")
		}},
	{kind: storage.FC, fold: true,
		re:      regexp.MustCompile(`^(?:0x)?(?:` + hx + `{16}|(?:` + hx + `{2}:){7}` + hx + `{2}|(?:` + hx + `{2}-){7}` + hx + `{2}|(?:` + hx + `{4}\.){3}` + hx + `{4})$`),
		check:   func(m []string) bool { h := strings.TrimPrefix(m[0], "0x"); return hostNAA[h[0]] },
		display: wwpnDisplay},
}

// oracle says whether s is an initiator name and, if so, its kind and
// normalised form.
func oracle(s string) (storage.InitiatorKind, string, bool) {
	t := strings.TrimSpace(s)
	lower := strings.ToLower(t)
	var kindRules []nameRule
	for _, r := range nameRules {
		if r.prefix != "" && strings.HasPrefix(lower, r.prefix) {
			kindRules = append(kindRules, r)
		}
	}
	if kindRules == nil { // no known prefix: a WWPN or nothing
		kindRules = nameRules[len(nameRules)-1:]
	}
	for _, r := range kindRules {
		in := t
		if r.fold {
			in = lower
		}
		if r.maxLen > 0 && len(in) > r.maxLen {
			continue
		}
		m := r.re.FindStringSubmatch(in)
		if m == nil || r.check != nil && !r.check(m) || r.nosuch != nil && r.nosuch(in) {
			continue
		}
		if r.display != nil {
			in = r.display(in)
		}
		return r.kind, in, true
	}
	return 0, "", false
}

func FuzzParseInitiator(f *testing.F) {
	for _, s := range []string{
		"21:00:00:24:ff:4c:9d:2e", "2100.0024.ff4c.9d2e", "0x500601603ce01a2b", "00:00:00:00:00:00:00:00", "30:00:00:24:ff:4c:9d:2e",
		"iqn.2026-11.org.x:y", "iqn.2026-13.org.example:x", "IQN.1993-08.org.debian:01:abcdef", "iqn.2026-11.org.example:a_b",
		"eui.0123456789abcdef", "nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
		"nqn.2014-08.org.nvmexpress:uuid:zzz", "nqn.2014-08.com.example:host-1", "nqn.2014-08.org.nvmexpress.discovery",
		"nqn.2026-01.org.Example:Host_7", "nqn.2014-08.com.example:ü", "0x", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		i, err := storage.ParseInitiator(s)
		kind, norm, ok := oracle(s)
		if err != nil {
			if !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("ParseInitiator(%q): error %v does not wrap ErrInvalid", s, err)
			}
			if ok {
				t.Fatalf("ParseInitiator(%q) refused (%v); the oracle accepts it as %v %q", s, err, kind, norm)
			}
			return
		}
		if !ok {
			t.Fatalf("ParseInitiator(%q) = %v %q; the oracle refuses it", s, i.Kind(), i)
		}
		if i.Kind() != kind || i.String() != norm {
			t.Fatalf("ParseInitiator(%q) = %v %q; the oracle says %v %q", s, i.Kind(), i, kind, norm)
		}
		// Normalised names parse to themselves: the form is a fixed point.
		j, err := storage.ParseInitiator(i.String())
		if err != nil || j != i {
			t.Fatalf("reparse of %q: %v, %v", i, j, err)
		}
		txt, err := i.MarshalText()
		if err != nil {
			t.Fatalf("MarshalText(%v): %v", i, err)
		}
		var k storage.Initiator
		if err := k.UnmarshalText(txt); err != nil || k != i {
			t.Fatalf("text round trip of %q: %v, %v", txt, k, err)
		}
	})
}
