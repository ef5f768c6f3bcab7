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

// startCountingSessions starts n sessions on dir (startCountingSession), each with its
// client's writes counted.
func startCountingSessions(t *testing.T, dir string, n int) ([]*Client, []*countingTransport) {
	t.Helper()
	var cs []*Client
	var cts []*countingTransport
	for range n {
		c, ct := startCountingSession(t, dir)
		cs, cts = append(cs, c), append(cts, ct)
	}
	return cs, cts
}

// A striped read returns the range's bytes, in order, and every session carries some of them,
// one added after the read began too.
func TestStripedReadsInOrderOverEverySession(t *testing.T) {
	dir := t.TempDir()
	src := writeRandom(t, dir, "big.bin", 70*chunk+12345)
	cs, cts := startCountingSessions(t, dir, 3)
	f, err := cs[0].Open(t.Context(), "big.bin")
	require.NoError(t, err)
	defer f.Close()
	var before [3]int64
	for i, ct := range cts {
		before[i] = ct.writes.Load()
	}

	// A short last chunk, and chunks enough left when the third session comes to have some.
	const off, n = chunk/2 + 7, 65*chunk + 999
	s := f.Striped(t.Context(), off, n, cs[1])
	h := sha256.New()
	buf := make([]byte, 100_000) // reads that straddle chunks
	_, err = io.CopyBuffer(h, io.LimitReader(s, chunk), buf)
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
	dir := t.TempDir()
	src := writeRandom(t, dir, "big.bin", 40*chunk)
	cs, _ := startCountingSessions(t, dir, 2)
	// HELLO is write 1; the second of the lost session's READs fails it, the first in flight.
	cut := &cutTransport{cut: 3}
	lost := startSessionOver(t, dir, ServerOptions{}, ClientOptions{}, func(a Transport) Transport {
		cut.Transport = a
		return cut
	})
	f, err := cs[0].Open(t.Context(), "big.bin")
	require.NoError(t, err)
	defer f.Close()
	s := f.Striped(t.Context(), 0, math.MaxInt64, lost.c, cs[1])
	defer s.Close()

	h := sha256.New()
	_, err = io.Copy(h, s)
	require.NoError(t, err)
	assert.Equal(t, sum(src), [32]byte(h.Sum(nil)))
	assert.GreaterOrEqual(t, cut.writes.Load(), cut.cut, "the lost session never took a chunk")
}

// When every session is lost, Read says why instead of waiting.
func TestStripedFailsWhenEverySessionIsLost(t *testing.T) {
	dir := t.TempDir()
	writeRandom(t, dir, "big.bin", 40*chunk)
	cs, _ := startCountingSessions(t, dir, 2)
	f, err := cs[0].Open(t.Context(), "big.bin")
	require.NoError(t, err)
	defer f.Close()
	s := f.Striped(t.Context(), 0, math.MaxInt64, cs[1])
	defer s.Close()
	_, err = io.CopyN(io.Discard, s, chunk)
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
	dir := t.TempDir()
	src := writeRandom(t, dir, "big.bin", 8*chunk)
	cs, _ := startCountingSessions(t, dir, 2)
	f, err := cs[0].Open(t.Context(), "big.bin")
	require.NoError(t, err)
	defer f.Close()
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
	dir := t.TempDir()
	src := writeRandom(t, dir, "big.bin", 20*chunk)
	cs, _ := startCountingSessions(t, dir, 1)
	f, err := cs[0].Open(t.Context(), "big.bin")
	require.NoError(t, err)
	defer f.Close()

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
