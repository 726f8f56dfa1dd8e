// Package tgttest starts a private tgtd (the Linux SCSI target daemon) for
// a test, with file-backed LUNs in a temporary directory, and tears it
// down afterwards. Programs (examples/lab) use Launch and Close instead.
//
// Import it from tests that need a real iSCSI target: the tgt driver's own
// tests, the storage conformance suite run against tgt, and end-to-end
// failover tests. It needs the Debian package tgt (and root, as tgtd
// does); when tgtd is missing the test is skipped on a developer machine
// and fails in CI (see internal/testpeer).
package tgttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/internal/testpeer"
	"github.com/coldstandby/coldstandby/storage"
)

// Daemon is one tgtd serving iSCSI on 127.0.0.1. Its methods may be
// called from several goroutines.
type Daemon struct {
	// Control is the control port number N of `tgtd -C N`; pass it to
	// tgt.WithControlPort.
	Control int
	// Port is the iSCSI TCP port on 127.0.0.1.
	Port int
	// Dir holds the LUN backing files and tgtd's log.
	Dir string

	tgtadm string
	cmd    *exec.Cmd
	exited chan struct{}
	logf   string

	mu      sync.Mutex
	tids    map[string]int // target name -> tid
	nextTID int
}

// Start starts a tgtd on a free control port and a free 127.0.0.1 TCP
// port, waits until it answers, and registers its teardown with
// t.Cleanup: every target is deleted with --force, then the daemon is
// told to exit (tgtadm --op delete --mode system; tgtd ignores SIGTERM
// while it has targets), then the process is waited for (killed after
// 10 s).
func Start(t testing.TB) *Daemon {
	t.Helper()
	if testpeer.LookPath(t, "tgt", "tgtd", "tgtadm") == nil {
		return nil
	}
	d, err := Launch(t.TempDir())
	if err != nil {
		t.Fatalf("tgttest: start tgtd: %v", err)
	}
	t.Cleanup(func() { d.stop(t) })
	return d
}

// Launch is Start for programs (a lab): it starts a tgtd with its log
// and LUN files in dir, which must exist, and returns once it answers.
// The caller stops it with Close.
func Launch(dir string) (*Daemon, error) {
	tgtd, err := exec.LookPath("tgtd")
	if err != nil {
		return nil, fmt.Errorf("tgtd not found (Debian package tgt): %w", err)
	}
	tgtadm, err := exec.LookPath("tgtadm")
	if err != nil {
		return nil, fmt.Errorf("tgtadm not found (Debian package tgt): %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		d, err := start(tgtd, tgtadm, dir, attempt)
		if err == nil {
			return d, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func start(tgtd, tgtadm, dir string, attempt int) (*Daemon, error) {
	control, err := freeControl()
	if err != nil {
		return nil, err
	}
	port, err := freeTCPPort()
	if err != nil {
		return nil, err
	}
	logf := filepath.Join(dir, fmt.Sprintf("tgtd-%d.log", attempt))
	lf, err := os.Create(logf)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	cmd := exec.Command(tgtd, "-f", "-C", strconv.Itoa(control), "--iscsi", fmt.Sprintf("portal=127.0.0.1:%d", port))
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", tgtd, err)
	}
	d := &Daemon{Control: control, Port: port, Dir: dir, tgtadm: tgtadm, cmd: cmd,
		exited: make(chan struct{}), logf: logf, tids: map[string]int{}, nextTID: 1}
	go func() { _ = cmd.Wait(); close(d.exited) }()

	// Ready when our daemon lists our portal: that also proves that the
	// control port is not another test's tgtd.
	want := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-d.exited:
			log, _ := os.ReadFile(logf)
			return nil, fmt.Errorf("tgtd -C %d exited early: %s", control, lastLines(log))
		default:
		}
		out, err := d.run(context.Background(), "--mode", "portal", "--op", "show")
		if err == nil && strings.Contains(out, want) {
			return d, nil
		}
		if err == nil {
			// Someone else's daemon answers on this control port.
			d.kill()
			return nil, fmt.Errorf("control port %d belongs to another tgtd", control)
		}
		if time.Now().After(deadline) {
			d.kill()
			return nil, fmt.Errorf("tgtd -C %d did not answer within 10s: %v", control, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeControl picks a control port whose lock file is not held. tgtd
// locks /var/run/tgtd/socket.N.lock with a POSIX record lock, and accepts
// -C values up to 32767.
func freeControl() (int, error) {
	for i := 0; i < 100; i++ {
		n := 1000 + rand.IntN(31000)
		f, err := os.OpenFile(fmt.Sprintf("/var/run/tgtd/socket.%d.lock", n), os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			return n, nil
		}
		if err != nil {
			continue
		}
		lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
		err = syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk)
		f.Close()
		if err == nil && lk.Type == syscall.F_UNLCK {
			return n, nil
		}
	}
	return 0, errors.New("no free tgtd control port found")
}

func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Portal returns "127.0.0.1:PORT".
func (d *Daemon) Portal() string { return fmt.Sprintf("127.0.0.1:%d", d.Port) }

// URL returns the libiscsi URL of LUN lun of target targetName.
func (d *Daemon) URL(targetName string, lun int) string {
	return fmt.Sprintf("iscsi://%s/%s/%d", d.Portal(), targetName, lun)
}

// AddVolume creates LUN lun (>= 1) of target targetName, backed by a
// sparse file of size bytes in Dir; it creates the target first when it
// does not exist. Nobody is bound to a new target, so nobody sees it. It
// returns the tgt driver's VolumeID for it ("TARGET/LUN").
func (d *Daemon) AddVolume(t testing.TB, targetName string, lun int, size int64) storage.VolumeID {
	t.Helper()
	v, err := d.CreateVolume(context.Background(), targetName, lun, size)
	if err != nil {
		t.Fatalf("tgttest: %v", err)
	}
	return v
}

// CreateVolume is AddVolume for programs: it returns the error.
func (d *Daemon) CreateVolume(ctx context.Context, targetName string, lun int, size int64) (storage.VolumeID, error) {
	d.mu.Lock()
	tid, ok := d.tids[targetName]
	if !ok {
		tid = d.nextTID
		d.nextTID++
		d.tids[targetName] = tid
	}
	d.mu.Unlock()
	if !ok {
		if _, err := d.run(ctx, "--lld", "iscsi", "--mode", "target", "--op", "new",
			"--tid", strconv.Itoa(tid), "--targetname", targetName); err != nil {
			return "", fmt.Errorf("new target %s: %w", targetName, err)
		}
	}
	file := filepath.Join(d.Dir, fmt.Sprintf("t%d-lun%d.img", tid, lun))
	f, err := os.Create(file)
	if err != nil {
		return "", err
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if _, err := d.run(ctx, "--lld", "iscsi", "--mode", "logicalunit", "--op", "new",
		"--tid", strconv.Itoa(tid), "--lun", strconv.Itoa(lun), "--backing-store", file); err != nil {
		return "", fmt.Errorf("new LUN %d of %s: %w", lun, targetName, err)
	}
	return storage.VolumeID(fmt.Sprintf("%s/%d", targetName, lun)), nil
}

// DeleteTarget deletes the target named targetName (with --force, so
// that logged-in initiators do not keep it) and its backing files.
func (d *Daemon) DeleteTarget(t testing.TB, targetName string) {
	t.Helper()
	d.mu.Lock()
	tid, ok := d.tids[targetName]
	delete(d.tids, targetName)
	d.mu.Unlock()
	if !ok {
		return
	}
	if _, err := d.run(context.Background(), "--lld", "iscsi", "--mode", "target", "--op", "delete", "--force",
		"--tid", strconv.Itoa(tid)); err != nil {
		t.Errorf("tgttest: delete target %s: %v", targetName, err)
	}
	files, _ := filepath.Glob(filepath.Join(d.Dir, fmt.Sprintf("t%d-lun*.img", tid)))
	for _, f := range files {
		os.Remove(f)
	}
}

// TID returns the target id tgttest gave targetName, or 0.
func (d *Daemon) TID(targetName string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tids[targetName]
}

// Tgtadm runs tgtadm against this daemon (the -C option is added) and
// returns its standard output, failing the test on error.
func (d *Daemon) Tgtadm(t testing.TB, args ...string) string {
	t.Helper()
	out, err := d.run(context.Background(), args...)
	if err != nil {
		t.Fatalf("tgttest: %v", err)
	}
	return out
}

// Run is Tgtadm for programs: it returns the error, which quotes
// tgtadm's message.
func (d *Daemon) Run(ctx context.Context, args ...string) (string, error) {
	return d.run(ctx, args...)
}

// Close is Stop for programs: it deletes every target, stops the daemon
// (killed after 10 s) and returns what went wrong, with the last lines
// of tgtd's log when it had to be killed. Later calls do nothing.
func (d *Daemon) Close() error {
	var errs []error
	d.shutdown(func(err error) { errs = append(errs, err) })
	return errors.Join(errs...)
}

// Stop stops the daemon now (targets deleted, then the daemon), as the
// cleanup would; later calls and the cleanup do nothing. Tests use it to
// check how the driver reports a tgtd that is not running.
func (d *Daemon) Stop(t testing.TB) { d.stop(t) }

func (d *Daemon) run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	full := append([]string{"-C", strconv.Itoa(d.Control)}, args...)
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, d.tgtadm, full...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("tgtadm %s: %v: %s", strings.Join(full, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func (d *Daemon) stop(t testing.TB) {
	d.shutdown(func(err error) {
		if strings.Contains(err.Error(), "did not exit") {
			t.Errorf("tgttest: %v", err)
		} else {
			t.Logf("tgttest: teardown: %v", err)
		}
	})
	if t.Failed() {
		log, _ := os.ReadFile(d.logf)
		t.Logf("tgtd log (last lines):\n%s", lastLines(log))
	}
}

// shutdown deletes every target, tells tgtd to exit and waits for it
// (killing it after 10 s), reporting each problem to report.
func (d *Daemon) shutdown(report func(error)) {
	select {
	case <-d.exited:
		return
	default:
	}
	ctx := context.Background()
	out, err := d.run(ctx, "--lld", "iscsi", "--mode", "target", "--op", "show")
	if err == nil {
		for _, line := range strings.Split(out, "\n") {
			rest, ok := strings.CutPrefix(line, "Target ")
			if !ok {
				continue
			}
			id, _, _ := strings.Cut(rest, ":")
			if _, err := d.run(ctx, "--lld", "iscsi", "--mode", "target", "--op", "delete", "--force", "--tid", strings.TrimSpace(id)); err != nil {
				report(err)
			}
		}
	}
	if _, err := d.run(ctx, "--op", "delete", "--mode", "system"); err != nil {
		report(err)
	}
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.kill()
		log, _ := os.ReadFile(d.logf)
		report(fmt.Errorf("tgtd -C %d did not exit within 10s after delete system; killed it; its log:\n%s", d.Control, lastLines(log)))
	}
	os.Remove(fmt.Sprintf("/var/run/tgtd/socket.%d", d.Control))
	os.Remove(fmt.Sprintf("/var/run/tgtd/socket.%d.lock", d.Control))
}

func (d *Daemon) kill() {
	if d.cmd.Process != nil {
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-d.exited
}

func lastLines(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}
