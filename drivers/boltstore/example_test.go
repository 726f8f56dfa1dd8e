package boltstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/boltstore"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/storetest"
)

// A manager's life on one file: fill the store, fail a server over,
// restart (reopen the file) and Recover, which finds nothing to do.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "boltstore")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "state.db")

	site := storetest.NewSite() // the patent's fake data centre
	st, err := boltstore.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := st.Put(ctx, site.Records()...); err != nil {
		log.Fatal(err)
	}
	o, _ := failover.New(st, site.Drivers(), site.Options()...)
	_ = site.World.FailServer("srv01", bmc.FaultProcessor)
	res, _ := o.HandleFault(ctx, bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor})
	fmt.Println("failover:", res.Outcome, "to", res.Plan.Assignments[0].Spare)
	_ = st.Close()

	// The next start of the process.
	st, err = boltstore.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	o, _ = failover.New(st, site.Drivers(), site.Options()...)
	results, err := o.Recover(ctx)
	fmt.Println("recovered:", len(results), err)
	rec, _ := st.Get(ctx, "srv01")
	fmt.Println("srv01:", rec.State, "moved to", rec.MovedTo)
	// Output:
	// failover: done to srv02
	// recovered: 0 <nil>
	// srv01: failed moved to srv02
}
