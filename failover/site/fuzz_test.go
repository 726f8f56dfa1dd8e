package site_test

import (
	"errors"
	"os"
	"testing"

	"github.com/coldstandby/coldstandby/failover"
	"github.com/coldstandby/coldstandby/failover/site"
)

// FuzzDecode: the decoder never panics, and every error is an *Error
// whose problems each say where (a path or a line) and what.
func FuzzDecode(f *testing.F) {
	demo, err := os.ReadFile(demoFile)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{string(demo), base, "", "kind: Site\n---\nx: 1\n", "servers: [\n", "a: &a [*a]\n",
		"servers:\n  - <<: {id: a}\n    vlans: [010]\n", "failover: {faultActions: {memory: {action: now, delay: 1x}}}\n",
		"servers: [{id: a, hbas: [{wwpn: 1}], priority: 99999999999}]\n", "\"\": 1\n", "? [a]\n: 1\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := site.Decode(data)
		if err == nil {
			if s == nil {
				t.Fatal("nil site without an error")
			}
			err = s.Validate()
			if err == nil {
				return
			}
		}
		var se *site.Error
		if !errors.As(err, &se) || !errors.Is(err, failover.ErrInvalid) {
			t.Fatalf("error %v is not a *site.Error wrapping ErrInvalid", err)
		}
		if len(se.Problems) == 0 {
			t.Fatal("an error with no problem")
		}
		for _, p := range se.Problems {
			if p.Line <= 0 && p.Path == "" || p.Msg == "" {
				t.Errorf("problem without a place or a message: %+v", p)
			}
		}
	})
}
