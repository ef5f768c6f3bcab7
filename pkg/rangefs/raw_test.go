package rangefs

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/wire"
)

// rawPeer speaks frames to a Server directly, to do what the Client never would.
type rawPeer struct {
	t      *testing.T
	tr     Transport
	buf    []byte
	served chan error
}

// startRaw serves dir on a Pipe and returns the other end, after the HELLO exchange with
// the given client HELLO (a default one if nil).
func startRaw(t *testing.T, dir string, so ServerOptions, hello *wire.Hello) *rawPeer {
	t.Helper()
	srv, err := NewServer(dir, so)
	require.NoError(t, err)
	a, b := Pipe(64, 0)
	ctx, cancel := context.WithCancel(context.Background())
	rp := &rawPeer{t: t, tr: a, buf: make([]byte, wire.MaxFrameSize), served: make(chan error, 1)}
	go func() { rp.served <- srv.ServeTransport(ctx, b) }()
	t.Cleanup(func() {
		_ = a.Close()
		cancel()
		<-rp.served
		_ = srv.Close()
	})
	if hello == nil {
		hello = &wire.Hello{Version: 1, MaxFrame: DefaultMaxFrame, StreamWindow: 1 << 20, SessionWindow: 4 << 20}
	}
	rp.send(0, hello)
	h, f := rp.recv()
	require.Equal(t, wire.TypeHello, h.Type)
	require.IsType(t, &wire.Hello{}, f)
	return rp
}

func (rp *rawPeer) send(stream uint32, f wire.Frame) {
	rp.t.Helper()
	rp.sendRaw(wire.AppendFrame(nil, stream, f))
}

func (rp *rawPeer) sendRaw(b []byte) {
	rp.t.Helper()
	_, err := rp.tr.Write(b)
	require.NoError(rp.t, err)
}

// recv reads one frame, failing the test after 10 s.
func (rp *rawPeer) recv() (wire.Header, wire.Frame) {
	rp.t.Helper()
	h, f, err := rp.tryRecv(10 * time.Second)
	require.NoError(rp.t, err)
	return h, f
}

// tryRecv reads one frame or returns the transport's error.
func (rp *rawPeer) tryRecv(timeout time.Duration) (wire.Header, wire.Frame, error) {
	type res struct {
		n   int
		err error
	}
	ch := make(chan res, 1)
	go func() {
		n, err := rp.tr.Read(rp.buf)
		ch <- res{n, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return wire.Header{}, nil, r.err
		}
		h, f, _, err := wire.ParseFrame(rp.buf[:r.n], wire.MaxFrameSize)
		return h, f, err
	case <-time.After(timeout):
		rp.t.Fatalf("no frame within %v", timeout)
		return wire.Header{}, nil, nil
	}
}

// recvEnd reads frames on stream until its END, returning the END and the DATA bytes seen.
func (rp *rawPeer) recvEnd(stream uint32) (*wire.End, int) {
	rp.t.Helper()
	n := 0
	for {
		h, f := rp.recv()
		if h.Stream != stream {
			continue
		}
		switch f := f.(type) {
		case *wire.End:
			return f, n
		case *wire.Data:
			n += len(f.Bytes)
		}
	}
}

// expectClosed reads until the server closes, returning the ERROR it sent, if any, and what
// ServeTransport returned.
func (rp *rawPeer) expectClosed() (*wire.ErrorFrame, error) {
	rp.t.Helper()
	var ef *wire.ErrorFrame
	for {
		_, f, err := rp.tryRecv(10 * time.Second)
		if err != nil {
			var serveErr error
			select {
			case serveErr = <-rp.served:
			case <-time.After(10 * time.Second):
				rp.t.Fatal("ServeTransport did not return after the session closed")
			}
			rp.served <- nil // for Cleanup
			return ef, serveErr
		}
		if e, ok := f.(*wire.ErrorFrame); ok {
			ef = e
		}
	}
}
