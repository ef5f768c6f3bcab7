package rangefs

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/wire"
)

// tapTransport is the Client's end of a Pipe with DirectTaps in front of it, as web/boot.js puts
// its taps in front of the DataChannel: a DATA frame of a routed stream that comes at the tap's
// next offset and within its window goes to the tap and never reaches the Client.
type tapTransport struct {
	Transport
	mu   sync.Mutex
	taps map[uint32]*testTap
}

func newTapSession(t *testing.T, dir string, co ClientOptions) (*Client, *tapTransport) {
	t.Helper()
	tt := &tapTransport{taps: map[uint32]*testTap{}}
	ts := startSessionOver(t, dir, ServerOptions{}, co, func(a Transport) Transport {
		tt.Transport = a
		return tt
	})
	return ts.c, tt
}

func (tt *tapTransport) Read(p []byte) (int, error) {
	for {
		n, err := tt.Transport.Read(p)
		if err != nil || !tt.take(p[:n]) {
			return n, err
		}
	}
}

func (tt *tapTransport) take(msg []byte) bool {
	h, err := wire.ParseHeader(msg, 1<<24)
	if err != nil || h.Type != wire.TypeData || len(msg) < wire.HeaderLen+8 {
		return false
	}
	tt.mu.Lock()
	tap := tt.taps[h.Stream]
	tt.mu.Unlock()
	return tap != nil && tap.take(binary.BigEndian.Uint64(msg[wire.HeaderLen:]), msg[wire.HeaderLen+8:])
}

// testTap is a DirectTap whose consumer is the test: consume takes what has arrived.
type testTap struct {
	tt     *tapTransport
	refuse int64 // with refuse > 0, DATA at or beyond this offset is left to the Client

	mu       sync.Mutex
	id       uint32
	routed   bool
	window   int64
	next     int64 // the offset the next DATA must have
	held     [][]byte
	received int64 // since Route
	reported int64 // of received: given back with Taken, Release or Close
	waiting  bool  // the consumer waits for bytes
	routes   int
}

func (tp *testTap) Route(id uint32, window uint32) {
	tp.mu.Lock()
	tp.id, tp.window, tp.routed, tp.received, tp.reported = id, int64(window), true, 0, 0
	tp.routes++
	tp.mu.Unlock()
	tp.tt.mu.Lock()
	tp.tt.taps[id] = tp
	tp.tt.mu.Unlock()
}

func (tp *testTap) Owed() int64 {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.received - tp.reported
}

func (tp *testTap) Release(force bool) (int64, bool) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.waiting && !force {
		return 0, false
	}
	return tp.unrouteLocked(), true
}

// unrouteLocked stops taking DATA and returns what was owed, which counts as reported.
func (tp *testTap) unrouteLocked() int64 {
	if tp.routed {
		tp.routed = false
		tp.tt.mu.Lock()
		delete(tp.tt.taps, tp.id)
		tp.tt.mu.Unlock()
	}
	owed := tp.received - tp.reported
	tp.reported = tp.received
	return owed
}

func (tp *testTap) take(off uint64, b []byte) bool {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if !tp.routed || int64(off) != tp.next || tp.received-tp.reported+int64(len(b)) > tp.window ||
		(tp.refuse > 0 && int64(off) >= tp.refuse) {
		return false
	}
	tp.held = append(tp.held, append([]byte(nil), b...))
	tp.next += int64(len(b))
	tp.received += int64(len(b))
	return true
}

// consume hashes what the tap holds into h, reports what it took with Taken a quarter window
// at a time, and returns how many bytes it took; finding nothing, the consumer is waiting.
func (tp *testTap) consume(d *DirectRead, h hash.Hash) int64 {
	tp.mu.Lock()
	held := tp.held
	tp.held = nil
	tp.waiting = len(held) == 0 // a consumer that polls and finds nothing waits
	var n, report int64
	for _, b := range held {
		h.Write(b)
		n += int64(len(b))
	}
	if unreported := tp.received - tp.reported; unreported >= tp.window/4 {
		report = unreported
		tp.reported += report
	}
	tp.mu.Unlock()
	d.Taken(report)
	return n
}

// readDirect reads f from off to its end through tap, into h: from d if not nil (a read
// started at off), else from a new DirectRead, and again from where its consumer stands
// whenever the session releases it. After 50 polls that found nothing it says it is starved.
func readDirect(ctx context.Context, f *File, tap *testTap, d *DirectRead, off int64, h hash.Hash) error {
	for {
		if d == nil {
			tap.mu.Lock()
			tap.next = off
			tap.mu.Unlock()
			var err error
			if d, err = f.ReadDirect(ctx, off, tap); err != nil {
				return err
			}
		}
		werr := make(chan error, 1)
		go func() { werr <- d.Wait(ctx) }()
		var err error
		idle := 0
	consume:
		for {
			if n := tap.consume(d, h); n > 0 {
				off += n
				idle = 0
			} else if idle++; idle == 50 {
				d.Starved() // as web/boot.js does when its consumer has waited a while
			}
			select {
			case err = <-werr:
				break consume
			case <-time.After(time.Millisecond):
			}
		}
		off += tap.consume(d, h)
		d.Close()
		d = nil
		switch {
		case errors.Is(err, ErrReleased):
		case err != nil:
			return err
		case off != f.Size():
			return errors.New("END before the last byte")
		default:
			return nil
		}
	}
}

func readAllDirect(ctx context.Context, f *File, tap *testTap, off int64) ([32]byte, error) {
	h := sha256.New()
	err := readDirect(ctx, f, tap, nil, off, h)
	return [32]byte(h.Sum(nil)), err
}

// A direct read delivers the file whole through its tap, credit after credit, while no DATA
// reaches the Client (which would fail the session), and leaves the session as it found it.
func TestDirectReadWholeFile(t *testing.T) {
	dir := t.TempDir()
	src := writeRandom(t, dir, "a.bin", 5<<20+123)
	other := writeRandom(t, dir, "b.bin", 2<<20)
	c, tt := newTapSession(t, dir, ClientOptions{StreamWindow: 256 << 10, SessionWindow: 1 << 20})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	f, err := c.Open(ctx, "a.bin")
	require.NoError(t, err)
	defer f.Close()

	tap := &testTap{tt: tt}
	got, err := readAllDirect(ctx, f, tap, 0)
	require.NoError(t, err)
	assert.Equal(t, sum(src), got)
	assert.Equal(t, 1, tap.routes, "the stream was never released")
	assert.Equal(t, int64(len(src)), c.BytesReceived())
	require.NoError(t, c.Err())

	// All the credit came back: a read of more than the session window goes through.
	g, err := c.Open(ctx, "b.bin")
	require.NoError(t, err)
	defer g.Close()
	p := make([]byte, len(other))
	_, err = g.ReadAtContext(ctx, p, 0)
	require.NoError(t, err)
	assert.Equal(t, sum(other), sum(p))

	// And from an offset, to the end.
	got, err = readAllDirect(ctx, f, &testTap{tt: tt}, 1<<20+7)
	require.NoError(t, err)
	assert.Equal(t, sum(src[1<<20+7:]), got)
}

// Direct reads whose consumers stopped hold the session's credit; another request must not
// stall behind them: the session releases them, and each goes on from where it stood.
func TestDirectReadReleasedForAnotherRead(t *testing.T) {
	dir := t.TempDir()
	a := writeRandom(t, dir, "a.bin", 3<<20)
	b := writeRandom(t, dir, "b.bin", 3<<20)
	x := writeRandom(t, dir, "x.bin", 100<<10)
	c, tt := newTapSession(t, dir, ClientOptions{StreamWindow: 256 << 10, SessionWindow: 512 << 10})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	type paused struct {
		f   *File
		tap *testTap
		d   *DirectRead
	}
	var ps []paused
	for _, name := range []string{"a.bin", "b.bin"} {
		f, err := c.Open(ctx, name)
		require.NoError(t, err)
		defer f.Close()
		tap := &testTap{tt: tt}
		d, err := f.ReadDirect(ctx, 0, tap)
		require.NoError(t, err)
		ps = append(ps, paused{f, tap, d})
	}
	// Both fill their windows, which together are the session's.
	waitFor(t, func() bool { return ps[0].tap.Owed() == 256<<10 && ps[1].tap.Owed() == 256<<10 })

	g, err := c.Open(ctx, "x.bin")
	require.NoError(t, err)
	defer g.Close()
	p := make([]byte, len(x))
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = g.ReadAtContext(rctx, p, 0)
	rcancel()
	require.NoError(t, err, "a read stalled behind paused direct reads")
	assert.Equal(t, sum(x), sum(p))

	// One was released (the other then had room); each consumer still gets its file whole,
	// the released one from a new read where it stood.
	for i, src := range [][]byte{a, b} {
		h := sha256.New()
		require.NoError(t, readDirect(ctx, ps[i].f, ps[i].tap, ps[i].d, 0, h))
		assert.Equal(t, sum(src), [32]byte(h.Sum(nil)))
	}
	assert.Equal(t, 3, ps[0].tap.routes+ps[1].tap.routes, "not exactly one direct read released")
}

// DATA the tap leaves to the Client (out of order, beyond credit) fails the session with a
// protocol error, and the read with it.
func TestDirectReadDataLeftToClient(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, dir, "a.bin", 1<<20)
	c, tt := newTapSession(t, dir, ClientOptions{StreamWindow: 256 << 10, SessionWindow: 1 << 20})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	f, err := c.Open(ctx, "a.bin")
	require.NoError(t, err)
	defer f.Close()
	_, err = readAllDirect(ctx, f, &testTap{tt: tt, refuse: 100 << 10}, 0)
	var pe *ProtocolError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, wire.CodeProtocol, pe.Code)
	assert.Contains(t, pe.Message, "DATA on direct stream", "the read loop did not catch it")
	assert.ErrorAs(t, c.Err(), &pe)
}

// Closing a direct read part way CANCELs it and gives the session back the credit of what its
// tap held.
func TestDirectReadClose(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, dir, "a.bin", 4<<20)
	other := writeRandom(t, dir, "b.bin", 3<<20)
	c, tt := newTapSession(t, dir, ClientOptions{StreamWindow: 256 << 10, SessionWindow: 512 << 10})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	f, err := c.Open(ctx, "a.bin")
	require.NoError(t, err)
	defer f.Close()
	for range 3 {
		tap := &testTap{tt: tt}
		d, err := f.ReadDirect(ctx, 0, tap)
		require.NoError(t, err)
		waitFor(t, func() bool { return tap.Owed() == 256<<10 }) // the consumer took none of it
		d.Close()
		assert.ErrorIs(t, d.Wait(ctx), ErrReleased, "a closed read still delivers")
	}
	// Were the credit lost, three reads that each held the stream window would have left the
	// session with none.
	g, err := c.Open(ctx, "b.bin")
	require.NoError(t, err)
	defer g.Close()
	p := make([]byte, len(other))
	_, err = g.ReadAtContext(ctx, p, 0)
	require.NoError(t, err)
	assert.Equal(t, sum(other), sum(p))
}

// A direct read whose consumer waits while paused ones hold the session's credit gets it
// once it says it is starved.
func TestDirectReadStarvedTakesRoom(t *testing.T) {
	dir := t.TempDir()
	srcs := [][]byte{writeRandom(t, dir, "a.bin", 1<<20), writeRandom(t, dir, "b.bin", 1<<20), writeRandom(t, dir, "c.bin", 1<<20)}
	c, tt := newTapSession(t, dir, ClientOptions{StreamWindow: 256 << 10, SessionWindow: 512 << 10})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var fs []*File
	var taps []*testTap
	var ds []*DirectRead
	for _, name := range []string{"a.bin", "b.bin", "c.bin"} {
		f, err := c.Open(ctx, name) // before the reads: a request waiting for its answer makes room too
		require.NoError(t, err)
		defer f.Close()
		fs = append(fs, f)
	}
	for i, f := range fs {
		tap := &testTap{tt: tt, waiting: i == 2}
		d, err := f.ReadDirect(ctx, 0, tap)
		require.NoError(t, err)
		if i < 2 {
			waitFor(t, func() bool { return tap.Owed() == 256<<10 })
		}
		taps, ds = append(taps, tap), append(ds, d)
	}
	time.Sleep(100 * time.Millisecond)
	require.Zero(t, taps[2].Owed(), "c.bin got DATA with no session credit left")
	ds[2].Starved()
	waitFor(t, func() bool { return taps[2].Owed() > 0 })
	for i := range 3 {
		taps[i].mu.Lock()
		taps[i].waiting = false
		taps[i].mu.Unlock()
		h := sha256.New()
		require.NoError(t, readDirect(ctx, fs[i], taps[i], ds[i], 0, h))
		assert.Equal(t, sum(srcs[i]), [32]byte(h.Sum(nil)))
	}
}
