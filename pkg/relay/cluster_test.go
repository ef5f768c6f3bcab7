package relay

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/rangecast/rangecast/internal/testutil"
	"github.com/rangecast/rangecast/pkg/connect"
	"github.com/rangecast/rangecast/pkg/signaling"
)

// startNATS runs an embedded NATS server on loopback, on port (-1: any free one).
func startNATS(t *testing.T, port int) *natsserver.Server {
	t.Helper()
	var ns *natsserver.Server
	var err error
	for range 50 { // a port just freed may take a moment
		ns, err = natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
		require.NoError(t, err)
		go ns.Start()
		if ns.ReadyForConnections(5 * time.Second) {
			break
		}
		ns.Shutdown()
		err = fmt.Errorf("NATS not ready on port %d", port)
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, err)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

func natsURL(ns *natsserver.Server) string { return "nats://" + ns.Addr().String() }

// clusterRelay is a relay instance routing over NATS.
type clusterRelay struct {
	*testRelay
	router Router
}

// kill stops the instance as a crash would: its NATS connection and every WebSocket drop.
func (c *clusterRelay) kill() {
	_ = c.hs.Close()
	_ = c.router.Close()
	_ = c.Server.Close()
	<-c.done
}

// startCluster runs n relay instances on one NATS server; every line they log goes to cap.
func startCluster(t *testing.T, url string, n int, cap *capture) []*clusterRelay {
	t.Helper()
	var rs []*clusterRelay
	for i := range n {
		var log *slog.Logger
		if cap != nil {
			log = slog.New(slog.NewJSONHandler(cap, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		rt, err := NewNATSRouter(NATSOptions{URL: url, Instance: fmt.Sprintf("r%d", i), Logger: log,
			ReconnectWait: 50 * time.Millisecond, PresenceTimeout: 500 * time.Millisecond})
		require.NoError(t, err)
		t.Cleanup(func() { _ = rt.Close() }) // after the relay's own cleanup
		r := startRelay(t, "127.0.0.1:0", cap, func(o *Options) {
			o.Router = rt
			o.SignalRate, o.SignalBurst = 1e4, 1e4
		})
		rs = append(rs, &clusterRelay{r, rt})
	}
	return rs
}

// relayedLink is d's link through relay r, whichever instance d is registered on.
func relayedLink(r *testRelay, id string) string {
	return signaling.Link{Base: r.url + DaemonPrefix + id, Token: testToken}.String()
}

func fetchSHA(t *testing.T, ctx context.Context, link, name string) [32]byte {
	t.Helper()
	rem, err := connect.Dial(ctx, link, dialOpts())
	require.NoError(t, err)
	defer rem.Close()
	f, err := rem.Open(ctx, name)
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	return [32]byte(h.Sum(nil))
}

// A client that reaches relay B dials a daemon registered on relay A; C knows it is online;
// an id nobody holds is offline at once everywhere; no instance logs the token.
func TestClusterCrossInstance(t *testing.T) {
	ns := startNATS(t, -1)
	cap := &capture{}
	rs := startCluster(t, natsURL(ns), 3, cap)
	dir := t.TempDir()
	want := writeRandom(t, dir, "f.bin", 1<<20+3)
	d := startDaemon(t, rs[0].url, newKey(t), dir, nil)
	waitRegistered(t, d)
	assert.Equal(t, 1, rs[0].Daemons())
	assert.True(t, rs[1].Online(d.ID()))
	assert.True(t, rs[2].Online(d.ID()))

	ctx := testutil.Context(t, 30*time.Second)
	start := time.Now()
	assert.Equal(t, sha256.Sum256(want), fetchSHA(t, ctx, relayedLink(rs[1].testRelay, d.ID()), "f.bin"))
	t.Logf("dial through B to a daemon on A, and 1 MiB: %v", time.Since(start))

	// An id nobody registered: 503 daemon_offline at once, from every instance.
	other := IDOf(newKey(t).Public().(ed25519.PublicKey))
	for _, r := range rs {
		t0 := time.Now()
		st, code := getJSON(t, http.DefaultClient, "POST", r.url+"/d/"+other+"/api/v1/peers")
		assert.Equal(t, 503, st)
		assert.Equal(t, CodeDaemonOffline, code)
		assert.Less(t, time.Since(t0), 500*time.Millisecond)
	}

	// The metrics tell local from cluster routes.
	rec := httptest.NewRecorder()
	rs[1].Metrics().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	assert.Contains(t, rec.Body.String(), `rangecast_relay_signaling_requests_total{result="ok",route="cluster"}`)
	assert.Contains(t, rec.Body.String(), `rangecast_relay_forward_seconds_bucket{kind="request",route="cluster"`)
	assert.Contains(t, rec.Body.String(), "rangecast_relay_cluster_connected 1")
	rec = httptest.NewRecorder()
	rs[0].Metrics().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	assert.Contains(t, rec.Body.String(), "rangecast_relay_daemons_online 1")

	require.Greater(t, cap.len(), 1000)
	assert.True(t, cap.contains(`relay: daemon registered`), "the capture saw the log")
	assert.False(t, cap.contains(testToken), "a relay saw or logged the token")
}

// The same id registering on another instance replaces the first registration (4409), and
// requests follow it.
func TestClusterReplace(t *testing.T) {
	ns := startNATS(t, -1)
	rs := startCluster(t, natsURL(ns), 3, nil)
	key := newKey(t)
	dir := t.TempDir()
	writeRandom(t, dir, "f.bin", 1000)
	var log capture
	d1 := startDaemon(t, rs[0].url, key, dir, slog.New(slog.NewTextHandler(&log, nil)))
	waitRegistered(t, d1)
	d2 := startDaemon(t, rs[1].url, key, dir, nil)
	waitRegistered(t, d2)
	require.Eventually(t, func() bool { return rs[0].Daemons() == 0 }, 5*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return log.contains("another daemon with this identity") }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1, rs[1].Daemons())
	assert.True(t, d2.Registered())
	// d1 waits the longest backoff before it tries again: d2 keeps the id meanwhile.
	for _, r := range rs {
		st, _ := getJSON(t, http.DefaultClient, "GET", r.url+"/d/"+d2.ID()+"/api/v1/status")
		assert.Equal(t, 200, st)
	}
	d1.stop()
	assert.True(t, rs[2].Online(d2.ID()))
}

// An instance dies with a transfer going through a peer signaled by it: the transfer goes
// on, the daemon registers on another instance, and new dials work through the others.
func TestClusterInstanceKilled(t *testing.T) {
	ns := startNATS(t, -1)
	rs := startCluster(t, natsURL(ns), 3, nil)
	dir := t.TempDir()
	want := writeRandom(t, dir, "big.bin", 8<<20)
	urls := []string{rs[0].url, rs[1].url, rs[2].url}
	d := startDaemon(t, strings.Join(urls, ","), newKey(t), dir, nil)
	waitRegistered(t, d)
	require.Equal(t, 1, rs[0].Daemons())

	ctx := testutil.Context(t, 60*time.Second)
	// The peer is signaled through A itself, the instance about to die.
	rem, err := connect.Dial(ctx, relayedLink(rs[0].testRelay, d.ID()), dialOpts())
	require.NoError(t, err)
	defer rem.Close()
	f, err := rem.Open(ctx, "big.bin")
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.CopyN(h, f, 2<<20)
	require.NoError(t, err)

	killed := time.Now()
	rs[0].kill()
	require.Eventually(t, func() bool { return d.Registrations() == 2 }, 10*time.Second, time.Millisecond)
	t.Logf("the daemon registered again %v after its instance died", time.Since(killed).Round(time.Millisecond))
	assert.True(t, rs[1].Online(d.ID()) && rs[2].Online(d.ID()))
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	assert.Equal(t, sha256.Sum256(want), [32]byte(h.Sum(nil)), "the transfer went on")

	// New dials through both survivors.
	for _, r := range rs[1:] {
		assert.Equal(t, sha256.Sum256(want), fetchSHA(t, ctx, relayedLink(r.testRelay, d.ID()), "big.bin"))
	}
}

// NATS itself restarts: the relays notice, answer 503 cluster_unavailable for daemons on
// other instances meanwhile, and route again once it is back, without a restart of theirs.
func TestClusterNATSRestart(t *testing.T) {
	ns := startNATS(t, -1)
	addr := ns.Addr().(*net.TCPAddr)
	rs := startCluster(t, natsURL(ns), 3, nil)
	dir := t.TempDir()
	want := writeRandom(t, dir, "f.bin", 256<<10)
	d := startDaemon(t, rs[0].url, newKey(t), dir, nil)
	waitRegistered(t, d)
	ctx := testutil.Context(t, 60*time.Second)
	assert.Equal(t, sha256.Sum256(want), fetchSHA(t, ctx, relayedLink(rs[1].testRelay, d.ID()), "f.bin"))

	// Requests keep going through B while NATS goes down: those in flight then must end with
	// cluster_unavailable too, not wait out the relay's 25 s request timeout.
	//
	// One answer may be daemon_offline: NATS closes its clients one by one, and a request
	// that B sends after A's connection is closed and answers B's PING before B's own is
	// closed looks exactly like a daemon that left. (B asks NATS for that PONG before it
	// answers daemon_offline; without it, half of the runs had one: 158 in 300.)
	status := rs[1].url + "/d/" + d.ID() + "/api/v1/status"
	client := &http.Client{Timeout: 10 * time.Second}
	var g errgroup.Group
	var offline atomic.Int32
	for range 4 {
		g.Go(func() error {
			for i := 0; ; i++ {
				resp, err := client.Get(status)
				if err != nil {
					return err
				}
				var e struct{ Code string }
				_ = json.NewDecoder(resp.Body).Decode(&e)
				resp.Body.Close()
				switch {
				case resp.StatusCode == 503 && e.Code == CodeClusterDown:
					return nil
				case resp.StatusCode == 503 && e.Code == CodeDaemonOffline && offline.Add(1) == 1:
				case resp.StatusCode != 200:
					return fmt.Errorf("status %d %q", resp.StatusCode, e.Code)
				case i > 10000:
					return errors.New("instance B never said the cluster is down")
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	ns.Shutdown()
	ns.WaitForShutdown()
	require.NoError(t, g.Wait())
	t.Logf("daemon_offline answers while NATS went down: %d", offline.Load())
	// The daemon's own instance still serves it.
	st, _ := getJSON(t, http.DefaultClient, "GET", rs[0].url+"/d/"+d.ID()+"/api/v1/status")
	assert.Equal(t, 200, st)

	restarted := time.Now()
	startNATS(t, addr.Port)
	// Each instance reconnects on its own schedule: wait for both others.
	for _, r := range rs[1:] {
		require.Eventually(t, func() bool {
			st, _ := getJSON(t, http.DefaultClient, "GET", r.url+"/d/"+d.ID()+"/api/v1/status")
			return st == 200
		}, 20*time.Second, 10*time.Millisecond)
	}
	t.Logf("cross-instance routing back %v after NATS restarted", time.Since(restarted).Round(time.Millisecond))
	assert.Equal(t, sha256.Sum256(want), fetchSHA(t, ctx, relayedLink(rs[1].testRelay, d.ID()), "f.bin"))
	assert.EqualValues(t, 1, d.Registrations(), "the daemon never noticed")
}
