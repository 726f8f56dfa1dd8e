package ontap_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/drivers/ontap"
	"github.com/coldstandby/coldstandby/drivers/ontap/ontaptest"
	"github.com/coldstandby/coldstandby/storage"
	"github.com/coldstandby/coldstandby/storage/storagetest"
)

// harness is one ontaptest server: volumes are LUNs, hosts are igroups of
// FC initiators, and Masking reads the server's state, not the API.
type harness struct {
	srv *ontaptest.Server
	n   atomic.Int64
}

var (
	_ storagetest.Harness         = (*harness)(nil)
	_ storagetest.UnknownVolumer  = (*harness)(nil)
	_ storagetest.TransientFailer = (*harness)(nil)
	_ storagetest.Staller         = (*harness)(nil)
)

func (h *harness) MakeMapper(context.Context) (storage.DiskMapper, error) {
	return ontap.New(h.srv.URL, svm, h.srv.User, h.srv.Password, ontap.WithHTTPClient(h.srv.Client()))
}

func (h *harness) Volumes(_ context.Context, n int) ([]storage.VolumeID, error) {
	out := make([]storage.VolumeID, n)
	for i := range out {
		name := fmt.Sprintf("/vol/conf%d/lun0", h.n.Add(1))
		h.srv.AddLUN(name)
		out[i] = storage.VolumeID(name)
	}
	return out, nil
}

func (h *harness) Hosts(_ context.Context, n int) ([][]storage.Initiator, error) {
	out := make([][]storage.Initiator, n)
	for i := range out {
		ins := storagetest.Initiators(storage.FC, 2)
		names := []string{ins[0].String(), ins[1].String()}
		h.srv.AddIgroup(fmt.Sprintf("host%d", h.n.Add(1)), "fcp", names...)
		out[i] = ins
	}
	return out, nil
}

func (h *harness) Masking(_ context.Context, ins []storage.Initiator) ([]storage.Mapping, error) {
	names := make([]string, len(ins))
	for i, in := range ins {
		names[i] = in.String()
	}
	var out []storage.Mapping
	for _, v := range h.srv.Visible(names...) {
		out = append(out, storage.Mapping{Volume: storage.VolumeID(v.LUN), LUN: v.Number})
	}
	return out, nil
}

func (h *harness) UnknownVolume(context.Context) (storage.VolumeID, error) {
	return "/vol/no_such_volume/lun0", nil
}

func (h *harness) StallNext(_ context.Context, d time.Duration) error {
	h.srv.StallNext(d)
	return nil
}

func (h *harness) FailNext(context.Context) error {
	h.srv.FailNext(http.StatusServiceUnavailable)
	return nil
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Harness {
		return &harness{srv: ontaptest.New(t, svm)}
	})
}
