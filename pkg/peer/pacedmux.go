//go:build !js

package peer

import (
	"math"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
)

// pacedMux hands one Conn's ICE agent the shared UDPMux's connections wrapped so that every
// datagram the Conn sends — SCTP's retransmissions too, which leave outside the pacer — is
// spaced by the pacer's datagramPacer.
type pacedMux struct {
	ice.UDPMux
	p *datagramPacer
}

func (m pacedMux) GetConn(ufrag string, addr net.Addr) (net.PacketConn, error) {
	c, err := m.UDPMux.GetConn(ufrag, addr)
	if err != nil {
		return nil, err
	}
	pc := &pacedConn{PacketConn: c, p: m.p}
	// Keep pion's allocation-free AddrPort reads and writes where the connection has them:
	// pion looks for them on what GetConn returns.
	if ap, ok := c.(ice.AddrPortReaderWriter); ok {
		return &pacedAddrPortConn{pacedConn: pc, ap: ap}, nil
	}
	return pc, nil
}

// pacedConn is a mux connection whose writes wait for the datagramPacer.
type pacedConn struct {
	net.PacketConn
	p *datagramPacer
}

func (c *pacedConn) pace(n int) {
	if d := c.p.delay(n, time.Now()); d > 0 {
		time.Sleep(d)
	}
}

func (c *pacedConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.pace(len(b))
	return c.PacketConn.WriteTo(b, addr)
}

// pacedAddrPortConn is a pacedConn over a connection with pion's AddrPort methods.
type pacedAddrPortConn struct {
	*pacedConn
	ap ice.AddrPortReaderWriter
}

var _ ice.AddrPortReaderWriter = (*pacedAddrPortConn)(nil)

func (c *pacedAddrPortConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	c.pace(len(b))
	return c.ap.WriteToAddrPort(b, addr)
}

func (c *pacedAddrPortConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.ap.ReadFromAddrPort(b)
}

const (
	datagramBurst    = 2 * time.Millisecond // what may leave at once after a pause
	datagramMinSleep = time.Millisecond     // shorter waits add up until they are worth a sleep
)

// datagramPacer spaces a Conn's datagrams at a rate the pacer sets once it has measured the path.
// The pacer only paces the messages written to SCTP; SCTP itself sends each message as a
// burst of packets, and after a retransmission timeout it resends everything outstanding at
// once — up to its whole window, a megabyte on a long path. A burst like that overflows a
// bottleneck's queue or the receiver's socket buffer (Chromium's is 128 KiB), so the
// retransmissions are lost again and SCTP waits for the next timeout. Spaced at the pacing
// rate, the same bytes arrive as the path and the receiver can take them.
type datagramPacer struct {
	rate atomic.Uint64 // bytes/s as float64 bits; 0: not paced
	mu   sync.Mutex
	next time.Time // the earliest time the next datagram may leave
	sent uint64    // datagrams booked at a rate
}

func (d *datagramPacer) setRate(r float64) { d.rate.Store(math.Float64bits(r)) }

// delay books n bytes sent at now and returns how long the sender must wait first: nothing
// while it stays within datagramBurst of the rate.
func (d *datagramPacer) delay(n int, now time.Time) time.Duration {
	r := math.Float64frombits(d.rate.Load())
	if r <= 0 {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.next.Before(now.Add(-datagramBurst)) {
		d.next = now.Add(-datagramBurst)
	}
	d.sent++
	wait := d.next.Sub(now)
	d.next = d.next.Add(time.Duration(float64(n) / r * float64(time.Second)))
	if wait < datagramMinSleep {
		return 0 // a sleep this short oversleeps: let the debt grow until it is worth one
	}
	return wait
}
