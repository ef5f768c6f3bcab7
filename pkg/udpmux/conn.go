//go:build !js

package udpmux

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// route is what one local ufrag receives on one listener: one queue and the
// remote addresses mapped to it. The conns GetConn returns for the ufrag and
// address are handles on it.
type route struct {
	l     *listener
	ufrag string
	q     *queue

	refs    int          // open conns; guarded by Mux.mu
	removed bool         // guarded by l.mu
	addrs   []*addrEntry // guarded by l.mu; at most MaxAddrsPerUfrag

	tick atomic.Uint64             // orders the uses of addrs, for eviction
	last atomic.Pointer[addrEntry] // the address sent to last: register's fast path
}

func newRoute(l *listener, ufrag string, queueLen int) *route {
	return &route{l: l, ufrag: ufrag, q: newQueue(queueLen)}
}

// dropAddrLocked unlinks e from r; l.mu is held. The caller deletes it from
// the listener's table if it is still there.
func (r *route) dropAddrLocked(e *addrEntry) {
	e.dead.Store(true)
	for i, a := range r.addrs {
		if a == e {
			r.addrs = append(r.addrs[:i], r.addrs[i+1:]...)
			break
		}
	}
}

// addrEntry maps one remote address to a route.
type addrEntry struct {
	addr netip.AddrPort
	r    *route
	used atomic.Uint64 // route.tick at the last send to addr
	dead atomic.Bool   // unmapped; set under l.mu
}

// conn is the net.PacketConn GetConn returns: one handle on a route.
// Closing it releases the handle; the last release removes the route.
type conn struct {
	m      *Mux
	r      *route
	local  *net.UDPAddr
	rd     *deadline
	closed chan struct{}
	once   sync.Once
}

var _ net.PacketConn = (*conn)(nil)

func newConn(m *Mux, r *route, local *net.UDPAddr) *conn {
	return &conn{m: m, r: r, local: local, rd: newDeadline(), closed: make(chan struct{})}
}

// ReadFromAddrPort reads the next datagram for the connection. It is the
// allocation-free read pion's agent prefers (ice.AddrPortReaderWriter).
func (c *conn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	q := c.r.q
	for {
		select {
		case <-c.closed:
			return 0, netip.AddrPort{}, c.opError("read", nil, errConnClosed)
		case <-c.rd.wait():
			return 0, netip.AddrPort{}, c.opError("read", nil, os.ErrDeadlineExceeded)
		default:
		}
		n, from, ok, closed := q.pop(b)
		if ok {
			return n, from, nil
		}
		if closed {
			return 0, netip.AddrPort{}, c.opError("read", nil, errConnClosed)
		}
		select {
		case <-q.ready:
		case <-q.done:
		case <-c.closed:
		case <-c.rd.wait():
		}
	}
}

// ReadFrom reads the next datagram for the connection.
func (c *conn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromAddrPort(b)
	if err != nil {
		return 0, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// WriteToAddrPort sends b to dst from the mux's socket, and maps dst to this
// connection if it is not yet. It is the allocation-free write pion's agent
// prefers (ice.AddrPortReaderWriter).
func (c *conn) WriteToAddrPort(b []byte, dst netip.AddrPort) (int, error) {
	select {
	case <-c.closed:
		return 0, c.opError("write", nil, errConnClosed)
	case <-c.r.q.done:
		return 0, c.opError("write", nil, errConnClosed)
	default:
	}
	dst = unmap(dst)
	if !dst.IsValid() || dst.Port() == 0 {
		return 0, c.opError("write", nil, fmt.Errorf("%w: %v", ErrInvalidDestination, dst))
	}
	if dst.Addr().Is4() != c.r.l.is4 {
		return 0, c.opError("write", nil, fmt.Errorf("%w: %v", ErrAddressFamily, dst))
	}
	c.r.l.register(c.r, dst)
	return c.r.l.writeTo(b, dst)
}

// WriteTo sends b to addr, which must be a *net.UDPAddr.
func (c *conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	// AddrPort would keep only the low 16 bits of an out-of-range port.
	if !ok || ua == nil || ua.Port < 1 || ua.Port > 0xffff {
		return 0, c.opError("write", addr, fmt.Errorf("%w: %v", ErrInvalidDestination, addr))
	}
	return c.WriteToAddrPort(b, ua.AddrPort())
}

// Close releases this handle; the connection ends with its last handle.
// Reads blocked on this handle return an error matching net.ErrClosed.
func (c *conn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.rd.stop()
		c.m.release(c.r)
	})
	return nil
}

// LocalAddr returns the listen address the connection was created for.
func (c *conn) LocalAddr() net.Addr { return c.local }

// SetDeadline sets the read deadline; see SetWriteDeadline for writes.
func (c *conn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline makes reads fail with os.ErrDeadlineExceeded from t on;
// the zero time means no deadline.
func (c *conn) SetReadDeadline(t time.Time) error {
	select {
	case <-c.closed:
		return c.opError("set deadline", nil, errConnClosed)
	default:
	}
	c.rd.set(t)
	return nil
}

// SetWriteDeadline does nothing: writes go straight to a socket shared with
// every other connection, whose deadline this one must not change, and a UDP
// send does not wait for the network.
func (c *conn) SetWriteDeadline(time.Time) error { return nil }

func (c *conn) opError(op string, addr net.Addr, err error) error {
	return &net.OpError{Op: op, Net: "udp", Source: c.local, Addr: addr, Err: err}
}
