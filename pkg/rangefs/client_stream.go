package rangefs

import (
	"context"

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
			c.mu.Unlock()
			return it, nil, nil
		}
		if s.ended {
			c.removeLocked(s)
			c.mu.Unlock()
			return item{}, s.end, nil
		}
		c.mu.Unlock()
		select {
		case <-s.notify:
		case <-ctx.Done():
			return item{}, nil, ctx.Err()
		case <-c.done:
			// The read loop has ended: nothing more will be queued.
			c.mu.Lock()
			pending := len(s.queue) > 0 || s.ended
			c.mu.Unlock()
			if !pending {
				return item{}, nil, c.err
			}
		}
	}
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
