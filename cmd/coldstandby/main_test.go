package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/drivers/builtin"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const demoSite = "../../examples/site/demo.yaml"

// cli runs the command in-process against the demo site, with a state
// file in dir and the fake's clock fixed, and returns its output and
// exit code.
func cli(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := env{stdout: &out, stderr: &errb, getenv: func(k string) string {
		if k == "COLDSTANDBY_SITE" {
			return demoSite
		}
		return ""
	}, reg: builtin.Registry(builtin.WithFakeStart(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))}
	code := run(context.Background(), append(args, "--state", filepath.Join(dir, "state.db")), e)
	return out.String(), errb.String(), code
}

// golden compares out with testdata/name.golden.
func golden(t *testing.T, name, out string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("%s differs from %s:\n%s", name, path, out)
	}
}

// Every command, in the order an operator would use them, against the
// demo site: output (table and JSON) compared with golden files, exit
// codes as documented.
func TestCommandsAgainstTheDemoSite(t *testing.T) {
	dir := t.TempDir()
	steps := []struct {
		name string
		args []string
		code int
	}{
		{"validate", []string{"validate"}, exitOK},
		{"diff-empty-store", []string{"diff"}, exitChanges},
		{"apply", []string{"apply"}, exitOK},
		{"diff-applied", []string{"diff"}, exitOK},
		{"status", []string{"status"}, exitOK},
		{"plan", []string{"plan", "srv01"}, exitOK},
		{"plan-json", []string{"plan", "srv01", "-o", "json"}, exitOK},
		{"plan-unknown", []string{"plan", "srv99"}, exitNotFound},
		{"coverage", []string{"coverage"}, exitOK},
		{"failover-without-yes", []string{"failover", "srv01"}, exitUsage},
		{"failover", []string{"failover", "srv01", "--yes"}, exitOK},
		{"status-after", []string{"status", "-o", "json"}, exitOK},
		{"diff-after", []string{"diff"}, exitOK},
		{"journal", []string{"journal"}, exitOK},
		{"failback-not-standby", []string{"failback", "srv01"}, exitConflict},
		{"mark-standby", []string{"mark-standby", "srv01"}, exitOK},
		{"failback", []string{"failback", "srv01", "-o", "json"}, exitOK},
		{"recover", []string{"recover"}, exitOK},
		{"unknown-command", []string{"frobnicate"}, exitUsage},
		{"bad-output", []string{"status", "-o", "xml"}, exitUsage},
	}
	ids := regexp.MustCompile(`srv\d\d-\d{10,}-\d+`)
	var failoverID string
	for _, st := range steps {
		out, errOut, code := cli(t, dir, st.args...)
		if code != st.code {
			t.Errorf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", st.name, code, st.code, out, errOut)
		}
		if st.name == "failover" {
			failoverID = ids.FindString(out)
		}
		golden(t, st.name, out)
	}
	if failoverID == "" {
		t.Fatal("the failover printed no failover ID")
	}
	out, _, code := cli(t, dir, "journal", failoverID)
	if code != exitOK || !strings.Contains(out, "begin") || !strings.Contains(out, "end") {
		t.Errorf("journal %s: exit %d\n%s", failoverID, code, out)
	}
}

// What an operator must see in a failover's output.
func TestFailoverOutputShowsWhatMoved(t *testing.T) {
	out, _, code := cli(t, t.TempDir(), "failover", "srv01", "--yes")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"failover srv01-", "plan:  exact: srv01 -> srv02", "why:", "boot-srv01 LUN 0, data-srv01 LUN 1 on array-1",
		"zones:   fab-1/z-srv01", "sw-1/eth1/3: access 10", "outcome: done", "invariants: I1 fence first, I2 one writer, I3 nothing lost: hold",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var res resultOut
	out, _, code = cli(t, t.TempDir(), "failover", "srv05", "--yes", "-o", "json")
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != exitOK {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if res.Outcome != "done" || len(res.Spares) != 1 || res.Spares[0].Server != "srv12" || res.Spares[0].Volumes[0].LUN != 0 {
		t.Errorf("JSON result %+v", res)
	}
}

func TestValidateReportsProblemsWithExitCode3(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	data, err := os.ReadFile(demoSite)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte(`wwpn: "21:00:00:24:ff:00:01:01"`), []byte(`wwpn: "21:00:00:24:ff:00:01"`), 1)
	data = bytes.Replace(data, []byte("vlans: [10]"), []byte("vlans: [10]\n    password: x"), 1)
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := cli(t, dir, "validate", "--site", bad)
	if code != exitInvalid || !strings.Contains(out, "servers[0].password") || !strings.Contains(out, "line ") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	out, _, code = cli(t, dir, "validate", "--site", bad, "-o", "json")
	var v struct {
		Valid    bool
		Problems []struct{ Path string }
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Valid || len(v.Problems) == 0 || code != exitInvalid {
		t.Errorf("JSON validate: exit %d, %v, %+v", code, err, v)
	}
}

func TestSchemaCommandPrintsTheSchema(t *testing.T) {
	out, _, code := cli(t, t.TempDir(), "schema")
	var v map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &v) != nil || v["$schema"] == nil {
		t.Errorf("exit %d, output %.200s", code, out)
	}
}
