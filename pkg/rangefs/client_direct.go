package rangefs

import (
	"context"
	"fmt"

	"github.com/rangecast/rangecast/pkg/wire"
)

// DirectTap is the receiving end of a DirectRead: it takes the stream's DATA frames out of the
// transport before the Client reads them, checks that each comes at the offset after the last
// (a frame that does not is left to the Client, which fails the session), and hands the bytes
// to its consumer. In the browser it is web/boot.js's, in the DataChannel's message event.
//
// Its methods are called with the Client's lock held: they must not call the Client.
type DirectTap interface {
	// Route starts taking the DATA frames of stream id, whose credit is window bytes: the tap
	// never owes more than that, and leaves a frame that would take it further to the Client
	// (the server went beyond its credit). It is called before the READ is sent.
	Route(id uint32, window uint32)
	// Owed returns how many DATA bytes it has taken and not yet reported with Taken.
	Owed() int64
	// Release stops taking the stream's DATA (what arrives from then on reaches the Client,
	// which drops it) and returns what it owed, which then counts as reported. Unless force is
	// set, a tap whose consumer is waiting for bytes refuses: it changes nothing and returns
	// false. The bytes it holds stay its consumer's.
	Release(force bool) (owed int64, ok bool)
}

// DirectRead is a READ of a file from an offset to its end whose DATA never passes through
// the Client: a DirectTap takes the frames out of the transport, and the caller reports the
// bytes its consumer takes with Taken. The Client keeps the rest of the protocol: the READ
// and its END, CREDIT for what was taken, and the session's room, counting what the taps owe.
//
// The browser client reads File.stream() so: every message that reaches Go costs a call from
// JavaScript into the wasm, so the bytes of a stream go from the DataChannel to the
// ReadableStream as views of the messages, and Go hears of them a quarter window at a time
// (cmd/wasm/file_js.go, web/boot.js).
//
// Like a sequential Read's read-ahead, a direct stream is a cache the session may take back
// when another request needs room and its consumer is not waiting: the tap is released, the
// stream CANCELed, and Wait returns ErrReleased; a new DirectRead then goes on from where the
// consumer stands.
type DirectRead struct {
	f *File
	s *cstream
}

// ReadDirect starts a DirectRead of f from off to its end through tap: tap.Route is called
// with the stream's id before the READ is sent. Close it when done.
func (f *File) ReadDirect(ctx context.Context, off int64, tap DirectTap) (*DirectRead, error) {
	if f.isClosed() {
		return nil, errFileClosed
	}
	if off < 0 || off > f.info.size {
		return nil, &StatusError{Op: "read", Path: f.path, Status: wire.StatusRangeInvalid, Message: fmt.Sprintf("offset %d outside the file (%d bytes)", off, f.info.size)}
	}
	r := f.readFrame(off, f.info.size-off)
	s, err := f.c.requestWith(ctx, r, func(s *cstream) {
		s.direct = tap
		tap.Route(s.id, uint32(s.window.size))
	})
	if err != nil {
		return nil, err
	}
	return &DirectRead{f: f, s: s}, nil
}

// Taken reports n more bytes that the tap took and its consumer has: they are credited back
// to the server like bytes read from any stream.
func (d *DirectRead) Taken(n int64) {
	c := d.s.c
	c.mu.Lock()
	c.takenLocked(d.s, n)
	c.mu.Unlock()
	c.flushCredit()
}

// takenLocked counts n bytes of s that its tap took as received and consumed.
func (c *Client) takenLocked(s *cstream, n int64) {
	if n <= 0 {
		return
	}
	c.bytesIn.Add(n)
	// The windows cannot be exceeded here: a tap owes at most a stream window, and the
	// session's used bytes lag behind what the taps hold, never ahead of it.
	c.session.onData(n)
	c.queueCreditLocked(0, c.session.consumed(n))
	if c.streams[s.id] == s && !s.ended && !s.abandoned {
		s.window.onData(n)
		c.queueCreditLocked(s.id, s.window.consumed(n))
	}
	c.useSeq++
	s.lastUse = c.useSeq
}

// dropDirectLocked lets go of a direct stream whose tap was released owing n bytes: they are
// credited back to the session, the stream is CANCELed unless it has ended (in flushCredit,
// which the caller runs), and what still arrives for it is dropped. The session's reclaim and
// Close both end a direct stream so.
func (c *Client) dropDirectLocked(s *cstream, n int64) {
	c.bytesIn.Add(n)
	c.session.onData(n)
	c.queueCreditLocked(0, c.session.consumed(n))
	s.abandoned = true
	if s.ended {
		c.removeLocked(s)
	} else {
		s.window.onData(n) // what arrives after counts against the rest of the window
		c.cancelQ = append(c.cancelQ, s.id)
	}
	s.signal()
}

// Wait waits until the READ has ended: nil once the server has sent its last byte (the tap has
// taken them all), the READ's *StatusError, ErrReleased if the session took the stream back
// (or it was closed), the session's error, or ctx's (the stream is still open then: Close it).
func (d *DirectRead) Wait(ctx context.Context) error {
	s, c := d.s, d.s.c
	for {
		c.mu.Lock()
		switch {
		case s.abandoned: // released, or closed
			c.mu.Unlock()
			return ErrReleased
		case len(s.queue) > 0: // INFO or ENTRIES in a READ's answer
			it := s.queue[0]
			c.mu.Unlock()
			return c.protocolFailure(it.f)
		case s.ended:
			c.removeLocked(s)
			end := s.end
			c.mu.Unlock()
			return d.f.endErr(end)
		}
		c.mu.Unlock()
		select {
		case <-s.notify:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			c.mu.Lock()
			ended := s.ended
			c.mu.Unlock()
			if !ended {
				return c.err
			}
		}
	}
}

// Close ends the read and releases its tap: what the tap owed is credited back to the
// session; unless the READ has ended, the stream is CANCELed, and what still arrives for it
// is dropped. It may be called more than once.
func (d *DirectRead) Close() {
	s, c := d.s, d.s.c
	c.mu.Lock()
	if !s.abandoned {
		owed, _ := s.direct.Release(true)
		c.dropDirectLocked(s, owed)
	}
	c.mu.Unlock()
	c.flushCredit()
}

// Starved tells the session that the tap's consumer has been waiting for bytes a while. If
// the session's credit is held by streams nobody reads (read-ahead, direct reads whose
// consumers are not waiting), they are taken back, as for a consumer waiting in Read: a
// consumer of a direct read waits outside the Client, which cannot see it otherwise.
func (d *DirectRead) Starved() {
	c := d.s.c
	c.mu.Lock()
	queued := c.reclaimLocked()
	c.mu.Unlock()
	if queued {
		c.flushCredit()
	}
}
