package boltstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"

	bolt "go.etcd.io/bbolt"

	"github.com/coldstandby/coldstandby/failover"
)

// keySet is a count of keys and an order-independent digest of them.
type keySet struct {
	n      uint64
	digest uint64
}

func (k *keySet) add(key []byte) {
	h := fnv.New64a()
	h.Write(key)
	k.n++
	k.digest ^= h.Sum64()
}

func (k *keySet) remove(key []byte) {
	h := fnv.New64a()
	h.Write(key)
	k.n--
	k.digest ^= h.Sum64()
}

func (k keySet) bytes() []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, k.n)
	binary.BigEndian.PutUint64(b[8:], k.digest)
	return b
}

func parseKeySet(b []byte) (keySet, bool) {
	if len(b) != 16 {
		return keySet{}, false
	}
	return keySet{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}, true
}

// index is what bucket "index" holds: the records and journals (count
// and key digest) and the number of journal entries.
type index struct {
	records, journals keySet
	entries           uint64
}

func (ix index) write(b *bolt.Bucket) error {
	if err := b.Put(kRecords, ix.records.bytes()); err != nil {
		return err
	}
	if err := b.Put(kJournals, ix.journals.bytes()); err != nil {
		return err
	}
	return b.Put(kEntries, binary.BigEndian.AppendUint64(nil, ix.entries))
}

// updateIndex applies change to the index in tx, in the transaction that
// writes the data it counts.
func updateIndex(tx *bolt.Tx, change func(*index)) error {
	b := tx.Bucket(bIndex)
	if b == nil {
		return appErr{fmt.Errorf("boltstore: the index bucket is missing: %w", ErrCorrupt)}
	}
	r, okR := parseKeySet(b.Get(kRecords))
	j, okJ := parseKeySet(b.Get(kJournals))
	e := b.Get(kEntries)
	if !okR || !okJ || len(e) != 8 {
		return appErr{fmt.Errorf("boltstore: the index is damaged: %w", ErrCorrupt)}
	}
	ix := index{records: r, journals: j, entries: binary.BigEndian.Uint64(e)}
	change(&ix)
	return ix.write(b)
}

// contents checks, key by key as verifyFile walks the file, what the
// store puts in it: the four buckets and nothing else; records that
// decode and are stored under their own ID; journals that are buckets of
// entries numbered 1, 2, 3, ... (decoded too with decodeEntries); open
// failovers that have a journal; and, at the end, counts and key digests
// equal to the index's, so that damage that drops or renames a key
// (bbolt keeps no checksums of its pages) is found.
type contents struct {
	decodeEntries bool

	got      index
	stored   index
	hasIndex bool
	indexN   int // index entries read
	root     map[string]bool
	journals map[string]bool
	open     []string
	next     uint64 // the next entry's number in the journal being read
}

var errNotStore = errors.New("not a store file, or a name is damaged")

func (c *contents) visit(path [][]byte, key, value []byte, bucket bool) error {
	switch len(path) {
	case 0:
		switch {
		case !bucket:
			return fmt.Errorf("key %q at the top: %w", key, errNotStore)
		case bytes.Equal(key, bRecords), bytes.Equal(key, bJournals), bytes.Equal(key, bOpen):
		case bytes.Equal(key, bIndex):
			c.hasIndex = true
		default:
			return fmt.Errorf("unknown bucket %q: %w", key, errNotStore)
		}
		if c.root == nil {
			c.root = map[string]bool{}
		}
		c.root[string(key)] = true
		return nil
	case 1:
		in := path[0]
		switch {
		case bytes.Equal(in, bRecords):
			if bucket {
				return fmt.Errorf("record %q is a bucket", key)
			}
			var r failover.Record
			if err := json.Unmarshal(value, &r); err != nil {
				return fmt.Errorf("record %q does not decode: %v", key, err)
			}
			if string(r.ID) != string(key) {
				return fmt.Errorf("record %q holds server %q", key, r.ID)
			}
			c.got.records.add(key)
		case bytes.Equal(in, bJournals):
			if !bucket {
				return fmt.Errorf("journal %q is not a bucket", key)
			}
			if c.journals == nil {
				c.journals = map[string]bool{}
			}
			c.journals[string(key)] = true
			c.got.journals.add(key)
			c.next = 1
		case bytes.Equal(in, bOpen):
			if bucket {
				return fmt.Errorf("open failover %q is a bucket", key)
			}
			c.open = append(c.open, string(key))
		case bytes.Equal(in, bIndex):
			var ok bool
			switch {
			case bytes.Equal(key, kRecords):
				c.stored.records, ok = parseKeySet(value)
			case bytes.Equal(key, kJournals):
				c.stored.journals, ok = parseKeySet(value)
			case bytes.Equal(key, kEntries):
				ok = len(value) == 8
				if ok {
					c.stored.entries = binary.BigEndian.Uint64(value)
				}
			}
			if !ok || bucket {
				return fmt.Errorf("index entry %q is damaged", key)
			}
			c.indexN++
		}
		return nil
	case 2:
		if !bytes.Equal(path[0], bJournals) || bucket {
			return fmt.Errorf("key %q in bucket %q/%q: %w", key, path[0], path[1], errNotStore)
		}
		if len(key) != 8 || binary.BigEndian.Uint64(key) != c.next {
			return fmt.Errorf("journal %q: key %x where entry %d belongs", path[1], key, c.next)
		}
		if c.decodeEntries {
			var e failover.Entry
			if err := json.Unmarshal(value, &e); err != nil || e.Seq != int64(c.next) {
				if err == nil {
					err = fmt.Errorf("it says it is entry %d", e.Seq)
				}
				return fmt.Errorf("journal %q entry %d does not decode: %v", path[1], c.next, err)
			}
		}
		c.next++
		c.got.entries++
		return nil
	}
	return fmt.Errorf("buckets nested %d deep: %w", len(path), errNotStore)
}

// check ends the walk: the buckets exist, every open failover has a
// journal, and the index (when the file has one) matches.
func (c *contents) check() error {
	for _, b := range [][]byte{bRecords, bJournals, bOpen} {
		if !c.root[string(b)] {
			return fmt.Errorf("bucket %q is missing: %w: %w", b, errNotStore, ErrCorrupt)
		}
	}
	for _, id := range c.open {
		if !c.journals[id] {
			return fmt.Errorf("open failover %q has no journal: %w", id, ErrCorrupt)
		}
	}
	if !c.hasIndex {
		return nil
	}
	if c.indexN != 3 {
		return fmt.Errorf("the index has %d of its 3 entries: %w", c.indexN, ErrCorrupt)
	}
	switch got, want := c.got, c.stored; {
	case got.records != want.records:
		return fmt.Errorf("%d records (key digest %016x), the index says %d (%016x): records lost or renamed: %w",
			got.records.n, got.records.digest, want.records.n, want.records.digest, ErrCorrupt)
	case got.journals != want.journals:
		return fmt.Errorf("%d journals (key digest %016x), the index says %d (%016x): journals lost or renamed: %w",
			got.journals.n, got.journals.digest, want.journals.n, want.journals.digest, ErrCorrupt)
	case got.entries != want.entries:
		return fmt.Errorf("%d journal entries, the index says %d: entries lost: %w", got.entries, want.entries, ErrCorrupt)
	}
	return nil
}
