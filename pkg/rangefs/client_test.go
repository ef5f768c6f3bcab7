package rangefs

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadWholeFile(t *testing.T) {
	dir := t.TempDir()
	want := writeRandom(t, dir, "a/b.bin", 3<<20+17)
	ts := startSession(t, dir, ServerOptions{}, ClientOptions{})

	f, err := ts.c.Open(t.Context(), "/a/b.bin")
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, int64(len(want)), f.Size())
	got, err := io.ReadAll(f)
	require.NoError(t, err)
	assert.Equal(t, sum(want), sum(got))

	p := make([]byte, 1000)
	n, err := f.ReadAt(p, int64(len(want)-500))
	assert.Equal(t, 500, n)
	assert.Equal(t, io.EOF, err)
	assert.Equal(t, sum(want[len(want)-500:]), sum(p[:n]))
}
