package boltstore_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coldstandby/coldstandby/drivers/boltstore"
	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

// writeLargeStore writes a store straight through bbolt, in large
// transactions: 2000 records and closed journals of mb MiB of 1 KiB
// entries (the file is about twice that), in the store's layout.
func writeLargeStore(b *testing.B, path string, mb int) {
	b.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	pad := strings.Repeat("x", 900)
	const perJournal = 100
	journals := mb * 1024 / perJournal
	err = db.Update(func(tx *bolt.Tx) error {
		recs, _ := tx.CreateBucket([]byte("records"))
		if _, err := tx.CreateBucket([]byte("open")); err != nil {
			return err
		}
		if _, err := tx.CreateBucket([]byte("journals")); err != nil {
			return err
		}
		for i := range 2000 {
			r := failover.Record{Server: search.Server{ID: search.ServerID(fmt.Sprintf("srv%05d", i)), State: search.Standby}, Revision: int64(i + 1)}
			v, _ := json.Marshal(r)
			if err := recs.Put([]byte(r.ID), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for n := 0; n < journals; n += 50 {
		err := db.Update(func(tx *bolt.Tx) error {
			js := tx.Bucket([]byte("journals"))
			for i := n; i < n+50 && i < journals; i++ {
				j, err := js.CreateBucket(fmt.Appendf(nil, "fo-%06d", i))
				if err != nil {
					return err
				}
				for seq := int64(1); seq <= perJournal; seq++ {
					ph := failover.PhaseIntent
					switch seq {
					case 1:
						ph = failover.PhaseBegin
					case perJournal:
						ph = failover.PhaseEnd
					}
					data, _ := json.Marshal(map[string]any{"pad": pad})
					v, _ := json.Marshal(failover.Entry{Seq: seq, Time: time.Unix(seq, 0), Phase: ph, Step: "step", Data: data})
					if err := j.Put(binary.BigEndian.AppendUint64(nil, uint64(seq)), v); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOpen100MB opens and closes a store of about 100 MB: Open
// verifies the whole file before bbolt maps it.
func BenchmarkOpen100MB(b *testing.B) {
	path := filepath.Join(b.TempDir(), "large.db")
	writeLargeStore(b, path, 47)
	fi, _ := os.Stat(path)
	st, err := boltstore.Open(path) // a first open adds what older files lack
	if err != nil {
		b.Fatal(err)
	}
	_ = st.Close()
	for b.Loop() {
		st, err := boltstore.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(fi.Size())/(1<<20), "file-MB")
}
