package main

import (
	"context"
	"crypto/sha256"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readaheadFile serves a file of size random bytes over an in-memory session (the real
// rangefs server and client) and opens it as the mount does. fetched counts the file bytes
// the server sent: what the read-ahead asked of the daemon.
func readaheadFile(t *testing.T, size int) (h *mountFile, data []byte, fetched *atomic.Int64) {
	t.Helper()
	return readaheadFileHook(t, size, nil)
}

// readaheadFileHook is readaheadFile with sent called after each DATA frame the server
// sends, with the bytes sent so far, on the goroutine serving the request: blocking in it
// stalls that request.
func readaheadFileHook(t *testing.T, size int, sent func(total int64)) (h *mountFile, data []byte, fetched *atomic.Int64) {
	t.Helper()
	c, _, data, fetched := pipeSession(t, size, sent)
	f, err := c.Open(t.Context(), "f.bin")
	require.NoError(t, err)
	h = newMountFile(f)
	t.Cleanup(func() { _ = h.Release(context.Background()) })
	return h, data, fetched
}

// read reads [off, off+n) through h as the kernel would and checks the bytes.
func (h *mountFile) testRead(t *testing.T, data []byte, off, n int64) {
	t.Helper()
	res, st := h.Read(t.Context(), make([]byte, n), off)
	require.Equal(t, 0, int(st), "read %d+%d", off, n)
	b, fst := res.Bytes(nil)
	require.True(t, fst.Ok(), "read %d+%d: %v", off, n, fst)
	end := min(off+n, int64(len(data)))
	require.Equal(t, sha256.Sum256(data[off:end]), sha256.Sum256(b), "bytes of %d+%d", off, n)
}

// settle waits until every request of the read-ahead has its bytes, so that fetched is final.
func (h *mountFile) settle() {
	h.mu.Lock()
	var spans []*span
	for _, s := range h.streams {
		spans = append(spans, s.spans...)
	}
	h.mu.Unlock()
	for _, sp := range spans {
		<-sp.done
	}
}

// A seek costs the daemon about what is read after it, not megabytes of read-ahead: ffmpeg
// opening a film (its header, its index at the end, the start of its data), then seeking
// to the middle of it, as the kernel hands the reads to the mount (from a trace of
// `ffmpeg -ss 123.4 -i film.mp4`, 128 KiB reads, each continuing the last).
func TestMountReadAheadAfterSeek(t *testing.T) {
	const size = 64 << 20
	h, data, fetched := readaheadFile(t, size)

	// The seek itself and the read after it (the kernel's own read-ahead always sends one).
	seek := int64(20<<20 + 12345)
	h.testRead(t, data, seek, 128<<10)
	h.testRead(t, data, seek+128<<10, 128<<10)
	h.settle()
	assert.LessOrEqual(t, fetched.Load(), int64(1<<20), "bytes fetched for one seek and the read after it")

	// The whole open-and-seek of a film.
	fetched.Store(0)
	var asked int64
	read := func(off, n int64) {
		h.testRead(t, data, off, n)
		asked += n
	}
	read(0, 64<<10)
	read(size-220<<10, 36<<10)
	read(size-184<<10, 64<<10)
	read(size-120<<10, 120<<10)
	read(64<<10, 64<<10)
	for off := int64(128 << 10); off < 640<<10; off += 128 << 10 {
		read(off, 128<<10)
	}
	seek = 40<<20 + 4567
	for i := range int64(11) {
		read(seek+i*128<<10, 128<<10)
	}
	h.settle()
	t.Logf("open and seek: %d bytes read, %d fetched", asked, fetched.Load())
	assert.LessOrEqual(t, fetched.Load(), 2*asked, "bytes fetched for the open and the seek")
}

// A sequential reader is read ahead of, up to maxAhead (reached once it has read
// aheadGrowth × maxAhead), and no byte is fetched twice.
func TestMountReadAheadSequential(t *testing.T) {
	const size = 24<<20 + 777
	h, data, fetched := readaheadFile(t, size)
	for off := int64(0); off < size; off += 128 << 10 {
		h.testRead(t, data, off, 128<<10)
		if off == aheadGrowth*maxAhead {
			h.settle()
			assert.GreaterOrEqual(t, fetched.Load(), off+128<<10+maxAhead/2, "bytes fetched ahead of a sequential reader at %d", off)
		}
	}
	h.settle()
	assert.Equal(t, int64(size), fetched.Load(), "bytes fetched for one sequential read of the file")
}

// Two places read in turn (a film whose audio and video lie far apart) are two streams,
// each with its own read-ahead: neither makes the other start again from nothing.
func TestMountReadAheadTwoStreams(t *testing.T) {
	const size = 32 << 20
	h, data, fetched := readaheadFile(t, size)
	a, b := int64(1<<20+99), int64(20<<20+5)
	var asked int64
	for range 40 {
		h.testRead(t, data, a, 128<<10)
		h.testRead(t, data, b, 64<<10)
		a, b = a+128<<10, b+64<<10
		asked += 192 << 10
	}
	h.settle()
	t.Logf("two streams: %d bytes read, %d fetched", asked, fetched.Load())
	assert.LessOrEqual(t, fetched.Load(), asked+2*maxAhead, "bytes fetched for two interleaved readers")
	// Both are read ahead of: beyond what was asked, the daemon sent at least half a window
	// of each (a window is what the stream read since it began over aheadGrowth: 5 MiB/4
	// for the first, 2.5 MiB/4 for the second).
	assert.GreaterOrEqual(t, fetched.Load(), asked+(40*128<<10)/aheadGrowth/2+(40*64<<10)/aheadGrowth/2, "bytes fetched ahead of two interleaved readers")
}

// After a seek, a reader that goes on reading (ffmpeg decoding from the keyframe before the
// point it seeks to: 2.75 MB, the median of the bench's seeks) costs the daemon little more
// than what it reads: the window grows with a quarter of what the stream has read, so what
// it fetched past the last read is a quarter of it, not as much again.
func TestMountReadAheadSeekThenRead(t *testing.T) {
	const size = 64 << 20
	h, data, fetched := readaheadFile(t, size)
	seek := int64(40<<20 + 4567)
	var asked int64
	for i := range int64(22) {
		h.testRead(t, data, seek+i*128<<10, 128<<10)
		asked += 128 << 10
	}
	h.settle()
	t.Logf("seek and read on: %d bytes read, %d fetched", asked, fetched.Load())
	assert.LessOrEqual(t, fetched.Load(), asked+asked/4, "bytes fetched for a seek and the reads after it")
}

// A read whose bytes begin a larger request of the read-ahead returns once they are there,
// not once the whole request is: here the daemon stalls after the first quarter of a 1 MiB
// request, and a read of its first 128 KiB must still return.
func TestMountReadTakesItsBytesOfALargerRequest(t *testing.T) {
	const size = 8 << 20
	stall := make(chan struct{})
	h, data, _ := readaheadFileHook(t, size, func(total int64) {
		if total >= 256<<10 {
			<-stall
		}
	})
	t.Cleanup(func() { close(stall) }) // before readaheadFile's cleanup, which waits for the server
	h.mu.Lock()
	s := &readStream{}
	h.streams = []*readStream{s}
	h.fetch(s, 0, aheadChunk)
	h.mu.Unlock()

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, st := h.Read(ctx, make([]byte, 128<<10), 0)
	require.Equal(t, 0, int(st), "a read of bytes that have arrived, while the rest of their request is stalled")
	b, _ := res.Bytes(nil)
	assert.Equal(t, sha256.Sum256(data[:128<<10]), sha256.Sum256(b))
}
