package relay

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/testutil"
	"github.com/rangecast/rangecast/pkg/connect"
	"github.com/rangecast/rangecast/pkg/signaling"
)

// getJSON fetches url with c and decodes the error body, if any.
func getJSON(t *testing.T, c *http.Client, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader("{}"))
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var er struct{ Code string }
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &er)
	return resp.StatusCode, er.Code
}

// A daemon registers; a client downloads through the relay link; the relay never sees the
// token: not in a request, not in a WebSocket message, not in its log.
func TestDownloadThroughRelay(t *testing.T) {
	cap := &capture{}
	// A signaling rate that lets the latency loop below run unthrottled.
	r := startRelay(t, "127.0.0.1:0", cap, func(o *Options) { o.SignalRate, o.SignalBurst = 1e6, 1e6 })
	dir := t.TempDir()
	want := writeRandom(t, dir, "f.bin", 4<<20+7)
	start := time.Now()
	d := startDaemon(t, r.url, newKey(t), dir, nil)
	waitRegistered(t, d)
	t.Logf("registration: %v", time.Since(start))
	require.True(t, r.Online(d.ID()))

	link := signaling.Link{Base: d.Base(), Token: testToken}.String()
	require.True(t, strings.HasPrefix(link, r.url+"/d/"+d.ID()+"/#t="), link)
	ctx := testutil.Context(t, 60*time.Second)
	start = time.Now()
	rem, err := connect.Dial(ctx, link, dialOpts())
	require.NoError(t, err)
	t.Logf("dial through the relay: %v", time.Since(start))
	f, err := rem.Open(ctx, "f.bin")
	require.NoError(t, err)
	h := sha256.New()
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, rem.Close())
	assert.Equal(t, sha256.Sum256(want), [32]byte(h.Sum(nil)))
	require.NoError(t, signaling.Probe(ctx, link))

	// Forwarding latency of one signaling request, on loopback.
	var lat []time.Duration
	for range 200 {
		t0 := time.Now()
		resp, err := http.Get(d.Base() + "/api/v1/status")
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	t.Logf("status through the relay: p50 %v, p90 %v, p99 %v", lat[100], lat[180], lat[198])

	require.Greater(t, cap.len(), 1000, "the capture saw the traffic")
	assert.True(t, cap.contains("/d/"+d.ID()+"/api/v1/peers"), "the capture saw the signaling")
	assert.False(t, cap.contains(testToken), "the relay saw the token")
}

// A request for an id nobody registered, or for a daemon that went away, gets 503
// daemon_offline at once.
func TestOfflineDaemon(t *testing.T) {
	r := startRelay(t, "127.0.0.1:0", nil, nil)
	key := newKey(t)
	id := IDOf(key.Public().(ed25519.PublicKey))
	t0 := time.Now()
	st, code := getJSON(t, http.DefaultClient, "POST", r.url+"/d/"+id+"/api/v1/peers")
	assert.Equal(t, 503, st)
	assert.Equal(t, CodeDaemonOffline, code)
	assert.Less(t, time.Since(t0), time.Second)
	st, code = getJSON(t, http.DefaultClient, "POST", r.url+"/d/not-an-id/api/v1/peers")
	assert.Equal(t, 404, st)
	assert.Equal(t, CodeNotFound, code)

	d := startDaemon(t, r.url, key, t.TempDir(), nil)
	waitRegistered(t, d)
	st, _ = getJSON(t, http.DefaultClient, "GET", r.url+"/d/"+id+"/api/v1/status")
	assert.Equal(t, 200, st)
	d.stop()
	require.Eventually(t, func() bool { return !r.Online(id) }, 5*time.Second, 10*time.Millisecond)
	t0 = time.Now()
	st, code = getJSON(t, http.DefaultClient, "GET", r.url+"/d/"+id+"/api/v1/status")
	assert.Equal(t, 503, st)
	assert.Equal(t, CodeDaemonOffline, code)
	assert.Less(t, time.Since(t0), time.Second)
	link := signaling.Link{Base: r.url + "/d/" + id, Token: testToken}.String()
	err := signaling.Probe(t.Context(), link)
	assert.ErrorIs(t, err, signaling.ErrDaemonOffline)
	_, err = connect.Dial(t.Context(), link, dialOpts())
	assert.ErrorIs(t, err, signaling.ErrDaemonOffline)
	assert.Equal(t, connect.CodeUnreachable, connect.DialCodeOf(err))
}

// register plays a daemon by hand: it signs with signer but claims id.
func register(ctx context.Context, c *http.Client, relayURL, id string, signer ed25519.PrivateKey) (*websocket.Conn, Message, error) {
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(relayURL, "http")+RegisterPath, &websocket.DialOptions{HTTPClient: c})
	if err != nil {
		return nil, Message{}, err
	}
	m, err := readMessage(ctx, ws)
	if err != nil {
		ws.CloseNow()
		return nil, Message{}, err
	}
	host := strings.TrimPrefix(relayURL, "http://")
	reg := Message{Type: MsgRegister, ID: id, PublicKey: signer.Public().(ed25519.PublicKey),
		Signature: ed25519.Sign(signer, signedMessage(m.Challenge, host))}
	if err := writeMessage(ctx, ws, &reg); err != nil {
		ws.CloseNow()
		return nil, Message{}, err
	}
	m, err = readMessage(ctx, ws)
	if err != nil {
		ws.CloseNow()
		return nil, Message{}, err
	}
	return ws, m, nil
}

// Nobody takes over another daemon's id; the same key registering again replaces the first
// connection cleanly.
func TestTakeover(t *testing.T) {
	r := startRelay(t, "127.0.0.1:0", nil, nil)
	key := newKey(t)
	d := startDaemon(t, r.url, key, t.TempDir(), nil)
	waitRegistered(t, d)
	ctx := testutil.Context(t, 20*time.Second)

	// A valid signature by another key, claiming d's id.
	_, _, err := register(ctx, hostileClient(), r.url, d.ID(), newKey(t))
	assert.Equal(t, CloseIDMismatch, websocket.CloseStatus(err), "%v", err)
	// d's key and id, but a signature made for another relay host.
	ws, _, err := websocket.Dial(ctx, "ws://"+r.addr+RegisterPath, &websocket.DialOptions{HTTPClient: hostileClient()})
	require.NoError(t, err)
	m, err := readMessage(ctx, ws)
	require.NoError(t, err)
	other := newKey(t)
	bad := Message{Type: MsgRegister, ID: IDOf(other.Public().(ed25519.PublicKey)), PublicKey: other.Public().(ed25519.PublicKey),
		Signature: ed25519.Sign(other, signedMessage(m.Challenge, "evil.example"))}
	require.NoError(t, writeMessage(ctx, ws, &bad))
	_, err = readMessage(ctx, ws)
	assert.Equal(t, CloseBadSignature, websocket.CloseStatus(err), "%v", err)
	ws.CloseNow()
	assert.True(t, r.Online(d.ID()))
	assert.EqualValues(t, 1, d.Registrations())

	// The same key again: the new connection wins, the old one is told "replaced".
	ws, m, err = register(ctx, http.DefaultClient, r.url, d.ID(), key)
	require.NoError(t, err)
	defer ws.CloseNow()
	assert.Equal(t, MsgRegistered, m.Type)
	require.Eventually(t, func() bool { return !d.Registered() }, 5*time.Second, 10*time.Millisecond)
	assert.True(t, r.Online(d.ID()))
	assert.Equal(t, 1, r.Daemons())
	// Requests now go to the new connection: answer one by hand.
	go func() {
		m, err := readMessage(ctx, ws)
		if err == nil && m.Type == MsgRequest {
			_ = writeMessage(ctx, ws, &Message{Type: MsgResponse, Req: m.Req, Status: 200, Header: []Header{{"Content-Type", "application/json"}}, Body: []byte(`{"by":"second"}`)})
		}
	}()
	resp, err := http.Get(r.url + "/d/" + d.ID() + "/api/v1/status")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.JSONEq(t, `{"by":"second"}`, string(b))
}

// Hostile clients — oversized messages, bad signatures, a thousand registration attempts,
// requests to unknown ids — leave the relay serving the legitimate daemon.
func TestHostileClients(t *testing.T) {
	r := startRelay(t, "127.0.0.1:0", nil, nil)
	dir := t.TempDir()
	want := writeRandom(t, dir, "f.bin", 256<<10)
	d := startDaemon(t, r.url, newKey(t), dir, nil)
	waitRegistered(t, d)
	ctx := testutil.Context(t, 60*time.Second)
	hc := hostileClient()
	wsURL := "ws://" + r.addr + RegisterPath

	// An oversized message instead of REGISTER.
	ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: hc})
	require.NoError(t, err)
	_, err = readMessage(ctx, ws)
	require.NoError(t, err)
	_ = ws.Write(ctx, websocket.MessageBinary, make([]byte, MaxMessage+1))
	_, _, err = ws.Read(ctx)
	assert.Equal(t, websocket.StatusMessageTooBig, websocket.CloseStatus(err), "%v", err)
	ws.CloseNow()
	// Garbage instead of REGISTER.
	ws, _, err = websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: hc})
	require.NoError(t, err)
	_, _ = readMessage(ctx, ws)
	_ = ws.Write(ctx, websocket.MessageBinary, []byte{2, 200, 1, 2, 3})
	_, _, err = ws.Read(ctx)
	assert.Equal(t, CloseBadMessage, websocket.CloseStatus(err), "%v", err)
	ws.CloseNow()

	// A thousand registration attempts from one address: the first few get a challenge,
	// the rest 429 before any upgrade.
	refused := 0
	for range 1000 {
		req, _ := http.NewRequestWithContext(ctx, "GET", r.url+RegisterPath, nil)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			refused++
		}
	}
	assert.GreaterOrEqual(t, refused, 985)
	// Registrations left half-open hold a place for HandshakeTimeout at most, and at most
	// MaxDaemonsPerIP of them.
	var open []*websocket.Conn
	for range 20 {
		ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: hc})
		if err != nil {
			break
		}
		open = append(open, ws)
	}
	for _, ws := range open {
		ws.CloseNow()
	}
	// Requests to unknown ids.
	key := newKey(t)
	for range 100 {
		st, _ := getJSON(t, hc, "POST", r.url+"/d/"+IDOf(key.Public().(ed25519.PublicKey))+"/api/v1/peers")
		if st != 503 {
			assert.Equal(t, 429, st)
		}
	}

	// Through all of it, the daemon stayed registered and serves.
	assert.True(t, r.Online(d.ID()))
	assert.EqualValues(t, 1, d.Registrations())
	rem, err := connect.Dial(ctx, signaling.Link{Base: d.Base(), Token: testToken}.String(), dialOpts())
	require.NoError(t, err)
	defer rem.Close()
	f, err := rem.Open(ctx, "f.bin")
	require.NoError(t, err)
	got, err := io.ReadAll(f)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

// Signaling is not on the data path: the relay restarting in the middle of a transfer does
// not cut it, and the daemon registers again by itself.
func TestRelayRestart(t *testing.T) {
	r := startRelay(t, "127.0.0.1:0", nil, nil)
	dir := t.TempDir()
	want := writeRandom(t, dir, "big.bin", 16<<20)
	d := startDaemon(t, r.url, newKey(t), dir, slog.New(slog.DiscardHandler))
	waitRegistered(t, d)
	ctx := testutil.Context(t, 60*time.Second)
	rem, err := connect.Dial(ctx, signaling.Link{Base: d.Base(), Token: testToken}.String(), dialOpts())
	require.NoError(t, err)
	defer rem.Close()
	f, err := rem.Open(ctx, "big.bin")
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.CopyN(h, f, 4<<20)
	require.NoError(t, err)

	r.stop()
	require.Eventually(t, func() bool { return !d.Registered() }, 5*time.Second, 5*time.Millisecond)
	buf := make([]byte, 256<<10)
	for range 16 { // reads go on while no relay runs
		n, err := io.ReadFull(f, buf)
		require.NoError(t, err)
		h.Write(buf[:n])
	}
	r2 := startRelay(t, r.addr, nil, nil)
	waitRegistered(t, d)
	assert.True(t, r2.Online(d.ID()))
	assert.EqualValues(t, 2, d.Registrations())
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	assert.Equal(t, sha256.Sum256(want), [32]byte(h.Sum(nil)))

	// New clients get through the new relay.
	rem2, err := connect.Dial(ctx, signaling.Link{Base: d.Base(), Token: testToken}.String(), dialOpts())
	require.NoError(t, err)
	require.NoError(t, rem2.Close())
}

// TestRelayedPeerMustProveToken is the end-to-end authentication check a relayed peer
// needs: a client with the daemon's relay link but the wrong token must get no file.
func TestRelayedPeerMustProveToken(t *testing.T) {
	r := startRelay(t, "127.0.0.1:0", nil, nil)
	dir := t.TempDir()
	writeRandom(t, dir, "f.bin", 1024)
	d := startDaemon(t, r.url, newKey(t), dir, nil)
	waitRegistered(t, d)
	ctx := testutil.Context(t, 30*time.Second)
	rem, err := connect.Dial(ctx, signaling.Link{Base: d.Base(), Token: "wrong"}.String(), dialOpts())
	if err == nil {
		_, err = rem.Open(ctx, "f.bin")
		_ = rem.Close()
	}
	require.Error(t, err)
	assert.Equal(t, connect.CodeUnauthorized, connect.CodeOf(err))
}
