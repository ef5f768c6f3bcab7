package main

import (
	"context"
	"fmt"
	"os/exec"
	"time"
)

// benchSetup: wall time from exec of `rangecast get -o - LINK tiny.bin` (a 1-byte file) to
// its exit, which is after the first and only byte is written. The baseline is two bare pion
// PeerConnections in one process, from creation to the DataChannel open on both sides: no
// process start, no signaling over HTTP, no session handshake.
func benchSetup(ctx context.Context, cfg *config) ([]Result, error) {
	d, err := startDaemon(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	n := cfg.runs * 4 // cheap: more samples
	var rc, base []float64
	for i := range n {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		cmd := exec.CommandContext(cctx, cfg.bin, "get", "-o", "-", d.link, "tiny.bin")
		t0 := time.Now()
		out, err := cmd.Output()
		dt := time.Since(t0)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("rangecast get: %w", err)
		}
		if string(out) != "x" {
			return nil, fmt.Errorf("rangecast get wrote %q, want %q", out, "x")
		}
		rc = append(rc, ms(dt))

		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		t0 = time.Now()
		p, err := newPionPair(pctx)
		dt = time.Since(t0)
		cancel()
		if err != nil {
			return nil, err
		}
		p.close()
		base = append(base, ms(dt))
		logf("run %d: get %.1f ms; bare pion open %.1f ms", i+1, rc[i], base[i])
	}
	return []Result{
		newResult("native start → first byte", "ms", rc, "bare pion in-process open", base, "≤ 15"),
	}, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
