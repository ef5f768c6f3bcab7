//go:build !js

package udpmux

import (
	"net/netip"
	"sync"
)

// maxPacket is the largest datagram the mux delivers: pion's ICE agent reads
// with an 8 KiB buffer (receiveMTU in pion/ice), so a larger datagram could
// not be read whole anyway. Larger ones count as malformed.
const maxPacket = 8192

// smallPacket is the buffer size that holds nearly every ICE datagram: pion
// and browsers keep DTLS records and SCTP packets under ~1,200 bytes of UDP
// payload. Copying into buffers of this size rather than maxPacket keeps a
// full queue at a quarter of the memory.
const smallPacket = 2048

var (
	smallPool = sync.Pool{New: func() any { b := make([]byte, smallPacket); return &b }}
	largePool = sync.Pool{New: func() any { b := make([]byte, maxPacket); return &b }}
)

// copyPacket returns a pooled buffer holding a copy of p (len(p) <=
// maxPacket); give it back with freePacket.
func copyPacket(p []byte) *[]byte {
	pool := &smallPool
	if len(p) > smallPacket {
		pool = &largePool
	}
	bp := pool.Get().(*[]byte) //nolint:forcetypeassert // the pools hold nothing else
	*bp = append((*bp)[:0], p...)
	return bp
}

func freePacket(bp *[]byte) {
	switch cap(*bp) {
	case smallPacket:
		smallPool.Put(bp)
	case maxPacket:
		largePool.Put(bp)
	}
}

// packet is one queued datagram.
type packet struct {
	buf  *[]byte
	from netip.AddrPort
}

// queue is a bounded FIFO of datagrams with any number of producers and
// consumers. push never blocks: when the queue is full it refuses the
// datagram, which the caller drops, as a UDP socket's full receive buffer
// would. Dropping is what ICE, DTLS and SCTP expect of a network; blocking
// would stall the mux's reader and with it every other connection on the
// socket.
type queue struct {
	mu     sync.Mutex
	ring   []packet // grows by doubling up to max
	max    int
	head   int // index of the oldest packet
	n      int
	closed bool

	// ready holds a token while the queue may be non-empty, so that a
	// consumer that found it empty can wait. A consumer that takes a packet
	// and leaves others behind passes the token on.
	ready chan struct{}
	// done is closed by close.
	done chan struct{}
}

// initialQueue is the ring a queue starts with: most connections never
// hold more, and hundreds of idle ones should not each carry a full ring.
const initialQueue = 16

func newQueue(capacity int) *queue {
	return &queue{
		ring:  make([]packet, min(initialQueue, capacity)),
		max:   capacity,
		ready: make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
}

// roomLocked makes room for one more packet if the bound allows; q.mu is
// held.
func (q *queue) roomLocked() bool {
	if q.n < len(q.ring) {
		return true
	}
	if len(q.ring) >= q.max {
		return false
	}
	ring := make([]packet, min(2*len(q.ring), q.max))
	for i := range q.n {
		ring[i] = q.ring[(q.head+i)%len(q.ring)]
	}
	q.ring, q.head = ring, 0
	return true
}

// pushResult says what push did with a datagram.
type pushResult int

const (
	pushed pushResult = iota
	pushFull
	pushClosed
)

// push copies p into the queue.
func (q *queue) push(p []byte, from netip.AddrPort) pushResult {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed:
		return pushClosed
	case !q.roomLocked():
		return pushFull
	}
	q.ring[(q.head+q.n)%len(q.ring)] = packet{buf: copyPacket(p), from: from}
	q.n++
	if q.n == 1 {
		q.signal()
	}
	return pushed
}

// pushBuf queues a datagram already in a pooled buffer, taking ownership of
// it whatever the result.
func (q *queue) pushBuf(pkt packet) pushResult {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed:
		freePacket(pkt.buf)
		return pushClosed
	case !q.roomLocked():
		freePacket(pkt.buf)
		return pushFull
	}
	q.ring[(q.head+q.n)%len(q.ring)] = pkt
	q.n++
	if q.n == 1 {
		q.signal()
	}
	return pushed
}

func (q *queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// pop copies the oldest datagram into b, truncating it as a UDP socket
// would if b is too short. ok is false if the queue is empty; closed is true
// if it is also closed.
func (q *queue) pop(b []byte) (n int, from netip.AddrPort, ok, closed bool) {
	q.mu.Lock()
	if q.n == 0 {
		closed = q.closed
		q.mu.Unlock()
		return 0, netip.AddrPort{}, false, closed
	}
	pkt := q.ring[q.head]
	q.ring[q.head] = packet{}
	q.head = (q.head + 1) % len(q.ring)
	q.n--
	if q.n > 0 {
		q.signal()
	}
	q.mu.Unlock()
	n = copy(b, *pkt.buf)
	freePacket(pkt.buf)
	return n, pkt.from, true, false
}

// len returns the number of queued datagrams.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// close drops the queued datagrams and refuses new ones; consumers waiting
// on done wake up.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.closed = true
	for ; q.n > 0; q.n-- {
		freePacket(q.ring[q.head].buf)
		q.ring[q.head] = packet{}
		q.head = (q.head + 1) % len(q.ring)
	}
	close(q.done)
}
