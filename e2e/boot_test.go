package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/tracing"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/testdaemon"
)

// netLog records the tab's requests, as the Network domain reports them.
type netLog struct {
	mu       sync.Mutex
	reqs     map[network.RequestID]*netReq
	order    []*netReq
	traced   []string      // names of the trace events collected
	traceEnd chan struct{} // closed by each Tracing.tracingComplete, then replaced
}

type netReq struct {
	url, method string
	status      int64
	fromCache   bool // served from the memory or disk cache: no request reached the network
}

func listenNet(t *testing.T, ctx context.Context) *netLog {
	t.Helper()
	l := &netLog{reqs: map[network.RequestID]*netReq{}, traceEnd: make(chan struct{})}
	err := chromedp.Listen(ctx, func(ev any) {
		l.mu.Lock()
		defer l.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			r := &netReq{url: ev.Request.URL, method: ev.Request.Method}
			l.reqs[ev.RequestID] = r
			l.order = append(l.order, r)
		case *network.EventRequestServedFromCache:
			if r := l.reqs[ev.RequestID]; r != nil {
				r.fromCache = true
			}
		case *network.EventResponseReceived:
			if r := l.reqs[ev.RequestID]; r != nil {
				r.status = ev.Response.Status
				r.fromCache = r.fromCache || ev.Response.FromDiskCache
			}
		case *tracing.EventDataCollected:
			for _, v := range ev.Value {
				var e struct {
					Name string `json:"name"`
				}
				if json.Unmarshal(v, &e) == nil && strings.HasPrefix(e.Name, "v8.wasm.") {
					l.traced = append(l.traced, e.Name)
				}
			}
		case *tracing.EventTracingComplete:
			close(l.traceEnd)
			l.traceEnd = make(chan struct{})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// take returns the requests since the last take.
func (l *netLog) take() []*netReq {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.order
	l.order = nil
	return out
}

var (
	hashedWasm  = regexp.MustCompile(`/dist/rangecast\.[0-9a-f]{16}\.wasm$`)
	hashedAsset = regexp.MustCompile(`\.[0-9a-f]{16}\.(js|css|wasm)$`)
	plainAsset  = regexp.MustCompile(`/(boot\.js|app\.js|style\.css|dist/wasm_exec\.js|dist/rangecast\.wasm)$`)
)

// A warm second load of the page takes the wasm, the scripts and the style from the HTTP cache
// (their content-hashed URLs are immutable: no request reaches the network, not even a
// revalidation) and the compiled code
// from Chromium's code cache (V8 deserializes the module instead of compiling it). Each load
// sets up one peer connection, the one web/boot.js starts while the wasm loads: the Go client
// takes it over instead of signaling again.
func TestWarmLoadUsesCaches(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t)
	profile := t.TempDir()
	// V8 writes a module to the code cache once its optimizing tier has been idle for 2 s
	// (--wasm-caching-timeout-ms), which a page that pings every 2 s may take long to reach;
	// 0 makes it write after each batch of optimized code, so that the test need not wait
	// for an idle spell. What is tested is unchanged: that Chromium caches this response's
	// compiled code and uses it on the next load.
	ctx := browserWith(t, chromedp.UserDataDir(profile), chromedp.Flag("js-flags", "--wasm-caching-timeout-ms=0"))
	nl := listenNet(t, ctx)

	offers := func(reqs []*netReq) int {
		n := 0
		for _, r := range reqs {
			if r.method == "POST" && strings.HasSuffix(r.url, "/api/v1/peers") {
				n++
			}
		}
		return n
	}

	// The first load: the wasm comes from the network, under its hashed name.
	openApp(t, ctx, d.link, "browsing")
	first := nl.take()
	var wasmURL string
	for _, r := range first {
		if hashedWasm.MatchString(r.url) {
			wasmURL = r.url
		}
	}
	if wasmURL == "" {
		t.Fatalf("the first load requested no content-hashed wasm; requests: %v", urls(first))
	}
	if n := offers(first); n != 1 {
		t.Errorf("the first load sent %d offers, want 1 (the page's early connection, taken over by Go)", n)
	}
	// Use the client a little, so that V8 tiers hot functions up, and wait for Chromium to
	// write the module to its code cache (Code Cache/wasm in the profile).
	if _, err := eval[int](ctx, `(async () => { const f = await app.remote.open("/m64.bin");
		const rd = f.stream(0).getReader(); let n = 0;
		while (n < (8 << 20)) { const { done, value } = await rd.read(); if (done) break; n += value.length; }
		await rd.cancel(); await f.close(); return n; })()`); err != nil {
		t.Fatal(err)
	}
	waitCodeCache(t, filepath.Join(profile, "Default", "Code Cache", "wasm"))
	// The first load's extras (web/app.js loads them once the folder is shown) are part of
	// it, not of the second load.
	if _, err := eval[bool](ctx, `app.extras().then(() => true)`); err != nil {
		t.Fatal(err)
	}
	nl.take()

	// The second load, traced.
	if _, err := chromedp.Call(ctx, tracing.Start, tracing.StartParams{
		TransferMode: tracing.StartTransferModeReportEvents,
		TraceConfig:  &tracing.TraceConfig{IncludedCategories: []string{"disabled-by-default-devtools.timeline", "v8.wasm"}},
	}); err != nil {
		t.Fatal(err)
	}
	// Another query, so that it is a new document, not a same-document navigation.
	base, frag, _ := strings.Cut(d.link, "#")
	openApp(t, ctx, base+"?warm=1#"+frag, "browsing")
	if _, err := eval[bool](ctx, `app.extras().then(() => true)`); err != nil {
		t.Fatal(err)
	}
	nl.mu.Lock()
	ended := nl.traceEnd
	nl.mu.Unlock()
	if _, err := chromedp.Call(ctx, tracing.End, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("no Tracing.tracingComplete")
	}
	second := nl.take()
	for _, r := range second {
		switch {
		case hashedAsset.MatchString(r.url) && !r.fromCache:
			t.Errorf("the warm load fetched %s from the network (status %d), want the HTTP cache", r.url, r.status)
		case plainAsset.MatchString(r.url):
			t.Errorf("the warm load asked for %s under its plain name (status %d), want its content-hashed one", r.url, r.status)
		}
	}
	if n := offers(second); n != 1 {
		t.Errorf("the warm load sent %d offers, want 1", n)
	}
	nl.mu.Lock()
	traced := nl.traced
	nl.mu.Unlock()
	if !contains(traced, "v8.wasm.moduleCacheHit") {
		t.Errorf("the warm load compiled the wasm again: no v8.wasm.moduleCacheHit among its trace events %v", traced)
	}
	t.Logf("warm load: %d requests, wasm trace events %v", len(second), traced)
}

// waitCodeCache waits until Chromium has written a wasm module into its code cache.
func waitCodeCache(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), "_0") {
				if fi, err := e.Info(); err == nil && fi.Size() > 16<<10 {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Fatalf("Chromium wrote no wasm into its code cache (%s: %v)", dir, names)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func urls(rs []*netReq) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.method+" "+r.url)
	}
	return out
}

// extrasProbeJS runs in the page before its own scripts. The moment the app first shows a
// folder (data-state "browsing"), it notes which of the extras (web/index.html's
// rangecast-extra scripts) are in, and opens the Markdown file in the viewer at once: the
// viewer needs preview.js, which must then be waited for, not missed.
const extrasProbeJS = `(() => {
  const probe = globalThis.__extras = { atBrowsing: null, error: "" };
  const obs = new MutationObserver(() => {
    if (probe.atBrowsing || !document.body || document.body.dataset.state !== "browsing") return;
    probe.atBrowsing = ["RangecastPreview", "RangecastThumbs", "RangecastSearch", "RangecastZip"].filter((g) => g in globalThis);
    obs.disconnect();
    try { app.openViewer("/notes.md"); } catch (e) { probe.error = String(e); }
  });
  obs.observe(document, { subtree: true, attributes: true, attributeFilter: ["data-state"] });
})()`

// The scripts of the features the first listing does not need (previews, thumbnails,
// search, QR code, zip) load after it, so that they do not compete with the wasm and the
// connection while the page starts; a feature used before they are in waits for them.
func TestStartupDefersExtras(t *testing.T) {
	netns.Require(t)
	dir := t.TempDir()
	must(os.WriteFile(filepath.Join(dir, "notes.md"), []byte("# Deferred\n\nSome **bold** text.\n"), 0o644))
	td := testdaemon.Start(t, binPath, nil, "--listen", "127.0.0.1:0", dir)
	ctx := browser(t)
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: extrasProbeJS})
	require.NoError(t, err)
	openApp(t, ctx, td.Link, "browsing")

	// The viewer opened at the first listing shows the rendered preview.
	heading, err := eval[string](ctx, `(async () => {
	  for (let i = 0; i < 400; i++) {
	    const h = document.querySelector("#viewer-body .viewer-text h1");
	    if (h) return h.textContent;
	    await new Promise((r) => setTimeout(r, 25));
	  }
	  return "none: " + document.querySelector("#viewer-body").textContent + " " + __extras.error;
	})()`)
	require.NoError(t, err)
	assert.Equal(t, "Deferred", heading, "the viewer opened before the extras were in")

	type extrasProbe struct {
		AtBrowsing []string `json:"atBrowsing"` // the extras' globals when the first folder showed
		Error      string   `json:"error"`
		Later      []string `json:"later"` // the same once app.extras() resolved
		QR         bool     `json:"qr"`
	}
	probe, err := eval[extrasProbe](ctx, `(async () => {
	  await app.extras();
	  return { ...__extras, later: ["RangecastPreview", "RangecastThumbs", "RangecastSearch", "RangecastZip"].filter((g) => g in globalThis),
	    qr: !!document.querySelector("#qr-button") };
	})()`)
	require.NoError(t, err)
	assert.Empty(t, probe.Error)
	assert.Empty(t, probe.AtBrowsing, "extras already loaded when the first folder showed")
	assert.Equal(t, []string{"RangecastPreview", "RangecastThumbs", "RangecastSearch", "RangecastZip"}, probe.Later, "extras once loaded")
	assert.True(t, probe.QR, "qr.js added its button")
}
