//go:build !js

package udpmux

import (
	"container/list"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
)

// Defaults applied to zero Options fields.
const (
	// DefaultAddr is where a Mux listens unless told otherwise: loopback,
	// with a port the kernel picks.
	DefaultAddr = "127.0.0.1:0"
	// DefaultQueueLen is the number of datagrams each connection holds
	// for its reader before the mux drops new ones: about what one SCTP
	// receive window (pion's default, 1 MiB) allows in flight, so that a
	// reader descheduled for a moment does not cost a retransmission.
	// Full, such a queue holds about 2 MiB.
	DefaultQueueLen = 1024
	// DefaultMaxAddrsPerUfrag is the number of remote addresses each
	// connection is reachable from by address alone.
	DefaultMaxAddrsPerUfrag = 16
	// DefaultMaxPendingUfrags is the number of unknown ufrags held for
	// Accept.
	DefaultMaxPendingUfrags = 256
	// DefaultPendingTTL is how long an unknown ufrag stays pending.
	DefaultPendingTTL = 10 * time.Second
	// DefaultSocketBufferSize is the receive and send buffer size asked for
	// on each socket. The kernel caps it (Linux: net.core.rmem_max and
	// wmem_max).
	DefaultSocketBufferSize = 4 << 20
	// DefaultBatch is the number of datagrams a reader takes from the
	// kernel per system call where recvmmsg exists (Linux).
	DefaultBatch = 32

	// maxReaders bounds Options.Readers.
	maxReaders = 64
	// maxBatch bounds Options.Batch (Linux caps recvmmsg at UIO_MAXIOV,
	// 1024).
	maxBatch = 256
	// maxHeld is the number of datagrams kept per pending ufrag, handed to
	// the connection that claims it so that its first checks need not wait
	// for a retransmission.
	maxHeld = 4
	// maxListenAttempts bounds the retries when a port picked for Addr is
	// taken on one of Addrs.
	maxListenAttempts = 8
)

// Options configures a Mux. The zero value listens on DefaultAddr with the
// defaults below.
type Options struct {
	// Addr is the local address to listen on: an IP literal and a port, such
	// as "127.0.0.1:0" or "[::1]:3478" (default DefaultAddr). Port 0 lets
	// the kernel pick one. An unspecified IP ("0.0.0.0:3478", "[::]:3478")
	// listens on every address of that family, and GetListenAddresses then
	// lists the host's addresses; each socket serves one address family
	// only, IPv6 sockets being IPV6_V6ONLY.
	Addr string

	// Addrs lists further addresses to listen on, in the same form, for
	// example "[::1]:0" beside "127.0.0.1:0" to serve both families. A port
	// of 0 here means Addr's port, so that every address shares one port
	// number.
	Addrs []string

	// Readers is the number of sockets, each with its own reader goroutine,
	// bound to each address with SO_REUSEPORT (Linux only; elsewhere it is
	// 1). The kernel spreads datagrams over them by a hash of the remote
	// address and port, so each flow stays on one socket and in order,
	// while different flows are read on different cores. Default:
	// GOMAXPROCS.
	Readers int

	// Batch is the number of datagrams a reader takes per system call
	// (Linux recvmmsg; elsewhere it is 1). Default DefaultBatch; 1 reads one
	// datagram per call.
	Batch int

	// NoBatchWrite sends every datagram from the writer's goroutine, one
	// system call each. By default, where Linux has UDP_SEGMENT, each socket
	// has a goroutine that sends runs of equal-sized datagrams to one address
	// in one sendmsg (GSO), which on loopback costs about what one datagram
	// does: it halves the CPU a bulk transfer costs the kernel. Datagrams
	// below about 1100 bytes are sent at once; full-sized ones may wait up to
	// 100 µs for others to join their run.
	NoBatchWrite bool

	// QueueLen bounds the datagrams each connection holds for its reader
	// (default DefaultQueueLen). A datagram arriving at a full queue is
	// dropped, never waited for.
	QueueLen int

	// MaxAddrsPerUfrag bounds the remote addresses mapped to each
	// connection (default DefaultMaxAddrsPerUfrag). A connection maps an
	// address when it first sends to it; past the bound, the address it
	// sent to least recently is unmapped, and only STUN from it still
	// arrives.
	MaxAddrsPerUfrag int

	// MaxPendingUfrags bounds the unknown ufrags held for Accept (default
	// DefaultMaxPendingUfrags). Past it, the oldest is forgotten.
	MaxPendingUfrags int

	// PendingTTL is how long an unknown ufrag stays pending if no GetConn
	// claims it (default DefaultPendingTTL).
	PendingTTL time.Duration

	// SocketBufferSize is the receive and send buffer size, in bytes, of
	// each socket (0: DefaultSocketBufferSize; negative: the system
	// default). A refused size is not an error.
	SocketBufferSize int

	// IncludeLoopback makes GetListenAddresses of an unspecified Addr also
	// list loopback addresses. RFC 8445 §5.1.1.1 keeps them out of candidate
	// lists, but a browser on the same host in a network namespace without
	// other interfaces can only reach the host's loopback address.
	IncludeLoopback bool

	// Logger receives the mux's rare diagnostics (unexpected read errors).
	// Default: none.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.Readers <= 0 {
		o.Readers = runtime.GOMAXPROCS(0)
	}
	o.Readers = min(o.Readers, maxReaders)
	if !canReusePort {
		o.Readers = 1
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	o.Batch = min(o.Batch, maxBatch)
	if !canBatch {
		o.Batch = 1
	}
	if o.QueueLen <= 0 {
		o.QueueLen = DefaultQueueLen
	}
	if o.MaxAddrsPerUfrag <= 0 {
		o.MaxAddrsPerUfrag = DefaultMaxAddrsPerUfrag
	}
	if o.MaxPendingUfrags <= 0 {
		o.MaxPendingUfrags = DefaultMaxPendingUfrags
	}
	if o.PendingTTL <= 0 {
		o.PendingTTL = DefaultPendingTTL
	}
	if o.SocketBufferSize == 0 {
		o.SocketBufferSize = DefaultSocketBufferSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Mux carries the ICE traffic of any number of connections on one UDP port
// (per address it listens on). It implements pion's ice.UDPMux: plug it in
// with webrtc.SettingEngine.SetICEUDPMux (peer.NativeOptions.UDPMux), once
// for every PeerConnection that should share the port.
//
// A connectivity check (a STUN message with a USERNAME) goes to the
// connection whose local ufrag it names, or else to the pending queue that
// Accept reads; any other datagram goes to the connection mapped to its
// source address (the addresses a connection has sent to). The rest is
// dropped. Each listen address has its own tables, so IPv4 and IPv6 never
// mix.
//
// All methods are safe for concurrent use. Close ends every goroutine the
// Mux started.
type Mux struct {
	opts      Options
	log       *slog.Logger
	listeners []*listener
	readers   []*reader
	wg        sync.WaitGroup // the readers
	done      chan struct{}  // closed by Close

	mu         sync.Mutex // guards the fields below, the refs of routes, and changes to listener.ufrags
	closed     bool
	pending    map[string]*pendingUfrag
	byAge      list.List                // of *pendingUfrag, oldest first
	unreported list.List                // of *pendingUfrag not yet returned by Accept, oldest first
	acceptable chan struct{}            // holds a token while unreported may be non-empty
	evicted    uint64                   // pending ufrags forgotten
	recent     map[string]*list.Element // ufrags of removed connections, in recentAge
	recentAge  list.List                // of closedUfrag, oldest first

	addrsEvicted atomic.Uint64

	srflx srflxState // STUN Binding requests of the mux's own (srflx.go)
}

var _ ice.UDPMux = (*Mux)(nil)

// New opens the sockets and starts their readers.
func New(opts Options) (*Mux, error) {
	opts = opts.withDefaults()
	m := &Mux{
		opts:       opts,
		log:        opts.Logger,
		done:       make(chan struct{}),
		pending:    make(map[string]*pendingUfrag),
		recent:     make(map[string]*list.Element),
		acceptable: make(chan struct{}, 1),
	}
	if err := m.listen(); err != nil {
		return nil, err
	}
	for _, l := range m.listeners {
		for _, s := range l.socks {
			rd := newReader(m, l, s, opts.Batch)
			m.readers = append(m.readers, rd)
			m.wg.Go(rd.run)
		}
	}
	return m, nil
}

// listen binds every address; a port of 0 in Addrs takes Addr's port, and
// if that port is taken there, the whole set is tried again with a new one.
func (m *Mux) listen() error {
	first, err := parseAddr(m.opts.Addr)
	if err != nil {
		return err
	}
	more := make([]netip.AddrPort, len(m.opts.Addrs))
	for i, s := range m.opts.Addrs {
		if more[i], err = parseAddr(s); err != nil {
			return err
		}
	}
	attempts := 1
	if first.Port() == 0 {
		attempts = maxListenAttempts
	}
	for range attempts {
		ls, err := m.listenAll(first, more)
		if err == nil {
			m.listeners = ls
			return nil
		}
		if !errors.Is(err, errPortTaken) {
			return err
		}
	}
	return fmt.Errorf("udpmux: no port free on every address after %d attempts", attempts)
}

var errPortTaken = errors.New("udpmux: port taken")

func (m *Mux) listenAll(first netip.AddrPort, more []netip.AddrPort) ([]*listener, error) {
	l0, err := openListener(m, first, m.opts.Readers, m.opts.SocketBufferSize, !m.opts.NoBatchWrite)
	if err != nil {
		// With several readers the port is free when probed and bound a
		// moment later; if someone took it between, pick another.
		if first.Port() == 0 && errors.Is(err, errAddrInUse) {
			return nil, errPortTaken
		}
		return nil, err
	}
	ls := []*listener{l0}
	for _, ap := range more {
		sharedPort := ap.Port() == 0
		if sharedPort {
			ap = netip.AddrPortFrom(ap.Addr(), l0.addr.Port())
		}
		l, err := openListener(m, ap, m.opts.Readers, m.opts.SocketBufferSize, !m.opts.NoBatchWrite)
		if err != nil {
			for _, l := range ls {
				l.close()
			}
			if sharedPort && first.Port() == 0 && errors.Is(err, errAddrInUse) {
				return nil, errPortTaken
			}
			return nil, err
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// parseAddr parses an IP literal and port; an IPv4-mapped IPv6 address is
// taken as IPv4.
func parseAddr(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("udpmux: address %q: want an IP literal and a port: %w", s, err)
	}
	return unmap(ap), nil
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	if ap.Addr().Is4In6() {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return ap
}

// LocalAddr returns the address of the first listener, Options.Addr with the
// port the kernel picked.
func (m *Mux) LocalAddr() net.Addr { return m.listeners[0].udpAddr() }

// Port returns the port of the first listener.
func (m *Mux) Port() int { return int(m.listeners[0].addr.Port()) }

// LocalAddrs returns the address of every listener, in the order of Addr and
// Addrs.
func (m *Mux) LocalAddrs() []net.Addr {
	out := make([]net.Addr, len(m.listeners))
	for i, l := range m.listeners {
		out[i] = l.udpAddr()
	}
	return out
}

// GetListenAddresses returns the addresses ICE should gather host candidates
// on: each listen address, or for an unspecified one the host's addresses of
// its family with its port. It is part of ice.UDPMux.
func (m *Mux) GetListenAddresses() []net.Addr {
	var out []net.Addr
	for _, l := range m.listeners {
		out = append(out, l.listenAddresses(m.opts.IncludeLoopback)...)
	}
	return out
}

// GetConn returns a connection for the local ufrag on the listen address
// addr (one that GetListenAddresses returned). Calls with the same ufrag and
// address share one queue and one set of remote addresses; the connection
// lives until every one of them is closed or RemoveConnByUfrag is called.
// Datagrams held for the ufrag while it was pending (see Accept) are
// delivered to it first. It is part of ice.UDPMux; pion's agent calls it
// once per host candidate while gathering.
//
// The returned net.PacketConn also has pion's allocation-free
// ReadFromAddrPort and WriteToAddrPort. Its reads return whole datagrams
// (truncated, like a UDP socket's, if the buffer is short) and honour read
// deadlines; its writes go straight to the socket, and write deadlines are
// accepted and ignored, since the socket is shared and a UDP send does not
// wait for the network.
func (m *Mux) GetConn(ufrag string, addr net.Addr) (net.PacketConn, error) {
	if ufrag == "" || len(ufrag) > maxUfragLen {
		return nil, ErrInvalidUfrag
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok || ua == nil {
		return nil, fmt.Errorf("%w: %v", ErrUnknownAddress, addr)
	}
	ap := unmap(ua.AddrPort())
	l := m.listenerFor(ap)
	if l == nil {
		return nil, fmt.Errorf("%w: %v", ErrUnknownAddress, addr)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	r := l.ufrags[ufrag] // changes only under m.mu
	if r == nil {
		r = newRoute(l, ufrag, m.opts.QueueLen)
		l.mu.Lock()
		l.ufrags[ufrag] = r
		l.mu.Unlock()
		m.forgetClosedLocked(ufrag)
		m.claimLocked(ufrag, r)
	}
	r.refs++
	return newConn(m, r, net.UDPAddrFromAddrPort(ap)), nil
}

func (m *Mux) listenerFor(ap netip.AddrPort) *listener {
	for _, l := range m.listeners {
		if l.serves(ap) {
			return l
		}
	}
	return nil
}

// RemoveConnByUfrag removes the connections of a local ufrag on every listen
// address, with their remote addresses and queued datagrams; their pending
// and later reads and writes fail with an error matching net.ErrClosed. It
// is part of ice.UDPMux; pion's agent calls it when it closes.
func (m *Mux) RemoveConnByUfrag(ufrag string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.listeners {
		if r := l.ufrags[ufrag]; r != nil {
			m.removeRouteLocked(r)
		}
	}
	if p := m.pending[ufrag]; p != nil {
		m.dropPendingLocked(p)
	}
}

// release drops one reference to r, removing it with the last.
func (m *Mux) release(r *route) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.refs--
	if r.refs <= 0 {
		m.removeRouteLocked(r)
	}
}

// removeRouteLocked takes r out of its listener's tables and closes its
// queue. m.mu is held.
func (m *Mux) removeRouteLocked(r *route) {
	l := r.l
	l.mu.Lock()
	if r.removed {
		l.mu.Unlock()
		return
	}
	r.removed = true
	if l.ufrags[r.ufrag] == r {
		delete(l.ufrags, r.ufrag)
	}
	for _, e := range r.addrs {
		if l.addrs[e.addr] == e {
			delete(l.addrs, e.addr)
		}
		e.dead.Store(true)
	}
	r.addrs = nil
	l.mu.Unlock()
	r.q.close()
	m.rememberClosedLocked(r.ufrag, time.Now())
}

// Close closes the sockets, waits for the readers to end, and closes every
// connection; their pending and later I/O fails with an error matching
// net.ErrClosed, and Accept and GetConn return ErrClosed. It is part of
// ice.UDPMux (io.Closer). Closing twice returns nil.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.done)
	m.mu.Unlock()

	var errs []error
	for _, l := range m.listeners {
		errs = append(errs, l.close())
	}
	m.wg.Wait()

	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.listeners {
		for _, r := range l.ufrags {
			m.removeRouteLocked(r)
		}
	}
	for _, p := range m.pending {
		m.dropPendingLocked(p)
	}
	clear(m.recent)
	m.recentAge.Init()
	return errors.Join(errs...)
}

var _ io.Closer = (*Mux)(nil)
