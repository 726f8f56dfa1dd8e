package tgt_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/drivers/tgt/tgttest"
	"github.com/coldstandby/coldstandby/storage"
)

// Unmap must hide the volume or say it cannot: a target that also admits
// initiators by address ("ALL") keeps serving an unbound initiator name,
// so a nil answer would let the failed server and the spare both see a
// boot volume (I2).
func TestUnmapRefusesTargetOpenByAddress(t *testing.T) {
	d := tgttest.Start(t)
	m := newMapper(t, d)
	ctx := context.Background()
	const name = "iqn.2026-11.org.example:open-unmap"
	vol := d.AddVolume(t, name, 1, mib)
	tid := fmt.Sprint(d.TID(name))
	d.Tgtadm(t, "--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", tid, "--initiator-name", hostC.String())
	d.Tgtadm(t, "--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", tid, "--initiator-address", "ALL")
	err := m.Unmap(ctx, vol, []storage.Initiator{hostC})
	if !errors.Is(err, storage.ErrConflict) || !strings.Contains(err.Error(), "ALL") {
		t.Fatalf("Unmap from a target open to ALL: %v, want ErrConflict naming ALL", err)
	}
	// Refused before changing anything: the name binding is still there.
	if got := mustMappings(t, m, hostC); len(got) != 1 || got[0].Volume != vol {
		t.Fatalf("after the refused Unmap host C is bound to %v, want %s", got, vol)
	}
	// Without the address ACL the same Unmap works.
	d.Tgtadm(t, "--lld", "iscsi", "--mode", "target", "--op", "unbind", "--tid", tid, "--initiator-address", "ALL")
	if err := m.Unmap(ctx, vol, []storage.Initiator{hostC}); err != nil {
		t.Fatal(err)
	}
	if got := mustMappings(t, m, hostC); len(got) != 0 {
		t.Fatalf("after Unmap host C sees %v", got)
	}
}
