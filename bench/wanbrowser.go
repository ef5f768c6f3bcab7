package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rangecast/rangecast/internal/wan"
)

// wanBrowser is Chromium in namespace B of a wan row's link, with the web app open on the
// daemon in A: the wan group's "chromium" method, the Go/wasm client as a user runs it.
type wanBrowser struct{ *browser }

// startWANBrowser starts Chromium in B and opens the app at d's link (http://10.77.0.1:PORT,
// which the flag below makes a secure context, as e2e TestVideoOverWAN does).
func startWANBrowser(ctx context.Context, cfg *config, l *wan.Link, d *daemon) (*wanBrowser, error) {
	sha256JS, err := os.ReadFile(filepath.Join("e2e", "testdata", "sha256.js"))
	if err != nil {
		return nil, fmt.Errorf("the page's sha256 (run the bench from the repository root): %w", err)
	}
	u, err := url.Parse(d.link)
	if err != nil {
		return nil, fmt.Errorf("daemon link %q: %w", d.link, err)
	}
	origin := u.Scheme + "://" + u.Host
	b, err := startBrowser(ctx, cfg.tmp, string(sha256JS)+"\n"+browserJS,
		chromedp.Flag("unsafely-treat-insecure-origin-as-secure", origin),
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			cmd.Path = "/usr/sbin/ip"
			cmd.Args = append([]string{"ip", "netns", "exec", l.Namespace(wan.B), cmd.Args[0]}, cmd.Args[1:]...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		}))
	if err != nil {
		return nil, err
	}
	if err := b.navigate(d.link); err != nil {
		b.close()
		return nil, err
	}
	tctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`body[data-state="browsing"]`))); err != nil {
		state, _ := evalIn[string](b.ctx, 5*time.Second, `document.body.dataset.state`)
		b.close()
		return nil, fmt.Errorf("chromium: the app did not reach state browsing (now %q): %w", state, err)
	}
	return &wanBrowser{b}, nil
}

// read reads the first n bytes of big.bin with the app's File.stream() and returns how long
// that took, from the open to the last byte, as the page timed it.
func (b *wanBrowser) read(n int64) (time.Duration, error) {
	r, err := evalIn[readResult](b.ctx, 10*time.Minute, fmt.Sprintf(`bench.wasmReadN("big.bin", %d)`, n))
	if err != nil {
		return 0, fmt.Errorf("chromium: %w", err)
	}
	if r.N != n {
		return 0, fmt.Errorf("chromium read %d bytes of big.bin, want %d", r.N, n)
	}
	return time.Duration(r.Ms * float64(time.Millisecond)), nil
}
