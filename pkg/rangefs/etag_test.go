package rangefs

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/wire"
)

// rewriteKeepingMtime rewrites p in place with b (the same size as before) and sets its
// modification time back, as `touch -d` after an edit does: inode, size and mtime are those
// of the old version. Only the change time (ctime), which user space cannot set, moves.
func rewriteKeepingMtime(t *testing.T, p string, b []byte) {
	t.Helper()
	fi, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, int64(len(b)), fi.Size())
	// Kernel timestamps are coarse (a jiffy, 1-4 ms, unless the kernel has multigrain
	// timestamps): wait a tick so that the rewrite gets a later ctime than the creation.
	time.Sleep(20 * time.Millisecond)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(b, 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.Chtimes(p, fi.ModTime(), fi.ModTime()))
	after, err := os.Stat(p)
	require.NoError(t, err)
	require.True(t, fi.ModTime().Equal(after.ModTime()), "mtime %v, was %v", after.ModTime(), fi.ModTime())
	require.Equal(t, fi.Size(), after.Size())
}

// TestETagSeesEditKeepingSizeAndMtime: a file rewritten with the same size and its mtime set
// back is a new version; a READ with the old ETag fails with ErrChanged, by handle and by
// path, instead of serving the new bytes as if they were the old ones.
func TestETagSeesEditKeepingSizeAndMtime(t *testing.T) {
	dir := t.TempDir()
	old := writeRandom(t, dir, "f.bin", 100_000)
	// Whole seconds: Node (GOOS=js) sets times with millisecond precision at best.
	mtime := time.Now().Add(-time.Hour).Truncate(time.Second)
	require.NoError(t, os.Chtimes(filepath.Join(dir, "f.bin"), mtime, mtime))
	ts := startSession(t, dir, ServerOptions{}, ClientOptions{})
	ctx := t.Context()

	f, err := ts.c.Open(ctx, "f.bin")
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	etag := f.Info().ETag()
	buf := make([]byte, 1000)
	_, err = f.ReadAt(buf, 0)
	require.NoError(t, err)
	assert.Equal(t, sum(old[:1000]), sum(buf))

	edited := append([]byte(nil), old...)
	for i := range edited {
		edited[i] ^= 0xff
	}
	rewriteKeepingMtime(t, filepath.Join(dir, "f.bin"), edited)

	_, err = f.ReadAt(buf, 50_000)
	assert.ErrorIs(t, err, ErrChanged, "READ on the open handle with the old ETag")

	rp := startRaw(t, dir, ServerOptions{}, nil)
	rp.send(1, &wire.Read{Path: "f.bin", Length: 1000, IfMatch: etag})
	end, n := rp.recvEnd(1)
	assert.Equal(t, wire.StatusPreconditionFailed, end.Status, "READ by path with the old ETag")
	assert.Zero(t, n)

	fi, err := ts.c.Stat(ctx, "f.bin")
	require.NoError(t, err)
	assert.NotEqual(t, etag, fi.ETag(), "STAT after the edit")
}
