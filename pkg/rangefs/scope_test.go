package rangefs

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/wire"
)

// scopeTree is a root with a shared subtree pub, a sibling whose name starts like it
// (pubx), a secret beside them, and symbolic links in pub that lead out of pub but stay in
// the root (which the whole root would follow).
func scopeTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeRandom(t, dir, "pub/a.txt", 100)
	writeRandom(t, dir, "pub/sub/b.txt", 100)
	writeRandom(t, dir, "pubx/c.txt", 100)
	writeRandom(t, dir, "secret.txt", 100)
	writeRandom(t, dir, "other/d.txt", 100)
	symlinkOrSkip(t, "../secret.txt", filepath.Join(dir, "pub", "escape"))
	symlinkOrSkip(t, "../other", filepath.Join(dir, "pub", "escapedir"))
	symlinkOrSkip(t, "a.txt", filepath.Join(dir, "pub", "inside"))
	symlinkOrSkip(t, "secret.txt", filepath.Join(dir, "pub-file-link"))
	return dir
}

// startScoped serves dir with opts and dials it; it returns the client, a raw-ish serve
// result, and the server.
func startScoped(t *testing.T, dir string, opts SessionOptions) (*Client, chan error) {
	t.Helper()
	srv, err := NewServer(dir, ServerOptions{})
	require.NoError(t, err)
	a, b := Pipe(16, 0)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.ServeSession(ctx, b, opts) }()
	c, err := Dial(t.Context(), a, ClientOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = c.Close()
		cancel()
		<-served
		_ = srv.Close()
	})
	return c, served
}

// readPath sends a READ by path (no handle) on c's session.
func readPath(ctx context.Context, c *Client, p string) error {
	s, err := c.request(ctx, &wire.Read{Path: p, Length: 1 << 20})
	if err != nil {
		return err
	}
	for { // the files are small: DATA fits the initial credit, which need not be returned
		_, end, err := s.next(ctx)
		if err != nil {
			return err
		}
		if end != nil {
			if end.Status != wire.StatusOK {
				return &StatusError{Op: "read", Path: p, Status: end.Status, Message: end.Message}
			}
			return nil
		}
	}
}

func allOps(ctx context.Context, c *Client, p string) map[string]error {
	out := map[string]error{}
	for _, op := range clientOps {
		out[op.name] = op.do(ctx, c, p)
	}
	out["READ"] = readPath(ctx, c, p)
	return out
}

func TestScopeSubtree(t *testing.T) {
	dir := scopeTree(t)
	var mu sync.Mutex
	var seen []string
	var bytes atomic.Int64
	c, _ := startScoped(t, dir, SessionOptions{Scope: "pub", OnAccess: func(op, name string) {
		mu.Lock()
		seen = append(seen, op+" "+name)
		mu.Unlock()
	}, OnRead: func(n int64) { bytes.Add(n) }})
	ctx := t.Context()

	// Inside: served.
	f, err := c.Open(ctx, "pub/sub/b.txt")
	require.NoError(t, err)
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	require.Len(t, b, 100)
	_ = f.Close()
	require.NoError(t, readPath(ctx, c, "pub/a.txt"))
	require.NoError(t, readPath(ctx, c, "pub/inside")) // a link that stays inside
	es, err := c.ReadDir(ctx, "pub")
	require.NoError(t, err)
	assert.Len(t, es, 5)
	_, err = c.Stat(ctx, "/pub/")
	require.NoError(t, err)

	// Outside, by name: forbidden, for every request.
	for _, p := range []string{".", "secret.txt", "pubx", "pubx/c.txt", "other/d.txt"} {
		for op, err := range allOps(ctx, c, p) {
			assertStatusErr(t, err, wire.StatusForbidden, os.ErrPermission)
			_ = op
		}
	}
	// Outside through a symbolic link inside the scope: refused (not served) for every request.
	for _, p := range []string{"pub/escape", "pub/escapedir/d.txt", "pub/escapedir"} {
		for op, err := range allOps(ctx, c, p) {
			require.Error(t, err, "%s %s", op, p)
			var se *StatusError
			require.True(t, errors.As(err, &se), "%s %s: %v", op, p, err)
			assert.Contains(t, []wire.Status{wire.StatusForbidden, wire.StatusNotFound, wire.StatusNotDirectory}, se.Status, "%s %s: %v", op, p, err)
		}
	}
	// ".." never gets as far as the scope: the path is invalid.
	for _, p := range []string{"pub/../secret.txt", "pub/sub/../../secret.txt", "../secret.txt"} {
		assertStatusErr(t, readPath(ctx, c, p), wire.StatusInvalidPath)
	}
	mu.Lock()
	assert.Contains(t, seen, "open pub/sub/b.txt")
	assert.Contains(t, seen, "read pub/a.txt")
	assert.Contains(t, seen, "list pub")
	mu.Unlock()
	assert.Equal(t, int64(300), bytes.Load())
}

func TestScopeFile(t *testing.T) {
	dir := scopeTree(t)
	c, _ := startScoped(t, dir, SessionOptions{Scope: "pub/a.txt"})
	ctx := t.Context()
	require.NoError(t, readPath(ctx, c, "pub/a.txt"))
	fi, err := c.Stat(ctx, "pub/a.txt")
	require.NoError(t, err)
	assert.EqualValues(t, 100, fi.Size())
	for _, p := range []string{".", "pub", "pub/inside", "pub/sub/b.txt", "secret.txt", "pub/a.txt/x"} {
		for op, err := range allOps(ctx, c, p) {
			var se *StatusError
			require.True(t, errors.As(err, &se), "%s %s: %v", op, p, err)
			assert.Equal(t, wire.StatusForbidden, se.Status, "%s %s: %v", op, p, err)
		}
	}
}

// A file scope that is a symbolic link to a file elsewhere in the root: the link is opened
// through a root at its parent, so it resolves only if its target is there too.
func TestScopeFileLinkStaysInParent(t *testing.T) {
	dir := scopeTree(t)
	c, _ := startScoped(t, dir, SessionOptions{Scope: "pub/escape"})
	err := readPath(t.Context(), c, "pub/escape")
	var se *StatusError
	require.True(t, errors.As(err, &se), "%v", err)
	assert.NotEqual(t, wire.StatusOK, se.Status)
}

func TestScopeRevokedEndsSession(t *testing.T) {
	dir := scopeTree(t)
	revoked := make(chan struct{})
	c, served := startScoped(t, dir, SessionOptions{Scope: "pub", Revoked: revoked})
	ctx := t.Context()
	require.NoError(t, readPath(ctx, c, "pub/a.txt"))
	close(revoked)
	select {
	case err := <-served:
		var pe *ProtocolError
		require.True(t, errors.As(err, &pe), "%v", err)
		assert.Equal(t, wire.CodeRevoked, pe.Code)
		served <- err
	case <-time.After(5 * time.Second):
		t.Fatal("the session did not end")
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the client did not see the end")
	}
	var pe *ProtocolError
	require.True(t, errors.As(c.Err(), &pe), "%v", c.Err())
	assert.Equal(t, wire.CodeRevoked, pe.Code)
	assert.True(t, pe.Remote)
	_, err := c.Stat(ctx, "pub/a.txt")
	require.Error(t, err)
}
