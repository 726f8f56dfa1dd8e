package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coldstandby/coldstandby/daemon"
	"github.com/coldstandby/coldstandby/internal/ipmisim"
)

// daemonProc is one `coldstandby serve` process of the lab, in a process
// group of its own with the programs it runs.
type daemonProc struct {
	Name string
	URL  string // http://127.0.0.1:PORT
	Log  string // its standard error: JSON log lines
	cmd  *exec.Cmd
	done chan struct{}
}

// startDaemon starts `coldstandby serve` on the lab's site as name, with
// the lab's shims first in its PATH, on a port the kernel picks (read
// back from its log), and returns once its API answers.
func (l *Lab) startDaemon(ctx context.Context, name string) (*daemonProc, error) {
	bin, err := l.shims.binDir(name)
	if err != nil {
		return nil, err
	}
	d := &daemonProc{Name: name, Log: filepath.Join(l.Dir, name+".log"), done: make(chan struct{})}
	logf, err := os.Create(d.Log)
	if err != nil {
		return nil, err
	}
	d.cmd = exec.Command(l.cfg.Coldstandby, "serve", "--site", l.SitePath, "--listen", "127.0.0.1:0",
		"--name", name, "--watch-interval", l.cfg.WatchInterval.String(), "--lease-ttl", strconv.Itoa(l.cfg.LeaseTTL),
		"--log-format", "json")
	env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"COLDSTANDBY_TOKEN=" + l.Token, "LAB_BMC_PASSWORD=" + ipmisim.Password}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "COLDSTANDBY_") {
			env = append(env, kv)
		}
	}
	d.cmd.Env, d.cmd.Dir = env, l.Dir
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	// Its own process group, to be killed with the programs it runs; and
	// killed if the lab dies without stopping it.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { _ = d.cmd.Wait(); logf.Close(); close(d.done) }()
	l.Daemons = append(l.Daemons, d)
	err = waitFor(ctx, 30*time.Second, name+"'s API", func() bool {
		if d.URL == "" {
			d.URL = d.listening()
			return d.exited()
		}
		var h map[string]string
		return d.exited() || d.get(ctx, "/healthz", &h) == nil
	})
	if d.exited() {
		err = fmt.Errorf("%s exited at start-up: %s", name, d.cmd.ProcessState)
	}
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, d.logTail())
	}
	return d, nil
}

// listening returns the daemon's API URL once its log says where it
// serves ("" before).
func (d *daemonProc) listening() string {
	b, _ := os.ReadFile(d.Log)
	for _, line := range strings.Split(string(b), "\n") {
		var e struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "serving" && e.Addr != "" {
			return "http://" + e.Addr
		}
	}
	return ""
}

func (d *daemonProc) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// kill kills the daemon and every program it runs at once (SIGKILL to
// its process group), as when its host dies, and waits for it.
func (d *daemonProc) kill() error {
	if d.exited() {
		return nil
	}
	err := syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	<-d.done
	return err
}

// killed reports whether the daemon died of SIGKILL.
func (d *daemonProc) killed() bool {
	if !d.exited() {
		return false
	}
	ws, ok := d.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// stop stops the daemon as an operator would (SIGTERM; killed after 15
// s).
func (d *daemonProc) stop() error {
	if d.exited() {
		return nil
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(15 * time.Second):
		return errors.Join(fmt.Errorf("%s did not stop within 15s of SIGTERM; killed", d.Name), d.kill())
	}
}

var apiClient = &http.Client{Timeout: 10 * time.Second}

// get reads path from the daemon's API into v.
func (d *daemonProc) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("GET %s%s: %s: %s", d.URL, path, resp.Status, e.Error)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (d *daemonProc) status(ctx context.Context) (daemon.Status, error) {
	var st daemon.Status
	return st, d.get(ctx, "/v1/status", &st)
}

// logTail returns the last lines of the daemon's log.
func (d *daemonProc) logTail() string {
	b, _ := os.ReadFile(d.Log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return "--- " + d.Name + "'s log (last lines):\n" + strings.Join(lines, "\n")
}

// leader returns the daemon that leads now, asking each live one.
func (l *Lab) leader(ctx context.Context) (*daemonProc, error) {
	for _, d := range l.Daemons {
		if d.exited() {
			continue
		}
		if st, err := d.status(ctx); err == nil && st.Leading {
			return d, nil
		}
	}
	return nil, errors.New("no daemon leads")
}

// reader returns a live daemon to read the API from (followers serve
// reads of the shared store too).
func (l *Lab) reader() (*daemonProc, error) {
	for _, d := range l.Daemons {
		if !d.exited() {
			return d, nil
		}
	}
	return nil, errors.New("no daemon runs")
}
