package main

import (
	"context"
	"math/rand/v2"
	"time"
)

// benchSeek: ReadAt of 1 byte at a random offset of big.bin, issue → first byte back, on
// one connected session; p50 and p99 over many reads per run. The baseline is the round
// trip of a 1-byte message over a bare pion DataChannel, the floor under any request.
func benchSeek(ctx context.Context, cfg *config) ([]Result, error) {
	reads := 500
	if cfg.quick {
		reads = 100
	}
	d, err := startDaemon(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	var p50, p99, b50, b99 []float64
	for i := range cfg.runs {
		// rangecast
		lat, err := seekRun(ctx, d, cfg.bigSize, reads, uint64(i))
		if err != nil {
			return nil, err
		}
		p50, p99 = append(p50, percentile(lat, 50)), append(p99, percentile(lat, 99))
		// bare pion echo
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		p, err := newPionPair(pctx)
		if err != nil {
			cancel()
			return nil, err
		}
		rtt, err := p.echoRTTs(pctx, reads)
		p.close()
		cancel()
		if err != nil {
			return nil, err
		}
		b50, b99 = append(b50, percentile(rtt, 50)), append(b99, percentile(rtt, 99))
		logf("run %d: seek p50 %.3f ms p99 %.3f ms; pion echo p50 %.3f ms p99 %.3f ms", i+1, p50[i], p99[i], b50[i], b99[i])
	}
	return []Result{
		newResult("native seek p50", "ms", p50, "bare pion 1-byte echo p50", b50, "≤ 0.5"),
		newResult("native seek p99", "ms", p99, "bare pion 1-byte echo p99", b99, "≤ 3"),
	}, nil
}

func seekRun(ctx context.Context, d *daemon, size int64, reads int, seed uint64) ([]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s, err := dial(ctx, d.link)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	f, err := s.Open(ctx, "big.bin")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(seed, 42))
	b := make([]byte, 1)
	out := make([]float64, 0, reads)
	for range reads {
		off := rng.Int64N(size)
		t0 := time.Now()
		if _, err := f.ReadAtContext(ctx, b, off); err != nil {
			return nil, err
		}
		out = append(out, float64(time.Since(t0))/float64(time.Millisecond))
	}
	return out, nil
}
