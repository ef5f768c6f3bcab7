package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/testdaemon"
)

// allowDownloads sends the browser's downloads to a fresh directory and returns it, with a
// function that waits for the download to complete.
func allowDownloads(t *testing.T, ctx context.Context) (string, func(time.Duration)) {
	t.Helper()
	dl := t.TempDir()
	_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl, EventsEnabled: new(true),
	})
	require.NoError(t, err)
	var (
		mu    sync.Mutex
		state cdpbrowser.DownloadProgressState
	)
	require.NoError(t, chromedp.ListenBrowser(ctx, func(ev any) {
		if p, ok := ev.(*cdpbrowser.EventDownloadProgress); ok {
			mu.Lock()
			state = p.State
			mu.Unlock()
		}
	}))
	return dl, func(timeout time.Duration) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			mu.Lock()
			st := state
			mu.Unlock()
			if st == cdpbrowser.DownloadProgressStateCompleted || st == cdpbrowser.DownloadProgressStateCanceled {
				require.Equal(t, cdpbrowser.DownloadProgressStateCompleted, st, "the browser's download")
				return
			}
			require.True(t, time.Now().Before(deadline), "the download did not finish (state %q)", st)
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// watchDownloadJS samples the Downloads panel's entry every 20 ms until it is done (or 120 s
// pass): the states and percentages it showed, and its last line.
const watchDownloadJS = `(async () => {
  const seen = [];
  const until = performance.now() + 120000;
  for (;;) {
    const li = document.querySelector("#downloads-list li.dl");
    if (li) {
      const s = li.dataset.state + " " + li.querySelector(".progress").getAttribute("aria-valuenow") + " " + li.dataset.mode;
      if (seen[seen.length - 1] !== s) seen.push(s);
      if (li.dataset.state !== "running") return {seen, meta: li.querySelector(".dl-meta").textContent, visible: !document.querySelector("#downloads").hidden};
    }
    if (performance.now() > until) return {seen, meta: "timeout", visible: false};
    await new Promise(r => setTimeout(r, 20));
  }
})()`

type downloadWatch struct {
	Seen    []string `json:"seen"`
	Meta    string   `json:"meta"`
	Visible bool     `json:"visible"`
}

// Downloads show their progress in the page's Downloads panel in both modes: through the
// service worker (the browser's download manager writes the file; the page serves the
// bytes and counts them) and the fallback without a worker (the page gathers a Blob).
func TestDownloadProgressInPage(t *testing.T) {
	netns.Require(t)
	dir := t.TempDir()
	const size = 16 << 20
	want := writeRandom(t, filepath.Join(dir, "progress.bin"), size)

	for _, mode := range []string{"worker", "page"} {
		t.Run(mode, func(t *testing.T) {
			td := testdaemon.Start(t, binPath, nil, "--listen", "127.0.0.1:0", dir)
			ctx := browser(t)
			if mode == "page" {
				// A browser without service workers: the app falls back to its own download.
				_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `delete Navigator.prototype.serviceWorker`})
				require.NoError(t, err)
			}
			dl, wait := allowDownloads(t, ctx)
			openApp(t, ctx, td.Link, "browsing")
			if mode == "worker" {
				waitWorker(t, ctx)
			}
			waitFor(t, ctx, `!!document.querySelector('#files tr[data-path="/progress.bin"] a.dl-button')`, "the row")
			_, err := eval[bool](ctx, `(document.querySelector('#files tr[data-path="/progress.bin"] a.dl-button').click(), true)`)
			require.NoError(t, err)
			w, err := eval[downloadWatch](ctx, watchDownloadJS)
			require.NoError(t, err)
			t.Logf("%s: the panel showed %v, then %q", mode, w.Seen, w.Meta)
			require.NotEmpty(t, w.Seen)
			assert.Equal(t, "done 100 "+mode, w.Seen[len(w.Seen)-1])
			assert.True(t, w.Visible, "the Downloads panel is hidden")
			assert.Regexp(t, `^Done · 16.0 MiB in `, w.Meta)
			partial := false
			for _, s := range w.Seen {
				var pct int
				var st, m string
				if _, err := fmt.Sscanf(s, "%s %d %s", &st, &pct, &m); err == nil && st == "running" && pct > 0 && pct < 100 {
					partial = true
				}
			}
			assert.True(t, partial, "the panel never showed a download part way: %v", w.Seen)
			wait(60 * time.Second)
			shot(t, ctx, "downloads-progress-"+mode+".png")
			assert.Equal(t, want, fileSum(t, filepath.Join(dl, "progress.bin")))
		})
	}
}

// With the Downloads panel open, the list still scrolls its last row's Download button clear
// of the panel: a click there reaches the button, not the panel.
func TestDownloadsPanelLeavesRowsReachable(t *testing.T) {
	netns.Require(t)
	dir := t.TempDir()
	for i := range 40 {
		must(os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%02d.txt", i)), []byte("small\n"), 0o644))
	}
	ctx, _ := startApp(t, dir)
	_, _ = allowDownloads(t, ctx)
	waitFor(t, ctx, `!!document.querySelector('#files tr[data-path="/file-00.txt"] a.dl-button')`, "the rows")
	_, err := eval[bool](ctx, `(document.querySelector('#files tr[data-path="/file-00.txt"] a.dl-button').click(), true)`)
	require.NoError(t, err)
	waitFor(t, ctx, `!document.querySelector("#downloads").hidden && document.querySelector("#downloads-list li.dl[data-state=done]") !== null`, "the Downloads panel")
	hit, err := eval[string](ctx, `(async () => {
	  const wrap = document.querySelector(".table-wrap");
	  wrap.scrollTop = wrap.scrollHeight;
	  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
	  const b = document.querySelector('#files tr[data-path="/file-39.txt"] a.dl-button');
	  if (!b) return "no row for file-39.txt";
	  const r = b.getBoundingClientRect();
	  const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
	  return b.contains(at) ? "button" : at ? (at.closest("#downloads") ? "the Downloads panel" : at.tagName + "." + at.className) : "nothing";
	})()`)
	require.NoError(t, err)
	shot(t, ctx, "downloads-panel-clearance.png")
	assert.Equal(t, "button", hit, "a click on the last row's Download button lands on something else")
}
