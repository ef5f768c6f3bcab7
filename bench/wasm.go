package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
)

// benchWasm builds the browser client as `make wasm` does and reports its size raw and
// gzip -9. One build: the number does not vary between runs.
func benchWasm(ctx context.Context, cfg *config) ([]Result, error) {
	out := filepath.Join(cfg.tmp, "rangecast.wasm")
	if err := goBuild(ctx, []string{"GOOS=js", "GOARCH=wasm"}, out, "./cmd/wasm", "-ldflags=-s -w"); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	_, _ = w.Write(b)
	if err := w.Close(); err != nil {
		return nil, err
	}
	raw, gz := float64(len(b))/1e6, float64(z.Len())/1e6
	logf("wasm: %.2f MB raw, %.2f MB gzip", raw, gz)
	// Baseline: a pion DataChannel-only wasm, measured once (docs/BENCHMARKS.md, DESIGN Facts).
	return []Result{
		newResult("wasm size raw", "MB", []float64{raw}, "pion DataChannel-only wasm (measured once)", []float64{5.0}, ""),
		newResult("wasm size gzip", "MB", []float64{gz}, "pion DataChannel-only wasm (measured once)", []float64{1.4}, "≤ 1.3"),
	}, nil
}
