//go:build !js

package connect

import (
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/rangefs"
	"github.com/rangecast/rangecast/pkg/signaling"
)

// restartable is a daemon whose signaling handler can be replaced behind the same URL, as
// when the daemon process restarts on the same port.
type restartable struct {
	t    *testing.T
	dir  string
	srv  *rangefs.Server
	h    atomic.Pointer[signaling.Handler]
	http *httptest.Server
}

func startRestartable(t *testing.T, dir string) *restartable {
	t.Helper()
	srv, err := rangefs.NewServer(dir, rangefs.ServerOptions{})
	require.NoError(t, err)
	d := &restartable{t: t, dir: dir, srv: srv}
	d.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.h.Load().ServeHTTP(w, r)
	}))
	d.restart(testToken)
	t.Cleanup(func() {
		d.http.CloseClientConnections()
		require.NoError(t, d.h.Load().Close())
		d.http.Close()
		_ = srv.Close()
	})
	return d
}

// restart drops every peer and serves on with a new handler taking token.
func (d *restartable) restart(token string) {
	h, err := signaling.NewHandler(signaling.HandlerOptions{Token: token, Peer: answererPeer, OnConnect: ServeFiles(d.srv, ServeOptions{Token: token})})
	require.NoError(d.t, err)
	if old := d.h.Swap(h); old != nil {
		require.NoError(d.t, old.Close())
	}
}

func (d *restartable) link() string {
	return signaling.Link{Base: d.http.URL, Token: testToken}.String()
}

// events records a Redialer's events and lets a test wait for a state.
type events struct {
	mu   sync.Mutex
	got  []Event
	seen chan struct{}
}

func newEvents() *events { return &events{seen: make(chan struct{}, 100)} }

func (e *events) add(ev Event) {
	e.mu.Lock()
	e.got = append(e.got, ev)
	e.mu.Unlock()
	select {
	case e.seen <- struct{}{}:
	default:
	}
}

func (e *events) states() []State {
	e.mu.Lock()
	defer e.mu.Unlock()
	var s []State
	for _, ev := range e.got {
		s = append(s, ev.State)
	}
	return s
}

func (e *events) last() Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.got[len(e.got)-1]
}

func (e *events) waitFor(t *testing.T, want State) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		e.mu.Lock()
		n := len(e.got)
		last := State("")
		if n > 0 {
			last = e.got[n-1].State
		}
		e.mu.Unlock()
		if last == want {
			return
		}
		select {
		case <-e.seen:
		case <-deadline:
			t.Fatalf("no %q event; got %v", want, e.states())
		}
	}
}

func redialOpts(ev *events, reconnect bool) RedialOptions {
	return RedialOptions{Options: dialOpts(), Reconnect: reconnect, OnEvent: ev.add, BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond}
}

func readHash(t *testing.T, r *Redialer, name string) [32]byte {
	t.Helper()
	cur, err := r.Current()
	require.NoError(t, err)
	f, err := cur.Open(t.Context(), name)
	require.NoError(t, err)
	defer f.Close()
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	return sha256.Sum256(b)
}

// A daemon that drops the connection and comes back is reached again by itself, and the
// bytes received on both connections add up.
func TestRedialReconnects(t *testing.T) {
	dir := t.TempDir()
	want := sha256.Sum256(randomFile(t, dir, "f", 1<<20))
	d := startRestartable(t, dir)
	ev := newEvents()
	r, err := Redial(t.Context(), d.link(), redialOpts(ev, true))
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, StateConnected, r.State())
	assert.Equal(t, want, readHash(t, r, "f"))
	first := r.Stats().BytesReceived

	d.restart(testToken)
	ev.waitFor(t, StateConnected)
	assert.Equal(t, []State{StateReconnecting, StateConnecting, StateConnected}, ev.states())
	assert.Equal(t, 1, ev.got[0].Attempt)
	assert.Equal(t, 20*time.Millisecond, ev.got[0].RetryIn)
	assert.Error(t, ev.got[0].Err, "reconnecting says why the connection was lost")
	assert.Equal(t, want, readHash(t, r, "f"))
	st := r.Stats()
	assert.Greater(t, st.BytesReceived, first+1<<20-1, "bytes of both connections")
	assert.False(t, st.ConnectedAt.IsZero())
	rtt, err := r.Ping(t.Context(), 5*time.Second)
	require.NoError(t, err)
	assert.Positive(t, rtt)
	assert.Equal(t, rtt, r.Stats().RTT)

	require.NoError(t, r.Close())
	assert.Equal(t, StateClosed, ev.last().State)
	_, err = r.Current()
	assert.Equal(t, CodeClosed, CodeOf(err))
}

// A daemon that comes back with another token cannot be reached with this link: the
// Redialer fails with "unauthorized" rather than retrying forever.
func TestRedialFailsOnRefusedToken(t *testing.T) {
	d := startRestartable(t, t.TempDir())
	ev := newEvents()
	r, err := Redial(t.Context(), d.link(), redialOpts(ev, true))
	require.NoError(t, err)
	defer r.Close()
	d.restart("another-token")
	ev.waitFor(t, StateFailed)
	assert.Equal(t, CodeUnauthorized, CodeOf(ev.last().Err))
	<-r.Done()
	_, err = r.Current()
	assert.Equal(t, CodeClosed, CodeOf(err))
	assert.Equal(t, CodeClosed, CodeOf(r.ReconnectNow()))
}

// Without Reconnect the first loss ends it, as closed.
func TestRedialWithoutReconnect(t *testing.T) {
	d := startRestartable(t, t.TempDir())
	ev := newEvents()
	r, err := Redial(t.Context(), d.link(), redialOpts(ev, false))
	require.NoError(t, err)
	defer r.Close()
	d.restart(testToken)
	select {
	case <-r.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("still running after the connection was lost")
	}
	assert.Equal(t, []State{StateClosed}, ev.states())
}

// The first attempt's failure is returned, coded for a dial.
func TestRedialFirstAttempt(t *testing.T) {
	d := startRestartable(t, t.TempDir())
	_, err := Redial(t.Context(), signaling.Link{Base: d.http.URL, Token: "wrong"}.String(), redialOpts(newEvents(), true))
	assert.Equal(t, CodeUnauthorized, CodeOf(err))
	_, err = Redial(t.Context(), "http://127.0.0.1:9/", redialOpts(newEvents(), true))
	assert.Equal(t, CodeBadLink, CodeOf(err))
	// Nothing listens on port 9 of loopback: no daemon is reachable there.
	_, err = Redial(t.Context(), "http://127.0.0.1:9/#t=x", redialOpts(newEvents(), true))
	assert.Equal(t, CodeUnreachable, CodeOf(err))
}
