package brocade_test

import (
	"context"
	"testing"
)

// BenchmarkAddRemoveCommit: add a WWPN to a zone and commit, then remove
// it and commit (login, reads, change, enable, logout each time).
func BenchmarkAddRemoveCommit(b *testing.B) {
	srv := newSwitch(b)
	z := newZoner(b, srv)
	ctx := context.Background()
	w := freshWWPNs(1)[0]
	b.ReportAllocs()
	for b.Loop() {
		if err := z.AddMember(ctx, "z_host1_a", w); err != nil {
			b.Fatal(err)
		}
		if err := z.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		if err := z.RemoveMember(ctx, "z_host1_a", w); err != nil {
			b.Fatal(err)
		}
		if err := z.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
