//go:build !js

package connect

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/testutil"
	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/rangefs"
	"github.com/rangecast/rangecast/pkg/signaling"
)

func TestMain(m *testing.M) {
	testutil.VerifyTestMain(m)
}

const testToken = "s3cret-token"

// loopbackPeer keeps every ICE packet on loopback.
func loopbackPeer() peer.Config { return peer.Config{Native: peer.NativeOptions{LoopbackOnly: true}} }

// answererPeer is loopbackPeer for a signaling.Handler.
func answererPeer(*http.Request) peer.Config { return loopbackPeer() }

type daemon struct {
	h    *signaling.Handler
	http *httptest.Server
	link string
	dir  string
}

// startDaemon runs a Handler serving dir with ServeFiles behind an httptest server on
// 127.0.0.1. Cleanup closes everything and waits for it.
func startDaemon(t *testing.T, dir string, mod func(*signaling.HandlerOptions)) *daemon {
	t.Helper()
	srv, err := rangefs.NewServer(dir, rangefs.ServerOptions{})
	require.NoError(t, err)
	opts := signaling.HandlerOptions{Token: testToken, Peer: answererPeer, OnConnect: ServeFiles(srv, ServeOptions{Token: testToken})}
	if mod != nil {
		mod(&opts)
	}
	h, err := signaling.NewHandler(opts)
	require.NoError(t, err)
	hs := httptest.NewServer(h)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		require.NoError(t, h.Close())
		hs.Close()
		_ = srv.Close()
	})
	return &daemon{h: h, http: hs, dir: dir, link: signaling.Link{Base: hs.URL, Token: testToken}.String()}
}

func randomFile(t *testing.T, dir, name string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	return b
}

func dialOpts() Options {
	return Options{Signal: signaling.DialOptions{Peer: loopbackPeer(), Timeout: 20 * time.Second}}
}

func TestDialAndRead(t *testing.T) {
	dir := t.TempDir()
	want := randomFile(t, dir, "f.bin", 8<<20+3)
	d := startDaemon(t, dir, nil)

	s, err := Dial(t.Context(), d.link, dialOpts())
	require.NoError(t, err)
	assert.Equal(t, 1, d.h.Peers())
	f, err := s.Open(t.Context(), "f.bin")
	require.NoError(t, err)
	got, err := io.ReadAll(f)
	require.NoError(t, err)
	assert.Equal(t, sha256.Sum256(want), sha256.Sum256(got))
	for range 50 {
		off := randInt(t, len(want))
		n := randInt(t, min(len(want)-off, 1<<20)) + 1
		p := make([]byte, n)
		_, err := f.ReadAt(p, int64(off))
		require.NoError(t, err)
		assert.Equal(t, sha256.Sum256(want[off:off+n]), sha256.Sum256(p))
	}
	rtt, err := s.Conn.Ping(t.Context())
	require.NoError(t, err)
	assert.Positive(t, rtt)
	require.NoError(t, s.Close())
	waitPeers(t, d.h, 0)
}

func randInt(t *testing.T, n int) int {
	t.Helper()
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	require.NoError(t, err)
	return int(v.Int64())
}

func waitPeers(t *testing.T, h *signaling.Handler, want int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for h.Peers() != want {
		if time.Now().After(deadline) {
			t.Fatalf("handler has %d peers, want %d", h.Peers(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTooManyPeers(t *testing.T) {
	dir := t.TempDir()
	want := randomFile(t, dir, "f", 1000)
	d := startDaemon(t, dir, func(o *signaling.HandlerOptions) { o.MaxPeers = 2 })
	var sessions []*Remote
	for range 2 {
		s, err := Dial(t.Context(), d.link, dialOpts())
		require.NoError(t, err)
		sessions = append(sessions, s)
	}
	_, err := Dial(t.Context(), d.link, dialOpts())
	assert.ErrorIs(t, err, signaling.ErrTooManyPeers)
	assert.Equal(t, CodeTooManyPeers, CodeOf(err))
	var ae *signaling.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusServiceUnavailable, ae.Status)

	// The peers already in are unaffected, and a freed slot is usable again.
	for _, s := range sessions {
		f, err := s.Open(t.Context(), "f")
		require.NoError(t, err)
		got, err := io.ReadAll(f)
		require.NoError(t, err)
		assert.Equal(t, sha256.Sum256(want), sha256.Sum256(got))
	}
	require.NoError(t, sessions[0].Close())
	waitPeers(t, d.h, 1)
	s, err := Dial(t.Context(), d.link, dialOpts())
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, sessions[1].Close())
}

// Several clients at once, each verified.
func TestConcurrentClients(t *testing.T) {
	dir := t.TempDir()
	want := randomFile(t, dir, "f", 2<<20)
	d := startDaemon(t, dir, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := Dial(ctx, d.link, dialOpts())
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			f, err := s.Open(ctx, "f")
			if err != nil {
				errs <- err
				return
			}
			got, err := io.ReadAll(f)
			if err == nil && sha256.Sum256(got) != sha256.Sum256(want) {
				err = assert.AnError
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	waitPeers(t, d.h, 0)
}

// A peer that connects and never opens its channel gives its slot back after OpenTimeout,
// and the daemon serves the next client.
func TestSilentPeerFreesSlot(t *testing.T) {
	dir := t.TempDir()
	want := randomFile(t, dir, "f", 1000)
	srv, err := rangefs.NewServer(dir, rangefs.ServerOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	d := startDaemon(t, dir, func(o *signaling.HandlerOptions) {
		o.MaxPeers = 1
		o.OnConnect = ServeFiles(srv, ServeOptions{Token: testToken, OpenTimeout: 300 * time.Millisecond})
	})
	silent, err := signaling.Dial(t.Context(), d.link, dialOpts().Signal)
	require.NoError(t, err)
	defer silent.Close()
	assert.Equal(t, 1, d.h.Peers())
	start := time.Now()
	waitPeers(t, d.h, 0)
	t.Logf("slot of a silent peer freed after %v", time.Since(start).Round(time.Millisecond))

	r, err := Dial(t.Context(), d.link, dialOpts())
	require.NoError(t, err)
	defer r.Close()
	f, err := r.Open(t.Context(), "f")
	require.NoError(t, err)
	got, err := io.ReadAll(f)
	require.NoError(t, err)
	assert.Equal(t, sha256.Sum256(want), sha256.Sum256(got))
}
