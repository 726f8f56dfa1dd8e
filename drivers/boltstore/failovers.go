package boltstore

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/coldstandby/coldstandby/failover"
)

var _ failover.JournalLister = (*Store)(nil)

// Failovers implements failover.JournalLister: the IDs of every failover
// with a journal, finished or not, sorted (bbolt keeps the nested
// buckets in byte order).
func (s *Store) Failovers(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("boltstore: failovers: %w", err)
	}
	out := []string{}
	err := s.view("failovers", func(tx *bolt.Tx) error {
		return tx.Bucket(bJournals).ForEachBucket(func(k []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}
