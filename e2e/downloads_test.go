package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
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

// dlEntryJS reads the page's Downloads panel entry of the one download under way.
const dlEntryJS = `(() => {
  const li = document.querySelector("#downloads-list li.dl");
  const d = [...app.downloads.values()][0];
  return li && d ? {state: li.dataset.state, waiting: li.dataset.waiting === "1", meta: li.querySelector(".dl-meta").textContent,
    received: d.received, resumes: d.resumes || 0} : {state: "none"};
})()`

type dlEntry struct {
	State    string `json:"state"`
	Waiting  bool   `json:"waiting"`
	Meta     string `json:"meta"`
	Received int64  `json:"received"`
	Resumes  int    `json:"resumes"`
}

// startCutDownload starts a download of dir/big.bin (size bytes) through the service
// worker, kills the daemon some MiB in and checks that the page's Downloads panel shows it
// paused. It returns the browser tab, the download directory, the wait for the browser's
// download, and a function that starts the daemon again on the same port and token and waits
// for the page to reconnect.
func startCutDownload(t *testing.T, dir string, size int64, setup ...string) (context.Context, string, func(time.Duration), func()) {
	t.Helper()
	env := []string{"RANGECAST_TOKEN=restart-token-e2e"}
	td := testdaemon.Start(t, binPath, env, "--listen", "127.0.0.1:0", dir)
	ctx := browser(t)
	dl, wait := allowDownloads(t, ctx)
	openApp(t, ctx, td.Link, "browsing")
	waitWorker(t, ctx)
	for _, js := range setup {
		_, err := eval[any](ctx, js)
		require.NoError(t, err)
	}
	waitFor(t, ctx, `!!document.querySelector('#files tr[data-path="/big.bin"] a.dl-button')`, "the row")
	_, err := eval[bool](ctx, `(document.querySelector('#files tr[data-path="/big.bin"] a.dl-button').click(), true)`)
	require.NoError(t, err)

	// Some MiB in, the daemon goes away.
	for deadline := time.Now().Add(60 * time.Second); ; {
		e, err := eval[dlEntry](ctx, dlEntryJS)
		require.NoError(t, err)
		if e.Received >= 8<<20 {
			require.Less(t, e.Received, size, "the download ended before the daemon could be killed")
			t.Logf("killing the daemon at %d bytes", e.Received)
			break
		}
		require.True(t, time.Now().Before(deadline), "the download did not start: %+v", e)
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, td.Cmd.Process.Kill())
	td.Exited <- <-td.Exited // gone: the port is free again
	waitFor(t, ctx, `["disconnected", "reconnecting"].includes(document.body.dataset.state)`, "the disconnected state")
	waitFor(t, ctx, `(() => { const li = document.querySelector("#downloads-list li.dl"); return li && (li.dataset.waiting === "1" || li.dataset.state !== "running"); })()`, "the download to wait or fail")
	e, err := eval[dlEntry](ctx, dlEntryJS)
	require.NoError(t, err)
	t.Logf("with the daemon down, the Downloads panel shows %+v", e)
	shot(t, ctx, "download-waiting-"+t.Name()+".png")
	assert.Equal(t, "running", e.State, "the download in the page")
	assert.True(t, e.Waiting, "the Downloads panel does not show the download waiting")
	assert.Regexp(t, `^Paused at \d+% · reconnecting…$`, e.Meta)
	return ctx, dl, wait, func() {
		t.Helper()
		time.Sleep(3 * time.Second) // the daemon stays away a while
		port := td.Base[strings.LastIndex(td.Base, ":")+1:]
		td2 := testdaemon.Start(t, binPath, env, "--listen", "127.0.0.1:"+port, dir)
		require.Equal(t, td.Base, td2.Base)
		waitFor(t, ctx, `document.body.dataset.state === "browsing"`, "the reconnect")
	}
}

// A download through the service worker survives a daemon restart: when the session drops
// part way, the page keeps the browser's response open, waits for its connection to come
// back (the daemon again on the same port and token), reopens the file, checks its ETag and
// goes on from the byte it had reached. Chromium's download manager sees a download that
// paused; the file it writes is whole.
func TestDownloadSurvivesDaemonRestart(t *testing.T) {
	netns.Require(t)
	dir := t.TempDir()
	const size = 128 << 20
	want := writeRandom(t, filepath.Join(dir, "big.bin"), size)
	ctx, dl, wait, restart := startCutDownload(t, dir, size)
	restart()
	wait(120 * time.Second)
	e, err := eval[dlEntry](ctx, dlEntryJS)
	require.NoError(t, err)
	t.Logf("after the restart, the Downloads panel shows %+v", e)
	assert.Equal(t, "done", e.State)
	assert.Equal(t, 1, e.Resumes, "the page's resumptions of the download")
	assert.Equal(t, want, fileSum(t, filepath.Join(dl, "big.bin")), "the downloaded file")
}

// A download cut by a daemon restart does not go on over a file that changed meanwhile (its
// ETag differs): it fails, and the page says why, rather than mixing two versions.
func TestDownloadRestartRefusesChangedFile(t *testing.T) {
	netns.Require(t)
	dir := t.TempDir()
	const size = 128 << 20
	writeRandom(t, filepath.Join(dir, "big.bin"), size)
	ctx, dl, _, restart := startCutDownload(t, dir, size)
	// Another version of the same size, put in place as editors do (a new inode).
	p := filepath.Join(dir, "big.bin")
	f, err := os.Create(p + ".new")
	require.NoError(t, err)
	_, err = io.Copy(f, io.LimitReader(rand.NewChaCha8([32]byte{6}), size))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.Rename(p+".new", p))
	restart()
	waitFor(t, ctx, `(() => { const li = document.querySelector("#downloads-list li.dl"); return li && li.dataset.state !== "running"; })()`, "the download to end")
	e, err := eval[dlEntry](ctx, dlEntryJS)
	require.NoError(t, err)
	t.Logf("after the restart, the Downloads panel shows %+v", e)
	shot(t, ctx, "download-changed-during-restart.png")
	assert.Equal(t, "failed", e.State)
	assert.Equal(t, "Failed: the file changed while downloading", e.Meta)
	time.Sleep(time.Second)
	_, err = os.Stat(filepath.Join(dl, "big.bin"))
	assert.True(t, os.IsNotExist(err), "the browser kept a file: %v", err)
}

// A download whose connection does not come back within the page's bound fails, and the
// page says why; the browser keeps no partial file as if it were whole. The bound is 60 s;
// the test shortens it to 8 s through the page's test hook.
func TestDownloadGivesUpWhenDaemonStaysAway(t *testing.T) {
	netns.Require(t)
	dir := t.TempDir()
	const size = 128 << 20
	writeRandom(t, filepath.Join(dir, "big.bin"), size)
	ctx, dl, _, _ := startCutDownload(t, dir, size, "app.resumeWaitMs = 8000")
	waitFor(t, ctx, `(() => { const li = document.querySelector("#downloads-list li.dl"); return li && li.dataset.state !== "running"; })()`, "the download to give up")
	e, err := eval[dlEntry](ctx, dlEntryJS)
	require.NoError(t, err)
	t.Logf("with the daemon still away, the Downloads panel shows %+v", e)
	assert.Equal(t, "failed", e.State)
	assert.Equal(t, "Failed: the connection did not come back within 8 s", e.Meta)
	time.Sleep(time.Second)
	_, err = os.Stat(filepath.Join(dl, "big.bin"))
	assert.True(t, os.IsNotExist(err), "the browser kept a file: %v", err)
}
