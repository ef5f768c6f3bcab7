package rangefs

import (
	"crypto/sha256"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/wire"
)

// chunk is the chunk size of the striped reads in these tests: smaller than StripeChunk, so
// that files of a few MiB make dozens of chunks (and run quickly under Node too).
const chunk = 64 << 10

func init() { stripeChunk = chunk }

// stripeWriteDelay holds back every write of the sessions of these tests (startStripeSessions),
// READs included. A reader then stays busy with its chunk long enough for every reader of every
// session to take one: on loopback the first session's readers could otherwise read all the
// chunks before another session's readers had started, and a test that needs each session to
// take some failed on a busy machine (TestStripedSurvivesALostSession in 56 of 100 runs while
// another test suite ran).
const stripeWriteDelay = time.Millisecond

// startStripeSessions starts n sessions on dir (startDelayedSession), each with its client's
// writes counted and held back by stripeWriteDelay.
func startStripeSessions(t *testing.T, dir string, n int) ([]*Client, []*countingTransport) {
	t.Helper()
	var cs []*Client
	var cts []*countingTransport
	for range n {
		c, ct := startDelayedSession(t, dir, stripeWriteDelay)
		cs, cts = append(cs, c), append(cts, ct)
	}
	return cs, cts
}

// stripedFile is a file of random bytes with counted sessions on its directory, opened on the
// first of them.
type stripedFile struct {
	dir string
	src []byte
	cs  []*Client
	cts []*countingTransport
	f   *File // big.bin, opened on cs[0]; closed with the test
}

// newStripedFile writes big.bin of size random bytes, starts sessions sessions on its directory
// (startStripeSessions) and opens big.bin on the first.
func newStripedFile(t *testing.T, size, sessions int) *stripedFile {
	t.Helper()
	sf := &stripedFile{dir: t.TempDir()}
	sf.src = writeRandom(t, sf.dir, "big.bin", size)
	sf.cs, sf.cts = startStripeSessions(t, sf.dir, sessions)
	f, err := sf.cs[0].Open(t.Context(), "big.bin")
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	sf.f = f
	return sf
}

// A striped read returns the range's bytes, in order, and every session carries some of them,
// one added after the read began too.
func TestStripedReadsInOrderOverEverySession(t *testing.T) {
	sf := newStripedFile(t, 30*chunk+12345, 3)
	src, cs, cts, f := sf.src, sf.cs, sf.cts, sf.f
	var before [3]int64
	for i, ct := range cts {
		before[i] = ct.writes.Load()
	}

	const off, n = chunk/2 + 7, 25*chunk + 999 // a short last chunk
	s := f.Striped(t.Context(), off, n, cs[1])
	h := sha256.New()
	buf := make([]byte, 100_000) // reads that straddle chunks
	_, err := io.CopyBuffer(h, io.LimitReader(s, chunk), buf)
	require.NoError(t, err)
	s.Add(cs[2])
	_, err = io.CopyBuffer(h, s, buf)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	assert.Equal(t, sum(src[off:off+n]), [32]byte(h.Sum(nil)))
	for i, ct := range cts {
		assert.Greater(t, ct.writes.Load(), before[i], "session %d sent no READ", i)
	}
	s.Add(cs[2]) // after Close: nothing to do, nothing started
}

// cutTransport fails for good at its client's write number cut: the connection is lost
// with reads in flight.
type cutTransport struct {
	Transport
	writes atomic.Int64
	cut    int64
}

func (c *cutTransport) Write(p []byte) (int, error) {
	if c.writes.Add(1) >= c.cut {
		_ = c.Transport.Close()
		return 0, io.ErrClosedPipe
	}
	return c.Transport.Write(p)
}

func (c *cutTransport) MaxMessageSize() int { return transportMax(c.Transport) }

// A session that is lost in the middle, with chunks in flight, leaves them to the others:
// the bytes still come out whole and in order.
func TestStripedSurvivesALostSession(t *testing.T) {
	sf := newStripedFile(t, 12*chunk, 2)
	// HELLO is write 1; the second of the lost session's READs fails it, the first in flight.
	cut := &cutTransport{cut: 3}
	lost := startSessionOver(t, sf.dir, ServerOptions{}, ClientOptions{}, func(a Transport) Transport {
		cut.Transport = a
		return cut
	})
	s := sf.f.Striped(t.Context(), 0, math.MaxInt64, lost.c, sf.cs[1])
	defer s.Close()

	h := sha256.New()
	_, err := io.Copy(h, s)
	require.NoError(t, err)
	assert.Equal(t, sum(sf.src), [32]byte(h.Sum(nil)))
	assert.GreaterOrEqual(t, cut.writes.Load(), cut.cut, "the lost session never took a chunk")
}

// When every session is lost, Read says why instead of waiting.
func TestStripedFailsWhenEverySessionIsLost(t *testing.T) {
	sf := newStripedFile(t, 40*chunk, 2)
	cs, f := sf.cs, sf.f
	s := f.Striped(t.Context(), 0, math.MaxInt64, cs[1])
	defer s.Close()
	_, err := io.CopyN(io.Discard, s, chunk)
	require.NoError(t, err)
	for _, c := range cs {
		require.NoError(t, c.Close())
	}
	errc := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, s)
		errc <- err
	}()
	select {
	case err := <-errc:
		require.Error(t, err)
		_, isStatus := err.(*StatusError)
		assert.False(t, isStatus, "a lost session is not an answer about the file: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Read waited on sessions that were all gone")
	}
}

// Every session reads the version f opened: a file changed after Open fails the read with
// ErrChanged, whichever session meets it, and no byte of the new version comes out.
func TestStripedChangedFileFails(t *testing.T) {
	sf := newStripedFile(t, 8*chunk, 2)
	dir, src, cs, f := sf.dir, sf.src, sf.cs, sf.f
	// Replace it before the striped read starts: the second session opens nothing of its own.
	other := make([]byte, len(src))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.bin.new"), other, 0o644))
	require.NoError(t, os.Rename(filepath.Join(dir, "big.bin.new"), filepath.Join(dir, "big.bin")))

	s := f.Striped(t.Context(), 0, math.MaxInt64, cs[1])
	defer s.Close()
	got, err := io.ReadAll(s)
	assertStatusErr(t, err, wire.StatusPreconditionFailed, ErrChanged)
	assert.Equal(t, src[:len(got)], got, "bytes of the new version came out")
}

// The first chunks of a striped read are small and grow to StripeChunk, each as large as all
// before it: every reader starts at once and they share the path, so a whole first chunk took
// as long to finish as all the chunks in flight, and Read waited for it.
func TestStripedStartsWithSmallChunks(t *testing.T) {
	sf := newStripedFile(t, 20*chunk, 1)
	src, f := sf.src, sf.f

	const off = 1000
	s := f.Striped(t.Context(), off, math.MaxInt64)
	defer s.Close()
	s.mu.Lock()
	var sizes []int
	for _, p := range s.queue {
		sizes = append(sizes, len(p.buf))
	}
	s.mu.Unlock()
	const c = chunk / 32
	assert.Equal(t, []int{c, c, 2 * c, 4 * c, 8 * c, 16 * c, 32 * c, 32 * c}, sizes, "the first chunks handed out")

	got, err := io.ReadAll(s)
	require.NoError(t, err)
	assert.Equal(t, sum(src[off:]), sum(got))
}
