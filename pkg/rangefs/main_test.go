package rangefs

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/testutil"
)

func TestMain(m *testing.M) {
	testutil.VerifyTestMain(m)
}

// session is a Client connected to a Server over an in-memory Pipe.
type testSession struct {
	c      *Client
	srv    *Server
	served chan error // ServeTransport's result
	cancel context.CancelFunc
}

// startSession serves dir and dials it. Cleanup closes the client, stops the server and waits
// for ServeTransport to return.
func startSession(t *testing.T, dir string, so ServerOptions, co ClientOptions) *testSession {
	t.Helper()
	return startSessionOver(t, dir, so, co, nil)
}

// startSessionOver is startSession with the client's end of the pipe wrapped by wrap, if not
// nil: a transport that counts, or takes messages out.
func startSessionOver(t *testing.T, dir string, so ServerOptions, co ClientOptions, wrap func(Transport) Transport) *testSession {
	t.Helper()
	srv, err := NewServer(dir, so)
	require.NoError(t, err)
	a, b := Pipe(16, 0)
	if wrap != nil {
		a = wrap(a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testSession{srv: srv, served: make(chan error, 1), cancel: cancel}
	go func() { ts.served <- srv.ServeTransport(ctx, b) }()
	c, err := Dial(t.Context(), a, co)
	require.NoError(t, err)
	ts.c = c
	t.Cleanup(func() {
		_ = c.Close()
		cancel()
		<-ts.served
		_ = srv.Close()
	})
	return ts
}

// writeRandom writes n random bytes to dir/name and returns them.
func writeRandom(t testing.TB, dir, name string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	p := filepath.Join(dir, filepath.FromSlash(name))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return b
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }
