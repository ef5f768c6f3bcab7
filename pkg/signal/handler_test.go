//go:build !js

package signal

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/testutil"
	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/rangefs"
)

func TestMain(m *testing.M) {
	testutil.VerifyTestMain(m)
}

const testToken = "s3cret-token"

// loopbackPeer keeps every ICE packet on loopback.
func loopbackPeer() peer.Config { return peer.Config{Native: peer.NativeOptions{LoopbackOnly: true}} }

type daemon struct {
	h    *Handler
	http *httptest.Server
	link string
	dir  string
}

// startDaemon runs a Handler serving dir with ServeFiles behind an httptest server on
// 127.0.0.1. Cleanup closes everything and waits for it.
func startDaemon(t *testing.T, dir string, mod func(*HandlerOptions)) *daemon {
	t.Helper()
	srv, err := rangefs.NewServer(dir, rangefs.ServerOptions{})
	require.NoError(t, err)
	opts := HandlerOptions{Token: testToken, Peer: loopbackPeer, OnConnect: ServeFiles(srv, nil)}
	if mod != nil {
		mod(&opts)
	}
	h, err := NewHandler(opts)
	require.NoError(t, err)
	hs := httptest.NewServer(h)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		require.NoError(t, h.Close())
		hs.Close()
		_ = srv.Close()
	})
	return &daemon{h: h, http: hs, dir: dir, link: Link{Base: hs.URL, Token: testToken}.String()}
}

func randomFile(t *testing.T, dir, name string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	return b
}

func dialOpts() DialOptions { return DialOptions{Peer: loopbackPeer(), Timeout: 20 * time.Second} }

func TestConnectAndRead(t *testing.T) {
	dir := t.TempDir()
	want := randomFile(t, dir, "f.bin", 8<<20+3)
	d := startDaemon(t, dir, nil)

	s, err := Connect(t.Context(), d.link, dialOpts())
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

func waitPeers(t *testing.T, h *Handler, want int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for h.Peers() != want {
		if time.Now().After(deadline) {
			t.Fatalf("handler has %d peers, want %d", h.Peers(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// offerSDP makes a real offer from a client Conn, which is then closed.
func offerSDP(t *testing.T) peer.Signal {
	t.Helper()
	ch := make(chan peer.Signal, 64)
	cfg := loopbackPeer()
	cfg.Role = peer.Offerer
	cfg.OnSignal = func(s peer.Signal) {
		select {
		case ch <- s:
		default:
		}
	}
	c, err := peer.New(cfg)
	require.NoError(t, err)
	defer c.Close()
	select {
	case s := <-ch:
		require.Equal(t, peer.SignalOffer, s.Type)
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no offer")
		return peer.Signal{}
	}
}

func post(t *testing.T, url, auth string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", url, bytes.NewReader(body))
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func TestTokenRequired(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	offer, err := json.Marshal(offerSDP(t))
	require.NoError(t, err)
	for _, tt := range []struct{ name, auth string }{
		{"missing", ""},
		{"wrong", "Bearer nope"},
		{"prefix of the token", "Bearer s3cret"},
		{"token with a suffix", "Bearer " + testToken + "x"},
		{"wrong scheme", "Basic " + testToken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, d.http.URL+APIPrefix+"sessions", tt.auth, offer)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			assert.NotContains(t, string(body), "sdp")
			var er ErrorResponse
			require.NoError(t, json.Unmarshal(body, &er))
			assert.Equal(t, CodeUnauthorized, er.Code)
			assert.Equal(t, 0, d.h.Peers())
		})
	}
	bad := Link{Base: d.http.URL, Token: "wrong"}.String()
	_, err = Dial(t.Context(), bad, dialOpts())
	assert.ErrorIs(t, err, ErrUnauthorized)
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusUnauthorized, ae.Status)
	assert.Equal(t, 0, d.h.Peers())
}

func TestRequestLimits(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	auth := "Bearer " + testToken
	url := d.http.URL + APIPrefix + "sessions"

	resp, _ := post(t, url, auth, bytes.Repeat([]byte("x"), MaxBody+1))
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	resp, _ = post(t, url, auth, []byte("{not json"))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = post(t, url, auth, []byte(`{"type":"answer","sdp":"v=0"}`))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = post(t, url, auth, []byte(`{"type":"offer","sdp":"this is not sdp"}`))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	waitPeers(t, d.h, 0)

	resp, _ = post(t, d.http.URL+APIPrefix+"sessions/nope/signals", auth, []byte(`[]`))
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	// A real session: too many trickled signals in one request.
	offer, err := json.Marshal(offerSDP(t))
	require.NoError(t, err)
	resp, body := post(t, url, auth, offer)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var cr CreateResponse
	require.NoError(t, json.Unmarshal(body, &cr))
	assert.Equal(t, peer.SignalAnswer, cr.Answer.Type)
	assert.True(t, strings.HasPrefix(cr.Answer.SDP, "v=0"))
	many, err := json.Marshal(make([]peer.Signal, MaxSignalsPerPost+1))
	require.NoError(t, err)
	resp, _ = post(t, url+"/"+cr.ID+"/signals", auth, many)
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	resp, _ = post(t, url+"/"+cr.ID+"/signals", auth, []byte(`[{"type":"offer","sdp":"v=0"}]`))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

// An offer whose client never connects is dropped after the setup timeout.
func TestSetupTimeoutFreesSlot(t *testing.T) {
	d := startDaemon(t, t.TempDir(), func(o *HandlerOptions) { o.SetupTimeout = 300 * time.Millisecond })
	offer, err := json.Marshal(offerSDP(t)) // its Conn is closed: nobody will ever connect
	require.NoError(t, err)
	resp, _ := post(t, d.http.URL+APIPrefix+"sessions", "Bearer "+testToken, offer)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Equal(t, 1, d.h.Peers())
	waitPeers(t, d.h, 0)
}

func TestTooManyPeers(t *testing.T) {
	dir := t.TempDir()
	want := randomFile(t, dir, "f", 1000)
	d := startDaemon(t, dir, func(o *HandlerOptions) { o.MaxPeers = 2 })
	var sessions []*Session
	for range 2 {
		s, err := Connect(t.Context(), d.link, dialOpts())
		require.NoError(t, err)
		sessions = append(sessions, s)
	}
	_, err := Dial(t.Context(), d.link, dialOpts())
	assert.ErrorIs(t, err, ErrTooManyPeers)
	var ae *APIError
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
	s, err := Connect(t.Context(), d.link, dialOpts())
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
			s, err := Connect(ctx, d.link, dialOpts())
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

func TestParseLink(t *testing.T) {
	for _, tt := range []struct {
		in, base, token string
		ok              bool
	}{
		{"http://127.0.0.1:8080/#t=abc", "http://127.0.0.1:8080", "abc", true},
		{"  https://host.example:9/path/#t=a%2Bb  ", "https://host.example:9", "a+b", true},
		{"http://[::1]:80/#x=1&t=z", "http://[::1]:80", "z", true},
		{"http://127.0.0.1:8080/", "", "", false},
		{"ftp://h/#t=a", "", "", false},
		{"127.0.0.1:8080#t=a", "", "", false},
		{"http:///#t=a", "", "", false},
	} {
		l, err := ParseLink(tt.in)
		if !tt.ok {
			assert.ErrorIs(t, err, ErrBadLink, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.base, l.Base)
		assert.Equal(t, tt.token, l.Token)
		back, err := ParseLink(l.String())
		require.NoError(t, err)
		assert.Equal(t, l, back)
	}
}
