package main

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/rangefs"
)

// pipeSession serves a file f.bin of size random bytes over an in-memory session (the real
// rangefs server and client) and returns the client end. fetched counts the file bytes the
// server sent; sent, if not nil, is called after each DATA frame with that count, on the
// goroutine serving the request: blocking in it stalls that request.
func pipeSession(t *testing.T, size int, sent func(total int64)) (c *rangefs.Client, dir string, data []byte, fetched *atomic.Int64) {
	t.Helper()
	dir = t.TempDir()
	data = make([]byte, size)
	_, _ = rand.NewChaCha8([32]byte{7}).Read(data)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f.bin"), data, 0o644))
	srv, err := rangefs.NewServer(dir, rangefs.ServerOptions{})
	require.NoError(t, err)
	a, b := rangefs.Pipe(16, 0)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	fetched = new(atomic.Int64)
	go func() {
		served <- srv.ServeSession(ctx, b, rangefs.SessionOptions{OnRead: func(n int64) {
			total := fetched.Add(n)
			if sent != nil {
				sent(total)
			}
		}})
	}()
	c, err = rangefs.Dial(t.Context(), a, rangefs.ClientOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = c.Close()
		cancel()
		<-served
		_ = srv.Close()
	})
	return c, dir, data, fetched
}

// settled waits until fetched has not grown for a while (the gateway's requests are over),
// and returns it.
func settled(fetched *atomic.Int64) int64 {
	last := fetched.Load()
	for range 50 {
		time.Sleep(200 * time.Millisecond)
		now := fetched.Load()
		if now == last {
			return now
		}
		last = now
	}
	return last
}

// gatewayGet asks ts for path with the Range header rng and returns the body.
func gatewayGet(t *testing.T, ts *httptest.Server, path, rng string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", ts.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Range", rng)
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

// What the gateway read stays for the requests that follow, as the page cache does for the
// mount (ffmpeg over HTTP reads a film's start and index again at every open): a second
// request for the same bytes costs the daemon nothing, and one that goes on past them
// fetches only the rest. Once the file changes on the daemon, its new bytes are served,
// never the cached ones.
func TestHTTPGatewayCachesWhatItRead(t *testing.T) {
	const size = 4 << 20
	c, dir, data, fetched := pipeSession(t, size, nil)
	cache := newByteCache(gatewayCacheBytes)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gatewayFiles(r.Context(), c.FS(r.Context()), cache).ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)

	assert.Equal(t, sum(data[1000:700_000]), sum(gatewayGet(t, ts, "/f.bin", "bytes=1000-699999")))
	first := settled(fetched)
	assert.Equal(t, sum(data[1000:700_000]), sum(gatewayGet(t, ts, "/f.bin", "bytes=1000-699999")))
	assert.Equal(t, sum(data[5000:600_000]), sum(gatewayGet(t, ts, "/f.bin", "bytes=5000-599999")))
	assert.Equal(t, first, settled(fetched), "bytes fetched for requests of bytes read before")
	assert.Equal(t, sum(data[1000:1_500_000]), sum(gatewayGet(t, ts, "/f.bin", "bytes=1000-1499999")))
	assert.LessOrEqual(t, settled(fetched)-first, int64(1_500_000-700_000+256<<10), "bytes fetched for a request that goes on past what was read")

	changed := append([]byte(nil), data...)
	for i := range changed[:1<<20] {
		changed[i] ^= 0xff
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f.bin"), changed, 0o644))
	later := time.Now().Add(time.Hour)
	require.NoError(t, os.Chtimes(filepath.Join(dir, "f.bin"), later, later))
	assert.Equal(t, sum(changed[1000:700_000]), sum(gatewayGet(t, ts, "/f.bin", "bytes=1000-699999")), "bytes after the file changed")
}
