package e2e

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/testca"
	"github.com/rangecast/rangecast/internal/testdaemon"
	"github.com/rangecast/rangecast/pkg/relay"
)

// tlsBrowser starts Chromium trusting the test certificate by its key's SPKI hash
// (--ignore-certificate-errors-spki-list): unlike --ignore-certificate-errors, a listed key
// makes the certificate valid, so the page is a secure context whose service worker
// registers (Chromium refuses workers from a page with a certificate error), and there is
// no NSS database to build. In namespace ns, if not empty (ip netns exec).
func tlsBrowser(t *testing.T, ca *testca.Files, ns string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{chromedp.Flag("ignore-certificate-errors-spki-list", ca.SPKI)}
	if ns != "" {
		opts = append(opts, chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			cmd.Path = "/usr/sbin/ip"
			cmd.Args = append([]string{"ip", "netns", "exec", ns, cmd.Args[0]}, cmd.Args[1:]...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		}))
	}
	ctx := browserWith(t, opts...)
	// Record every RTCPeerConnection the page makes (the wasm client's), with the moment it
	// connected, so that the test can read the selected candidate pair from getStats().
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: pcHookJS})
	require.NoError(t, err)
	return ctx
}

const pcHookJS = `(() => {
  const Orig = window.RTCPeerConnection;
  if (!Orig) return;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Orig {
    constructor(...a) {
      super(...a);
      window.__pcs.push(this);
      this.addEventListener("connectionstatechange", () => {
        if (this.connectionState === "connected" && !this.__connectedMs) this.__connectedMs = performance.now();
      });
    }
  };
})()`

// pairJS describes the selected candidate pair of the page's last connected peer.
const pairJS = `(async () => {
  const pcs = (window.__pcs || []).filter((pc) => pc.connectionState === "connected");
  if (!pcs.length) throw new Error("no connected RTCPeerConnection in the page");
  const pc = pcs[pcs.length - 1];
  const st = await pc.getStats();
  let id = "";
  st.forEach((r) => { if (r.type === "transport" && r.selectedCandidatePairId) id = r.selectedCandidatePairId; });
  const p = st.get(id);
  if (!p) throw new Error("no selected candidate pair");
  const l = st.get(p.localCandidateId), r = st.get(p.remoteCandidateId);
  return {local: l.candidateType, localAddr: l.address + ":" + l.port, remote: r.candidateType,
    remoteAddr: r.address + ":" + r.port, connectedMs: pc.__connectedMs || 0, nowMs: performance.now()};
})()`

type candidatePair struct {
	Local       string  `json:"local"`
	LocalAddr   string  `json:"localAddr"`
	Remote      string  `json:"remote"`
	RemoteAddr  string  `json:"remoteAddr"`
	ConnectedMs float64 `json:"connectedMs"` // navigation → the peer connected
	NowMs       float64 `json:"nowMs"`       // navigation → this reading
}

func (p candidatePair) relayed() bool { return p.Local == "relay" || p.Remote == "relay" }

func (p candidatePair) String() string {
	return fmt.Sprintf("local %s %s, remote %s %s", p.Local, p.LocalAddr, p.Remote, p.RemoteAddr)
}

// identity creates a daemon's identity key and returns its file and its id on a relay.
func identity(t *testing.T) (file, id string) {
	t.Helper()
	file = filepath.Join(t.TempDir(), "id.key")
	key, err := relay.LoadOrCreateIdentity(file)
	require.NoError(t, err)
	return file, relay.IDOf(key.Public().(ed25519.PublicKey))
}

// startTLSRelay runs rangecast relay over HTTPS with a test certificate for 127.0.0.1.
func startTLSRelay(t *testing.T) (string, *testca.Files) {
	t.Helper()
	ca, err := testca.Write(t.TempDir(), "127.0.0.1")
	require.NoError(t, err)
	lines, _ := testdaemon.StartProc(t, exec.Command(binPath, "relay", "--listen", "127.0.0.1:0", "--turn-listen", "off",
		"--tls-cert", ca.Cert, "--tls-key", ca.Key), 1, "relay")
	require.True(t, strings.HasPrefix(lines[0], "https://127.0.0.1:"), lines[0])
	return lines[0], ca
}

// startRelayedDaemon serves dir through the relay, with the identity file and the token.
func startRelayedDaemon(t *testing.T, relayURL string, ca *testca.Files, idFile, token, dir string) (string, *testdaemon.Buffer) {
	t.Helper()
	cmd := exec.Command(binPath, "serve", "--listen", "127.0.0.1:0", "--relay", relayURL, "--relay-ca", ca.CA,
		"--identity", idFile, "--log-level", "debug", dir)
	cmd.Env = append(os.Environ(), "RANGECAST_TOKEN="+token)
	lines, log := testdaemon.StartProc(t, cmd, 2, "daemon")
	return lines[1], log
}

// A relay page for a daemon that is not registered says so at once, waits, and connects by
// itself when the daemon registers.
func TestRelayPageWaitsForOfflineDaemon(t *testing.T) {
	netns.Require(t)
	relayURL, ca := startTLSRelay(t)
	idFile, id := identity(t)
	const token = "offline-then-online-t0ken"
	link := relayURL + "/d/" + id + "/#t=" + token
	ctx := tlsBrowser(t, ca, "")

	start := time.Now()
	openApp(t, ctx, link, "waiting")
	shown := time.Since(start)
	title, err := eval[string](ctx, `document.querySelector("#splash [data-field=title]").textContent`)
	require.NoError(t, err)
	assert.Equal(t, "The daemon is offline; waiting for it", title)
	t.Logf("navigation → offline screen: %v", shown.Round(time.Millisecond))

	got, _ := startRelayedDaemon(t, relayURL, ca, idFile, token, dataDir)
	require.Equal(t, link, got)
	back := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(`body[data-state="browsing"]`))), "the page did not connect once the daemon came")
	t.Logf("daemon started → page browsing: %v", time.Since(back).Round(time.Millisecond))
}

// Two daemons on one relay: each page has its own service worker, scoped to /d/<id>/, and
// its stream URLs answer with its own daemon's files.
func TestRelayPagesHaveTheirOwnWorker(t *testing.T) {
	netns.Require(t)
	relayURL, ca := startTLSRelay(t)
	ctx := tlsBrowser(t, ca, "")
	tabs := []context.Context{ctx, newTab(t, ctx)}
	for i, tab := range tabs {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "who.txt"), fmt.Appendf(nil, "daemon %d\n", i), 0o644))
		idFile, id := identity(t)
		link, _ := startRelayedDaemon(t, relayURL, ca, idFile, fmt.Sprintf("two-daemons-token-%d", i), dir)
		openApp(t, tab, link, "browsing")
		waitWorker(t, tab)
		scope, err := eval[string](tab, `navigator.serviceWorker.getRegistration().then((r) => r.scope)`)
		require.NoError(t, err)
		assert.Equal(t, relayURL+"/d/"+id+"/", scope)
		url, err := eval[string](tab, `app.streamURL("/who.txt")`)
		require.NoError(t, err)
		assert.Equal(t, relayURL+"/d/"+id+"/stream/who.txt", url)
	}
	for i, tab := range tabs {
		body, err := eval[string](tab, `fetch(app.streamURL("/who.txt")).then(async (r) => r.status + " " + await r.text())`)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("200 daemon %d\n", i), body)
	}
}
