package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"
)

const (
	chromiumPath = "/usr/bin/chromium"

	metricBrowserThroughput = "browser throughput"
	metricBrowserVsFetch    = "browser throughput vs fetch"
	metricBrowserCPU        = "browser CPU per GB"
	metricBrowserDaemonCPU  = "daemon CPU per GB (browser)"
	metricBrowserSeekP50    = "browser seek p50"
	metricBrowserSeekP99    = "browser seek p99"
	metricBrowserNav        = "browser navigation → first byte"
	metricBrowserColdNav    = "browser cold navigation → first byte"
)

// browserJS is the page side: the plain-JavaScript client, the timed readers and the
// navigation probe. The bench installs it, after e2e/testdata/sha256.js, in every document.
//
//go:embed browser.js
var browserJS string

// envNavOnly: RANGECAST_BENCH_NAV_ONLY=1 makes each run of the browser group only its two
// navigations per client (empty cache, then warm), without the reads and seeks: start-up
// work, iterated on with many runs in a few minutes.
const envNavOnly = "RANGECAST_BENCH_NAV_ONLY"

var navOnly = os.Getenv(envNavOnly) == "1"

// benchBrowser measures the Go/wasm client in Chromium against a plain-JavaScript client of
// the same protocol in the same browser, against the same daemon (docs/BENCHMARKS.md).
func benchBrowser(ctx context.Context, cfg *config) ([]Result, error) {
	if _, err := os.Stat(chromiumPath); err != nil {
		return nil, fmt.Errorf("%s is missing: apt-get install -y chromium", chromiumPath)
	}
	sha256JS, err := os.ReadFile(filepath.Join("e2e", "testdata", "sha256.js"))
	if err != nil {
		return nil, fmt.Errorf("the page's sha256 (run the bench from the repository root): %w", err)
	}
	bcfg, err := browserDaemonBinary(ctx, cfg)
	if err != nil {
		return nil, err
	}
	bigPath := filepath.Join(cfg.dataDir, "big.bin")
	bigSum, err := fileSHA256(bigPath)
	if err != nil {
		return nil, err
	}
	big, err := os.Open(bigPath)
	if err != nil {
		return nil, err
	}
	defer big.Close()

	d, err := startDaemon(ctx, bcfg)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	u, err := url.Parse(d.link)
	if err != nil {
		return nil, fmt.Errorf("daemon link %q: %w", d.link, err)
	}
	_, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return nil, fmt.Errorf("daemon link %q: %w", d.link, err)
	}
	fetchBase, stopFiles, err := startFileServer(cfg.dataDir)
	if err != nil {
		return nil, err
	}
	defer stopFiles()

	b, err := startBrowser(ctx, cfg.tmp, string(sha256JS)+"\n"+browserJS)
	if err != nil {
		return nil, err
	}
	defer b.close()

	// Every navigation gets a new URL (n=…), so that none is a same-document navigation.
	// The plain-JavaScript page is on localhost: the same daemon and port, but an origin the
	// app never ran on, so no service worker of the app sits in front of its requests.
	navs := 0
	appURL := func() string {
		navs++
		return fmt.Sprintf("%s://%s/?benchnav=1&n=%d#%s", u.Scheme, u.Host, navs, u.Fragment)
	}
	plainURL := func() string {
		navs++
		return fmt.Sprintf("http://localhost:%s/robots.txt?benchnav=1&n=%d#%s", port, navs, u.Fragment)
	}
	size := cfg.bigSize

	// One hashed read through each client first: checks the bytes and warms the browser's
	// cache (the wasm, the page) for the navigation measurements.
	logf("browser: checking the bytes each client reads (sha256 in the page)")
	if _, err := b.navigateApp(appURL()); err != nil {
		return nil, err
	}
	if err := b.checkRead("wasm", `bench.wasmRead("big.bin", true)`, size, bigSum); err != nil {
		return nil, err
	}
	if _, err := b.navigatePlain(plainURL()); err != nil {
		return nil, err
	}
	if err := b.checkRead("plain JS", `bench.plainRead("big.bin", true)`, size, bigSum); err != nil {
		return nil, err
	}
	if err := b.navigate(fetchBase + "/"); err != nil {
		return nil, err
	}
	fetchJS := fmt.Sprintf(`bench.fetchRead(%s, %d, %%t)`, jsString(fetchBase+"/data/big.bin"), size)
	if err := b.checkRead("fetch", fmt.Sprintf(fetchJS, true), size, bigSum); err != nil {
		return nil, err
	}

	// One download through the service worker, hashed: the bytes the user's file gets.
	var dls *downloads
	if !navOnly {
		if dls, err = b.watchDownloads(); err != nil {
			return nil, err
		}
		if _, err := b.navigateApp(appURL()); err != nil {
			return nil, err
		}
		file, _, err := b.swDownload(dls, cfg.tmp, "/big.bin", size)
		if err != nil {
			return nil, err
		}
		sum, err := fileSHA256(file)
		if err != nil {
			return nil, err
		}
		if sum != bigSum {
			return nil, fmt.Errorf("the service worker's download of big.bin has sha256 %s, want %s", sum, bigSum)
		}
		_ = os.Remove(file)
		logf("browser: download through the service worker, sha256 matches")
	}

	seeks := 300
	if cfg.quick {
		seeks = 100
	}
	var wasm, plain, fetch clientRuns
	var swdl []float64
	for i := range cfg.runs {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		offsets := make([]int64, seeks)
		for j := range offsets {
			offsets[j] = rng.Int64N(size)
		}
		order := []string{"wasm", "plain", "fetch"}
		if i%2 == 1 {
			order = []string{"plain", "wasm", "fetch"}
		}
		for _, which := range order {
			var err error
			switch which {
			case "wasm":
				err = b.clientRun(d, &wasm, big, offsets, size, appURL(), true)
				if err == nil && !navOnly {
					// The same page, its session warm: the Download button's path.
					var file string
					var mbps float64
					if file, mbps, err = b.swDownload(dls, cfg.tmp, "/big.bin", size); err == nil {
						_ = os.Remove(file)
						swdl = append(swdl, mbps)
						logf("run %d: wasm download through the service worker %.1f MB/s", i+1, mbps)
					}
				}
				if err == nil {
					wasm.log(i+1, "wasm")
				}
			case "plain":
				err = b.clientRun(d, &plain, big, offsets, size, plainURL(), false)
				if err == nil {
					plain.log(i+1, "plain JS")
				}
			case "fetch":
				if navOnly {
					continue
				}
				err = b.navigate(fetchBase + "/")
				if err == nil {
					var cpu float64
					var r readResult
					r, cpu, err = b.timedRead(fmt.Sprintf(fetchJS, false), size)
					if err == nil {
						fetch.mbps, fetch.cpu = append(fetch.mbps, r.mbps()), append(fetch.cpu, cpu)
						logf("run %d: fetch 1 MiB ranges %.1f MB/s, browser %.1f CPU-s/GB", i+1, r.mbps(), cpu)
					}
				}
			}
			if err != nil {
				return nil, fmt.Errorf("run %d, %s: %w", i+1, which, err)
			}
		}
	}
	_ = b.closeSessions()

	if navOnly {
		return []Result{
			newResult(metricBrowserNav, "ms", wasm.nav, "plain JS page (warm cache)", plain.nav, "≤ 120"),
			newResult(metricBrowserColdNav, "ms", wasm.cold, "plain JS page (empty cache)", plain.cold, "≤ 400"),
		}, nil
	}
	mib := fmt.Sprintf(" (%d MiB)", size>>20)
	return []Result{
		newResult(metricBrowserThroughput, "MB/s", wasm.mbps, "plain JS client, same daemon"+mib, plain.mbps, "≥ 1.0× plain JS"),
		newResult(metricBrowserSWDownload, "MB/s", swdl, "File.stream() read in the page, same runs"+mib, wasm.mbps, "≥ 0.9× File.stream()"),
		newResult(metricBrowserVsFetch, "MB/s", wasm.mbps, "Chromium fetch(), 1 MiB Range requests, Go net/http"+mib, fetch.mbps, ""),
		newResult(metricBrowserCPU, "CPU-s/GB", wasm.cpu, "plain JS client (renderer + network service)", plain.cpu, "≤ 1.0× plain JS"),
		newResult(metricBrowserDaemonCPU, "CPU-s/GB", wasm.dcpu, "daemon, plain JS client", plain.dcpu, ""),
		newResult(metricBrowserSeekP50, "ms", wasm.p50, fmt.Sprintf("plain JS 1-byte READ p50 (%d reads)", seeks), plain.p50, "≤ 1"),
		newResult(metricBrowserSeekP99, "ms", wasm.p99, fmt.Sprintf("plain JS 1-byte READ p99 (%d reads)", seeks), plain.p99, "≤ 2"),
		newResult(metricBrowserNav, "ms", wasm.nav, "plain JS page (warm cache)", plain.nav, "≤ 120"),
		newResult(metricBrowserColdNav, "ms", wasm.cold, "plain JS page (empty cache)", plain.cold, "≤ 400"),
	}, nil
}

func last(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1]
}

// clientRun is one run of one client: a navigation (timed to the first byte of tiny.bin),
// a read of big.bin to the end (MB/s, the browser's and the daemon's CPU), then the seeks.
func (b *browser) clientRun(d *daemon, m *clientRuns, big *os.File, offsets []int64, size int64, link string, wasm bool) error {
	var nav, cold float64
	var err error
	readJS, seekFn := `bench.plainRead("big.bin", false)`, "bench.plainSeek"
	open := b.navigatePlain
	if wasm {
		open = b.navigateApp
		readJS, seekFn = `bench.wasmRead("big.bin", false)`, "bench.wasmSeek"
	}
	// First with an empty cache (a first visit: no HTTP or code cache, no service worker),
	// then again, warm, on another URL of the same page.
	if err := b.clearCaches(link); err != nil {
		return err
	}
	if cold, err = open(link); err != nil {
		return err
	}
	// The same URL with one more query parameter: a new document, not a same-document
	// navigation to a new fragment.
	q, frag, _ := strings.Cut(link, "#")
	warm := func() (err error) { nav, err = open(q + "&warm=1#" + frag); return err }
	if wasm {
		err = b.jsProfiled("wasm-nav", func() error { return b.traced(warm) })
	} else {
		err = warm()
	}
	if err != nil {
		return err
	}
	if navOnly {
		m.nav, m.cold = append(m.nav, nav), append(m.cold, cold)
		return nil
	}
	d0, err := d.cpuSeconds()
	if err != nil {
		return err
	}
	client := "plain"
	if wasm {
		client = "wasm"
	}
	var r readResult
	var cpu float64
	if err := b.jsProfiled(client, func() (err error) { r, cpu, err = b.timedRead(readJS, size); return err }); err != nil {
		return err
	}
	d1, err := d.cpuSeconds()
	if err != nil {
		return err
	}
	var lat []float64
	if err := b.jsProfiled(client+"-seek", func() (err error) { lat, err = b.seeks(seekFn, big, offsets); return err }); err != nil {
		return err
	}
	m.nav = append(m.nav, nav)
	m.cold = append(m.cold, cold)
	m.mbps = append(m.mbps, r.mbps())
	m.cpu = append(m.cpu, cpu)
	m.dcpu = append(m.dcpu, (d1-d0)/(float64(r.N)/1e9))
	m.p50 = append(m.p50, percentile(lat, 50))
	m.p99 = append(m.p99, percentile(lat, 99))
	return nil
}

// clientRuns collects one client's figures, one per run.
type clientRuns struct{ mbps, cpu, dcpu, p50, p99, nav, cold []float64 }

// log prints the figures of run, the last one collected.
func (m *clientRuns) log(run int, client string) {
	if navOnly {
		logf("run %d: %s navigation → first byte %.0f ms, cold %.0f ms", run, client, last(m.nav), last(m.cold))
		return
	}
	logf("run %d: %s %.1f MB/s, browser %.1f CPU-s/GB, daemon %.1f CPU-s/GB, seek p50 %.3f ms p99 %.3f ms, navigation → first byte %.0f ms",
		run, client, last(m.mbps), last(m.cpu), last(m.dcpu), last(m.p50), last(m.p99), last(m.nav))
}

// readResult is what the page's readers return.
type readResult struct {
	N   int64   `json:"n"`
	Ms  float64 `json:"ms"`
	Sum string  `json:"sum"`
}

func (r readResult) mbps() float64 { return float64(r.N) / 1e6 / (r.Ms / 1000) }

// timedRead runs a reader and returns its result and the CPU seconds per GB of Chromium's
// renderer and network service processes meanwhile.
func (b *browser) timedRead(js string, size int64) (readResult, float64, error) {
	c0, err := sampleBrowserCPU(b.pid)
	if err != nil {
		return readResult{}, 0, err
	}
	r, err := evalIn[readResult](b.ctx, 10*time.Minute, js)
	if err != nil {
		return r, 0, err
	}
	c1, err := sampleBrowserCPU(b.pid)
	if err != nil {
		return r, 0, err
	}
	if r.N != size {
		return r, 0, fmt.Errorf("%s read %d bytes, want %d", js, r.N, size)
	}
	gb := float64(r.N) / 1e9
	logf("  browser CPU during the read: renderer %.2f s, network service %.2f s, all Chromium processes %.2f s",
		cpuDelta(c0, c1, "renderer"), cpuDelta(c0, c1, "network"), cpuDelta(c0, c1))
	return r, cpuDelta(c0, c1, "renderer", "network") / gb, nil
}

// checkRead runs a hashing reader once and compares the count and the sha256 with the file's.
func (b *browser) checkRead(who, js string, size int64, sum string) error {
	r, err := evalIn[readResult](b.ctx, 10*time.Minute, js)
	if err != nil {
		return fmt.Errorf("%s check read: %w", who, err)
	}
	if r.N != size || r.Sum != sum {
		return fmt.Errorf("%s read big.bin as %d bytes with sha256 %s; want %d bytes, %s", who, r.N, r.Sum, size, sum)
	}
	logf("browser: %s read %d MiB, sha256 matches (%.1f MB/s while hashing)", who, size>>20, r.mbps())
	return nil
}

// seeks runs the page's 1-byte reads at offsets and checks every byte against the file.
func (b *browser) seeks(fn string, big *os.File, offsets []int64) ([]float64, error) {
	arg, _ := json.Marshal(offsets)
	type seekResult struct {
		Lat   []float64 `json:"lat"`
		Bytes []int     `json:"bytes"`
	}
	r, err := evalIn[seekResult](b.ctx, 5*time.Minute, fmt.Sprintf(`%s("big.bin", %s)`, fn, arg))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fn, err)
	}
	if len(r.Lat) != len(offsets) || len(r.Bytes) != len(offsets) {
		return nil, fmt.Errorf("%s: %d latencies, %d bytes for %d reads", fn, len(r.Lat), len(r.Bytes), len(offsets))
	}
	one := make([]byte, 1)
	for i, off := range offsets {
		if _, err := big.ReadAt(one, off); err != nil {
			return nil, err
		}
		if r.Bytes[i] != int(one[0]) {
			return nil, fmt.Errorf("%s: byte at %d is %d, want %d", fn, off, r.Bytes[i], one[0])
		}
	}
	return r.Lat, nil
}

// browser is one Chromium started by chromedp for the whole group, with one tab.
type browser struct {
	ctx    context.Context
	cancel func()
	pid    int
}

// startBrowser launches Chromium with the flags e2e/e2e_test.go uses (DESIGN.md's Facts),
// installs initJS in every new document and forwards the page's console to the log.
func startBrowser(ctx context.Context, tmp, initJS string, extra ...chromedp.ExecAllocatorOption) (*browser, error) {
	profile, err := os.MkdirTemp(tmp, "chromium-")
	if err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		// chromedp sets disable-features itself: repeat its values.
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"),
		chromedp.WindowSize(1280, 800),
	)
	opts = append(opts, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.WithoutCancel(ctx), opts...)
	bctx, cancelB := chromedp.NewContext(actx, chromedp.WithLogf(func(string, ...any) {}))
	b := &browser{ctx: bctx, cancel: func() { cancelB(); cancelA() }}
	// The first Run starts the browser: no timeout on it (it would stop the browser).
	if err := chromedp.Do(bctx); err != nil {
		b.cancel()
		return nil, fmt.Errorf("start chromium: %w", err)
	}
	p := chromedp.FromContext(bctx).Browser.Process()
	if p == nil {
		b.cancel()
		return nil, errors.New("chromedp started no browser process")
	}
	b.pid = p.Pid
	go func() {
		for m, err := range chromedp.Console(bctx) {
			if err != nil {
				return
			}
			if msg := m.String(); !strings.Contains(msg, "status of 404") { // favicon.ico, robots.txt
				logf("  page %s: %s", m.Type, msg)
			}
		}
	}()
	if _, err := chromedp.Call(bctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: initJS}); err != nil {
		b.cancel()
		return nil, fmt.Errorf("install the page script: %w", err)
	}
	// The caller's ctx ends the browser too (Ctrl-C).
	stop := context.AfterFunc(ctx, b.cancel)
	prev := b.cancel
	b.cancel = func() { stop(); prev() }
	return b, nil
}

func (b *browser) close() { b.cancel() }

// navigate loads url and waits for its load event.
func (b *browser) navigate(url string) error {
	_ = b.closeSessions()
	tctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.Navigate(url)); err != nil {
		return fmt.Errorf("navigate to %s: %w", redact(url), err)
	}
	return nil
}

// clearCaches makes the next navigation to link a first visit: it leaves the page, then
// empties the browser's HTTP cache (and with it the compiled wasm the code cache keeps for a
// cached response) and the origin's storage, service workers included.
func (b *browser) clearCaches(link string) error {
	if err := b.navigate("about:blank"); err != nil {
		return err
	}
	u, err := url.Parse(link)
	if err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if _, err := chromedp.Call(tctx, network.ClearBrowserCache, cdp.Empty{}); err != nil {
		return fmt.Errorf("clear the browser cache: %w", err)
	}
	if _, err := chromedp.Call(tctx, storage.ClearDataForOrigin, storage.ClearDataForOriginParams{Origin: u.Scheme + "://" + u.Host, StorageTypes: "all"}); err != nil {
		return fmt.Errorf("clear the origin's storage: %w", err)
	}
	return nil
}

// closeSessions ends the current page's sessions (the app's and the plain client's), so that
// the daemon does not keep serving a page that is going away.
func (b *browser) closeSessions() error {
	_, err := evalIn[bool](b.ctx, 10*time.Second, `typeof bench === "object" ? bench.closeSessions() : true`)
	return err
}

// navigateApp opens the app at link, waits for its first byte probe and for the file
// browser, and returns navigation start → first byte in ms.
func (b *browser) navigateApp(link string) (float64, error) {
	if err := b.navigate(link); err != nil {
		return 0, err
	}
	nav, err := b.navResult()
	if err != nil {
		return 0, fmt.Errorf("app: %w", err)
	}
	tctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`body[data-state="browsing"]`))); err != nil {
		state, _ := evalIn[string](b.ctx, 5*time.Second, `document.body.dataset.state`)
		return 0, fmt.Errorf("the app did not reach state browsing (now %q): %w", state, err)
	}
	return nav, nil
}

// navigatePlain opens the plain-JavaScript page, which connects at once, and returns its
// navigation start → first byte in ms.
func (b *browser) navigatePlain(link string) (float64, error) {
	if err := b.navigate(link); err != nil {
		return 0, err
	}
	nav, err := b.navResult()
	if err != nil {
		return 0, fmt.Errorf("plain JS page: %w", err)
	}
	return nav, nil
}

func (b *browser) navResult() (float64, error) {
	r, err := evalIn[struct {
		Ms        float64  `json:"ms"`
		N         int      `json:"n"`
		ReadyMs   *float64 `json:"readyMs"`
		SessionMs float64  `json:"sessionMs"`
		WasmEnd   float64  `json:"wasmFetchEndMs"`
		WasmBytes float64  `json:"wasmTransferBytes"`
		Compiled  *float64 `json:"wasmCompiledMs"`
		Predial   *float64 `json:"predialMs"`
		HTML      float64  `json:"htmlMs"`
		WasmStart float64  `json:"wasmFetchStartMs"`
		DOMLoaded float64  `json:"domLoadedMs"`
		Resources []string `json:"resources"`
	}](b.ctx, time.Minute, `globalThis.__benchNav ?? Promise.reject(new Error("the navigation probe did not run"))`)
	if err != nil {
		return 0, fmt.Errorf("navigation probe: %w", err)
	}
	if r.N != 1 {
		return 0, fmt.Errorf("navigation probe read %d bytes of tiny.bin, want 1", r.N)
	}
	if r.ReadyMs != nil {
		early := ""
		if r.Compiled != nil && r.Predial != nil {
			early = fmt.Sprintf(", compiled at %.0f ms; peer connected (boot.js) at %.0f ms", *r.Compiled, *r.Predial)
		}
		logf("  navigation: HTML received at %.0f ms, boot.js ran (wasm fetch started) at %.0f ms, DOMContentLoaded at %.0f ms; wasm fetched at %.0f ms (%.0f bytes over the network)%s, API ready at %.0f ms, session connected at %.0f ms, first byte at %.0f ms",
			r.HTML, r.WasmStart, r.DOMLoaded, r.WasmEnd, r.WasmBytes, early, *r.ReadyMs, r.SessionMs, r.Ms)
		logf("    requests (ms): %s", strings.Join(r.Resources, ", "))
	} else {
		logf("  navigation: HTML received at %.0f ms, session connected at %.0f ms, first byte at %.0f ms", r.HTML, r.SessionMs, r.Ms)
	}
	return r.Ms, nil
}

// evalIn evaluates js in the tab, awaits it if it is a promise, and decodes its result.
func evalIn[T any](tab context.Context, timeout time.Duration, js string) (T, error) {
	ctx, cancel := context.WithTimeout(tab, timeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

func redact(u string) string {
	if i := strings.IndexByte(u, '#'); i >= 0 {
		return u[:i] + "#…"
	}
	return u
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// startFileServer serves dir under /data/ on 127.0.0.1:0 with Go's http.FileServer (Range
// requests included) and an empty page at /, which the fetch baseline navigates to so that
// its requests are same-origin.
func startFileServer(dir string) (base string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/data/", http.StripPrefix("/data/", http.FileServer(http.Dir(dir))))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><title>fetch baseline</title>")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

func fileSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// browserDaemonBinary makes sure the daemon the browser loads embeds the wasm the current
// source builds. The daemon embeds web/dist at build time; if web/dist/rangecast.wasm is
// missing or differs from a fresh build (builds with -trimpath are reproducible), the bench
// writes the fresh one there as `make wasm` does, with wasm_exec.js, and builds a daemon of
// its own. Otherwise the daemon built at the start is the right one. With envJSProfile set
// the wasm keeps its function names, so web/dist needs `make wasm` afterwards.
func browserDaemonBinary(ctx context.Context, cfg *config) (*config, error) {
	fresh := filepath.Join(cfg.tmp, "browser-rangecast.wasm")
	logf("browser: building the wasm client to check web/dist")
	ldflags := "-ldflags=-s -w"
	if os.Getenv(envJSProfile) != "" {
		ldflags = "-ldflags=" // function names for the profile (web/dist then differs from make wasm's)
	}
	if err := goBuild(ctx, []string{"GOOS=js", "GOARCH=wasm"}, fresh, "./cmd/wasm", ldflags); err != nil {
		return nil, err
	}
	want, err := os.ReadFile(fresh)
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOROOT: %w", err)
	}
	execJS, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		return nil, err
	}
	distWasm, distExec := filepath.Join("web", "dist", "rangecast.wasm"), filepath.Join("web", "dist", "wasm_exec.js")
	haveWasm, _ := os.ReadFile(distWasm)
	haveExec, _ := os.ReadFile(distExec)
	if bytes.Equal(haveWasm, want) && bytes.Equal(haveExec, execJS) {
		return cfg, nil
	}
	logf("browser: web/dist is stale or missing: writing the fresh wasm there (as make wasm does) and rebuilding the daemon")
	if err := writeFileAtomic(distWasm, want); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(distExec, execJS); err != nil {
		return nil, err
	}
	c := *cfg
	c.bin = filepath.Join(cfg.tmp, "rangecast-browser")
	if err := goBuild(ctx, nil, c.bin, "./cmd/native"); err != nil {
		return nil, err
	}
	return &c, nil
}

func writeFileAtomic(name string, b []byte) error {
	tmp := name + ".bench-tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
