//go:build !js

package udpmux

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"
)

// Server-reflexive addresses: the mux's own socket asks a STUN server what
// address its datagrams come from (a Binding request, RFC 8489), so that a
// daemon behind a NAT can advertise the NAT's mapping of its one port. pion's
// ice.UniversalUDPMux names the methods; pion/webrtc v4.2 does not hand a
// UDPMux set with SetICEUDPMux to the agent as its UDPMuxSrflx, so the daemon
// also asks for MappedAddrs itself and signals the srflx candidates
// (peer.NativeOptions.Reflexive).

// DefaultMappedTTL is how long a mapped address is taken from the cache
// before the server is asked again. Below the 30 s a Linux NAT keeps an
// unanswered UDP mapping: asking again also keeps the mapping alive.
const DefaultMappedTTL = 20 * time.Second

// stunBindingSuccess and stunBindingError are the Binding response types.
const (
	stunBindingSuccess = 0x0101
	stunBindingError   = 0x0111
)

// ErrNotImplemented is returned by GetRelayedAddr: relayed candidates use
// their own socket to the TURN server (pion's TURN client), not the mux's.
var ErrNotImplemented = errors.New("udpmux: not implemented")

var _ ice.UniversalUDPMux = (*Mux)(nil)

// srflxState is the Mux's table of Binding requests in flight and of the
// mapped addresses learned, per STUN server.
type srflxState struct {
	inflight atomic.Int32 // requests waiting: readers look for responses only then

	mu      sync.Mutex
	waiting map[[stun.TransactionIDSize]byte]chan netip.AddrPort
	cache   map[netip.AddrPort]mapped // by server address
	calls   map[netip.AddrPort]*mappedCall
}

type mapped struct {
	addr  netip.AddrPort
	local netip.AddrPort // the listener it was asked from
	at    time.Time
}

// mappedCall is one request in flight for a server, shared by concurrent
// callers.
type mappedCall struct {
	done chan struct{}
	res  mapped
	err  error
}

// deliverResponse hands a Binding response to the request waiting for it. It
// reports false if none is.
func (m *Mux) deliverResponse(p []byte, from netip.AddrPort) bool {
	s := &m.srflx
	if s.inflight.Load() == 0 || len(p) < stunHeaderSize {
		return false
	}
	var id [stun.TransactionIDSize]byte
	copy(id[:], p[8:stunHeaderSize])
	s.mu.Lock()
	ch := s.waiting[id]
	s.mu.Unlock()
	if ch == nil {
		return false
	}
	msg := &stun.Message{Raw: append([]byte(nil), p...)}
	if err := msg.Decode(); err != nil {
		return true // ours, but unreadable: the requester times out
	}
	if msg.Type.Class != stun.ClassSuccessResponse {
		return true
	}
	var xor stun.XORMappedAddress
	if err := xor.GetFrom(msg); err != nil {
		return true
	}
	ip, ok := netip.AddrFromSlice(xor.IP)
	if !ok {
		return true
	}
	select {
	case ch <- netip.AddrPortFrom(ip.Unmap(), uint16(xor.Port)): //nolint:gosec // a port
	default:
	}
	return true
}

// MappedAddr returns the address the STUN server at server sees the mux's
// datagrams come from: the NAT's mapping of the mux's port. It sends a
// Binding request from the first listener of server's address family, again
// every 250 ms until a response or the timeout, and caches the answer for
// DefaultMappedTTL. Concurrent callers for one server share one request.
func (m *Mux) MappedAddr(ctx context.Context, server netip.AddrPort, timeout time.Duration) (netip.AddrPort, error) {
	server = unmap(server)
	s := &m.srflx
	s.mu.Lock()
	if s.cache == nil {
		s.cache = map[netip.AddrPort]mapped{}
		s.calls = map[netip.AddrPort]*mappedCall{}
		s.waiting = map[[stun.TransactionIDSize]byte]chan netip.AddrPort{}
	}
	if c, ok := s.cache[server]; ok && time.Since(c.at) < DefaultMappedTTL {
		s.mu.Unlock()
		return c.addr, nil
	}
	call := s.calls[server]
	if call == nil {
		call = &mappedCall{done: make(chan struct{})}
		s.calls[server] = call
		go func() {
			call.res, call.err = m.bind(server, timeout)
			s.mu.Lock()
			delete(s.calls, server)
			if call.err == nil {
				s.cache[server] = call.res
			}
			s.mu.Unlock()
			close(call.done)
		}()
	}
	s.mu.Unlock()
	select {
	case <-call.done:
		return call.res.addr, call.err
	case <-ctx.Done():
		return netip.AddrPort{}, ctx.Err()
	}
}

// MappedAddrs returns every mapped address learned from the listener at
// local in the last DefaultMappedTTL, without asking anyone: what a daemon
// advertises as server-reflexive candidates of its host candidate at local.
func (m *Mux) MappedAddrs(local netip.AddrPort) []netip.AddrPort {
	local = unmap(local)
	l := m.listenerFor(local)
	s := &m.srflx
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []netip.AddrPort
	for _, c := range s.cache {
		if time.Since(c.at) >= DefaultMappedTTL || l == nil || c.local != l.addr {
			continue
		}
		dup := false
		for _, a := range out {
			dup = dup || a == c.addr
		}
		if !dup {
			out = append(out, c.addr)
		}
	}
	return out
}

// bind runs one Binding transaction with server.
func (m *Mux) bind(server netip.AddrPort, timeout time.Duration) (mapped, error) {
	var l *listener
	for _, c := range m.listeners {
		if c.addr.Addr().Is4() == server.Addr().Is4() {
			l = c
			break
		}
	}
	if l == nil {
		return mapped{}, fmt.Errorf("udpmux: no listener of %v's address family", server)
	}
	msg, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		return mapped{}, err
	}
	ch := make(chan netip.AddrPort, 1)
	s := &m.srflx
	s.mu.Lock()
	s.waiting[msg.TransactionID] = ch
	s.mu.Unlock()
	s.inflight.Add(1)
	defer func() {
		s.inflight.Add(-1)
		s.mu.Lock()
		delete(s.waiting, msg.TransactionID)
		s.mu.Unlock()
	}()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	retry := time.NewTicker(250 * time.Millisecond)
	defer retry.Stop()
	for {
		if _, err := l.writeTo(msg.Raw, server); err != nil && !errors.Is(err, net.ErrClosed) {
			return mapped{}, fmt.Errorf("udpmux: STUN binding to %v: %w", server, err)
		}
		select {
		case a := <-ch:
			return mapped{addr: a, local: l.addr, at: time.Now()}, nil
		case <-retry.C:
		case <-deadline.C:
			return mapped{}, fmt.Errorf("udpmux: no STUN binding response from %v within %v", server, timeout)
		case <-m.done:
			return mapped{}, ErrClosed
		}
	}
}

// GetXORMappedAddr is MappedAddr for pion's ice.UniversalUDPMux.
func (m *Mux) GetXORMappedAddr(serverAddr net.Addr, deadline time.Duration) (*stun.XORMappedAddress, error) {
	ua, ok := serverAddr.(*net.UDPAddr)
	if !ok || ua == nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidDestination, serverAddr)
	}
	a, err := m.MappedAddr(context.Background(), ua.AddrPort(), deadline)
	if err != nil {
		return nil, err
	}
	return &stun.XORMappedAddress{IP: a.Addr().AsSlice(), Port: int(a.Port())}, nil
}

// GetRelayedAddr is part of ice.UniversalUDPMux; relayed candidates do not
// go through the mux.
func (m *Mux) GetRelayedAddr(net.Addr, time.Duration) (*net.Addr, error) {
	return nil, ErrNotImplemented
}

// GetConnForURL is part of ice.UniversalUDPMux: a server-reflexive candidate
// shares its base's connection (routing is by ufrag, and by the remote
// addresses the connection sends to).
func (m *Mux) GetConnForURL(ufrag string, _ string, addr net.Addr) (net.PacketConn, error) {
	return m.GetConn(ufrag, addr)
}
