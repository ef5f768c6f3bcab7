package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	if err := logWasmCode(ctx, cfg); err != nil {
		return nil, err
	}
	// Baseline: a pion DataChannel-only wasm, measured once (docs/BENCHMARKS.md, DESIGN Facts).
	return []Result{
		newResult("wasm size raw", "MB", []float64{raw}, "pion DataChannel-only wasm (measured once)", []float64{5.0}, ""),
		newResult("wasm size gzip", "MB", []float64{gz}, "pion DataChannel-only wasm (measured once)", []float64{1.4}, "≤ 1.3"),
	}, nil
}

// logWasmCode builds the client again with its symbols and logs where its code goes, by
// package: the place to start when the size grows.
func logWasmCode(ctx context.Context, cfg *config) error {
	out := filepath.Join(cfg.tmp, "rangecast-names.wasm")
	if err := goBuild(ctx, []string{"GOOS=js", "GOARCH=wasm"}, out, "./cmd/wasm"); err != nil {
		return err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	pkgs, err := wasmCodeByPackage(b)
	if err != nil {
		return fmt.Errorf("%s: %w", out, err)
	}
	var sb strings.Builder
	for i, p := range pkgs[:min(len(pkgs), 15)] {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%s %d", p.pkg, p.size>>10)
	}
	logf("wasm code by package (KiB of function bodies, largest first): %s", sb.String())
	return nil
}
