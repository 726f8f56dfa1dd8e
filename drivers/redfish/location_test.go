package redfish_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/coldstandby/coldstandby/drivers/redfish"
	"github.com/coldstandby/coldstandby/drivers/redfish/redfishtest"
	"github.com/coldstandby/coldstandby/partition"
)

// A task monitor named by an absolute URI on another host must not be
// polled with the service's credentials: that would hand the password to
// whatever the Location header names. The composition was accepted, so
// the outcome is unknown.
func TestTaskMonitorOnAnotherHostGetsNoCredentials(t *testing.T) {
	var got, withAuth atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		if r.Header.Get("Authorization") != "" {
			withAuth.Add(1)
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(other.Close)
	srv := redfishtest.Start(t, redfishtest.BladedPartitions, redfishtest.WithAsync(),
		redfishtest.WithBasicAuth("admin", "pw"), redfishtest.WithTaskMonitorBase(other.URL))
	if srv == nil {
		return
	}
	m := newManager(t, srv, redfish.WithBasicAuth("admin", "pw"))
	srv.AddBlock("B1", "EncZone1")
	err := m.Compose(context.Background(), "lsrv1", []string{"B1"})
	if !errors.Is(err, partition.ErrOutcomeUnknown) {
		t.Fatalf("Compose with a foreign task monitor: %v, want ErrOutcomeUnknown", err)
	}
	if withAuth.Load() != 0 {
		t.Fatalf("the other host got %d requests with credentials", withAuth.Load())
	}
	if got.Load() != 0 {
		t.Errorf("the other host got %d requests; want none", got.Load())
	}
}

// An absolute monitor URI on the service's own host is followed.
func TestTaskMonitorAbsoluteOnSameHost(t *testing.T) {
	// The base is only known once the server runs; the service's own URL
	// is what it would send, so make the server then point it at itself.
	srv := redfishtest.Start(t, redfishtest.BladedPartitions, redfishtest.WithAsync(),
		redfishtest.WithBasicAuth("admin", "pw"), redfishtest.WithTaskMonitorBase("SELF"))
	if srv == nil {
		return
	}
	m := newManager(t, srv, redfish.WithBasicAuth("admin", "pw"))
	srv.AddBlock("B1", "EncZone1")
	if err := m.Compose(context.Background(), "lsrv1", []string{"B1"}); err != nil {
		t.Fatalf("Compose with an absolute task monitor on the same host: %v", err)
	}
}
