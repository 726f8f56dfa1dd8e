package boltstore_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coldstandby/coldstandby/drivers/boltstore"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/storetest"
	"github.com/coldstandby/coldstandby/internal/conformance"
	"github.com/coldstandby/coldstandby/search"
)

// The damage tests write a store file, damage copies of it (cut short at
// many offsets, single bits flipped) and open each copy in a child
// process (TestDamageChild), which reports what Open, Check and every
// read said. A panic or a SIGBUS would kill the child; the parent checks
// that none did and that every answer is either the data or an error
// wrapping ErrCorrupt, never an empty store.

const damageEnv = "BOLTSTORE_DAMAGE_PATH"

// reference is what the reference file holds.
type reference struct {
	records  []search.ServerID
	journals map[string]int // failover ID -> entries
	pageSize int64
	hwm      int64 // bytes below the last commit's high-water mark
	size     int64
}

// writeReference writes a store with the patent site's records, some
// journals (one with entries large enough for overflow pages, enough
// entries for branch pages) and returns what it holds.
func writeReference(t *testing.T, path string) reference {
	t.Helper()
	st, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	recs, err := st.Put(ctx, storetest.NewSite().Records()...)
	if err != nil {
		t.Fatal(err)
	}
	ref := reference{journals: map[string]int{}}
	for _, r := range recs {
		ref.records = append(ref.records, r.ID)
	}
	appendN := func(id string, n, pad int, end bool) {
		for seq := int64(1); seq <= int64(n); seq++ {
			ph := failover.PhaseIntent
			switch {
			case seq == 1:
				ph = failover.PhaseBegin
			case end && seq == int64(n):
				ph = failover.PhaseEnd
			}
			data, _ := json.Marshal(map[string]any{"seq": seq, "pad": strings.Repeat("p", pad)})
			if err := st.Append(ctx, id, failover.Entry{Seq: seq, Time: time.Unix(seq, 0), Phase: ph, Step: "step", Target: id, Data: data}); err != nil {
				t.Fatal(err)
			}
		}
		ref.journals[id] = n
	}
	appendN("fo-big", 3, 9000, false) // values longer than a page
	appendN("fo-many", 120, 100, true)
	appendN("fo-open", 5, 10, false)
	// A last commit that changes a record: both meta pages then describe
	// a populated store.
	recs[0].Priority++
	if _, err := st.Put(ctx, recs[0]); err != nil {
		t.Fatal(err)
	}
	if err := st.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ref.size = int64(len(b))
	// The meta page with the higher transaction id says how far the file
	// must reach (bbolt's meta layout: page size at 24, high-water mark at
	// 56, txid at 64 of each meta page).
	ne := binary.NativeEndian
	ref.pageSize = int64(ne.Uint32(b[24:]))
	m := b[:ref.pageSize]
	if ne.Uint64(b[ref.pageSize+64:]) > ne.Uint64(b[64:]) {
		m = b[ref.pageSize : 2*ref.pageSize]
	}
	ref.hwm = int64(ne.Uint64(m[56:])) * ref.pageSize
	if ref.hwm < 8*ref.pageSize || ref.hwm > ref.size {
		t.Fatalf("reference file: high-water mark %d bytes, size %d", ref.hwm, ref.size)
	}
	return ref
}

// TestDamageChild opens the file named by the environment and reports on
// stdout, one line per call: "OPEN ok|corrupt|other <error>", then for
// each read "<call> ok <n>" or "<call> corrupt|other <error>". It does
// nothing in a normal run.
func TestDamageChild(t *testing.T) {
	path := os.Getenv(damageEnv)
	if path == "" {
		t.Skip("helper for the damage tests")
	}
	say := func(call string, n int, err error) {
		switch {
		case err == nil:
			fmt.Printf("%s ok %d\n", call, n)
		case errors.Is(err, boltstore.ErrCorrupt):
			fmt.Printf("%s corrupt %q\n", call, err.Error())
		default:
			fmt.Printf("%s other %q\n", call, err.Error())
		}
	}
	st, err := boltstore.Open(path, boltstore.WithLockTimeout(time.Second))
	say("OPEN", 0, err)
	if err != nil {
		os.Exit(0)
	}
	ctx := context.Background()
	say("CHECK", 0, st.Check(ctx))
	recs, err := st.List(ctx)
	say("LIST", len(recs), err)
	for _, id := range strings.Fields(os.Getenv("BOLTSTORE_DAMAGE_RECORDS")) {
		_, err := st.Get(ctx, search.ServerID(id))
		say("GET "+id, 1, err)
	}
	for _, id := range strings.Fields(os.Getenv("BOLTSTORE_DAMAGE_JOURNALS")) {
		j, err := st.Journal(ctx, id)
		say("JOURNAL "+id, len(j), err)
	}
	u, err := st.Unfinished(ctx)
	say("UNFINISHED", len(u), err)
	// Writes on a damaged file fail or succeed; they never crash.
	_, err = st.Put(ctx, failover.Record{Server: search.Server{ID: "new-one", State: search.Standby}})
	say("PUT", 1, err)
	err = st.Append(ctx, "fo-open", failover.Entry{Seq: 6, Phase: failover.PhaseEnd})
	say("APPEND", 1, err)
	say("CLOSE", 0, st.Close())
	os.Exit(0)
}

type childReport struct {
	lines map[string]string // call -> "ok n" | "corrupt msg" | "other msg"
	order []string
}

func (r childReport) get(call string) (kind, rest string) {
	kind, rest, _ = strings.Cut(r.lines[call], " ")
	return kind, rest
}

// runDamageChild opens path in a child process and returns its report.
// It fails the test if the child did not exit normally within a minute.
func runDamageChild(t *testing.T, path string, ref reference) childReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestDamageChild$", "-test.count=1")
	var recs []string
	for _, id := range ref.records {
		recs = append(recs, string(id))
	}
	var js []string
	for id := range ref.journals {
		js = append(js, id)
	}
	slices.Sort(js)
	cmd.Env = append(os.Environ(), damageEnv+"="+path,
		"BOLTSTORE_DAMAGE_RECORDS="+strings.Join(recs, " "), "BOLTSTORE_DAMAGE_JOURNALS="+strings.Join(js, " "))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		detail := err.Error()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			detail = "killed by " + ws.Signal().String()
		}
		t.Fatalf("the child crashed (%s) opening %s:\n%s\n%s", detail, filepath.Base(path), out, lastLines(stderr.String(), 15))
	}
	rep := childReport{lines: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		for _, call := range []string{"OPEN", "CHECK", "LIST", "GET ", "JOURNAL ", "UNFINISHED", "PUT", "APPEND", "CLOSE"} {
			if !strings.HasPrefix(l, call) {
				continue
			}
			f := strings.Fields(l)
			name := f[0]
			if strings.HasSuffix(call, " ") {
				name += " " + f[1]
			}
			rep.lines[name] = strings.TrimSpace(strings.TrimPrefix(l, name))
			rep.order = append(rep.order, name)
		}
	}
	if _, ok := rep.lines["OPEN"]; !ok {
		t.Fatalf("the child said nothing about Open:\n%s\n%s", out, lastLines(stderr.String(), 15))
	}
	return rep
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// checkAnswers checks that a child that opened a damaged file answered
// every read with the data or ErrCorrupt, and never saw an empty store.
func checkAnswers(t *testing.T, rep childReport, ref reference, wantIntact bool) {
	t.Helper()
	for _, call := range rep.order {
		kind, rest := rep.get(call)
		switch {
		case call == "PUT" || call == "APPEND" || call == "CLOSE":
			// Writes into a damaged tree may fail, as ErrCorrupt or as
			// a conflict (a journal damaged into a closed state).
		case kind == "other":
			t.Errorf("%s: %s; a damaged file must give ErrCorrupt", call, rest)
		case wantIntact && kind != "ok":
			t.Errorf("%s: %s %s; the damage is outside the data, want the data", call, kind, rest)
		}
	}
	if kind, rest := rep.get("LIST"); kind == "ok" && rest == "0" {
		t.Errorf("List found an empty store in a file that held %d records", len(ref.records))
	}
	if kind, rest := rep.get("LIST"); wantIntact && (kind != "ok" || rest != fmt.Sprint(len(ref.records))) {
		t.Errorf("List = %s %s, want %d records", kind, rest, len(ref.records))
	}
	for id, n := range ref.journals {
		if kind, rest := rep.get("JOURNAL " + id); wantIntact && (kind != "ok" || rest != fmt.Sprint(n)) {
			t.Errorf("Journal %s = %s %s, want %d entries", id, kind, rest, n)
		}
	}
}

// runDamage runs the child on each damaged copy, as parallel subtests
// (GOMAXPROCS at a time). Under the race detector, whose children start
// slowly and have nothing to race, it runs every fifth case; the normal
// run covers all.
func runDamage(t *testing.T, cases []damageCase, ref reference, orig []byte) {
	dir := t.TempDir()
	for i, c := range cases {
		if conformance.RaceEnabled && i%5 != 0 {
			continue
		}
		path := filepath.Join(dir, fmt.Sprintf("damaged-%03d.db", i))
		if err := os.WriteFile(path, c.damage(slices.Clone(orig)), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.check(t, runDamageChild(t, path, ref))
		})
	}
}

type damageCase struct {
	name   string
	damage func([]byte) []byte
	check  func(t *testing.T, rep childReport)
}

func TestOpenRefusesTruncatedFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	ref := writeReference(t, path)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Every page boundary below the high-water mark, within pages, and
	// beyond the mark (bbolt grows files ahead of use).
	offsets := []int64{0, 1, 16, 100, ref.pageSize - 1, ref.pageSize, ref.pageSize + 80, 2*ref.pageSize - 1}
	for p := int64(2); p*ref.pageSize < ref.size; p++ {
		offsets = append(offsets, p*ref.pageSize)
		if p*ref.pageSize < ref.hwm {
			offsets = append(offsets, p*ref.pageSize+ref.pageSize/2)
		}
	}
	offsets = append(offsets, ref.hwm-1, ref.hwm, ref.size-1)
	if testing.Short() {
		offsets = []int64{0, 100, ref.pageSize, 3 * ref.pageSize, ref.hwm - 1, ref.hwm}
	}
	slices.Sort(offsets)
	offsets = slices.Compact(offsets)
	var cases []damageCase
	for _, off := range offsets {
		if off >= ref.size {
			continue
		}
		cases = append(cases, damageCase{
			name:   fmt.Sprintf("cut_at_%d", off),
			damage: func(b []byte) []byte { return b[:off] },
			check: func(t *testing.T, rep childReport) {
				kind, msg := rep.get("OPEN")
				if off < ref.hwm {
					if kind != "corrupt" {
						t.Fatalf("Open of a file cut at %d of %d bytes (the last commit needs %d): %s %s; want ErrCorrupt", off, ref.size, ref.hwm, kind, msg)
					}
					if off > 0 && !strings.Contains(msg, "cut short") && !strings.Contains(msg, "invalid") {
						t.Errorf("Open error %s does not say the file is cut short", msg)
					}
					return
				}
				// Cut in the space bbolt allocated ahead: nothing is lost.
				if kind != "ok" {
					t.Fatalf("Open of a file cut at %d, beyond its high-water mark %d: %s %s", off, ref.hwm, kind, msg)
				}
				checkAnswers(t, rep, ref, true)
			},
		})
	}
	t.Logf("%d truncations of a %d-byte file (page %d, high-water mark %d bytes)", len(cases), ref.size, ref.pageSize, ref.hwm)
	runDamage(t, cases, ref, orig)
}

func TestOpenSurvivesFlippedBits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	ref := writeReference(t, path)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Bits of the meta pages' fields, of every page header below the
	// high-water mark, of the first elements of each page, and random
	// bits anywhere in use.
	var positions []int64
	for _, m := range []int64{0, ref.pageSize} {
		for _, off := range []int64{8, 16, 20, 24, 32, 40, 48, 56, 64, 72} {
			positions = append(positions, m+off)
		}
	}
	for p := int64(2); p*ref.pageSize < ref.hwm; p++ {
		base := p * ref.pageSize
		positions = append(positions, base, base+8, base+10, base+12, base+16, base+20, base+24, base+28, base+40)
	}
	rnd := rand.New(rand.NewPCG(12, 2026))
	for range 60 {
		positions = append(positions, rnd.Int64N(ref.hwm))
	}
	if testing.Short() {
		positions = []int64{16, 56, ref.pageSize + 64, 2*ref.pageSize + 10, 3*ref.pageSize + 16, rnd.Int64N(ref.hwm)}
	}
	slices.Sort(positions)
	positions = slices.Compact(positions)
	var refused, opened atomic.Int32
	t.Cleanup(func() {
		t.Logf("bit flips: Open refused %d files with ErrCorrupt, opened %d (damage in free space or inside values)", refused.Load(), opened.Load())
	})
	var cases []damageCase
	for _, pos := range positions {
		bit := byte(1) << (pos % 8)
		if pos%ref.pageSize < 16 || pos%ref.pageSize >= 56 && pos%ref.pageSize < 72 && pos < 2*ref.pageSize {
			bit = 0x01 // a page id, a count, the high-water mark, the txid: their low bits matter
		}
		cases = append(cases, damageCase{
			name:   fmt.Sprintf("flip_%d_bit_%#02x", pos, bit),
			damage: func(b []byte) []byte { b[pos] ^= bit; return b },
			check: func(t *testing.T, rep childReport) {
				kind, msg := rep.get("OPEN")
				switch kind {
				case "corrupt":
					refused.Add(1)
					return
				case "ok":
					opened.Add(1)
					checkAnswers(t, rep, ref, false)
				default:
					t.Fatalf("Open of a file with bit %#02x of byte %d flipped: %s %s; want ErrCorrupt or the data", bit, pos, kind, msg)
				}
			},
		})
	}
	t.Logf("%d bit flips in a %d-byte file", len(cases), ref.size)
	runDamage(t, cases, ref, orig)
}

func TestOpenRefusesWhatIsNoStoreFile(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other.db")
	db, err := bolt.Open(other, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("something")); return err }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		content []byte
		path    string
	}{
		{"empty file", []byte{}, ""},
		{"text", []byte(strings.Repeat("not a database\n", 1000)), ""},
		{"zeros", make([]byte, 64<<10), ""},
		{"another program's bbolt file", nil, other},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := c.path
			if path == "" {
				path = filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".db")
				if err := os.WriteFile(path, c.content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			st, err := boltstore.Open(path)
			if err == nil {
				_ = st.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, boltstore.ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open = %v, want ErrCorrupt naming the file", err)
			}
			// The file is left as it was, for whoever restores it.
			if fi, err := os.Stat(path); err != nil || c.path == "" && fi.Size() != int64(len(c.content)) {
				t.Errorf("the refused file changed: %v, %v", fi, err)
			}
		})
	}
}

func TestUndecodableValueIsCorruptAndNamed(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "state.db")
		st := open(t, path)
		if _, err := st.Put(ctx, failover.Record{Server: search.Server{ID: "srv01", State: search.Standby}},
			failover.Record{Server: search.Server{ID: "srv02", State: search.Standby}}); err != nil {
			t.Fatal(err)
		}
		if err := st.Append(ctx, "fo-1", failover.Entry{Seq: 1, Phase: failover.PhaseBegin}); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// putRaw stores a value that bbolt keeps intact but that does not
	// decode.
	putRaw := func(t *testing.T, path string, put func(tx *bolt.Tx) error) {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(put); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	wantCorrupt := func(t *testing.T, what string, err error, key string) {
		t.Helper()
		if !errors.Is(err, boltstore.ErrCorrupt) || errors.Is(err, failover.ErrTransient) || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v; want ErrCorrupt (not ErrTransient) naming %s", what, err, key)
		}
	}
	t.Run("journal_entry", func(t *testing.T) {
		path := setup(t)
		putRaw(t, path, func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("journals")).Bucket([]byte("fo-1")).Put(binary.BigEndian.AppendUint64(nil, 1), []byte("\x00garbage"))
		})
		st := open(t, path) // entries are decoded when read
		_, err := st.Journal(ctx, "fo-1")
		wantCorrupt(t, "Journal", err, `"fo-1"`)
		wantCorrupt(t, "Check", st.Check(ctx), `"fo-1"`)
	})
	t.Run("record_at_open", func(t *testing.T) {
		path := setup(t)
		putRaw(t, path, func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("records")).Put([]byte("srv02"), []byte(`{"ID":"srv02",`))
		})
		st, err := boltstore.Open(path)
		if err == nil {
			_ = st.Close()
		}
		wantCorrupt(t, "Open", err, `"srv02"`)
	})
	t.Run("record_damaged_while_open", func(t *testing.T) {
		path := setup(t)
		st := open(t, path)
		damageInPlace(t, path, `{"ID":"srv02"`)
		for name, call := range map[string]func() error{
			"Get":  func() error { _, err := st.Get(ctx, "srv02"); return err },
			"List": func() error { _, err := st.List(ctx); return err },
			"Put": func() error {
				_, err := st.Put(ctx, failover.Record{Server: search.Server{ID: "srv02", State: search.Standby}})
				return err
			},
			"Check": func() error { return st.Check(ctx) },
		} {
			wantCorrupt(t, name, call(), `"srv02"`)
		}
		if _, err := st.Get(ctx, "srv01"); err != nil {
			t.Errorf("Get of an intact record: %v", err)
		}
	})
}

// A file created by Open is whole from its first byte: a crash while
// creating it leaves no file (or a hidden temporary one), never an empty
// file that would later open as an empty store.
func TestOpenCreatesTheFileWhole(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	st := open(t, path)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "state.db" {
		t.Fatalf("directory holds %v, want only state.db", entries)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() == 0 {
		t.Fatalf("created file: %v, %v", fi, err)
	}
	st = open(t, path)
	if err := st.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}
