package search

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestIDTable looks up every ID, and IDs that are not there, with the IDs
// copied at a fixed stride, with a few longer ones compared on their rows,
// and with most IDs too long for a copy. The IDs include a prefix of
// another and IDs ending in zero bytes, the copy's padding: the length in
// the tag keeps them apart.
func TestIDTable(t *testing.T) {
	short := []string{"a", "a\x00", "a\x00\x00", "ab", "abc", "", "b"}
	for i := range 2000 {
		short = append(short, fmt.Sprintf("srv-%05d", i)) // 9 bytes: stride 16
	}
	absentShort := []string{"a\x00\x00\x00", "abcd", "c", "srv-02000", "srv-0000", "srv-000000"}
	long := strings.Repeat("x", maxStride)
	sets := []struct {
		name   string
		ids    []string
		absent []string
		stride int
	}{
		{"short", short, absentShort, 16},
		{"a few long", append(slices.Clip(short), long, long+"y", long+"\x00"),
			append(slices.Clip(absentShort), long[1:], long+"z", long+"\x00\x00"), 16},
		{"most long", prefixed(long, short), prefixed(long, absentShort), 0},
	}
	for _, set := range sets {
		srvs := make([]srv, len(set.ids))
		for i, id := range set.ids {
			srvs[i].id = ServerID(strings.Clone(id))
		}
		tab := newIDTable(srvs)
		if tab.stride != set.stride {
			t.Fatalf("%s: stride %d, want %d", set.name, tab.stride, set.stride)
		}
		for i, id := range set.ids {
			if string(srvs[i].id) != id {
				t.Fatalf("%s: row %d holds %q, want %q", set.name, i, srvs[i].id, id)
			}
			// A fresh copy: equal bytes, not the same string.
			got, ok := tab.lookup(srvs, ServerID(strings.Clone(id)))
			if !ok || got != int32(i) {
				t.Fatalf("%s: lookup(%q) = %d, %v; want %d", set.name, id, got, ok, i)
			}
		}
		// Every slot against the first IDs, the last ones and two absent
		// ones: only its own matches (a lookup reaches another's slot only
		// when their hash tags collide, so it is checked slot by slot).
		probe := append(append(slices.Clone(set.ids[:7]), set.ids[len(set.ids)-3:]...), set.absent[:2]...)
		for _, sl := range tab.slots {
			if sl.tag == 0 {
				continue
			}
			for _, id := range probe {
				if want := string(srvs[sl.idx].id) == id; tab.idIs(srvs, sl, ServerID(id)) != want {
					t.Fatalf("%s: idIs(slot of %q, %q) = %v", set.name, srvs[sl.idx].id, id, !want)
				}
			}
		}
		for _, id := range set.absent {
			if got, ok := tab.lookup(srvs, ServerID(id)); ok {
				t.Fatalf("%s: lookup(%q) = %d, found; want absent", set.name, id, got)
			}
		}
	}
	var empty idTable
	if _, ok := empty.lookup(nil, "a"); ok {
		t.Fatal("the empty table found an ID")
	}
}

func prefixed(p string, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = p + id
	}
	return out
}
