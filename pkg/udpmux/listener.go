//go:build !js

package udpmux

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
)

// listener is one local address: its sockets (several with SO_REUSEPORT,
// all bound to the same address and port) and its routing tables. Having
// tables per listener is what keeps IPv4 and IPv6, and two local addresses
// of one family, apart.
type listener struct {
	m     *Mux
	addr  netip.AddrPort // bound address, with the real port
	is4   bool
	socks []*net.UDPConn
	// senders, where the platform has UDP_SEGMENT (canGSO), send each
	// socket's datagrams in batches; else writes go straight to the socket.
	senders []*batchSender

	// mu guards the tables and the routes' addrs and removed fields. The
	// readers take it shared once per datagram; writers take it exclusively
	// only to change the tables. Lock order: Mux.mu, then mu.
	mu     sync.RWMutex
	ufrags map[string]*route
	addrs  map[netip.AddrPort]*addrEntry
}

// errAddrInUse is what binding an address that is taken returns.
var errAddrInUse = syscall.EADDRINUSE

// openListener binds n sockets to ap. When n > 1 they share the port with
// SO_REUSEPORT. A plain socket is bound first to claim or check the port:
// Linux lets a port-0 bind with SO_REUSEPORT land on a port that another
// reuseport group of the same user already has, which would silently mix
// the two groups' traffic, whereas a plain bind never does. What remains is
// the moment between closing the probe and binding the group, in which
// another program of the same user binding that very port with
// SO_REUSEPORT would join it; a plain bind there makes ours fail instead.
func openListener(m *Mux, ap netip.AddrPort, n, bufSize int, batchWrite bool) (*listener, error) {
	network := "udp4"
	if !ap.Addr().Is4() {
		network = "udp6"
	}
	l := &listener{
		m:      m,
		is4:    ap.Addr().Is4(),
		ufrags: make(map[string]*route),
		addrs:  make(map[netip.AddrPort]*addrEntry),
	}
	probe, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil, fmt.Errorf("udpmux: listen %s: %w", ap, err)
	}
	l.addr = unmap(probe.LocalAddr().(*net.UDPAddr).AddrPort()) //nolint:forcetypeassert // a UDP socket
	if n == 1 {
		l.socks = []*net.UDPConn{probe}
	} else {
		_ = probe.Close()
		lc := net.ListenConfig{Control: reusePort}
		for range n {
			pc, err := lc.ListenPacket(context.Background(), network, l.addr.String())
			if err != nil {
				_ = l.close()
				return nil, fmt.Errorf("udpmux: listen %s: %w", l.addr, err)
			}
			l.socks = append(l.socks, pc.(*net.UDPConn)) //nolint:forcetypeassert // a UDP socket
		}
	}
	if bufSize > 0 {
		for _, s := range l.socks {
			_ = s.SetReadBuffer(bufSize)
			_ = s.SetWriteBuffer(bufSize)
		}
	}
	if canGSO && batchWrite {
		for _, s := range l.socks {
			l.senders = append(l.senders, newBatchSender(s))
		}
	}
	return l, nil
}

func (l *listener) udpAddr() *net.UDPAddr { return net.UDPAddrFromAddrPort(l.addr) }

// serves reports whether GetConn for ap belongs to this listener: ap is its
// address, or one of the host's addresses of its family if it listens on
// the unspecified address.
func (l *listener) serves(ap netip.AddrPort) bool {
	if ap.Port() != l.addr.Port() || ap.Addr().Is4() != l.is4 {
		return false
	}
	return ap.Addr() == l.addr.Addr() || l.addr.Addr().IsUnspecified()
}

// listenAddresses returns what GetListenAddresses reports for l.
func (l *listener) listenAddresses(includeLoopback bool) []net.Addr {
	if !l.addr.Addr().IsUnspecified() {
		return []net.Addr{l.udpAddr()}
	}
	ifAddrs, err := net.InterfaceAddrs()
	if err != nil {
		l.m.log.Warn("udpmux: listing interface addresses", "err", err)
		return nil
	}
	var out []net.Addr
	for _, a := range ifAddrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		switch {
		case ip.Is4() != l.is4,
			// A link-local address needs a zone, and browsers drop them.
			ip.IsLinkLocalUnicast(),
			ip.IsLoopback() && !includeLoopback:
			continue
		}
		out = append(out, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, l.addr.Port())))
	}
	return out
}

// sockIndex picks the socket to send to dst from. All of them have the same
// address, so the peer cannot tell; spreading the writes keeps them from
// queueing on one socket's write lock.
func (l *listener) sockIndex(dst netip.AddrPort) int {
	if len(l.socks) == 1 {
		return 0
	}
	return int(dst.Port()) % len(l.socks)
}

// register maps dst to r, as pion's mux does when a connection first sends
// to an address: from then on datagrams from dst reach r even when they are
// not STUN (DTLS, SRTP). Mapping on send and not on receipt means a stranger
// cannot take one of r's address slots: the agent only sends to candidates
// from signaling and to peers that passed a check with the password.
func (l *listener) register(r *route, dst netip.AddrPort) {
	if e := r.last.Load(); e != nil && e.addr == dst && !e.dead.Load() {
		e.used.Store(r.tick.Add(1))
		return
	}
	l.mu.RLock()
	e := l.addrs[dst]
	l.mu.RUnlock()
	if e != nil && e.r == r && !e.dead.Load() {
		e.used.Store(r.tick.Add(1))
		r.last.Store(e)
		return
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if r.removed {
		return
	}
	e = l.addrs[dst]
	if e != nil && e.r != r {
		// Another connection sent there first; the latest sender takes the
		// address, as in pion's mux (a remote restarting ICE on one socket).
		e.r.dropAddrLocked(e)
		e = nil
	}
	if e == nil {
		if len(r.addrs) >= l.m.opts.MaxAddrsPerUfrag {
			victim := r.addrs[0]
			for _, a := range r.addrs[1:] {
				if a.used.Load() < victim.used.Load() {
					victim = a
				}
			}
			delete(l.addrs, victim.addr)
			r.dropAddrLocked(victim)
			l.m.addrsEvicted.Add(1)
		}
		e = &addrEntry{addr: dst, r: r}
		l.addrs[dst] = e
		r.addrs = append(r.addrs, e)
	}
	e.used.Store(r.tick.Add(1))
	r.last.Store(e)
}

// writeTo sends one datagram.
func (l *listener) writeTo(b []byte, dst netip.AddrPort) (int, error) {
	i := l.sockIndex(dst)
	if l.senders != nil {
		return l.senders[i].write(b, dst)
	}
	return l.socks[i].WriteToUDPAddrPort(b, dst)
}

// close closes the sockets, which ends their readers.
func (l *listener) close() error {
	for _, s := range l.senders {
		s.close() // sends what is queued first
	}
	var errs []error
	for _, s := range l.socks {
		if err := s.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
