package ovs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/drivers/ovs"
	"github.com/coldstandby/coldstandby/drivers/ovs/ovstest"
	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/fabric/fabrictest"
)

// harness is a fresh driver and fresh ports per subtest, on one Open
// vSwitch shared by the subtests (starting one takes about half a second).
type harness struct {
	t        *testing.T
	sw       *ovstest.Switch
	failNext atomic.Bool
	stall    atomic.Int64 // nanoseconds to hold the next request
	skip     atomic.Int64 // requests to pass before holding one
}

var (
	_ fabrictest.VLANHarness     = (*harness)(nil)
	_ fabrictest.TransientFailer = (*harness)(nil)
	_ fabrictest.Staller         = (*harness)(nil)
)

func TestConformance(t *testing.T) {
	t.Parallel() // its own switch
	sw := ovstest.Start(t)
	fabrictest.RunVLAN(t, func(t *testing.T) fabrictest.VLANHarness {
		return &harness{t: t, sw: sw.For(t)}
	})
}

func (h *harness) MakeSwitch(ctx context.Context) (fabric.VLANSwitch, error) {
	var d net.Dialer
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return &failingConn{Conn: h.proxy(c), h: h}, nil
	}
	s, err := ovs.New(h.sw.DB, ovs.WithDialer(dial))
	if err != nil {
		return nil, err
	}
	h.t.Cleanup(func() { s.Close() })
	return s, nil
}

func (h *harness) VLANFixture(ctx context.Context, n int) ([]string, fabric.PortVLAN, fabric.PortVLAN, error) {
	ports := make([]string, n)
	for i := range ports {
		ports[i] = h.sw.AddPort("tag=1")
	}
	a := fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 100}
	b := fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: 1, Trunk: []int{10, 20, 21, 22}}
	return ports, a, b, nil
}

// ReadPort reads the columns with ovs-vsctl and maps them as OVS's manual
// describes (see the package doc of ovs), independently of the driver.
func (h *harness) ReadPort(ctx context.Context, port string) (fabric.PortVLAN, error) {
	lines := strings.Split(strings.TrimSpace(h.sw.Vsctl("get", "port", port, "vlan_mode", "tag", "trunks")), "\n")
	if len(lines) != 3 {
		return fabric.PortVLAN{}, fmt.Errorf("ovs-vsctl get printed %q", lines)
	}
	mode, tagS, trunksS := lines[0], lines[1], strings.Trim(lines[2], "[]")
	tag := 0
	if tagS != "[]" {
		tag, _ = strconv.Atoi(tagS)
	}
	var trunks []int
	for _, f := range strings.Split(trunksS, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		id, _ := strconv.Atoi(f)
		if id >= 1 && id <= 4094 {
			trunks = append(trunks, id)
		}
	}
	if trunksS == "" {
		trunks = vlanList("1-4094")
	}
	if mode == "[]" {
		mode = "trunk"
		if tag != 0 {
			mode = "access"
		}
	}
	switch mode {
	case "access":
		return fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: tag}, nil
	case "trunk":
		return fabric.PortVLAN{Mode: fabric.Trunk, Trunk: trunks}.Normalize(), nil
	case "native-untagged":
		return fabric.PortVLAN{Mode: fabric.Trunk, NativeVLAN: tag, Trunk: trunks}.Normalize(), nil
	}
	return fabric.PortVLAN{}, fmt.Errorf("port %s has vlan_mode %s", port, mode)
}

// FailNext makes the driver's next write on its connection fail before a
// byte is sent, as a connection reset would.
func (h *harness) FailNext(ctx context.Context) error {
	h.failNext.Store(true)
	return nil
}

// StallNext makes the proxy between driver and ovsdb-server hold the next
// request for d before passing it on (the server then carries it out).
func (h *harness) StallNext(ctx context.Context, d time.Duration) error {
	h.stall.Store(int64(d))
	return nil
}

// proxy returns the driver's end of a pipe whose other end forwards to
// server, holding a request when StallNext asked for it.
func (h *harness) proxy(server net.Conn) net.Conn {
	client, mine := net.Pipe()
	chunks := make(chan []byte, 64)
	go func() { // driver -> queue, never blocking the driver
		defer close(chunks)
		for {
			buf := make([]byte, 64<<10)
			n, err := mine.Read(buf)
			if n > 0 {
				chunks <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { // queue -> server, after any stall
		defer server.Close()
		for b := range chunks {
			if h.skip.Add(-1) < 0 {
				h.skip.Store(0)
				if d := h.stall.Swap(0); d > 0 {
					time.Sleep(time.Duration(d))
				}
			}
			if _, err := server.Write(b); err != nil {
				return
			}
		}
	}()
	go func() { // server -> driver
		defer mine.Close()
		_, _ = io.Copy(mine, server)
	}()
	return client
}

type failingConn struct {
	net.Conn
	h *harness
}

func (c *failingConn) Write(b []byte) (int, error) {
	if c.h.failNext.CompareAndSwap(true, false) {
		c.Conn.Close()
		return 0, errors.New("injected: connection reset by peer")
	}
	return c.Conn.Write(b)
}

// TestResetBeforeSendIsTransient checks the TransientFailer path directly:
// a connection that fails before the request leaves is ErrTransient,
// changes nothing, and the next call reconnects and succeeds.
func TestResetBeforeSendIsTransient(t *testing.T) {
	t.Parallel() // its own switch
	h := &harness{t: t, sw: ovstest.Start(t)}
	ctx := context.Background()
	d, err := h.MakeSwitch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ports, a, _, _ := h.VLANFixture(ctx, 1)
	if _, err := d.PortVLAN(ctx, ports[0]); err != nil { // connect first
		t.Fatal(err)
	}
	_ = h.FailNext(ctx)
	if _, err := d.SetPortVLAN(ctx, ports[0], a); !errors.Is(err, fabric.ErrTransient) {
		t.Fatalf("SetPortVLAN on a reset connection: %v, want ErrTransient", err)
	}
	if got, _ := h.ReadPort(ctx, ports[0]); !got.Equal(fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 1}) {
		t.Fatalf("failed SetPortVLAN changed the port to %v", got)
	}
	if _, err := d.SetPortVLAN(ctx, ports[0], a); err != nil {
		t.Fatalf("SetPortVLAN after the reset: %v", err)
	}
	if got, _ := h.ReadPort(ctx, ports[0]); !got.Equal(a) {
		t.Fatalf("port is %v, want %v", got, a)
	}
}

// TestGuardedWriteSeesExternalChange: another client (ovs-vsctl) changes
// the port between the driver's read and its write. The write's "wait"
// guard fails, the driver reads again, and prev is what it really
// replaced: the other client's setting, not the stale one.
func TestGuardedWriteSeesExternalChange(t *testing.T) {
	t.Parallel() // its own switch
	h := &harness{t: t, sw: ovstest.Start(t)}
	ctx := context.Background()
	d, err := h.MakeSwitch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	port := h.sw.AddPort("tag=10")
	h.skip.Store(1) // let the read through, hold the guarded write
	_ = h.StallNext(ctx, 500*time.Millisecond)
	type result struct {
		prev fabric.PortVLAN
		err  error
	}
	done := make(chan result, 1)
	go func() {
		prev, err := d.SetPortVLAN(ctx, port, fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 30})
		done <- result{prev, err}
	}()
	time.Sleep(100 * time.Millisecond)
	h.sw.Vsctl("set", "port", port, "tag=77")
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if want := (fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 77}); !r.prev.Equal(want) {
		t.Errorf("prev = %v, want %v (the concurrent writer's setting)", r.prev, want)
	}
	if got, _ := h.ReadPort(ctx, port); !got.Equal(fabric.PortVLAN{Mode: fabric.Access, AccessVLAN: 30}) {
		t.Errorf("port is %v, want access 30", got)
	}
}
