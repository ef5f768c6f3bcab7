package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

const metricBrowserSWDownload = "browser download through the service worker"

// downloads follows the browser's downloads (Browser.downloadProgress) for swDownload: each
// one that ends, completed or canceled, is sent on ended.
type downloads struct {
	ended chan cdpbrowser.DownloadProgressState
}

// watchDownloads starts following the browser's download events.
func (b *browser) watchDownloads() (*downloads, error) {
	d := &downloads{ended: make(chan cdpbrowser.DownloadProgressState, 16)}
	err := chromedp.ListenBrowser(b.ctx, func(ev any) {
		p, ok := ev.(*cdpbrowser.EventDownloadProgress)
		if !ok || (p.State != cdpbrowser.DownloadProgressStateCompleted && p.State != cdpbrowser.DownloadProgressStateCanceled) {
			return
		}
		select {
		case d.ended <- p.State:
		default:
		}
	})
	return d, err
}

// swDownload downloads path through the app page's service worker, as its Download button
// does (the worker answers the browser's request from the page's session; Chromium's
// download manager writes the file), into a fresh directory under tmp. It returns the file
// and the MB/s from the click to the browser's "completed".
func (b *browser) swDownload(dl *downloads, tmp, path string, size int64) (string, float64, error) {
	dir, err := os.MkdirTemp(tmp, "download-")
	if err != nil {
		return "", 0, err
	}
	if _, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, EventsEnabled: new(true),
	}); err != nil {
		return "", 0, fmt.Errorf("allow downloads: %w", err)
	}
	// The worker must control the page, or the app falls back to gathering a Blob.
	if ok, err := evalIn[bool](b.ctx, 30*time.Second, `app.serviceWorker.then(() => !!navigator.serviceWorker.controller)`); err != nil || !ok {
		return "", 0, fmt.Errorf("no service worker controls the app page (%v)", err)
	}
	for len(dl.ended) > 0 {
		<-dl.ended
	}
	t0 := time.Now()
	if _, err := evalIn[bool](b.ctx, 10*time.Second, fmt.Sprintf(`app.download(%s).then(() => true)`, jsString(path))); err != nil {
		return "", 0, fmt.Errorf("start the download: %w", err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Minute)
	defer cancel()
	var st cdpbrowser.DownloadProgressState
	select {
	case st = <-dl.ended:
	case <-ctx.Done():
		return "", 0, fmt.Errorf("the download of %s did not end in 10 min", path)
	}
	el := time.Since(t0)
	if st != cdpbrowser.DownloadProgressStateCompleted {
		return "", 0, fmt.Errorf("the download of %s ended %s", path, st)
	}
	file := filepath.Join(dir, filepath.Base(path))
	fi, err := os.Stat(file)
	if err != nil {
		return "", 0, err
	}
	if fi.Size() != size {
		return "", 0, fmt.Errorf("the download of %s wrote %d bytes, want %d", path, fi.Size(), size)
	}
	return file, float64(size) / 1e6 / el.Seconds(), nil
}
