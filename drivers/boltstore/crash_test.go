package boltstore_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/drivers/boltstore"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/storetest"
	"github.com/coldstandby/coldstandby/search"
)

// The crash tests re-run this test binary as a child (TestCrashChild)
// that writes to a store file and reports on stdout, one line per
// completed call, what it wrote; the parent kills it with SIGKILL after a
// chosen number of lines (the child goes on writing meanwhile, so the kill
// lands at an arbitrary point, usually inside a commit's fsync), then
// reopens the file and checks it against the report.

const childEnv = "BOLTSTORE_CRASH_CHILD"

// TestCrashChild is the child's body; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("helper for the crash tests")
	}
	path := os.Getenv("BOLTSTORE_CRASH_PATH")
	st, err := boltstore.Open(path)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		// One write per line: a pipe write this small is atomic, so the
		// parent never sees half a line.
		_, _ = os.Stdout.WriteString(fmt.Sprintf(format, a...) + "\n")
	}
	ctx := context.Background()
	switch mode {
	case "journal":
		journalLoop(ctx, st, say)
	case "failover":
		failoverChild(ctx, st, say)
	}
	os.Exit(0)
}

// journalLoop writes journals of 20 entries (Begin, 18 steps, End) and
// bumps a counter record between them, forever.
func journalLoop(ctx context.Context, st *boltstore.Store, say func(string, ...any)) {
	rec, err := st.Put(ctx, failover.Record{Server: search.Server{ID: "counter", State: search.Standby}})
	if err != nil {
		say("ERR %v", err)
		os.Exit(3)
	}
	counter := rec[0]
	pad := strings.Repeat("x", 300)
	for n := 0; ; n++ {
		id := fmt.Sprintf("fo-%05d", n)
		for seq := int64(1); seq <= 20; seq++ {
			ph := failover.PhaseIntent
			switch {
			case seq == 1:
				ph = failover.PhaseBegin
			case seq == 20:
				ph = failover.PhaseEnd
			case seq%2 == 1:
				ph = failover.PhaseDone
			}
			data, _ := json.Marshal(map[string]any{"n": n, "seq": seq, "pad": pad})
			e := failover.Entry{Seq: seq, Time: time.Unix(int64(n), seq), Phase: ph, Step: "step", Target: id, Data: data}
			if err := st.Append(ctx, id, e); err != nil {
				say("ERR %v", err)
				os.Exit(3)
			}
			say("J %s %d", id, seq)
		}
		counter.Priority++
		out, err := st.Put(ctx, counter)
		if err != nil {
			say("ERR %v", err)
			os.Exit(3)
		}
		counter = out[0]
		say("R %d", counter.Priority)
	}
}

// failoverChild fails srv01 over on the patent site, reporting every
// completed mutating driver call (O) and every committed journal entry (J).
func failoverChild(ctx context.Context, st *boltstore.Store, say func(string, ...any)) {
	site := storetest.NewSite()
	if _, err := st.Put(ctx, site.Records()...); err != nil {
		say("ERR %v", err)
		os.Exit(3)
	}
	if err := site.World.FailServer("srv01", bmc.FaultProcessor); err != nil {
		say("ERR %v", err)
		os.Exit(3)
	}
	drv := storetest.Wrap(site.Drivers(), site.Clock, storetest.Hooks{After: func(op storetest.Op) {
		b, _ := json.Marshal(op)
		say("O %s", b)
	}})
	o, err := failover.New(reporting{Store: st, say: say}, drv, site.Options()...)
	if err != nil {
		say("ERR %v", err)
		os.Exit(3)
	}
	res, err := o.HandleFault(ctx, bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor, Time: site.Clock.Now()})
	say("DONE %s %v", res.Outcome, err)
}

// reporting reports each journal entry once Append returned.
type reporting struct {
	failover.Store
	say func(string, ...any)
}

func (r reporting) Append(ctx context.Context, id string, e failover.Entry) error {
	err := r.Store.Append(ctx, id, e)
	if err == nil {
		r.say("J %s %d", id, e.Seq)
	}
	return err
}

// runChild starts the child in mode on path and kills it with SIGKILL
// after it printed kill lines (0: let it finish). It returns every line
// the child printed and whether it was killed before it finished.
func runChild(t *testing.T, mode, path string, kill int) (lines []string, killed bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "BOLTSTORE_CRASH_PATH="+path)
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "ERR") {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("child: %s", l)
		}
		if strings.HasPrefix(l, "J ") || strings.HasPrefix(l, "O ") || strings.HasPrefix(l, "R ") || strings.HasPrefix(l, "DONE") {
			lines = append(lines, l)
		}
		if kill > 0 && len(lines) == kill {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		killed = true
	} else if err != nil && kill == 0 {
		t.Fatalf("child: %v", err)
	}
	return lines, killed
}

func TestJournalSurvivesSIGKILL(t *testing.T) {
	kills := []int{7, 61, 143, 250, 333}
	if testing.Short() {
		kills = kills[:2]
	}
	for _, kill := range kills {
		t.Run(fmt.Sprint(kill), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			lines, killed := runChild(t, "journal", path, kill)
			if !killed {
				t.Fatal("child was not killed")
			}
			st := open(t, path)
			ctx := context.Background()
			if err := st.Check(ctx); err != nil {
				t.Fatalf("file inconsistent after SIGKILL: %v", err)
			}
			last := map[string]int64{}
			var counter int
			for _, l := range lines {
				f := strings.Fields(l)
				switch f[0] {
				case "J":
					seq, _ := strconv.ParseInt(f[2], 10, 64)
					last[f[1]] = seq
				case "R":
					counter, _ = strconv.Atoi(f[1])
				}
			}
			for id, seq := range last {
				j, err := st.Journal(ctx, id)
				if err != nil {
					t.Fatalf("journal %s, reported up to seq %d: %v", id, seq, err)
				}
				// Every reported entry is there; at most one more (written,
				// killed before it was reported).
				if int64(len(j)) < seq || int64(len(j)) > seq+1 {
					t.Fatalf("journal %s has %d entries, child reported %d", id, len(j), seq)
				}
				for i, e := range j {
					if e.Seq != int64(i+1) || e.Target != id {
						t.Fatalf("journal %s entry %d = %+v", id, i, e)
					}
				}
			}
			u, err := st.Unfinished(ctx)
			if err != nil || len(u) > 1 {
				t.Fatalf("Unfinished = %v, %v; at most the journal being written when killed", u, err)
			}
			r, err := st.Get(ctx, "counter")
			if err != nil || r.Priority < counter || r.Priority > counter+1 {
				t.Fatalf("counter record %d (%v), child reported %d", r.Priority, err, counter)
			}
			// The file takes writes again.
			if len(u) == 1 {
				j, _ := st.Journal(ctx, u[0])
				if err := st.Append(ctx, u[0], failover.Entry{Seq: int64(len(j)) + 1, Phase: failover.PhaseEnd}); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("killed after %d reported lines; %d journals", len(lines), len(last))
		})
	}
}

func TestRecoverAfterSIGKILLMidFailover(t *testing.T) {
	// A run to the end tells how many lines a whole failover prints.
	path := filepath.Join(t.TempDir(), "full.db")
	full, _ := runChild(t, "failover", path, 0)
	if len(full) < 10 || !strings.HasPrefix(full[len(full)-1], "DONE done") {
		t.Fatalf("uninterrupted failover: %d lines, last %q", len(full), full[len(full)-1])
	}
	checkRecovered(t, path, full)

	n := len(full) - 1
	kills := []int{1, 2, 3, n / 6, n / 4, n / 3, n / 2, 2 * n / 3, 3 * n / 4, 5 * n / 6, n - 2, n - 1}
	if testing.Short() {
		kills = []int{2, n / 3, 2 * n / 3}
	}
	interrupted := 0
	for _, kill := range kills {
		t.Run(fmt.Sprint(kill), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			lines, killed := runChild(t, "failover", path, kill)
			if killed && !strings.HasPrefix(lines[len(lines)-1], "DONE") {
				interrupted++
			}
			checkRecovered(t, path, lines)
		})
	}
	if interrupted < len(kills)/2 {
		t.Fatalf("only %d of %d children were killed mid-failover", interrupted, len(kills))
	}
}

// checkRecovered rebuilds the world the child left (the same site, the
// same fault, the child's completed driver calls replayed in order),
// checks the store file, runs Recover with a new Orchestrator and checks
// that the failover completed safely.
func checkRecovered(t *testing.T, path string, lines []string) {
	t.Helper()
	ctx := context.Background()
	site := storetest.NewSite()
	if err := site.World.FailServer("srv01", bmc.FaultProcessor); err != nil {
		t.Fatal(err)
	}
	last := map[string]int64{}
	ops := 0
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "O "):
			var op storetest.Op
			if err := json.Unmarshal([]byte(l[2:]), &op); err != nil {
				t.Fatalf("bad op line %q: %v", l, err)
			}
			if err := site.Replay(op); err != nil {
				t.Fatal(err)
			}
			ops++
		case strings.HasPrefix(l, "J "):
			f := strings.Fields(l)
			seq, _ := strconv.ParseInt(f[2], 10, 64)
			last[f[1]] = seq
		}
	}
	st := open(t, path)
	if err := st.Check(ctx); err != nil {
		t.Fatalf("file inconsistent after SIGKILL: %v", err)
	}
	for id, seq := range last {
		j, err := st.Journal(ctx, id)
		if err != nil || int64(len(j)) < seq {
			t.Fatalf("journal %s: %d entries (%v), child reported seq %d committed", id, len(j), err, seq)
		}
	}
	o, err := failover.New(st, site.Drivers(), site.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	pending, err := st.Unfinished(ctx)
	if err != nil {
		t.Fatal(err)
	}
	results, err := o.Recover(ctx)
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	entries := 0
	for _, seq := range last {
		entries += int(seq)
	}
	for _, r := range results {
		t.Logf("recovered %s: %s (%d driver ops replayed, %d journal entries reported)", r.ID, r.Outcome, ops, entries)
	}
	if err := site.Check(ctx, st); err != nil {
		t.Fatal(err)
	}
	// A failover that reached the journal is carried out by Recover. Only
	// a child killed before its first journal entry leaves the fault to
	// be delivered again, as the BMC's fault detector does at start-up.
	if old, err := st.Get(ctx, "srv01"); err == nil && old.State == search.Active && old.MovedTo == "" {
		if len(pending) > 0 {
			t.Fatalf("Recover left srv01 unreplaced although failovers %v were journaled", pending)
		}
		t.Logf("killed before the first journal entry: delivering the fault again")
		res, err := o.HandleFault(ctx, bmc.Fault{Server: "srv01", Type: bmc.FaultProcessor, Time: site.Clock.Now()})
		if err != nil || res.Outcome != failover.OutcomeDone {
			t.Fatalf("fault delivered again after Recover: %s: %v", res.Outcome, err)
		}
		if err := site.Check(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	// The web workload runs, from srv01's boot volume, on a server that
	// is on; srv01 is off and marked replaced.
	old, err := st.Get(ctx, "srv01")
	if err != nil {
		t.Fatal(err)
	}
	if old.State != search.Failed || old.MovedTo == "" {
		t.Fatalf("srv01 after Recover: state %s moved to %q, want failed and replaced", old.State, old.MovedTo)
	}
	nw, err := st.Get(ctx, old.MovedTo)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := site.World.Server(string(old.MovedTo))
	if nw.Workload != "web" || nw.State != search.Active || srv.Power != bmc.PowerOn || srv.BootVolume != "boot-srv01" {
		t.Fatalf("%s after Recover: record %s/%s, world %s booted %q", nw.ID, nw.State, nw.Workload, srv.Power, srv.BootVolume)
	}
	if p := site.World.Power("srv01"); p != bmc.PowerOff {
		t.Fatalf("srv01 is %s", p)
	}
}
