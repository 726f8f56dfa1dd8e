package ontap_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/coldstandby/coldstandby/drivers/ontap"
	"github.com/coldstandby/coldstandby/storage"
)

// TestASAr2LUNNames: ASA r2 systems name LUNs without a /vol/ path
// ("The name must begin with a letter or "_" and contain only "_" and
// alphanumeric characters", NetApp Ansible na_ontap_lun_map.py), and the
// lun-maps records carry that name. The driver accepts them.
func TestASAr2LUNNames(t *testing.T) {
	srv, m := setup(t)
	ctx := context.Background()
	srv.AddLUN("boot_r1_01")
	srv.AddLUN("_data2")
	srv.AddIgroup("r1-01", "fcp", failedWWPNs...)
	failed := inits(failedWWPNs...)
	for lun, vol := range []storage.VolumeID{"boot_r1_01", "_data2"} {
		if err := m.Map(ctx, vol, failed, lun); err != nil {
			t.Fatalf("Map(%s): %v", vol, err)
		}
	}
	if got, err := m.Mappings(ctx, failed); err != nil || fmt.Sprint(got) != "[{boot_r1_01 0} {_data2 1}]" {
		t.Fatalf("Mappings = %v, %v", got, err)
	}
	if err := m.Unmap(ctx, "boot_r1_01", failed); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []storage.VolumeID{"", "9lun", "lun-1", "vol/x/lun0"} {
		if err := m.Map(ctx, bad, failed, 5); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Map(%q): %v, want ErrNotFound", bad, err)
		}
	}
}

// TestErrorKinds: each ONTAP error code the driver knows maps to the kind
// its documented meaning implies, whatever the status; anything else is
// classified by its HTTP status, and a 400 is never transient.
func TestErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		want   error
	}{
		{http.StatusBadRequest, "5374034", storage.ErrNotFound}, // not a member
		{http.StatusBadRequest, "5374041", storage.ErrConflict}, // owned by a nested igroup
		{http.StatusBadRequest, "1254213", storage.ErrConflict}, // mapped, no allow_delete_while_mapped
		{http.StatusBadRequest, "5374852", storage.ErrNotFound}, // igroup does not exist
		{http.StatusBadRequest, "5374875", storage.ErrNotFound}, // LUN does not exist
		{http.StatusBadRequest, "5374878", storage.ErrNotFound}, // igroup of the map does not exist
		{http.StatusBadRequest, "5374922", storage.ErrNotFound}, // LUN map does not exist
		{http.StatusBadRequest, "1254193", storage.ErrConflict}, // would see a LUN twice
		{http.StatusBadRequest, "1254324", storage.ErrConflict}, // would see a LUN ID twice
		{http.StatusBadRequest, "5374035", storage.ErrConflict}, // already in the igroup
		{http.StatusBadRequest, "1254207", storage.ErrConflict}, // LUN already mapped to the igroup
		{http.StatusBadRequest, "1254201", storage.ErrNotFound}, // LUN does not exist (create map)
		{http.StatusConflict, "1", storage.ErrConflict},         // duplicate
		{http.StatusNotFound, "4", storage.ErrNotFound},         // entry doesn't exist
		{http.StatusBadRequest, "999999", storage.ErrInvalid},   // unknown code: by status
		{http.StatusBadRequest, "", storage.ErrInvalid},         // no body
		{http.StatusUnauthorized, "6691623", storage.ErrUnsupported},
		{http.StatusServiceUnavailable, "8", storage.ErrTransient},
		{http.StatusInternalServerError, "8", storage.ErrOutcomeUnknown}, // a write
	} {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				// One LUN and one igroup, so that Map reaches its POST.
				w.Header().Set("Content-Type", "application/hal+json")
				switch r.URL.Path {
				case "/api/storage/luns":
					fmt.Fprint(w, `{"records":[{"uuid":"l1","name":"/vol/v/lun0"}],"num_records":1}`)
				case "/api/protocols/san/igroups":
					fmt.Fprint(w, `{"records":[{"uuid":"g1","name":"g","initiators":[{"name":"20:00:00:25:b5:aa:00:01"}]}],"num_records":1}`)
				default:
					fmt.Fprint(w, `{"records":[],"num_records":0}`)
				}
				return
			}
			w.Header().Set("Content-Type", "application/hal+json")
			w.WriteHeader(tc.status)
			if tc.code != "" {
				_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": tc.code, "message": "test"}})
			}
		}))
		m, err := ontap.New(srv.URL, svm, "admin", "pw", ontap.WithHTTPClient(srv.Client()))
		if err != nil {
			t.Fatal(err)
		}
		err = m.Map(context.Background(), "/vol/v/lun0", inits("20:00:00:25:b5:aa:00:01"), 0)
		if !errors.Is(err, tc.want) {
			t.Errorf("HTTP %d code %q: %v, want %v", tc.status, tc.code, err, tc.want)
		}
		srv.Close()
	}
}
