package etcdstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/search"
)

// Store is a failover.Store in etcd under a key prefix. Every method is
// one etcd round trip (a Get or a Txn). It is safe for concurrent use, by
// several goroutines and several processes.
//
// A write whose answer is lost (a timeout, a broken connection) may have
// been applied: it fails with an error wrapping failover.ErrOutcomeUnknown
// (and ctx's error when ctx ended), not ErrTransient; re-read before
// acting on it. A read that fails is ErrTransient or ctx's error.
//
// A Store from New is unfenced: any process may write through it (tools,
// tests, one manager alone). A Store from Fenced or RunLeader checks, in
// the same transaction as every read and write, that this instance's
// election key still exists with the create revision it won with; once
// that fails (or the session ends) every call returns ErrNotLeader
// without contacting etcd.
type Store struct {
	cli    *clientv3.Client
	prefix string
	fence  *fence
}

var _ failover.Store = (*Store)(nil)

// fence is a leader's token: its election key and create revision.
type fence struct {
	key  string
	rev  int64
	done <-chan struct{} // the session's Done
	lost atomic.Bool
	once sync.Once
	on   func() // called once when the fence is found lost
}

// New returns an unfenced store of the records and journals under prefix
// (for example "/coldstandby/prod/"; a trailing "/" is added if missing).
// It returns an error wrapping failover.ErrInvalid for a nil client or an
// empty prefix.
func New(cli *clientv3.Client, prefix string) (*Store, error) {
	if cli == nil {
		return nil, fmt.Errorf("etcdstore: New: nil client: %w", failover.ErrInvalid)
	}
	if prefix == "" || prefix == "/" {
		return nil, fmt.Errorf("etcdstore: New: empty prefix %q: %w", prefix, failover.ErrInvalid)
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &Store{cli: cli, prefix: prefix}, nil
}

// Prefix returns the store's key prefix (ending in "/").
func (s *Store) Prefix() string { return s.prefix }

// ElectionPrefix is the election prefix RunLeader campaigns on.
func (s *Store) ElectionPrefix() string { return s.prefix + "leader/" }

// Fenced returns a store over the same keys whose every call also checks
// that e (an election this instance won: after Campaign returned nil) is
// still led by this instance: its leader key exists with the create
// revision it won with. When that check fails the call returns
// failover.ErrNotLeader, writes nothing, and so do all later calls; when
// session ends (lease expired, revoked or closed) calls fail the same way
// without contacting etcd. onLost, if not nil, is called once at the
// first such failure (RunLeader uses it to stop the leader at once).
func (s *Store) Fenced(session *concurrency.Session, e *concurrency.Election, onLost func()) (*Store, error) {
	if session == nil || e == nil || e.Key() == "" {
		return nil, fmt.Errorf("etcdstore: Fenced: no session or an election not won: %w", failover.ErrInvalid)
	}
	return &Store{cli: s.cli, prefix: s.prefix, fence: &fence{key: e.Key(), rev: e.Rev(), done: session.Done(), on: onLost}}, nil
}

func (s *Store) recKey(id search.ServerID) string { return s.prefix + "rec/" + string(id) }
func (s *Store) jPrefix(id string) string         { return s.prefix + "j/" + url.PathEscape(id) + "/" }
func (s *Store) jKey(id string, seq int64) string { return fmt.Sprintf("%s%020d", s.jPrefix(id), seq) }
func (s *Store) openKey(id string) string         { return s.prefix + "open/" + url.PathEscape(id) }

var _ failover.LeaderChecker = (*Store)(nil)

// Deposed implements failover.LeaderChecker: it reports, without I/O,
// whether this fenced Store knows its leadership is lost (its session
// ended, its election key was deleted or changed, or a transaction's
// fence compare failed). Once true it stays true. An unfenced Store (New)
// is never deposed.
func (s *Store) Deposed() bool { return s.deposed() }

// deposed reports whether the fence is known to be lost.
func (s *Store) deposed() bool {
	f := s.fence
	if f == nil {
		return false
	}
	if f.lost.Load() {
		return true
	}
	select {
	case <-f.done:
		s.lose()
		return true
	default:
		return false
	}
}

func (s *Store) lose() {
	f := s.fence
	f.lost.Store(true)
	f.once.Do(func() {
		if f.on != nil {
			f.on()
		}
	})
}

func (s *Store) notLeader(op string) error {
	return fmt.Errorf("etcdstore: %s: leader key %s (revision %d) is gone: %w", op, s.fence.key, s.fence.rev, failover.ErrNotLeader)
}

// pre checks ctx and the fence before a call.
// A lost fence comes first: a deposed leader's calls say ErrNotLeader
// even when its leadership context has ended too.
func (s *Store) pre(ctx context.Context, op string) error {
	if s.deposed() {
		return s.notLeader(op)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("etcdstore: %s: %w", op, err)
	}
	return nil
}

// rpcErr classifies an etcd client error.
func (s *Store) rpcErr(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("etcdstore: %s: %w", op, ctx.Err())
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("etcdstore: %s: %w", op, err)
	}
	return fmt.Errorf("etcdstore: %s: %v: %w", op, err, failover.ErrTransient)
}

// unknownErr classifies the failure of a write that may have been
// applied: it wraps failover.ErrOutcomeUnknown (and ctx's error when ctx
// ended), never ErrTransient, which promises nothing was written.
func (s *Store) unknownErr(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("etcdstore: %s: outcome unknown: %w: %w", op, failover.ErrOutcomeUnknown, ctx.Err())
	}
	return fmt.Errorf("etcdstore: %s: outcome unknown: %v: %w", op, err, failover.ErrOutcomeUnknown)
}

func writes(ops []clientv3.Op) bool {
	for _, o := range ops {
		if o.IsPut() || o.IsDelete() {
			return true
		}
	}
	return false
}

// txn runs one transaction: the fence (if any) and cmps must hold for
// then to run. It returns ok = false when a cmp failed, the fence error
// when the fence failed, and the responses of whichever branch ran.
func (s *Store) txn(ctx context.Context, op string, cmps []clientv3.Cmp, then, els []clientv3.Op) (*clientv3.TxnResponse, bool, error) {
	if err := s.pre(ctx, op); err != nil {
		return nil, false, err
	}
	if s.fence != nil {
		cmps = append([]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(s.fence.key), "=", s.fence.rev)}, cmps...)
		els = append([]clientv3.Op{clientv3.OpGet(s.fence.key, clientv3.WithKeysOnly())}, els...)
	}
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(then...).Else(els...).Commit()
	if err != nil {
		if writes(then) {
			// The request may have been applied: say so, so that the
			// caller re-reads instead of assuming nothing was written.
			return nil, false, s.unknownErr(ctx, op, err)
		}
		return nil, false, s.rpcErr(ctx, op, err)
	}
	if resp.Succeeded {
		return resp, true, nil
	}
	if s.fence != nil {
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 || kvs[0].CreateRevision != s.fence.rev {
			s.lose()
			return nil, false, s.notLeader(op)
		}
		resp.Responses = resp.Responses[1:]
	}
	return resp, false, nil
}

// read runs gets, fenced when the store is.
func (s *Store) read(ctx context.Context, op string, gets ...clientv3.Op) ([]*clientv3.GetResponse, error) {
	resp, ok, err := s.txn(ctx, op, nil, gets, nil)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("etcdstore: %s: read transaction failed: %w", op, failover.ErrTransient)
	}
	out := make([]*clientv3.GetResponse, len(resp.Responses))
	for i, r := range resp.Responses {
		out[i] = (*clientv3.GetResponse)(r.GetResponseRange())
	}
	return out, nil
}

func decodeRecord(v []byte, modRev int64) (failover.Record, error) {
	var r failover.Record
	if err := json.Unmarshal(v, &r); err != nil {
		return r, err
	}
	r.Revision = modRev
	return r, nil
}

// Get implements failover.Store.
func (s *Store) Get(ctx context.Context, id search.ServerID) (failover.Record, error) {
	op := "get " + string(id)
	rs, err := s.read(ctx, op, clientv3.OpGet(s.recKey(id)))
	if err != nil {
		return failover.Record{}, err
	}
	if len(rs[0].Kvs) == 0 || id == "" {
		return failover.Record{}, fmt.Errorf("etcdstore: %s: %w", op, failover.ErrNotFound)
	}
	kv := rs[0].Kvs[0]
	r, err := decodeRecord(kv.Value, kv.ModRevision)
	if err != nil {
		return failover.Record{}, fmt.Errorf("etcdstore: %s: corrupt record: %v: %w", op, err, failover.ErrTransient)
	}
	return r, nil
}

// List implements failover.Store.
func (s *Store) List(ctx context.Context) ([]failover.Record, error) {
	rs, err := s.read(ctx, "list", clientv3.OpGet(s.prefix+"rec/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)))
	if err != nil {
		return nil, err
	}
	out := make([]failover.Record, 0, len(rs[0].Kvs))
	for _, kv := range rs[0].Kvs {
		r, err := decodeRecord(kv.Value, kv.ModRevision)
		if err != nil {
			return nil, fmt.Errorf("etcdstore: list: corrupt record %s: %v: %w", kv.Key, err, failover.ErrTransient)
		}
		out = append(out, r)
	}
	return out, nil
}

// Put implements failover.Store. The new Revision of every record in a
// batch is the transaction's etcd revision.
func (s *Store) Put(ctx context.Context, recs ...failover.Record) ([]failover.Record, error) {
	if err := s.pre(ctx, "put"); err != nil {
		return nil, err
	}
	if err := failover.ValidatePut(recs); err != nil {
		return nil, fmt.Errorf("etcdstore: put: %w", err)
	}
	if len(recs) == 0 {
		return []failover.Record{}, nil
	}
	cmps := make([]clientv3.Cmp, 0, len(recs))
	puts := make([]clientv3.Op, 0, len(recs))
	vals := make([][]byte, len(recs))
	for i, r := range recs {
		k := s.recKey(r.ID)
		if r.Revision == 0 {
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(k), "=", 0))
		} else {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", r.Revision))
		}
		r.Revision = 0 // the key's ModRevision is the truth
		v, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("etcdstore: put %s: %v: %w", r.ID, err, failover.ErrInvalid)
		}
		vals[i] = v
		puts = append(puts, clientv3.OpPut(k, string(v)))
	}
	resp, ok, err := s.txn(ctx, "put", cmps, puts, nil)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("etcdstore: put %s: a revision is stale: %w", idsOf(recs), failover.ErrConflict)
	}
	out := make([]failover.Record, len(recs))
	for i := range recs {
		if out[i], err = decodeRecord(vals[i], resp.Header.Revision); err != nil {
			return nil, fmt.Errorf("etcdstore: put: %v: %w", err, failover.ErrInvalid)
		}
	}
	return out, nil
}

var _ failover.Deleter = (*Store)(nil)

// Delete implements failover.Deleter: one transaction that compares each
// record's ModRevision (and the fencing token) before deleting them all.
func (s *Store) Delete(ctx context.Context, recs ...failover.Record) error {
	if err := s.pre(ctx, "delete"); err != nil {
		return err
	}
	if err := failover.ValidateDelete(recs); err != nil {
		return fmt.Errorf("etcdstore: %w", err)
	}
	if len(recs) == 0 {
		return nil
	}
	cmps := make([]clientv3.Cmp, 0, 2*len(recs))
	dels := make([]clientv3.Op, 0, len(recs))
	for _, r := range recs {
		k := s.recKey(r.ID)
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(k), ">", 0), clientv3.Compare(clientv3.ModRevision(k), "=", r.Revision))
		dels = append(dels, clientv3.OpDelete(k))
	}
	_, ok, err := s.txn(ctx, "delete", cmps, dels, nil)
	if err != nil {
		return err
	}
	if !ok {
		for _, r := range recs {
			if _, err := s.Get(ctx, r.ID); errors.Is(err, failover.ErrNotFound) {
				return fmt.Errorf("etcdstore: delete %s: %w", r.ID, failover.ErrNotFound)
			}
		}
		return fmt.Errorf("etcdstore: delete %s: a revision is stale: %w", idsOf(recs), failover.ErrConflict)
	}
	return nil
}

func idsOf(recs []failover.Record) string {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = string(r.ID)
	}
	return strings.Join(ids, ",")
}

// Append implements failover.Store: one transaction that requires the
// entry's key to be new, the previous Seq's key to exist and, after the
// first entry, the journal to be open.
func (s *Store) Append(ctx context.Context, id string, e failover.Entry) error {
	op := "journal " + id + ": append"
	if err := s.pre(ctx, op); err != nil {
		return err
	}
	if id == "" {
		return fmt.Errorf("etcdstore: journal append: empty failover ID: %w", failover.ErrInvalid)
	}
	switch {
	case e.Seq < 1:
		return fmt.Errorf("etcdstore: %s seq %d: %w", op, e.Seq, failover.ErrConflict)
	case e.Seq == 1 && e.Phase != failover.PhaseBegin:
		return fmt.Errorf("etcdstore: %s: first entry is %q, want %q: %w", op, e.Phase, failover.PhaseBegin, failover.ErrConflict)
	}
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("etcdstore: %s: %v: %w", op, err, failover.ErrInvalid)
	}
	k, ok := s.jKey(id, e.Seq), s.openKey(id)
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(k), "=", 0)}
	then := []clientv3.Op{clientv3.OpPut(k, string(v))}
	if e.Seq > 1 {
		cmps = append(cmps,
			clientv3.Compare(clientv3.CreateRevision(s.jKey(id, e.Seq-1)), ">", 0),
			clientv3.Compare(clientv3.CreateRevision(ok), ">", 0))
	}
	switch {
	case e.Phase == failover.PhaseEnd:
		then = append(then, clientv3.OpDelete(ok))
	case e.Seq == 1:
		then = append(then, clientv3.OpPut(ok, ""))
	}
	_, done, err := s.txn(ctx, op, cmps, then, nil)
	if err != nil {
		return err
	}
	if !done {
		return fmt.Errorf("etcdstore: %s seq %d: seq taken, not next, or journal closed: %w", op, e.Seq, failover.ErrConflict)
	}
	return nil
}

// Journal implements failover.Store.
func (s *Store) Journal(ctx context.Context, id string) ([]failover.Entry, error) {
	op := "journal " + id
	rs, err := s.read(ctx, op, clientv3.OpGet(s.jPrefix(id), clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)))
	if err != nil {
		return nil, err
	}
	if len(rs[0].Kvs) == 0 || id == "" {
		return nil, fmt.Errorf("etcdstore: %s: %w", op, failover.ErrNotFound)
	}
	out := make([]failover.Entry, 0, len(rs[0].Kvs))
	for _, kv := range rs[0].Kvs {
		var e failover.Entry
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			return nil, fmt.Errorf("etcdstore: %s: corrupt entry %s: %v: %w", op, kv.Key, err, failover.ErrTransient)
		}
		out = append(out, e)
	}
	return out, nil
}

// Unfinished implements failover.Store, from the index of open journals.
func (s *Store) Unfinished(ctx context.Context) ([]string, error) {
	p := s.prefix + "open/"
	rs, err := s.read(ctx, "unfinished", clientv3.OpGet(p, clientv3.WithPrefix(), clientv3.WithKeysOnly()))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rs[0].Kvs))
	for _, kv := range rs[0].Kvs {
		id, err := url.PathUnescape(strings.TrimPrefix(string(kv.Key), p))
		if err != nil {
			return nil, fmt.Errorf("etcdstore: unfinished: bad key %q: %w", kv.Key, failover.ErrTransient)
		}
		out = append(out, id)
	}
	// Escaped keys sort like their IDs except around escaped bytes.
	slices.Sort(out)
	return out, nil
}
