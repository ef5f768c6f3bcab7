//go:build !js

package udpmux

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// source reads datagrams from one socket, one or a batch per system call.
type source interface {
	// read waits for at least one datagram and returns how many it read.
	read() (int, error)
	// datagram returns the i-th datagram of the last read; p is valid until
	// the next read.
	datagram(i int) (p []byte, from netip.AddrPort)
}

// singleSource reads one datagram per call, where recvmmsg is unavailable
// or Options.Batch is 1.
type singleSource struct {
	sock *net.UDPConn
	buf  []byte
	n    int
	from netip.AddrPort
}

func newSingleSource(sock *net.UDPConn) *singleSource {
	// One byte more than maxPacket, to tell a datagram of maxPacket bytes
	// from a longer one the socket truncated.
	return &singleSource{sock: sock, buf: make([]byte, maxPacket+1)}
}

func (s *singleSource) read() (int, error) {
	var err error
	s.n, s.from, err = s.sock.ReadFromUDPAddrPort(s.buf)
	if err != nil {
		return 0, err
	}
	return 1, nil
}

func (s *singleSource) datagram(int) ([]byte, netip.AddrPort) { return s.buf[:s.n], s.from }

// reader is the goroutine that drains one socket and routes each datagram.
// Its counters are its own, so readers on different cores do not share a
// cache line per datagram.
type reader struct {
	m   *Mux
	l   *listener
	src source
	st  readerStats
}

type readerStats struct {
	_         [64]byte
	in        atomic.Uint64
	delivered atomic.Uint64
	held      atomic.Uint64
	full      atomic.Uint64
	unknown   atomic.Uint64
	malformed atomic.Uint64
	_         [64]byte
}

func newReader(m *Mux, l *listener, sock *net.UDPConn, batch int) *reader {
	var src source
	if batch > 1 {
		src = newBatchSource(sock, batch)
	}
	if src == nil {
		src = newSingleSource(sock)
	}
	return &reader{m: m, l: l, src: src}
}

// run reads until the socket is closed.
func (rd *reader) run() {
	var failures int
	for {
		n, err := rd.src.read()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A UDP read fails for transient reasons only (ENOMEM, an ICMP
			// error reported on the socket); keep going, but do not spin.
			failures++
			rd.m.log.Warn("udpmux: read", "addr", rd.l.addr, "err", err)
			if failures > 10 {
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		failures = 0
		for i := range n {
			p, from := rd.src.datagram(i)
			rd.dispatch(p, from)
		}
	}
}

// dispatch routes one datagram: a STUN message with a USERNAME (a
// connectivity check) by the local ufrag it names, or else to the pending
// queue; anything else (DTLS, SRTP, STUN responses) by its source address.
// Checks never go by address, unlike in pion's mux: the agent drops a check
// whose USERNAME is not its own, and this way two sessions from one remote
// socket (a remote that multiplexes too) each get their own checks, and a
// known remote can still start a new session.
func (rd *reader) dispatch(p []byte, from netip.AddrPort) {
	c := rd.route(p, from)
	c.Add(1)
	// Counted last, so that once PacketsIn shows a datagram, its fate shows
	// too.
	rd.st.in.Add(1)
}

// route delivers or holds one datagram and returns the counter of its fate.
func (rd *reader) route(p []byte, from netip.AddrPort) *atomic.Uint64 {
	st := &rd.st
	if len(p) > maxPacket {
		return &st.malformed
	}
	from = unmap(from)

	var info stunInfo
	looksSTUN := isSTUN(p)
	stunOK := false
	if looksSTUN {
		var err error
		info, err = parseSTUN(p)
		stunOK = err == nil
	}
	check := stunOK && info.username != nil
	if stunOK && !check && (info.msgType == stunBindingSuccess || info.msgType == stunBindingError) &&
		rd.m.deliverResponse(p, from) {
		return &st.delivered // an answer to the mux's own Binding request (srflx.go)
	}

	l := rd.l
	var r *route
	l.mu.RLock()
	if check {
		r = l.ufrags[string(localUfrag(info.username))]
	} else if e := l.addrs[from]; e != nil {
		r = e.r
	}
	l.mu.RUnlock()

	if r == nil {
		switch {
		case looksSTUN && !stunOK:
			return &st.malformed
		case !check:
			return &st.unknown
		}
		var res holdResult
		res, r = rd.m.hold(l, info, p, from)
		switch res {
		case holdHeld:
			return &st.held
		case holdRouted: // a connection appeared meanwhile
		default:
			return &st.unknown
		}
	}

	switch r.q.push(p, from) {
	case pushed:
		return &st.delivered
	case pushFull:
		return &st.full
	default: // the connection closed since the lookup
		return &st.unknown
	}
}
