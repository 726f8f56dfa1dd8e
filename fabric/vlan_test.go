package fabric_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/coldstandby/coldstandby/fabric"
)

func TestPortVLANValidate(t *testing.T) {
	tests := []struct {
		name string
		v    fabric.PortVLAN
		ok   bool
	}{
		{"access", fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10}, true},
		{"access bounds", fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 4094}, true},
		{"access zero", fabric.PortVLAN{Mode: fabric.Access}, false},
		{"access 4095", fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 4095}, false},
		{"access with trunk", fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10, Trunk: []int{20}}, false},
		{"access with native", fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 10, NativeVLAN: 1}, false},
		{"trunk", fabric.PortVLAN{Mode: fabric.Trunk, Trunk: []int{30, 10, 20, 10}, NativeVLAN: 1}, true},
		{"trunk empty", fabric.PortVLAN{Mode: fabric.Trunk}, true},
		{"trunk bad id", fabric.PortVLAN{Mode: fabric.Trunk, Trunk: []int{0}}, false},
		{"trunk bad native", fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 5000}, false},
		{"trunk with access", fabric.PortVLAN{Mode: fabric.Trunk, AccessVLAN: 3}, false},
		{"no mode", fabric.PortVLAN{AccessVLAN: 10}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.v.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate(%v) = %v, want ok=%v", tt.v, err, tt.ok)
			}
			if err != nil && !errors.Is(err, fabric.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestPortVLANEqualNormalises(t *testing.T) {
	a := fabric.PortVLAN{Mode: fabric.Trunk, Trunk: []int{20, 10, 20}, NativeVLAN: 1}
	b := fabric.PortVLAN{Mode: fabric.Trunk, Trunk: []int{10, 20}, NativeVLAN: 1}
	if !a.Equal(b) {
		t.Fatalf("%v and %v should be equal", a, b)
	}
	if a.Equal(fabric.PortVLAN{Mode: fabric.Trunk, Trunk: []int{10, 20}}) {
		t.Fatal("native VLAN ignored by Equal")
	}
	if !(fabric.PortVLAN{Mode: fabric.Trunk, Trunk: []int{}}).Equal(fabric.PortVLAN{Mode: fabric.Trunk}) {
		t.Fatal("empty and nil trunk lists should be equal")
	}
	orig := []int{3, 1, 2}
	_ = fabric.PortVLAN{Trunk: orig}.Normalize()
	if !slices.Equal(orig, []int{3, 1, 2}) {
		t.Fatal("Normalize modified its receiver's slice")
	}
}

func TestVLANListRoundTrip(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		out  string
	}{
		{"", nil, ""},
		{"10", []int{10}, "10"},
		{"10,20-23, 22 ,5", []int{5, 10, 20, 21, 22, 23}, "5,10,20-23"},
		{"100..102", []int{100, 101, 102}, "100-102"},
		{"1-1", []int{1}, "1"},
	}
	for _, tt := range tests {
		got, err := fabric.ParseVLANList(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseVLANList(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			continue
		}
		if s := fabric.FormatVLANList(got); s != tt.out {
			t.Errorf("FormatVLANList(%v) = %q, want %q", got, s, tt.out)
		}
	}
	for _, s := range []string{"0", "4095", "20-10", "a", "1,,2", "5..", "-3"} {
		if _, err := fabric.ParseVLANList(s); !errors.Is(err, fabric.ErrInvalid) {
			t.Errorf("ParseVLANList(%q): err %v, want ErrInvalid", s, err)
		}
	}
}

func FuzzVLANList(f *testing.F) {
	f.Add("10,20-30")
	f.Add("1..4094")
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := fabric.ParseVLANList(s)
		if err != nil {
			return
		}
		again, err := fabric.ParseVLANList(fabric.FormatVLANList(ids))
		if err != nil || !slices.Equal(again, ids) {
			t.Fatalf("%q: %v -> %q -> %v, %v", s, ids, fabric.FormatVLANList(ids), again, err)
		}
	})
}

func ExamplePortVLAN() {
	v := fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 1, Trunk: []int{30, 10, 11, 12}}
	fmt.Println(v.Normalize(), v.Validate())
	fmt.Println(fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 0}.Validate())
	// Output:
	// trunk 10-12,30 native 1 <nil>
	// fabric: VLAN setting access 0: access VLAN 0 not in 1..4094: invalid argument
}
