package rangefs

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/wire"
)

// onJS is true under js/wasm, where the file system is Node's and everything runs on one
// thread: tests shrink their sizes there. (Only test files may be added to this package
// today, so this is a runtime.GOOS constant rather than a build-tagged one.)
const onJS = runtime.GOOS == "js"

// raceEnabled reports whether the test binary was built with -race, read from the build
// settings the go command records in every binary.
var raceEnabled = sync.OnceValue(func() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
})

// testSeed returns a seed for math/rand, logged so that a failure can be replayed.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	seed := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
	t.Logf("seed %d", seed)
	return seed
}

// checkReadAt checks one ReadAt result against src: the bytes by hash, n, and io.EOF exactly
// when the range runs past the end. It reports whether all held.
func checkReadAt(t *testing.T, src, p []byte, off int64, n int, err error) bool {
	t.Helper()
	end := min(off+int64(len(p)), int64(len(src)))
	want := src[min(off, end):end]
	ok := assert.Equal(t, len(want), n, "n of ReadAt(%d bytes at %d)", len(p), off)
	if len(want) < len(p) {
		ok = assert.Equal(t, io.EOF, err, "ReadAt(%d bytes at %d) runs past EOF", len(p), off) && ok
	} else {
		ok = assert.NoError(t, err, "ReadAt(%d bytes at %d)", len(p), off) && ok
	}
	if n >= 0 && n <= len(p) {
		ok = assert.Equal(t, sum(want), sum(p[:n]), "bytes of ReadAt(%d bytes at %d)", len(p), off) && ok
	}
	return ok
}

// Many goroutines share one *File and read random ranges — one byte to 1 MiB, some running
// past the end — and every answer is the right bytes.
func TestConcurrentReadAtOneFile(t *testing.T) {
	size, workers, reads, maxLen := 64<<20, 32, 50, 1<<20
	switch {
	case onJS:
		size, workers, reads, maxLen = 8<<20, 8, 8, 256<<10
	case raceEnabled():
		reads = 8 // the race detector makes every copy and hash several times slower
	}
	dir := t.TempDir()
	src := writeRandom(t, dir, "big.bin", size)
	ts := startSession(t, dir, ServerOptions{}, ClientOptions{})
	f, err := ts.c.Open(t.Context(), "big.bin")
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, int64(size), f.Size())

	seed := testSeed(t)
	var pastEOF, failed atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(seed, uint64(w)))
			buf := make([]byte, maxLen)
			for i := range reads {
				n := 1 + rng.IntN(maxLen)
				switch i % 10 {
				case 0:
					n = 1
				case 1:
					n = maxLen
				}
				off := rng.IntN(size)
				if i%4 == 3 { // start within n of the end, or at it: the read runs past EOF
					off = size - rng.IntN(n+1)
				}
				if off+n > size {
					pastEOF.Add(1)
				}
				p := buf[:n]
				got, err := f.ReadAt(p, int64(off))
				if !checkReadAt(t, src, p, int64(off), got, err) {
					failed.Add(1)
					return
				}
			}
		})
	}
	wg.Wait()
	assert.Zero(t, failed.Load())
	assert.Positive(t, pastEOF.Load(), "no read ran past EOF; the test lost its point")

	// The session is still sound: a whole sequential pass gives the file's hash.
	h := sha256.New()
	f2, err := ts.c.Open(t.Context(), "big.bin")
	require.NoError(t, err)
	defer f2.Close()
	n, err := io.Copy(h, f2)
	require.NoError(t, err)
	assert.Equal(t, int64(size), n)
	assert.Equal(t, sum(src), [32]byte(h.Sum(nil)))
}

// Sequential Read through io.Copy gives exactly the file, whatever the window and frame
// sizes.
func TestSequentialReadHash(t *testing.T) {
	size := 16<<20 + 12345 // not a multiple of any frame size
	if onJS {
		size = 2<<20 + 12345
	}
	dir := t.TempDir()
	src := writeRandom(t, dir, "seq.bin", size)

	tests := []struct {
		name string
		so   ServerOptions
		co   ClientOptions
	}{
		{"defaults", ServerOptions{}, ClientOptions{}},
		{"64 KiB window", ServerOptions{}, ClientOptions{StreamWindow: 64 << 10}},
		{"16 KiB frames", ServerOptions{MaxFrame: wire.MinFrameSize}, ClientOptions{MaxFrame: wire.MinFrameSize, StreamWindow: 100_000}},
		{"window smaller than a frame", ServerOptions{}, ClientOptions{StreamWindow: 5000, SessionWindow: 5000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startSession(t, dir, tt.so, tt.co)
			f, err := ts.c.Open(t.Context(), "seq.bin")
			require.NoError(t, err)
			defer f.Close()
			h := sha256.New()
			n, err := io.Copy(h, f)
			require.NoError(t, err)
			assert.Equal(t, int64(size), n)
			assert.Equal(t, sum(src), [32]byte(h.Sum(nil)))

			// At the end, Read keeps saying io.EOF with no bytes.
			k, err := f.Read(make([]byte, 10))
			assert.Zero(t, k)
			assert.Equal(t, io.EOF, err)
		})
	}
}

// Seek moves the position Read continues from: backwards, forwards within the read-ahead,
// forwards far past it, relative to the end, and past the end.
func TestSeekThenRead(t *testing.T) {
	const window = 1 << 20
	size := int64(16<<20 + 7)
	if onJS {
		size = 4<<20 + 7
	}
	dir := t.TempDir()
	src := writeRandom(t, dir, "seek.bin", int(size))
	ts := startSession(t, dir, ServerOptions{}, ClientOptions{StreamWindow: window})
	f, err := ts.c.Open(t.Context(), "seek.bin")
	require.NoError(t, err)
	defer f.Close()

	steps := []struct {
		name    string
		offset  int64
		whence  int
		wantPos int64
		read    int
	}{
		{"start", 0, io.SeekStart, 0, 1000},
		{"current, nothing", 0, io.SeekCurrent, 1000, 1000},
		{"forward within read-ahead", 5000, io.SeekCurrent, 7000, 1000},
		{"forward to the window's edge", window - 10_000, io.SeekCurrent, 8000 + window - 10_000, 20_000},
		{"backwards a little", -3000, io.SeekCurrent, 8000 + window - 10_000 + 17_000, 2000},
		{"backwards to the start", 0, io.SeekStart, 0, 300_000},
		{"forward far", size / 2, io.SeekStart, size / 2, 4096},
		{"forward far, relative", 3 * window, io.SeekCurrent, size/2 + 4096 + 3*window, 70_000},
		{"from the end", -100, io.SeekEnd, size - 100, 100},
		{"at the end", 0, io.SeekEnd, size, 10},
		{"last bytes, short", -10, io.SeekEnd, size - 10, 1000},
		{"past the end", 10, io.SeekEnd, size + 10, 10},
		{"back from past the end", 12345, io.SeekStart, 12345, 500_000},
	}
	buf := make([]byte, 1<<20)
	for _, st := range steps {
		pos, err := f.Seek(st.offset, st.whence)
		require.NoError(t, err, st.name)
		require.Equal(t, st.wantPos, pos, st.name)

		n, err := io.ReadFull(f, buf[:st.read])
		want := src[min(pos, size):min(pos+int64(st.read), size)]
		assert.Equal(t, len(want), n, st.name)
		switch {
		case len(want) == st.read:
			assert.NoError(t, err, st.name)
		case len(want) == 0:
			assert.Equal(t, io.EOF, err, st.name)
		default:
			assert.Equal(t, io.ErrUnexpectedEOF, err, st.name)
		}
		assert.Equal(t, sum(want), sum(buf[:n]), st.name)

		// ReadAt elsewhere does not move the position.
		p := make([]byte, 777)
		k, err := f.ReadAt(p, 4321)
		require.NoError(t, err)
		assert.Equal(t, sum(src[4321:4321+777]), sum(p[:k]), st.name)
		cur, err := f.Seek(0, io.SeekCurrent)
		require.NoError(t, err)
		assert.Equal(t, pos+int64(n), cur, st.name)
	}

	_, err = f.Seek(-1, io.SeekStart)
	assert.Error(t, err, "negative position")
	_, err = f.Seek(0, 3)
	assert.Error(t, err, "bad whence")
}

// Offsets above 4 GiB travel intact: a 5 GiB sparse file with data at 4 GiB+123 and in its
// last bytes reads back right, and a hole reads as zeros.
func TestSparseFileBeyond4GiB(t *testing.T) {
	const (
		size    = int64(5 << 30)
		midOff  = int64(4<<30 + 123)
		tailLen = 1000
	)
	dir := t.TempDir()
	name := filepath.Join(dir, "sparse.bin")
	fh, err := os.Create(name)
	require.NoError(t, err)
	if err := fh.Truncate(size); err != nil {
		_ = fh.Close()
		t.Skipf("the file system refuses a 5 GiB sparse file: %v", err)
	}
	mid := make([]byte, 4096)
	tail := make([]byte, tailLen)
	_, _ = rand.Read(mid)
	_, _ = rand.Read(tail)
	if _, err := fh.WriteAt(mid, midOff); err != nil {
		_ = fh.Close()
		t.Skipf("the file system refuses a write at 4 GiB+123: %v", err)
	}
	_, err = fh.WriteAt(tail, size-tailLen)
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	fi, err := os.Stat(name)
	require.NoError(t, err)
	require.Equal(t, size, fi.Size())

	ts := startSession(t, dir, ServerOptions{}, ClientOptions{})
	rfi, err := ts.c.Stat(t.Context(), "sparse.bin")
	require.NoError(t, err)
	assert.Equal(t, size, rfi.Size())
	f, err := ts.c.Open(t.Context(), "sparse.bin")
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, size, f.Size())

	// Around the data at 4 GiB+123: 23 zeros, the data, 27 zeros.
	around := make([]byte, 23+len(mid)+27)
	copy(around[23:], mid)
	zeros := make([]byte, 64<<10)
	tests := []struct {
		name string
		off  int64
		want []byte
		n    int // buffer size; len(want) if 0
	}{
		{"data at 4 GiB+123", midOff, mid, 0},
		{"straddling the data", midOff - 23, around, 0},
		{"hole at 123 (same offset modulo 2^32)", 123, zeros[:len(mid)], 0},
		{"hole just below 4 GiB", 4<<30 - int64(len(zeros)), zeros, 0},
		{"hole at 2^32 exactly", 4 << 30, zeros[:123], 0},
		{"last bytes", size - tailLen, tail, 0},
		{"last bytes, past EOF", size - tailLen, tail, 3 * tailLen},
		{"last byte", size - 1, tail[tailLen-1:], 0},
		{"at EOF", size, nil, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.n
			if n == 0 {
				n = len(tt.want)
			}
			p := make([]byte, n)
			got, err := f.ReadAt(p, tt.off)
			assert.Equal(t, len(tt.want), got)
			if len(tt.want) < n {
				assert.Equal(t, io.EOF, err)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, sum(tt.want), sum(p[:got]))
		})
	}

	t.Run("seek and read", func(t *testing.T) {
		pos, err := f.Seek(midOff, io.SeekStart)
		require.NoError(t, err)
		require.Equal(t, midOff, pos)
		p := make([]byte, len(mid))
		_, err = io.ReadFull(f, p)
		require.NoError(t, err)
		assert.Equal(t, sum(mid), sum(p))

		_, err = f.Seek(-tailLen, io.SeekEnd)
		require.NoError(t, err)
		rest, err := io.ReadAll(f)
		require.NoError(t, err)
		assert.Equal(t, sum(tail), sum(rest))
	})
}

// rewrite replaces the content of name with fresh random bytes of the same size and sets its
// modification time to mtime, so that the ETag differs whatever the timestamp granularity.
func rewrite(t *testing.T, name string, mtime time.Time) []byte {
	t.Helper()
	fi, err := os.Stat(name)
	require.NoError(t, err)
	b := make([]byte, fi.Size())
	_, _ = rand.Read(b)
	require.NoError(t, os.WriteFile(name, b, 0o644))
	require.NoError(t, os.Chtimes(name, mtime, mtime))
	return b
}

var (
	// An old modification time for fresh files: any write afterwards sets mtime to now, so it
	// differs even on a file system with coarse timestamps.
	mtimeOriginal = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	mtimeRewrite  = mtimeOriginal.Add(time.Hour)
)

// A file changed after Open fails ReadAt with ErrChanged — never new bytes under the old
// ETag — however it changed; a new Open sees the new content.
func TestReadAtAfterChange(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, name string)
	}{
		{"rewritten in place, same size", func(t *testing.T, name string) { rewrite(t, name, mtimeRewrite) }},
		{"truncated", func(t *testing.T, name string) { require.NoError(t, os.Truncate(name, 500)) }},
		{"appended to", func(t *testing.T, name string) {
			fh, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = fh.Write([]byte("more"))
			require.NoError(t, err)
			require.NoError(t, fh.Close())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			orig := writeRandom(t, dir, "f.bin", 1<<20)
			name := filepath.Join(dir, "f.bin")
			require.NoError(t, os.Chtimes(name, mtimeOriginal, mtimeOriginal))
			ts := startSession(t, dir, ServerOptions{}, ClientOptions{})
			f, err := ts.c.Open(t.Context(), "f.bin")
			require.NoError(t, err)
			defer f.Close()

			p := make([]byte, 1000)
			n, err := f.ReadAt(p, 0)
			require.NoError(t, err)
			require.Equal(t, sum(orig[:1000]), sum(p[:n]))

			tt.change(t, name)

			for _, off := range []int64{0, 400_000} {
				n, err = f.ReadAt(p, off)
				assert.Zero(t, n, "bytes returned after the change")
				assertStatusErr(t, err, wire.StatusPreconditionFailed, ErrChanged)
			}

			now, err := os.ReadFile(name)
			require.NoError(t, err)
			g, err := ts.c.Open(t.Context(), "f.bin")
			require.NoError(t, err)
			defer g.Close()
			q := make([]byte, len(now))
			n, err = g.ReadAt(q, 0)
			require.NoError(t, err)
			assert.Equal(t, sum(now), sum(q[:n]))
		})
	}
}

// A file replaced by rename is a new inode: the open handle keeps reading the old one, whole
// and unmixed.
func TestReadAtAfterReplaceByRename(t *testing.T) {
	dir := t.TempDir()
	orig := writeRandom(t, dir, "f.bin", 1<<20)
	ts := startSession(t, dir, ServerOptions{}, ClientOptions{})
	f, err := ts.c.Open(t.Context(), "f.bin")
	require.NoError(t, err)
	defer f.Close()

	repl := writeRandom(t, dir, "new.bin", 1<<20)
	require.NoError(t, os.Rename(filepath.Join(dir, "new.bin"), filepath.Join(dir, "f.bin")))

	p := make([]byte, len(orig))
	n, err := f.ReadAt(p, 0)
	require.NoError(t, err)
	assert.Equal(t, sum(orig), sum(p[:n]))

	g, err := ts.c.Open(t.Context(), "f.bin")
	require.NoError(t, err)
	defer g.Close()
	n, err = g.ReadAt(p, 0)
	require.NoError(t, err)
	assert.Equal(t, sum(repl), sum(p[:n]))
}

// A Clone reads the file with a position of its own and sends no OPEN (the server sees its
// reads by path); once the file changes, its reads fail with ErrChanged like the original's.
func TestCloneReadsSameVersion(t *testing.T) {
	dir := t.TempDir()
	orig := writeRandom(t, dir, "f.bin", 3<<20)
	name := filepath.Join(dir, "f.bin")
	require.NoError(t, os.Chtimes(name, mtimeOriginal, mtimeOriginal))
	var mu sync.Mutex
	var ops []string
	c, _ := startScoped(t, dir, SessionOptions{OnAccess: func(op, p string) {
		mu.Lock()
		ops = append(ops, op+" "+p)
		mu.Unlock()
	}})
	f, err := c.Open(t.Context(), "f.bin")
	require.NoError(t, err)
	defer f.Close()

	g := f.Clone()
	assert.Equal(t, f.Info(), g.Info())
	_, err = g.Seek(1<<20, io.SeekStart)
	require.NoError(t, err)
	h := sha256.New()
	n, err := io.Copy(h, g)
	require.NoError(t, err)
	assert.Equal(t, int64(2<<20), n)
	assert.Equal(t, sum(orig[1<<20:]), [32]byte(h.Sum(nil)), "the clone's bytes")
	p := make([]byte, 1000)
	n2, err := f.Read(p) // the original's position is its own
	require.NoError(t, err)
	assert.Equal(t, sum(orig[:1000]), sum(p[:n2]))
	mu.Lock()
	assert.Equal(t, []string{"open f.bin", "read f.bin"}, ops, "what the server was asked")
	mu.Unlock()

	rewrite(t, name, mtimeRewrite)
	n2, err = g.ReadAt(p, 0)
	assert.Zero(t, n2, "bytes returned after the change")
	assertStatusErr(t, err, wire.StatusPreconditionFailed, ErrChanged)
	require.NoError(t, g.Close())
	_, err = g.Read(p)
	require.ErrorIs(t, err, fs.ErrClosed)
}

// A sequential Read that started before a rewrite in place ends with ErrChanged, and every
// byte it returned before that is from the original file. The stream window is small, so the
// server is still reading from disk when the file changes.
func TestSequentialReadDuringRewrite(t *testing.T) {
	const size = 8 << 20
	dir := t.TempDir()
	orig := writeRandom(t, dir, "f.bin", size)
	name := filepath.Join(dir, "f.bin")
	require.NoError(t, os.Chtimes(name, mtimeOriginal, mtimeOriginal))
	ts := startSession(t, dir, ServerOptions{}, ClientOptions{StreamWindow: 64 << 10})
	f, err := ts.c.Open(t.Context(), "f.bin")
	require.NoError(t, err)
	defer f.Close()

	got := make([]byte, 0, size)
	buf := make([]byte, 10_000)
	for len(got) < 100<<10 {
		n, err := f.Read(buf)
		require.NoError(t, err)
		got = append(got, buf[:n]...)
	}

	rewrite(t, name, mtimeRewrite)

	var rerr error
	for rerr == nil {
		var n int
		n, rerr = f.Read(buf)
		got = append(got, buf[:n]...)
	}
	assertStatusErr(t, rerr, wire.StatusPreconditionFailed, ErrChanged)
	assert.NotErrorIs(t, rerr, io.EOF)
	assert.Less(t, len(got), size, "the whole file was read although it changed")
	assert.Equal(t, sum(orig[:len(got)]), sum(got), "bytes after the change were mixed in")

	// Reading on does not resume with the new content.
	n, err := f.Read(buf)
	assert.Zero(t, n)
	assert.ErrorIs(t, err, ErrChanged)
}

// doneWatch is a context that closes asked the after-th time its Done channel is asked for.
// Client calls ask once to wait for a free stream and once more each time they wait for a
// frame, so after=2 means "the call is now waiting for the server".
type doneWatch struct {
	context.Context
	after int32
	calls atomic.Int32
	asked chan struct{}
}

func (d *doneWatch) Done() <-chan struct{} {
	if d.calls.Add(1) == d.after {
		close(d.asked)
	}
	return d.Context.Done()
}

// ReadAtContext with a canceled context returns context.Canceled, and the session goes on:
// the stream's credit comes back and later reads succeed.
func TestReadAtContextCanceled(t *testing.T) {
	dir := t.TempDir()
	src := writeRandom(t, dir, "f.bin", 4<<20)

	t.Run("before the call", func(t *testing.T) {
		ts := startSession(t, dir, ServerOptions{}, ClientOptions{})
		f, err := ts.c.Open(t.Context(), "f.bin")
		require.NoError(t, err)
		defer f.Close()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		p := make([]byte, 1<<20)
		n, err := f.ReadAtContext(ctx, p, 0)
		assert.Zero(t, n)
		assert.ErrorIs(t, err, context.Canceled)

		n, err = f.ReadAt(p, 12345)
		checkReadAt(t, src, p, 12345, n, err)
	})

	t.Run("while waiting for data", func(t *testing.T) {
		// One window for the whole session, held by another ReadAt whose reader stops after
		// its first bytes: the DATA that follows fills the window and stays queued for it. A
		// ReadAt's stream is not read-ahead, so nothing reclaims that credit
		// (Client.reclaimLocked): the ReadAt below gets no data until the holder goes on. (A
		// sequential Read's read-ahead held it before; the waiting ReadAt reclaimed it, and on
		// a busy machine 192 KiB came before the cancel.) Two streams per session: a stream
		// the server kept serving after the cancel would hold one of them for good.
		const window = 64 << 10
		ts := startSession(t, dir, ServerOptions{MaxStreams: 2}, ClientOptions{StreamWindow: window, SessionWindow: window})
		holder, err := ts.c.Open(t.Context(), "f.bin")
		require.NoError(t, err)
		f, err := ts.c.Open(t.Context(), "f.bin")
		require.NoError(t, err)
		defer f.Close()
		release, started, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			var once sync.Once
			_, err := holder.ReadAtProgress(t.Context(), make([]byte, 256<<10), 0, func(int) {
				once.Do(func() { close(started); <-release })
			})
			held <- err
		}()
		<-started
		require.Eventually(t, func() bool {
			ts.c.mu.Lock()
			defer ts.c.mu.Unlock()
			return ts.c.session.used-ts.c.session.pending >= ts.c.session.size
		}, 10*time.Second, time.Millisecond, "the holder's queued DATA never filled the session window")
		one := make([]byte, 1)

		inner, cancel := context.WithCancel(t.Context())
		defer cancel()
		ctx := &doneWatch{Context: inner, after: 2, asked: make(chan struct{})}
		type result struct {
			n   int
			err error
		}
		res := make(chan result, 1)
		p := make([]byte, 1<<20)
		go func() {
			n, err := f.ReadAtContext(ctx, p, 0)
			res <- result{n, err}
		}()
		select {
		case <-ctx.asked:
		case r := <-res:
			t.Fatalf("ReadAtContext returned (%d, %v) without waiting: the session window was not exhausted", r.n, r.err)
		case <-time.After(10 * time.Second):
			t.Fatal("ReadAtContext never waited on its context")
		}
		cancel()
		r := <-res
		assert.Zero(t, r.n)
		assert.ErrorIs(t, r.err, context.Canceled)

		// The holder reads on and gives its window back; the canceled stream holds none. The
		// deadline turns a stream that never ends (holding a slot) into a failure.
		ctx2, cancel2 := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel2()
		close(release)
		require.NoError(t, <-held)
		require.NoError(t, holder.Close())
		for _, off := range []int64{0, 1<<20 + 3, 3 << 20} {
			n, err := f.ReadAtContext(ctx2, p, off) // 16 windows' worth: credit must keep flowing
			checkReadAt(t, src, p, off, n, err)
		}
		_, err = ts.c.Ping(ctx2)
		assert.NoError(t, err)

		// Both stream slots are free again: the server ended the canceled stream (and the
		// holder's). A sequential reader holds one slot while it reads; a STAT needs
		// the other.
		g, err := ts.c.Open(ctx2, "f.bin")
		require.NoError(t, err)
		defer g.Close()
		_, err = g.ReadContext(ctx2, one)
		require.NoError(t, err, "no free stream: a canceled stream was never ended")
		assert.Equal(t, src[0], one[0])
		_, err = ts.c.Stat(ctx2, "f.bin")
		require.NoError(t, err, "no free stream: a canceled stream was never ended")
	})
}

// More concurrent ReadAt calls than the server's stream limit all succeed: the client queues
// them instead of getting StatusTooManyStreams.
func TestReadAtBeyondMaxStreams(t *testing.T) {
	const workers, reads = 40, 3
	size := 8 << 20
	if onJS {
		size = 2 << 20
	}
	dir := t.TempDir()
	src := writeRandom(t, dir, "f.bin", size)
	ts := startSession(t, dir, ServerOptions{MaxStreams: 4}, ClientOptions{})
	f, err := ts.c.Open(t.Context(), "f.bin")
	require.NoError(t, err)
	defer f.Close()

	seed := testSeed(t)
	errs := make(chan error, workers*reads)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(seed, uint64(w)))
			for range reads {
				off := rng.IntN(size)
				p := make([]byte, 1+rng.IntN(256<<10))
				n, err := f.ReadAt(p, int64(off))
				if err != nil && !(errors.Is(err, io.EOF) && off+len(p) > size) {
					errs <- fmt.Errorf("ReadAt(%d bytes at %d): %w", len(p), off, err)
					continue
				}
				checkReadAt(t, src, p, int64(off), n, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		var se *StatusError
		if errors.As(err, &se) {
			t.Errorf("%v (status %v)", err, se.Status)
		} else {
			t.Error(err)
		}
	}
}

// ReadAtProgress reports the bytes as they arrive: more each time, up to what it returns,
// and p[:n] already holds the file's bytes when progress(n) is called.
func TestReadAtProgress(t *testing.T) {
	dir := t.TempDir()
	src := writeRandom(t, dir, "f.bin", 2<<20)
	ts := startSession(t, dir, ServerOptions{}, ClientOptions{})
	f, err := ts.c.Open(t.Context(), "f.bin")
	require.NoError(t, err)
	defer f.Close()
	const off = 12345
	p := make([]byte, 1<<20)
	var calls []int
	n, err := f.ReadAtProgress(t.Context(), p, off, func(k int) {
		calls = append(calls, k)
		assert.Equal(t, sum(src[off:off+k]), sum(p[:k]), "p[:%d] at progress(%d)", k, k)
	})
	checkReadAt(t, src, p, off, n, err)
	require.NotEmpty(t, calls)
	assert.Greater(t, len(calls), 1, "progress calls for 1 MiB in frames")
	assert.Equal(t, n, calls[len(calls)-1], "the last progress call")
	for i := 1; i < len(calls); i++ {
		assert.Greater(t, calls[i], calls[i-1], "progress call %d", i)
	}
}

// Buffered counts exactly the bytes that have arrived at the current position: all of them
// read back, byte for byte, with a context already canceled (a Read that had to wait for the
// network would fail with it).
func TestBufferedReadsWithoutWaiting(t *testing.T) {
	dir := t.TempDir()
	const size = 512<<10 + 333
	src := writeRandom(t, dir, "f.bin", size)
	ts := startSession(t, dir, ServerOptions{}, ClientOptions{})
	f, err := ts.c.Open(t.Context(), "f.bin")
	require.NoError(t, err)
	defer f.Close()
	assert.Zero(t, f.Buffered(), "before any Read")

	p := make([]byte, size)
	n, err := f.Read(p[:1])
	require.NoError(t, err)
	require.Equal(t, 1, n)
	// The file is smaller than the stream window: all of it arrives.
	for deadline := time.Now().Add(10 * time.Second); f.Buffered() != size-1 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	require.Equal(t, int64(size-1), f.Buffered(), "everything but the byte read")

	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	n, err = f.ReadContext(canceled, p[1:1000])
	require.NoError(t, err)
	assert.Equal(t, int64(size-1-n), f.Buffered(), "after reading %d", n)
	got := 1 + n
	for got < size {
		n, err = f.ReadContext(canceled, p[got:])
		require.NoError(t, err, "at %d", got)
		got += n
	}
	assert.Equal(t, sum(src), sum(p))
	assert.Zero(t, f.Buffered(), "at the end")

	_, err = f.Seek(10, io.SeekStart)
	require.NoError(t, err)
	assert.Zero(t, f.Buffered(), "after a seek away from what arrived")
}
