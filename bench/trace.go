package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/cdproto/tracing"
	"github.com/chromedp/chromedp"
)

// envTrace: RANGECAST_BENCH_TRACE=path makes the browser group record a Chromium trace
// (the Trace Event format that chrome://tracing, Perfetto and DevTools read) of its first
// warm navigation to the app into path: what each of the renderer's threads did, task by
// task, from navigation start to the first byte.
const envTrace = "RANGECAST_BENCH_TRACE"

var traceOnce sync.Once

// traceCategories are those of DevTools' Performance panel: tasks, script, parsing, layout,
// network and V8's compile and wasm work.
var traceCategories = []string{
	"toplevel", "devtools.timeline", "disabled-by-default-devtools.timeline",
	"blink", "blink.user_timing", "loading", "netlog", "v8", "v8.execute", "v8.wasm",
	"disabled-by-default-v8.compile", "disabled-by-default-v8.wasm.detailed", "__metadata",
}

// traced runs fn (a navigation) under a Chromium trace written to the file envTrace names,
// once per bench run; without envTrace it only runs fn.
func (b *browser) traced(fn func() error) error {
	path := os.Getenv(envTrace)
	first := false
	traceOnce.Do(func() { first = true })
	if path == "" || !first {
		return fn()
	}
	var mu sync.Mutex
	var events [][]byte
	done := make(chan struct{})
	lctx, stop := context.WithCancel(b.ctx)
	defer stop()
	go chromedp.Listen(lctx, func(ev any) {
		switch e := ev.(type) {
		case *tracing.EventDataCollected:
			mu.Lock()
			for _, v := range e.Value {
				events = append(events, bytes.Clone(v))
			}
			mu.Unlock()
		case *tracing.EventTracingComplete:
			close(done)
		}
	})
	if _, err := chromedp.Call(b.ctx, tracing.Start, tracing.StartParams{
		TransferMode: tracing.StartTransferModeReportEvents,
		TraceConfig:  &tracing.TraceConfig{IncludedCategories: traceCategories},
	}); err != nil {
		return fmt.Errorf("start a trace: %w", err)
	}
	err := fn()
	if _, eerr := chromedp.Call(b.ctx, tracing.End, cdp.Empty{}); eerr != nil {
		return fmt.Errorf("end the trace: %w", eerr)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("the trace did not complete in 30 s")
	}
	mu.Lock()
	defer mu.Unlock()
	var out bytes.Buffer
	out.WriteString(`{"traceEvents":[`)
	for i, e := range events {
		if i > 0 {
			out.WriteByte(',')
		}
		out.Write(e)
	}
	out.WriteString("]}\n")
	if werr := os.WriteFile(path, out.Bytes(), 0o644); werr != nil {
		return werr
	}
	logf("  wrote a Chromium trace of the navigation to %s (%d events)", path, len(events))
	return err
}

// envJSProfile: RANGECAST_BENCH_JSPROFILE=prefix makes the browser group record V8's CPU
// profile of the page (JavaScript and wasm, function by function) during each timed read of
// big.bin, its seeks and each warm navigation to the app, into prefix.CLIENT.N.cpuprofile
// (CLIENT: wasm, plain, wasm-seek, plain-seek, wasm-nav; DevTools' Performance panel opens
// them). Function
// names in the wasm need a build without -s (`go build` of cmd/wasm without -ldflags).
const envJSProfile = "RANGECAST_BENCH_JSPROFILE"

var jsProfiles = map[string]int{}

// jsProfiled runs fn (a timed read) under V8's sampling profiler when envJSProfile is set.
func (b *browser) jsProfiled(client string, fn func() error) error {
	prefix := os.Getenv(envJSProfile)
	if prefix == "" {
		return fn()
	}
	if _, err := chromedp.Call(b.ctx, profiler.Enable, cdp.Empty{}); err != nil {
		return fmt.Errorf("enable the profiler: %w", err)
	}
	if _, err := chromedp.Call(b.ctx, profiler.SetSamplingInterval, profiler.SetSamplingIntervalParams{Interval: 200}); err != nil {
		return fmt.Errorf("set the profiler's interval: %w", err)
	}
	if _, err := chromedp.Call(b.ctx, profiler.Start, cdp.Empty{}); err != nil {
		return fmt.Errorf("start the profiler: %w", err)
	}
	err := fn()
	res, perr := chromedp.Call(b.ctx, profiler.Stop, cdp.Empty{})
	if perr != nil {
		return fmt.Errorf("stop the profiler: %w", perr)
	}
	prof := res.Profile
	jsProfiles[client]++
	path := fmt.Sprintf("%s.%s.%d.cpuprofile", prefix, client, jsProfiles[client])
	out, merr := json.Marshal(prof)
	if merr != nil {
		return merr
	}
	if werr := os.WriteFile(path, out, 0o644); werr != nil {
		return werr
	}
	logf("  wrote the page's CPU profile of the read to %s", path)
	return err
}
