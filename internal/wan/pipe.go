//go:build linux

package wan

import (
	"container/heap"
	"math/rand/v2"
	"os"
	"sync"
	"time"
)

const (
	// bufSize leaves room above mtu: the kernel never hands a TUN without offloads (no
	// IFF_VNET_HDR) a packet larger than its MTU.
	bufSize = 2048
	// maxInFlight bounds a delay line: 16384 full-size packets are 1 Gbit/s for 200 ms.
	maxInFlight = 16384
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// DirectionStats counts what one direction did since New. Once the direction is idle,
// Packets = Forwarded + WriteErrors + every Dropped*; before, the difference is InFlight plus
// the packets being written (counted just after their write returns).
type DirectionStats struct {
	// Packets and Bytes were read from the source TUN.
	Packets, Bytes uint64
	// Forwarded and ForwardedBytes were written to the destination TUN.
	Forwarded, ForwardedBytes uint64
	// DroppedLoss counts random and Gilbert–Elliott losses.
	DroppedLoss uint64
	// DroppedQueue counts drop-tail drops at the bandwidth cap.
	DroppedQueue uint64
	// DroppedDown counts packets dropped while the direction was Down, on arrival or in flight.
	DroppedDown uint64
	// DroppedOverflow counts packets dropped because the delay line held maxInFlight.
	DroppedOverflow uint64
	// Reordered counts packets held ReorderDelay longer.
	Reordered uint64
	// WriteErrors counts failed writes to the destination TUN.
	WriteErrors uint64
	// MaxLate is the longest a packet waited past its release time before the writer got to
	// it: how much a busy machine added to the configured delays.
	MaxLate time.Duration
	// QueueHighWater is the largest backlog of the bandwidth cap's queue, in bytes.
	QueueHighWater int64
	// InFlight is the number of packets in the delay line now.
	InFlight int
}

// packet is one IP packet waiting in a delay line.
type packet struct {
	release time.Time
	seq     uint64 // breaks ties so that equal release times keep arrival order
	buf     *[]byte
	n       int
}

// delayLine is a min-heap of packets by release time.
type delayLine []*packet

func (h delayLine) Len() int { return len(h) }
func (h delayLine) Less(i, j int) bool {
	if h[i].release.Equal(h[j].release) {
		return h[i].seq < h[j].seq
	}
	return h[i].release.Before(h[j].release)
}
func (h delayLine) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *delayLine) Push(x any)   { *h = append(*h, x.(*packet)) }
func (h *delayLine) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return p
}

// pipe is one direction of the link: a reader that decides each packet's fate and a writer
// that releases the survivors on time.
type pipe struct {
	src, dst *os.File
	wake     chan struct{} // capacity 1: a packet became the head of the line
	done     <-chan struct{}

	mu          sync.Mutex
	cfg         Direction
	rng         *rand.Rand
	bad         bool      // Gilbert–Elliott state
	busyUntil   time.Time // when the cap has serialised every packet it accepted
	lastRelease time.Time // release time of the last packet not picked for reordering
	seq         uint64
	line        delayLine
	stats       DirectionStats
}

func newPipe(src, dst *os.File, cfg Direction, seed, stream uint64, done <-chan struct{}) *pipe {
	return &pipe{
		src: src, dst: dst, done: done, cfg: cfg,
		wake: make(chan struct{}, 1),
		rng:  rand.New(rand.NewPCG(seed, stream)),
	}
}

func (p *pipe) set(d Direction) {
	p.mu.Lock()
	p.cfg = d
	p.mu.Unlock()
	p.signal() // a Down in flight must be applied by the writer, an earlier head released
}

func (p *pipe) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *pipe) snapshot() DirectionStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.InFlight = len(p.line)
	return s
}

// readLoop ends when the source TUN is closed.
func (p *pipe) readLoop() {
	for {
		b := bufPool.Get().(*[]byte)
		n, err := p.src.Read(*b)
		if err != nil {
			bufPool.Put(b)
			return
		}
		queued, head := p.admit(b, n, time.Now())
		if !queued {
			bufPool.Put(b)
		} else if head {
			p.signal() // otherwise the writer's timer is already set for an earlier packet
		}
	}
}

// admit applies the impairments to a packet read at now and queues it in the delay line. It
// reports whether the packet was queued, and whether it is now the first to be released.
func (p *pipe) admit(b *[]byte, n int, now time.Time) (queued, head bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := &p.cfg
	p.stats.Packets++
	p.stats.Bytes += uint64(n)
	if c.Down {
		p.stats.DroppedDown++
		return false, false
	}
	if len(p.line) >= maxInFlight { // before the cap, which must not count a packet it never sends
		p.stats.DroppedOverflow++
		return false, false
	}
	// Step the Gilbert–Elliott chain once per packet that reaches the loss stage, whether or
	// not the packet is then lost.
	if p.bad {
		if p.rng.Float64() < c.Burst.R {
			p.bad = false
		}
	} else if p.rng.Float64() < c.Burst.P {
		p.bad = true
	}
	geLoss := c.Burst.LossGood
	if p.bad {
		geLoss = c.Burst.LossBad
	}
	if (c.Loss > 0 && p.rng.Float64() < c.Loss) || (geLoss > 0 && p.rng.Float64() < geLoss) {
		p.stats.DroppedLoss++
		return false, false
	}
	depart := now
	if c.RateBps > 0 {
		var backlog int64
		if p.busyUntil.After(now) {
			backlog = int64(p.busyUntil.Sub(now).Seconds() * float64(c.RateBps) / 8)
		}
		if backlog+int64(n) > c.queueBytes() {
			p.stats.DroppedQueue++
			return false, false
		}
		p.stats.QueueHighWater = max(p.stats.QueueHighWater, backlog+int64(n))
		start := now
		if p.busyUntil.After(now) {
			start = p.busyUntil
		}
		p.busyUntil = start.Add(time.Duration(float64(n) * 8 / float64(c.RateBps) * float64(time.Second)))
		depart = p.busyUntil
	}
	release := depart.Add(c.Delay)
	if c.Jitter > 0 {
		release = release.Add(time.Duration(p.rng.Int64N(int64(c.Jitter))))
	}
	if release.Before(p.lastRelease) {
		release = p.lastRelease
	}
	p.lastRelease = release
	if c.ReorderProb > 0 && p.rng.Float64() < c.ReorderProb {
		release = release.Add(c.ReorderDelay)
		p.stats.Reordered++
	}
	p.seq++
	heap.Push(&p.line, &packet{release: release, seq: p.seq, buf: b, n: n})
	return true, p.line[0].seq == p.seq
}

// writeLoop releases packets at their release time until done is closed.
func (p *pipe) writeLoop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due []*packet
	for {
		now := time.Now()
		wait := time.Hour
		p.mu.Lock()
		for len(p.line) > 0 && !p.line[0].release.After(now) {
			pkt := heap.Pop(&p.line).(*packet)
			if p.cfg.Down {
				p.stats.DroppedDown++
				bufPool.Put(pkt.buf)
				continue
			}
			p.stats.MaxLate = max(p.stats.MaxLate, now.Sub(pkt.release))
			due = append(due, pkt)
		}
		if len(p.line) > 0 {
			wait = p.line[0].release.Sub(now)
		}
		p.mu.Unlock()

		var sent, sentBytes, failed uint64
		for i, pkt := range due {
			if _, err := p.dst.Write((*pkt.buf)[:pkt.n]); err != nil {
				failed++
			} else {
				sent++
				sentBytes += uint64(pkt.n)
			}
			bufPool.Put(pkt.buf)
			due[i] = nil
		}
		due = due[:0]
		if sent+failed > 0 {
			p.mu.Lock()
			p.stats.Forwarded += sent
			p.stats.ForwardedBytes += sentBytes
			p.stats.WriteErrors += failed
			p.mu.Unlock()
		}

		timer.Reset(wait)
		select {
		case <-p.done:
			return
		case <-p.wake:
		case <-timer.C:
		}
	}
}

// drain returns the buffers of the packets left in flight.
func (p *pipe) drain() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pkt := range p.line {
		bufPool.Put(pkt.buf)
	}
	p.line = nil
}
