package rangefs

import (
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/wire"
)

// CANCEL stops a READ promptly: END(canceled) arrives, and no more DATA than the credit
// already granted was sent.
func TestCancelStopsRead(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, dir, "big", 16<<20)
	const window = 512 << 10
	rp := startRaw(t, dir, ServerOptions{}, &wire.Hello{Version: 1, MaxFrame: 64 << 10, StreamWindow: window, SessionWindow: 4 << 20})
	rp.send(3, &wire.Read{Path: "big", Length: 16 << 20})
	h, _ := rp.recv()
	require.Equal(t, wire.TypeData, h.Type)
	rp.send(3, &wire.Cancel{})
	end, n := rp.recvEnd(3)
	assert.Equal(t, wire.StatusCanceled, end.Status)
	assert.LessOrEqual(t, n, window)
	// The stream id is free again.
	rp.send(3, &wire.Stat{Path: "big"})
	h, f := rp.recv()
	require.Equal(t, wire.TypeInfo, h.Type)
	assert.Equal(t, uint64(16<<20), f.(*wire.Info).Size)
}

func TestStreamLimit(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, dir, "big", 1<<20)
	// A window of 1 byte keeps every READ open.
	rp := startRaw(t, dir, ServerOptions{MaxStreams: 2}, &wire.Hello{Version: 1, MaxFrame: 64 << 10, StreamWindow: 1, SessionWindow: 1 << 20})
	rp.send(1, &wire.Read{Path: "big", Length: 10})
	rp.send(2, &wire.Read{Path: "big", Length: 10})
	waitData := map[uint32]bool{}
	for len(waitData) < 2 {
		h, _ := rp.recv()
		require.Equal(t, wire.TypeData, h.Type)
		waitData[h.Stream] = true
	}
	rp.send(5, &wire.Stat{Path: "big"})
	end, _ := rp.recvEnd(5)
	assert.Equal(t, wire.StatusTooManyStreams, end.Status)
}

func TestHandleLimitAndClose(t *testing.T) {
	dir := t.TempDir()
	want := writeRandom(t, dir, "f", 1000)
	ts := startSession(t, dir, ServerOptions{MaxHandles: 3}, ClientOptions{})
	var files []*File
	for range 3 {
		f, err := ts.c.Open(t.Context(), "f")
		require.NoError(t, err)
		files = append(files, f)
	}
	_, err := ts.c.Open(t.Context(), "f")
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, wire.StatusTooManyHandles, se.Status)

	require.NoError(t, files[0].Close())
	assert.ErrorIs(t, files[0].Close(), os.ErrClosed)
	f, err := ts.c.Open(t.Context(), "f") // the closed handle's slot is free again
	require.NoError(t, err)
	got := make([]byte, 1000)
	_, err = f.ReadAt(got, 0)
	require.NoError(t, err)
	assert.Equal(t, sum(want), sum(got))
	_, err = files[0].ReadAt(got, 0)
	assert.ErrorIs(t, err, os.ErrClosed)
}

func TestBadHandle(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, dir, "f", 1000)
	rp := startRaw(t, dir, ServerOptions{}, nil)
	rp.send(1, &wire.Read{Handle: 42, Length: 10})
	end, _ := rp.recvEnd(1)
	assert.Equal(t, wire.StatusBadHandle, end.Status)
	rp.send(1, &wire.Read{Handle: 1, Path: "f", Length: 10})
	end, _ = rp.recvEnd(1)
	assert.Equal(t, wire.StatusBadRequest, end.Status)
}

// Every frame that breaks the protocol ends that session with ERROR and a typed error, and
// leaves the server serving others.
func TestProtocolViolations(t *testing.T) {
	dir := t.TempDir()
	want := writeRandom(t, dir, "f", 100_000)
	tests := []struct {
		name  string
		hello *wire.Hello
		raw   []byte
		code  wire.ErrorCode
	}{
		{"data from client", nil, wire.AppendFrame(nil, 1, &wire.Data{Offset: 0, Bytes: []byte("x")}), wire.CodeProtocol},
		{"second hello", nil, wire.AppendFrame(nil, 0, &wire.Hello{Version: 1, MaxFrame: 1 << 16}), wire.CodeProtocol},
		{"request on stream 0", nil, wire.AppendFrame(nil, 0, &wire.Stat{Path: "f"}), wire.CodeProtocol},
		{"frame above max", nil, wire.AppendFrame(nil, 0, &wire.Unknown{T: 0x7f, Payload: make([]byte, DefaultMaxFrame)}), wire.CodeFrameSize},
		{"length mismatch", nil, append(wire.AppendFrame(nil, 0, &wire.Ping{Data: 1}), 0), wire.CodeFrameSize},
		{"short header", nil, []byte{0x02, 0, 0}, wire.CodeProtocol},
		{"malformed ping", nil, wire.AppendHeader(nil, wire.Header{Type: wire.TypePing, Length: 0}), wire.CodeProtocol},
		{"credit overflow", nil, wire.AppendFrame(nil, 0, &wire.Credit{Increment: 1<<31 - 1}), wire.CodeFlowControl},
		{"window above limit", &wire.Hello{Version: 1, MaxFrame: 1 << 16, SessionWindow: 1 << 30}, nil, wire.CodeLimitExceeded},
		{"old version", &wire.Hello{Version: 0, MaxFrame: 1 << 16}, nil, wire.CodeVersion},
		{"tiny max frame", &wire.Hello{Version: 1, MaxFrame: 100}, nil, wire.CodeProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			other := startSession(t, dir, ServerOptions{}, ClientOptions{})
			var rp *rawPeer
			if tt.hello != nil {
				rp = startRawNoHello(t, dir)
				rp.send(0, tt.hello)
			} else {
				rp = startRaw(t, dir, ServerOptions{}, nil)
				rp.sendRaw(tt.raw)
			}
			ef, serveErr := rp.expectClosed()
			require.NotNil(t, ef, "no ERROR frame before close")
			assert.Equal(t, tt.code, ef.Code)
			var pe *ProtocolError
			require.ErrorAs(t, serveErr, &pe)
			assert.Equal(t, tt.code, pe.Code)
			assert.False(t, pe.Remote)

			got := make([]byte, len(want))
			f, err := other.c.Open(t.Context(), "f")
			require.NoError(t, err)
			_, err = f.ReadAt(got, 0)
			require.NoError(t, err)
			assert.Equal(t, sum(want), sum(got))
		})
	}
}

// startRawNoHello is startRaw without the client HELLO, for handshake tests.
func startRawNoHello(t *testing.T, dir string) *rawPeer {
	t.Helper()
	srv, err := NewServer(dir, ServerOptions{})
	require.NoError(t, err)
	a, b := Pipe(64, 0)
	rp := &rawPeer{t: t, tr: a, buf: make([]byte, wire.MaxFrameSize), served: make(chan error, 1)}
	go func() { rp.served <- srv.ServeTransport(context.Background(), b) }()
	t.Cleanup(func() {
		_ = a.Close()
		<-rp.served
		_ = srv.Close()
	})
	return rp
}

// A malformed request ends its own stream with BadRequest; the session goes on.
func TestMalformedRequestEndsOnlyItsStream(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, dir, "f", 10)
	rp := startRaw(t, dir, ServerOptions{}, nil)
	// READ whose offset+length overflows.
	b := wire.AppendHeader(nil, wire.Header{Type: wire.TypeRead, Stream: 9, Length: 23})
	b = append(b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0)
	rp.sendRaw(b)
	end, _ := rp.recvEnd(9)
	assert.Equal(t, wire.StatusBadRequest, end.Status)
	assert.Contains(t, end.Message, "overflow")
	rp.send(11, &wire.Stat{Path: "f"})
	h, f := rp.recv()
	require.Equal(t, wire.TypeInfo, h.Type)
	assert.Equal(t, uint64(10), f.(*wire.Info).Size)
}

func TestUnknownFrameIgnored(t *testing.T) {
	dir := t.TempDir()
	rp := startRaw(t, dir, ServerOptions{}, nil)
	rp.send(0, &wire.Unknown{T: 0x60, Payload: []byte("future")})
	assertNothingBeforePong(t, rp, 1)
}

func TestDuplicateStreamID(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, dir, "f", 1<<20)
	rp := startRaw(t, dir, ServerOptions{}, &wire.Hello{Version: 1, MaxFrame: 1 << 16, StreamWindow: 1, SessionWindow: 1 << 20})
	rp.send(1, &wire.Read{Path: "f", Length: 100})
	rp.send(1, &wire.Stat{Path: "f"})
	ef, _ := rp.expectClosed()
	require.NotNil(t, ef)
	assert.Equal(t, wire.CodeStreamState, ef.Code)
}

func TestHelloTimeout(t *testing.T) {
	srv, err := NewServer(t.TempDir(), ServerOptions{HelloTimeout: 50 * time.Millisecond})
	require.NoError(t, err)
	defer srv.Close()
	a, b := Pipe(4, 0)
	defer a.Close()
	done := make(chan error, 1)
	go func() { done <- srv.ServeTransport(context.Background(), b) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("session without HELLO was not closed")
	}
}

// A peer that vanishes mid-transfer: the server frees the session — ServeTransport returns,
// every file it opened is closed — and keeps serving others.
func TestVanishingPeerFreesSession(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts open files through /proc/self/fd")
	}
	dir := t.TempDir()
	want := writeRandom(t, dir, "f", 8<<20)
	srv, err := NewServer(dir, ServerOptions{})
	require.NoError(t, err)
	defer srv.Close()
	before := openFDs(t)

	a, b := Pipe(16, 0)
	served := make(chan error, 1)
	go func() { served <- srv.ServeTransport(context.Background(), b) }()
	c, err := Dial(t.Context(), a, ClientOptions{StreamWindow: 1 << 20, SessionWindow: 2 << 20})
	require.NoError(t, err)
	for range 5 {
		f, err := c.Open(t.Context(), "f")
		require.NoError(t, err)
		go func() { _, _ = io.Copy(io.Discard, f) }()
	}
	waitFor(t, func() bool { return c.BytesReceived() > 1<<20 })
	require.Greater(t, openFDs(t), before)

	_ = a.Close() // the peer vanishes: no CLOSE, no GOAWAY
	select {
	case err := <-served:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("ServeTransport did not return")
	}
	<-c.Done()
	assert.ErrorIs(t, c.Err(), ErrClosed)
	assert.Equal(t, before, openFDs(t))

	// The server still serves a new session.
	a2, b2 := Pipe(16, 0)
	go func() { served <- srv.ServeTransport(context.Background(), b2) }()
	c2, err := Dial(t.Context(), a2, ClientOptions{})
	require.NoError(t, err)
	f, err := c2.Open(t.Context(), "f")
	require.NoError(t, err)
	got, err := io.ReadAll(f)
	require.NoError(t, err)
	assert.Equal(t, sum(want), sum(got))
	require.NoError(t, c2.Close())
	require.NoError(t, <-served)
}

func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(es)
}

// GOAWAY: on shutdown, a READ in flight finishes within the grace period, new requests fail
// with ErrGoingAway, and the session then ends with an error matching ErrGoingAway.
func TestGoAwayLetsInFlightFinish(t *testing.T) {
	dir := t.TempDir()
	want := writeRandom(t, dir, "f", 4<<20)
	srv, err := NewServer(dir, ServerOptions{GracePeriod: 10 * time.Second})
	require.NoError(t, err)
	defer srv.Close()
	a, b := Pipe(16, 0)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.ServeTransport(ctx, b) }()
	c, err := Dial(t.Context(), a, ClientOptions{StreamWindow: 256 << 10, SessionWindow: 256 << 10})
	require.NoError(t, err)
	defer c.Close()
	f, err := c.Open(t.Context(), "f")
	require.NoError(t, err)
	got := make([]byte, len(want))
	n, err := f.Read(got[:1000]) // the read-ahead stream is now in flight, held by credit
	require.NoError(t, err)

	cancel()
	waitFor(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.goingAway })
	_, err = c.Stat(t.Context(), "f")
	assert.ErrorIs(t, err, ErrGoingAway)

	_, err = io.ReadFull(f, got[n:])
	require.NoError(t, err)
	assert.Equal(t, sum(want), sum(got))
	require.NoError(t, <-served)
	<-c.Done()
	assert.ErrorIs(t, c.Err(), ErrGoingAway)
	assert.ErrorIs(t, c.Err(), ErrClosed)
	assert.True(t, errors.Is(c.Err(), io.EOF))
}

// The grace period is a bound: a stream that does not finish is cut off.
func TestGoAwayGraceIsBounded(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, dir, "f", 4<<20)
	srv, err := NewServer(dir, ServerOptions{GracePeriod: 100 * time.Millisecond})
	require.NoError(t, err)
	defer srv.Close()
	a, b := Pipe(16, 0)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.ServeTransport(ctx, b) }()
	c, err := Dial(t.Context(), a, ClientOptions{StreamWindow: 64 << 10, SessionWindow: 64 << 10})
	require.NoError(t, err)
	defer c.Close()
	f, err := c.Open(t.Context(), "f")
	require.NoError(t, err)
	_, err = f.Read(make([]byte, 10)) // then stop consuming: the stream never finishes
	require.NoError(t, err)
	cancel()
	select {
	case err := <-served:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("grace period not enforced")
	}
	_, err = io.Copy(io.Discard, f)
	assert.ErrorIs(t, err, ErrGoingAway)
}

func TestPing(t *testing.T) {
	ts := startSession(t, t.TempDir(), ServerOptions{}, ClientOptions{})
	for range 10 {
		rtt, err := ts.c.Ping(t.Context())
		require.NoError(t, err)
		assert.Positive(t, rtt)
	}
	require.NoError(t, ts.c.Close())
	_, err := ts.c.Ping(t.Context())
	assert.ErrorIs(t, err, ErrClosed)
}

// A client that floods PINGs without reading the PONGs is cut off with LimitExceeded, not
// given an unbounded queue.
func TestPingFloodIsBounded(t *testing.T) {
	dir := t.TempDir()
	srv, err := NewServer(dir, ServerOptions{})
	require.NoError(t, err)
	defer srv.Close()
	a, b := Pipe(1024, 0)
	served := make(chan error, 1)
	go func() { served <- srv.ServeTransport(context.Background(), b) }()
	defer a.Close()
	_, err = a.Write(wire.AppendFrame(nil, 0, &wire.Hello{Version: 1, MaxFrame: 1 << 16}))
	require.NoError(t, err)
	ping := wire.AppendFrame(nil, 0, &wire.Ping{Data: 1})
	for range 1500 {
		if _, err := a.Write(ping); err != nil {
			break
		}
	}
	select {
	case err := <-served:
		var pe *ProtocolError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, wire.CodeLimitExceeded, pe.Code)
	case <-time.After(10 * time.Second):
		t.Fatal("flood not cut off")
	}
}

// The server's default frame limit must hold the largest request a client can send: every
// request type with every string at its maximum.
func TestLargestRequestFitsServerFrame(t *testing.T) {
	path := strings.Repeat("p", wire.MaxPath)
	after := strings.Repeat("a", wire.MaxName)
	etag := strings.Repeat("e", 255) // str8
	for _, f := range []wire.Frame{
		&wire.Stat{Path: path},
		&wire.Open{Path: path},
		&wire.List{Path: path, After: after, Limit: 1000},
		&wire.Read{Offset: 1 << 62, Length: 1 << 40, IfMatch: etag, Path: path},
	} {
		n := len(wire.AppendFrame(nil, 1, f))
		assert.LessOrEqual(t, n, DefaultServerMaxFrame, "%v frame of %d bytes", f.Type(), n)
	}
}
