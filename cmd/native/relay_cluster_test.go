package main

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/testutil"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// Two `rangecast relay --nats` processes on an embedded NATS server: `get` through B from a
// daemon registered on A; both relays and the daemon serve metrics; no log line of any of
// them carries the token.
func TestGetThroughRelayCluster(t *testing.T) {
	netns.Require(t)
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	require.NoError(t, err)
	go ns.Start()
	require.True(t, ns.ReadyForConnections(5*time.Second))
	t.Cleanup(ns.Shutdown)
	nurl := "nats://" + ns.Addr().String()

	var relays []string
	var metrics []string
	var logs []interface{ String() string }
	for _, name := range []string{"a", "b"} {
		m := freeAddr(t)
		lines, log := startProc(t, 1, nil, "relay", "--listen", "127.0.0.1:0", "--turn-listen", "off", "--nats", nurl,
			"--instance", name, "--metrics-listen", m, "--log-level", "debug", "--log-format", "json")
		relays = append(relays, lines[0])
		metrics = append(metrics, m)
		logs = append(logs, log)
	}
	const token = "cluster-proc-t0ken-xyz"
	dm := freeAddr(t)
	lines, daemonLog := startProc(t, 2, []string{"RANGECAST_TOKEN=" + token},
		"serve", "--log-level", "debug", "--log-format", "json", "--listen", "127.0.0.1:0", "--relay", relays[0],
		"--identity", filepath.Join(t.TempDir(), "id.key"), "--metrics-listen", dm, dataDir)
	logs = append(logs, daemonLog)
	linkA := lines[1]
	require.True(t, strings.HasPrefix(linkA, relays[0]+"/d/"), linkA)
	linkB := relays[1] + strings.TrimPrefix(linkA, relays[0])

	ctx := testutil.Context(t, 90*time.Second)
	var stdout, stderr string
	out := filepath.Join(t.TempDir(), "mid.bin")
	for range 50 { // the daemon registers right after printing
		stdout, stderr, err = rangecast(ctx, "get", "-o", out, linkB, "mid.bin")
		if err == nil || !strings.Contains(stderr, "daemon_offline") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err, stderr)
	assert.Contains(t, stdout, midSum)
	assert.Equal(t, midSum, fileSum(t, out))

	a, b, d := scrape(t, metrics[0]), scrape(t, metrics[1]), scrape(t, dm)
	assert.Contains(t, a, "rangecast_relay_daemons_online 1")
	assert.Contains(t, b, "rangecast_relay_daemons_online 0")
	assert.Contains(t, b, `rangecast_relay_signaling_requests_total{result="ok",route="cluster"}`)
	assert.Contains(t, b, "rangecast_relay_cluster_connected 1")
	assert.Contains(t, d, "rangecast_daemon_sessions_total 1")
	assert.Contains(t, d, "rangecast_daemon_relay_registered 1")
	assert.Regexp(t, `rangecast_daemon_bytes_total\{direction="sent"\} [1-9]`, d)
	for _, l := range logs {
		assert.Contains(t, l.String(), `"level":"INFO"`)
		assert.NotContains(t, l.String(), token)
	}
	assert.NotContains(t, a+b+d, token)
}
