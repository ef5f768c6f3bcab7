package rangefs

import (
	"context"
	"io"
	mrand "math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	benchFileSize = 64 << 20
	benchReadSize = 64 << 10
)

// benchSession writes a benchFileSize file, serves it over an in-memory Pipe and returns the
// Client and the file's name. Cleanup ends the session.
func benchSession(b *testing.B, co ClientOptions) *Client {
	b.Helper()
	dir := b.TempDir()
	writeRandom(b, dir, "bench.bin", benchFileSize)
	srv, err := NewServer(dir, ServerOptions{})
	require.NoError(b, err)
	cEnd, sEnd := Pipe(16, 0)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.ServeTransport(ctx, sEnd) }()
	c, err := Dial(b.Context(), cEnd, co)
	require.NoError(b, err)
	b.Cleanup(func() {
		_ = c.Close()
		cancel()
		<-served
		_ = srv.Close()
	})
	return c
}

// BenchmarkSequentialRead copies the whole file through File.Read, as io.Copy does, with
// the default read-ahead window.
func BenchmarkSequentialRead(b *testing.B) {
	c := benchSession(b, ClientOptions{})
	b.SetBytes(benchFileSize)
	b.ReportAllocs()
	for b.Loop() {
		f, err := c.Open(b.Context(), "bench.bin")
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, f)
		if err != nil || n != benchFileSize {
			b.Fatalf("copied %d bytes: %v", n, err)
		}
		_ = f.Close()
	}
}

// BenchmarkRandomReadAt64K reads 64 KiB at random offsets, one request at a time.
func BenchmarkRandomReadAt64K(b *testing.B) {
	c := benchSession(b, ClientOptions{})
	f, err := c.Open(b.Context(), "bench.bin")
	require.NoError(b, err)
	b.Cleanup(func() { _ = f.Close() })
	rng := mrand.New(mrand.NewPCG(1, 2))
	p := make([]byte, benchReadSize)
	b.SetBytes(benchReadSize)
	b.ReportAllocs()
	for b.Loop() {
		off := rng.Int64N(benchFileSize - benchReadSize)
		if n, err := f.ReadAt(p, off); err != nil || n != len(p) {
			b.Fatalf("ReadAt at %d: %d, %v", off, n, err)
		}
	}
}

// BenchmarkRandomReadAt64KParallel is BenchmarkRandomReadAt64K from 8 goroutines (or one per
// GOMAXPROCS, if more) sharing one File and one session.
func BenchmarkRandomReadAt64KParallel(b *testing.B) {
	c := benchSession(b, ClientOptions{})
	f, err := c.Open(b.Context(), "bench.bin")
	require.NoError(b, err)
	b.Cleanup(func() { _ = f.Close() })
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((8 + procs - 1) / procs)
	var seq atomic.Uint64
	b.SetBytes(benchReadSize)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := mrand.New(mrand.NewPCG(seq.Add(1), 2))
		p := make([]byte, benchReadSize)
		for pb.Next() {
			off := rng.Int64N(benchFileSize - benchReadSize)
			if n, err := f.ReadAt(p, off); err != nil || n != len(p) {
				b.Errorf("ReadAt at %d: %d, %v", off, n, err)
				return
			}
		}
	})
}

// BenchmarkListLarge lists a 100,000-entry directory, every page of 1000 entries, through
// ReadDir.
func BenchmarkListLarge(b *testing.B) {
	dir := b.TempDir()
	makeBigDir(b, dir, "big", 100_000)
	srv, err := NewServer(dir, ServerOptions{})
	require.NoError(b, err)
	cEnd, sEnd := Pipe(16, 0)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.ServeTransport(ctx, sEnd) }()
	c, err := Dial(b.Context(), cEnd, ClientOptions{})
	require.NoError(b, err)
	b.Cleanup(func() {
		_ = c.Close()
		cancel()
		<-served
		_ = srv.Close()
	})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ents, err := c.ReadDir(b.Context(), "big")
		if err != nil || len(ents) != 100_000 {
			b.Fatalf("listed %d entries: %v", len(ents), err)
		}
	}
}
