package rangefs

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/wire"
)

// dialServer starts one more session on srv over a Pipe. Cleanup ends it.
func dialServer(t *testing.T, srv *Server) (*Client, func()) {
	t.Helper()
	a, b := Pipe(16, 0)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.ServeTransport(ctx, b) }()
	c, err := Dial(t.Context(), a, ClientOptions{})
	require.NoError(t, err)
	stop := sync.OnceFunc(func() {
		_ = c.Close()
		cancel()
		<-served
	})
	t.Cleanup(stop)
	return c, stop
}

// openUntilRefused opens name until the server refuses, and returns the files it got and the
// refusal.
func openUntilRefused(t *testing.T, c *Client, name string, most int) ([]*File, error) {
	t.Helper()
	var files []*File
	for range most {
		f, err := c.Open(t.Context(), name)
		if err != nil {
			return files, err
		}
		files = append(files, f)
	}
	return files, nil
}

// TestOpenFileBudget: the server's descriptor budget (MaxOpenFiles) is shared between its
// sessions: one that opens all it can is refused with the busy status TOO_MANY_HANDLES, not an
// I/O error, while another session can still open files; closing handles frees budget.
func TestOpenFileBudget(t *testing.T) {
	dir := t.TempDir()
	want := writeRandom(t, dir, "f", 1000)
	srv, err := NewServer(dir, ServerOptions{MaxOpenFiles: 20})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	a, stopA := dialServer(t, srv)
	b, _ := dialServer(t, srv)

	filesA, err := openUntilRefused(t, a, "f", 100)
	assertStatusErr(t, err, wire.StatusTooManyHandles)
	assert.Equal(t, 10, len(filesA), "A's fair share of 20 descriptors between 2 sessions")
	// Reading a directory (not cached: it changed just now) needs a descriptor too.
	_, _, err = a.ListPage(t.Context(), ".", "", 0)
	assertStatusErr(t, err, wire.StatusTooManyHandles)

	filesB, err := openUntilRefused(t, b, "f", 100)
	assertStatusErr(t, err, wire.StatusTooManyHandles)
	assert.Equal(t, 10, len(filesB))
	got := make([]byte, 1000)
	_, err = filesB[9].ReadAt(got, 0)
	require.NoError(t, err)
	assert.Equal(t, sum(want), sum(got))

	for _, f := range filesA[:3] {
		require.NoError(t, f.Close())
	}
	more, err := openUntilRefused(t, a, "f", 100)
	assertStatusErr(t, err, wire.StatusTooManyHandles)
	assert.Equal(t, 3, len(more), "descriptors A freed")

	// A session that ends frees its descriptors, and B's share grows to the whole budget.
	stopA()
	more, err = openUntilRefused(t, b, "f", 100)
	assertStatusErr(t, err, wire.StatusTooManyHandles)
	assert.Equal(t, 10, len(more))
}
