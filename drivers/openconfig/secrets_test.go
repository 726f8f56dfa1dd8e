package openconfig_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/drivers/openconfig"
	"github.com/coldstandby/coldstandby/drivers/openconfig/gnmitest"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/internal/redact"
)

// TestPasswordNeverPrinted: the Switch holds the gNMI password it sends
// as metadata; no fmt verb, slog handler, log record or error shows it.
func TestPasswordNeverPrinted(t *testing.T) {
	const secret = "Pa55-w0rd-gnmi-c11e"
	srv := gnmitest.Start(t, gnmitest.WithTLS(), gnmitest.WithCredentials("admin", secret))
	srv.AddInterface("Ethernet1", &gnmitest.Config{Mode: "ACCESS", AccessVLAN: 1})
	var logs bytes.Buffer
	s := dial(t, srv, openconfig.WithCredentials("admin", secret),
		openconfig.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if leaks := redact.Leaks(s, secret); len(leaks) != 0 {
		t.Errorf("the password shows through %v", leaks)
	}
	if got := fmt.Sprint(s); !strings.Contains(got, "admin") {
		t.Errorf("Sprint = %q, want the user", got)
	}
	ctx := context.Background()
	if _, err := s.SetPortVLAN(ctx, "Ethernet1", fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 5}); err != nil {
		t.Fatal(err)
	}
	wrong := dial(t, srv, openconfig.WithCredentials("admin", "wrong-"+secret))
	if _, err := wrong.PortVLAN(ctx, "Ethernet1"); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("wrong password: %v", err)
	}
	if strings.Contains(logs.String(), secret) || !strings.Contains(logs.String(), "port VLANs set") {
		t.Errorf("log:\n%s", logs.String())
	}
}
