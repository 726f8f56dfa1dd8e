package ovs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
)

// rpcConn is a minimal JSON-RPC 1.0 client for OVSDB (RFC 7047 section
// 4): requests and responses are JSON objects on a byte stream, matched by
// id; the server may send "echo" requests (keep-alive), which must be
// answered, and notifications (id null), which are ignored here because
// the driver never monitors.
type rpcConn struct {
	conn net.Conn

	wmu sync.Mutex // serialises writes

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan rpcResponse
	err     error         // set once the connection is broken
	done    chan struct{} // closed when the read loop ends
}

type rpcRequest struct {
	Method string `json:"method"`
	Params []any  `json:"params"`
	ID     any    `json:"id"`
}

type rpcResponse struct {
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
}

// errConnBroken is the cause of every call on a connection after it broke.
var errConnBroken = errors.New("connection to the database lost")

func newRPCConn(c net.Conn) *rpcConn {
	r := &rpcConn{conn: c, pending: make(map[uint64]chan rpcResponse), done: make(chan struct{})}
	go r.readLoop()
	return r
}

func (r *rpcConn) readLoop() {
	defer close(r.done)
	dec := json.NewDecoder(bufio.NewReader(r.conn))
	var err error
	for {
		var m rpcResponse
		if err = dec.Decode(&m); err != nil {
			break
		}
		if m.Method == "echo" {
			// RFC 7047 4.1.11: reply with the same params and id.
			var params []any
			_ = json.Unmarshal(m.Params, &params)
			var id any
			_ = json.Unmarshal(m.ID, &id)
			if _, err = r.write(map[string]any{"result": params, "error": nil, "id": id}); err != nil {
				break
			}
			continue
		}
		if m.Method != "" { // a notification (update, locked, stolen): unused
			continue
		}
		var id uint64
		if json.Unmarshal(m.ID, &id) != nil {
			continue
		}
		r.mu.Lock()
		ch := r.pending[id]
		delete(r.pending, id)
		r.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
	r.mu.Lock()
	r.err = fmt.Errorf("%w: %v", errConnBroken, err)
	for id, ch := range r.pending {
		close(ch)
		delete(r.pending, id)
	}
	r.mu.Unlock()
	r.conn.Close()
}

// write sends v and reports how many bytes went out.
func (r *rpcConn) write(v any) (int, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	return r.conn.Write(b)
}

// broken reports whether the connection can no longer be used.
func (r *rpcConn) broken() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err != nil
}

func (r *rpcConn) close() {
	r.conn.Close()
	<-r.done
}

// callError says how far a failed call got, so that the caller can tell
// ErrTransient (not sent) from ErrOutcomeUnknown (sent, no answer).
type callError struct {
	sent bool
	err  error
}

func (e *callError) Error() string { return e.err.Error() }
func (e *callError) Unwrap() error { return e.err }

// call sends method(params) and waits for its response, ctx or a broken
// connection. A JSON-RPC level error (the "error" member) is returned as
// *rpcError.
func (r *rpcConn) call(ctx context.Context, method string, params []any) (json.RawMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, &callError{err: err}
	}
	ch := make(chan rpcResponse, 1)
	r.mu.Lock()
	if r.err != nil {
		err := r.err
		r.mu.Unlock()
		return nil, &callError{err: err}
	}
	r.nextID++
	id := r.nextID
	r.pending[id] = ch
	r.mu.Unlock()

	if n, err := r.write(rpcRequest{Method: method, Params: params, ID: id}); err != nil {
		r.mu.Lock()
		delete(r.pending, id)
		if r.err == nil { // the next call dials again
			r.err = fmt.Errorf("%w: %v", errConnBroken, err)
		}
		r.mu.Unlock()
		r.conn.Close() // a partial write leaves the stream unusable
		// Once any byte went out the server may have the whole request.
		return nil, &callError{sent: n > 0, err: fmt.Errorf("%w: %v", errConnBroken, err)}
	}
	select {
	case m, ok := <-ch:
		if !ok {
			r.mu.Lock()
			err := r.err
			r.mu.Unlock()
			return nil, &callError{sent: true, err: err}
		}
		if len(m.Error) > 0 && string(m.Error) != "null" {
			return nil, &rpcError{raw: string(m.Error)}
		}
		return m.Result, nil
	case <-ctx.Done():
		r.mu.Lock()
		delete(r.pending, id)
		r.mu.Unlock()
		return nil, &callError{sent: true, err: ctx.Err()}
	}
}

// rpcError is an error answered by the server at the JSON-RPC level.
type rpcError struct{ raw string }

func (e *rpcError) Error() string { return "database error " + e.raw }
