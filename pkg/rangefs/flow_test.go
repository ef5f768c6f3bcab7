package rangefs

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/wire"
)

// A client that grants W bytes of stream credit and never gives more receives exactly W
// bytes; each CREDIT lets exactly that much more through. The PING/PONG round trip after the
// last expected byte shows nothing else was sent: the server answers PING from its read loop,
// and any DATA it had sent beyond the credit would have arrived first on the ordered pipe.
func TestServerStaysWithinStreamCredit(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, dir, "big", 4<<20)
	const window = 100_000
	rp := startRaw(t, dir, ServerOptions{}, &wire.Hello{Version: 1, MaxFrame: 64 << 10, StreamWindow: window, SessionWindow: 1 << 20})

	rp.send(1, &wire.Read{Path: "big", Length: 4 << 20})
	got := 0
	for got < window {
		h, f := rp.recv()
		require.Equal(t, wire.TypeData, h.Type)
		got += len(f.(*wire.Data).Bytes)
	}
	assert.Equal(t, window, got)
	assertNothingBeforePong(t, rp, 7)

	rp.send(1, &wire.Credit{Increment: 5000})
	h, f := rp.recv()
	require.Equal(t, wire.TypeData, h.Type)
	assert.Equal(t, 5000, len(f.(*wire.Data).Bytes))
	assert.Equal(t, uint64(window), f.(*wire.Data).Offset)
	assertNothingBeforePong(t, rp, 8)
}

// The session window bounds all streams together.
func TestServerStaysWithinSessionCredit(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, dir, "big", 2<<20)
	const session = 300_000
	rp := startRaw(t, dir, ServerOptions{}, &wire.Hello{Version: 1, MaxFrame: 64 << 10, StreamWindow: 200_000, SessionWindow: session})

	for id := uint32(1); id <= 4; id++ {
		rp.send(id, &wire.Read{Path: "big", Length: 2 << 20})
	}
	got := 0
	for got < session {
		h, f := rp.recv()
		require.Equal(t, wire.TypeData, h.Type)
		got += len(f.(*wire.Data).Bytes)
	}
	assert.Equal(t, session, got)
	assertNothingBeforePong(t, rp, 9)

	// Stream credit without session credit moves nothing.
	rp.send(1, &wire.Credit{Increment: 1 << 20})
	assertNothingBeforePong(t, rp, 10)
	rp.send(0, &wire.Credit{Increment: 1000})
	h, f := rp.recv()
	require.Equal(t, wire.TypeData, h.Type)
	assert.Equal(t, 1000, len(f.(*wire.Data).Bytes))
}

func assertNothingBeforePong(t *testing.T, rp *rawPeer, seq uint64) {
	t.Helper()
	rp.send(0, &wire.Ping{Data: seq})
	h, f := rp.recv()
	require.Equal(t, wire.TypePong, h.Type, "a %v frame arrived before PONG", h.Type)
	assert.Equal(t, seq, f.(*wire.Pong).Data)
}

// A Client whose consumer stops reading holds at most its stream window for that stream:
// the server stops sending at the credit, and nothing queues beyond it.
func TestClientBufferBoundedWhenConsumerStops(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, dir, "big", 8<<20)
	const window = 256 << 10
	ts := startSession(t, dir, ServerOptions{}, ClientOptions{StreamWindow: window, SessionWindow: 1 << 20})
	f, err := ts.c.Open(t.Context(), "big")
	require.NoError(t, err)
	defer f.Close()

	p := make([]byte, 10)
	_, err = f.Read(p) // starts the read-ahead stream and then stops consuming
	require.NoError(t, err)
	// The stream can only fill up to its window; wait for that, then show nothing more comes.
	waitFor(t, func() bool { return ts.c.BytesReceived() >= window })
	_, err = ts.c.Ping(t.Context())
	require.NoError(t, err)
	assert.Equal(t, int64(window), ts.c.BytesReceived())
	ts.c.mu.Lock()
	var buffered int64
	for _, s := range ts.c.streams {
		buffered += s.buffered
		assert.LessOrEqual(t, s.window.used, int64(window))
	}
	assert.LessOrEqual(t, ts.c.session.used, int64(1<<20))
	ts.c.mu.Unlock()
	assert.LessOrEqual(t, buffered, int64(window))
}

// waitFor polls cond every millisecond for up to 10 s. It waits for a state, never for a
// fixed time.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
