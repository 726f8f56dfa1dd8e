package daemon

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
)

// eventReceiver is the Redfish event receiver: one bmc.EventHandler per
// term of leadership (a handler, once closed, takes no more pushes).
// Only the leader takes pushes; a follower, or a daemon between terms or
// stopping, answers 503 with Retry-After, so that the BMC pushes again
// (to the leader, when its destination follows it).
type eventReceiver struct {
	d              *Daemon
	header, secret string
	cur            atomic.Pointer[bmc.EventHandler]
}

func newEventReceiver(d *Daemon, header, secret string) (*eventReceiver, error) {
	e := &eventReceiver{d: d, header: header, secret: secret}
	if _, err := e.newHandler(); err != nil { // the options are checked now
		return nil, err
	}
	return e, nil
}

func (e *eventReceiver) newHandler() (*bmc.EventHandler, error) {
	return bmc.NewEventHandler(func(_ context.Context, f bmc.Fault) {
		e.d.intake.deliver(f, "redfish")
	}, bmc.WithSharedSecret(e.header, e.secret), bmc.WithEventLogger(e.d.log.With("component", "redfish-events")))
}

// startTerm takes pushes until ctx ends; the channel closes once the
// term's handler is closed, having logged any fault it accepted and
// could not hand over.
func (e *eventReceiver) startTerm(ctx context.Context) chan struct{} {
	done := make(chan struct{})
	h, err := e.newHandler()
	if err != nil {
		e.d.log.Error("Redfish event receiver not started", "err", err)
		close(done)
		return done
	}
	e.cur.Store(h)
	go func() {
		defer close(done)
		_ = h.Run(ctx) // until ctx ends
		e.cur.CompareAndSwap(h, nil)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		left, _ := h.Close(cctx)
		for _, f := range left {
			e.d.log.Error("fault not handled: deliver it again", "server", f.Server, "fault", f.Type, "detail", f.Detail,
				"time", f.Time, "source", "redfish", "reason", "the term ended before the event receiver handed it over")
		}
	}()
	return done
}

func (e *eventReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := e.cur.Load()
	if e.d.Draining() || h == nil {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "this coldstandby daemon does not take events now (not the leader, or stopping)", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}
