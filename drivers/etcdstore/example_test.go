package etcdstore_test

import (
	"context"
	"log"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/etcdstore"
	"github.com/coldstandby/coldstandby/failover"
)

// The wiring of one of several managers (see the package doc). It needs
// a running etcd, so it is compiled but not run; TestLeaderKilledMidFailover
// runs the same loop against a real etcd.
func ExampleRunLeader() {
	ctx := context.Background()
	var drivers failover.Drivers // the site's real drivers
	var targets []bmc.Target     // the BMCs to watch
	hostname, _ := os.Hostname()

	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://127.0.0.1:2379"}})
	if err != nil {
		log.Fatal(err)
	}
	st, err := etcdstore.New(cli, "/coldstandby/prod/")
	if err != nil {
		log.Fatal(err)
	}
	for ctx.Err() == nil {
		sess, err := concurrency.NewSession(cli, concurrency.WithTTL(10))
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		err = etcdstore.RunLeader(ctx, sess, st, hostname, func(lctx context.Context, leader *etcdstore.Store) error {
			o, err := failover.New(leader, drivers)
			if err != nil {
				return err
			}
			if _, err := o.Recover(lctx); err != nil {
				log.Print(err) // finish what the last leader left
			}
			w, err := bmc.NewWatcher(targets, func(ctx context.Context, f bmc.Fault) { _, _ = o.HandleFault(ctx, f) })
			if err != nil {
				return err
			}
			return w.Run(lctx) // until leadership is lost
		})
		log.Printf("leadership ended: %v", err)
		_ = sess.Close()
	}
}
