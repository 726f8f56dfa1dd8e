package ovs_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/coldstandby/coldstandby/drivers/ovs"
	"github.com/coldstandby/coldstandby/fabric"
)

// Wiring the driver for a hypervisor's Open vSwitch: move a spare's port
// to the failed server's VLANs and keep the old setting to roll back.
func Example() {
	sw, err := ovs.New("unix:/run/openvswitch/db.sock", ovs.WithApplyWait(5*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer sw.Close()
	var vs fabric.VLANSwitch = sw // what failover.Drivers takes

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	prev, err := vs.SetPortVLAN(ctx, "spare-eth0", fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 10, Trunk: []int{20, 30}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("was", prev)
}
