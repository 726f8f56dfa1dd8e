package tgt_test

import (
	"context"
	"fmt"

	"github.com/coldstandby/coldstandby/drivers/tgt"
	"github.com/coldstandby/coldstandby/storage"
)

// Move a failed server's boot LUN to a spare on the tgtd started as
// `tgtd -C 1`: unmap the failed initiator, map the spare at the same LUN.
// (Not run: it needs a tgtd with the target iqn.2026-11.org.example:boot-r1-01.)
func Example() {
	ctx := context.Background()
	m, err := tgt.New(tgt.WithControlPort(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	failed := storage.MustParseInitiator("iqn.2026-11.org.example:r1-01")
	spare := storage.MustParseInitiator("iqn.2026-11.org.example:r9-spare")
	boot := tgt.Volume("iqn.2026-11.org.example:boot-r1-01", 1)

	if err := m.Unmap(ctx, boot, []storage.Initiator{failed}); err != nil {
		fmt.Println(err)
		return
	}
	if err := m.Map(ctx, boot, []storage.Initiator{spare}, 1); err != nil {
		fmt.Println(err)
		return
	}
	ms, _ := m.Mappings(ctx, []storage.Initiator{spare})
	fmt.Println(ms)
}

func ExampleParseVolumeID() {
	name, lun, err := tgt.ParseVolumeID("iqn.2026-11.org.example:boot-r1-01/1")
	fmt.Println(name, lun, err)
	// Output: iqn.2026-11.org.example:boot-r1-01 1 <nil>
}
