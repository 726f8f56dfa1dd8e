package ontap_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/coldstandby/coldstandby/drivers/ontap"
	"github.com/coldstandby/coldstandby/drivers/ontap/ontaptest"
	"github.com/coldstandby/coldstandby/storage"
)

func benchSetup(b *testing.B) (*ontaptest.Server, *ontap.Mapper, []storage.Initiator, []storage.Initiator) {
	srv := ontaptest.New(b, svm)
	srv.SetPageSize(20)
	for i := range 40 {
		srv.AddIgroup(fmt.Sprintf("other%d", i), "fcp", fmt.Sprintf("20:00:00:25:b5:cc:00:%02x", i))
	}
	srv.AddLUN("/vol/boot/lun0")
	srv.AddIgroup("r1-01", "fcp", failedWWPNs...)
	srv.AddIgroup("r9-spare", "fcp", spareWWPNs...)
	m, err := ontap.New(srv.URL, svm, srv.User, srv.Password, ontap.WithHTTPClient(srv.Client()))
	if err != nil {
		b.Fatal(err)
	}
	failed, spare := inits(failedWWPNs...), inits(spareWWPNs...)
	if err := m.Map(context.Background(), "/vol/boot/lun0", failed, 0); err != nil {
		b.Fatal(err)
	}
	return srv, m, failed, spare
}

// BenchmarkRemap: Unmap + Map of one LUN between two igroups, against the
// in-process test server with 42 igroups (HTTPS over loopback included).
func BenchmarkRemap(b *testing.B) {
	_, m, a, s := benchSetup(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Unmap(ctx, "/vol/boot/lun0", a); err != nil {
			b.Fatal(err)
		}
		if err := m.Map(ctx, "/vol/boot/lun0", s, 0); err != nil {
			b.Fatal(err)
		}
		a, s = s, a
	}
}

// BenchmarkSwap: SwapInitiators of a two-port igroup and back.
func BenchmarkSwap(b *testing.B) {
	_, m, a, s := benchSetup(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := m.SwapInitiators(ctx, a, s); err != nil {
			b.Fatal(err)
		}
		a, s = s, a
	}
}
