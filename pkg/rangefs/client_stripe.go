package rangefs

import (
	"context"
	"errors"
	"io"
	"sync"
)

// Striping: one file read over several sessions at once.
//
// A session runs on one peer connection, and a connection's SCTP association has one
// congestion window. Over a long lossy path that window sits near its floor, so one
// connection carries about floor ÷ RTT whatever the link could take (docs/WAN.md,
// "Striping"). A download that stripes its reads over sessions on several connections gets a
// window per connection.
const (
	// StripeChunk is how many bytes one READ of a striped read asks for.
	StripeChunk = 2 << 20
	// StripeDepth is how many chunks each session has in flight: enough to keep a connection
	// busy for the round trip it takes a READ to start answering (3 × 2 MiB is 30 MB/s at
	// 200 ms), within a session's default credit (16 MiB).
	StripeDepth = 3
	// StripeAhead is how many chunks each session adds to those handed out and not yet
	// returned by Read (in flight, waiting for a reader, or read and waiting for their
	// turn): while a chunk is held up on one connection (a retransmission timeout), the
	// others read this far past it before they wait.
	StripeAhead = 8
)

// stripeChunk is StripeChunk; tests make it smaller, to cut many chunks from small files.
var stripeChunk int64 = StripeChunk

// MaxStripes is how many sessions one striped read uses at most.
const MaxStripes = 8

// Striped reads a range of a file over several sessions and returns its bytes in order, as an
// io.Reader. The range is cut into chunks of StripeChunk bytes (the first ones smaller, growing
// from StripeChunk/32, so that the first bytes come soon); each session takes the next
// chunk whenever one of its StripeDepth reads finishes, so a slower session takes fewer, up to
// StripeAhead chunks per session past the one Read waits for (StripeChunk × StripeAhead of
// memory per session). A session that fails (its connection lost) leaves its chunks to the
// others; a read fails only when no session is left, or with an error about the file itself (a
// StatusError: it changed since Open, it was removed), which every session would meet. Read
// must not be called concurrently; Add may be called at any time; Close stops every read in
// flight and waits for them.
type Striped struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	f      *File
	work   chan *stripePiece // chunks that a session is to read
	dead   chan struct{}     // closed when no reader is left
	done   int               // bytes of queue[0] already returned; Read's alone

	mu        sync.Mutex     // guards the fields below
	queue     []*stripePiece // every chunk handed out and not yet returned, in order
	start     int64          // the offset the read began at
	next, end int64          // the offset of the next chunk to hand out; the file's size
	sessions  int            // sessions added
	live      int            // readers still running (StripeDepth per session)
	lastErr   error          // why the last reader stopped
	closed    bool
}

type stripePiece struct {
	off  int64
	buf  []byte
	n    int
	err  error
	done chan struct{}
}

// Striped returns a reader of n bytes of f from off (to its end if fewer are left) over f's
// session and each of others (Add puts more to work later). Every session reads the version of the file that f opened
// (by path, with f's ETag, as Clone does), so a change on the server fails the read with
// ErrChanged rather than mix versions. Close it when done.
func (f *File) Striped(ctx context.Context, off, n int64, others ...*Client) *Striped {
	ctx, cancel := context.WithCancel(ctx)
	s := &Striped{
		ctx: ctx, cancel: cancel, f: f,
		work:  make(chan *stripePiece, StripeAhead*MaxStripes),
		dead:  make(chan struct{}),
		start: off, next: off, end: f.info.size,
	}
	if n < s.end-off {
		s.end = off + n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(f)
	for _, c := range others {
		s.addLocked(&File{c: c, path: f.path, info: f.info})
	}
	return s
}

// Add puts another session to work on the read, from the next chunk not yet handed out. It
// does nothing once the read has failed or been closed, or with MaxStripes sessions at work.
func (s *Striped) Add(c *Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.sessions > 0 && s.live == 0 {
		return
	}
	s.addLocked(&File{c: c, path: s.f.path, info: s.f.info})
}

func (s *Striped) addLocked(f *File) {
	if s.sessions == MaxStripes {
		return
	}
	s.sessions++
	s.live += StripeDepth
	for range StripeAhead {
		s.handOutLocked(nil)
	}
	for range StripeDepth {
		s.wg.Add(1)
		go s.read(f)
	}
}

// handOutLocked queues the next chunk, if any is left, reusing buf.
func (s *Striped) handOutLocked(buf []byte) {
	if s.next >= s.end {
		return
	}
	// The first chunks are small, each as large as all handed out before it: every reader
	// starts at once and they share the path, so with whole chunks from the start the one
	// Read waits for took as long as all of them (two striped downloads sharing 20 Mbit/s
	// handed on nothing for most of their first 10 s; docs/BENCHMARKS.md).
	n := min(max(stripeChunk/32, s.next-s.start), stripeChunk, s.end-s.next)
	if cap(buf) < int(n) {
		buf = make([]byte, stripeChunk)
	}
	p := &stripePiece{off: s.next, buf: buf[:n], done: make(chan struct{})}
	s.next += n
	s.queue = append(s.queue, p)
	s.work <- p // never blocks: StripeAhead per session are out at most, the channel's capacity
}

// read is one of a session's StripeDepth readers: it reads chunks until the work is done,
// the reader is closed, or the session fails.
func (s *Striped) read(f *File) {
	defer s.wg.Done()
	for {
		var p *stripePiece
		select {
		case p = <-s.work:
		case <-s.ctx.Done():
			return
		}
		n, err := f.ReadAtContext(s.ctx, p.buf, p.off)
		if err != nil && s.ctx.Err() == nil {
			if _, ok := errors.AsType[*StatusError](err); !ok {
				// The session is gone: the others read this chunk, from its start.
				s.work <- p
				s.stop(err)
				return
			}
		}
		if err == nil && n < len(p.buf) {
			err = io.ErrUnexpectedEOF
		}
		p.n, p.err = n, err
		close(p.done)
	}
}

// stop records that one of a session's readers stopped on err; when no reader is left, Read
// returns the last such error.
func (s *Striped) stop(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live--
	s.lastErr = err
	if s.live == 0 {
		close(s.dead)
	}
}

// Read returns the next bytes of the file, in order.
func (s *Striped) Read(b []byte) (int, error) {
	s.mu.Lock()
	if len(s.queue) == 0 {
		s.mu.Unlock()
		return 0, io.EOF
	}
	p := s.queue[0]
	s.mu.Unlock()
	select {
	case <-p.done:
	case <-s.ctx.Done():
		return 0, s.ctx.Err()
	case <-s.dead:
		select {
		case <-p.done:
		default:
			s.mu.Lock()
			defer s.mu.Unlock()
			return 0, s.lastErr
		}
	}
	if p.err != nil {
		return 0, p.err
	}
	n := copy(b, p.buf[s.done:p.n])
	s.done += n
	if s.done == p.n {
		s.done = 0
		s.mu.Lock()
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.handOutLocked(p.buf)
		s.mu.Unlock()
	}
	return n, nil
}

// Close stops the reads in flight and waits for them.
func (s *Striped) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}
