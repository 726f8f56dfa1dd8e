// Package ipmisim starts OpenIPMI's ipmi_sim as a simulated BMC for tests:
// one process per simulated server, on 127.0.0.1 and a free UDP port, with
// its configuration, state and a chassis_control script in t.TempDir().
//
// Only tests import it (drivers/bmclib's conformance and fault-detection
// tests, examples). It needs the Debian packages openipmi (ipmi_sim) and
// ipmitool; without them the test is skipped on a developer machine and
// fails in CI (see internal/testpeer).
//
// The chassis_control script keeps the simulated server's state in files
// in the temp dir: "power" (0 or 1), "boot" (the last boot device set),
// "ignore-shutdown" (present: soft off is ignored, like an OS that hangs)
// and "calls" (one line per script call, for assertions). WithPowerHook
// makes the chassis do more when its power changes (a lab takes a
// server's network links down with its power).
package ipmisim

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/internal/testpeer"
)

// Credentials of the simulated BMC's administrator (IPMI user 2).
const (
	User     = "admin"
	Password = "s3cret-ipmi-pw"
	// CipherSuite is the IPMI cipher suite every client must use: without
	// it ipmitool probes and each call waits about 10 s.
	CipherSuite = "3"
)

// Server is one running ipmi_sim.
type Server struct {
	Host string // always 127.0.0.1
	Port int    // UDP port of the simulated BMC's LAN channel
	Dir  string // temp dir holding config, state and the chassis script

	ipmitool string
	cmd      *exec.Cmd
	done     chan struct{}
	mu       sync.Mutex
	stopped  bool
}

// Option configures Start.
type Option func(*config)

type config struct {
	poweredOn bool
	hook      []string
}

// WithPoweredOn starts the simulated server powered on (default off).
func WithPoweredOn() Option { return func(c *config) { c.poweredOn = true } }

// WithPowerHook runs the program argv[0] with the arguments argv[1:] and
// then the new power state, "0" or "1", each time a chassis command
// through IPMI sets the power (power on, off, cycle, or a soft off the
// OS honours), before the new state is recorded. When it fails, the
// power does not change and the IPMI command fails. SetPower and
// WritePower, which act behind the BMC's back, do not run it.
func WithPowerHook(argv ...string) Option {
	return func(c *config) { c.hook = append([]string(nil), argv...) }
}

// chassisScript is called by ipmi_sim as `SCRIPT get power`, `SCRIPT set
// power 1`, `SCRIPT set shutdown 1`, `SCRIPT set reset 1`, `SCRIPT get
// boot`, `SCRIPT set boot pxe|default|...`. Everything it knows is in
// files next to it.
const chassisScript = `#!/bin/sh
D=%s
echo "$*" >> "$D/calls"
power() { if [ -x "$D/power-hook" ]; then "$D/power-hook" "$1" || exit 1; fi; echo "$1" > "$D/power"; }
case "$1 $2" in
"get power") printf 'power:%%s\n' "$(cat "$D/power" 2>/dev/null || echo 0)" ;;
"set power") power "$3" ;;
"set shutdown") [ -e "$D/ignore-shutdown" ] || power 0 ;;
"set reset") ;;
"get boot") printf 'boot:%%s\n' "$(cat "$D/boot" 2>/dev/null || echo default)" ;;
"set boot") echo "$3" > "$D/boot" ;;
*) exit 1 ;;
esac
exit 0
`

const lanConf = `name "coldstandby-sim"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 %d
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control %q
  user 2 true %q %q admin 10 none md2 md5 straight
`

const emuFile = `mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
`

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// freeUDPPort asks the kernel for a free UDP port on 127.0.0.1. Another
// process may take it before ipmi_sim binds it; Start retries then.
func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// Start starts one ipmi_sim in t.TempDir() and registers its shutdown
// with t.Cleanup. It returns once the simulated BMC answers ipmitool. A
// missing ipmi_sim or ipmitool stops the test through testpeer.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	if testpeer.LookPath(t, "openipmi", "ipmi_sim") == nil || testpeer.LookPath(t, "ipmitool", "ipmitool") == nil {
		return nil
	}
	s, err := Launch(t.TempDir(), opts...)
	if err != nil {
		t.Fatalf("ipmisim: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Launch starts one ipmi_sim with its files in dir (which must exist) and
// returns once it answers; the caller must Stop it. It is for programs
// such as examples/ipmi; tests use Start.
func Launch(dir string, opts ...Option) (*Server, error) {
	ipmiSim, err := exec.LookPath("ipmi_sim")
	if err != nil {
		return nil, fmt.Errorf("ipmi_sim not found (Debian package openipmi): %w", err)
	}
	ipmitool, err := exec.LookPath("ipmitool")
	if err != nil {
		return nil, fmt.Errorf("ipmitool not found (Debian package ipmitool): %w", err)
	}
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // another process may take the free port first
		sub := filepath.Join(dir, fmt.Sprintf("sim%d", attempt))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return nil, err
		}
		s, err := start(sub, ipmiSim, ipmitool, cfg)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func start(dir, ipmiSim, ipmitool string, cfg config) (*Server, error) {
	port, err := freeUDPPort()
	if err != nil {
		return nil, fmt.Errorf("free port: %w", err)
	}
	script := filepath.Join(dir, "chassis_control.sh")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(chassisScript, shellQuote(dir))), 0o755); err != nil {
		return nil, err
	}
	if len(cfg.hook) > 0 {
		quoted := make([]string, len(cfg.hook))
		for i, a := range cfg.hook {
			quoted[i] = shellQuote(a)
		}
		hook := "#!/bin/sh\nexec " + strings.Join(quoted, " ") + ` "$@"` + "\n"
		if err := os.WriteFile(filepath.Join(dir, "power-hook"), []byte(hook), 0o755); err != nil {
			return nil, err
		}
	}
	power := "0\n"
	if cfg.poweredOn {
		power = "1\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "power"), []byte(power), 0o644); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "lan.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(lanConf, port, script, User, Password)), 0o644); err != nil {
		return nil, err
	}
	emu := filepath.Join(dir, "sim.emu")
	if err := os.WriteFile(emu, []byte(emuFile), 0o644); err != nil {
		return nil, err
	}
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "ipmi_sim.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(ipmiSim, "-c", conf, "-f", emu, "-s", state, "-n")
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start ipmi_sim: %w", err)
	}
	s := &Server{Host: "127.0.0.1", Port: port, Dir: dir, ipmitool: ipmitool, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(s.done)
	}()

	// Wait until it answers (normally well under a second).
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := s.Ipmitool(ctx, "chassis", "power", "status")
		cancel()
		if err == nil {
			return s, nil
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(dir, "ipmi_sim.log"))
			return nil, fmt.Errorf("ipmi_sim exited on port %d: %s", port, bytes.TrimSpace(log))
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("ipmi_sim on port %d not answering: %v", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills ipmi_sim and waits for it to exit. Idempotent; Start
// registers it with t.Cleanup.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	s.mu.Unlock()
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Addr is "127.0.0.1:PORT".
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Ipmitool runs ipmitool against the simulated BMC with the admin
// credentials (passed in the environment, never on the command line) and
// returns its combined output.
func (s *Server) Ipmitool(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"-I", "lanplus", "-H", s.Host, "-p", strconv.Itoa(s.Port),
		"-U", User, "-E", "-C", CipherSuite, "-N", "1", "-R", "2"}, args...)
	cmd := exec.CommandContext(ctx, s.ipmitool, full...)
	cmd.Env = []string{"IPMITOOL_PASSWORD=" + Password}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ipmitool %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

func (s *Server) readFile(name string) string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, name))
	return strings.TrimSpace(string(b))
}

// PoweredOn reports the simulated server's power, as the chassis script
// keeps it.
func (s *Server) PoweredOn() bool { return s.readFile("power") == "1" }

// SetPower changes the simulated server's power behind the BMC's back (a
// server that crashed off, or was switched on by hand).
func (s *Server) SetPower(t testing.TB, on bool) {
	t.Helper()
	if err := s.WritePower(on); err != nil {
		t.Fatal(err)
	}
}

// WritePower is SetPower for programs: it returns the error.
func (s *Server) WritePower(on bool) error {
	v := "0\n"
	if on {
		v = "1\n"
	}
	return os.WriteFile(filepath.Join(s.Dir, "power"), []byte(v), 0o644)
}

// IgnoreShutdown makes the simulated OS ignore (true) or honour (false)
// ACPI soft-off requests.
func (s *Server) IgnoreShutdown(t testing.TB, ignore bool) {
	t.Helper()
	if err := s.WriteIgnoreShutdown(ignore); err != nil {
		t.Fatal(err)
	}
}

// WriteIgnoreShutdown is IgnoreShutdown for programs.
func (s *Server) WriteIgnoreShutdown(ignore bool) error {
	p := filepath.Join(s.Dir, "ignore-shutdown")
	if ignore {
		return os.WriteFile(p, nil, 0o644)
	}
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// Reset returns a running simulator to a new one's state: powered off
// (or on), honouring shutdown, no boot device set, no calls recorded, an
// empty SEL. Tests that reuse simulators call it between uses.
func (s *Server) Reset(ctx context.Context, poweredOn bool) error {
	if err := s.WritePower(poweredOn); err != nil {
		return err
	}
	if err := s.WriteIgnoreShutdown(false); err != nil {
		return err
	}
	for _, f := range []string{"boot", "calls"} {
		if err := os.Remove(filepath.Join(s.Dir, f)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	if _, err := s.Ipmitool(ctx, "sel", "clear"); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	return nil
}

// BootDevice is the last boot device the BMC passed to the chassis script
// ("default" when none was set). ipmi_sim maps IPMI "disk" to "default".
func (s *Server) BootDevice() string { return s.readFile("boot") }

// Calls returns the chassis script's calls so far, one per element (for
// example "set power 1", "set shutdown 1", "set boot pxe").
func (s *Server) Calls() []string {
	c := s.readFile("calls")
	if c == "" {
		return nil
	}
	return strings.Split(c, "\n")
}

// SELRecord is one platform event message to add to the SEL (IPMI 2.0
// section 29.7): sensor type (table 42-3), sensor number, event type
// (table 42-1; 0x6f sensor-specific), whether it is a deassertion, and the
// offset (event data 1, low nibble).
type SELRecord struct {
	SensorType   uint8
	SensorNumber uint8
	EventType    uint8
	Deassert     bool
	Offset       uint8
}

// AddSEL adds records to the SEL with `ipmitool sel add FILE`, as a real
// BMC would log them. The BMC stamps them with its own clock.
func (s *Server) AddSEL(t testing.TB, records ...SELRecord) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WriteSEL(ctx, records...); err != nil {
		t.Fatalf("ipmisim: %v", err)
	}
}

// WriteSEL is AddSEL for programs.
func (s *Server) WriteSEL(ctx context.Context, records ...SELRecord) error {
	var b strings.Builder
	for _, r := range records {
		dir := r.EventType & 0x7f
		if r.Deassert {
			dir |= 0x80
		}
		fmt.Fprintf(&b, "0x04 0x%02x 0x%02x 0x%02x 0x%02x 0xff 0xff\n", r.SensorType, r.SensorNumber, dir, r.Offset&0x0f)
	}
	f, err := os.CreateTemp(s.Dir, "sel-*.txt")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if _, err := s.Ipmitool(ctx, "sel", "add", f.Name()); err != nil {
		return fmt.Errorf("add SEL records: %w", err)
	}
	return nil
}
