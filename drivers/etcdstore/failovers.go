package etcdstore

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/coldstandby/coldstandby/failover"
)

var _ failover.JournalLister = (*Store)(nil)

// firstEntry ends the key of a journal's first entry (Seq 1, which every
// journal has: its PhaseBegin).
var firstEntry = []byte(fmt.Sprintf("/%020d", 1))

// Failovers implements failover.JournalLister: the IDs of every failover
// with a journal, finished or not, sorted. It is one read of the
// journals' keys (without values), fenced like every call of a fenced
// store.
func (s *Store) Failovers(ctx context.Context) ([]string, error) {
	p := s.prefix + "j/"
	rs, err := s.read(ctx, "failovers", clientv3.OpGet(p, clientv3.WithPrefix(), clientv3.WithKeysOnly()))
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, kv := range rs[0].Kvs {
		if !bytes.HasSuffix(kv.Key, firstEntry) {
			continue
		}
		esc := strings.TrimSuffix(strings.TrimPrefix(string(kv.Key), p), string(firstEntry))
		id, err := url.PathUnescape(esc)
		if err != nil {
			return nil, fmt.Errorf("etcdstore: failovers: bad key %q: %w", kv.Key, failover.ErrTransient)
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}
