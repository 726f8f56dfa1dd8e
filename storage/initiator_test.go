package storage_test

import (
	"encoding/json"
	"errors"
	"fmt"
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

func TestParseWWPNRejectsMalformed(t *testing.T) {
	for _, s := range []string{
		"", "21:00:00:24:ff:4c:9d", "21:00:00:24:ff:4c:9d:2e:00", "21:00:00:24:ff:4c:9d:zz",
		"21:00-00:24:ff:4c:9d:2e", "210:0:00:24:ff:4c:9d:2e", "2100.0024.ff4c9d2e",
		"21 00 00 24 ff 4c 9d 2e", "0x", "::::::::",
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
		{"eui.02004567A425678D", storage.ISCSI, "eui.02004567a425678d"},
		{"nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-A765-00a0c91e6bf6", storage.NVMe, "nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-A765-00a0c91e6bf6"},
	}
	for _, tt := range tests {
		got, err := storage.ParseInitiator(tt.in)
		if err != nil || got.Kind() != tt.kind || got.String() != tt.want {
			t.Errorf("ParseInitiator(%q) = %v %q, %v; want %v %q", tt.in, got.Kind(), got, err, tt.kind, tt.want)
		}
	}
	for _, s := range []string{"iqn.", "iqn.2026-1.org.x", "iqn.2026-11.", "iqn.2026-11.:x", "eui.123", "nqn.2014.org", "nqn.2014-08.org.x y", "iqn.2026-11.org.a b"} {
		if _, err := storage.ParseInitiator(s); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("ParseInitiator(%q): err %v, want ErrInvalid", s, err)
		}
	}
}

func TestInitiatorTextRoundTrip(t *testing.T) {
	in := []storage.Initiator{
		storage.MustParseInitiator("21:00:00:24:ff:4c:9d:2e"),
		storage.MustParseInitiator("iqn.2026-11.org.example:a"),
		storage.MustParseInitiator("nqn.2014-08.org.nvmexpress:uuid:1"),
		{},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out []storage.Initiator
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(out) != fmt.Sprint(in) || len(out) != len(in) {
		t.Fatalf("round trip %s: got %v, want %v", b, out, in)
	}
	for i := range in {
		if in[i] != out[i] {
			t.Errorf("element %d: %v != %v", i, out[i], in[i])
		}
	}
	var bad storage.Initiator
	if err := bad.UnmarshalText([]byte("fc:zz")); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("UnmarshalText(fc:zz) = %v, want ErrInvalid", err)
	}
}

func FuzzParseInitiator(f *testing.F) {
	for _, s := range []string{"21:00:00:24:ff:4c:9d:2e", "2100.0024.ff4c.9d2e", "iqn.2026-11.org.x:y", "nqn.2014-08.a:b", "eui.0123456789abcdef", "0x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		i, err := storage.ParseInitiator(s)
		if err != nil {
			if !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		// Normalised names parse to themselves: the form is a fixed point.
		j, err := storage.ParseInitiator(i.String())
		if err != nil || j != i {
			t.Fatalf("reparse of %q: %v, %v", i, j, err)
		}
		txt, _ := i.MarshalText()
		var k storage.Initiator
		if err := k.UnmarshalText(txt); err != nil || k != i {
			t.Fatalf("text round trip of %q: %v, %v", txt, k, err)
		}
	})
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
