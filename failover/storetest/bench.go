package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

// Counting wraps a Store and counts its calls, each one round trip to a
// remote store (etcdstore makes exactly one per call) or one transaction
// of an embedded one.
type Counting struct {
	failover.Store
	mu sync.Mutex
	n  map[string]int
}

var _ failover.Store = (*Counting)(nil)

// NewCounting returns st wrapped with call counters.
func NewCounting(st failover.Store) *Counting { return &Counting{Store: st, n: map[string]int{}} }

// AsStore returns the counting store with the optional capabilities of
// the store it wraps that change how the Orchestrator writes
// (failover.Batcher: one write counted as one call).
func (c *Counting) AsStore() failover.Store {
	if b, ok := c.Store.(failover.Batcher); ok {
		return countingBatcher{c, b}
	}
	return c
}

type countingBatcher struct {
	*Counting
	b failover.Batcher
}

// Write implements failover.Batcher.
func (c countingBatcher) Write(ctx context.Context, b failover.Batch) ([]failover.Record, error) {
	c.count("Write")
	return c.b.Write(ctx, b)
}

func (c *Counting) count(m string) {
	c.mu.Lock()
	c.n[m]++
	c.mu.Unlock()
}

// Counts returns the calls per method so far.
func (c *Counting) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// Total returns the number of calls so far.
func (c *Counting) Total() int {
	n := 0
	for _, v := range c.Counts() {
		n += v
	}
	return n
}

// Reset zeroes the counters.
func (c *Counting) Reset() {
	c.mu.Lock()
	clear(c.n)
	c.mu.Unlock()
}

// String formats the counts as "Append=19 Get=3 ...".
func (c *Counting) String() string {
	var parts []string
	for k, v := range c.Counts() {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// Get implements failover.Store.
func (c *Counting) Get(ctx context.Context, id search.ServerID) (failover.Record, error) {
	c.count("Get")
	return c.Store.Get(ctx, id)
}

// List implements failover.Store.
func (c *Counting) List(ctx context.Context) ([]failover.Record, error) {
	c.count("List")
	return c.Store.List(ctx)
}

// Put implements failover.Store.
func (c *Counting) Put(ctx context.Context, recs ...failover.Record) ([]failover.Record, error) {
	c.count("Put")
	return c.Store.Put(ctx, recs...)
}

// Append implements failover.Store.
func (c *Counting) Append(ctx context.Context, id string, e failover.Entry) error {
	c.count("Append")
	return c.Store.Append(ctx, id, e)
}

// Journal implements failover.Store.
func (c *Counting) Journal(ctx context.Context, id string) ([]failover.Entry, error) {
	c.count("Journal")
	return c.Store.Journal(ctx, id)
}

// Unfinished implements failover.Store.
func (c *Counting) Unfinished(ctx context.Context) ([]string, error) {
	c.count("Unfinished")
	return c.Store.Unfinished(ctx)
}

// BenchmarkFailover runs one whole failover (srv01 on the patent site,
// exact spare) per iteration on a fresh store from newStore, and reports
// the store round trips it took ("roundtrips/failover", and per method
// in the log). Building the site and filling the store are not timed.
func BenchmarkFailover(b *testing.B, newStore func(b *testing.B) failover.Store) {
	ctx := context.Background()
	var total int
	var last string
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		site := NewSite()
		st := NewCounting(newStore(b))
		if _, err := st.Put(ctx, site.Records()...); err != nil {
			b.Fatal(err)
		}
		o, err := failover.New(st.AsStore(), site.Drivers(), site.Options()...)
		if err != nil {
			b.Fatal(err)
		}
		if err := site.World.FailServer("srv01", bmc.FaultProcessor); err != nil {
			b.Fatal(err)
		}
		st.Reset()
		b.StartTimer()
		res, err := o.HandleFault(ctx, bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor, Time: site.Clock.Now()})
		b.StopTimer()
		if err != nil || res.Outcome != failover.OutcomeDone {
			b.Fatalf("failover: %s: %v", res.Outcome, err)
		}
		total += st.Total()
		last = st.String()
		b.StartTimer()
	}
	b.ReportMetric(float64(total)/float64(b.N), "roundtrips/failover")
	b.Logf("store calls of one failover: %s", last)
}

// BenchmarkReservations measures reservation throughput under contention:
// parallel workers (8 per GOMAXPROCS) each reserve a random one of 16
// spares together with their own failed server in one two-record
// compare-and-set Put, retrying on ErrConflict, then release it. It
// reports "reservations/s" and "conflicts/reservation".
func BenchmarkReservations(b *testing.B, newStore func(b *testing.B) failover.Store) {
	ctx := context.Background()
	st := newStore(b)
	const spares = 16
	var recs []failover.Record
	for i := 0; i < spares; i++ {
		recs = append(recs, failover.Record{Server: search.Server{ID: search.ServerID(fmt.Sprintf("spare-%02d", i)), State: search.Standby}})
	}
	if _, err := st.Put(ctx, recs...); err != nil {
		b.Fatal(err)
	}
	var worker, conflicts atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		w := worker.Add(1)
		rng := rand.New(rand.NewPCG(uint64(w), 7))
		failed := failover.Record{Server: search.Server{ID: search.ServerID(fmt.Sprintf("failed-%03d", w)), State: search.Failed}}
		out, err := st.Put(ctx, failed)
		if err != nil {
			b.Error(err)
			return
		}
		failed = out[0]
		for pb.Next() {
			id := fmt.Sprintf("fo-%d", w)
			for {
				sp, err := st.Get(ctx, search.ServerID(fmt.Sprintf("spare-%02d", rng.IntN(spares))))
				if err != nil {
					b.Error(err)
					return
				}
				if sp.Reservation != "" {
					conflicts.Add(1)
					continue
				}
				sp.Reservation, failed.Reservation = id, id
				out, err := st.Put(ctx, sp, failed)
				if errors.Is(err, failover.ErrConflict) {
					conflicts.Add(1)
					failed.Reservation = ""
					continue
				}
				if err != nil {
					b.Error(err)
					return
				}
				sp, failed = out[0], out[1]
				sp.Reservation, failed.Reservation = "", ""
				if out, err = st.Put(ctx, sp, failed); err != nil {
					b.Error(err)
					return
				}
				failed = out[1]
				break
			}
		}
	})
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "reservations/s")
	b.ReportMetric(float64(conflicts.Load())/float64(b.N), "conflicts/reservation")
}
