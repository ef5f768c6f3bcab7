package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/testdaemon"
)

// The app tests serve folders they build themselves (dataDir's contents are fixed).

// oddTree builds a shared folder with entries the daemon cannot serve or that the browser
// handles badly: symlinks in and out of the root, a FIFO, a socket, a name with a backslash
// and one with a control character, and an empty folder.
func oddTree(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "share")
	must(os.MkdirAll(filepath.Join(root, "empty"), 0o755))
	must(os.WriteFile(filepath.Join(base, "outside.txt"), []byte("outside the share\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "inside.txt"), []byte("inside the share\n"), 0o644))
	must(os.Symlink("inside.txt", filepath.Join(root, "link-in.txt")))
	must(os.Symlink("../outside.txt", filepath.Join(root, "link-out.txt")))
	must(syscall.Mkfifo(filepath.Join(root, "fifo.txt"), 0o644))
	l, err := net.Listen("unix", filepath.Join(root, "sock"))
	require.NoError(t, err)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	must(os.WriteFile(filepath.Join(root, `back\slash.txt`), []byte("a backslash\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "ctl\x01name.txt"), []byte("a control character\n"), 0o644))
	return root
}

func startApp(t *testing.T, dir string) (context.Context, *testdaemon.Daemon) {
	t.Helper()
	td := testdaemon.Start(t, binPath, nil, "--listen", "127.0.0.1:0", dir)
	ctx := browser(t)
	openApp(t, ctx, td.Link, "browsing")
	waitWorker(t, ctx)
	return ctx, td
}

func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	dir := filepath.Join(repoRoot, "e2e", "artifacts")
	must(os.MkdirAll(dir, 0o755))
	p := filepath.Join(dir, name)
	must(os.WriteFile(p, png, 0o644))
	t.Logf("screenshot: %s", p)
}

// appJS finds rows by path (paths may hold any character, so no CSS selector).
const appJS = `
window.testRow = (p) => [...document.querySelectorAll("#files tbody tr")].find(r => r.dataset.path === p);
window.testActions = (p) => { const r = testRow(p); return r ? [...r.querySelectorAll("td.name a, td.name button, td.actions a, td.actions button")] : null; };
true`

type afterClick struct {
	Href    string `json:"href"`
	Rows    int    `json:"rows"`
	State   string `json:"state"`
	Message string `json:"message"`
	Viewer  bool   `json:"viewer"`
}

// checkStays is what must hold after each click: the same page, its list, its session, and a
// message (a notice, or the viewer).
const checkJS = `(async () => {
  for (let i = 0; i < 60; i++) {
    const t = document.querySelector("#toast");
    const v = document.querySelector("#viewer");
    if ((t && !t.hidden && t.textContent) || (v && !v.hidden && v.querySelector(".viewer-note.error"))) break;
    await new Promise(r => setTimeout(r, 50));
  }
  await new Promise(r => setTimeout(r, 300)); // a navigation, if one was started, lands
  const t = document.querySelector("#toast");
  const note = document.querySelector("#viewer:not([hidden]) .viewer-note.error");
  return {
    href: location.href,
    rows: document.querySelectorAll("#files tbody tr[data-path]").length,
    state: document.body ? document.body.dataset.state || "" : "",
    message: t && !t.hidden && t.textContent ? t.textContent : note ? note.textContent : "",
    viewer: !!document.querySelector("#viewer") && !document.querySelector("#viewer").hidden,
  };
})()`

func TestAppFailuresStayInApp(t *testing.T) {
	netns.Require(t)
	ctx, _ := startApp(t, oddTree(t))
	_, err := eval[bool](ctx, appJS)
	require.NoError(t, err)
	href, err := eval[string](ctx, `location.href`)
	require.NoError(t, err)

	// Entries that cannot be read are marked as what they are and offer no action.
	type mark struct {
		Special string `json:"special"`
		Label   string `json:"label"`
		Actions int    `json:"actions"`
	}
	for path, want := range map[string]string{"/link-out.txt": "symlink", "/fifo.txt": "fifo", "/sock": "socket"} {
		m, err := eval[mark](ctx, fmt.Sprintf(`(() => { const r = testRow(%q); return r ? {special: r.dataset.special || "", label: r.querySelector("td.kind").textContent, actions: testActions(%[1]q).length} : {special: "missing"}; })()`, path))
		require.NoError(t, err)
		assert.Equal(t, want, m.Special, "%s: data-special", path)
		assert.Zero(t, m.Actions, "%s offers %d actions", path, m.Actions)
		t.Logf("%s: kind column %q", path, m.Label)
	}
	shot(t, ctx, "app-special-entries.png")

	// Every action of every entry keeps the app, with a message.
	paths := []string{"/link-out.txt", "/fifo.txt", "/sock", `/back\slash.txt`, "/ctl\x01name.txt", "/link-in.txt", "/inside.txt"}
	for _, p := range paths {
		n, err := eval[int](ctx, fmt.Sprintf(`(testActions(%q) || []).length`, p))
		require.NoError(t, err)
		for i := range n {
			what, err := eval[string](ctx, fmt.Sprintf(`(() => {
			  document.querySelector("#toast").hidden = true; document.querySelector("#toast").textContent = "";
			  const a = testActions(%q)[%d]; a.click(); return a.getAttribute("aria-label") || a.title || a.textContent; })()`, p, i))
			require.NoError(t, err)
			r, err := eval[afterClick](ctx, checkJS)
			require.NoError(t, err, "%s: %s", p, what)
			t.Logf("%q %q: message %q, viewer %v", p, what, r.Message, r.Viewer)
			ok := assert.Equal(t, href, r.Href, "%q %q navigated the app away", p, what) &&
				assert.NotZero(t, r.Rows, "%q %q: the list is gone", p, what) &&
				assert.Equal(t, "browsing", r.State, "%q %q: the session is gone", p, what) &&
				assert.True(t, r.Message != "" || r.Viewer, "%q %q showed no message", p, what)
			if !ok {
				return
			}
			if r.Message != "" && p == `/back\slash.txt` {
				if r.Viewer {
					shot(t, ctx, "app-failure-open.png")
				} else {
					shot(t, ctx, "app-failure-download.png")
				}
			}
			if r.Viewer {
				// The viewer's own Download link must keep the app too.
				_, err := eval[bool](ctx, `(() => { document.querySelector("#toast").hidden = true; document.querySelector("#viewer-download").click(); return true; })()`)
				require.NoError(t, err)
				r, err := eval[afterClick](ctx, checkJS)
				require.NoError(t, err)
				t.Logf("%q viewer Download: message %q", p, r.Message)
				if !assert.Equal(t, href, r.Href, "%q: the viewer's Download navigated the app away", p) ||
					!assert.Equal(t, "browsing", r.State) {
					return
				}
				_, err = eval[bool](ctx, `(() => { document.querySelector("#viewer-close").click(); return true; })()`)
				require.NoError(t, err)
			}
		}
	}
}

// The list's status lines say exactly what they mean.
func TestAppStatusLines(t *testing.T) {
	netns.Require(t)
	ctx, _ := startApp(t, oddTree(t))
	status := func(want string) {
		t.Helper()
		got, err := eval[string](ctx, fmt.Sprintf(`(async () => {
		  const box = document.querySelector("#list-status");
		  for (let i = 0; i < 100 && (box.hidden || box.textContent !== %q); i++) await new Promise(r => setTimeout(r, 20));
		  return box.hidden ? "(hidden)" : box.textContent;
		})()`, want))
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := eval[bool](ctx, `(app.navigate("/empty"), true)`)
	require.NoError(t, err)
	status("This folder is empty")
	_, err = eval[bool](ctx, `(app.navigate("/"), true)`)
	require.NoError(t, err)
	_, err = eval[bool](ctx, `(async () => {
	  for (let i = 0; i < 100 && !document.querySelector("#files tbody tr[data-path]"); i++) await new Promise(r => setTimeout(r, 20));
	  const f = document.querySelector("#filter"); f.value = "no such name"; f.dispatchEvent(new Event("input", {bubbles: true})); return true; })()`)
	require.NoError(t, err)
	status("Nothing matches this filter")
}

type bigTimings struct {
	FirstMs  float64   `json:"firstMs"`
	AllMs    float64   `json:"allMs"`
	SortMs   []float64 `json:"sortMs"`
	FilterMs []float64 `json:"filterMs"`
	WorkMs   []float64 `json:"workMs"`
	Rows     int       `json:"rows"`
	Summary  string    `json:"summary"`
	EndRow   string    `json:"endRow"`
	Loading  string    `json:"loading"`
}

// A folder of 100,000 files (RANGECAST_BIGDIR_N) opens, sorts and filters without freezing
// the page: timed in the page, around each operation and the next animation frame.
func TestAppBigFolder(t *testing.T) {
	netns.Require(t)
	n := 100000
	if v := os.Getenv("RANGECAST_BIGDIR_N"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	root := filepath.Join(t.TempDir(), "share")
	big := filepath.Join(root, "big")
	must(os.MkdirAll(big, 0o755))
	start := time.Now()
	for i := range n {
		must(os.WriteFile(filepath.Join(big, fmt.Sprintf("file-%06d.bin", i)), nil, 0o644))
	}
	t.Logf("%d files created in %v", n, time.Since(start).Round(time.Millisecond))
	ctx, _ := startApp(t, root)
	tctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	r, err := eval[bigTimings](tctx, `(async () => {
	  const raf = () => new Promise(r => requestAnimationFrame(() => r()));
	  const rows = () => document.querySelectorAll("#files tbody tr[data-path]");
	  const done = () => { const l = document.querySelector("#browser").dataset.listing; return l ? l === "done" : rows().length > 0; };
	  const out = {sortMs: [], filterMs: [], workMs: []};
	  let t0 = performance.now();
	  app.navigate("/big");
	  const box = document.querySelector("#list-status");
	  out.loading = "";
	  while (!rows().length || !rows()[0].dataset.path.startsWith("/big/")) { await raf(); if (!box.hidden) out.loading = box.textContent; }
	  out.firstMs = performance.now() - t0;
	  while (!done()) await new Promise(r => setTimeout(r, 10));
	  out.allMs = performance.now() - t0;
	  for (const k of ["size", "name", "mtime", "name", "kind"]) {
	    const b = document.querySelector("#files th .sort[data-sort=" + k + "]");
	    t0 = performance.now(); b.click(); await raf();
	    out.sortMs.push(performance.now() - t0);
	  }
	  const f = document.querySelector("#filter");
	  for (const v of ["file-00", "file-001", "file-0012", ""]) {
	    t0 = performance.now();
	    f.value = v; f.dispatchEvent(new Event("input", {bubbles: true}));
	    for (;;) {
	      await raf();
	      const rs = [...rows()];
	      const applied = document.querySelector("#summary").textContent.includes("shown") === (v !== "");
	      if (applied && rs.length && rs.every(r => r.dataset.path.includes(v)) && (v !== "" || rs.some(r => !r.dataset.path.includes("file-0012")))) break;
	    }
	    out.filterMs.push(performance.now() - t0);
	    if (app.timings) out.workMs.push(app.timings.render);
	  }
	  out.rows = rows().length;
	  out.summary = document.querySelector("#summary").textContent;
	  const wrap = document.querySelector(".table-wrap");
	  wrap.scrollTop = wrap.scrollHeight; document.scrollingElement.scrollTop = document.scrollingElement.scrollHeight;
	  await raf(); await raf();
	  const rs = [...rows()];
	  out.endRow = rs.length ? rs[rs.length - 1].dataset.path : "";
	  return out;
	})()`)
	require.NoError(t, err)
	t.Logf("%d entries: first rows %.0f ms, all listed %.0f ms; sorts %.0f ms; filter keystroke→rows %.0f ms (debounce included), render work %.0f ms; %d rows in the DOM; summary %q; after scrolling to the end: %s",
		n, r.FirstMs, r.AllMs, r.SortMs, r.FilterMs, r.WorkMs, r.Rows, r.Summary, r.EndRow)
	assert.LessOrEqual(t, r.FirstMs, 2000.0, "first rows")
	t.Logf("status line before the first rows: %q", r.Loading)
	if r.Loading != "" {
		assert.Equal(t, "Loading…", r.Loading, "the status line while the first page is on its way")
	}
	for _, ms := range r.SortMs {
		assert.LessOrEqual(t, ms, 300.0, "a sort")
	}
	for _, ms := range r.FilterMs {
		assert.LessOrEqual(t, ms, 300.0+100, "a filter keystroke (100 ms debounce)")
	}
	assert.LessOrEqual(t, r.Rows, 300, "rows in the DOM: the table is not virtualised")
	assert.Equal(t, fmt.Sprintf("/big/file-%06d.bin", n-1), r.EndRow, "the last row after scrolling to the end")
}

type mobileCheck struct {
	ScrollW      int      `json:"scrollW"`
	ClientW      int      `json:"clientW"`
	WrapOverflow int      `json:"wrapOverflow"`
	Small        []string `json:"small"`
	Targets      int      `json:"targets"`
}

// The column header says how the list is sorted, closing the viewer puts the focus back on
// the row's name, and on a phone (390×844) nothing scrolls sideways and every target is at
// least 44 px square.
func TestAppAccessibility(t *testing.T) {
	netns.Require(t)
	ctx, _ := startApp(t, oddTree(t))

	sorts, err := eval[[]string](ctx, `(async () => {
	  const th = (k) => document.querySelector("#files th .sort[data-sort=" + k + "]").closest("th");
	  const state = () => ["name", "kind", "size", "mtime"].map(k => k + "=" + (th(k).getAttribute("aria-sort") || "")).join(",");
	  const out = [state()];
	  th("size").querySelector("button").click(); out.push(state());
	  th("size").querySelector("button").click(); out.push(state());
	  th("name").querySelector("button").click(); out.push(state());
	  return out;
	})()`)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"name=ascending,kind=,size=,mtime=",
		"name=,kind=,size=descending,mtime=",
		"name=,kind=,size=ascending,mtime=",
		"name=ascending,kind=,size=,mtime=",
	}, sorts, "aria-sort on the column headers")

	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#files tr[data-path="/inside.txt"] .open-button`))))
	focus, err := eval[string](ctx, `(async () => {
	  for (let i = 0; i < 100 && document.querySelector("#viewer").hidden; i++) await new Promise(r => setTimeout(r, 20));
	  const inViewer = document.activeElement && document.activeElement.id;
	  document.querySelector("#viewer-close").click();
	  const a = document.activeElement;
	  const tr = a && a.closest("tr");
	  return inViewer + " → " + (tr ? tr.dataset.path + " " + a.className : a ? a.tagName : "none");
	})()`)
	require.NoError(t, err)
	assert.Equal(t, "viewer-close → /inside.txt entry open-button", focus, "focus while the viewer is open → after closing it")

	src := axeSource(t)
	for _, size := range []struct {
		name string
		w, h int64
	}{{"mobile", 390, 844}, {"desktop", 1280, 800}} {
		require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(size.w, size.h)))
		headerFits(t, ctx, src, "app-header-"+size.name)
	}

	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)))

	m, err := eval[mobileCheck](ctx, `(async () => {
	  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
	  const de = document.documentElement, wrap = document.querySelector(".table-wrap");
	  const small = []; let targets = 0;
	  for (const e of document.querySelectorAll(".topbar a[href], .topbar button, #browser a[href], #browser button, #browser input")) {
	    if (!e.offsetParent) continue; // not displayed
	    const t = e.tagName === "INPUT" ? e.closest("label") || e : e;
	    const r = t.getBoundingClientRect();
	    targets++;
	    if (r.width < 43.5 || r.height < 43.5) small.push(e.tagName.toLowerCase() + "." + e.className + " " + JSON.stringify((e.getAttribute("aria-label") || e.textContent).trim().slice(0, 30)) + " " + Math.round(r.width) + "×" + Math.round(r.height));
	  }
	  return {scrollW: Math.max(de.scrollWidth, document.body.scrollWidth), clientW: de.clientWidth, wrapOverflow: wrap.scrollWidth - wrap.clientWidth, small, targets};
	})()`)
	require.NoError(t, err)
	shot(t, ctx, "app-mobile.png")
	t.Logf("390×844: page %d px wide in %d; table overflows by %d px; %d targets, too small: %v", m.ScrollW, m.ClientW, m.WrapOverflow, m.Targets, m.Small)
	assert.LessOrEqual(t, m.ScrollW, m.ClientW, "the page scrolls sideways")
	assert.LessOrEqual(t, m.WrapOverflow, 0, "the file table scrolls sideways")
	assert.Empty(t, m.Small, "targets smaller than 44 px")
}

type headerCheck struct {
	Overflow []string `json:"overflow"`
	Expanded string   `json:"expanded"`
	Details  []string `json:"details"`
	Height   int      `json:"height"`
}

// headerFitsJS lists the header's elements (or root's) whose content is wider or taller than
// their box (cut, or hidden behind an ellipsis) or that reach past the window's edge, then,
// with the connection details open (if open is true), the same for them and what they say.
const headerFitsJS = `(async (open, root = ".topbar") => {
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const toggle = document.querySelector("#conn-toggle");
  if (open && toggle && toggle.getAttribute("aria-expanded") !== "true") toggle.click();
  await frame();
  const overflow = [];
  const vw = document.documentElement.clientWidth;
  for (const e of [document.querySelector(root), ...document.querySelectorAll(root + " *")]) {
    if (!e.getClientRects().length || e.closest("svg") || e.closest(".visually-hidden")) continue;
    const r = e.getBoundingClientRect(), cs = getComputedStyle(e);
    const name = e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : "") + " " + JSON.stringify(e.textContent.trim().slice(0, 24));
    if (cs.display !== "inline" && (e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1) && cs.overflow !== "visible") overflow.push(name + " cut: " + e.scrollWidth + "×" + e.scrollHeight + " in " + e.clientWidth + "×" + e.clientHeight);
    else if (cs.display !== "inline" && e.scrollWidth > e.clientWidth + 1) overflow.push(name + " spills: " + e.scrollWidth + " px in " + e.clientWidth);
    if (r.left < -0.5 || r.right > vw + 0.5) overflow.push(name + " outside the window: " + Math.round(r.left) + ".." + Math.round(r.right) + " in " + vw);
  }
  const d = document.querySelector("#conn-details");
  return {
    overflow, expanded: toggle ? toggle.getAttribute("aria-expanded") : "(no toggle)",
    details: d && !d.hidden ? [...d.querySelectorAll("dt")].map(t => t.textContent + ": " + t.nextElementSibling.textContent) : [],
    height: Math.round(document.querySelector(".topbar").getBoundingClientRect().height),
  };
})`

// headerFits checks that the header shows the connection's state without cutting or
// spilling anything at this width, that its toggle opens the connection details (round
// trip, throughput, bytes, UDP address) which fit as well, runs axe-core with them open,
// saves screenshots closed and open, and closes them again with Escape.
func headerFits(t *testing.T, ctx context.Context, axeSrc, name string) {
	t.Helper()
	closed, err := eval[headerCheck](ctx, headerFitsJS+`(false)`)
	require.NoError(t, err)
	shot(t, ctx, name+".png")
	t.Logf("%s: header %d px high, closed; overflow: %v", name, closed.Height, closed.Overflow)
	assert.Empty(t, closed.Overflow, "%s: header elements cut or spilling", name)
	assert.Equal(t, "false", closed.Expanded, "%s: the connection toggle", name)

	open, err := eval[headerCheck](ctx, headerFitsJS+`(true)`)
	require.NoError(t, err)
	shot(t, ctx, name+"-details.png")
	t.Logf("%s: details %q; overflow: %v", name, open.Details, open.Overflow)
	assert.Empty(t, open.Overflow, "%s: header elements cut or spilling with the details open", name)
	assert.Equal(t, "true", open.Expanded, "%s: aria-expanded once opened", name)
	require.Len(t, open.Details, 4, "%s: the connection details", name)
	assert.Regexp(t, `^Round trip: \d`, open.Details[0])
	assert.Regexp(t, `^Throughput: \d`, open.Details[1])
	assert.Regexp(t, `^Received: \d`, open.Details[2])
	assert.Regexp(t, `^Daemon's UDP address: 127\.0\.0\.1:\d+$`, open.Details[3])
	axeCheck(t, ctx, axeSrc, name+"-details")

	_, err = eval[bool](ctx, `(document.querySelector("#conn-toggle").focus(), document.dispatchEvent(new KeyboardEvent("keydown", {key: "Escape", bubbles: true})), true)`)
	require.NoError(t, err)
	after, err := eval[headerCheck](ctx, headerFitsJS+`(false)`)
	require.NoError(t, err)
	assert.Equal(t, "false", after.Expanded, "%s: Escape closes the details", name)
	assert.Empty(t, after.Details, "%s: Escape closes the details", name)
}
