package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// relay is a user-space stand-in for netem, for kernels without the netem qdisc: a UDP
// relay on loopback that delays every datagram by a fixed one-way delay and drops some at
// random, in each direction.
//
// It listens on one socket (on 127.0.0.2, so that its traffic cannot be mistaken for the
// peers' own on 127.0.0.1) and forwards every datagram it receives to a fixed target, from
// one upstream socket per client address, as a NAT would; what the target sends back to
// that upstream socket goes back to the client from the listening socket. ICE then sees the
// relay's listening address as the target's candidate, and the target sees the client as
// the upstream socket's address (peer-reflexive).
//
// Each direction is a FIFO of packets with a due time, drained by one goroutine: the delay
// is the same for every packet, so the FIFO keeps order and the due times are monotonic.
// Losses are drawn from a PCG with a fixed seed per direction, so that runs see the same
// pattern for the same traffic: the n-th datagram of a direction is lost or not whatever
// the timing. Queues are bounded; beyond the bound packets are dropped
// (and counted as overflow, apart from the random losses).
type relay struct {
	ln     *net.UDPConn
	target netip.AddrPort
	delay  time.Duration

	up, down *relayQueue // client → target, target → client

	mu     sync.Mutex
	flows  map[netip.AddrPort]*net.UDPConn // by client address
	closed bool

	done chan struct{}
	wg   sync.WaitGroup
}

// relayOptions configures a relay.
type relayOptions struct {
	Listen netip.AddrPort // default 127.0.0.2:0
	Delay  time.Duration  // one way, each direction
	Loss   float64        // probability of dropping a datagram, each direction
	// Seeds of the loss draws: client → target, target → client.
	SeedUp, SeedDown uint64
}

const (
	relayMaxPackets = 4096    // per direction
	relayMaxBytes   = 8 << 20 // per direction
	relayMaxFlows   = 64
	relaySocketBuf  = 4 << 20
)

// newRelay starts a relay to target.
func newRelay(target netip.AddrPort, o relayOptions) (*relay, error) {
	if !o.Listen.IsValid() {
		o.Listen = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 2}), 0)
	}
	if o.Loss < 0 || o.Loss >= 1 || o.Delay < 0 {
		return nil, fmt.Errorf("relay: bad options %+v", o)
	}
	ln, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(o.Listen))
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	_ = ln.SetReadBuffer(relaySocketBuf)
	_ = ln.SetWriteBuffer(relaySocketBuf)
	r := &relay{
		ln: ln, target: target, delay: o.Delay,
		flows: map[netip.AddrPort]*net.UDPConn{},
		done:  make(chan struct{}),
	}
	r.up = newRelayQueue(o.Loss, rand.NewPCG(o.SeedUp, 0x9e3779b97f4a7c15))
	r.down = newRelayQueue(o.Loss, rand.NewPCG(o.SeedDown, 0x9e3779b97f4a7c15))
	r.wg.Add(3)
	go func() { defer r.wg.Done(); r.readClients() }()
	go func() { defer r.wg.Done(); r.up.drain(r.done) }()
	go func() { defer r.wg.Done(); r.down.drain(r.done) }()
	return r, nil
}

// addr is the address clients send to.
func (r *relay) addr() netip.AddrPort { return r.ln.LocalAddr().(*net.UDPAddr).AddrPort() }

// readClients forwards what clients send, creating an upstream socket per client.
func (r *relay) readClients() {
	buf := make([]byte, 64<<10)
	for {
		n, src, err := r.ln.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		up := r.flow(src)
		if up == nil {
			continue
		}
		r.up.push(buf[:n], up, r.target, r.delay)
	}
}

// flow returns the upstream socket of client src, starting it if new; nil when closed or
// full.
func (r *relay) flow(src netip.AddrPort) *net.UDPConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	if up, ok := r.flows[src]; ok || r.closed {
		return up
	}
	if len(r.flows) >= relayMaxFlows {
		return nil
	}
	la := netip.AddrPortFrom(r.addr().Addr(), 0)
	up, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(la))
	if err != nil {
		return nil
	}
	_ = up.SetReadBuffer(relaySocketBuf)
	_ = up.SetWriteBuffer(relaySocketBuf)
	r.flows[src] = up
	r.wg.Add(1)
	go func() { defer r.wg.Done(); r.readUpstream(up, src) }()
	return up
}

// readUpstream forwards what arrives on up back to client.
func (r *relay) readUpstream(up *net.UDPConn, client netip.AddrPort) {
	buf := make([]byte, 64<<10)
	for {
		n, _, err := up.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		r.down.push(buf[:n], r.ln, client, r.delay)
	}
}

// relayStats counts datagrams of one direction.
type relayStats struct {
	Forwarded, Lost, Overflow int64
}

func (s relayStats) String() string {
	return fmt.Sprintf("%d forwarded, %d lost (%.2f%%), %d overflow", s.Forwarded, s.Lost,
		100*float64(s.Lost)/float64(max(1, s.Forwarded+s.Lost+s.Overflow)), s.Overflow)
}

// stats returns the counters of each direction.
func (r *relay) stats() (up, down relayStats) { return r.up.stats(), r.down.stats() }

// close stops the relay and waits for its goroutines; queued packets are discarded.
func (r *relay) close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	_ = r.ln.Close()
	for _, c := range r.flows {
		_ = c.Close()
	}
	r.mu.Unlock()
	close(r.done)
	r.wg.Wait()
}

// relayQueue is one direction: a FIFO of datagrams with due times.
type relayQueue struct {
	loss float64

	mu    sync.Mutex
	rng   *rand.Rand
	q     []relayPacket // q[head:] are pending
	head  int
	bytes int
	wake  chan struct{} // signalled when the queue goes from empty to not
	st    relayStats

	forwarded atomic.Int64
}

type relayPacket struct {
	due  time.Time
	data []byte
	from *net.UDPConn // sent from this socket
	to   netip.AddrPort
}

func newRelayQueue(loss float64, src rand.Source) *relayQueue {
	return &relayQueue{loss: loss, rng: rand.New(src), wake: make(chan struct{}, 1)}
}

// push queues a copy of p, to be sent from from to to after delay, unless it is lost.
func (q *relayQueue) push(p []byte, from *net.UDPConn, to netip.AddrPort, delay time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.loss > 0 && q.rng.Float64() < q.loss {
		q.st.Lost++
		return
	}
	if len(q.q)-q.head >= relayMaxPackets || q.bytes+len(p) > relayMaxBytes {
		q.st.Overflow++
		return
	}
	wasEmpty := len(q.q) == q.head
	q.q = append(q.q, relayPacket{due: time.Now().Add(delay), data: append([]byte(nil), p...), from: from, to: to})
	q.bytes += len(p)
	if wasEmpty {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// drain sends each packet when it is due, until done is closed.
func (q *relayQueue) drain(done <-chan struct{}) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		q.mu.Lock()
		if q.head == len(q.q) {
			q.q, q.head = q.q[:0], 0
			q.mu.Unlock()
			select {
			case <-q.wake:
				continue
			case <-done:
				return
			}
		}
		p := q.q[q.head]
		q.mu.Unlock()
		if wait := time.Until(p.due); wait > 0 {
			t.Reset(wait)
			select {
			case <-t.C:
			case <-done:
				return
			}
		}
		_, _ = p.from.WriteToUDPAddrPort(p.data, p.to) // a full socket buffer drops it, as a link would
		q.forwarded.Add(1)
		q.mu.Lock()
		q.q[q.head] = relayPacket{}
		q.head++
		q.bytes -= len(p.data)
		// Compact once the sent prefix dominates, so that the slice does not grow forever.
		if q.head > 1024 && q.head*2 > len(q.q) {
			n := copy(q.q, q.q[q.head:])
			clear(q.q[n:])
			q.q, q.head = q.q[:n], 0
		}
		q.mu.Unlock()
	}
}

func (q *relayQueue) stats() relayStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.st
	s.Forwarded = q.forwarded.Load()
	return s
}

// errNoRoute: no candidate of the peer could be rerouted through a relay.
var errNoRoute = errors.New("relay: the peer offered no IPv4 loopback UDP host candidate")
