package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/testdaemon"
)

type viewerOffline struct {
	State   string `json:"state"`
	Viewer  bool   `json:"viewer"`
	Card    string `json:"card"`    // the offline card's display
	OnTop   string `json:"onTop"`   // what is at the card's centre
	Status  string `json:"status"`  // the card's status line
	Preview string `json:"preview"` // the viewer's text
}

const viewerOfflineJS = `(() => {
  const card = document.querySelector("#offline .card");
  const r = card.getBoundingClientRect();
  const top = r.width ? document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) : null;
  return {
    state: document.body.dataset.state,
    viewer: !document.querySelector("#viewer").hidden,
    card: getComputedStyle(document.querySelector("#offline")).display,
    onTop: top ? (top.closest("#offline") ? "offline card" : top.closest("#viewer") ? "viewer" : top.tagName.toLowerCase() + "." + top.className) : "(nothing: the card has no box)",
    status: document.querySelector("#offline [data-field=status]").textContent,
    preview: document.querySelector("#viewer-body").textContent.trim().slice(0, 40),
  };
})()`

// When the daemon goes away while the viewer is open, the page says so over the viewer
// (the Disconnected card on top of it, not hidden behind it), and when the daemon is back
// on the same port the page reconnects by itself, the card goes and the viewer stays.
func TestViewerShowsDisconnected(t *testing.T) {
	netns.Require(t)
	dir := t.TempDir()
	must(os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("notes for the viewer\n"), 0o644))
	env := []string{"RANGECAST_TOKEN=viewer-token-e2e"}
	td := testdaemon.Start(t, binPath, env, "--listen", "127.0.0.1:0", dir)
	ctx := browser(t)
	openApp(t, ctx, td.Link, "browsing")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#files tr[data-path="/notes.txt"] .open-button`))))
	waitFor(t, ctx, `!document.querySelector("#viewer").hidden && document.querySelector("#viewer-body").textContent.includes("notes for the viewer")`, "the text preview")

	require.NoError(t, td.Cmd.Process.Kill())
	waitFor(t, ctx, `["disconnected", "reconnecting"].includes(document.body.dataset.state)`, "the disconnected state")
	waitFor(t, ctx, `(() => { const r = document.querySelector("#offline .card").getBoundingClientRect(); return r.width > 0; })()`, "the card's layout")
	v, err := eval[viewerOffline](ctx, viewerOfflineJS)
	require.NoError(t, err)
	shot(t, ctx, "viewer-disconnected.png")
	t.Logf("daemon killed with the viewer open: %+v", v)
	assert.True(t, v.Viewer, "the viewer closed")
	assert.Equal(t, "flex", v.Card, "the offline card's display")
	assert.Equal(t, "offline card", v.OnTop, "what the user sees at the card's place")
	assert.Regexp(t, `Waiting for the daemon|Reconnecting`, v.Status)
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)))
	v, err = eval[viewerOffline](ctx, viewerOfflineJS)
	require.NoError(t, err)
	shot(t, ctx, "viewer-disconnected-mobile.png")
	assert.Equal(t, "offline card", v.OnTop, "what the user sees at the card's place on a phone")

	port := td.Base[strings.LastIndex(td.Base, ":")+1:]
	td2 := testdaemon.Start(t, binPath, env, "--listen", "127.0.0.1:"+port, dir)
	require.Equal(t, td.Base, td2.Base)
	waitFor(t, ctx, `document.body.dataset.state === "browsing"`, "the reconnect")
	v, err = eval[viewerOffline](ctx, viewerOfflineJS)
	require.NoError(t, err)
	shot(t, ctx, "viewer-reconnected.png")
	assert.True(t, v.Viewer, "the viewer closed on reconnect")
	assert.Equal(t, "none", v.Card, "the offline card after the reconnect")
	assert.Equal(t, "notes for the viewer", v.Preview)
}
