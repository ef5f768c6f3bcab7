package rangefs

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
)

// Files opened, read a little and left (a media player's idle connections, a file manager
// reading headers) hold their read-ahead; that must not stall a read of another file.
func TestIdleReadAheadDoesNotStall(t *testing.T) {
	dir := t.TempDir()
	const n = 6
	var srcs [][]byte
	for i := range n {
		srcs = append(srcs, writeRandom(t, dir, fmt.Sprintf("f%d.bin", i), 1<<20))
	}
	// Stream windows that add up to more than the session's: idle readers can hold it all.
	ts := startSession(t, dir, ServerOptions{}, ClientOptions{StreamWindow: 512 << 10, SessionWindow: 1 << 20})
	var files []*File
	for i := range n - 1 {
		f, err := ts.c.Open(t.Context(), fmt.Sprintf("f%d.bin", i))
		require.NoError(t, err)
		defer f.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, err = f.ReadContext(ctx, make([]byte, 1))
		cancel()
		require.NoError(t, err, "a read stalled behind idle read-ahead")
		files = append(files, f)
	}
	time.Sleep(100 * time.Millisecond) // the read-ahead arrives
	f, err := ts.c.Open(t.Context(), fmt.Sprintf("f%d.bin", n-1))
	require.NoError(t, err)
	defer f.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	h := sha256.New()
	_, err = io.Copy(h, readerCtx{ctx, f})
	require.NoError(t, err, "a read stalled behind idle read-ahead")
	assert.Equal(t, sum(srcs[n-1]), [32]byte(h.Sum(nil)))
	// The idle files still read on from where they were.
	for i, f := range files {
		h := sha256.New()
		h.Write(srcs[i][:1])
		_, err := io.Copy(h, readerCtx{ctx, f})
		require.NoError(t, err)
		assert.Equal(t, sum(srcs[i]), [32]byte(h.Sum(nil)))
	}
}

type readerCtx struct {
	ctx context.Context
	f   *File
}

func (r readerCtx) Read(p []byte) (int, error) { return r.f.ReadContext(r.ctx, p) }

// Many sequential readers at once on a session smaller than their windows together: the
// session reclaims read-ahead between their reads, and every one of them still gets its file
// whole.
func TestReadAheadReclaimUnderContention(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	size := 2 << 20
	if onJS {
		size = 256 << 10
	}
	var srcs [][]byte
	for i := range n {
		srcs = append(srcs, writeRandom(t, dir, fmt.Sprintf("f%d.bin", i), size+i*1000))
	}
	ts := startSession(t, dir, ServerOptions{}, ClientOptions{StreamWindow: 256 << 10, SessionWindow: 512 << 10})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var g errgroup.Group
	for i := range n {
		g.Go(func() error {
			f, err := ts.c.Open(ctx, fmt.Sprintf("f%d.bin", i))
			if err != nil {
				return err
			}
			defer f.Close()
			h := sha256.New()
			// Small reads, so that a reader is often between reads (reclaimable).
			if _, err := io.CopyBuffer(h, readerCtx{ctx, f}, make([]byte, 3000)); err != nil {
				return err
			}
			if [32]byte(h.Sum(nil)) != sum(srcs[i]) {
				return fmt.Errorf("f%d.bin: wrong sha256", i)
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
}
