// Package etcdstore is the failover.Store for several management
// processes sharing one state in etcd, with leader election and fencing.
// Import it in the program that runs the managers; a single manager with
// a local file wants drivers/boltstore instead.
//
// # Running several managers
//
// Run the same manager on two or three machines against one etcd
// cluster. They elect a leader (go.etcd.io/etcd/client/v3/concurrency);
// only the leader watches for faults and fails servers over, the others
// wait. Wiring, in each manager:
//
//	cli, _ := clientv3.New(clientv3.Config{Endpoints: endpoints})
//	st, _ := etcdstore.New(cli, "/coldstandby/prod/")
//	for ctx.Err() == nil {
//		sess, err := concurrency.NewSession(cli, concurrency.WithTTL(10))
//		if err != nil { time.Sleep(time.Second); continue }
//		err = etcdstore.RunLeader(ctx, sess, st, hostname, func(lctx context.Context, leader *etcdstore.Store) error {
//			o, err := failover.New(leader, drivers, opts...)
//			if err != nil { return err }
//			if _, err := o.Recover(lctx); err != nil { log.Print(err) } // finish what the last leader left
//			w, err := bmc.NewWatcher(targets, func(ctx context.Context, f bmc.Fault) { o.HandleFault(ctx, f) })
//			if err != nil { return err }
//			return w.Run(lctx) // until leadership is lost
//		})
//		sess.Close()
//	}
//
// Elector wraps this loop's body for a daemon: each RunTerm opens a
// session, campaigns, runs one term through RunLeader and closes the
// session; Leader names the instance that leads now (coldstandby serve
// uses both).
//
// What the leader does: when elected, it builds its Orchestrator on the
// fenced store RunLeader hands it, runs Recover first (finishing or
// rolling back every failover a previous leader left unfinished), then
// handles faults until its leadership context ends. Pass that context
// (lctx) to Recover and HandleFault: it ends the moment leadership is
// lost, so no further driver call goes out.
//
// What happens when it dies: its session's lease is no longer kept
// alive; etcd deletes its election key when the lease expires (TTL, 10 s
// above; at once if the process closed the session). Another manager wins
// the election and runs Recover, which reads the dead leader's journal
// and completes or rolls back its failover step by step. A leader that
// was only cut off (a network partition) cannot do harm when it comes
// back: every read and write it makes is an etcd transaction that also
// compares its election key's create revision (its fencing token), so
// its first call fails with failover.ErrNotLeader, writes nothing, and
// its Orchestrator stops at once without running any rollback. The
// journal's sequence numbers are a second guard: two writers can never
// both append the same step.
//
// Layout under the prefix: rec/<server ID> holds each Record as JSON (its
// Revision is the key's ModRevision; a Put is one Txn comparing every
// record's ModRevision, or CreateRevision 0 for a new one);
// j/<failover ID>/<Seq, 20 digits> holds the journal entries; open/<ID>
// indexes the journals without PhaseEnd (Unfinished is one prefix scan);
// leader/ is the election. Every Store method is one etcd round trip.
package etcdstore
