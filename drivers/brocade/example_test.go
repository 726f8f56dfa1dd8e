package brocade_test

import (
	"context"
	"fmt"

	"github.com/coldstandby/coldstandby/drivers/brocade"
	"github.com/coldstandby/coldstandby/drivers/brocade/brocadetest"
	"github.com/coldstandby/coldstandby/storage"
)

// Zone a spare's HBA port with the failed server's target and activate
// it. The test server stands in for the switch; against a real one, pass
// its address and drop WithHTTPClient.
func Example() {
	sw := brocadetest.New(nil)
	defer sw.Close()
	sw.Setup(brocadetest.DefaultVFID, "cfg_prod", map[string][]string{
		"z_r1_01_fab_a": {"50:0a:09:81:00:00:00:01", "10:00:00:00:c9:00:00:01"},
	})

	ctx := context.Background()
	z, err := brocade.New(sw.URL, sw.User, sw.Password, brocade.WithHTTPClient(sw.Client()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer z.Close(ctx)
	failed := storage.MustParseInitiator("10:00:00:00:c9:00:00:01")
	spare := storage.MustParseInitiator("10:00:00:00:c9:00:00:09")
	if err := z.AddMember(ctx, "z_r1_01_fab_a", spare); err != nil {
		fmt.Println(err)
		return
	}
	if err := z.RemoveMember(ctx, "z_r1_01_fab_a", failed); err != nil {
		fmt.Println(err)
		return
	}
	if err := z.Commit(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("spare active in:", sw.ActiveZones(brocadetest.DefaultVFID, spare.String()))
	fmt.Println("failed active in:", sw.ActiveZones(brocadetest.DefaultVFID, failed.String()))
	live, _, _ := sw.Sessions()
	fmt.Println("sessions left open:", live)
	// Output:
	// spare active in: [z_r1_01_fab_a]
	// failed active in: []
	// sessions left open: 0
}
