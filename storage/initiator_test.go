package storage_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/storage"
)

func TestParseWWPNSpellings(t *testing.T) {
	const want = "21:00:00:24:ff:4c:9d:2e"
	for _, s := range []string{
		"21:00:00:24:ff:4c:9d:2e",
		"21:00:00:24:FF:4C:9D:2E",
		"21-00-00-24-ff-4c-9d-2e",
		"2100.0024.ff4c.9d2e",
		"21000024ff4c9d2e",
		"0x21000024FF4C9D2E",
		"  21000024ff4c9d2e\n",
	} {
		got, err := storage.ParseWWPN(s)
		if err != nil {
			t.Errorf("ParseWWPN(%q): %v", s, err)
			continue
		}
		if got.String() != want || got.Kind() != storage.FC {
			t.Errorf("ParseWWPN(%q) = %v %q, want fc %q", s, got.Kind(), got, want)
		}
		if again, _ := storage.ParseInitiator(s); again != got {
			t.Errorf("ParseInitiator(%q) = %v, want %v", s, again, got)
		}
	}
}

func TestParseWWPNAcceptsEveryHostNAA(t *testing.T) {
	for _, s := range []string{
		"10:00:00:00:c9:4c:9d:2e", // NAA 1, IEEE 48-bit (Emulex)
		"21:00:00:24:ff:4c:9d:2e", // NAA 2, IEEE extended (QLogic)
		"50:06:0e:80:10:4c:9d:2e", // NAA 5, IEEE registered (array ports)
		"60:05:08:b4:00:0c:7a:01", // NAA 6, IEEE registered extended
	} {
		if _, err := storage.ParseWWPN(s); err != nil {
			t.Errorf("ParseWWPN(%q): %v", s, err)
		}
	}
}

func TestParseWWPNRejectsMalformed(t *testing.T) {
	for _, s := range []string{
		"", "21:00:00:24:ff:4c:9d", "21:00:00:24:ff:4c:9d:2e:00", "21:00:00:24:ff:4c:9d:zz",
		"21:00-00:24:ff:4c:9d:2e", "210:0:00:24:ff:4c:9d:2e", "2100.0024.ff4c9d2e",
		"21 00 00 24 ff 4c 9d 2e", "0x", "::::::::",
		"00:00:00:00:00:00:00:00", // all zeros
		"30:00:00:24:ff:4c:9d:2e", // NAA 3, locally assigned
		"c0:00:00:24:ff:4c:9d:2e", // NAA C
		"f0:00:00:24:ff:4c:9d:2e", // NAA F
		"0000000000000000",
	} {
		if got, err := storage.ParseWWPN(s); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("ParseWWPN(%q) = %v, %v; want ErrInvalid", s, got, err)
		}
	}
}

func TestParseIQNAndNQN(t *testing.T) {
	tests := []struct {
		in   string
		kind storage.InitiatorKind
		want string
	}{
		{"iqn.2026-11.org.example:Server-01", storage.ISCSI, "iqn.2026-11.org.example:server-01"},
		{"IQN.1993-08.org.debian:01:abcdef", storage.ISCSI, "iqn.1993-08.org.debian:01:abcdef"},
		{"iqn.2001-04.com.example:storage:diskarrays-sn-a8675309", storage.ISCSI, "iqn.2001-04.com.example:storage:diskarrays-sn-a8675309"}, // RFC 3720
		{"iqn.2001-04.com.example", storage.ISCSI, "iqn.2001-04.com.example"},
		{"iqn.1991-05.com.microsoft:win-7h2.corp.example.com", storage.ISCSI, "iqn.1991-05.com.microsoft:win-7h2.corp.example.com"},
		{"eui.02004567A425678D", storage.ISCSI, "eui.02004567a425678d"},
		{"nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-A765-00a0c91e6bf6", storage.NVMe, "nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-A765-00a0c91e6bf6"},
		{"nqn.2014-08.com.example:nvme:nvm-subsystem-sn-d78432", storage.NVMe, "nqn.2014-08.com.example:nvme:nvm-subsystem-sn-d78432"},
		{"nqn.2026-01.org.Example:Host_7", storage.NVMe, "nqn.2026-01.org.Example:Host_7"},
	}
	for _, tt := range tests {
		got, err := storage.ParseInitiator(tt.in)
		if err != nil || got.Kind() != tt.kind || got.String() != tt.want {
			t.Errorf("ParseInitiator(%q) = %v %q, %v; want %v %q", tt.in, got.Kind(), got, err, tt.kind, tt.want)
		}
	}
}

func TestParseInitiatorRejectsMalformedNames(t *testing.T) {
	long := "iqn.2026-11.org.example:" + strings.Repeat("a", 223-len("iqn.2026-11.org.example:")+1)
	for _, s := range []string{
		// iSCSI
		"iqn.", "iqn.2026-1.org.x", "iqn.2026-11.", "iqn.2026-11.:x", "iqn.2026-11.org.a b",
		"iqn.2026-13.org.example:x", // month 13
		"iqn.2026-00.org.example:x", // month 0
		"iqn.2026-11.example:x",     // one label
		"iqn.2026-11.org..example:x",
		"iqn.2026-11.org.-example:x",
		"iqn.2026-11.org.example-:x",
		"iqn.2026-11.org.exa_mple:x",
		"iqn.2026-11.org.example:",    // empty unique name
		"iqn.2026-11.org.example:a/b", // '/'
		"iqn.2026-11.org.example:a_b", // '_' is not an iSCSI name character
		"iqn.2026-11.org.example:ü",   // outside ASCII
		"iqn.2O26-11.org.example:x",
		long,
		"eui.123", "eui.0123456789abcdeg", "eui.0123456789abcdef0",
		// NVMe
		"nqn.2014.org",
		"nqn.2014-08.org.x y",
		"nqn.2014-08.org.nvmexpress:uuid:zzz", // not a UUID
		"nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf",
		"nqn.2014-08.org.nvmexpress:uuid:f81d4fae7dec-11d0-a765-00a0c91e6bf6x",
		"nqn.2014-08.org.nvmexpress.discovery", // the discovery service, not a host
		"nqn.2014-08.org.nvmexpress:host-1",
		"nqn.2014-08.com.example",        // no name
		"nqn.2014-08.com.example:",       // empty name
		"nqn.2014-13.com.example:host",   // month 13
		"nqn.2014-08.example:host",       // one label
		"nqn.2014-08.com.example:a\tb",   // control character
		"nqn.2014-08.com.example:a\xffb", // not UTF-8
		"NQN.2014-08.com.example:host",   // NQNs are case-sensitive
		"nqn.2014-08.com.example:" + strings.Repeat("n", 200),
		// Fibre Channel
		"", "   ", "00:00:00:00:00:00:00:00",
	} {
		if got, err := storage.ParseInitiator(s); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("ParseInitiator(%q) = %v %q, %v; want ErrInvalid", s, got.Kind(), got, err)
		}
	}
}

func TestInitiatorTextRoundTrip(t *testing.T) {
	in := []storage.Initiator{
		storage.MustParseInitiator("21:00:00:24:ff:4c:9d:2e"),
		storage.MustParseInitiator("iqn.2026-11.org.example:a"),
		storage.MustParseInitiator("nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
	}
	for _, i := range in {
		txt, err := i.MarshalText()
		if err != nil {
			t.Fatalf("MarshalText(%v): %v", i, err)
		}
		var back storage.Initiator
		if err := back.UnmarshalText(txt); err != nil || back != i {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", txt, back, err, i)
		}
	}
	for _, txt := range []string{"", "fc:zz", "fc:", "iscsi:", "nvme:nqn.2014-08.org.nvmexpress:uuid:zzz", "iscsi:iqn.2026-13.org.example:x"} {
		var bad storage.Initiator
		if err := bad.UnmarshalText([]byte(txt)); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("UnmarshalText(%q) = %v, %v; want ErrInvalid", txt, bad, err)
		}
	}
	var zero storage.Initiator
	if txt, err := zero.MarshalText(); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("MarshalText of the zero Initiator = %q, %v; want ErrInvalid", txt, err)
	}
}

// JSON documents say "no initiator" by leaving the field out (omitzero),
// or, as records written before did, with "" (or null).
func TestInitiatorJSON(t *testing.T) {
	type rec struct {
		Initiator storage.Initiator   `json:"initiator,omitzero"`
		Legacy    storage.Initiator   `json:"legacy"`
		List      []storage.Initiator `json:"list,omitempty"`
	}
	w := storage.MustParseInitiator("21:00:00:24:ff:4c:9d:2e")
	for _, c := range []struct {
		name string
		in   rec
		want string
	}{
		{"set", rec{Initiator: w, Legacy: w, List: []storage.Initiator{w}},
			`{"initiator":"fc:21:00:00:24:ff:4c:9d:2e","legacy":"fc:21:00:00:24:ff:4c:9d:2e","list":["fc:21:00:00:24:ff:4c:9d:2e"]}`},
		{"zero", rec{}, `{"legacy":""}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.in)
			if err != nil || string(b) != c.want {
				t.Fatalf("Marshal = %s, %v; want %s", b, err, c.want)
			}
			var back rec
			if err := json.Unmarshal(b, &back); err != nil || fmt.Sprint(back) != fmt.Sprint(c.in) {
				t.Fatalf("Unmarshal(%s) = %+v, %v; want %+v", b, back, err, c.in)
			}
		})
	}
	var r rec
	if err := json.Unmarshal([]byte(`{"initiator":"","legacy":null}`), &r); err != nil || !r.Initiator.IsZero() || !r.Legacy.IsZero() {
		t.Errorf(`"" and null: %+v, %v; want zero Initiators`, r, err)
	}
	for _, bad := range []string{`{"initiator":"zz"}`, `{"initiator":7}`, `{"initiator":"iqn.2026-13.org.example:x"}`} {
		if err := json.Unmarshal([]byte(bad), &r); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("Unmarshal(%s) = %v, want ErrInvalid", bad, err)
		}
	}
}

func ExampleParseWWPN() {
	w, err := storage.ParseWWPN("2100.0024.FF4C.9D2E")
	fmt.Println(w, w.Kind(), err)
	_, err = storage.ParseWWPN("21:00:00:24:ff:4c:9d")
	fmt.Println(err)
	// Output:
	// 21:00:00:24:ff:4c:9d:2e fc <nil>
	// storage: WWPN "21:00:00:24:ff:4c:9d": want 16 hex digits, have 14: invalid argument
}
