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
// Layout (all values JSON): bucket "records" maps a server ID to its
// Record (Revision from the bucket's persisted sequence, store-wide and
// strictly increasing); bucket "journals" holds one nested bucket per
// failover ID whose keys are the entries' Seq as 8-byte big-endian
// integers; bucket "open" indexes the failovers without PhaseEnd, which
// makes Unfinished one short scan.
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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

// Open opens (creating if needed) the store file at path. It fails with
// an error wrapping ErrLocked when another process holds the file past the
// lock timeout, and ErrInvalid for an empty path or a bad option.
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
	db, err := bolt.Open(path, o.mode, &bolt.Options{Timeout: o.lockTimeout, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: open %s: still locked after %v: %w", path, o.lockTimeout, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	if db.NoSync {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: open %s: NoSync is set (BBOLT_NO_SYNC?); refusing to run without fsync: %w", path, failover.ErrInvalid)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bRecords, bJournals, bOpen} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: open %s: create buckets: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
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

// Check verifies the file's internal consistency (every page reachable
// once, no page both free and used, keys ordered) and that every stored
// value decodes. Use it after a crash or in a health check.
func (s *Store) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: check %s: %w", s.path, err)
	}
	return s.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("boltstore: check %s: %w", s.path, errors.Join(errs...))
		}
		err := tx.Bucket(bRecords).ForEach(func(k, v []byte) error {
			var r failover.Record
			if err := json.Unmarshal(v, &r); err != nil || string(r.ID) != string(k) {
				return fmt.Errorf("boltstore: check %s: record %q does not decode: %v", s.path, k, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bJournals).ForEachBucket(func(id []byte) error {
			var want int64 = 1
			return tx.Bucket(bJournals).Bucket(id).ForEach(func(k, v []byte) error {
				var e failover.Entry
				if err := json.Unmarshal(v, &e); err != nil || e.Seq != want || !bytes.Equal(k, seqKey(want)) {
					return fmt.Errorf("boltstore: check %s: journal %q entry %d does not decode or is out of place: %v", s.path, id, want, err)
				}
				want++
				return nil
			})
		})
	})
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
	err := s.db.Update(func(tx *bolt.Tx) error {
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
		r, err = decode(b)
		return err
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
		return tx.Bucket(bRecords).ForEach(func(_, v []byte) error {
			r, err := decode(v)
			out = append(out, r)
			return err
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
	err := s.update(ctx, "put", func(tx *bolt.Tx) error {
		b := tx.Bucket(bRecords)
		for _, r := range recs {
			var cur int64
			if v := b.Get([]byte(r.ID)); v != nil {
				old, err := decode(v)
				if err != nil {
					return fmt.Errorf("record %s: %w", r.ID, err)
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
		return nil
	})
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
		return nil
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
	return s.update(ctx, op, func(tx *bolt.Tx) error {
		js := tx.Bucket(bJournals)
		open := tx.Bucket(bOpen)
		j := js.Bucket([]byte(id))
		var last int64
		if j != nil {
			if k, _ := j.Cursor().Last(); k != nil {
				last = int64(binary.BigEndian.Uint64(k))
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
	})
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
		return j.ForEach(func(_, v []byte) error {
			var e failover.Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
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
