//go:build !js

package connect

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/rangefs"
	"github.com/rangecast/rangecast/pkg/signaling"
)

// The in-band check with real pion on loopback. The daemons here skip signaling's token
// check, as for requests that come through a relay, so that only the in-band check stands
// between a client and the files.

// logBuffer collects a daemon's log.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startRelayedDaemon runs a daemon (token testToken) whose signaling checks no token.
func startRelayedDaemon(t *testing.T, dir string, mod func(*signaling.HandlerOptions, *ServeOptions)) (*daemon, *logBuffer) {
	t.Helper()
	srv, err := rangefs.NewServer(dir, rangefs.ServerOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	logs := &logBuffer{}
	sopts := ServeOptions{Token: testToken, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	d := startDaemon(t, dir, func(o *signaling.HandlerOptions) {
		o.Token, o.SkipToken, o.InBandAuth = "", true, true
		if mod != nil {
			mod(o, &sopts)
		}
		o.OnConnect = ServeFiles(srv, sopts)
	})
	return d, logs
}

func linkWith(base, token string) string { return signaling.Link{Base: base, Token: token}.String() }

func readAllHash(t *testing.T, r *Remote, name string) [32]byte {
	t.Helper()
	f, err := r.Open(t.Context(), name)
	require.NoError(t, err)
	defer f.Close()
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	return sha256.Sum256(b)
}

// requireRefused checks that err is the in-band refusal.
func requireRefused(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	assert.Equal(t, CodeUnauthorized, CodeOf(err), "err: %v", err)
	assert.ErrorIs(t, err, ErrAuthRefused)
}

// (1) The right token passes the in-band check, without signaling's, and the file arrives.
func TestAuthRelayedDialReads(t *testing.T) {
	dir := t.TempDir()
	want := randomFile(t, dir, "f.bin", 1<<20+5)
	d, logs := startRelayedDaemon(t, dir, nil)
	r, err := Dial(t.Context(), d.link, dialOpts())
	require.NoError(t, err)
	assert.Equal(t, sha256.Sum256(want), readAllHash(t, r, "f.bin"))
	require.NoError(t, r.Close())
	waitPeers(t, d.h, 0)
	assert.NotContains(t, logs.String(), "peer refused")
}

// (2) A wrong token gets through signaling (which checks none here) and is refused in band:
// a typed error, the slot freed, a log line without the token.
func TestAuthWrongTokenRefused(t *testing.T) {
	d, logs := startRelayedDaemon(t, t.TempDir(), nil)
	_, err := Dial(t.Context(), linkWith(d.http.URL, "s3cret-tokem"), dialOpts())
	requireRefused(t, err)
	start := time.Now()
	waitPeers(t, d.h, 0)
	t.Logf("slot freed %v after the client saw the refusal", time.Since(start))
	assert.Contains(t, logs.String(), "peer refused")
	assert.Contains(t, logs.String(), "wrong proof")
	assert.NotContains(t, logs.String(), testToken)
	assert.NotContains(t, logs.String(), "s3cret-tokem")
}

// (3) A relay that terminates both peer connections itself, with its own certificates, and
// forwards the channel's messages faithfully: the client proves the right token, but bound to
// the relay's fingerprints, and the daemon refuses.
func TestAuthManInTheMiddleRefused(t *testing.T) {
	dir := t.TempDir()
	randomFile(t, dir, "f.bin", 1000)
	d, logs := startRelayedDaemon(t, dir, nil)

	var forwarded atomic.Int32
	mitmDone := make(chan error, 1)
	mitm, err := signaling.NewHandler(signaling.HandlerOptions{
		SkipToken:  true,
		InBandAuth: true,
		Peer:       answererPeer,
		OnConnect: func(ctx context.Context, toClient *peer.Conn) {
			mitmDone <- func() error {
				fromClient, err := toClient.Accept(ctx)
				if err != nil {
					return err
				}
				// The relay does not know the token; the daemon's signaling asks for none.
				toDaemon, err := signaling.Dial(ctx, linkWith(d.http.URL, "relay-knows-no-token"), dialOpts().Signal)
				if err != nil {
					return err
				}
				defer toDaemon.Close()
				toDaemonCh, err := toDaemon.CreateChannel(ctx, ChannelLabel)
				if err != nil {
					return err
				}
				// Two DTLS sessions, four certificates: what each end sees differs.
				cl, _ := toClient.LocalFingerprint()
				dl, _ := toDaemon.LocalFingerprint()
				if cl == dl {
					return errors.New("the relay's two ends have the same certificate")
				}
				pipe := func(dst, src *peer.Channel) {
					b := make([]byte, 1<<18)
					for {
						n, err := src.Read(b)
						if err != nil {
							break
						}
						if _, err := dst.Write(b[:n]); err != nil {
							break
						}
						forwarded.Add(1)
					}
					_ = dst.Close()
					_ = src.Close()
				}
				go pipe(toDaemonCh, fromClient)
				pipe(fromClient, toDaemonCh)
				return nil
			}()
		},
	})
	require.NoError(t, err)
	hs := httptest.NewServer(mitm)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		require.NoError(t, mitm.Close())
		hs.Close()
	})

	// The client holds the genuine link's token; the relay is on the way.
	r, err := Dial(t.Context(), linkWith(hs.URL, testToken), dialOpts())
	if err == nil {
		_, serr := r.Stat(t.Context(), "f.bin")
		_ = r.Close()
		t.Fatalf("a man in the middle got a session through (stat: %v)", serr)
	}
	requireRefused(t, err)
	select {
	case err := <-mitmDone:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the relay did not finish")
	}
	// challenge, proof and result went through the relay, unchanged
	assert.GreaterOrEqual(t, forwarded.Load(), int32(3))
	waitPeers(t, d.h, 0)
	assert.Contains(t, logs.String(), "wrong proof")
}

// rawChannel connects to d and opens the rangefs channel, without the exchange.
func rawChannel(t *testing.T, link string) (*peer.Conn, *peer.Channel) {
	t.Helper()
	conn, err := signaling.Dial(t.Context(), link, dialOpts().Signal)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.CreateChannel(t.Context(), ChannelLabel)
	require.NoError(t, err)
	return conn, ch
}

// recorder records what is written through it.
type recorder struct {
	io.ReadWriter
	sent [][]byte
}

func (r *recorder) Write(p []byte) (int, error) {
	r.sent = append(r.sent, bytes.Clone(p))
	return r.ReadWriter.Write(p)
}

// (4) The proof of one connection, replayed on the next (a new nonce, new certificates), is
// refused.
func TestAuthReplayRefused(t *testing.T) {
	d, _ := startRelayedDaemon(t, t.TempDir(), nil)
	conn, ch := rawChannel(t, d.link)
	local, remote, err := fingerprints(conn)
	require.NoError(t, err)
	rec := &recorder{ReadWriter: ch}
	require.NoError(t, proveToken(t.Context(), rec, testToken, local, remote, 5*time.Second))
	require.Len(t, rec.sent, 1)
	proof := rec.sent[0]

	_, ch2 := rawChannel(t, d.link)
	challenge := make([]byte, 64)
	n, err := ch2.Read(challenge)
	require.NoError(t, err)
	require.Equal(t, authChallengeSize, n)
	_, err = ch2.Write(proof)
	require.NoError(t, err)
	result := make([]byte, 64)
	n, err = ch2.Read(result)
	require.NoError(t, err)
	assert.Equal(t, []byte{authResultRefused, authReasonRefused}, result[:n])
	_ = conn.Close()
	waitPeers(t, d.h, 0)
}

// (5) 50 guessed tokens, five at a time, with at most eight peers: each is refused and frees
// its slot (or the later ones would find none: a guess that finds the daemon full, because
// the slots of the last ones are still being freed, retries, as a client told Retry-After
// would), while a legitimate client keeps reading.
func TestAuthGuessingRefusedWhileServing(t *testing.T) {
	dir := t.TempDir()
	want := sha256.Sum256(randomFile(t, dir, "f.bin", 256<<10))
	d, logs := startRelayedDaemon(t, dir, func(o *signaling.HandlerOptions, _ *ServeOptions) { o.MaxPeers = 8 })
	good, err := Dial(t.Context(), d.link, dialOpts())
	require.NoError(t, err)
	defer good.Close()

	stop := make(chan struct{})
	reads := make(chan error, 1)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				if n == 0 {
					reads <- errors.New("no read finished")
					return
				}
				reads <- nil
				return
			default:
			}
			f, err := good.Open(context.Background(), "f.bin")
			if err != nil {
				reads <- err
				return
			}
			b, err := io.ReadAll(f)
			_ = f.Close()
			if err != nil || sha256.Sum256(b) != want {
				reads <- fmt.Errorf("read %d: %v, %d bytes", n, err, len(b))
				return
			}
			n++
		}
	}()

	const guesses, parallel = 50, 5
	var wg sync.WaitGroup
	var refused atomic.Int32
	sem := make(chan struct{}, parallel)
	for i := range guesses {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var err error
			for range 200 {
				_, err = Dial(t.Context(), linkWith(d.http.URL, fmt.Sprintf("guess-%d", i)), dialOpts())
				if CodeOf(err) != CodeTooManyPeers {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if CodeOf(err) == CodeUnauthorized && errors.Is(err, ErrAuthRefused) {
				refused.Add(1)
			} else {
				t.Errorf("guess %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	close(stop)
	require.NoError(t, <-reads)
	assert.Equal(t, int32(guesses), refused.Load())
	assert.Equal(t, guesses, strings.Count(logs.String(), "peer refused"))
	waitPeers(t, d.h, 1)
	assert.Equal(t, want, readAllHash(t, good, "f.bin"))
	require.NoError(t, good.Close())
	waitPeers(t, d.h, 0)
}

// A peer that opens the channel and says nothing is refused at AuthTimeout and dropped.
func TestAuthSilentPeerDropped(t *testing.T) {
	d, logs := startRelayedDaemon(t, t.TempDir(), func(_ *signaling.HandlerOptions, s *ServeOptions) {
		s.AuthTimeout = 300 * time.Millisecond
	})
	conn, ch := rawChannel(t, d.link)
	b := make([]byte, 64)
	n, err := ch.Read(b)
	require.NoError(t, err)
	require.Equal(t, authChallengeSize, n)
	n, err = ch.Read(b) // no proof: the refusal comes after the timeout
	require.NoError(t, err)
	assert.Equal(t, []byte{authResultRefused, authReasonRefused}, b[:n])
	select {
	case <-conn.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the daemon kept the peer")
	}
	waitPeers(t, d.h, 0)
	assert.Contains(t, logs.String(), "no proof in time")
}

// (3b) A relay that answers in the daemon's place: it terminates the client's peer
// connection, challenges it, and accepts whatever proof comes. It cannot confirm, having no
// token, and the client refuses to go on.
func TestAuthImpostorDaemonRefused(t *testing.T) {
	got := make(chan []byte, 1)
	impostor, err := signaling.NewHandler(signaling.HandlerOptions{
		SkipToken:  true,
		InBandAuth: true,
		Peer:       answererPeer,
		OnConnect: func(ctx context.Context, c *peer.Conn) {
			ch, err := c.Accept(ctx)
			if err != nil {
				return
			}
			defer ch.Close()
			var nonce [32]byte
			_, _ = ch.Write(append([]byte{authVersion}, nonce[:]...))
			b := make([]byte, 64)
			n, err := ch.Read(b)
			if err != nil {
				return
			}
			got <- bytes.Clone(b[:n])
			_, _ = ch.Write([]byte{authResultOK}) // "accepted", with nothing to show for it
			_, _ = ch.Read(b)                     // wait for the client to give up
		},
	})
	require.NoError(t, err)
	hs := httptest.NewServer(impostor)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		require.NoError(t, impostor.Close())
		hs.Close()
	})
	r, err := Dial(t.Context(), linkWith(hs.URL, testToken), dialOpts())
	if err == nil {
		_ = r.Close()
		t.Fatal("the client went on with an impostor")
	}
	assert.ErrorIs(t, err, ErrAuthDaemon)
	assert.Equal(t, CodeProtocol, CodeOf(err))
	assert.Len(t, <-got, authProofSize)
}
