// Package e2e drives Debian's Chromium with chromedp against the real daemon, inside a
// loopback-only network namespace: the page loads the Go/wasm client, connects over WebRTC,
// and reads real byte ranges, which the tests compare with the source by sha256.
package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/testdaemon"
)

const (
	chromiumPath = "/usr/bin/chromium"
	size64       = 64 << 20
	size256      = 256 << 20
)

var (
	repoRoot string
	binPath  string
	dataDir  string
	data256  []byte // dataDir/big.bin; its first 64 MiB are dataDir/m64.bin
	//go:embed testdata/sha256.js
	sha256JS string
)

func TestMain(m *testing.M) {
	if !netns.Tests() {
		os.Exit(m.Run()) // every test here skips itself with netns.Require
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %s is missing: apt-get install -y chromium (.ci/run does)\n", chromiumPath)
		os.Exit(1)
	}
	tmp, err := os.MkdirTemp("", "rangecast-e2e-")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(tmp)
		wd, _ := os.Getwd()
		repoRoot = filepath.Dir(wd)
		if err := checkWasmFresh(tmp); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		// Daemons keep their share key, control socket and relay identity here, not in the
		// user's config directory (os.UserConfigDir reads XDG_CONFIG_HOME).
		_ = os.Setenv("XDG_CONFIG_HOME", filepath.Join(tmp, "config"))
		binPath = filepath.Join(tmp, "rangecast")
		if out, err := exec.Command("go", "build", "-o", binPath, "../cmd/native").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: build: %v\n%s", err, out)
			return 1
		}
		dataDir = filepath.Join(tmp, "data")
		for _, d := range []string{"videos", "docs/deep"} {
			must(os.MkdirAll(filepath.Join(dataDir, d), 0o755))
		}
		data256 = make([]byte, size256)
		_, _ = rand.NewChaCha8([32]byte{4}).Read(data256)
		must(os.WriteFile(filepath.Join(dataDir, "big.bin"), data256, 0o644))
		must(os.WriteFile(filepath.Join(dataDir, "m64.bin"), data256[:size64], 0o644))
		must(os.WriteFile(filepath.Join(dataDir, "docs", "readme.txt"), []byte("hello from rangecast\n"), 0o644))
		must(os.WriteFile(filepath.Join(dataDir, "videos", "clip.mp4"), data256[:1<<20], 0o644))
		return m.Run()
	}()
	os.Exit(code)
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// checkWasmFresh fails if web/dist/rangecast.wasm is not what the current source builds: the
// daemon embeds that file, so a stale one would test old code. Builds with -trimpath are
// reproducible, so equal source gives equal bytes.
func checkWasmFresh(tmp string) error {
	have, err := os.ReadFile(filepath.Join(repoRoot, "web", "dist", "rangecast.wasm"))
	if err != nil {
		return fmt.Errorf("web/dist/rangecast.wasm: %w (run make wasm)", err)
	}
	fresh := filepath.Join(tmp, "fresh.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", fresh, "./cmd/wasm")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build wasm: %v\n%s", err, out)
	}
	want, err := os.ReadFile(fresh)
	if err != nil {
		return err
	}
	if !bytes.Equal(have, want) {
		return fmt.Errorf("web/dist/rangecast.wasm is stale against the source: run make wasm")
	}
	return nil
}

type daemon struct {
	cmd    *exec.Cmd
	link   string
	base   string
	exited chan error
	log    *testdaemon.Buffer
}

// startDaemon serves dataDir on a free loopback port.
func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	td := testdaemon.Start(t, binPath, nil, append(append([]string{"--listen", "127.0.0.1:0"}, args...), dataDir)...)
	return &daemon{cmd: td.Cmd, link: td.Link, base: td.Base, exited: td.Exited, log: td.Log}
}

// browser starts a fresh Chromium for the test and returns a tab context.
func browser(t *testing.T) context.Context {
	t.Helper()
	return browserWith(t)
}

// browserWith is browser with more allocator options (flags, a command in a namespace).
func browserWith(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		// chromedp sets disable-features itself: repeat its values.
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"),
		chromedp.WindowSize(1280, 800),
	)
	opts = append(opts, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelC()
		cancelA()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	forwardConsole(t, ctx)
	return ctx
}

// newTab opens another tab in the same browser as ctx.
func newTab(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	forwardConsole(t, tab)
	return tab
}

// forwardConsole copies the page's console output and uncaught exceptions into the test log,
// until the test ends.
func forwardConsole(t *testing.T, ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	msgs := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			t.Logf("browser %s: %s", m.Type, m.String())
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// eval runs a JavaScript expression in the page, awaits it if it is a promise, and decodes
// its result.
func eval[T any](ctx context.Context, js string) (T, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// openApp navigates to the link and waits until the page's state is want.
func openApp(t *testing.T, ctx context.Context, link, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`body[data-state=%q]`, want))),
	)
	if err != nil {
		state, _ := eval[string](ctx, `document.body.dataset.state`)
		t.Fatalf("page did not reach state %q (now %q): %v", want, state, err)
	}
	if want == "browsing" {
		// The extras load after the first listing and then render it again (web/app.js
		// loadExtras), replacing its rows: a node chromedp found before that is gone when it
		// clicks it ("Could not find node with given id"). Tests start on the settled page.
		if _, err := eval[bool](ctx, `app.extras().then(() => true)`); err != nil {
			t.Fatalf("the page's extras: %v", err)
		}
	}
	if _, err := eval[bool](ctx, sha256JS+";true"); err != nil {
		t.Fatal(err)
	}
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestConnectAndList(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t)
	ctx := browser(t)
	openApp(t, ctx, d.link, "browsing")

	names, err := eval[[]string](ctx, `app.remote.listAll("/").then(es => es.map(e => e.name + (e.isDir ? "/" : "")))`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"big.bin", "docs/", "m64.bin", "videos/"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("listAll(/) = %v, want %v", names, want)
	}
	rows, err := eval[[]string](ctx, `Array.from(document.querySelectorAll("#files [data-path]"), r => r.dataset.path)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/big.bin", "/docs", "/m64.bin", "/videos"} {
		if !contains(rows, p) {
			t.Errorf("file browser rows %v lack %s", rows, p)
		}
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	artifacts := filepath.Join(repoRoot, "e2e", "artifacts")
	must(os.MkdirAll(artifacts, 0o755))
	shot := filepath.Join(artifacts, "file-browser.png")
	must(os.WriteFile(shot, png, 0o644))
	t.Logf("screenshot: %s", shot)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestRandomRangesThroughAPI(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t)
	ctx := browser(t)
	openApp(t, ctx, d.link, "browsing")
	rng := rand.New(rand.NewPCG(3, 4))
	type rg struct{ Off, Len int64 }
	ranges := make([]rg, 200)
	var js strings.Builder
	js.WriteString(`(async () => { const f = await app.remote.open("m64.bin"); const out = []; for (const [o, n] of [`)
	for i := range ranges {
		off := rng.Int64N(size64)
		n := min(rng.Int64N(1<<20)+1, size64-off)
		ranges[i] = rg{off, n}
		fmt.Fprintf(&js, "[%d,%d],", off, n)
	}
	js.WriteString(`]) { const b = await f.read(o, n); const h = testSHA256(); h.update(b); out.push(b.length + ":" + h.hex()); } await f.close(); return out; })()`)
	got, err := eval[[]string](ctx, js.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ranges) {
		t.Fatalf("%d results for %d ranges", len(got), len(ranges))
	}
	for i, r := range ranges {
		want := fmt.Sprintf("%d:%s", r.Len, hexSum(data256[r.Off:r.Off+r.Len]))
		if got[i] != want {
			t.Errorf("range %d (%d+%d): got %s, want %s", i, r.Off, r.Len, got[i], want)
		}
	}
}

// streamJS reads a whole file through File.stream() and returns its sha256, the byte count,
// the MB/s, and the time from navigation start to the first byte.
const streamJS = `(async (path) => {
  const t0 = performance.now();
  const f = await app.remote.open(path);
  const h = testSHA256(); let n = 0, first = -1;
  const rd = f.stream().getReader();
  for (;;) { const {done, value} = await rd.read(); if (done) break; if (first < 0) first = performance.now(); h.update(value); n += value.length; }
  const secs = (performance.now() - t0) / 1000;
  await f.close();
  return {sum: h.hex(), n, mbps: n / secs / 1e6, firstByteMs: first};
})`

type streamResult struct {
	Sum         string  `json:"sum"`
	N           int64   `json:"n"`
	MBps        float64 `json:"mbps"`
	FirstByteMs float64 `json:"firstByteMs"`
}

func TestStream256MiB(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t)
	ctx := browser(t)
	openApp(t, ctx, d.link, "browsing")
	r, err := eval[streamResult](ctx, streamJS+`("big.bin")`)
	if err != nil {
		t.Fatal(err)
	}
	if r.N != size256 || r.Sum != hexSum(data256) {
		t.Fatalf("stream of big.bin: %d bytes, sha256 %s; want %d, %s", r.N, r.Sum, size256, hexSum(data256))
	}
	t.Logf("256 MiB through File.stream(), hashed in the page: %.1f MB/s; navigation → first byte %.0f ms", r.MBps, r.FirstByteMs)
}

func TestCancelThenReadAgain(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t)
	ctx := browser(t)
	openApp(t, ctx, d.link, "browsing")
	got, err := eval[string](ctx, `(async () => {
	  const f = await app.remote.open("big.bin");
	  const rd = f.stream(1000).getReader();
	  let n = 0;
	  while (n < (8 << 20)) { const {value} = await rd.read(); n += value.length; }
	  await rd.cancel("test");
	  const b = await f.read(12345, 100000);
	  const h = testSHA256(); h.update(b);
	  await f.close();
	  const g = await app.remote.open("m64.bin");
	  const c = await g.read(0, 1 << 20); const h2 = testSHA256(); h2.update(c);
	  return h.hex() + "," + h2.hex();
	})()`)
	if err != nil {
		t.Fatal(err)
	}
	want := hexSum(data256[12345:12345+100000]) + "," + hexSum(data256[:1<<20])
	if got != want {
		t.Fatalf("reads after cancel: %s, want %s", got, want)
	}
}

// File.read resolves with exactly its range when many run at once, and its failures reject
// the Promise with a RangecastError whose code says why, leaving the session serving: a bad
// argument, a range beyond the end, an aborted signal, and a file changed since it was opened
// (the daemon refuses the READ, and no byte of the new version is mixed in).
func TestReadRangesAndErrors(t *testing.T) {
	netns.Require(t)
	dir := t.TempDir()
	data := make([]byte, 2<<20+77)
	_, _ = rand.NewChaCha8([32]byte{5, 6}).Read(data)
	path := filepath.Join(dir, "f.bin")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	td := testdaemon.Start(t, binPath, nil, "--listen", "127.0.0.1:0", dir)
	ctx := browser(t)
	openApp(t, ctx, td.Link, "browsing")

	type first struct {
		Sums  []string
		Codes []string
		Empty int
	}
	var js strings.Builder
	js.WriteString(`(async () => {
	  const code = (p) => p.then((b) => "resolved " + b.length, (e) => e.name + ":" + e.code);
	  const f = await app.remote.open("f.bin");
	  globalThis.__f = f;
	  const reads = [`)
	type rg struct{ off, n int }
	var ranges []rg
	for i := range 16 {
		r := rg{i * 131072, 300000}
		if i == 15 {
			r.n = len(data) - r.off + 1000 // past the end: what there is
		}
		ranges = append(ranges, r)
		fmt.Fprintf(&js, "f.read(%d, %d),", r.off, r.n)
	}
	js.WriteString(`];
	  const sums = (await Promise.all(reads)).map((b) => { const h = testSHA256(); h.update(b); return b.length + ":" + h.hex(); });
	  const ac = new AbortController(); ac.abort();
	  const codes = [await code(f.read(-1, 1)), await code(f.read(f.size + 1, 1)), await code(f.read(0, 10, {signal: ac.signal}))];
	  return {sums, codes, empty: (await f.read(f.size, 10)).length};
	})()`)
	r, err := eval[first](ctx, js.String())
	require.NoError(t, err)
	require.Len(t, r.Sums, len(ranges))
	for i, rg := range ranges {
		end := min(rg.off+rg.n, len(data))
		assert.Equal(t, fmt.Sprintf("%d:%s", end-rg.off, hexSum(data[rg.off:end])), r.Sums[i], "read %d: %d+%d", i, rg.off, rg.n)
	}
	assert.Equal(t, []string{"RangecastError:bad_argument", "RangecastError:range", "RangecastError:canceled"}, r.Codes)
	assert.Zero(t, r.Empty, "a read at the end")

	changed := append([]byte(nil), data...)
	changed[5] ^= 0xff
	require.NoError(t, os.WriteFile(path, changed, 0o644))
	type second struct{ Code, Sum string }
	r2, err := eval[second](ctx, `(async () => {
	  const code = await __f.read(0, 1000).then((b) => "resolved " + b.length, (e) => e.name + ":" + e.code);
	  const g = await app.remote.open("f.bin");
	  const b = await g.read(5, 1000); const h = testSHA256(); h.update(b);
	  await g.close(); await __f.close();
	  return {code, sum: h.hex()};
	})()`)
	require.NoError(t, err)
	assert.Equal(t, "RangecastError:changed", r2.Code, "a read of the version opened, after the file changed")
	assert.Equal(t, hexSum(changed[5:1005]), r2.Sum, "a read of the file opened again")
}

// A stream reads ahead of a consumer that stops by no more than the stream's credit window
// and its one queued chunk: the daemon's bytes stop with the consumer, and reading on takes
// up where it stopped.
func TestStreamWaitsForItsConsumer(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t)
	ctx := browser(t)
	openApp(t, ctx, d.link, "browsing")
	type held struct {
		Read, Held, Later, Next int64
		Sum                     string
	}
	r, err := eval[held](ctx, `(async () => {
	  const f = await app.remote.open("big.bin");
	  const before = app.remote.stats().bytesReceived;
	  const rd = f.stream().getReader();
	  let n = 0;
	  while (n < (4 << 20)) { const {value} = await rd.read(); n += value.length; }
	  await new Promise((r) => setTimeout(r, 1500));
	  const held = app.remote.stats().bytesReceived - before;
	  await new Promise((r) => setTimeout(r, 1000));
	  const later = app.remote.stats().bytesReceived - before;
	  const {value} = await rd.read();
	  const h = testSHA256(); h.update(value);
	  await rd.cancel(); await f.close();
	  return {read: n, held, later, next: value.length, sum: h.hex()};
	})()`)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read %d bytes, then stopped: %d received after 1.5 s, %d after 2.5 s", r.Read, r.Held, r.Later)
	// The stream's credit (connect's 2 MiB window in the browser), the chunk queued in the
	// stream and what its consumer took before the last report (a quarter window at most),
	// with room to spare.
	const ahead = 2<<20 + 2*256<<10 + 64<<10
	assert.LessOrEqual(t, r.Held, r.Read+ahead, "bytes received ahead of a consumer that stopped")
	assert.Equal(t, r.Held, r.Later, "bytes received while the consumer still waits")
	require.Positive(t, r.Next)
	assert.Equal(t, hexSum(data256[r.Read:r.Read+r.Next]), r.Sum, "the chunk after the pause")
}

// Streams whose consumers stopped hold the session's credit (3 × 2 MiB: all of it in the
// browser); another stream must still get its bytes, the session taking the paused ones' reads
// back (web/boot.js DirectStream: starved, release), and each paused stream then reads on from
// where it stood, through a new read.
func TestPausedStreamsDoNotStallAnother(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t)
	ctx := browser(t)
	openApp(t, ctx, d.link, "browsing")
	type result struct {
		Sum     string
		Ms      float64
		Resumed []string
	}
	tctx, cancel := context.WithTimeout(ctx, time.Minute) // a stall fails, not hangs
	defer cancel()
	r, err := eval[result](tctx, `(async () => {
	  const f = await app.remote.open("big.bin");
	  const paused = [];
	  for (const off of [16 << 20, 48 << 20, 80 << 20]) {
	    const rd = f.stream(off).getReader();
	    const {value} = await rd.read();
	    paused.push({rd, off, first: value});
	  }
	  await new Promise((r) => setTimeout(r, 1000)); // their reads fill the session's credit
	  const t0 = performance.now();
	  const rd = f.stream(128 << 20).getReader();
	  const h = testSHA256(); let n = 0;
	  while (n < (8 << 20)) {
	    const {value} = await rd.read();
	    const take = value.subarray(0, Math.min(value.length, (8 << 20) - n));
	    h.update(take); n += take.length;
	  }
	  await rd.cancel();
	  const ms = performance.now() - t0;
	  const resumed = [];
	  for (const p of paused) {
	    const g = testSHA256(); g.update(p.first); let m = p.first.length;
	    while (m < (6 << 20)) {
	      const {value} = await p.rd.read();
	      const take = value.subarray(0, Math.min(value.length, (6 << 20) - m));
	      g.update(take); m += take.length;
	    }
	    await p.rd.cancel();
	    resumed.push(g.hex());
	  }
	  await f.close();
	  return {sum: h.hex(), ms, resumed};
	})()`)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("8 MiB past three paused streams in %.0f ms", r.Ms)
	assert.Equal(t, hexSum(data256[128<<20:136<<20]), r.Sum, "the stream read past the paused ones")
	for i, off := range []int{16 << 20, 48 << 20, 80 << 20} {
		assert.Equal(t, hexSum(data256[off:off+6<<20]), r.Resumed[i], "paused stream %d, read on", i)
	}
}

func TestWrongTokenScreen(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t)
	ctx := browser(t)
	openApp(t, ctx, d.base+"/#t=wrong-token", "error")
	code, err := eval[string](ctx, `document.querySelector("#error").dataset.code`)
	if err != nil {
		t.Fatal(err)
	}
	if code != "unauthorized" {
		t.Errorf("error code %q, want unauthorized", code)
	}
	openApp(t, ctx, d.base+"/", "error")
	code, err = eval[string](ctx, `document.querySelector("#error").dataset.code`)
	if err != nil {
		t.Fatal(err)
	}
	if code != "bad_link" {
		t.Errorf("error code %q, want bad_link", code)
	}
}

func TestDaemonKilledShowsDisconnected(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t)
	ctx := browser(t)
	openApp(t, ctx, d.link, "browsing")
	_ = d.cmd.Process.Kill()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(`body[data-state="disconnected"], body[data-state="reconnecting"]`))); err != nil {
		state, _ := eval[string](ctx, `document.body.dataset.state`)
		t.Fatalf("page state %q after the daemon died: %v", state, err)
	}
}

// TestEightTabsOnePort streams a 64 MiB file into 8 tabs at once, each verified by sha256,
// while every UDP socket of the daemon stays on the one port it reports.
func TestEightTabsOnePort(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t)
	ctx := browser(t)
	tabs := []context.Context{ctx}
	for range 7 {
		tabs = append(tabs, newTab(t, ctx))
	}
	for _, tab := range tabs {
		openApp(t, tab, d.link, "browsing")
	}
	want := hexSum(data256[:size64])
	var wg sync.WaitGroup
	errs := make([]error, len(tabs))
	for i, tab := range tabs {
		wg.Go(func() {
			r, err := eval[streamResult](tab, streamJS+`("m64.bin")`)
			if err == nil && (r.N != size64 || r.Sum != want) {
				err = fmt.Errorf("got %d bytes with sha256 %s", r.N, r.Sum)
			}
			errs[i] = err
		})
	}
	udp, err := eval[string](ctx, `(async () => {
	  const el = document.querySelector("#conn [data-field=udp]"); // filled in from api/v1/status
	  for (let i = 0; i < 400 && el.textContent === "–"; i++) await new Promise(r => setTimeout(r, 25));
	  return el.textContent;
	})()`)
	if err != nil {
		t.Fatal(err)
	}
	_, port, err := net.SplitHostPort(udp)
	if err != nil {
		t.Fatalf("the connection panel shows UDP %q: %v", udp, err)
	}
	seen, _, err := testdaemon.SampleUDPPorts(d.cmd.Process.Pid, 50*time.Millisecond, &wg)
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("tab %d: %v", i, err)
		}
	}
	if len(seen) != 1 || seen[0] != atoi(t, port) {
		t.Errorf("the daemon's UDP ports during the streams: %v, want only %s (shown in the page)", seen, port)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The daemon serves the page's assets with their content types.
func TestAssets(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t)
	for path, ctype := range map[string]string{
		"/":                    "text/html; charset=utf-8",
		"/dist/rangecast.wasm": "application/wasm",
		"/dist/wasm_exec.js":   "text/javascript; charset=utf-8",
		"/app.js":              "text/javascript; charset=utf-8",
	} {
		resp, err := http.Get(d.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ctype {
			t.Errorf("%s: %d %q, want 200 %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), ctype)
		}
	}
}
