package tgt

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// testdata/show-many.txt and show-nexus.txt were captured from tgtd 1.0.85
// (Debian) with tgtadm --lld iscsi --mode target --op show: twelve targets,
// initiator-name and address ACLs ("ALL", "127.0.0.1", "10.0.0.0/8"), an
// account, and a logged-in initiator (I_T nexus).

func TestParseShowCaptured(t *testing.T) {
	f, err := os.Open("testdata/show-many.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ts, err := parseShow(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 12 {
		t.Fatalf("got %d targets, want 12", len(ts))
	}
	first := ts[0]
	if first.TID != 1 || first.Name != "iqn.2026-11.org.example:boot-r1-01" {
		t.Errorf("target 1 = %d %q", first.TID, first.Name)
	}
	if got := first.dataLUNs(); !reflect.DeepEqual(got, []int{1}) {
		t.Errorf("target 1 data LUNs = %v, want [1]", got)
	}
	if l := first.LUNs[1]; l.SizeMB != 8 || l.BlockSize != 512 || l.Backing != "/tmp/tgtexp/lun1.img" || l.Type != "disk" {
		t.Errorf("target 1 LUN 1 = %+v", l)
	}
	if !reflect.DeepEqual(first.ACLs, []string{"iqn.2026-11.org.example:host-b"}) {
		t.Errorf("target 1 ACLs = %q", first.ACLs)
	}
	if len(first.Nexuses) != 1 || first.Nexuses[0].SID != 8 ||
		first.Nexuses[0].Initiator != "iqn.2026-11.org.example:host-b" ||
		!reflect.DeepEqual(first.Nexuses[0].Connections, []int{0}) {
		t.Errorf("target 1 nexuses = %+v", first.Nexuses)
	}
	byName := map[string]target{}
	for _, tg := range ts {
		byName[tg.Name] = tg
	}
	if got := byName["iqn.2026-11.org.example:t5"].ACLs; !reflect.DeepEqual(got, []string{"ALL"}) {
		t.Errorf("t5 ACLs = %q", got)
	}
	t6 := byName["iqn.2026-11.org.example:t6"]
	if !reflect.DeepEqual(t6.ACLs, []string{"10.0.0.0/8", "iqn.2026-11.org.example:host-a"}) {
		t.Errorf("t6 ACLs = %q", t6.ACLs)
	}
	if got := addressACLs(&t6); !reflect.DeepEqual(got, []string{"10.0.0.0/8"}) {
		t.Errorf("t6 address ACLs = %q", got)
	}
	// The account name "bob" of t7 is not an ACL.
	if got := byName["iqn.2026-11.org.example:t7"].ACLs; len(got) != 0 {
		t.Errorf("t7 ACLs = %q, want none", got)
	}
	if got := byName["iqn.2026-11.org.example:t12"]; got.TID != 12 || !reflect.DeepEqual(got.dataLUNs(), []int{1}) {
		t.Errorf("t12 = %d %v", got.TID, got.dataLUNs())
	}
}

// TestParseShowOddSpacing feeds the captured output re-spaced: tabs
// instead of spaces, CRLF line ends, blank lines, trailing blanks, no
// indentation at all, and extra spaces around colons. The result must be
// the same.
func TestParseShowOddSpacing(t *testing.T) {
	raw, err := os.ReadFile("testdata/show-nexus.txt")
	if err != nil {
		t.Fatal(err)
	}
	want, err := parseShow(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	variants := map[string]func(string) string{
		"tabs": func(s string) string { return strings.ReplaceAll(s, "    ", "\t") },
		"crlf": func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") },
		"blank lines and trailing blanks": func(s string) string {
			return strings.ReplaceAll(s, "\n", "  \n\n")
		},
		"no indentation": func(s string) string {
			lines := strings.Split(s, "\n")
			for i := range lines {
				lines[i] = strings.TrimLeft(lines[i], " ")
			}
			return strings.Join(lines, "\n")
		},
		"spaces around colons": func(s string) string {
			s = strings.ReplaceAll(s, "LUN: ", "LUN :   ")
			s = strings.ReplaceAll(s, "ACL information:", "ACL  information :")
			return strings.ReplaceAll(s, "I_T nexus: ", "I_T nexus:\t")
		},
	}
	for name, f := range variants {
		t.Run(name, func(t *testing.T) {
			got, err := parseShow(strings.NewReader(f(string(raw))))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseShowManyTargets(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 500; i++ {
		b.WriteString("Target " + strconv.Itoa(i) + ": iqn.2026-11.org.example:t" + strconv.Itoa(i) + "\n")
		b.WriteString("    LUN information:\n        LUN: 0\n            Type: controller\n")
		b.WriteString("        LUN: " + strconv.Itoa(i%7+1) + "\n            Type: disk\n            Size: 1 MB, Block size: 512\n")
		b.WriteString("    ACL information:\n        iqn.2026-11.org.example:h" + strconv.Itoa(i%13) + "\n")
	}
	ts, err := parseShow(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 500 {
		t.Fatalf("got %d targets", len(ts))
	}
	for i, tg := range ts {
		n := i + 1
		if tg.TID != n || !reflect.DeepEqual(tg.dataLUNs(), []int{n%7 + 1}) || len(tg.ACLs) != 1 {
			t.Fatalf("target %d parsed as %+v", n, tg)
		}
	}
}

func TestParseShowEmpty(t *testing.T) {
	ts, err := parseShow(strings.NewReader(""))
	if err != nil || len(ts) != 0 {
		t.Fatalf("empty output: %v, %v", ts, err)
	}
}

func TestParseShowMalformed(t *testing.T) {
	for name, in := range map[string]string{
		"text before first target": "hello\nTarget 1: iqn.2026-11.a.b:c\n",
		"bad target id":            "Target x: iqn.2026-11.a.b:c\n",
		"zero target id":           "Target 0: iqn.2026-11.a.b:c\n",
		"no target name":           "Target 1:\n",
		"bad LUN":                  "Target 1: iqn.2026-11.a.b:c\n LUN information:\n  LUN: one\n",
		"bad nexus":                "Target 1: iqn.2026-11.a.b:c\n I_T nexus information:\n  I_T nexus: ?\n",
	} {
		t.Run(name, func(t *testing.T) {
			if ts, err := parseShow(strings.NewReader(in)); err == nil {
				t.Fatalf("no error; parsed %+v", ts)
			}
		})
	}
}

func FuzzParseShow(f *testing.F) {
	raw, err := os.ReadFile("testdata/show-many.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(raw))
	f.Add("Target 1: x\nACL information:\nALL\n")
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := parseShow(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, tg := range ts {
			if tg.TID <= 0 || tg.Name == "" {
				t.Fatalf("accepted target %+v", tg)
			}
		}
	})
}

func BenchmarkParseShow(b *testing.B) {
	raw, err := os.ReadFile("testdata/show-many.txt")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := parseShow(strings.NewReader(string(raw))); err != nil {
			b.Fatal(err)
		}
	}
}
