package daemon

import (
	"context"
	"net/http"

	"github.com/coldstandby/coldstandby/bmc"
)

// eventReceiver is the Redfish event receiver (bmc.EventHandler) behind
// the leader check: only the leader takes pushes; a follower or a
// stopping daemon answers 503 with Retry-After, so that the BMC retries
// (toward the leader, when its destination follows it).
type eventReceiver struct {
	d *Daemon
	h *bmc.EventHandler
}

func newEventReceiver(d *Daemon, header, secret string) (*eventReceiver, error) {
	h, err := bmc.NewEventHandler(func(_ context.Context, f bmc.Fault) {
		d.intake.deliver(f, "redfish")
	}, bmc.WithSharedSecret(header, secret), bmc.WithEventLogger(d.log.With("component", "redfish-events")))
	if err != nil {
		return nil, err
	}
	return &eventReceiver{d: d, h: h}, nil
}

// startTerm takes pushes until ctx ends; the channel closes once the
// receiver stopped taking them.
func (e *eventReceiver) startTerm(ctx context.Context) chan struct{} {
	done := make(chan struct{})
	context.AfterFunc(ctx, func() { close(done) })
	return done
}

func (e *eventReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e.d.Draining() || !e.d.leading() {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "this coldstandby daemon does not take events now (not the leader, or stopping)", http.StatusServiceUnavailable)
		return
	}
	e.h.ServeHTTP(w, r)
}
