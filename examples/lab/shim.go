package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The daemons run ipmitool (through bmclib) and tgtadm (through
// drivers/tgt) from their PATH. The lab puts a pass-through shim of each
// first in a daemon's PATH: it runs the real program with the same
// arguments and exit status, and
//   - logs, with their wall-clock times, the calls that change a server
//     (power, power-restore policy, boot device, LUN masking), for the
//     timeline;
//   - holds a call while a kill test's hold file matches it, so that a
//     daemon is killed at an exact point of a failover. A held call whose
//     daemon dies exits without running (status 75): it never left the
//     dead manager.
//
// bmclib runs ipmitool with nothing in its environment but the password,
// so everything the shim needs is written into it.
const shimScript = `#!/bin/sh
# coldstandby lab shim for %[1]s, daemon %[4]s (see examples/lab/shim.go)
G=%[3]s
log=
case " $* " in
*" chassis power "*|*" chassis bootdev "*|*" chassis policy "*|*" --op bind "*|*" --op unbind "*)
  case " $* " in *" chassis power status "*) ;; *) log=1 ;; esac ;;
esac
for f in "$G"/%[4]s.*.hold; do
  [ -e "$f" ] || continue
  IFS= read -r pat < "$f"
  case " $* " in
  *"$pat"*)
    echo $$ > "${f%%.hold}.reached"
    while [ -e "$f" ]; do
      kill -0 "$PPID" 2>/dev/null || exit 75
      %[5]s 0.02
    done ;;
  esac
done
if [ -n "$log" ]; then
  echo "$(%[6]s +%%s%%N) %[4]s $$ start %[1]s $*" >> "$G/calls.log"
  %[2]s "$@"; rc=$?
  echo "$(%[6]s +%%s%%N) %[4]s $$ end $rc" >> "$G/calls.log"
  exit $rc
fi
exec %[2]s "$@"
`

// shims are the shim directory of every daemon of a lab.
type shims struct {
	dir string // holds calls.log, the hold files and bin-<daemon>/
}

// binDir writes the shims of daemon into dir/bin-<daemon> and returns
// that directory, to put first in the daemon's PATH.
func (s *shims) binDir(daemon string) (string, error) {
	bin := filepath.Join(s.dir, "bin-"+daemon)
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", err
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return "", err
	}
	date, err := exec.LookPath("date")
	if err != nil {
		return "", err
	}
	for _, prog := range []string{"ipmitool", "tgtadm"} {
		real, err := exec.LookPath(prog)
		if err != nil {
			return "", fmt.Errorf("%s not found: %w", prog, err)
		}
		script := fmt.Sprintf(shimScript, prog, shellQuote(real), shellQuote(s.dir), daemon, shellQuote(sleep), shellQuote(date))
		if err := os.WriteFile(filepath.Join(bin, prog), []byte(script), 0o755); err != nil {
			return "", err
		}
	}
	return bin, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// hold makes daemon's next call whose arguments contain pattern (" --op
// bind ", " chassis bootdev ") wait until release.
func (s *shims) hold(daemon, point, pattern string) error {
	return os.WriteFile(filepath.Join(s.dir, daemon+"."+point+".hold"), []byte(pattern+"\n"), 0o644)
}

// waitHeld waits until a call of daemon is held at point.
func (s *shims) waitHeld(ctx context.Context, daemon, point string) error {
	p := filepath.Join(s.dir, daemon+"."+point+".reached")
	for {
		if _, err := os.Stat(p); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no call of %s reached kill point %s: %w", daemon, point, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// release lets the held call (if any) go on, or exit if its daemon died.
func (s *shims) release(daemon, point string) error {
	err := os.Remove(filepath.Join(s.dir, daemon+"."+point+".hold"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// toolCall is one call a daemon made through a shim: a change to a
// server's power or boot device, or to the LUN masking.
type toolCall struct {
	Daemon     string
	Tool       string
	Args       string // without the connection options
	Start, End time.Time
	Exit       int // -1 while it runs (or when its daemon was killed first)
}

// calls reads the shims' log.
func (s *shims) calls() ([]toolCall, error) {
	f, err := os.Open(filepath.Join(s.dir, "calls.log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []toolCall
	byPID := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 5 {
			continue
		}
		ns, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			continue
		}
		at := time.Unix(0, ns)
		key := fs[1] + "/" + fs[2]
		switch fs[3] {
		case "start":
			if len(fs) < 5 {
				continue
			}
			byPID[key] = len(out)
			out = append(out, toolCall{Daemon: fs[1], Tool: fs[4], Args: callArgs(fs[4], fs[5:]), Start: at, Exit: -1})
		case "end":
			if i, ok := byPID[key]; ok {
				out[i].End = at
				out[i].Exit, _ = strconv.Atoi(fs[4])
				delete(byPID, key)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b toolCall) int { return a.Start.Compare(b.Start) })
	return out, sc.Err()
}

// callArgs keeps what a call does: ipmitool's BMC port and subcommand
// (without the other connection options), tgtadm's operation, target
// and initiator.
func callArgs(tool string, args []string) string {
	switch tool {
	case "ipmitool":
		port := "623"
		for i, a := range args {
			if a == "-p" && i+1 < len(args) {
				port = args[i+1]
			}
			if a == "chassis" {
				return port + " " + strings.Join(args[i:], " ")
			}
		}
	case "tgtadm":
		var op, tid, ini string
		for i := 0; i+1 < len(args); i++ {
			switch args[i] {
			case "--op":
				op = args[i+1]
			case "--tid":
				tid = args[i+1]
			case "--initiator-name":
				ini = args[i+1]
			}
		}
		return fmt.Sprintf("%s tid %s %s", op, tid, ini)
	}
	return strings.Join(args, " ")
}
