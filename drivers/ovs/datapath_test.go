package ovs_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/drivers/ovs"
	"github.com/coldstandby/coldstandby/drivers/ovs/ovstest"
	"github.com/coldstandby/coldstandby/fabric"
)

// fakeControl serves ovs-vswitchd's control protocol on a unix socket and
// answers every request with the error msg.
func fakeControl(t *testing.T, msg string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ovs-vswitchd.1.ctl")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				dec, enc := json.NewDecoder(c), json.NewEncoder(c)
				for {
					var req struct {
						ID any `json:"id"`
					}
					if dec.Decode(&req) != nil {
						return
					}
					_ = enc.Encode(map[string]any{"result": nil, "error": msg, "id": req.ID})
				}
			}()
		}
	}()
	return path
}

// TestVswitchdControl: a control socket named by WithVswitchdControl that
// cannot confirm the data path makes SetPortVLAN say the outcome is
// unknown (the database holds the change); one that works, or none found
// beside the database socket, does not.
func TestVswitchdControl(t *testing.T) {
	t.Parallel() // its own switch
	sw := ovstest.Start(t)
	for _, tc := range []struct {
		name string
		opts []ovs.Option
		want error
	}{
		{"found beside the database", nil, nil},
		{"named", []ovs.Option{ovs.WithVswitchdControl(sw.VswitchdControl())}, nil},
		{"named, absent", []ovs.Option{ovs.WithVswitchdControl(filepath.Join(t.TempDir(), "absent.ctl"))}, fabric.ErrOutcomeUnknown},
		{"named, refuses", []ovs.Option{ovs.WithVswitchdControl(fakeControl(t, "can't wait on multiple udpifs."))}, fabric.ErrOutcomeUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := sw.For(t).AddPort("tag=10")
			s := newSwitch(t, sw.DB, append(tc.opts, ovs.WithApplyWait(5*time.Second))...)
			_, err := s.SetPortVLAN(context.Background(), port, fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 11})
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("SetPortVLAN = %v, want %v", err, tc.want)
			}
			if got := columns(sw, port); got != "access 11 []" {
				t.Errorf("database holds %q, want the committed change", got)
			}
		})
	}
}
