package etcdstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/drivers/etcdstore"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/storetest"
	"github.com/coldstandby/coldstandby/internal/etcdtest"
	"github.com/coldstandby/coldstandby/search"
)

// TestTransactionLimit: what one etcd transaction cannot hold is refused
// as ErrInvalid (not ErrTransient, which would be tried again in vain,
// nor ErrOutcomeUnknown: etcd refuses it before applying anything), Fits
// says so beforehand, and the Orchestrator's writes stay within it.
func TestTransactionLimit(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx := context.Background()
	if _, err := etcdstore.New(cli, "/x/", etcdstore.WithMaxTxnOps(3)); !errors.Is(err, failover.ErrInvalid) {
		t.Fatalf("New with a limit of 3: %v, want ErrInvalid", err)
	}
	st := newStore(t, cli)
	recs := make([]failover.Record, 200) // more than etcd's 128
	for i := range recs {
		recs[i] = failover.Record{Server: search.Server{ID: search.ServerID(fmt.Sprintf("s%03d", i)), State: search.Standby}}
	}
	if _, err := st.Put(ctx, recs...); !errors.Is(err, failover.ErrInvalid) || errors.Is(err, failover.ErrTransient) || errors.Is(err, failover.ErrOutcomeUnknown) {
		t.Fatalf("Put of 200 records: %v, want ErrInvalid only", err)
	}
	big := failover.Batch{Puts: recs}
	if st.Fits(big) {
		t.Fatal("Fits says 200 records fit one transaction")
	}
	if _, err := st.Write(ctx, big); !errors.Is(err, failover.ErrInvalid) {
		t.Fatalf("Write of 200 records: %v, want ErrInvalid", err)
	}
	if all, err := st.List(ctx); err != nil || len(all) != 0 {
		t.Fatalf("after refused writes: %d records, %v", len(all), err)
	}
	small := failover.Batch{Puts: recs[:60], Appends: []failover.Append{{ID: "f", Entries: []failover.Entry{{Seq: 1, Phase: failover.PhaseBegin}}}}}
	if !st.Fits(small) {
		t.Fatal("Fits refuses 60 records and one entry")
	}
	if _, err := st.Write(ctx, small); err != nil {
		t.Fatal(err)
	}
	// What Fits allows, etcd takes, up to the edge: the largest batch of
	// records that fits is written, one more does not fit.
	edge := failover.Batch{}
	for i := 0; ; i++ {
		next := edge
		next.Puts = append(next.Puts, failover.Record{Server: search.Server{ID: search.ServerID(fmt.Sprintf("e%03d", i)), State: search.Standby}})
		if !st.Fits(next) {
			break
		}
		edge = next
	}
	if _, err := st.Write(ctx, edge); err != nil {
		t.Fatalf("Write of %d records, which Fits allows: %v", len(edge.Puts), err)
	}
}

// TestCorruptValueIsNotTransient: a value that cannot be decoded is
// ErrCorrupt and names its key; trying again would not help.
func TestCorruptValueIsNotTransient(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx := context.Background()
	st := newStore(t, cli)
	if _, err := cli.Put(ctx, st.Prefix()+"rec/bad", "{not json"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, st.Prefix()+"j/f/00000000000000000001", "[]"); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"Get":     func() error { _, err := st.Get(ctx, "bad"); return err },
		"List":    func() error { _, err := st.List(ctx); return err },
		"Journal": func() error { _, err := st.Journal(ctx, "f"); return err },
	} {
		err := call()
		if !errors.Is(err, etcdstore.ErrCorrupt) || errors.Is(err, failover.ErrTransient) {
			t.Fatalf("%s of a damaged value: %v, want ErrCorrupt and not ErrTransient", name, err)
		}
	}
}

// BenchmarkMassFailure is issue 17's mass failure on etcd (one local
// member): 1,000 failures spread over 10 fabrics and 50 switches, every
// driver call taking 5 ms, and 200 of them, joint or concurrent.
func BenchmarkMassFailure(b *testing.B) {
	srv := etcdtest.Start(b)
	cli := srv.Client(b)
	newStore := func(b *testing.B) failover.Store {
		st, err := etcdstore.New(cli, etcdtest.Prefix(b))
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	for _, s := range []storetest.MassShape{
		{Failures: 1000, Fabrics: 10, Switches: 50, Latency: 5 * time.Millisecond},
		{Failures: 200, Fabrics: 10, Switches: 50, Latency: 5 * time.Millisecond},
		{Failures: 200, Fabrics: 10, Switches: 50, Latency: 5 * time.Millisecond, Concurrent: true},
		{Failures: 10, Fabrics: 10, Switches: 50},
	} {
		b.Run(s.String(), func(b *testing.B) { storetest.BenchmarkMassFailure(b, newStore, s) })
	}
}
