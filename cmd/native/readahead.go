package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// readTrace: RANGECAST_READ_TRACE=1 makes the mount and the http gateway print every read
// they are asked for (its offset, size and how long it waited for its bytes) and every
// request they send the daemon (offset, size, time to its last byte) to stderr, timed to
// the microsecond: what a seek costs, read by read (docs/BENCHMARKS.md, Mount group).
var readTrace = os.Getenv("RANGECAST_READ_TRACE") == "1"

// tracef prints one line of the read trace.
func tracef(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05.000000")+" read-ahead: "+format+"\n", args...)
}

// rangeReader is what readAhead reads: a *rangefs.File, or the files of its io/fs adapter.
type rangeReader interface {
	Size() int64
	ReadAtProgress(ctx context.Context, p []byte, off int64, progress func(n int)) (int, error)
}

// readAhead reads a remote file for the mount and the http gateway, with an adaptive
// read-ahead modelled on the kernel's own: a read that jumps (a seek) fetches just its
// bytes; each read that continues a stream of reads (starting where the previous one
// ended, or inside what was fetched ahead for it) widens the stream's window to a quarter
// of what it has read since the jump (aheadGrowth), from minAhead up to maxAhead; the
// window is refilled once half of it has been read, in requests of up to aheadChunk. A
// request's bytes arrive in order and a read takes its own as soon as they are there
// (span.await), so one request for a window costs the read at its start no more than a
// request of its own. A player seeking in a film thus fetches little more than what it
// reads after each seek (what the window fetched beyond its last read is wasted, and on a
// busy session it delays the bytes that are read), while `cat` or `cp` keeps maxAhead in
// flight. A few streams are followed at once (maxStreams), for files read at two places in
// turn (a movie whose audio and video are far apart).
//
// The read-ahead uses ReadAt requests into buffers of its own, not the File's sequential
// stream: a stream's unread data holds the session's credit, and with many files open the
// kernel can wait on a read that needs credit while another file's stream holds it all (a
// deadlock seen with 16 concurrent readers). A ReadAt request keeps credit only while its
// bytes are being copied.
type readAhead struct {
	f      rangeReader
	ctx    context.Context // ends at close: stops the read-ahead
	cancel context.CancelFunc

	mu      sync.Mutex
	streams []*readStream // most recently used first, at most maxStreams
}

// readStream is one sequential reader of a file: the bytes [lo, hi) are fetched or being
// fetched, in spans sorted by offset and adjacent.
type readStream struct {
	start  int64 // where the stream began (its last jump)
	next   int64 // where its furthest read so far ended
	lo, hi int64
	spans  []*span
}

// span is one ReadAt request of the read-ahead. Its bytes arrive in order, and a read
// waits only for those it needs (filled), not for the whole request.
type span struct {
	off  int64
	buf  []byte
	done chan struct{}
	n    int // bytes read, once done
	err  error

	mu     sync.Mutex
	filled int           // buf[:filled] has arrived and is not written again
	more   chan struct{} // closed when filled grows, then replaced
}

func newSpan(from, to int64) *span {
	return &span{off: from, buf: make([]byte, to-from), done: make(chan struct{}), more: make(chan struct{})}
}

// progress records that buf[:n] has arrived and wakes the reads waiting for it.
func (sp *span) progress(n int) {
	sp.mu.Lock()
	sp.filled = n
	close(sp.more)
	sp.more = make(chan struct{})
	sp.mu.Unlock()
}

// await waits until buf[:k] has arrived or the request has ended, and returns how much of
// buf has arrived; ok is false if ctx ended first.
func (sp *span) await(ctx context.Context, k int) (filled int, ok bool) {
	for {
		sp.mu.Lock()
		filled, more := sp.filled, sp.more
		sp.mu.Unlock()
		if filled >= k {
			return filled, true
		}
		select {
		case <-more:
		case <-sp.done:
			sp.mu.Lock()
			defer sp.mu.Unlock()
			return sp.filled, true
		case <-ctx.Done():
			return 0, false
		}
	}
}

func (sp *span) end() int64 { return sp.off + int64(len(sp.buf)) }

const (
	minAhead    = 128 << 10 // the window of the first read after a jump that continues it
	maxAhead    = 4 << 20   // the widest window
	aheadGrowth = 4         // the window is what the stream read since its jump / aheadGrowth
	aheadChunk  = 1 << 20   // the largest request of the read-ahead
	maxStreams  = 4
)

func newReadAhead(f rangeReader) *readAhead {
	ctx, cancel := context.WithCancel(context.Background())
	return &readAhead{f: f, ctx: ctx, cancel: cancel}
}

// readAt reads into dest from off, as much as the file holds there, and returns how many
// bytes it read: fewer than len(dest) only at the end of the file (with no error).
func (h *readAhead) readAt(ctx context.Context, dest []byte, off int64) (n int, err error) {
	size := h.f.Size()
	if off >= size || len(dest) == 0 {
		return 0, nil
	}
	dest = dest[:min(int64(len(dest)), size-off)]
	end := off + int64(len(dest))
	var t0 time.Time
	if readTrace {
		t0 = time.Now()
	}
	s, spans := h.plan(off, end)
	if readTrace {
		defer func() { tracef("read %d+%d waited %v", off, n, time.Since(t0)) }()
	}
	for _, sp := range spans {
		from := max(off, sp.off) - sp.off
		need := min(end, sp.end()) - sp.off
		got, ok := sp.await(ctx, int(need))
		if !ok {
			return 0, ctx.Err()
		}
		if int64(got) < need {
			// The request ended before this read's bytes: an error, or the file ended
			// before its size said.
			if sp.err != nil {
				h.reset(s)
				return 0, sp.err
			}
		}
		if from >= int64(got) || off+int64(n) != sp.off+from {
			break
		}
		n += copy(dest[n:], sp.buf[from:min(int64(got), need)])
	}
	return n, nil
}

// plan finds or starts the stream that the read [off, end) belongs to, fetches what it
// lacks and what its window asks for, and returns the spans that hold [off, end).
func (h *readAhead) plan(off, end int64) (*readStream, []*span) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var s *readStream
	for i, c := range h.streams {
		if c.lo <= off && off <= max(c.hi, c.next) {
			s = c
			copy(h.streams[1:i+1], h.streams[:i])
			h.streams[0] = s
			break
		}
	}
	ahead := int64(0)
	if s == nil {
		// A jump: a stream of its own, which fetches only what is asked for until it is
		// read on. The least recently used stream makes room.
		if len(h.streams) == maxStreams {
			h.streams = h.streams[:maxStreams-1]
		}
		s = &readStream{start: off, next: off, lo: off, hi: off}
		h.streams = append([]*readStream{s}, h.streams...)
	} else {
		ahead = min(max((end-s.start)/aheadGrowth, minAhead), maxAhead)
		// What the reader has gone past is in the kernel's page cache: forget it.
		i := 0
		for i < len(s.spans) && s.spans[i].end() <= off {
			i++
		}
		s.spans = s.spans[i:]
		s.lo = off
		if len(s.spans) > 0 {
			s.lo = s.spans[0].off
		}
		s.hi = max(s.hi, s.lo)
	}
	s.next = max(s.next, end)
	size := h.f.Size()
	want := min(end+ahead, size)
	refill := want > s.hi && (want-s.hi >= ahead/2 || want == size)
	if s.hi < end || refill {
		to := end
		if refill {
			to = max(to, want)
		}
		for s.hi < to {
			h.fetch(s, s.hi, min(to, s.hi+aheadChunk))
		}
	}
	var out []*span
	for _, sp := range s.spans {
		if sp.off < end && sp.end() > off {
			out = append(out, sp)
		}
	}
	return s, out
}

// fetch starts reading [from, to) as the next span of s.
func (h *readAhead) fetch(s *readStream, from, to int64) {
	sp := newSpan(from, to)
	s.spans = append(s.spans, sp)
	s.hi = to
	go func() {
		defer close(sp.done)
		var t0 time.Time
		if readTrace {
			t0 = time.Now()
		}
		n, err := h.f.ReadAtProgress(h.ctx, sp.buf, sp.off, sp.progress)
		if readTrace {
			tracef("fetch %d+%d took %v", sp.off, len(sp.buf), time.Since(t0))
		}
		if err == io.EOF {
			err = nil
		}
		sp.n, sp.err = n, err
	}()
}

// reset forgets stream s after a failed request, so that the next read asks again.
func (h *readAhead) reset(s *readStream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, c := range h.streams {
		if c == s {
			h.streams = append(h.streams[:i], h.streams[i+1:]...)
			return
		}
	}
}

// close stops the read-ahead.
func (h *readAhead) close() { h.cancel() }
