package search

import (
	"fmt"
	"strings"
	"testing"
)

// TestIDTable looks up every ID, and IDs that are not there, with the IDs
// copied at a fixed stride and, when one is longer than maxStride, compared
// on the rows. The IDs include a prefix of another and IDs ending in zero
// bytes, the copy's padding: the length in the tag keeps them apart.
func TestIDTable(t *testing.T) {
	base := []ServerID{"a", "a\x00", "a\x00\x00", "ab", "abc", "", "b", ServerID(strings.Repeat("x", maxStride))}
	for i := range 2000 {
		base = append(base, ServerID(fmt.Sprintf("srv-%05d", i)))
	}
	absent := []ServerID{"a\x00\x00\x00", "abcd", "c", ServerID(strings.Repeat("x", maxStride-1)), ServerID(strings.Repeat("x", maxStride+1)), "srv-02000", "srv-0000", "srv-000000"}
	for _, long := range []bool{false, true} {
		ids := base
		if long {
			ids = append(ids[:len(ids):len(ids)], ServerID(strings.Repeat("y", maxStride+1)))
		}
		srvs := make([]srv, len(ids))
		for i, id := range ids {
			srvs[i].id = ServerID(strings.Clone(string(id)))
		}
		tab := newIDTable(srvs)
		if (tab.stride == 0) != long {
			t.Fatalf("long=%v: stride %d", long, tab.stride)
		}
		for i, id := range ids {
			if srvs[i].id != id {
				t.Fatalf("long=%v: row %d holds %q, want %q", long, i, srvs[i].id, id)
			}
			// A fresh copy: equal bytes, not the same string.
			got, ok := tab.lookup(srvs, ServerID(strings.Clone(string(id))))
			if !ok || got != int32(i) {
				t.Fatalf("long=%v: lookup(%q) = %d, %v; want %d", long, id, got, ok, i)
			}
		}
		// Every slot against the short IDs and two absent ones: only its
		// own matches (the lookup reaches other slots only when their
		// hash tags collide, so it is checked slot by slot here).
		for _, sl := range tab.slots {
			if sl.tag == 0 {
				continue
			}
			for _, id := range append(ids[:8:8], absent[:2]...) {
				if want := srvs[sl.idx].id == id; tab.idIs(srvs, sl, id) != want {
					t.Fatalf("long=%v: idIs(slot of %q, %q) = %v", long, srvs[sl.idx].id, id, !want)
				}
			}
		}
		for _, id := range absent {
			if got, ok := tab.lookup(srvs, id); ok {
				t.Fatalf("long=%v: lookup(%q) = %d, found; want absent", long, id, got)
			}
		}
	}
	var empty idTable
	if _, ok := empty.lookup(nil, "a"); ok {
		t.Fatal("the empty table found an ID")
	}
}
