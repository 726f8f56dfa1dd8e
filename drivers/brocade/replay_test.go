package brocade_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/drivers/brocade/brocadetest"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/internal/resthttp/resthttptest"
)

// The files in testdata hold the request shapes of clients others wrote
// and run against real switches (brcdapi, Broadcom's FOS Ansible
// collection, Cinder); testdata/README.md names each source.

// fosCall sends one request as brcdapi's brcdapi_rest._api_request does
// (Accept and Content-Type application/yang-data+json, the session's
// Authorization header) and returns status, answer and headers.
func fosCall(t *testing.T, srv *brocadetest.Server, auth, method, path string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	} else {
		req.SetBasicAuth(srv.User, srv.Password)
	}
	req.Header.Set("Accept", brocadetest.YANG)
	req.Header.Set("Content-Type", brocadetest.YANG)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header
}

// TestReplayBrcdapiRound: a zoning round in the shapes brcdapi sends
// (every write wrapped in its container; enable with cfg-name, checksum
// and cfg-action 1; a zone deleted by name alone) goes through the test
// server as through a switch, and the bare shapes are refused.
func TestReplayBrcdapiRound(t *testing.T) {
	var fx struct {
		Steps []struct {
			What, Method, Path string
			Body               json.RawMessage
			Status             int
		}
	}
	resthttptest.LoadJSON(t, "brcdapi_round.json", &fx)
	srv := newSwitch(t)
	auth, checksum := "", ""
	for _, st := range fx.Steps {
		body := bytes.ReplaceAll(st.Body, []byte("{checksum}"), []byte(checksum))
		status, out, hdr := fosCall(t, srv, auth, st.Method, st.Path, body)
		if status != st.Status {
			t.Fatalf("%s: %s %s: %d %s, want %d", st.What, st.Method, st.Path, status, out, st.Status)
		}
		switch {
		case st.Path == "/rest/login":
			auth = hdr.Get("Authorization")
		case strings.HasSuffix(st.Path, "/effective-configuration") && st.Method == http.MethodGet:
			var eff struct {
				Response struct {
					Effective struct {
						Checksum string `json:"checksum"`
					} `json:"effective-configuration"`
				} `json:"Response"`
			}
			if err := json.Unmarshal(out, &eff); err != nil {
				t.Fatal(err)
			}
			checksum = eff.Response.Effective.Checksum
		}
	}
	if got := srv.ActiveZones(brocadetest.DefaultVFID, "10:00:00:00:c9:77:00:02"); fmt.Sprint(got) != "[z_r7_03_a]" {
		t.Errorf("after enable_zonecfg the modified zone is active in %v", got)
	}
	if got := srv.DefinedMembers(brocadetest.DefaultVFID, "z_scratch"); len(got) != 1 {
		t.Errorf("the aborted zone deletion took effect: z_scratch holds %v", got)
	}
	if live, _, _ := srv.Sessions(); live != 0 {
		t.Errorf("%d sessions left", live)
	}

	// The container's content without the container is refused, as a
	// switch refuses a body that does not name its target.
	_, _, hdr := fosCall(t, srv, "", http.MethodPost, "/rest/login", nil)
	auth = hdr.Get("Authorization")
	defer fosCall(t, srv, auth, http.MethodPost, "/rest/logout", nil)
	for _, bare := range []struct{ method, path, body string }{
		{http.MethodPost, "/rest/running/brocade-zone/defined-configuration",
			`{"zone":[{"zone-name":"z_host1_a","member-entry":{"entry-name":["10:00:00:00:c9:77:00:05"]}}]}`},
		{http.MethodDelete, "/rest/running/brocade-zone/defined-configuration",
			`{"zone":[{"zone-name":"z_host2_b","member-entry":{"entry-name":["10:00:00:00:c9:aa:bb:cc"]}}]}`},
		{http.MethodPatch, "/rest/running/brocade-zone/effective-configuration", `{"cfg-action":4}`},
		{http.MethodPatch, "/rest/running/brocade-zone/effective-configuration", `{"checksum":"x","cfg-action":1}`},
	} {
		if status, out, _ := fosCall(t, srv, auth, bare.method, bare.path, []byte(bare.body)); status != http.StatusBadRequest {
			t.Errorf("bare %s %s %s: %d %s, want 400", bare.method, bare.path, bare.body, status, out)
		}
	}
}

// TestDriverSendsShapesRealClientsSend: every body the Zoner sends has
// the shape of one brcdapi, the FOS Ansible collection or Cinder sends to
// the same resource. Going back to the bare inner objects fails here.
func TestDriverSendsShapesRealClientsSend(t *testing.T) {
	var fx struct {
		Bodies []struct {
			Method, Path string
			Body         json.RawMessage
		}
	}
	resthttptest.LoadJSON(t, "shapes.json", &fx)
	allowed := map[string][]string{}
	for _, b := range fx.Bodies {
		sh, err := resthttptest.Shape(b.Body)
		if err != nil {
			t.Fatal(err)
		}
		allowed[b.Method+" "+b.Path] = append(allowed[b.Method+" "+b.Path], sh)
	}
	srv := newSwitch(t)
	rec := resthttptest.NewRecorder(srv.Config.Handler)
	srv.Config.Handler = rec
	z := newZoner(t, srv)
	ctx := context.Background()
	w := freshWWPNs(1)[0]
	for _, step := range []func() error{
		func() error { return z.AddMember(ctx, "z_host1_a", w) },
		func() error { return z.Commit(ctx) },
		func() error { return z.RemoveMember(ctx, "z_host1_a", w) },
		func() error { return z.Commit(ctx) },
		func() error { return z.AddMember(ctx, "z_host2_b", w) },
		func() error { return z.Close(ctx) }, // abort
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	checked := 0
	for _, r := range rec.Requests() {
		if len(bytes.TrimSpace(r.Body)) == 0 {
			continue
		}
		sh, err := resthttptest.Shape(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(allowed[r.Method+" "+r.Path], sh) {
			t.Errorf("%s %s sends %s, a shape no real client sends", r.Method, r.Path, r.Body)
		}
		checked++
	}
	if checked < 6 {
		t.Fatalf("checked %d bodies, want the add, enable, remove, enable, add and abort", checked)
	}
	// The check has teeth: the bare bodies the driver used to send are
	// not among the real clients' shapes.
	for _, old := range []string{`{"cfg-action":4}`, `{"zone":[{"zone-name":"z","member-entry":{"entry-name":["w"]}}]}`} {
		sh, _ := resthttptest.Shape([]byte(old))
		for k, shapes := range allowed {
			if strings.HasPrefix(k, "PATCH /rest/running/brocade-zone/effective-configuration") || strings.HasSuffix(k, "/defined-configuration") {
				if slices.Contains(shapes, sh) {
					t.Fatalf("the allowed shapes of %s accept the bare %s", k, old)
				}
			}
		}
	}
}

// TestFirmwareVersionChoosesPaths: the Zoner reads firmware-version at
// login and refuses firmware without the brocade-zone module (before
// 8.2.1b, pyfos) by version; from 8.2.1b on, through 9.1 and 9.2, it
// zones through brocade-zone with cfg-action 1 and 4, which Broadcom's
// Ansible collection (2.0.2) still sends on every version.
func TestFirmwareVersionChoosesPaths(t *testing.T) {
	for _, tc := range []struct {
		firmware string
		ok       bool
	}{
		{"v8.2.0", false},
		{"v8.2.1", false},
		{"v8.2.1a", false},
		{"v8.2.1b", true},
		{"v8.2.2c", true},
		{"v9.1.1", true},
		{"v9.1.1b", true},
		{"v9.2.0", true},
		{"v9.2.1a", true},
	} {
		t.Run(tc.firmware, func(t *testing.T) {
			srv := newSwitch(t)
			srv.SetFirmware(tc.firmware)
			rec := resthttptest.NewRecorder(srv.Config.Handler)
			srv.Config.Handler = rec
			z := newZoner(t, srv)
			ctx := context.Background()
			w := freshWWPNs(1)[0]
			err := z.AddMember(ctx, "z_host1_a", w)
			if !tc.ok {
				if !errors.Is(err, fabric.ErrUnsupported) || !strings.Contains(err.Error(), strings.TrimPrefix(tc.firmware, "v")) {
					t.Fatalf("AddMember on %s: %v, want ErrUnsupported naming the version", tc.firmware, err)
				}
				if live, _, _ := srv.Sessions(); live != 0 {
					t.Fatalf("%d sessions left after the refusal", live)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := z.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if got := srv.ActiveZones(brocadetest.DefaultVFID, w.String()); fmt.Sprint(got) != "[z_host1_a]" {
				t.Fatalf("active zones %v", got)
			}
			for _, r := range rec.Requests() {
				if strings.Contains(r.Path, "/rest/running/zoning/") {
					t.Errorf("%s %s: the legacy module on %s", r.Method, r.Path, tc.firmware)
				}
			}
		})
	}
}
