package rangefs

import (
	"cmp"
	"context"
	"slices"

	"github.com/rangecast/rangecast/pkg/wire"
)

// item is one frame queued on a client stream. DATA items own buf, the pooled message buffer
// their Bytes point into.
type item struct {
	f   wire.Frame
	buf *[]byte
}

// creditMsg is a CREDIT waiting to be sent.
type creditMsg struct {
	stream uint32
	inc    uint32
}

// cstream is the client side of one request. Its fields are guarded by c.mu.
type cstream struct {
	c      *Client
	id     uint32
	window recvWindow
	notify chan struct{} // capacity 1: something was queued or the stream ended

	queue     []item
	buffered  int64 // DATA bytes in queue
	ended     bool
	end       *wire.End
	abandoned bool // the consumer gave up; DATA is dropped until END

	readAhead *seqReader // File.Read's stream: its DATA is a cache the session may reclaim
	direct    DirectTap  // a DirectRead's stream: its tap takes the DATA (client_direct.go)
	waiting   bool       // a consumer waits in next
	lastUse   uint64     // c.useSeq when the consumer last took a frame
}

func (s *cstream) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// next returns the next queued frame, or the END once the queue is empty. When END is
// returned the stream is already forgotten. It fails if ctx ends or the session fails; the
// caller then abandons the stream.
func (s *cstream) next(ctx context.Context) (item, *wire.End, error) {
	c := s.c
	for {
		c.mu.Lock()
		if len(s.queue) > 0 {
			it := s.queue[0]
			s.queue[0] = item{}
			s.queue = s.queue[1:]
			c.useSeq++
			s.lastUse = c.useSeq
			c.mu.Unlock()
			return it, nil, nil
		}
		if s.ended {
			c.removeLocked(s)
			c.mu.Unlock()
			return item{}, s.end, nil
		}
		s.waiting = true
		c.waiters++
		reclaimed := c.reclaimLocked()
		c.mu.Unlock()
		if reclaimed {
			c.flushCredit()
		}
		var err error
		select {
		case <-s.notify:
		case <-ctx.Done():
			err = ctx.Err()
		case <-c.done:
			// The read loop has ended: nothing more will be queued.
			c.mu.Lock()
			if len(s.queue) == 0 && !s.ended {
				err = c.err
			}
			c.mu.Unlock()
		}
		c.mu.Lock()
		s.waiting = false
		c.waiters--
		c.mu.Unlock()
		if err != nil {
			return item{}, nil, err
		}
	}
}

// reclaimLocked makes room in the session window for a consumer waiting for DATA. The
// session window bounds what all streams hold together, so read-ahead that nobody reads (a
// File read once and left open, a player's paused connection) could take all of it and stall
// every other request, as with HTTP/2's connection window. While the credit the server has
// left is below one stream window, the read-ahead streams nobody is reading are dropped,
// least recently used first: their queued DATA is credited back and the streams CANCELed (in
// flushCredit, which the caller runs). It reports whether it queued anything to send.
//
// A DirectRead's tap holds DATA the Client has not counted yet (DirectTap.Owed), at most one
// stream window each, so the taps are asked only when that could matter. A direct stream is
// reclaimed by releasing its tap, unless its consumer is waiting (DirectTap.Release).
func (c *Client) reclaimLocked() bool {
	win := int64(c.opts.StreamWindow)
	free := func() int64 { return c.session.size - c.session.used }
	var idle, direct []*cstream
	for _, s := range c.streams {
		switch {
		case s.abandoned:
		case s.direct != nil:
			direct = append(direct, s)
			if !s.ended {
				idle = append(idle, s) // its tap says whether its consumer waits
			}
		case s.readAhead != nil && !s.waiting:
			idle = append(idle, s)
		}
	}
	var owed int64
	if free()-int64(len(direct))*win < win {
		for _, s := range direct {
			owed += s.direct.Owed()
		}
	}
	room := func() bool { return free()-owed >= win }
	if room() {
		return false
	}
	slices.SortFunc(idle, func(a, b *cstream) int { return cmp.Compare(a.lastUse, b.lastUse) })
	queued := false
	for _, s := range idle {
		if room() {
			break
		}
		if s.direct != nil {
			if n, ok := s.direct.Release(false); ok {
				owed -= n
				c.dropDirectLocked(s, n)
				queued = true
			}
			continue
		}
		// The File's lock taken without waiting (the lock order is File, then Client): a
		// File that is being read right now is not idle. It also holds the DATA frame its
		// reader is part way through, which counts against the session too.
		r := s.readAhead
		if !r.f.mu.TryLock() {
			continue
		}
		held := r.cur.f != nil
		if s.buffered == 0 && !held {
			r.f.mu.Unlock()
			continue
		}
		if held {
			c.queueCreditLocked(0, c.session.consumed(int64(len(r.cur.f.(*wire.Data).Bytes))))
			if r.cur.buf != nil {
				putFrameBuf(r.cur.buf)
			}
			r.cur, r.rest = item{}, nil
		}
		r.done = true // its File's next Read starts a new stream where it stands
		r.f.mu.Unlock()
		if s.ended {
			c.removeLocked(s)
		} else {
			s.abandoned = true
			s.releaseQueueLocked()
			c.cancelQ = append(c.cancelQ, s.id)
		}
		s.signal()
		queued = true
	}
	// Whatever was consumed but not yet credited (credit goes in quarter-window batches) is
	// owed to the server now: a waiting consumer must not wait for a batch to fill.
	if inc := c.session.flush(); inc > 0 {
		c.queueCreditLocked(0, inc)
		queued = true
	}
	return queued
}

// consume returns the credit for n bytes of DATA the consumer has taken and recycles the
// item's buffer.
func (s *cstream) consume(it item, n int64) {
	c := s.c
	c.mu.Lock()
	s.buffered -= n
	c.queueCreditLocked(0, c.session.consumed(n))
	if !s.ended && !s.abandoned {
		c.queueCreditLocked(s.id, s.window.consumed(n))
	}
	send := len(c.creditQ) > 0
	c.mu.Unlock()
	if it.buf != nil {
		putFrameBuf(it.buf)
	}
	if send {
		c.flushCredit()
	}
}

// abandon gives up on the stream: CANCEL is sent unless END already arrived, queued DATA is
// credited back, and later DATA is dropped until END frees the stream id.
func (s *cstream) abandon() {
	c := s.c
	c.mu.Lock()
	if s.abandoned {
		c.mu.Unlock()
		return
	}
	s.abandoned = true
	ended := s.ended
	if ended {
		c.removeLocked(s)
	} else {
		s.releaseQueueLocked()
	}
	c.mu.Unlock()
	if !ended {
		if err := c.fr.writeFrame(s.id, &wire.Cancel{}); err != nil {
			c.fail(err)
		}
	}
	c.flushCredit()
}

// releaseQueueLocked drops queued items, crediting their DATA back to the session.
func (s *cstream) releaseQueueLocked() {
	c := s.c
	for i, it := range s.queue {
		if d, ok := it.f.(*wire.Data); ok {
			c.queueCreditLocked(0, c.session.consumed(int64(len(d.Bytes))))
		}
		if it.buf != nil {
			putFrameBuf(it.buf)
		}
		s.queue[i] = item{}
	}
	s.queue = s.queue[:0]
	s.buffered = 0
}

// release hands a stream whose range has been read whole back to the read loop, which frees
// it when END arrives. Unlike abandon it sends no CANCEL: nothing is left to stop.
func (s *cstream) release() {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.ended {
		c.removeLocked(s)
		return
	}
	s.abandoned = true
}
