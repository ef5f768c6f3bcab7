//go:build linux

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/nat"
	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/testca"
	"github.com/rangecast/rangecast/internal/testdaemon"
)

// natBrowser builds a NAT topology (internal/nat): the relay over HTTPS (a test CA, port
// 8443) with its STUN/TURN server on the internet, the daemon at home serving m64.bin and a
// video, Chromium at the café trusting the relay's key. It opens the daemon's relay link,
// reads m64.bin through File.stream() hashed in the page, seeks in the video through the
// service worker under /d/<id>/. The selected candidate pair (RTCPeerConnection.getStats())
// must end up relayed (TURN) or not, as wantRelayed says.
func natBrowser(t *testing.T, cfg nat.Config, wantRelayed bool) {
	netns.Require(t)
	if err := nat.Available(); err != nil {
		if netns.Required() {
			t.Fatalf("%v (%s=1)", err, netns.EnvRequire)
		}
		t.Skipf("SKIPPED: %v", err)
	}
	dir := t.TempDir()
	require.NoError(t, os.Link(filepath.Join(dataDir, "m64.bin"), filepath.Join(dir, "m64.bin")))
	require.NoError(t, os.Link(filepath.Join(media(t), "faststart.mp4"), filepath.Join(dir, "faststart.mp4")))
	ca, err := testca.Write(t.TempDir(), nat.RelayAddr.String())
	require.NoError(t, err)

	top, err := nat.New(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, top.Close()) }) // after the processes: LIFO

	relayHTTPS := nat.RelayAddr.String() + ":8443"
	lines, _ := testdaemon.StartProc(t, top.Command(nat.Internet, binPath, "relay", "--listen", relayHTTPS,
		"--tls-cert", ca.Cert, "--tls-key", ca.Key, "--turn-listen", nat.RelayAddr.String()+":3478"), 1, "relay")
	relayURL := lines[0]
	require.Equal(t, "https://"+relayHTTPS, relayURL)
	lines, dlog := testdaemon.StartProc(t, top.Command(nat.Home, binPath, "serve", "--log-level", "debug",
		"--listen", nat.HomeAddr.String()+":0", "--relay", relayURL, "--relay-ca", ca.CA,
		"--identity", filepath.Join(t.TempDir(), "id.key"), dir), 2, "daemon")
	link := lines[1]
	require.True(t, strings.HasPrefix(link, relayURL+"/d/"), link)
	require.Eventually(t, func() bool { return strings.Contains(dlog.String(), "relay: STUN/TURN servers") },
		10*time.Second, 20*time.Millisecond, "the daemon got no ICE servers from the relay")

	ctx := tlsBrowser(t, ca, top.Namespace(nat.Cafe))
	openApp(t, ctx, link, "browsing")
	firstByte, err := eval[float64](ctx, `(async () => {
	  const f = await app.remote.open("m64.bin"); await f.read(0, 1); const t = performance.now(); await f.close(); return t; })()`)
	require.NoError(t, err)
	first, err := eval[candidatePair](ctx, pairJS)
	require.NoError(t, err)
	pair := first
	if !wantRelayed {
		// Chromium selects the first pair that works, often the TURN one (the relay answers
		// at once; punching through both NATs takes a few retransmissions), then switches
		// to a better one as soon as it works.
		deadline := time.Now().Add(15 * time.Second)
		for pair.relayed() && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			pair, err = eval[candidatePair](ctx, pairJS)
			require.NoError(t, err)
		}
	}
	t.Logf("%s: navigation → connected %.0f ms (%s), → first byte %.0f ms; the pair at %.0f ms: %s",
		fmt.Sprintf("home %s, café %s", cfg.Home, cfg.Cafe), first.ConnectedMs, first, firstByte, pair.NowMs, pair)

	r, err := eval[streamResult](ctx, streamJS+`("m64.bin")`)
	require.NoError(t, err)
	require.Equal(t, int64(size64), r.N)
	require.Equal(t, hexSum(data256[:size64]), r.Sum, "m64.bin's sha256 in the page")
	after, err := eval[candidatePair](ctx, pairJS)
	require.NoError(t, err)
	t.Logf("64 MiB through File.stream(), hashed in the page: %.1f MB/s; the pair after: %s", r.MBps, after)
	require.Equal(t, wantRelayed, after.relayed(), "the selected pair: %s", after)

	// The video plays and seeks through the worker, whose scope is the daemon's folder.
	waitWorker(t, ctx)
	url, err := eval[string](ctx, `app.streamURL("/faststart.mp4")`)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(url, link[:strings.Index(link, "#")]+"stream/"), url)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#files tr[data-path="/faststart.mp4"] .open-button`))))
	rctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	pr, err := eval[playResult](rctx, fmt.Sprintf(`%s("/faststart.mp4", "video", [10, 3, 17])`, playJS))
	require.NoError(t, err)
	assert.Empty(t, pr.Errors)
	require.Len(t, pr.Seeks, 3)
	for _, s := range pr.Seeks {
		assert.Greater(t, s.At, s.Pos)
		assert.GreaterOrEqual(t, s.Frames, 2)
	}
	t.Logf("video: play → playing %.0f ms; seeks %.0f, %.0f, %.0f ms", pr.StartMs, pr.Seeks[0].Ms, pr.Seeks[1].Ms, pr.Seeks[2].Ms)
}

// Endpoint-independent NATs on both sides: Chromium at the café and the daemon at home
// punch through: the selected pair is not relayed.
func TestNATBrowserEndpointIndependentDirect(t *testing.T) {
	natBrowser(t, nat.Config{Home: nat.EndpointIndependent, Cafe: nat.EndpointIndependent}, false)
}

// Symmetric NATs on both sides: only the relay's TURN server connects them.
func TestNATBrowserSymmetricRelayed(t *testing.T) {
	natBrowser(t, nat.Config{Home: nat.Symmetric, Cafe: nat.Symmetric}, true)
}
