package failover_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/failover"
)

// The same scenario gives the same audit trail, in the same order, on
// every run, although independent steps run in parallel.
func TestAuditIsTheSameOnEveryRun(t *testing.T) {
	var first []string
	for run := range 30 {
		s := patentSite(t)
		res := s.fail("srv06", bmc.FaultOSStop) // preemption: many parallel steps
		if res.Outcome != failover.OutcomeDone {
			t.Fatal(res.Err)
		}
		var got []string
		for _, a := range res.Audit {
			got = append(got, fmt.Sprintf("%s %s %s %d %v %s", a.Step, a.Target, a.Driver, a.Attempts, a.Start.Sub(t0), a.Err))
		}
		if first == nil {
			first = got
			continue
		}
		if strings.Join(got, "\n") != strings.Join(first, "\n") {
			t.Fatalf("run %d audit differs:\n%s\nfirst run:\n%s", run, strings.Join(got, "\n"), strings.Join(first, "\n"))
		}
	}
}

func TestSeveralObserversAllSeeEveryEvent(t *testing.T) {
	var a, b atomic.Int32
	s := patentSite(t,
		failover.WithObserver(func(failover.Event) { a.Add(1) }),
		failover.WithObserver(func(failover.Event) { b.Add(1) }))
	if res := s.fail("srv01", bmc.FaultProcessor); res.Outcome != failover.OutcomeDone {
		t.Fatal(res.Err)
	}
	s.mu.Lock()
	n := len(s.events) // the site's own observer, given first
	s.mu.Unlock()
	if n == 0 || int(a.Load()) != n || int(b.Load()) != n {
		t.Fatalf("observers saw %d, %d and %d events", n, a.Load(), b.Load())
	}
}

// Every driver call a failover makes carries its ID, so a driver's log
// (here the fake's op log) says which failover acted.
func TestDriverCallsCarryTheFailoverID(t *testing.T) {
	s := patentSite(t)
	_ = s.w.FailServer("srv01", bmc.FaultProcessor)
	s.w.ResetOps()
	res, _ := s.o.HandleFault(context.Background(), bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor})
	if res.Outcome != failover.OutcomeDone {
		t.Fatal(res.Err)
	}
	for _, op := range s.w.Ops() {
		if op.Failover != res.ID {
			t.Errorf("op %v made for failover %q, want %q", op, op.Failover, res.ID)
		}
	}
}

// Errors read once: each layer adds what it knows, nothing is said twice,
// and combined errors end without blank lines.
func TestErrorsSayEachThingOnce(t *testing.T) {
	repeated := regexp.MustCompile(`(failover: .*){3,}|fencing failed.*fencing failed`)
	t.Run("fencing failed", func(t *testing.T) {
		s := patentSite(t)
		_, _ = s.w.Inject(fake.Fault{Driver: fake.DriverBMC, Target: "srv01", Err: bmc.ErrTransient})
		res := s.fail("srv01", bmc.FaultProcessor)
		if res.Outcome != failover.OutcomeFencingFailed {
			t.Fatalf("%s: %v", res.Outcome, res.Err)
		}
		msg := res.Err.Error()
		if repeated.MatchString(msg) || strings.Count(msg, "srv01") > 3 {
			t.Errorf("error repeats itself: %q", msg)
		}
	})
	t.Run("every candidate failed", func(t *testing.T) {
		s := patentSite(t, failover.WithCandidates(2))
		_, _ = s.w.Inject(fake.Fault{Driver: fake.DriverBMC, Method: "PowerOn", Err: bmc.ErrUnsupported})
		res := s.fail("srv01", bmc.FaultProcessor)
		if res.Outcome != failover.OutcomeFailed {
			t.Fatalf("%s: %v", res.Outcome, res.Err)
		}
		msg := res.Err.Error()
		if strings.HasSuffix(msg, "\n") || strings.Contains(msg, "\n\n") {
			t.Errorf("error has blank lines: %q", msg)
		}
		if repeated.MatchString(msg) {
			t.Errorf("error repeats itself: %q", msg)
		}
	})
	t.Run("a fault without detail", func(t *testing.T) {
		s := patentSite(t)
		_ = updateRecord(s, "srv09", func(r *failover.Record) { r.State = "maintenance" })
		_ = updateRecord(s, "srv02", func(r *failover.Record) { r.State = "maintenance" })
		res := s.fail("srv01", bmc.FaultPowerSupply)
		if res.Outcome != failover.OutcomeNoSpare {
			t.Fatalf("%s: %v", res.Outcome, res.Err)
		}
		if note := s.rec("srv01").Note; strings.HasSuffix(strings.TrimSpace(note), ":") {
			t.Errorf("note ends in a colon: %q", note)
		}
	})
}
