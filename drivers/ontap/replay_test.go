package ontap_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/coldstandby/coldstandby/drivers/ontap"
	"github.com/coldstandby/coldstandby/drivers/ontap/ontaptest"
	"github.com/coldstandby/coldstandby/internal/resthttp/resthttptest"
)

// The payloads in testdata are the shapes independent clients (NetApp's
// Ansible collection and Trident, run against real clusters) send and
// read; testdata/README.md names each source.

type ansibleFixtures struct {
	Responses map[string]json.RawMessage `json:"responses"`
	Requests  []struct {
		What, Method, Path, Query string
		Body                      json.RawMessage
		Status                    int
		Code                      string
	} `json:"requests"`
}

var placeholder = regexp.MustCompile(`\{([^}]+)\}`)

// TestReplayAnsibleRequests: the requests NetApp's Ansible modules send,
// in their shapes (dotted keys, a LUN ID as a string, "True" in a query,
// one initiator or a records array), get from the test server what a
// cluster answers.
func TestReplayAnsibleRequests(t *testing.T) {
	var fx ansibleFixtures
	resthttptest.LoadJSON(t, "ansible.json", &fx)
	srv := ontaptest.New(t, svm)
	uuids := map[string]string{
		"/vol/boot_r1_01/lun0": srv.AddLUN("/vol/boot_r1_01/lun0"),
		"data_r1_01":           srv.AddLUN("data_r1_01"),
		"r1-01":                srv.AddIgroup("r1-01", "fcp", failedWWPNs...),
		"r9-spare":             srv.AddIgroup("r9-spare", "fcp"),
	}
	for _, rq := range fx.Requests {
		path := placeholder.ReplaceAllStringFunc(rq.Path, func(m string) string { return uuids[m[1:len(m)-1]] })
		if rq.Query != "" {
			path += "?" + rq.Query
		}
		status, body := call(t, srv, rq.Method, path, string(rq.Body))
		if status != rq.Status {
			t.Errorf("%s: %s %s: status %d %s, want %d", rq.What, rq.Method, path, status, body, rq.Status)
			continue
		}
		if rq.Code != "" && !bytes.Contains(body, []byte(`"code":"`+rq.Code+`"`)) {
			t.Errorf("%s: body %s, want code %s", rq.What, body, rq.Code)
		}
	}
	if got := srv.IgroupInitiators("r9-spare"); !sameNames(got, spareWWPNs) {
		t.Errorf("r9-spare holds %v after the initiator additions", got)
	}
	if got := srv.IgroupInitiators("r1-01"); !sameNames(got, failedWWPNs[1:]) {
		t.Errorf("r1-01 holds %v after one removal", got)
	}
	if got := srv.Visible(failedWWPNs...); len(got) != 0 {
		t.Errorf("LUN map left after its deletion: %v", got)
	}
}

// fixtureServer answers GETs with recorded collection bodies by path and
// records every other request, answering it 200 with an empty object.
type fixtureServer struct {
	*httptest.Server
	mu      sync.Mutex
	changes []string
}

func newFixtureServer(t *testing.T, bodies map[string]json.RawMessage) *fixtureServer {
	fs := &fixtureServer{}
	fs.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/hal+json")
		if r.Method == http.MethodGet {
			b, ok := bodies[r.URL.Path]
			if !ok {
				b = json.RawMessage(`{"records":[],"num_records":0}`)
			}
			_, _ = w.Write(b)
			return
		}
		fs.mu.Lock()
		fs.changes = append(fs.changes, r.Method+" "+r.URL.Path)
		fs.mu.Unlock()
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *fixtureServer) Changes() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return slices.Clone(fs.changes)
}

// TestReadsAnsibleFixtureRecords: records as the Ansible unit tests feed
// their modules (no num_records or _links on some, an igroup without an
// "initiators" member, an ASA r2 LUN named without a path) read right.
func TestReadsAnsibleFixtureRecords(t *testing.T) {
	var fx ansibleFixtures
	resthttptest.LoadJSON(t, "ansible.json", &fx)
	fs := newFixtureServer(t, map[string]json.RawMessage{
		"/api/storage/luns":           fx.Responses["luns"],
		"/api/protocols/san/igroups":  fx.Responses["igroups"],
		"/api/protocols/san/lun-maps": fx.Responses["lun_maps"],
	})
	m, err := ontap.New(fs.URL, svm, "admin", "pw", ontap.WithHTTPClient(fs.Client()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := m.Mappings(ctx, inits(failedWWPNs[1]))
	if err != nil || fmt.Sprint(got) != "[{/vol/boot_r1_01/lun0 0} {data_r1_01 1}]" {
		t.Fatalf("Mappings = %v, %v", got, err)
	}
	if got, err := m.Mappings(ctx, inits(spareWWPNs...)); err != nil || len(got) != 0 {
		t.Fatalf("Mappings of the initiator-less igroup's host = %v, %v", got, err)
	}
	// Already mapped as asked: nothing is sent.
	if err := m.Map(ctx, "data_r1_01", inits(failedWWPNs...), 1); err != nil {
		t.Fatal(err)
	}
	if c := fs.Changes(); len(c) != 0 {
		t.Fatalf("idempotent Map sent %v", c)
	}
}

// TestNestedFixture: an igroup tree as ONTAP 9.9.1+ returns it. The
// parent's LUN maps are seen through it, and a swap of r1-01's
// initiators touches r1-01 only, never the parent that lists them.
func TestNestedFixture(t *testing.T) {
	var fx struct {
		Igroups json.RawMessage `json:"igroups"`
		LunMaps json.RawMessage `json:"lun_maps"`
	}
	resthttptest.LoadJSON(t, "nested.json", &fx)
	fs := newFixtureServer(t, map[string]json.RawMessage{
		"/api/protocols/san/igroups":  fx.Igroups,
		"/api/protocols/san/lun-maps": fx.LunMaps,
	})
	m, err := ontap.New(fs.URL, svm, "admin", "pw", ontap.WithHTTPClient(fs.Client()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if got, err := m.Mappings(ctx, inits(failedWWPNs...)); err != nil || fmt.Sprint(got) != "[{/vol/boot_r1_01/lun0 0} {/vol/shared/lun5 5}]" {
		t.Fatalf("Mappings of r1-01 = %v, %v", got, err)
	}
	if got, err := m.Mappings(ctx, inits("20:00:00:25:b5:aa:00:02")); err != nil || fmt.Sprint(got) != "[{/vol/shared/lun5 5}]" {
		t.Fatalf("Mappings of r2-01 = %v, %v", got, err)
	}
	if err := m.SwapInitiators(ctx, inits(failedWWPNs...), inits(spareWWPNs...)); err != nil {
		t.Fatal(err)
	}
	const r1 = "/api/protocols/san/igroups/c0000000-0000-4000-8000-0000000000a1"
	for _, c := range fs.Changes() {
		if !strings.Contains(c, r1) {
			t.Errorf("the swap changed another igroup than r1-01: %s", c)
		}
	}
	if len(fs.Changes()) < 4 {
		t.Errorf("swap requests %v, want the marker, two removals, the addition and the comment back", fs.Changes())
	}
}

type shapeFixtures struct {
	Bodies []struct {
		Method, Path, Source string
		Body                 json.RawMessage
	} `json:"bodies"`
}

func pathMatches(pattern, path string) bool {
	p, q := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(p) != len(q) {
		return false
	}
	for i := range p {
		if p[i] != "*" && p[i] != q[i] {
			return false
		}
	}
	return true
}

// allowedShapes returns, per method and path pattern, the shapes of the
// bodies real clients send.
func allowedShapes(t *testing.T) map[string][]string {
	var fx shapeFixtures
	resthttptest.LoadJSON(t, "shapes.json", &fx)
	out := map[string][]string{}
	for _, b := range fx.Bodies {
		sh, err := resthttptest.Shape(b.Body)
		if err != nil {
			t.Fatal(err)
		}
		k := b.Method + " " + b.Path
		out[k] = append(out[k], sh)
	}
	return out
}

// TestDriverSendsShapesRealClientsSend: every request body the driver
// sends has the shape of a body the reference's examples, the Ansible
// collection or Trident send to the same endpoint. A driver change to a
// shape no real client sends fails here.
func TestDriverSendsShapesRealClientsSend(t *testing.T) {
	allowed := allowedShapes(t)
	srv := ontaptest.New(t, svm)
	rec := resthttptest.NewRecorder(srv.Config.Handler)
	srv.Config.Handler = rec
	srv.AddLUN("/vol/boot/lun0")
	srv.AddLUN("/vol/data/lun1")
	srv.AddIgroup("r1-01", "fcp", failedWWPNs...)
	srv.AddIgroup("r9-spare", "fcp", spareWWPNs...)
	m, err := ontap.New(srv.URL, svm, srv.User, srv.Password, ontap.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	failed, spare := inits(failedWWPNs...), inits(spareWWPNs...)
	for _, step := range []func() error{
		func() error { return m.Map(ctx, "/vol/boot/lun0", failed, 0) },
		func() error { return m.Map(ctx, "/vol/data/lun1", failed, 1) },
		func() error { return m.Unmap(ctx, "/vol/data/lun1", failed) },
		func() error { return m.Map(ctx, "/vol/data/lun1", spare, 1) },
		func() error { return m.Unmap(ctx, "/vol/data/lun1", spare) },
		func() error { return m.SwapInitiators(ctx, failed, spare) },
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
			t.Fatalf("%s %s: %v", r.Method, r.Path, err)
		}
		var ok bool
		for k, shapes := range allowed {
			method, pattern, _ := strings.Cut(k, " ")
			if method == r.Method && pathMatches(pattern, r.Path) && slices.Contains(shapes, sh) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s %s sends %s, a shape no real client sends", r.Method, r.Path, r.Body)
		}
		checked++
	}
	if checked < 6 {
		t.Fatalf("checked %d bodies; the scenario should send at least 6", checked)
	}
	// The check has teeth: the body the driver used to send (igroup and
	// LUN by uuid only) is not among the real clients' shapes.
	old, _ := resthttptest.Shape([]byte(`{"svm":{"name":"s"},"igroup":{"uuid":"u"},"lun":{"uuid":"l"},"logical_unit_number":0}`))
	if slices.Contains(allowed["POST /api/protocols/san/lun-maps"], old) {
		t.Fatal("the allowed shapes accept the old uuid-only body")
	}
}
