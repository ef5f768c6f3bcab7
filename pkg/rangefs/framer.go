package rangefs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rangecast/rangecast/pkg/wire"
)

// ProtocolVersion is the version this package speaks.
const ProtocolVersion = 1

// DefaultMaxFrame is the frame size (header included) a client announces unless told
// otherwise: 256 KiB, the largest DataChannel message Chromium accepts (as of 2026-11). The
// server sends DATA in frames up to the size the client announces.
const DefaultMaxFrame = 256 << 10

// DefaultServerMaxFrame is the frame size a server announces, and so the read buffer each
// session holds, unless told otherwise: 16 KiB (wire.MinFrameSize), since the largest request
// (a LIST or READ naming a wire.MaxPath path) fits in under 5 KiB. A 256 KiB buffer cost each
// idle session a quarter MiB of the daemon's memory (measured 2026-11: 254 of 325 KiB).
const DefaultServerMaxFrame = wire.MinFrameSize

// framer writes and reads whole frames on a Transport. Writes are serialised by wmu so that
// frames from many streams interleave only at frame boundaries.
type framer struct {
	t Transport

	wmu  sync.Mutex
	wbuf []byte

	recvMax int // the largest frame we accept (what our HELLO announced)
	sendMax int // the largest frame we may send; MinFrameSize until the peer's HELLO arrives
}

func newFramer(t Transport, recvMax int) *framer {
	return &framer{t: t, recvMax: recvMax, sendMax: wire.MinFrameSize}
}

// transportMax returns the transport's message size cap, or 0 if it has none.
func transportMax(t Transport) int {
	if s, ok := t.(MessageSizer); ok {
		return s.MaxMessageSize()
	}
	return 0
}

// clampFrame bounds an announced frame size to what this end and its transport can do.
func clampFrame(want int, t Transport) int {
	if want <= 0 {
		want = DefaultMaxFrame
	}
	want = min(max(want, wire.MinFrameSize), wire.MaxFrameSize)
	if m := transportMax(t); m > 0 && m < want {
		want = max(m, wire.MinFrameSize)
	}
	return want
}

func (f *framer) writeFrame(stream uint32, fr wire.Frame) error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.wbuf = wire.AppendFrame(f.wbuf[:0], stream, fr)
	if len(f.wbuf) > f.sendMax {
		return fmt.Errorf("rangefs: %v frame of %d bytes exceeds the agreed %d", fr.Type(), len(f.wbuf), f.sendMax)
	}
	_, err := f.t.Write(f.wbuf)
	return err
}

// writeRaw writes an already encoded frame.
func (f *framer) writeRaw(b []byte) error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	_, err := f.t.Write(b)
	return err
}

// readFrame reads one message into buf and decodes it with wire.ParseMessage. A message that
// is not exactly one frame, or that the decoder refuses, is a *ProtocolError carrying the code
// the decoder gives (FRAME_SIZE or PROTOCOL); a transport failure is returned as is. On a
// decode failure the header is still returned when it parsed, so that the caller can answer a
// malformed request on its own stream.
func (f *framer) readFrame(buf []byte) (wire.Header, wire.Frame, error) {
	n, err := f.t.Read(buf)
	if err != nil {
		if errors.Is(err, io.ErrShortBuffer) {
			return wire.Header{}, nil, &ProtocolError{Code: wire.CodeFrameSize, Message: fmt.Sprintf("message larger than the agreed %d bytes", f.recvMax)}
		}
		return wire.Header{}, nil, err
	}
	h, fr, err := wire.ParseMessage(buf[:n], uint32(f.recvMax-wire.HeaderLen))
	if err != nil {
		code := wire.CodeProtocol
		if pe, ok := errors.AsType[*wire.ParseError](err); ok {
			code = pe.Code()
		}
		return h, nil, &ProtocolError{Code: code, Frame: h.Type, Message: err.Error()}
	}
	return h, fr, nil
}

// errorWait bounds how long a closing end tries to deliver ERROR or GOAWAY to a peer that is
// not reading.
const errorWait = time.Second

// closeWith tells the peer why the session ends (ERROR, for a local *ProtocolError) and
// closes the transport. If it sent ERROR, or if drain is set, it first waits until the
// transport has delivered what was written (see Flusher): a Close right after the write would
// let the caller tear the connection down with the ERROR still buffered. A peer that does not
// read cannot hold it up for longer than wait in all: the transport is closed anyway, which
// unblocks the write.
func (f *framer) closeWith(err error, wait time.Duration, drain bool) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var pe *ProtocolError
	if errors.As(err, &pe) && !pe.Remote {
		f.writeBounded(ctx, &wire.ErrorFrame{Code: pe.Code, FrameType: pe.Frame, Message: pe.Message})
		drain = true
	}
	if fl, ok := f.t.(Flusher); ok && drain && ctx.Err() == nil {
		_ = fl.Flush(ctx)
	}
	_ = f.t.Close()
}

// writeBounded writes a stream-0 frame, giving up (by closing the transport) when ctx ends.
func (f *framer) writeBounded(ctx context.Context, fr wire.Frame) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.writeFrame(0, fr)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		_ = f.t.Close()
		<-done
	}
}

// handshake sends our HELLO and reads the peer's, which must be the first frame it sends.
func (f *framer) handshake(local *wire.Hello, buf []byte) (*wire.Hello, error) {
	if err := f.writeFrame(0, local); err != nil {
		return nil, err
	}
	h, fr, err := f.readFrame(buf)
	if err != nil {
		return nil, err
	}
	if e, ok := fr.(*wire.ErrorFrame); ok {
		return nil, &ProtocolError{Code: e.Code, Frame: e.FrameType, Message: e.Message, Remote: true}
	}
	hello, ok := fr.(*wire.Hello)
	if !ok || h.Stream != 0 {
		return nil, &ProtocolError{Code: wire.CodeProtocol, Frame: h.Type, Message: "first frame must be HELLO on stream 0"}
	}
	if hello.Version < ProtocolVersion {
		return nil, &ProtocolError{Code: wire.CodeVersion, Frame: wire.TypeHello, Message: fmt.Sprintf("peer speaks version %d, need %d", hello.Version, ProtocolVersion)}
	}
	if hello.MaxFrame < wire.MinFrameSize {
		return nil, &ProtocolError{Code: wire.CodeProtocol, Frame: wire.TypeHello, Message: fmt.Sprintf("max frame %d below the 16 KiB floor", hello.MaxFrame)}
	}
	f.wmu.Lock()
	f.sendMax = int(min(hello.MaxFrame, wire.MaxFrameSize))
	if m := transportMax(f.t); m > 0 && m < f.sendMax {
		f.sendMax = max(m, wire.MinFrameSize)
	}
	f.wmu.Unlock()
	return hello, nil
}

// framePool holds frame-sized buffers. The client reads every frame into one and hands DATA
// frames to their stream in it, without a copy; the server builds each outgoing DATA frame in
// one, reading from disk straight into it.
var framePool sync.Pool

// getFrameBuf returns a pooled buffer of length n.
func getFrameBuf(n int) *[]byte {
	if p, ok := framePool.Get().(*[]byte); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n)
	return &b
}

// putFrameBuf returns p to the pool; the caller must not use it afterwards.
func putFrameBuf(p *[]byte) { framePool.Put(p) }
