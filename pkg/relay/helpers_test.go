package relay

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/testutil"
	"github.com/rangecast/rangecast/pkg/connect"
	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/rangefs"
	"github.com/rangecast/rangecast/pkg/signaling"
)

func TestMain(m *testing.M) {
	testutil.VerifyTestMain(m)
}

const testToken = "relay-test-s3cret-T0KEN"

// loopbackPeer keeps every ICE packet on loopback.
func loopbackPeer() peer.Config { return peer.Config{Native: peer.NativeOptions{LoopbackOnly: true}} }

// answererPeer is loopbackPeer for a signaling.Handler.
func answererPeer(*http.Request) peer.Config { return loopbackPeer() }

// capture records every byte a relay reads from its TCP connections, every WebSocket
// message it decodes, and its log.
type capture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *capture) contains(s string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Contains(c.buf.Bytes(), []byte(s))
}

func (c *capture) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Len()
}

type capListener struct {
	net.Listener
	c *capture
}

func (l capListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return capConn{conn, l.c}, nil
}

type capConn struct {
	net.Conn
	c *capture
}

func (c capConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	_, _ = c.c.Write(p[:n])
	return n, err
}

// testRelay is a relay Server behind an http.Server on a loopback address.
type testRelay struct {
	*Server
	hs   *http.Server
	addr string
	url  string
	cap  *capture
	done chan struct{}
}

// startRelay serves a relay on addr ("127.0.0.1:0" for any port). Every byte it reads,
// message it decodes and line it logs goes to cap, if not nil.
func startRelay(t *testing.T, addr string, cap *capture, mod func(*Options)) *testRelay {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the address of a relay just stopped may take a moment to be free
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, err)
	opts := Options{Assets: http.NotFoundHandler()}
	if cap != nil {
		opts.Logger = slog.New(slog.NewTextHandler(cap, &slog.HandlerOptions{Level: slog.LevelDebug}))
		ln = capListener{ln, cap}
	}
	if mod != nil {
		mod(&opts)
	}
	s := NewServer(opts)
	if cap != nil {
		s.tap = func(b []byte) { _, _ = cap.Write(b) }
	}
	r := &testRelay{Server: s, hs: &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}, addr: ln.Addr().String(), cap: cap, done: make(chan struct{})}
	r.url = "http://" + r.addr
	go func() { defer close(r.done); _ = r.hs.Serve(ln) }()
	t.Cleanup(r.stop)
	return r
}

// stop closes the relay and every connection, as a killed process would.
func (r *testRelay) stop() {
	_ = r.hs.Close()
	_ = r.Server.Close()
	<-r.done
}

// testDaemon is a daemon's signaling Handler serving a directory, registered on a relay.
type testDaemon struct {
	*Daemon
	h      *signaling.Handler
	cancel context.CancelFunc
	done   chan error
}

func newKey(t *testing.T) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return k
}

// startDaemon serves dir on relayURL under key's id, with the fast reconnection a test wants.
func startDaemon(t *testing.T, relayURL string, key ed25519.PrivateKey, dir string, log *slog.Logger) *testDaemon {
	t.Helper()
	srv, err := rangefs.NewServer(dir, rangefs.ServerOptions{})
	require.NoError(t, err)
	h, err := signaling.NewHandler(signaling.HandlerOptions{
		Token: testToken, Peer: answererPeer,
		OnConnect:  connect.ServeFiles(srv, connect.ServeOptions{Token: testToken}),
		InBandAuth: true,
	})
	require.NoError(t, err)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d, err := NewDaemon(DaemonOptions{
		Relay: relayURL, Identity: key, Handler: http.HandlerFunc(h.ServeRelayed), Logger: log,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		PingInterval: 500 * time.Millisecond, PingTimeout: 2 * time.Second,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	td := &testDaemon{Daemon: d, h: h, cancel: cancel, done: make(chan error, 1)}
	go func() { td.done <- d.Run(ctx) }()
	t.Cleanup(func() {
		td.stop()
		_ = h.Close()
		_ = srv.Close()
	})
	return td
}

func (d *testDaemon) stop() {
	d.cancel()
	select {
	case <-d.done:
		d.done <- nil // for a second stop
	case <-time.After(10 * time.Second):
		panic("relay daemon did not stop")
	}
}

func waitRegistered(t *testing.T, d *testDaemon) {
	t.Helper()
	require.NoError(t, d.WaitRegistered(testutil.Context(t, 10*time.Second)))
}

func dialOpts() connect.Options {
	return connect.Options{Signal: signaling.DialOptions{Peer: loopbackPeer(), Timeout: 20 * time.Second}}
}

func writeRandom(t *testing.T, dir, name string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	return b
}

// hostileClient is an HTTP client whose connections come from 127.0.0.2, another address
// than the legitimate daemon's and client's: the relay's per-IP limits tell them apart.
func hostileClient() *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, Proxy: nil}, Timeout: 10 * time.Second}
}
