package ovs_test

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/drivers/ovs/ovstest"
	"github.com/coldstandby/coldstandby/fabric"
)

// soNoCheck is Linux's SO_NO_CHECK socket option (asm-generic/socket.h).
const soNoCheck = 11

// datagrams sends numbered UDP datagrams from one host to another through
// the switch and says which arrived; it records each one's send time in
// this process, so a test can tell exactly what was sent after a call
// returned.
type datagrams struct {
	tx, rx net.PacketConn
	to     net.Addr

	mu       sync.Mutex
	sent     []time.Time // by sequence number: taken just before the send
	received map[uint32]bool

	stop chan struct{}
	wg   sync.WaitGroup
}

// startDatagrams opens a socket in each host's namespace and sends one
// datagram every interval from `from` to `to`'s address until finish.
func startDatagrams(t *testing.T, from, to ovstest.Host, toIP string, interval time.Duration) *datagrams {
	t.Helper()
	d := &datagrams{received: map[uint32]bool{}, stop: make(chan struct{})}
	err := ovstest.InNetns(to.Netns, func() (err error) {
		d.rx, err = net.ListenPacket("udp4", net.JoinHostPort(toIP, "0"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.rx.Close() })
	d.to = d.rx.LocalAddr()
	if err := ovstest.InNetns(from.Netns, func() (err error) {
		d.tx, err = net.ListenPacket("udp4", ":0")
		if err != nil {
			return err
		}
		// The veth pair leaves UDP checksums to "the hardware", which
		// the userspace datapath never fills in, so the receiver would
		// drop every datagram: send without a checksum (allowed over
		// IPv4) instead.
		raw, err := d.tx.(*net.UDPConn).SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := raw.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soNoCheck, 1)
		}); err != nil {
			return err
		}
		return serr
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.tx.Close() })
	d.wg.Add(2)
	go func() {
		defer d.wg.Done()
		buf := make([]byte, 64)
		for {
			n, _, err := d.rx.ReadFrom(buf)
			if err != nil {
				return
			}
			if n >= 4 {
				d.mu.Lock()
				d.received[binary.BigEndian.Uint32(buf)] = true
				d.mu.Unlock()
			}
		}
	}()
	go func() {
		defer d.wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		buf := make([]byte, 4)
		for {
			select {
			case <-d.stop:
				return
			case <-tick.C:
			}
			d.mu.Lock()
			seq := uint32(len(d.sent))
			d.sent = append(d.sent, time.Now())
			d.mu.Unlock()
			binary.BigEndian.PutUint32(buf, seq)
			// A failed send is a lost datagram, as a dropped frame is.
			_, _ = d.tx.WriteTo(buf, d.to)
		}
	}()
	return d
}

// finish stops sending, lets the last datagrams arrive, and returns the
// send times and which sequence numbers arrived.
func (d *datagrams) finish() ([]time.Time, map[uint32]bool) {
	close(d.stop)
	time.Sleep(200 * time.Millisecond)
	d.rx.Close()
	d.wg.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sent, d.received
}

// TestNoFrameCrossesAfterSetPortVLANReturns: once SetPortVLAN has taken a
// VLAN off a port, no frame of that VLAN sent afterwards crosses it, not
// even by a data-path flow cached before the change (ovs-vswitchd reports
// a configuration applied before its revalidators have replaced the
// cached flows). A host behind a trunk sends a datagram every
// millisecond; every round puts VLAN 10 on the trunk, then takes it off.
func TestNoFrameCrossesAfterSetPortVLANReturns(t *testing.T) {
	t.Parallel() // its own switch
	sw := ovstest.Start(t)
	far := sw.AddBridge()
	uplink, _ := sw.AddPatch(sw.Bridge, far, []string{"trunks=10"}, []string{"trunks=10"})
	h1 := sw.AddHost("10.99.0.1/24", "tag=10")
	h3 := sw.AddHostTo(far, "10.99.0.3/24", "tag=10")
	s := newSwitch(t, sw.DB)
	ctx := context.Background()
	if !sw.Ping(h3, "10.99.0.1", 5) { // also fills h3's neighbour table
		t.Fatal("VLAN 10 does not cross the trunk")
	}

	with := fabric.PortVLAN{Mode: fabric.Trunk, Trunk: []int{10}}
	without := fabric.PortVLAN{Mode: fabric.Trunk, Trunk: []int{20}}
	const rounds = 5
	const hold = 40 * time.Millisecond // each setting holds this long
	// A round's VLAN 10 is on from opened (SetPortVLAN returned) to
	// closing (the next call began), off from closed (that call returned)
	// to reopening (the next round's call began); between, it is in
	// transition.
	type round struct{ opened, closing, closed, reopening time.Time }
	var log []round
	d := startDatagrams(t, h3, h1, "10.99.0.1", time.Millisecond)
	for i := range rounds {
		if i > 0 {
			log[i-1].reopening = time.Now()
		}
		if _, err := s.SetPortVLAN(ctx, uplink, with); err != nil {
			t.Fatal(err)
		}
		opened := time.Now()
		time.Sleep(hold)
		closing := time.Now()
		if _, err := s.SetPortVLAN(ctx, uplink, without); err != nil {
			t.Fatal(err)
		}
		log = append(log, round{opened: opened, closing: closing, closed: time.Now()})
		time.Sleep(hold)
	}
	log[rounds-1].reopening = time.Now()
	sent, received := d.finish()

	for i, r := range log {
		crossed, late := 0, 0
		var worst time.Duration
		for seq, at := range sent {
			if !received[uint32(seq)] {
				continue
			}
			switch {
			case at.After(r.opened) && at.Before(r.closing):
				crossed++
			case at.After(r.closed) && at.Before(r.reopening):
				late++
				worst = max(worst, at.Sub(r.closed))
			}
		}
		if crossed == 0 {
			t.Errorf("round %d: nothing crossed the trunk of VLAN 10 in %v", i, r.closing.Sub(r.opened))
		}
		if late > 0 {
			t.Errorf("round %d: %d datagrams sent up to %v after SetPortVLAN took VLAN 10 off the trunk crossed it", i, late, worst)
		}
	}
}
