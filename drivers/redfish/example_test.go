package redfish_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/coldstandby/coldstandby/drivers/redfish"
	"github.com/coldstandby/coldstandby/partition"
)

// Wiring the driver for a blade enclosure that exposes physical
// partitions through Redfish composition, with servers known by their
// inventory names.
func Example() {
	m, err := redfish.New("https://enclosure1.example",
		redfish.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}),
		redfish.WithBasicAuth("coldstandby", "secret"),
		redfish.WithMembers(map[string]string{
			"r12-07": "BladeComputeBlock4",
			"r12-08": "BladeComputeBlock7",
		}))
	if err != nil {
		log.Fatal(err)
	}
	var pm partition.PartitionManager = m
	if err := pm.Compose(context.Background(), "db-partition", []string{"r12-07", "r12-08"}); err != nil {
		log.Fatal(err)
	}
	servers, err := pm.List(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(servers)
}
