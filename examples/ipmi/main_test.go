package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/internal/testpeer"
)

// TestIPMIFailover runs the example against two real ipmi_sim processes
// and checks what an operator must see: the SEL record became a processor
// fault, the exact spare took over, srv-a is off and srv-b is on, set to
// boot from disk and sees the same LUNs.
func TestIPMIFailover(t *testing.T) {
	testpeer.LookPath(t, "openipmi", "ipmi_sim")
	testpeer.LookPath(t, "ipmitool", "ipmitool")
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := out.String()
	t.Log("\n" + s)
	for _, want := range []string{
		"fault: srv-a processor (Processor #0x01: IERR)",
		"plan:  exact: srv-a -> srv-b",
		"outcome: done",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, re := range []string{
		`\*\s+srv-a\s+active\s+web\(5\)\s+on\s+-\s+0:boot-web,1:data-web\s+10\s+->\s+failed\s+-\s+off\s`,
		`\*\s+srv-b\s+standby\s+-\s+off\s+-\s+-\s+999\s+->\s+active\s+web\(5\)\s+on\s+disk\s+0:boot-web,1:data-web\s+10\s`,
	} {
		if !regexp.MustCompile(re).MatchString(s) {
			t.Errorf("server table does not match %s", re)
		}
	}
}
