package fake_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/coldstandby/coldstandby/drivers/fake"
	"github.com/coldstandby/coldstandby/storage"
)

func TestServerInitiatorsSitOnTheirOwnFabrics(t *testing.T) {
	a := storage.MustParseInitiator("21:00:00:24:ff:00:01:01")
	b := storage.MustParseInitiator("21:00:00:24:ff:00:01:02")
	w := fake.NewWorld()
	err := w.AddServer(fake.ServerSpec{
		ID: "r01", State: fake.StateActive, DiskArray: "array-1",
		Initiators: []storage.Initiator{a, b}, InitiatorFabrics: []string{"fab-a", "fab-b"},
		Zones: []string{"z-r01"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fabric string
		wwpn   storage.Initiator
		want   []string
	}{
		{"fab-a", a, []string{"z-r01"}},
		{"fab-a", b, nil},
		{"fab-b", b, []string{"z-r01"}},
		{"fab-b", a, nil},
	} {
		if got := w.ActiveZonesOf(tc.fabric, tc.wwpn); !slices.Equal(got, tc.want) {
			t.Errorf("zones of %s on %s = %v, want %v", tc.wwpn, tc.fabric, got, tc.want)
		}
	}
}

func TestServerInitiatorFabricsDefaultToFabric(t *testing.T) {
	a := storage.MustParseInitiator("21:00:00:24:ff:00:01:01")
	b := storage.MustParseInitiator("21:00:00:24:ff:00:01:02")
	w := fake.NewWorld()
	if err := w.AddServer(fake.ServerSpec{
		ID: "r01", State: fake.StateActive, Fabric: "fab-a",
		Initiators: []storage.Initiator{a, b}, InitiatorFabrics: []string{"", "fab-b"}, Zones: []string{"z"},
	}); err != nil {
		t.Fatal(err)
	}
	if got := w.ActiveZonesOf("fab-a", a); !slices.Equal(got, []string{"z"}) {
		t.Errorf("first initiator zones on fab-a = %v", got)
	}
	if got := w.ActiveZonesOf("fab-b", b); !slices.Equal(got, []string{"z"}) {
		t.Errorf("second initiator zones on fab-b = %v", got)
	}
}

func TestAddServerRefusesBadInitiatorFabrics(t *testing.T) {
	a := storage.MustParseInitiator("21:00:00:24:ff:00:01:01")
	b := storage.MustParseInitiator("21:00:00:24:ff:00:01:02")
	for name, spec := range map[string]fake.ServerSpec{
		"more fabrics than initiators": {ID: "r", Initiators: []storage.Initiator{a}, InitiatorFabrics: []string{"f", "g"}},
		"zoned initiator on no fabric": {ID: "r", Initiators: []storage.Initiator{a, b}, InitiatorFabrics: []string{"f"}, Zones: []string{"z"}},
	} {
		t.Run(name, func(t *testing.T) {
			w := fake.NewWorld()
			if err := w.AddServer(spec); !errors.Is(err, storage.ErrInvalid) {
				t.Errorf("AddServer = %v, want ErrInvalid", err)
			}
		})
	}
}
