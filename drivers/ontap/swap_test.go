package ontap_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/drivers/ontap"
	"github.com/coldstandby/coldstandby/drivers/ontap/ontaptest"
	"github.com/coldstandby/coldstandby/storage"
)

const origComment = "boot LUNs of r1-01, ticket OPS-1234"

// swapScenario is a starting state on the array and the swap to make.
type swapScenario struct {
	name string
	// build fills a fresh server; the LUNs are mapped to the igroup
	// r1-01 (holding the failed server's initiators) with IDs 0 and 1.
	build func(t *testing.T, srv *ontaptest.Server, m *ontap.Mapper)
	// from and to are the swap's arguments.
	from, to []string
}

func mapBoot(t *testing.T, srv *ontaptest.Server, m *ontap.Mapper) {
	t.Helper()
	ctx := context.Background()
	srv.AddLUN("/vol/boot/lun0")
	srv.AddLUN("/vol/data/lun1")
	srv.AddIgroup("r1-01", "fcp", failedWWPNs...)
	srv.SetIgroupComment("r1-01", origComment)
	if err := m.Map(ctx, "/vol/boot/lun0", inits(failedWWPNs...), 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Map(ctx, "/vol/data/lun1", inits(failedWWPNs...), 1); err != nil {
		t.Fatal(err)
	}
}

var swapScenarios = []swapScenario{
	{name: "failover", from: failedWWPNs, to: spareWWPNs, build: mapBoot},
	{name: "spare has its own igroup", from: failedWWPNs, to: spareWWPNs,
		build: func(t *testing.T, srv *ontaptest.Server, m *ontap.Mapper) {
			mapBoot(t, srv, m)
			srv.AddIgroup("r9-spare", "fcp", spareWWPNs...)
		}},
	{name: "rollback", from: spareWWPNs, to: failedWWPNs,
		build: func(t *testing.T, srv *ontaptest.Server, m *ontap.Mapper) {
			mapBoot(t, srv, m)
			srv.AddIgroup("r9-spare", "fcp", spareWWPNs...)
			if err := m.SwapInitiators(context.Background(), inits(failedWWPNs...), inits(spareWWPNs...)); err != nil {
				t.Fatal(err)
			}
		}},
}

// checkSwapped asserts the outcome of a finished swap: r1-01 holds
// exactly to with its original comment, to sees both LUNs at their IDs,
// from sees nothing, and no igroup ever held both sets.
func checkSwapped(t *testing.T, srv *ontaptest.Server, sc swapScenario) {
	t.Helper()
	got := srv.IgroupInitiators("r1-01")
	if !sameNames(got, sc.to) {
		t.Errorf("r1-01 holds %v, want %v", got, sc.to)
	}
	if c := srv.IgroupComment("r1-01"); c != origComment {
		t.Errorf("r1-01 comment %q, want %q", c, origComment)
	}
	if v := visible(srv, sc.to...); v != "[{/vol/boot/lun0 0} {/vol/data/lun1 1}]" {
		t.Errorf("new host sees %s", v)
	}
	if v := srv.Visible(sc.from...); len(v) != 0 {
		t.Errorf("old host still sees %v", v)
	}
	if b := srv.Breaches(); len(b) != 0 {
		t.Errorf("an igroup held both servers' initiators: %s", strings.Join(b, "; "))
	}
}

func sameNames(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func newSwapServer(t *testing.T, sc swapScenario) (*ontaptest.Server, *ontap.Mapper) {
	t.Helper()
	srv, m := setup(t)
	sc.build(t, srv, m)
	srv.WatchDisjoint(failedWWPNs, spareWWPNs)
	return srv, m
}

// TestSwapNeverOverlaps: a swap, repeated, and a swap back; after every
// state-changing request no igroup held both servers' initiators.
func TestSwapNeverOverlaps(t *testing.T) {
	for _, sc := range swapScenarios {
		t.Run(sc.name, func(t *testing.T) {
			srv, m := newSwapServer(t, sc)
			ctx := context.Background()
			for range 2 {
				if err := m.SwapInitiators(ctx, inits(sc.from...), inits(sc.to...)); err != nil {
					t.Fatal(err)
				}
				checkSwapped(t, srv, sc)
			}
		})
	}
}

// TestSwapWatchCatchesAddFirst shows that the watch of TestSwapNeverOverlaps
// can fail: the order the driver used to follow (add the spare, then
// remove the failed server) is a breach.
func TestSwapWatchCatchesAddFirst(t *testing.T) {
	srv, m := setup(t)
	mapBoot(t, srv, m)
	srv.WatchDisjoint(failedWWPNs, spareWWPNs)
	uuid := igroupUUID(t, srv, "r1-01")
	code, body := call(t, srv, http.MethodPost, "/api/protocols/san/igroups/"+uuid+"/initiators", `{"name":"`+spareWWPNs[0]+`"}`)
	if code != http.StatusCreated {
		t.Fatalf("add: %d %s", code, body)
	}
	if b := srv.Breaches(); len(b) != 1 || !strings.Contains(b[0], "r1-01") {
		t.Fatalf("breaches %q, want one for r1-01", b)
	}
}

// faultKinds are the two ways a request can fail: before it took effect
// (503, ErrTransient) or after (500 on a change: ErrOutcomeUnknown).
var faultKinds = []struct {
	name   string
	inject func(srv *ontaptest.Server, k int)
}{
	{"refused", func(srv *ontaptest.Server, k int) { srv.FailAfter(k, http.StatusServiceUnavailable) }},
	{"answer lost", func(srv *ontaptest.Server, k int) { srv.FailAfterApplying(k, http.StatusInternalServerError) }},
}

// TestSwapInterruptedAtEveryRequest fails the swap's k-th request, for
// every k, in both ways, and then (a second time) the j-th request of the
// call that resumes it, for every j; a last call finishes the swap with
// every LUN map intact, the comment restored, and no moment where both
// servers' initiators were in one igroup.
func TestSwapInterruptedAtEveryRequest(t *testing.T) {
	ctx := context.Background()
	for _, sc := range swapScenarios {
		for _, fk := range faultKinds {
			t.Run(sc.name+"/"+fk.name, func(t *testing.T) {
				runs := 0
				for k := 0; ; k++ {
					srv, m := newSwapServer(t, sc)
					start := srv.Requests()
					fk.inject(srv, k)
					err := m.SwapInitiators(ctx, inits(sc.from...), inits(sc.to...))
					if err == nil {
						if srv.Requests()-start > k {
							t.Fatalf("k=%d: the injected fault was swallowed", k)
						}
						if k < 5 {
							t.Fatalf("a swap took only %d requests", k)
						}
						checkSwapped(t, srv, sc)
						break
					}
					if !errors.Is(err, storage.ErrTransient) && !errors.Is(err, storage.ErrOutcomeUnknown) {
						t.Fatalf("k=%d: got %v, want ErrTransient or ErrOutcomeUnknown", k, err)
					}
					if err := m.SwapInitiators(ctx, inits(sc.from...), inits(sc.to...)); err != nil {
						t.Fatalf("k=%d: resumed swap: %v", k, err)
					}
					checkSwapped(t, srv, sc)
					runs++
					// Interrupt the resuming call too, at every request.
					for j := 0; ; j++ {
						srv, m := newSwapServer(t, sc)
						fk.inject(srv, k)
						if m.SwapInitiators(ctx, inits(sc.from...), inits(sc.to...)) == nil {
							t.Fatalf("k=%d: first call succeeded this time", k)
						}
						start := srv.Requests()
						fk.inject(srv, j)
						err := m.SwapInitiators(ctx, inits(sc.from...), inits(sc.to...))
						if err == nil && srv.Requests()-start <= j {
							checkSwapped(t, srv, sc)
							break
						}
						if err == nil {
							t.Fatalf("k=%d j=%d: the injected fault was swallowed", k, j)
						}
						if err := m.SwapInitiators(ctx, inits(sc.from...), inits(sc.to...)); err != nil {
							t.Fatalf("k=%d j=%d: third call: %v", k, j, err)
						}
						checkSwapped(t, srv, sc)
						if t.Failed() {
							t.FailNow()
						}
					}
				}
				if runs < 5 {
					t.Fatalf("only %d interrupted runs", runs)
				}
			})
		}
	}
}

// TestSwapResumesPartialAdd: an igroup marked for the swap, without the
// old initiators and with only part of the new ones (an array that
// applied part of a batch add), is finished.
func TestSwapResumesPartialAdd(t *testing.T) {
	srv, m := setup(t)
	mapBoot(t, srv, m)
	uuid := igroupUUID(t, srv, "r1-01")
	for _, w := range failedWWPNs {
		if code, body := call(t, srv, http.MethodDelete, "/api/protocols/san/igroups/"+uuid+"/initiators/"+w+"?allow_delete_while_mapped=true", ""); code != http.StatusOK {
			t.Fatalf("delete: %d %s", code, body)
		}
	}
	if code, body := call(t, srv, http.MethodPost, "/api/protocols/san/igroups/"+uuid+"/initiators", `{"name":"`+spareWWPNs[1]+`"}`); code != http.StatusCreated {
		t.Fatalf("add: %d %s", code, body)
	}
	sorted := slices.Clone(spareWWPNs)
	slices.Sort(sorted)
	srv.SetIgroupComment("r1-01", "coldstandby-swap to="+strings.Join(sorted, ",")+" was="+origComment)
	srv.WatchDisjoint(failedWWPNs, spareWWPNs)
	if err := m.SwapInitiators(context.Background(), inits(failedWWPNs...), inits(spareWWPNs...)); err != nil {
		t.Fatal(err)
	}
	checkSwapped(t, srv, swapScenarios[0])
}

// TestSwapFinishesAddFirstLeftover: an igroup left by the driver's old
// add-then-remove order (all of from, part of to, no marker) is finished,
// removing from first.
func TestSwapFinishesAddFirstLeftover(t *testing.T) {
	srv, m := setup(t)
	mapBoot(t, srv, m)
	uuid := igroupUUID(t, srv, "r1-01")
	if code, body := call(t, srv, http.MethodPost, "/api/protocols/san/igroups/"+uuid+"/initiators", `{"name":"`+spareWWPNs[0]+`"}`); code != http.StatusCreated {
		t.Fatalf("add: %d %s", code, body)
	}
	srv.WatchDisjoint(failedWWPNs, spareWWPNs) // records the leftover itself
	if err := m.SwapInitiators(context.Background(), inits(failedWWPNs...), inits(spareWWPNs...)); err != nil {
		t.Fatal(err)
	}
	b := srv.Breaches()
	if len(b) < 1 || !strings.HasPrefix(b[0], "after WatchDisjoint") {
		t.Fatalf("breaches %q", b)
	}
	// The marker PATCH leaves the leftover as it was (one more record);
	// the first DELETE of a failed initiator is the last breach.
	if len(b) > 3 {
		t.Fatalf("the swap prolonged the overlap: %q", b)
	}
	if got := srv.IgroupInitiators("r1-01"); !sameNames(got, spareWWPNs) {
		t.Fatalf("r1-01 holds %v", got)
	}
	if c := srv.IgroupComment("r1-01"); c != origComment {
		t.Fatalf("comment %q", c)
	}
}

// TestSwapAbandonedMarker: a marker left by a swap to other initiators
// that was never resumed; a swap to the spare restores the comment it
// saved, not the stale marker.
func TestSwapAbandonedMarker(t *testing.T) {
	srv, m := setup(t)
	mapBoot(t, srv, m)
	srv.SetIgroupComment("r1-01", "coldstandby-swap to=20:00:00:25:b5:00:00:77 was="+origComment)
	srv.WatchDisjoint(failedWWPNs, spareWWPNs)
	if err := m.SwapInitiators(context.Background(), inits(failedWWPNs...), inits(spareWWPNs...)); err != nil {
		t.Fatal(err)
	}
	checkSwapped(t, srv, swapScenarios[0])
}

// TestSwapCommentTooLong: the marker would not fit ONTAP's 254
// characters; the swap changes nothing.
func TestSwapCommentTooLong(t *testing.T) {
	srv, m := setup(t)
	mapBoot(t, srv, m)
	long := strings.Repeat("x", ontaptest.MaxCommentLen)
	srv.SetIgroupComment("r1-01", long)
	err := m.SwapInitiators(context.Background(), inits(failedWWPNs...), inits(spareWWPNs...))
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
	if got := srv.IgroupInitiators("r1-01"); !sameNames(got, failedWWPNs) {
		t.Fatalf("r1-01 changed to %v", got)
	}
	if c := srv.IgroupComment("r1-01"); c != long {
		t.Fatalf("comment changed to %q", c)
	}
}

// TestSwapCommentRefused: a cluster that refuses the marker PATCH (400)
// gets ErrUnsupported and keeps its initiators.
func TestSwapCommentRefused(t *testing.T) {
	srv, m := setup(t)
	mapBoot(t, srv, m)
	srv.FailAfter(2, http.StatusBadRequest) // GET igroups, GET lun-maps, then PATCH
	err := m.SwapInitiators(context.Background(), inits(failedWWPNs...), inits(spareWWPNs...))
	if !errors.Is(err, storage.ErrUnsupported) {
		t.Fatalf("got %v, want ErrUnsupported", err)
	}
	if got := srv.IgroupInitiators("r1-01"); !sameNames(got, failedWWPNs) {
		t.Fatalf("r1-01 changed to %v", got)
	}
}

// TestServerPatchIgroup: the test server's PATCH follows the reference.
func TestServerPatchIgroup(t *testing.T) {
	srv, _ := setup(t)
	srv.AddIgroup("g1", "fcp", failedWWPNs...)
	srv.AddIgroup("g2", "fcp", spareWWPNs...)
	uuid := igroupUUID(t, srv, "g1")
	cases := []struct {
		body string
		code int
		err  string
	}{
		{`{"comment":"hello"}`, http.StatusOK, ""},
		{`{"comment":"` + strings.Repeat("y", 255) + `"}`, http.StatusBadRequest, ontaptest.CodeInvalid},
		{`{"initiators":[]}`, http.StatusBadRequest, ontaptest.CodeUnexpectedArgument},
		{`{"name":"g2"}`, http.StatusConflict, ontaptest.CodeDuplicate},
		{`{"name":"g3","comment":"x"}`, http.StatusBadRequest, ontaptest.CodeInvalid},
	}
	for _, c := range cases {
		code, body := call(t, srv, http.MethodPatch, "/api/protocols/san/igroups/"+uuid, c.body)
		if code != c.code || (c.err != "" && !strings.Contains(string(body), `"code":"`+c.err+`"`)) {
			t.Errorf("PATCH %s: %d %s, want %d code %s", c.body, code, body, c.code, c.err)
		}
	}
	if code, _ := call(t, srv, http.MethodPatch, "/api/protocols/san/igroups/no-such-uuid", `{"comment":"x"}`); code != http.StatusNotFound {
		t.Errorf("unknown igroup: %d", code)
	}
	if c := srv.IgroupComment("g1"); c != "hello" {
		t.Errorf("comment %q", c)
	}
}

func igroupUUID(t *testing.T, srv *ontaptest.Server, name string) string {
	t.Helper()
	code, body := call(t, srv, http.MethodGet, "/api/protocols/san/igroups?name="+name, "")
	var page struct {
		Records []struct{ UUID string } `json:"records"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &page) != nil || len(page.Records) != 1 {
		t.Fatalf("igroup %s: %d %s", name, code, body)
	}
	return page.Records[0].UUID
}
