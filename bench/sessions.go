package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rangecast/rangecast/pkg/connect"
)

// benchSessions: 100 sessions connected to one fresh daemon. First idle: the daemon's
// VmRSS grows by this much per session. Then all read at once (each its own share of
// mid.bin): the aggregate MB/s, compared with one session's throughput.
func benchSessions(ctx context.Context, cfg *config) ([]Result, error) {
	const sessions = 100
	per := int64(4 << 20)
	if cfg.quick {
		per = 1 << 20
	}
	var agg, mem []float64
	for i := range cfg.runs {
		a, m, err := sessionsRun(ctx, cfg, sessions, per)
		if err != nil {
			return nil, err
		}
		agg, mem = append(agg, a), append(mem, m)
		logf("run %d: %d sessions %.1f MB/s aggregate, %.0f KiB daemon RSS per idle session", i+1, sessions, a, m)
	}
	return []Result{
		newResult(metricSessionsThroughput, "MB/s", agg, "", nil, "≥ 0.9× 1 session"),
		newResult("daemon memory per idle session", "KiB", mem, "", nil, "≤ 256"),
	}, nil
}

func sessionsRun(ctx context.Context, cfg *config, n int, per int64) (aggMBps, kibPerSession float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	d, err := startDaemon(ctx, cfg)
	if err != nil {
		return 0, 0, err
	}
	defer d.stop()
	time.Sleep(500 * time.Millisecond) // let the daemon settle before the first sample
	rss0, err := d.rssBytes()
	if err != nil {
		return 0, 0, err
	}
	m0, err := d.memory(ctx)
	if err != nil {
		return 0, 0, err
	}

	ss := make([]*connect.Remote, n)
	defer func() {
		for _, s := range ss {
			if s != nil {
				_ = s.Close()
			}
		}
	}()
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ss[i], errs[i] = dial(ctx, d.link)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, 0, fmt.Errorf("connecting %d sessions: %w", n, err)
	}
	time.Sleep(2 * time.Second) // idle
	rss1, err := d.rssBytes()
	if err != nil {
		return 0, 0, err
	}
	m1, err := d.memory(ctx)
	if err != nil {
		return 0, 0, err
	}
	// Where the resident memory of an idle session goes: its goroutines' stacks, its heap
	// objects, and the rest (heap the runtime has not given back, allocator overhead).
	perKiB := func(a, b float64) float64 { return (b - a) / 1024 / float64(n) }
	logf("  per idle session: RSS %.0f KiB = stacks %.0f KiB (%.1f goroutines) + heap objects %.0f KiB + other %.0f KiB",
		perKiB(rss0, rss1), perKiB(m0.StackBytes, m1.StackBytes), float64(m1.Goroutines-m0.Goroutines)/float64(n),
		perKiB(m0.HeapBytes, m1.HeapBytes), perKiB(rss0, rss1)-perKiB(m0.StackBytes, m1.StackBytes)-perKiB(m0.HeapBytes, m1.HeapBytes))

	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f, err := ss[i].Open(ctx, "mid.bin")
			if err != nil {
				errs[i] = err
				return
			}
			defer f.Close()
			off := (int64(i) * per) % (f.Size() - per + 1)
			sr := io.NewSectionReader(f, off, per)
			got, err := io.CopyBuffer(io.Discard, readerOnly{sr}, make([]byte, 1<<20))
			if err == nil && got != per {
				err = fmt.Errorf("session %d read %d bytes, want %d", i, got, per)
			}
			errs[i] = err
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	dt := time.Since(t0)
	if err := errors.Join(errs...); err != nil {
		return 0, 0, err
	}
	return float64(int64(n)*per) / 1e6 / dt.Seconds(), (rss1 - rss0) / 1024 / float64(n), nil
}
