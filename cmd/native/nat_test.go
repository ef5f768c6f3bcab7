//go:build linux

package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/nat"
	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/testdaemon"
)

// newTopology builds a NAT topology (internal/nat) for the test, or skips it where
// namespaces cannot be made (fails under RANGECAST_REQUIRE_NETNS=1).
func newTopology(t *testing.T, cfg nat.Config) *nat.Topology {
	t.Helper()
	netns.Require(t)
	if err := nat.Available(); err != nil {
		if netns.Required() {
			t.Fatalf("%v (%s=1)", err, netns.EnvRequire)
		}
		t.Skipf("SKIPPED: %v", err)
	}
	top, err := nat.New(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, top.Close()) }) // after the processes: LIFO
	return top
}

var pairLine = regexp.MustCompile(`connected in (\S+): (direct|relayed) \((.*)\)`)

// natGet runs the relay on the internet, the daemon at home and `rangecast get -v` of the
// 16 MiB file at the café, and returns get's pair line ("direct" or "relayed", the pair),
// the time to connect and the transfer's duration.
func natGet(t *testing.T, cfg nat.Config) (how, pair string, connect, total time.Duration) {
	return natGetPort(t, cfg, nil)
}

var udpLine = regexp.MustCompile(`udp=` + regexp.QuoteMeta(nat.HomeAddr.String()) + `:(\d+)`)

// natGetPort is natGet; udpPort, if not nil, receives the daemon's one UDP port.
func natGetPort(t *testing.T, cfg nat.Config, udpPort *string) (how, pair string, connect, total time.Duration) {
	top := newTopology(t, cfg)
	relayHTTP := nat.RelayAddr.String() + ":8090"
	lines, _ := testdaemon.StartProc(t, top.Command(nat.Internet, binPath, "relay", "--listen", relayHTTP,
		"--turn-listen", nat.RelayAddr.String()+":3478", "--log-level", "debug"), 1, "relay")
	relayURL := lines[0]
	require.Equal(t, "http://"+relayHTTP, relayURL)

	d := top.Command(nat.Home, binPath, "serve", "--log-level", "debug", "--listen", nat.HomeAddr.String()+":0",
		"--relay", relayURL, "--identity", filepath.Join(t.TempDir(), "id.key"), dataDir)
	lines, dlog := testdaemon.StartProc(t, d, 2, "daemon")
	link := lines[1]
	require.Contains(t, link, "/d/")
	require.Eventually(t, func() bool { return strings.Contains(dlog.String(), "relay: STUN/TURN servers") },
		10*time.Second, 20*time.Millisecond, "the daemon got no ICE servers from the relay")

	if udpPort != nil {
		m := udpLine.FindStringSubmatch(dlog.String())
		require.NotNil(t, m, "no udp= in the daemon's log")
		*udpPort = m[1]
	}
	out := filepath.Join(t.TempDir(), "mid.bin")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	get := top.CommandContext(ctx, nat.Cafe, binPath, "get", "-v", "-o", out, link, "mid.bin")
	var stdout, stderr strings.Builder
	get.Stdout, get.Stderr = &stdout, &stderr
	start := time.Now()
	err := get.Run()
	total = time.Since(start)
	require.NoError(t, err, "get: %s\ndaemon log:\n%s", stderr.String(), dlog.String())
	require.Equal(t, midSum+"  "+out, strings.TrimSpace(stdout.String()))
	m := pairLine.FindStringSubmatch(stderr.String())
	require.NotNil(t, m, "no pair line in get -v's output: %s", stderr.String())
	connect, err = time.ParseDuration(m[1])
	require.NoError(t, err)
	return m[2], m[3], connect, total
}

func logFigures(t *testing.T, how, pair string, connect, total time.Duration) {
	xfer := total - connect
	t.Logf("%s: %s; connected in %v, 16 MiB in %v (%.1f MB/s after connecting)", how, pair, connect, total.Round(time.Millisecond),
		float64(16<<20)/1e6/xfer.Seconds())
}

// Endpoint-independent NATs on both sides: the daemon signals its NAT's mapping of its one
// UDP port (learned from the relay's STUN server through that port), the client its own,
// and the peers punch through: the selected pair is not relayed.
func TestNATEndpointIndependentDirect(t *testing.T) {
	var port string
	how, pair, connect, total := natGetPort(t, nat.Config{Home: nat.EndpointIndependent, Cafe: nat.EndpointIndependent}, &port)
	logFigures(t, how, pair, connect, total)
	require.Equal(t, "direct", how, pair)
	// The daemon's end is the home NAT's mapping of one of its ports: its one UDP port
	// (udpmux, signaled through NativeOptions.Reflexive) or one of the sockets pion opens
	// for each stun:/turn: URL, which pion/webrtc v4.2 does not let the mux replace.
	require.Contains(t, pair, "remote srflx "+nat.HomePublic.String()+":")
	t.Logf("the daemon's UDP port: %s (the pair's srflx is %s)", port, map[bool]string{true: "that port", false: "another socket of pion's"}[strings.Contains(pair, ":"+port)])
}

// Symmetric NATs on both sides: no mapping learned from STUN is the one a peer would reach,
// so only the relay's TURN server connects them.
func TestNATSymmetricRelayed(t *testing.T) {
	how, pair, connect, total := natGet(t, nat.Config{Home: nat.Symmetric, Cafe: nat.Symmetric})
	logFigures(t, how, pair, connect, total)
	require.Equal(t, "relayed", how, pair)
}

// The relay restarted in the middle of a transfer across NATs: signaling is not on the data
// path, so the transfer goes on and ends with the right bytes, and the daemon registers again
// by itself; a new client then connects through the new relay.
func TestNATRelayRestartMidTransfer(t *testing.T) {
	top := newTopology(t, nat.Config{Home: nat.EndpointIndependent, Cafe: nat.EndpointIndependent})
	relayHTTP := nat.RelayAddr.String() + ":8090"
	relayArgs := []string{"relay", "--listen", relayHTTP, "--turn-listen", nat.RelayAddr.String() + ":3478", "--log-level", "debug"}
	first := top.Command(nat.Internet, binPath, relayArgs...)
	lines, _ := testdaemon.StartProc(t, first, 1, "relay")
	relayURL := lines[0]

	d := top.Command(nat.Home, binPath, "serve", "--log-level", "debug", "--listen", nat.HomeAddr.String()+":0",
		"--relay", relayURL, "--identity", filepath.Join(t.TempDir(), "id.key"), dataDir)
	lines, dlog := testdaemon.StartProc(t, d, 2, "daemon")
	link := lines[1]
	registered := func() int { return strings.Count(dlog.String(), "relay: registered") }
	require.Eventually(t, func() bool { return registered() == 1 }, 10*time.Second, 20*time.Millisecond)

	out := filepath.Join(t.TempDir(), "big.bin")
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	get := top.CommandContext(ctx, nat.Cafe, binPath, "get", "-o", out, link, "big.bin")
	var stdout, stderr strings.Builder
	get.Stdout, get.Stderr = &stdout, &stderr
	require.NoError(t, get.Start())
	done := make(chan error, 1)
	go func() { done <- get.Wait() }()

	// Bytes flow: stop the relay (and its TURN), then start a new one on the same address.
	require.Eventually(t, func() bool {
		st, err := os.Stat(out)
		return err == nil && st.Size() >= 8<<20
	}, 30*time.Second, 10*time.Millisecond, "no bytes through the NATs: %s", stderr.String())
	require.NoError(t, first.Process.Kill())
	killedAt, _ := os.Stat(out)
	time.Sleep(time.Second)
	testdaemon.StartProc(t, top.Command(nat.Internet, binPath, relayArgs...), 1, "relay (restarted)")

	require.NoError(t, <-done, "get: %s\ndaemon log:\n%s", stderr.String(), dlog.String())
	require.Equal(t, bigSum+"  "+out, strings.TrimSpace(stdout.String()))
	t.Logf("relay killed at %d MiB of 256; the transfer went on", killedAt.Size()>>20)
	require.Eventually(t, func() bool { return registered() == 2 }, 40*time.Second, 50*time.Millisecond,
		"the daemon did not register again:\n%s", dlog.String())

	// And the new relay serves new clients.
	out2 := filepath.Join(t.TempDir(), "mid.bin")
	get2 := top.CommandContext(ctx, nat.Cafe, binPath, "get", "-o", out2, link, "mid.bin")
	b, err := get2.CombinedOutput()
	require.NoError(t, err, string(b))
	require.Equal(t, midSum, fileSum(t, out2))
}
