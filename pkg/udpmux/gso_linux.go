//go:build !js && linux

package udpmux

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// canGSO says that the kernel can take a run of equal-sized datagrams in one
// sendmsg(2) with UDP_SEGMENT (Linux 4.18+), which is what a batchSender does.
const canGSO = true

// Batching limits. A run sent with UDP_SEGMENT holds at most gsoMaxSegments
// datagrams and gsoMaxBytes bytes (the kernel's limits are 64 segments and
// one IP datagram, 65535 bytes with headers).
const (
	gsoMaxSegments = 64
	gsoMaxBytes    = 65000
	// gsoFullSize: a datagram this large is assumed to be part of a bulk
	// transfer (an SCTP packet of pion's 1191-byte MTU in a DTLS record is
	// 1228 bytes) and may wait up to gsoDelay for more to join its run; a
	// smaller one (a STUN check, a SACK, the tail of a message) flushes the
	// queue at once, so that a request or an answer is never delayed.
	gsoFullSize = 1100
	gsoDelay    = 100 * time.Microsecond
	// senderMaxQueued bounds the bytes a batchSender holds; writers block above it
	// as they would on a full socket buffer.
	senderMaxQueued = 1 << 20
)

// batchSender sends one socket's datagrams from its own goroutine, so that the
// datagrams that pion writes one by one go out in runs: one sendmsg with
// UDP_SEGMENT for a run of equal-sized datagrams to one address, which costs
// the kernel (on loopback, batchSender and receiver) about what one datagram
// costs. Write copies the datagram and returns; like a socket, it reports
// no delivery errors.
type batchSender struct {
	sock *net.UDPConn
	wake chan struct{} // capacity 1: something to flush
	done chan struct{} // closed by the goroutine when it ends

	mu      sync.Mutex
	notFull *sync.Cond
	q       []pendingDatagram
	buf     []byte // the queued datagrams, back to back in q's order
	urgent  bool   // a small datagram is queued: flush now
	closed  bool

	gsoOff bool // the kernel refused UDP_SEGMENT: send one by one (goroutine only)
	oob    []byte
}

type pendingDatagram struct {
	dst netip.AddrPort
	n   int
}

func newBatchSender(sock *net.UDPConn) *batchSender {
	s := &batchSender{
		sock: sock,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
		oob:  make([]byte, unix.CmsgSpace(2)),
	}
	s.notFull = sync.NewCond(&s.mu)
	go s.run()
	return s
}

var errSenderClosed = errors.New("udpmux: socket closed")

// write queues b for dst.
func (s *batchSender) write(b []byte, dst netip.AddrPort) (int, error) {
	s.mu.Lock()
	for !s.closed && len(s.buf) > 0 && len(s.buf)+len(b) > senderMaxQueued {
		s.notFull.Wait()
	}
	if s.closed {
		s.mu.Unlock()
		return 0, errSenderClosed
	}
	first := len(s.q) == 0
	s.q = append(s.q, pendingDatagram{dst: dst, n: len(b)})
	s.buf = append(s.buf, b...)
	signal := first
	if len(b) < gsoFullSize && !s.urgent {
		s.urgent, signal = true, true
	}
	if len(s.q) == gsoMaxSegments {
		signal = true
	}
	s.mu.Unlock()
	if signal {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return len(b), nil
}

// close stops the goroutine after it has sent what is queued; writes fail from then on.
func (s *batchSender) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.notFull.Broadcast()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	<-s.done
}

func (s *batchSender) run() {
	defer close(s.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var q []pendingDatagram
	var buf []byte
	for {
		<-s.wake
		// Give a bulk transfer's datagrams gsoDelay to gather, unless something
		// asks for a flush.
		s.mu.Lock()
		wait := !s.urgent && !s.closed && len(s.q) > 0 && len(s.q) < gsoMaxSegments
		s.mu.Unlock()
		if wait {
			timer.Reset(gsoDelay)
			select {
			case <-timer.C:
			case <-s.wake:
				timer.Stop()
			}
		}
		s.mu.Lock()
		q, s.q = s.q, q[:0]
		buf, s.buf = s.buf, buf[:0]
		s.urgent = false
		closed := s.closed
		s.mu.Unlock()
		s.notFull.Broadcast()
		s.flush(q, buf)
		if closed {
			return
		}
	}
}

// flush sends q, whose datagrams are back to back in buf, in runs.
func (s *batchSender) flush(q []pendingDatagram, buf []byte) {
	for i, off := 0, 0; i < len(q); {
		// A run: datagrams to one address, all of the first one's size but
		// the last, which may be shorter.
		dst, size := q[i].dst, q[i].n
		j, end := i+1, off+size
		for j < len(q) && j-i < gsoMaxSegments && q[j].dst == dst && q[j].n <= size && end+q[j].n <= gsoMaxBytes && !s.gsoOff {
			end += q[j].n
			j++
			if q[j-1].n < size {
				break
			}
		}
		if j-i == 1 || !s.sendRun(buf[off:end], size, dst) {
			for k, o := i, off; k < j; k++ {
				_, _ = s.sock.WriteToUDPAddrPort(buf[o:o+q[k].n], dst)
				o += q[k].n
			}
		}
		i, off = j, end
	}
}

// sendRun sends b as datagrams of size bytes with UDP_SEGMENT. It reports
// false if the kernel refused the option, which turns it off for good.
func (s *batchSender) sendRun(b []byte, size int, dst netip.AddrPort) bool {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&s.oob[0]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&s.oob[unix.CmsgLen(0)])) = uint16(size) //nolint:gosec // at most gsoMaxBytes
	_, _, err := s.sock.WriteMsgUDPAddrPort(b, s.oob, dst)
	if err == nil {
		return true
	}
	var errno unix.Errno
	if errors.As(err, &errno) && (errno == unix.EINVAL || errno == unix.EIO || errno == unix.ENOPROTOOPT || errno == unix.EOPNOTSUPP) {
		s.gsoOff = true
		return false
	}
	return true // another error (a full buffer, an unreachable address): dropped, as UDP may
}
