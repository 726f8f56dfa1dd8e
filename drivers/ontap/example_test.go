package ontap_test

import (
	"context"
	"fmt"

	"github.com/coldstandby/coldstandby/drivers/ontap"
	"github.com/coldstandby/coldstandby/drivers/ontap/ontaptest"
	"github.com/coldstandby/coldstandby/storage"
)

// Move a failed server's boot LUN to a spare by swapping the initiators
// of its igroup (strategy A). The test server stands in for the cluster;
// against a real one, pass its address and drop WithHTTPClient.
func ExampleMapper_SwapInitiators() {
	srv := ontaptest.New(nil, "svm1")
	defer srv.Close()
	srv.AddLUN("/vol/boot_r1_01/lun0")
	srv.AddIgroup("r1-01", "fcp", "20:00:00:25:b5:aa:00:01")

	ctx := context.Background()
	m, err := ontap.New(srv.URL, "svm1", srv.User, srv.Password, ontap.WithHTTPClient(srv.Client()))
	if err != nil {
		fmt.Println(err)
		return
	}
	failed := []storage.Initiator{storage.MustParseInitiator("20:00:00:25:b5:aa:00:01")}
	spare := []storage.Initiator{storage.MustParseInitiator("2000.0025.b5aa.0009")}
	if err := m.Map(ctx, "/vol/boot_r1_01/lun0", failed, 0); err != nil {
		fmt.Println(err)
		return
	}
	if err := m.SwapInitiators(ctx, failed, spare); err != nil {
		fmt.Println(err)
		return
	}
	seen, _ := m.Mappings(ctx, spare)
	gone, _ := m.Mappings(ctx, failed)
	fmt.Println("spare sees:", seen)
	fmt.Println("failed sees:", gone)
	// Output:
	// spare sees: [{/vol/boot_r1_01/lun0 0}]
	// failed sees: []
}
