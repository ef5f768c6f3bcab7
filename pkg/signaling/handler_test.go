//go:build !js

package signaling

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/testutil"
	"github.com/rangecast/rangecast/pkg/peer"
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
	h    *Handler
	http *httptest.Server
	link string
}

// echo is an OnConnect that echoes every message on the first channel the peer opens: what
// runs over the connection is pkg/connect's business, not signaling's.
func echo(ctx context.Context, c *peer.Conn) {
	ch, err := c.Accept(ctx)
	if err != nil {
		return
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := ch.Read(buf)
		if err != nil {
			return
		}
		if _, err := ch.Write(buf[:n]); err != nil {
			return
		}
	}
}

// startDaemon runs a Handler that echoes behind an httptest server on 127.0.0.1. Cleanup
// closes everything and waits for it.
func startDaemon(t *testing.T, mod func(*HandlerOptions)) *daemon {
	t.Helper()
	opts := HandlerOptions{Token: testToken, Peer: answererPeer, OnConnect: echo}
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
	})
	return &daemon{h: h, http: hs, link: Link{Base: hs.URL, Token: testToken}.String()}
}

func dialOpts() DialOptions { return DialOptions{Peer: loopbackPeer(), Timeout: 20 * time.Second} }

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
func offerSDP(t testing.TB) peer.Signal {
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
	d := startDaemon(t, nil)
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
			resp, body := post(t, d.http.URL+APIPrefix+"peers", tt.auth, offer)
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

// SkipToken: a relayed request carries no token, and the Handler serves it; the in-band
// check (pkg/connect) authenticates the peer instead.
func TestSkipToken(t *testing.T) {
	_, err := NewHandler(HandlerOptions{OnConnect: echo})
	require.Error(t, err, "a Handler without a token needs SkipToken")
	d := startDaemon(t, func(o *HandlerOptions) { o.Token, o.SkipToken, o.InBandAuth = "", true, true })
	offer, err := json.Marshal(offerSDP(t))
	require.NoError(t, err)
	resp, _ := post(t, d.http.URL+APIPrefix+"peers", "", offer)
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	c, err := Dial(t.Context(), Link{Base: d.http.URL, Token: "anything"}.String(), dialOpts())
	require.NoError(t, err)
	require.NoError(t, c.Close())
}

func TestRequestLimits(t *testing.T) {
	d := startDaemon(t, nil)
	auth := "Bearer " + testToken
	url := d.http.URL + APIPrefix + "peers"

	resp, _ := post(t, url, auth, bytes.Repeat([]byte("x"), MaxBody+1))
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	resp, _ = post(t, url, auth, []byte("{not json"))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = post(t, url, auth, []byte(`{"type":"answer","sdp":"v=0"}`))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = post(t, url, auth, []byte(`{"type":"offer","sdp":"this is not sdp"}`))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	waitPeers(t, d.h, 0)

	resp, _ = post(t, d.http.URL+APIPrefix+"peers/nope/signals", auth, []byte(`[]`))
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
	d := startDaemon(t, func(o *HandlerOptions) { o.SetupTimeout = 300 * time.Millisecond })
	offer, err := json.Marshal(offerSDP(t)) // its Conn is closed: nobody will ever connect
	require.NoError(t, err)
	resp, _ := post(t, d.http.URL+APIPrefix+"peers", "Bearer "+testToken, offer)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Equal(t, 1, d.h.Peers())
	waitPeers(t, d.h, 0)
}

// A connected peer carries the client's channel to OnConnect; the slot is freed when the
// client leaves.
func TestDialAndEcho(t *testing.T) {
	d := startDaemon(t, nil)
	c, err := Dial(t.Context(), d.link, dialOpts())
	require.NoError(t, err)
	assert.Equal(t, 1, d.h.Peers())
	ch, err := c.CreateChannel(t.Context(), "echo")
	require.NoError(t, err)
	msg := []byte("a message kept whole")
	_, err = ch.Write(msg)
	require.NoError(t, err)
	got := make([]byte, 100)
	n, err := ch.Read(got)
	require.NoError(t, err)
	assert.Equal(t, msg, got[:n])
	require.NoError(t, c.Close())
	waitPeers(t, d.h, 0)
}

func TestTooManyPeers(t *testing.T) {
	d := startDaemon(t, func(o *HandlerOptions) { o.MaxPeers = 2 })
	var conns []*peer.Conn
	for range 2 {
		c, err := Dial(t.Context(), d.link, dialOpts())
		require.NoError(t, err)
		conns = append(conns, c)
	}
	_, err := Dial(t.Context(), d.link, dialOpts())
	assert.ErrorIs(t, err, ErrTooManyPeers)
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusServiceUnavailable, ae.Status)

	// A freed slot is usable again.
	require.NoError(t, conns[0].Close())
	waitPeers(t, d.h, 1)
	c, err := Dial(t.Context(), d.link, dialOpts())
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, conns[1].Close())
}

// Every path under the prefix answers JSON: the endpoints, 405 with Allow for a wrong
// method, 404 for anything else, and the status endpoint behind the token like the rest.
func TestRoutes(t *testing.T) {
	d := startDaemon(t, func(o *HandlerOptions) {
		o.Status = func() any { return map[string]string{"hello": "status"} }
	})
	for _, tt := range []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "status", http.StatusOK, "", ""},
		{"GET", "peers", http.StatusMethodNotAllowed, CodeMethod, "POST"},
		{"PUT", "peers/x/signals", http.StatusMethodNotAllowed, CodeMethod, "GET, POST"},
		{"GET", "peers/x", http.StatusMethodNotAllowed, CodeMethod, "DELETE"},
		{"DELETE", "peers/nope", http.StatusNotFound, CodeNotFound, ""},
		{"GET", "peers/nope/signals", http.StatusNotFound, CodeNotFound, ""},
		{"GET", "sessions", http.StatusNotFound, CodeNotFound, ""},
		{"POST", "status", http.StatusMethodNotAllowed, CodeMethod, "GET"},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, d.http.URL+APIPrefix+tt.path, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			assert.Equal(t, tt.allow, resp.Header.Get("Allow"))
			if tt.code != "" {
				var er ErrorResponse
				require.NoError(t, json.Unmarshal(body, &er))
				assert.Equal(t, tt.code, er.Code)
			} else {
				assert.JSONEq(t, `{"hello":"status"}`, string(body))
			}
		})
	}
	req, err := http.NewRequestWithContext(t.Context(), "GET", d.http.URL+APIPrefix+"status", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestParseLink(t *testing.T) {
	for _, tt := range []struct {
		in, base, token string
		ok              bool
	}{
		{"http://127.0.0.1:8080/#t=abc", "http://127.0.0.1:8080", "abc", true},
		{"  https://host.example:9/path/#t=a%2Bb  ", "https://host.example:9/path", "a+b", true},
		{"http://127.0.0.1:8080/index.html#t=abc", "http://127.0.0.1:8080", "abc", true},
		{"https://relay.example/d/abcdefgh/#t=abc", "https://relay.example/d/abcdefgh", "abc", true},
		{"https://relay.example/d/abcdefgh#t=abc", "https://relay.example/d/abcdefgh", "abc", true},
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

// candidate makes a trickled host candidate for 127.0.0.1:port.
func candidate(port int) peer.Signal {
	return peer.Signal{Type: peer.SignalCandidate, Candidate: &peer.ICECandidateInit{
		Candidate: fmt.Sprintf("candidate:%d 1 udp 2130706431 127.0.0.1 %d typ host", port, port),
		SDPMid:    ptr("0"),
	}}
}

func ptr[T any](v T) *T { return &v }

// A peer may trickle at most MaxRemoteCandidates, however it batches them, and only at a
// bounded rate: each candidate is an address the daemon would send checks to.
func TestCandidateLimits(t *testing.T) {
	d := startDaemon(t, nil)
	auth := "Bearer " + testToken
	offer, err := json.Marshal(offerSDP(t))
	require.NoError(t, err)
	resp, body := post(t, d.http.URL+APIPrefix+"peers", auth, offer)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var cr CreateResponse
	require.NoError(t, json.Unmarshal(body, &cr))
	url := d.http.URL + APIPrefix + "peers/" + cr.ID + "/signals"

	port := 40000
	batch := func(n int) []byte {
		var sigs []peer.Signal
		for range n {
			port++
			sigs = append(sigs, candidate(port))
		}
		b, err := json.Marshal(sigs)
		require.NoError(t, err)
		return b
	}
	for range MaxRemoteCandidates / 8 {
		resp, body := post(t, url, auth, batch(8))
		require.Equal(t, http.StatusNoContent, resp.StatusCode, string(body))
	}
	resp, body = post(t, url, auth, batch(1))
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	var er ErrorResponse
	require.NoError(t, json.Unmarshal(body, &er))
	assert.Equal(t, CodeTooLarge, er.Code)
	assert.Contains(t, er.Message, "candidates per peer")

	// The burst is spent by now (MaxRemoteCandidates/8 + 1 requests so far): empty POSTs
	// soon hit the rate limit.
	limited := 0
	for range SignalPostBurst + 5 {
		resp, body := post(t, url, auth, []byte(`[]`))
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
			require.NoError(t, json.Unmarshal(body, &er))
			assert.Equal(t, CodeRateLimited, er.Code)
			assert.Equal(t, "1", resp.Header.Get("Retry-After"))
		}
	}
	assert.Positive(t, limited)
}
