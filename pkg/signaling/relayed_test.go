//go:build !js

package signaling

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLinkRelayed(t *testing.T) {
	for in, want := range map[string]bool{
		"http://127.0.0.1:8080/#t=a":                 false,
		"https://relay.example/d/abc/#t=a":           true,
		"https://relay.example/d/abc/index.html#t=a": true,
		"https://relay.example/d/#t=a":               false,
		"https://relay.example/x/d/abc/#t=a":         false,
		"https://relay.example/d/abc/more/#t=a":      false,
	} {
		l, err := ParseLink(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, l.Relayed(), in)
		if want {
			assert.Empty(t, l.signalingToken(), in)
		} else {
			assert.Equal(t, "a", l.signalingToken(), in)
		}
	}
}

// relayStub plays a relay in-process: it serves /d/<id>/api/v1/… with ServeRelayed (the
// prefix removed) and records every request's headers.
type relayStub struct {
	mu   sync.Mutex
	auth []string
}

func (s *relayStub) wrap(h *Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		r2 := r.Clone(r.Context())
		r2.URL.Path = strings.TrimPrefix(r.URL.Path, "/d/someid")
		r2.URL.RawPath = ""
		h.ServeRelayed(w, r2)
	})
}

// A relayed link's Dial signals without the token, and ServeRelayed serves it without one,
// but only on a daemon that authenticates its peers in-band.
func TestServeRelayed(t *testing.T) {
	h, err := NewHandler(HandlerOptions{Token: testToken, Peer: answererPeer, OnConnect: echo, InBandAuth: true})
	require.NoError(t, err)
	stub := &relayStub{}
	hs := httptest.NewServer(stub.wrap(h))
	t.Cleanup(func() {
		hs.CloseClientConnections()
		require.NoError(t, h.Close())
		hs.Close()
	})
	link := Link{Base: hs.URL + "/d/someid", Token: testToken}.String()
	c, err := Dial(t.Context(), link, dialOpts())
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, Probe(t.Context(), link))
	stub.mu.Lock()
	auth := stub.auth
	stub.mu.Unlock()
	require.NotEmpty(t, auth)
	for _, a := range auth {
		assert.Empty(t, a, "a relayed request carried an Authorization header")
	}

	resp, err := http.Get(hs.URL + "/d/someid/api/v1/status")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "{}\n", string(b), "the status of a daemon is for the link's holders only")
}

func TestServeRelayedNeedsInBandAuth(t *testing.T) {
	h, err := NewHandler(HandlerOptions{Token: testToken, Peer: answererPeer, OnConnect: echo})
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close() })
	w := httptest.NewRecorder()
	h.ServeRelayed(w, httptest.NewRequest("POST", APIPrefix+"peers", strings.NewReader(`{}`)))
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Contains(t, w.Body.String(), CodeRelayDisabled)
	assert.Zero(t, h.Peers())
}
