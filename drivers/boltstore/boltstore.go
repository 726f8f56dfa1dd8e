// Package boltstore is the embedded, durable failover.Store: one local
// file (go.etcd.io/bbolt), every write committed and fsynced before it
// returns. It is the default for a single management process. Import it
// in the program that builds the Orchestrator:
//
//	st, err := boltstore.Open("/var/lib/coldstandby/state.db")
//	if err != nil { ... }
//	defer st.Close()
//	o, err := failover.New(st, drivers)
//	results, err := o.Recover(ctx) // first, at start-up
//
// The file is locked while open: a second process opening it waits for
// WithLockTimeout and then fails with an error wrapping ErrLocked. Several
// managers sharing state need drivers/etcdstore instead.
//
// A damaged file (cut short by a full disk or a bad copy, overwritten,
// with flipped bits) is refused by Open with an error wrapping ErrCorrupt
// that says what is wrong where: Open reads the whole file and checks it
// before bbolt maps it, so that damage can neither crash the process (a
// bbolt assertion, a SIGBUS on a file shorter than its pages) nor pass
// for an empty store. A value that does not decode is reported the same
// way, naming its key. Restore such a file from a backup; keep copies of
// it (with Check) as you would of any database. Verifying costs about
// 0.2 s per 100 MB at each Open.
//
// Layout (all values JSON): bucket "records" maps a server ID to its
// Record (Revision from the bucket's persisted sequence, store-wide and
// strictly increasing); bucket "journals" holds one nested bucket per
// failover ID whose keys are the entries' Seq as 8-byte big-endian
// integers; bucket "open" indexes the failovers without PhaseEnd, which
// makes Unfinished one short scan; bucket "index" holds the number and a
// digest of the keys of records and journals and the number of entries,
// written with them, so that Open notices keys that damage dropped or
// changed (bbolt keeps no checksums of its pages).
package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

// ErrLocked means the file is held by another process (or another Store
// in this one) for longer than the lock timeout.
var ErrLocked = errors.New("boltstore: file is locked by another process")

var (
	bRecords  = []byte("records")
	bJournals = []byte("journals")
	bOpen     = []byte("open")
	// bIndex holds, under kRecords and kJournals, how many records and
	// journals the store holds and a digest of their keys, and under
	// kEntries how many journal entries: written in the same transaction
	// as the data, checked by Open, so that damage that drops or renames
	// a key (bbolt keeps no checksums of its pages) is found.
	bIndex    = []byte("index")
	kRecords  = []byte("records")
	kJournals = []byte("journals")
	kEntries  = []byte("entries")
)

// Store is a failover.Store in one bbolt file. It is safe for concurrent
// use; writes are serialised by bbolt and each is fsynced on commit.
type Store struct {
	db   *bolt.DB
	path string
}

var _ failover.Store = (*Store)(nil)

type options struct {
	lockTimeout time.Duration
	mode        os.FileMode
}

// Option configures Open.
type Option func(*options) error

// WithLockTimeout sets how long Open waits for the file lock held by
// another process before failing with ErrLocked (default 2s). It must be
// positive: waiting forever hides a second manager started by mistake.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("boltstore: lock timeout %v: must be positive: %w", d, failover.ErrInvalid)
		}
		o.lockTimeout = d
		return nil
	}
}

// WithFileMode sets the permissions of a file Open creates (default
// 0600: the file holds the data-centre inventory).
func WithFileMode(m os.FileMode) Option {
	return func(o *options) error {
		if m&0o600 != 0o600 {
			return fmt.Errorf("boltstore: file mode %v: owner must read and write: %w", m, failover.ErrInvalid)
		}
		o.mode = m
		return nil
	}
}

// Open opens (creating if needed) the store file at path.
//
// A new file is created whole or not at all: it is written under a
// temporary name and linked into place, so that a file that exists is
// always one this store wrote. An existing file is verified before bbolt
// maps it (see Check): a file that is empty, cut short, overwritten or
// otherwise damaged is refused with an error wrapping ErrCorrupt that
// says what is wrong where, never opened as an empty store and never
// able to crash the process.
//
// Errors: ErrLocked when another process holds the file past the lock
// timeout; ErrCorrupt for a damaged file; ErrInvalid for an empty path, a
// directory or a bad option; I/O errors as they are.
func Open(path string, opts ...Option) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("boltstore: open: empty path: %w", failover.ErrInvalid)
	}
	o := options{lockTimeout: 2 * time.Second, mode: 0o600}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := create(path, o); err != nil {
			return nil, fmt.Errorf("boltstore: create %s: %w", path, err)
		}
	case err != nil:
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	case fi.IsDir():
		return nil, fmt.Errorf("boltstore: open %s: is a directory: %w", path, failover.ErrInvalid)
	}
	var c contents
	if err := verifyPath(path, o.lockTimeout, c.visit); err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	db, err := bolt.Open(path, o.mode, &bolt.Options{Timeout: o.lockTimeout, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: open %s: still locked after %v: %w", path, o.lockTimeout, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	// Group commit (Store.batch): a lone writer waits at most this long
	// for company before its transaction commits.
	db.MaxBatchDelay = batchDelay
	if db.NoSync {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: open %s: NoSync is set (BBOLT_NO_SYNC?); refusing to run without fsync: %w", path, failover.ErrInvalid)
	}
	if !c.hasIndex {
		// Written before the index existed: add it, from what was read.
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket(bIndex)
			if err != nil {
				return err
			}
			return c.got.write(b)
		})
		if err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("boltstore: open %s: add the index: %w", path, err)
		}
	}
	return &Store{db: db, path: path}, nil
}

// create writes a new, empty store at path: under a temporary name in
// the same directory, then linked into place, so that a crash leaves
// either no file or a whole one. When another process created path
// meanwhile, its file is kept.
func create(path string, o options) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".new-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name)
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(name, o.mode); err != nil {
		return err
	}
	db, err := bolt.Open(name, o.mode, &bolt.Options{Timeout: o.lockTimeout, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bRecords, bJournals, bOpen} {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		b, err := tx.CreateBucket(bIndex)
		if err != nil {
			return err
		}
		return index{}.write(b)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(name, path); err != nil && !errors.Is(err, fs.ErrExist) {
		// A file system without hard links: rename, unless path appeared.
		if _, serr := os.Stat(path); serr == nil {
			return nil
		}
		if err := os.Rename(name, path); err != nil {
			return err
		}
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		err = d.Sync()
		_ = d.Close()
		if err != nil {
			return fmt.Errorf("sync directory: %w", err)
		}
	}
	return nil
}

// Close releases the file. Methods called after Close fail.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltstore: close %s: %w", s.path, err)
	}
	return nil
}

// Path returns the file's path.
func (s *Store) Path() string { return s.path }

// Check verifies the file's internal consistency, as Open does (every
// page inside the file and used once or free, the trees well formed and
// in key order, records stored under their own IDs, journals numbered
// 1, 2, 3, ..., the index's counts and key digests; read from the file,
// never through bbolt's memory map, so that damage is an error and cannot
// crash the process), and that every stored value decodes. Use it after
// a crash or in a health check. It holds the store's write lock while it
// reads the file. Errors: ErrCorrupt naming what is damaged; ctx errors.
func (s *Store) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: check %s: %w", s.path, err)
	}
	errDone := errors.New("checked")
	err := s.db.Update(func(*bolt.Tx) error {
		// No commit can run meanwhile: the file is what the last one left.
		f, err := os.Open(s.path)
		if err != nil {
			return appErr{fmt.Errorf("boltstore: check %s: %w", s.path, err)}
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return appErr{fmt.Errorf("boltstore: check %s: %w", s.path, err)}
		}
		c := contents{decodeEntries: true}
		if err := verifyFile(f, fi.Size(), c.visit); err != nil {
			return appErr{fmt.Errorf("boltstore: check %s: %w", s.path, err)}
		}
		if err := c.check(); err != nil {
			return appErr{fmt.Errorf("boltstore: check %s: %w", s.path, err)}
		}
		return errDone
	})
	if errors.Is(err, errDone) {
		return nil
	}
	var ae appErr
	if errors.As(err, &ae) {
		return ae.err
	}
	return wrap("check "+s.path, err)
}

// corrupt is the error for a stored value (kind, key) that does not
// decode: the file is damaged, which retrying does not mend.
func (s *Store) corrupt(op, kind string, key []byte, err error) error {
	return appErr{fmt.Errorf("boltstore: %s: %s %q in %s does not decode: %v: %w", op, kind, key, s.path, err, ErrCorrupt)}
}

// seqOf decodes a journal key, which is 8 bytes.
func (s *Store) seqOf(op string, id string, k []byte) (int64, error) {
	if len(k) != 8 {
		return 0, s.corrupt(op, fmt.Sprintf("journal %q entry", id), k, fmt.Errorf("key of %d bytes, want 8", len(k)))
	}
	return int64(binary.BigEndian.Uint64(k)), nil
}

func seqKey(seq int64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], uint64(seq))
	return k[:]
}

// wrap classifies a bbolt error: a closed database is the caller's
// mistake (ErrInvalid); anything else is an I/O failure worth retrying.
func wrap(op string, err error) error {
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return fmt.Errorf("boltstore: %s: %v: %w", op, err, failover.ErrInvalid)
	}
	return fmt.Errorf("boltstore: %s: %v: %w", op, err, failover.ErrTransient)
}

// appErr marks errors that the transaction function produced on purpose
// (conflicts, ctx), which are returned as they are.
type appErr struct{ err error }

func (e appErr) Error() string { return e.err.Error() }
func (e appErr) Unwrap() error { return e.err }

func (s *Store) view(op string, fn func(tx *bolt.Tx) error) error {
	err := s.db.View(fn)
	var ae appErr
	if errors.As(err, &ae) {
		return ae.err
	}
	if err != nil {
		return wrap(op, err)
	}
	return nil
}

// update runs fn in a write transaction and commits (fsync) unless fn
// fails or ctx ended meanwhile.
func (s *Store) update(ctx context.Context, op string, fn func(tx *bolt.Tx) error) error {
	return s.write(ctx, op, s.db.Update, fn)
}

// batchDelay is how long a write waits for others to share its fsync:
// short next to an fsync, so a lone failover barely notices it.
const batchDelay = time.Millisecond

// batch is update through bbolt's Batch: concurrent writers share one
// transaction and one fsync (a group commit). fn may run more than once
// (bbolt reruns the functions of a failed batch one by one): it must
// decide from tx alone, and its compare-and-set stays exact.
func (s *Store) batch(ctx context.Context, op string, fn func(tx *bolt.Tx) error) error {
	return s.write(ctx, op, s.db.Batch, fn)
}

// write runs fn through commit (db.Update or db.Batch), refusing to
// commit once ctx ended, and gives fn's own errors back unwrapped.
func (s *Store) write(ctx context.Context, op string, commit func(func(*bolt.Tx) error) error, fn func(tx *bolt.Tx) error) error {
	err := commit(func(tx *bolt.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return appErr{fmt.Errorf("boltstore: %s: %w", op, err)}
		}
		return nil
	})
	var ae appErr
	if errors.As(err, &ae) {
		return ae.err
	}
	if err != nil {
		return wrap(op, err)
	}
	return nil
}

var _ failover.Batcher = (*Store)(nil)

// Write implements failover.Batcher: every append and put in one
// transaction, shared with concurrent writers (batch).
func (s *Store) Write(ctx context.Context, b failover.Batch) ([]failover.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("boltstore: write: %w", err)
	}
	if err := failover.ValidatePut(b.Puts); err != nil {
		return nil, fmt.Errorf("boltstore: write: %w", err)
	}
	type enc struct {
		id, op string
		e      failover.Entry
		v      []byte
	}
	var entries []enc
	for _, a := range b.Appends {
		if a.ID == "" {
			return nil, fmt.Errorf("boltstore: write: empty failover ID: %w", failover.ErrInvalid)
		}
		for _, e := range a.Entries {
			v, err := json.Marshal(e)
			if err != nil {
				return nil, fmt.Errorf("boltstore: write %s: %v: %w", a.ID, err, failover.ErrInvalid)
			}
			entries = append(entries, enc{a.ID, "journal " + a.ID + ": append", e, v})
		}
	}
	out := make([]failover.Record, len(b.Puts))
	err := s.batch(ctx, "write", func(tx *bolt.Tx) error {
		for _, x := range entries {
			if err := s.appendTx(tx, x.op, x.id, x.e, x.v); err != nil {
				return err
			}
		}
		if len(b.Puts) == 0 {
			return nil
		}
		return s.putTx(tx, b.Puts, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func decode(b []byte) (failover.Record, error) {
	var r failover.Record
	err := json.Unmarshal(b, &r)
	return r, err
}

// Get implements failover.Store.
func (s *Store) Get(ctx context.Context, id search.ServerID) (failover.Record, error) {
	op := "get " + string(id)
	if err := ctx.Err(); err != nil {
		return failover.Record{}, fmt.Errorf("boltstore: %s: %w", op, err)
	}
	var r failover.Record
	err := s.view(op, func(tx *bolt.Tx) error {
		b := tx.Bucket(bRecords).Get([]byte(id))
		if b == nil {
			return appErr{fmt.Errorf("boltstore: %s: %w", op, failover.ErrNotFound)}
		}
		var err error
		if r, err = decode(b); err != nil {
			return s.corrupt(op, "record", []byte(id), err)
		}
		return nil
	})
	return r, err
}

// List implements failover.Store.
func (s *Store) List(ctx context.Context) ([]failover.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("boltstore: list: %w", err)
	}
	var out []failover.Record
	err := s.view("list", func(tx *bolt.Tx) error {
		// Keys are sorted bytewise, which is string order of the IDs.
		return tx.Bucket(bRecords).ForEach(func(k, v []byte) error {
			r, err := decode(v)
			if err != nil {
				return s.corrupt("list", "record", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	if out == nil && err == nil {
		out = []failover.Record{}
	}
	return out, err
}

// Put implements failover.Store.
func (s *Store) Put(ctx context.Context, recs ...failover.Record) ([]failover.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("boltstore: put: %w", err)
	}
	if err := failover.ValidatePut(recs); err != nil {
		return nil, fmt.Errorf("boltstore: put: %w", err)
	}
	if len(recs) == 0 {
		return []failover.Record{}, nil
	}
	out := make([]failover.Record, len(recs))
	err := s.batch(ctx, "put", func(tx *bolt.Tx) error { return s.putTx(tx, recs, out) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

var _ failover.Deleter = (*Store)(nil)

// Delete implements failover.Deleter: one transaction, each record
// compared on its Revision first.
func (s *Store) Delete(ctx context.Context, recs ...failover.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: delete: %w", err)
	}
	if err := failover.ValidateDelete(recs); err != nil {
		return fmt.Errorf("boltstore: %w", err)
	}
	if len(recs) == 0 {
		return nil
	}
	return s.update(ctx, "delete", func(tx *bolt.Tx) error {
		b := tx.Bucket(bRecords)
		for _, r := range recs {
			v := b.Get([]byte(r.ID))
			if v == nil {
				return appErr{fmt.Errorf("boltstore: delete %s: %w", r.ID, failover.ErrNotFound)}
			}
			old, err := decode(v)
			if err != nil {
				return fmt.Errorf("record %s: %w", r.ID, err)
			}
			if old.Revision != r.Revision {
				return appErr{fmt.Errorf("boltstore: delete %s: revision %d, stored %d: %w", r.ID, r.Revision, old.Revision, failover.ErrConflict)}
			}
		}
		for _, r := range recs {
			if err := b.Delete([]byte(r.ID)); err != nil {
				return err
			}
		}
		return updateIndex(tx, func(ix *index) {
			for _, r := range recs {
				ix.records.remove([]byte(r.ID))
			}
		})
	})
}

// putTx writes recs in tx, each a compare-and-set, filling out with the
// records as stored.
func (s *Store) putTx(tx *bolt.Tx, recs, out []failover.Record) error {
	b := tx.Bucket(bRecords)
	var added []search.ServerID
	for _, r := range recs {
		var cur int64
		v := b.Get([]byte(r.ID))
		if v == nil {
			added = append(added, r.ID)
		} else {
			old, err := decode(v)
			if err != nil {
				return s.corrupt("put", "record", []byte(r.ID), err)
			}
			cur = old.Revision
		}
		if cur != r.Revision {
			return appErr{fmt.Errorf("boltstore: put %s: revision %d, stored %d: %w", r.ID, r.Revision, cur, failover.ErrConflict)}
		}
	}
	for i, r := range recs {
		rev, err := b.NextSequence()
		if err != nil {
			return err
		}
		r.Revision = int64(rev)
		v, err := json.Marshal(r)
		if err != nil {
			return appErr{fmt.Errorf("boltstore: put %s: %v: %w", r.ID, err, failover.ErrInvalid)}
		}
		if err := b.Put([]byte(r.ID), v); err != nil {
			return err
		}
		if out[i], err = decode(v); err != nil {
			return err
		}
	}
	return updateIndex(tx, func(ix *index) {
		for _, id := range added {
			ix.records.add([]byte(id))
		}
	})
}

// Append implements failover.Store.
func (s *Store) Append(ctx context.Context, id string, e failover.Entry) error {
	op := "journal " + id + ": append"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: %s: %w", op, err)
	}
	if id == "" {
		return fmt.Errorf("boltstore: journal append: empty failover ID: %w", failover.ErrInvalid)
	}
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("boltstore: %s: %v: %w", op, err, failover.ErrInvalid)
	}
	return s.batch(ctx, op, func(tx *bolt.Tx) error { return s.appendTx(tx, op, id, e, v) })
}

// appendTx appends e (encoded as v) to journal id in tx.
func (s *Store) appendTx(tx *bolt.Tx, op, id string, e failover.Entry, v []byte) error {
	js := tx.Bucket(bJournals)
	open := tx.Bucket(bOpen)
	j := js.Bucket([]byte(id))
	var last int64
	if j != nil {
		if k, _ := j.Cursor().Last(); k != nil {
			var err error
			if last, err = s.seqOf(op, id, k); err != nil {
				return err
			}
		}
	}
	switch {
	case e.Seq != last+1:
		return appErr{fmt.Errorf("boltstore: %s seq %d, last is %d: %w", op, e.Seq, last, failover.ErrConflict)}
	case last == 0 && e.Phase != failover.PhaseBegin:
		return appErr{fmt.Errorf("boltstore: %s: first entry is %q, want %q: %w", op, e.Phase, failover.PhaseBegin, failover.ErrConflict)}
	case last > 0 && open.Get([]byte(id)) == nil:
		return appErr{fmt.Errorf("boltstore: %s: journal closed: %w", op, failover.ErrConflict)}
	}
	if err := updateIndex(tx, func(ix *index) {
		if j == nil {
			ix.journals.add([]byte(id))
		}
		ix.entries++
	}); err != nil {
		return err
	}
	if j == nil {
		var err error
		if j, err = js.CreateBucket([]byte(id)); err != nil {
			return err
		}
	}
	if err := j.Put(seqKey(e.Seq), v); err != nil {
		return err
	}
	if e.Phase == failover.PhaseEnd {
		return open.Delete([]byte(id))
	}
	if last == 0 {
		return open.Put([]byte(id), []byte{})
	}
	return nil
}

// Journal implements failover.Store.
func (s *Store) Journal(ctx context.Context, id string) ([]failover.Entry, error) {
	op := "journal " + id
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("boltstore: %s: %w", op, err)
	}
	var out []failover.Entry
	err := s.view(op, func(tx *bolt.Tx) error {
		var j *bolt.Bucket
		if id != "" {
			j = tx.Bucket(bJournals).Bucket([]byte(id))
		}
		if j == nil {
			return appErr{fmt.Errorf("boltstore: %s: %w", op, failover.ErrNotFound)}
		}
		return j.ForEach(func(k, v []byte) error {
			var e failover.Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return s.corrupt(op, fmt.Sprintf("journal %q entry", id), k, err)
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

// Unfinished implements failover.Store.
func (s *Store) Unfinished(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("boltstore: unfinished: %w", err)
	}
	out := []string{}
	err := s.view("unfinished", func(tx *bolt.Tx) error {
		return tx.Bucket(bOpen).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}
