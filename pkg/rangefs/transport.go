package rangefs

import (
	"context"
	"errors"
	"io"
	"sync"
)

// Transport is an ordered, reliable, message-preserving connection.
//
// Write sends p as exactly one message and must not keep p after it returns. Read receives
// exactly one whole message into p; if p is too small it returns io.ErrShortBuffer (the
// session treats that as a fatal frame-size error). Close unblocks pending Read and Write.
// Read and Write may be called concurrently with each other, but the session never calls
// either concurrently with itself.
//
// peer.Channel (a WebRTC DataChannel) and Pipe satisfy it.
type Transport interface {
	io.ReadWriteCloser
}

// MessageSizer is implemented by transports that cap message size; the session never sends a
// frame larger than MaxMessageSize.
type MessageSizer interface {
	MaxMessageSize() int
}

// Flusher is implemented by transports that buffer writes and can wait until the peer has
// them. Before it closes a transport, a session flushes it (for at most a second), so that a
// last ERROR, GOAWAY or END is delivered even if the caller tears the connection down as soon
// as the session returns: closing a PeerConnection drops what its DataChannels still buffer.
// peer.Channel implements it.
type Flusher interface {
	// Flush returns nil once everything written before has been delivered, or an error if
	// ctx ends or the transport closes first.
	Flush(ctx context.Context) error
}

// Pipe returns the two ends of an in-memory Transport. Each direction holds at most depth
// messages (8 if depth < 1); Write blocks while the queue is full, as a DataChannel's
// buffered amount does. Messages larger than maxMessage (wire.MaxFrameSize if <= 0) are
// refused with ErrMessageTooLarge.
func Pipe(depth, maxMessage int) (Transport, Transport) {
	if depth < 1 {
		depth = 8
	}
	if maxMessage <= 0 {
		maxMessage = 16 << 20
	}
	done := make(chan struct{})
	once := new(sync.Once)
	ab := make(chan []byte, depth)
	ba := make(chan []byte, depth)
	a := &pipeEnd{in: ba, out: ab, done: done, once: once, max: maxMessage}
	b := &pipeEnd{in: ab, out: ba, done: done, once: once, max: maxMessage}
	return a, b
}

// ErrMessageTooLarge is returned by a Pipe's Write for a message above its maximum size.
var ErrMessageTooLarge = errors.New("rangefs: message too large for transport")

// errPipeClosed wraps io.EOF so that callers can treat a closed pipe as end of stream.
var errPipeClosed = &closedError{}

type closedError struct{}

func (*closedError) Error() string { return "rangefs: pipe closed" }
func (*closedError) Unwrap() error { return io.EOF }

type pipeEnd struct {
	in, out chan []byte
	done    chan struct{}
	once    *sync.Once
	max     int
}

func (p *pipeEnd) Read(b []byte) (int, error) {
	var m []byte
	select {
	case m = <-p.in:
	case <-p.done:
		// Deliver what was queued before the close, as a DataChannel delivers what it
		// received before the remote closed.
		select {
		case m = <-p.in:
		default:
			return 0, errPipeClosed
		}
	}
	if len(m) > len(b) {
		return 0, io.ErrShortBuffer
	}
	return copy(b, m), nil
}

func (p *pipeEnd) Write(b []byte) (int, error) {
	if len(b) > p.max {
		return 0, ErrMessageTooLarge
	}
	select {
	case <-p.done:
		return 0, errPipeClosed
	default:
	}
	m := append([]byte(nil), b...)
	select {
	case p.out <- m:
		return len(b), nil
	case <-p.done:
		return 0, errPipeClosed
	}
}

func (p *pipeEnd) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}

func (p *pipeEnd) MaxMessageSize() int { return p.max }
