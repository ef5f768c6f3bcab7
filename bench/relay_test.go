package main

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/rangecast/rangecast/internal/testutil"
)

// echoServer answers every datagram with itself, from 127.0.0.1.
func echoServer(t *testing.T) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadBuffer(4 << 20)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, src, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_, _ = c.WriteToUDPAddrPort(buf[:n], src)
		}
	}()
	t.Cleanup(func() { _ = c.Close(); <-done })
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

func startRelay(t *testing.T, target netip.AddrPort, o relayOptions) *relay {
	t.Helper()
	r, err := newRelay(target, o)
	if err != nil {
		// Some systems route only 127.0.0.1: fall back to it.
		o.Listen = netip.MustParseAddrPort("127.0.0.1:0")
		if r, err = newRelay(target, o); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(r.close)
	return r
}

func dialRelay(t *testing.T, r *relay) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(r.addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// A round trip through the relay takes twice the one-way delay.
func TestRelayDelay(t *testing.T) {
	testutil.LeakCheck(t) // runs last: after the relay closed
	const delay = 20 * time.Millisecond
	r := startRelay(t, echoServer(t), relayOptions{Delay: delay})
	c := dialRelay(t, r)
	buf := make([]byte, 64)
	for i := range 5 {
		t0 := time.Now()
		if _, err := c.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		rtt := time.Since(t0)
		if n != 1 || buf[0] != byte(i) {
			t.Fatalf("got %x, want %x", buf[:n], i)
		}
		// Timers fire late, never early; allow a loaded machine some slack.
		if rtt < 2*delay || rtt > 2*delay+30*time.Millisecond {
			t.Errorf("round trip %v, want %v + a little", rtt, 2*delay)
		}
	}
}

// About 1% of datagrams are lost in each direction, the rest arrive in order.
func TestRelayLossAndOrder(t *testing.T) {
	testutil.LeakCheck(t) // runs last: after the relay closed
	r := startRelay(t, echoServer(t), relayOptions{Delay: 2 * time.Millisecond, Loss: 0.01, SeedUp: 7, SeedDown: 8})
	c := dialRelay(t, r)
	_ = c.SetReadBuffer(4 << 20)
	const n = 20000
	got := make(chan []uint32, 1)
	go func() {
		var seq []uint32
		buf := make([]byte, 64)
		for {
			_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			m, err := c.Read(buf)
			if err != nil {
				got <- seq
				return
			}
			seq = append(seq, binary.BigEndian.Uint32(buf[:m]))
		}
	}()
	msg := make([]byte, 100)
	for i := range n {
		binary.BigEndian.PutUint32(msg, uint32(i))
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			time.Sleep(time.Millisecond) // stay within the sockets' buffers
		}
	}
	seq := <-got
	for i := 1; i < len(seq); i++ {
		if seq[i] <= seq[i-1] {
			t.Fatalf("out of order: %d after %d", seq[i], seq[i-1])
		}
	}
	up, down := r.stats()
	t.Logf("up: %v; down: %v; received %d of %d", up, down, len(seq), n)
	if up.Overflow != 0 || down.Overflow != 0 {
		t.Errorf("queues overflowed")
	}
	// Each direction loses ~1% (200 of 20000, σ ≈ 14): the round trip ~2%.
	for _, s := range []relayStats{up, down} {
		if s.Lost < 130 || s.Lost > 280 {
			t.Errorf("lost %d, want about 200", s.Lost)
		}
	}
	if lost := n - len(seq); lost != int(up.Lost+down.Lost) {
		t.Errorf("%d missing at the client, the relay dropped %d", lost, up.Lost+down.Lost)
	}
}

// The relay rewrites the answerer's loopback candidate to its own address and drops the
// rest.
func TestRerouteCandidates(t *testing.T) {
	testutil.LeakCheck(t) // runs last: after the relay closed
	rt := newReroute(relayOptions{Listen: netip.MustParseAddrPort("127.0.0.1:0")})
	defer rt.close()
	if _, ok := rt.remoteCandidate("candidate:1 1 udp 2130706431 ::1 5000 typ host"); ok {
		t.Error("kept an IPv6 candidate")
	}
	if _, ok := rt.remoteCandidate("candidate:1 1 udp 2130706431 abc.local 5000 typ host"); ok {
		t.Error("kept an mDNS candidate")
	}
	c, ok := rt.remoteCandidate("candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host ufrag x")
	r, err := rt.relay()
	if !ok || err != nil {
		t.Fatalf("dropped the loopback candidate (%v)", err)
	}
	want := "candidate:1 1 udp 2130706431 127.0.0.1 " + itoa(r.addr().Port()) + " typ host ufrag x"
	if c != want || r.target != netip.MustParseAddrPort("127.0.0.1:5000") {
		t.Errorf("got %q to %v, want %q", c, r.target, want)
	}
	if _, ok := rt.remoteCandidate("candidate:2 1 udp 2130706431 127.0.0.1 5001 typ host"); ok {
		t.Error("kept a second loopback candidate with another port")
	}
	sdp := "v=0\r\na=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\na=candidate:2 1 udp 1 ::1 5 typ host\r\na=end-of-candidates\r\n"
	if got := rt.localSDP(sdp); got != "v=0\r\na=end-of-candidates\r\n" {
		t.Errorf("localSDP: %q", got)
	}
	wantSDP := "v=0\r\na=candidate:1 1 udp 1 127.0.0.1 " + itoa(r.addr().Port()) + " typ host\r\na=end-of-candidates\r\n"
	if got := rt.remoteSDP(sdp); got != wantSDP {
		t.Errorf("remoteSDP: %q, want %q", got, wantSDP)
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }
