package ontap_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/coldstandby/coldstandby/drivers/ontap"
	"github.com/coldstandby/coldstandby/drivers/ontap/ontaptest"
	"github.com/coldstandby/coldstandby/storage"
)

const svm = "svm1"

var (
	failedWWPNs = []string{"20:00:00:25:b5:aa:00:01", "20:00:00:25:b5:bb:00:01"}
	spareWWPNs  = []string{"20:00:00:25:b5:aa:00:09", "20:00:00:25:b5:bb:00:09"}
)

func inits(names ...string) []storage.Initiator {
	out := make([]storage.Initiator, len(names))
	for i, n := range names {
		out[i] = storage.MustParseInitiator(n)
	}
	return out
}

func setup(t *testing.T) (*ontaptest.Server, *ontap.Mapper) {
	t.Helper()
	srv := ontaptest.New(t, svm)
	m, err := ontap.New(srv.URL, svm, srv.User, srv.Password, ontap.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return srv, m
}

func visible(srv *ontaptest.Server, names ...string) string {
	return fmt.Sprint(srv.Visible(names...))
}

func TestMapUnmapMappings(t *testing.T) {
	srv, m := setup(t)
	ctx := context.Background()
	srv.AddLUN("/vol/boot/lun0")
	srv.AddLUN("/vol/data/lun1")
	srv.AddIgroup("r1-01", "fcp", failedWWPNs...)
	failed := inits(failedWWPNs...)

	if got, err := m.Mappings(ctx, failed); err != nil || len(got) != 0 {
		t.Fatalf("before: %v, %v", got, err)
	}
	if err := m.Map(ctx, "/vol/boot/lun0", failed, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Map(ctx, "/vol/data/lun1", failed, 7); err != nil {
		t.Fatal(err)
	}
	// The server refuses a second identical LUN map (409), so nil here
	// means the driver saw the map and sent nothing.
	if err := m.Map(ctx, "/vol/boot/lun0", failed, 0); err != nil {
		t.Fatalf("idempotent Map: %v", err)
	}
	if visible(srv, failedWWPNs...) != "[{/vol/boot/lun0 0} {/vol/data/lun1 7}]" {
		t.Fatalf("array shows %s", visible(srv, failedWWPNs...))
	}
	// Mappings by one of the host's initiators, in another spelling.
	got, err := m.Mappings(ctx, inits("2000.0025.b5aa.0001"))
	if err != nil {
		t.Fatal(err)
	}
	want := []storage.Mapping{{Volume: "/vol/boot/lun0", LUN: 0}, {Volume: "/vol/data/lun1", LUN: 7}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Mappings = %v, want %v", got, want)
	}
	if err := m.Unmap(ctx, "/vol/data/lun1", failed); err != nil {
		t.Fatal(err)
	}
	if err := m.Unmap(ctx, "/vol/data/lun1", failed); err != nil {
		t.Fatalf("idempotent Unmap: %v", err)
	}
	if visible(srv, failedWWPNs...) != "[{/vol/boot/lun0 0}]" {
		t.Fatalf("array shows %s", visible(srv, failedWWPNs...))
	}
}

func TestMapErrors(t *testing.T) {
	srv, m := setup(t)
	ctx := context.Background()
	srv.AddLUN("/vol/boot/lun0")
	srv.AddLUN("/vol/data/lun1")
	srv.AddIgroup("r1-01", "fcp", failedWWPNs...)
	failed := inits(failedWWPNs...)
	if err := m.Map(ctx, "/vol/boot/lun0", failed, 0); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"LUN ID used by another volume", m.Map(ctx, "/vol/data/lun1", failed, 0), storage.ErrConflict},
		{"volume already at another LUN", m.Map(ctx, "/vol/boot/lun0", failed, 3), storage.ErrConflict},
		{"unknown volume", m.Map(ctx, "/vol/nope/lun0", failed, 1), storage.ErrNotFound},
		{"malformed volume", m.Map(ctx, "conformance-no-such-volume", failed, 1), storage.ErrNotFound},
		{"no igroup has these initiators", m.Map(ctx, "/vol/data/lun1", failed[:1], 1), storage.ErrNotFound},
		{"LUN beyond ONTAP's 4095", m.Map(ctx, "/vol/data/lun1", failed, 4096), storage.ErrInvalid},
		{"negative LUN", m.Map(ctx, "/vol/data/lun1", failed, -1), storage.ErrInvalid},
		{"no initiators", m.Map(ctx, "/vol/data/lun1", nil, 1), storage.ErrInvalid},
		{"zero initiator", m.Map(ctx, "/vol/data/lun1", []storage.Initiator{{}}, 1), storage.ErrInvalid},
		{"unmap unknown volume", m.Unmap(ctx, "/vol/nope/lun0", failed), storage.ErrNotFound},
		{"unmap no initiators", m.Unmap(ctx, "/vol/boot/lun0", nil), storage.ErrInvalid},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.err, c.want)
		}
	}
	if visible(srv, failedWWPNs...) != "[{/vol/boot/lun0 0}]" {
		t.Fatalf("failed calls changed the array: %s", visible(srv, failedWWPNs...))
	}
}

func TestUnmapRefusesSharedIgroup(t *testing.T) {
	srv, m := setup(t)
	ctx := context.Background()
	srv.AddLUN("/vol/shared/lun0")
	srv.AddIgroup("cluster", "fcp", append(slicesClone(failedWWPNs), spareWWPNs...)...)
	all := inits(append(slicesClone(failedWWPNs), spareWWPNs...)...)
	if err := m.Map(ctx, "/vol/shared/lun0", all, 0); err != nil {
		t.Fatal(err)
	}
	err := m.Unmap(ctx, "/vol/shared/lun0", inits(failedWWPNs...))
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
	if visible(srv, spareWWPNs...) != "[{/vol/shared/lun0 0}]" {
		t.Fatalf("the other host lost the volume: %s", visible(srv, spareWWPNs...))
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// TestRemapKeepsLUNIDs is strategy B: unmap every volume from the failed
// server's igroup and map it to the spare's with the same LUN ID.
func TestRemapKeepsLUNIDs(t *testing.T) {
	srv, m := setup(t)
	ctx := context.Background()
	srv.AddLUN("/vol/boot/lun0")
	srv.AddLUN("/vol/data/lun1")
	srv.AddIgroup("r1-01", "fcp", failedWWPNs...)
	srv.AddIgroup("r9-spare", "fcp", spareWWPNs...)
	failed, spare := inits(failedWWPNs...), inits(spareWWPNs...)
	for v, lun := range map[storage.VolumeID]int{"/vol/boot/lun0": 0, "/vol/data/lun1": 4} {
		if err := m.Map(ctx, v, failed, lun); err != nil {
			t.Fatal(err)
		}
	}
	before, err := m.Mappings(ctx, failed)
	if err != nil {
		t.Fatal(err)
	}
	for _, mp := range before {
		if err := m.Unmap(ctx, mp.Volume, failed); err != nil {
			t.Fatal(err)
		}
		if err := m.Map(ctx, mp.Volume, spare, mp.LUN); err != nil {
			t.Fatal(err)
		}
	}
	after, err := m.Mappings(ctx, spare)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("spare sees %v, failed server saw %v", after, before)
	}
	if got := srv.Visible(failedWWPNs...); len(got) != 0 {
		t.Fatalf("failed server still sees %v", got)
	}
}

// TestSwapInitiators is strategy A: the spare's WWPNs replace the failed
// server's in its igroup.
func TestSwapInitiators(t *testing.T) {
	srv, m := setup(t)
	ctx := context.Background()
	srv.AddLUN("/vol/boot/lun0")
	srv.AddLUN("/vol/data/lun1")
	srv.AddIgroup("r1-01", "fcp", failedWWPNs...)
	failed, spare := inits(failedWWPNs...), inits(spareWWPNs...)
	if err := m.Map(ctx, "/vol/boot/lun0", failed, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Map(ctx, "/vol/data/lun1", failed, 1); err != nil {
		t.Fatal(err)
	}
	if err := m.SwapInitiators(ctx, failed, spare); err != nil {
		t.Fatal(err)
	}
	if got := visible(srv, spareWWPNs...); got != "[{/vol/boot/lun0 0} {/vol/data/lun1 1}]" {
		t.Fatalf("spare sees %s", got)
	}
	if got := srv.Visible(failedWWPNs...); len(got) != 0 {
		t.Fatalf("failed server still sees %v", got)
	}
	if got := srv.IgroupInitiators("r1-01"); fmt.Sprint(got) != fmt.Sprint(spareWWPNs) {
		t.Fatalf("igroup holds %v", got)
	}
	if err := m.SwapInitiators(ctx, failed, spare); err != nil {
		t.Fatalf("idempotent swap: %v", err)
	}
	if err := m.SwapInitiators(ctx, inits("20:00:00:25:b5:00:00:77"), inits("20:00:00:25:b5:00:00:78")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown from: got %v, want ErrNotFound", err)
	}
	if err := m.SwapInitiators(ctx, nil, spare); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("empty from: got %v, want ErrInvalid", err)
	}
}

func TestSwapConflictChangesNothing(t *testing.T) {
	srv, m := setup(t)
	ctx := context.Background()
	srv.AddLUN("/vol/boot/lun0")
	srv.AddLUN("/vol/spare-own/lun0")
	srv.AddIgroup("r1-01", "fcp", failedWWPNs...)
	srv.AddIgroup("r9-spare", "fcp", spareWWPNs...)
	failed, spare := inits(failedWWPNs...), inits(spareWWPNs...)
	if err := m.Map(ctx, "/vol/boot/lun0", failed, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Map(ctx, "/vol/spare-own/lun0", spare, 0); err != nil {
		t.Fatal(err)
	}
	err := m.SwapInitiators(ctx, failed, spare)
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("got %v, want ErrConflict (LUN 0 twice for the spare)", err)
	}
	if got := srv.IgroupInitiators("r1-01"); fmt.Sprint(got) != fmt.Sprint(failedWWPNs) {
		t.Fatalf("igroup changed to %v", got)
	}
}

func TestTransientFailureChangesNothing(t *testing.T) {
	srv, m := setup(t)
	ctx := context.Background()
	srv.AddLUN("/vol/boot/lun0")
	srv.AddIgroup("r1-01", "iscsi", "iqn.2026-11.org.example:r1-01")
	host := inits("iqn.2026-11.org.example:r1-01")
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		srv.FailNext(status)
		if err := m.Map(ctx, "/vol/boot/lun0", host, 0); !errors.Is(err, storage.ErrTransient) {
			t.Fatalf("status %d: got %v, want ErrTransient", status, err)
		}
		if got := srv.Visible("iqn.2026-11.org.example:r1-01"); len(got) != 0 {
			t.Fatalf("failed Map changed state: %v", got)
		}
	}
	if err := m.Map(ctx, "/vol/boot/lun0", host, 0); err != nil {
		t.Fatal(err)
	}
}

func TestPaging(t *testing.T) {
	srv, m := setup(t)
	ctx := context.Background()
	srv.SetPageSize(1)
	var want []storage.Mapping
	srv.AddIgroup("other", "iscsi", "iqn.2026-11.org.example:other")
	srv.AddIgroup("r1-01", "iscsi", "iqn.2026-11.org.example:r1-01")
	host := inits("iqn.2026-11.org.example:r1-01")
	for i := range 7 {
		v := fmt.Sprintf("/vol/v%d/lun0", i)
		srv.AddLUN(v)
		if err := m.Map(ctx, storage.VolumeID(v), host, 10-i); err != nil {
			t.Fatal(err)
		}
		want = append([]storage.Mapping{{Volume: storage.VolumeID(v), LUN: 10 - i}}, want...)
	}
	got, err := m.Mappings(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestAuthAndTLS(t *testing.T) {
	srv, _ := setup(t)
	ctx := context.Background()
	host := inits("iqn.2026-11.org.example:r1-01")

	bad, err := ontap.New(srv.URL, svm, srv.User, "wrong", ontap.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Mappings(ctx, host)
	if !errors.Is(err, storage.ErrUnsupported) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong password: got %v", err)
	}
	// The default client verifies TLS: the test server's self-signed
	// certificate is refused.
	strict, err := ontap.New(srv.URL, svm, srv.User, srv.Password)
	if err != nil {
		t.Fatal(err)
	}
	_, err = strict.Mappings(ctx, host)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: got %v", err)
	}
	for _, ep := range []string{"", "ftp://x", "cluster1"} {
		if _, err := ontap.New(ep, svm, "u", "p"); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("New(%q): got %v, want ErrInvalid", ep, err)
		}
	}
}

func TestCancelledContext(t *testing.T) {
	srv, m := setup(t)
	srv.AddLUN("/vol/boot/lun0")
	srv.AddIgroup("r1-01", "iscsi", "iqn.2026-11.org.example:r1-01")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	host := inits("iqn.2026-11.org.example:r1-01")
	if err := m.Map(ctx, "/vol/boot/lun0", host, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Map: got %v", err)
	}
	if _, err := m.Mappings(ctx, host); !errors.Is(err, context.Canceled) {
		t.Fatalf("Mappings: got %v", err)
	}
}

func TestConcurrentMaps(t *testing.T) {
	srv, m := setup(t)
	ctx := context.Background()
	srv.AddIgroup("r1-01", "iscsi", "iqn.2026-11.org.example:r1-01")
	host := inits("iqn.2026-11.org.example:r1-01")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range 8 {
		v := fmt.Sprintf("/vol/v%d/lun0", i)
		srv.AddLUN(v)
		wg.Go(func() { errs[i] = m.Map(ctx, storage.VolumeID(v), host, i) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Map %d: %v", i, err)
		}
	}
	if got := len(srv.Visible("iqn.2026-11.org.example:r1-01")); got != 8 {
		t.Fatalf("host sees %d volumes, want 8", got)
	}
}

// The test server's own protocol behaviour, as documented by NetApp.

func TestServerAssignsLowestFreeLUN(t *testing.T) {
	srv, m := setup(t)
	srv.AddLUN("/vol/a/lun0")
	srv.AddLUN("/vol/b/lun0")
	srv.AddIgroup("g", "iscsi", "iqn.2026-11.org.example:g")
	if err := m.Map(context.Background(), "/vol/a/lun0", inits("iqn.2026-11.org.example:g"), 0); err != nil {
		t.Fatal(err)
	}
	status, body := call(t, srv, http.MethodPost, "/api/protocols/san/lun-maps",
		`{"svm":{"name":"svm1"},"igroup":{"name":"g"},"lun":{"name":"/vol/b/lun0"}}`)
	if status != http.StatusCreated {
		t.Fatalf("status %d: %s", status, body)
	}
	if got := fmt.Sprint(srv.Visible("iqn.2026-11.org.example:g")); got != "[{/vol/a/lun0 0} {/vol/b/lun0 1}]" {
		t.Fatalf("assigned: %s", got)
	}
}

func TestServerRefusesRemovingMappedInitiator(t *testing.T) {
	srv, m := setup(t)
	srv.AddLUN("/vol/a/lun0")
	g := srv.AddIgroup("g", "iscsi", "iqn.2026-11.org.example:g")
	if err := m.Map(context.Background(), "/vol/a/lun0", inits("iqn.2026-11.org.example:g"), 0); err != nil {
		t.Fatal(err)
	}
	status, body := call(t, srv, http.MethodDelete, "/api/protocols/san/igroups/"+g+"/initiators/iqn.2026-11.org.example:g", "")
	var e struct {
		Error struct{ Code, Message, Target string }
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	if status/100 == 2 || e.Error.Code != ontaptest.CodeMapped || e.Error.Message == "" {
		t.Fatalf("status %d body %s", status, body)
	}
	status, body = call(t, srv, http.MethodDelete, "/api/protocols/san/igroups/"+g+"/initiators/iqn.2026-11.org.example:zz?allow_delete_while_mapped=true", "")
	if status/100 == 2 || !bytes.Contains(body, []byte(ontaptest.CodeNotMember)) {
		t.Fatalf("non-member: status %d body %s", status, body)
	}
	status, body = call(t, srv, http.MethodGet, "/api/protocols/san/igroups", "")
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"num_records"`)) {
		t.Fatalf("collection: %d %s", status, body)
	}
}

func call(t *testing.T, srv *ontaptest.Server, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(srv.User, srv.Password)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

// TestSwapBackWithSparesOwnIgroup is a rollback: the spare has an igroup
// of its own (no LUN maps); swap to the spare, then back.
func TestSwapBackWithSparesOwnIgroup(t *testing.T) {
	srv, m := setup(t)
	ctx := context.Background()
	srv.AddLUN("/vol/boot/lun0")
	srv.AddIgroup("r1-01", "fcp", failedWWPNs...)
	srv.AddIgroup("r9-spare", "fcp", spareWWPNs...)
	failed, spare := inits(failedWWPNs...), inits(spareWWPNs...)
	if err := m.Map(ctx, "/vol/boot/lun0", failed, 0); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := m.SwapInitiators(ctx, failed, spare); err != nil {
			t.Fatalf("swap #%d: %v", i+1, err)
		}
	}
	for i := range 2 {
		if err := m.SwapInitiators(ctx, spare, failed); err != nil {
			t.Fatalf("swap back #%d: %v", i+1, err)
		}
	}
	if got := srv.IgroupInitiators("r1-01"); fmt.Sprint(got) != fmt.Sprint(failedWWPNs) {
		t.Fatalf("r1-01 holds %v", got)
	}
	if got := srv.IgroupInitiators("r9-spare"); fmt.Sprint(got) != fmt.Sprint(spareWWPNs) {
		t.Fatalf("the spare's own igroup changed to %v", got)
	}
	if got := visible(srv, failedWWPNs...); got != "[{/vol/boot/lun0 0}]" {
		t.Fatalf("failed server sees %s after the rollback", got)
	}
	if got := srv.Visible(spareWWPNs...); len(got) != 0 {
		t.Fatalf("spare still sees %v", got)
	}
}
