package tgt_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/coldstandby/coldstandby/drivers/tgt"
	"github.com/coldstandby/coldstandby/drivers/tgt/tgttest"
	"github.com/coldstandby/coldstandby/storage"
)

// BenchmarkRemap measures one failover of one boot LUN on a real tgtd
// with 20 other targets: Unmap from the failed initiator, Map to the
// spare at the same LUN (and back, alternating).
func BenchmarkRemap(b *testing.B) {
	d := tgttest.Start(b)
	m, err := tgt.New(tgt.WithControlPort(d.Control))
	if err != nil {
		b.Fatal(err)
	}
	for i := range 20 {
		d.AddVolume(b, fmt.Sprintf("iqn.2026-11.org.example:other%d", i), 1, 1<<20)
	}
	boot := d.AddVolume(b, "iqn.2026-11.org.example:boot", 1, 1<<20)
	a := []storage.Initiator{storage.MustParseInitiator("iqn.2026-11.org.example:a")}
	s := []storage.Initiator{storage.MustParseInitiator("iqn.2026-11.org.example:s")}
	ctx := context.Background()
	if err := m.Map(ctx, boot, a, 1); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Unmap(ctx, boot, a); err != nil {
			b.Fatal(err)
		}
		if err := m.Map(ctx, boot, s, 1); err != nil {
			b.Fatal(err)
		}
		a, s = s, a
	}
}
