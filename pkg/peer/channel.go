package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// dcTransport is the per-target half of a Channel: a detached pion DataChannel
// natively (datachannel.go), the browser's RTCDataChannel with a bounded
// receive queue under GOOS=js (datachannel_js.go).
type dcTransport interface {
	label() string
	// read blocks until one whole message is available and copies it into p.
	// If p is too short it returns io.ErrShortBuffer and keeps the message.
	// It returns io.EOF once the peer closed the channel and every message
	// was read, and other errors when the channel is broken or unblocked.
	read(p []byte) (int, error)
	// write sends p as one message without blocking.
	write(p []byte) error
	bufferedAmount() int
	// drained reports whether everything written has been delivered as far as the
	// platform can tell (see Channel.Flush).
	drained() bool
	// setOnLow arranges for f to be called, without blocking, whenever the
	// buffered amount drops from above threshold to threshold or below.
	setOnLow(threshold int, f func())
	// unblock makes pending and future reads return at once with an error.
	unblock()
	close() error
}

// Channel is one reliable, ordered DataChannel. It is an io.ReadWriteCloser
// that keeps message boundaries: each Write sends exactly one message and
// each Read returns exactly one whole message. Read, Write and Close may be
// called concurrently; concurrent Writes are sent one after another. Close a
// Channel when done with it, also after Read returned io.EOF: the Conn holds
// it until then.
type Channel struct {
	conn   *Conn
	t      dcTransport
	maxMsg int
	high   int
	low    int

	lowCh   chan struct{}
	writeMu sync.Mutex

	closeOnce sync.Once
	done      chan struct{}
	err       error // set before done is closed
}

func newChannel(c *Conn, t dcTransport) *Channel {
	ch := &Channel{
		conn:   c,
		t:      t,
		maxMsg: c.sendLimit(),
		high:   c.cfg.HighWaterMark,
		low:    c.cfg.LowWaterMark,
		lowCh:  make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	if n := c.sendCap(); n > 0 {
		ch.maxMsg = min(ch.maxMsg, max(n, MinMessageSize))
	}
	t.setOnLow(ch.low, func() {
		select {
		case ch.lowCh <- struct{}{}:
		default:
		}
	})
	return ch
}

// Label returns the label the channel was created with.
func (ch *Channel) Label() string { return ch.t.label() }

// MaxMessageSize returns the largest message the peer accepts, from its
// a=max-message-size (natively, via pion's SCTP transport) or the browser's
// RTCSctpTransport.maxMessageSize. It is at least MinMessageSize, the size a
// peer that states no limit still accepts, and at most 1 GiB. As of 2026-11,
// Chromium advertises 256 KiB, as does this package natively by default.
func (ch *Channel) MaxMessageSize() int { return ch.maxMsg }

// BufferedAmount returns the number of bytes written but not yet acknowledged
// by the peer.
func (ch *Channel) BufferedAmount() int { return ch.t.bufferedAmount() }

// Read reads one whole message into p and returns its length, which is 0 for
// an empty message.
//
// If p is shorter than the message, Read returns 0 and io.ErrShortBuffer and
// the message is not lost: it stays first in line, and a Read with a large
// enough buffer returns it. A buffer of the local receive limit
// (NativeOptions.MaxReceiveMessageSize natively; 256 KiB in Chromium) always
// suffices.
//
// Read returns io.EOF after the peer closed the channel and every message sent
// before was read, and an error wrapping ErrClosed (and so io.EOF) once this
// channel or its Conn is closed; a pending Read returns at once.
func (ch *Channel) Read(p []byte) (int, error) {
	if err := ch.closedErr(); err != nil {
		return 0, err
	}
	n, err := ch.t.read(p)
	if err == nil || errors.Is(err, io.ErrShortBuffer) {
		return n, err
	}
	if cerr := ch.closedErr(); cerr != nil {
		return 0, cerr
	}
	if cerr := ch.conn.Err(); cerr != nil {
		return 0, cerr
	}
	if errors.Is(err, io.EOF) {
		return 0, io.EOF
	}
	return 0, closedWith(err)
}

// Write sends p as one message and returns len(p), or 0 and an error.
//
// Write blocks while the message does not fit under the high-water mark and
// the buffered amount is above the low-water mark (see
// Config.HighWaterMark); it never queues without bound. A message larger than
// MaxMessageSize fails with ErrMessageTooLarge. Once the channel or its Conn
// is closed, Write returns an error wrapping ErrClosed; a pending Write
// returns at once.
func (ch *Channel) Write(p []byte) (int, error) {
	if len(p) > ch.maxMsg {
		return 0, fmt.Errorf("%w: %d bytes, the peer accepts %d", ErrMessageTooLarge, len(p), ch.maxMsg)
	}
	ch.writeMu.Lock()
	defer ch.writeMu.Unlock()
	for {
		if err := ch.closedErr(); err != nil {
			return 0, err
		}
		b := ch.t.bufferedAmount()
		if b <= ch.low || b+len(p) <= ch.high {
			break
		}
		// b > low, so the buffered amount must cross the low-water mark, and
		// fire the event, before more can be sent. A stale token from an
		// earlier crossing only costs another look at the buffered amount.
		select {
		case <-ch.lowCh:
		case <-ch.done:
		}
	}
	pc := ch.conn.pacer()
	if pc != nil && !pc.wait(len(p), ch.done) {
		return 0, ch.closedErr()
	}
	if err := ch.t.write(p); err != nil {
		if pc != nil {
			pc.unwrite(len(p))
		}
		if cerr := ch.closedErr(); cerr != nil {
			return 0, cerr
		}
		if cerr := ch.conn.Err(); cerr != nil {
			return 0, cerr
		}
		return 0, closedWith(err)
	}
	return len(p), nil
}

// flushPoll is how often Flush looks at the buffered amount. Neither pion nor the browser
// signals that it reached zero (the low-water event fires at the threshold, and Write consumes
// it), and a flush is rare: once, before a close.
const flushPoll = 5 * time.Millisecond

// Flush waits until every message written so far has left the send buffer: natively, until
// the peer's SCTP stack acknowledged it (pion counts bytes as buffered until they are SACKed);
// in the browser, until RTCDataChannel.bufferedAmount is 0 (handed to SCTP: the browser says
// no more). It returns nil then, ctx.Err() if
// ctx ends first, and an error wrapping ErrClosed if the channel or its Conn closes first.
//
// Close the channel after Flush to be sure that a last message (an error, a goodbye) reaches
// the peer even when the Conn is closed right after: closing a PeerConnection aborts the SCTP
// association and drops whatever is still buffered.
func (ch *Channel) Flush(ctx context.Context) error {
	var tick *time.Ticker
	for {
		if err := ch.closedErr(); err != nil {
			return err
		}
		if err := ch.conn.Err(); err != nil {
			return err
		}
		if ch.t.drained() {
			return nil
		}
		if tick == nil {
			tick = time.NewTicker(flushPoll)
			defer tick.Stop()
		}
		select {
		case <-tick.C:
		case <-ch.done:
		case <-ch.conn.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close closes the channel: pending and later Reads and Writes return an
// error wrapping ErrClosed, unread messages are discarded, and the peer reads
// io.EOF after the messages already written, as long as the Conn stays open until they are
// delivered (see Flush). Close always returns nil.
func (ch *Channel) Close() error {
	ch.closeWith(closedWith(errChannelClosed))
	ch.conn.unregister(ch)
	return nil
}

// closeWith closes the channel with err, which later calls return.
func (ch *Channel) closeWith(err error) {
	ch.closeOnce.Do(func() {
		ch.err = err
		close(ch.done)
		ch.t.unblock()
		// The close only fails when the transport is already gone, which is
		// what closing wants.
		_ = ch.t.close()
	})
}

func (ch *Channel) closedErr() error {
	select {
	case <-ch.done:
		return ch.err
	default:
		return nil
	}
}

// pendingChannel is a channel being opened. Once opened is closed, exactly one
// of t and err is set. abort closes the channel whether or not it opened.
type pendingChannel struct {
	opened chan struct{}
	t      dcTransport
	err    error
	abort  func()
}
