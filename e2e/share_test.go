package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/testdaemon"
	"github.com/rangecast/rangecast/pkg/share"
)

// shareTree is a shared folder with a subfolder to share (pub) and files beside it that a
// link of pub must never reach.
func shareTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	must(os.MkdirAll(filepath.Join(root, "pub", "sub"), 0o755))
	must(os.WriteFile(filepath.Join(root, "secret.txt"), []byte("not for the link\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "pub", "hello.txt"), []byte("hello from a share link\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "pub", "sub", "deep.txt"), []byte("deep\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "pub", "data.bin"), data256[:3<<20], 0o644))
	must(os.WriteFile(filepath.Join(root, "pub", "clip.mp4"), data256[5<<20:6<<20], 0o644))
	return root
}

// shareDaemon serves dir with its own state directory (share key, links, control socket).
type shareDaemon struct {
	*testdaemon.Daemon
	state string
	env   []string
}

func startShareDaemon(t *testing.T, dir string) *shareDaemon {
	t.Helper()
	state := t.TempDir()
	env := []string{"RANGECAST_STATE_DIR=" + state}
	td := testdaemon.Start(t, binPath, append(env, "RANGECAST_TOKEN=owner-token-e2e"), "--listen", "127.0.0.1:0", dir)
	return &shareDaemon{Daemon: td, state: state, env: env}
}

// share runs rangecast share for path and returns the link id and its links (direct first).
func (d *shareDaemon) share(t *testing.T, args ...string) (string, []string) {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"share"}, args...)...)
	cmd.Env = append(os.Environ(), d.env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	id := regexp.MustCompile(`link (\S+) for`).FindStringSubmatch(stderr.String())
	require.Len(t, id, 2, stderr.String())
	return id[1], strings.Fields(string(out))
}

func (d *shareDaemon) revoke(t *testing.T, id string) {
	t.Helper()
	cmd := exec.Command(binPath, "share", "revoke", id)
	cmd.Env = append(os.Environ(), d.env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
}

type shareView struct {
	State   string   `json:"state"`
	Dir     string   `json:"dir"`
	Root    string   `json:"root"`
	Rows    []string `json:"rows"`
	Scope   string   `json:"scope"`
	Kind    string   `json:"kind"`
	Expiry  string   `json:"expiry"`
	Crumbs  string   `json:"crumbs"`
	Code    string   `json:"code"`
	Title   string   `json:"title"`
	Retry   bool     `json:"retry"`
	Single  bool     `json:"single"`
	Viewer  string   `json:"viewer"`
	Player  string   `json:"player"`
	Display string   `json:"display"`
}

const shareViewJS = `(() => {
  const b = document.querySelector("#share-banner");
  const v = document.querySelector("#viewer");
  const m = document.querySelector("#viewer-body video, #viewer-body audio");
  const err = document.querySelector("#error");
  return {
    state: document.body.dataset.state, dir: app.dir, root: app.root,
    rows: [...document.querySelectorAll("#files tbody tr[data-path]")].map(r => r.dataset.path),
    scope: b ? b.dataset.scope : "(none)", kind: b ? b.dataset.kind : "", expiry: b ? b.textContent : "",
    crumbs: document.querySelector("#crumbs").textContent,
    code: err.dataset.code, title: err.querySelector("[data-field=title]").textContent,
    retry: !document.querySelector("#retry").hidden,
    single: document.body.dataset.single === "1",
    viewer: v.hidden ? "" : v.dataset.path, player: m ? m.tagName.toLowerCase() + " " + m.getAttribute("src") : "",
    display: getComputedStyle(err).display,
  };
})()`

func readView(t *testing.T, ctx context.Context) shareView {
	t.Helper()
	v, err := eval[shareView](ctx, shareViewJS)
	require.NoError(t, err)
	return v
}

// waitFor polls a JavaScript condition for up to 30 s.
func waitFor(t *testing.T, ctx context.Context, cond, what string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := chromedp.Run(wctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond)))
	require.NoError(t, err, "waiting for %s", what)
}

// A folder link shows its folder only: the app's top folder is the link's, what it lists is
// inside, a navigation outside lands back in it, and the JavaScript API's requests outside
// are refused by the daemon with "forbidden". The banner says what the link grants and until
// when.
func TestShareFolderLink(t *testing.T) {
	netns.Require(t)
	d := startShareDaemon(t, shareTree(t))
	id, links := d.share(t, "--expires", "24h", "pub")
	require.NotEmpty(t, links)
	ctx := browser(t)
	openApp(t, ctx, links[0], "browsing")
	waitFor(t, ctx, `document.querySelectorAll("#files tbody tr[data-path]").length > 0`, "the folder's rows")
	v := readView(t, ctx)
	assert.Equal(t, "/pub", v.Root)
	assert.Equal(t, "/pub", v.Dir)
	assert.ElementsMatch(t, []string{"/pub/sub", "/pub/clip.mp4", "/pub/data.bin", "/pub/hello.txt"}, v.Rows)
	assert.Equal(t, "pub", v.Scope)
	assert.Equal(t, "folder", v.Kind)
	assert.Regexp(t, `expires in (23|24) hours`, v.Expiry)
	assert.Equal(t, "pub", strings.TrimSpace(v.Crumbs))
	shot(t, ctx, "share-folder.png")

	// Into a subfolder and back; then outside, by the app's own navigation and by the URL.
	_, err := eval[bool](ctx, `(app.navigate("/pub/sub"), true)`)
	require.NoError(t, err)
	waitFor(t, ctx, `app.dir === "/pub/sub" && !!document.querySelector('#files tr[data-path="/pub/sub/deep.txt"]')`, "the subfolder")
	for _, nav := range []string{`app.navigate("/")`, `app.navigate("/secret.txt")`, `location.hash = location.hash.replace(/&p=.*$/, "") + "&p=/"`} {
		_, err := eval[bool](ctx, `(`+nav+`, true)`)
		require.NoError(t, err)
		waitFor(t, ctx, `app.dir === "/pub" && document.querySelectorAll("#files tbody tr[data-path]").length === 4`, "the link's folder after "+nav)
		v := readView(t, ctx)
		for _, r := range v.Rows {
			assert.True(t, strings.HasPrefix(r, "/pub/"), "after %s the app shows %s", nav, r)
		}
		assert.Equal(t, "browsing", v.State)
	}

	// The API: outside is refused with a typed code, inside works (bytes checked).
	type refusal struct {
		Code string `json:"code"`
	}
	for _, call := range []string{`app.remote.list("/")`, `app.remote.listAll("/")`, `app.remote.open("/secret.txt")`,
		`app.remote.stat("/secret.txt")`, `app.remote.open("/pub/../secret.txt")`, `app.remote.list("/pub/..")`} {
		r, err := eval[refusal](ctx, call+`.then(() => ({code: "allowed"}), (e) => ({code: e.code}))`)
		require.NoError(t, err)
		assert.Contains(t, []string{"forbidden", "invalid_path"}, r.Code, "%s", call)
	}
	sum, err := eval[string](ctx, `(async () => { const f = await app.remote.open("/pub/data.bin"); const b = await f.read(0, f.size); await f.close(); const h = testSHA256(); h.update(b); return h.hex(); })()`)
	require.NoError(t, err)
	assert.Equal(t, hexSum(data256[:3<<20]), sum)

	// Revoked while the page is open: its own screen at once (never "reconnecting" first: a
	// MutationObserver records every page state and status text on the way), no retry, and it
	// stays there.
	_, err = eval[bool](ctx, recordStatesJS)
	require.NoError(t, err)
	d.revoke(t, id)
	waitFor(t, ctx, `document.body.dataset.state === "error"`, "the error screen after revoke")
	seen, err := eval[[]string](ctx, `window.seenStates`)
	require.NoError(t, err)
	t.Logf("page states and status texts from the revoke to its screen: %q", seen)
	for _, s := range seen {
		assert.NotRegexp(t, `(?i)reconnect|disconnected`, s, "the page showed a reconnect before the revoked screen")
	}
	v = readView(t, ctx)
	assert.Equal(t, "link_revoked", v.Code)
	assert.Equal(t, "This share link was revoked", v.Title)
	assert.False(t, v.Retry, "a revoked link offers a retry")
	shot(t, ctx, "share-revoked.png")
	time.Sleep(3 * time.Second)
	assert.Equal(t, "error", readView(t, ctx).State, "the revoked screen did not stay")

	// A fresh page with the revoked link gets the same screen.
	ctx2 := newTab(t, ctx)
	openApp(t, ctx2, links[0], "error")
	assert.Equal(t, "link_revoked", readView(t, ctx2).Code)
}

// recordStatesJS makes the page record in window.seenStates every page state (body
// data-state) and every text of the connection state and the offline card it shows, as
// they change.
const recordStatesJS = `(() => {
  const seen = window.seenStates = [];
  const note = () => {
    const s = document.body.dataset.state;
    const texts = [s, "conn: " + document.querySelector("#conn [data-field=state]").textContent];
    if (s === "disconnected" || s === "reconnecting") texts.push("offline: " + document.querySelector("#offline [data-field=status]").textContent);
    for (const x of texts) if (seen[seen.length - 1] !== x && !seen.includes(x)) seen.push(x);
  };
  note();
  new MutationObserver(note).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["data-state"]});
  return true;
})()`

// A link of one file opens straight into the viewer: a video into the player, anything else
// into a download card whose button saves the file (sha256 checked).
func TestShareFileLink(t *testing.T) {
	netns.Require(t)
	d := startShareDaemon(t, shareTree(t))
	ctx := browser(t)

	_, links := d.share(t, "pub/clip.mp4")
	openApp(t, ctx, links[0], "browsing")
	waitFor(t, ctx, `document.querySelector("#viewer-body video") !== null`, "the player")
	v := readView(t, ctx)
	assert.True(t, v.Single)
	assert.Equal(t, "/pub/clip.mp4", v.Viewer)
	assert.Equal(t, "file", v.Kind)
	assert.Equal(t, "pub/clip.mp4", v.Scope)
	assert.Empty(t, v.Rows)
	assert.Equal(t, "video "+strings.TrimSuffix(links[0][:strings.Index(links[0], "#")], "/")+"/stream/pub/clip.mp4", v.Player)
	sum, err := eval[string](ctx, `fetch(document.querySelector("#viewer-body video").src).then(r => r.arrayBuffer()).then(b => { const h = testSHA256(); h.update(new Uint8Array(b)); return h.hex(); })`)
	require.NoError(t, err)
	assert.Equal(t, hexSum(data256[5<<20:6<<20]), sum, "the player's bytes")
	closed, err := eval[bool](ctx, `(document.dispatchEvent(new KeyboardEvent("keydown", {key: "Escape"})), document.querySelector("#viewer").hidden)`)
	require.NoError(t, err)
	assert.False(t, closed, "Escape closed the only thing a file link shows")
	shot(t, ctx, "share-file-player.png")
	waitFor(t, ctx, `!!document.querySelector("#qr-viewer-button")`, "the QR button (qr.js comes once the viewer shows)")
	qr, err := eval[string](ctx, `(document.querySelector("#qr-viewer-button").click(), document.querySelector("#qr").hidden ? "" : document.querySelector("#qr .qr-link").textContent)`)
	require.NoError(t, err)
	assert.Equal(t, links[0], qr, "the QR code of a file link")
	_, err = eval[bool](ctx, `(document.querySelector("#qr-close").click(), true)`)
	require.NoError(t, err)

	_, links = d.share(t, "pub/data.bin")
	dl, waitDownload := allowDownloads(t, ctx)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")))
	openApp(t, ctx, links[0], "browsing")
	waitFor(t, ctx, `document.querySelector("#viewer-body .single-download") !== null`, "the download card")
	shot(t, ctx, "share-file-download.png")
	_, err = eval[bool](ctx, `(document.querySelector("#viewer-body .single-download").click(), true)`)
	require.NoError(t, err)
	waitDownload(60 * time.Second)
	f, err := os.Open(filepath.Join(dl, "data.bin"))
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	assert.Equal(t, hexSum(data256[:3<<20]), hex.EncodeToString(h.Sum(nil)))
}

// Expired, forged and malformed links each get their own screen, without a retry loop.
func TestShareLinkRefusals(t *testing.T) {
	netns.Require(t)
	d := startShareDaemon(t, shareTree(t))
	_, links := d.share(t, "pub") // the share key exists once a link was made
	key, err := share.LoadOrCreateKey(filepath.Join(d.state, "share.key"))
	require.NoError(t, err)
	expired, err := key.Mint(share.Public{ID: "expiredE2E", Scope: "pub", Expiry: time.Now().Add(-time.Hour).Unix()})
	require.NoError(t, err)
	good, err := share.Parse(links[0][strings.Index(links[0], "#s=")+3:])
	require.NoError(t, err)
	widened := good // another scope with the same secret: forged
	widened.Scope = ""
	other, err := share.LoadOrCreateKey(filepath.Join(t.TempDir(), "share.key"))
	require.NoError(t, err)
	foreign, err := other.Mint(share.Public{ID: "foreign", Scope: "pub"})
	require.NoError(t, err)

	ctx := browser(t)
	for _, c := range []struct{ name, frag, code, title string }{
		{"expired", expired.String(), "link_expired", "This share link has expired"},
		{"widened", widened.String(), "unauthorized", "This share link is not valid"},
		{"foreign", foreign.String(), "unauthorized", "This share link is not valid"},
		{"truncated", good.String()[:len(good.String())-5], "bad_link", "This share link is incomplete"},
		{"garbage", "not-a-link", "bad_link", "This share link is incomplete"},
	} {
		t.Run(c.name, func(t *testing.T) {
			openApp(t, ctx, d.Base+"/#s="+c.frag, "error")
			v := readView(t, ctx)
			assert.Equal(t, c.code, v.Code)
			assert.Equal(t, c.title, v.Title)
			assert.False(t, v.Retry)
			assert.Equal(t, "flex", v.Display)
			shot(t, ctx, fmt.Sprintf("share-%s.png", c.name))
			time.Sleep(1500 * time.Millisecond)
			assert.Equal(t, "error", readView(t, ctx).State, "the screen did not stay")
			require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")))
		})
	}
}

// Through a relay: the relay's link opens the same scoped view (the link proven in-band,
// never sent to the relay), a file link opens into the player, and revoking ends the page.
func TestShareLinkThroughRelay(t *testing.T) {
	netns.Require(t)
	relayURL, ca := startTLSRelay(t)
	idFile, id := identity(t)
	state := t.TempDir()
	env := []string{"RANGECAST_STATE_DIR=" + state}
	cmd := exec.Command(binPath, "serve", "--listen", "127.0.0.1:0", "--relay", relayURL, "--relay-ca", ca.CA,
		"--identity", idFile, shareTree(t))
	cmd.Env = append(os.Environ(), append(env, "RANGECAST_TOKEN=relayed-owner-token")...)
	testdaemon.StartProc(t, cmd, 2, "daemon")
	d := &shareDaemon{state: state, env: env}

	relayed := func(links []string) string {
		for _, l := range links {
			if strings.HasPrefix(l, relayURL+"/d/"+id+"/#s=") {
				return l
			}
		}
		t.Fatalf("no relay link among %v", links)
		return ""
	}
	linkID, links := d.share(t, "pub")
	ctx := tlsBrowser(t, ca, "")
	openApp(t, ctx, relayed(links), "browsing")
	waitFor(t, ctx, `document.querySelectorAll("#files tbody tr[data-path]").length === 4`, "the folder's rows")
	v := readView(t, ctx)
	assert.Equal(t, "/pub", v.Root)
	assert.ElementsMatch(t, []string{"/pub/sub", "/pub/clip.mp4", "/pub/data.bin", "/pub/hello.txt"}, v.Rows)
	assert.Equal(t, "pub", v.Scope)
	code, err := eval[string](ctx, `app.remote.list("/").then(() => "allowed", (e) => e.code)`)
	require.NoError(t, err)
	assert.Equal(t, "forbidden", code)
	shot(t, ctx, "share-relay-folder.png")

	_, links = d.share(t, "pub/clip.mp4")
	tab := newTab(t, ctx)
	openApp(t, tab, relayed(links), "browsing")
	waitFor(t, tab, `document.querySelector("#viewer-body video") !== null`, "the player")
	sum, err := eval[string](tab, `fetch(document.querySelector("#viewer-body video").src).then(r => r.arrayBuffer()).then(b => { const h = testSHA256(); h.update(new Uint8Array(b)); return h.hex(); })`)
	require.NoError(t, err)
	assert.Equal(t, hexSum(data256[5<<20:6<<20]), sum, "the player's bytes through the relay")

	d.revoke(t, linkID)
	waitFor(t, ctx, `document.body.dataset.state === "error"`, "the error screen after revoke")
	assert.Equal(t, "link_revoked", readView(t, ctx).Code)
	assert.Equal(t, "browsing", readView(t, tab).State, "revoking the folder link ended the file link's page")
}
