package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/rangecast/rangecast/pkg/connect"
)

const (
	metricNativeThroughput   = "native throughput"
	metricDaemonCPU          = "daemon CPU per GB"
	metricSessionsThroughput = "100 sessions aggregate"
)

// benchThroughput: one big file, rangecast daemon → in-process client, against two bare pion
// PeerConnections in one process; and the daemon's CPU seconds per GB during the same runs.
func benchThroughput(ctx context.Context, cfg *config) ([]Result, error) {
	d, err := startDaemon(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	// $RANGECAST_BENCH_AB_ENV (space-separated NAME=value) starts a second daemon with that
	// environment, measured in every run next to the first: an A/B test of a runtime setting.
	var dB *daemon
	if ab := os.Getenv(envABEnv); ab != "" {
		if dB, err = startDaemonEnv(ctx, cfg, strings.Fields(ab)); err != nil {
			return nil, err
		}
		defer dB.stop()
	}
	var rc, base, cpu, baseCPU, rcB, cpuB []float64
	for i := range cfg.runs {
		order := []string{"pion", "rangecast"}
		if i%2 == 1 {
			order = []string{"rangecast", "pion"}
		}
		if dB != nil {
			order = append(order, "B")
			if i%2 == 1 {
				order[0], order[2] = order[2], order[0]
			}
		}
		for _, which := range order {
			switch which {
			case "pion":
				mbps, cpuGB, err := pionThroughput(ctx, cfg.bigSize)
				if err != nil {
					return nil, err
				}
				base, baseCPU = append(base, mbps), append(baseCPU, cpuGB)
				logf("run %d: bare pion %.1f MB/s (%.1f CPU-s/GB, both ends)", i+1, mbps, cpuGB)
			case "rangecast":
				mbps, cpuGB, err := rangecastThroughput(ctx, d, "big.bin", cfg.bigSize)
				if err != nil {
					return nil, err
				}
				rc, cpu = append(rc, mbps), append(cpu, cpuGB)
				logf("run %d: rangecast %.1f MB/s, daemon %.1f CPU-s/GB", i+1, mbps, cpuGB)
			case "B":
				mbps, cpuGB, err := rangecastThroughput(ctx, dB, "big.bin", cfg.bigSize)
				if err != nil {
					return nil, err
				}
				rcB, cpuB = append(rcB, mbps), append(cpuB, cpuGB)
				logf("run %d: rangecast [%s] %.1f MB/s, daemon %.1f CPU-s/GB", i+1, os.Getenv(envABEnv), mbps, cpuGB)
			}
		}
	}
	size := fmt.Sprintf(" (%d MiB)", cfg.bigSize>>20)
	rs := []Result{
		newResult(metricNativeThroughput, "MB/s", rc, "bare pion, defaults"+size, base, "≥ 1.3× bare pion"),
		newResult(metricDaemonCPU, "CPU-s/GB", cpu, "bare pion, both ends", baseCPU, "≤ 9"),
	}
	if dB != nil {
		rs = append(rs,
			newResult(metricNativeThroughput+" [B]", "MB/s", rcB, "rangecast [A]", rc, ""),
			newResult(metricDaemonCPU+" [B]", "CPU-s/GB", cpuB, "rangecast [A]", cpu, ""))
	}
	return rs, nil
}

// pionThroughput runs one bare-pion transfer and returns MB/s and process CPU-s per GB.
func pionThroughput(ctx context.Context, total int64) (mbps, cpuPerGB float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	p, err := newPionPair(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer p.close()
	c0 := selfCPU()
	dt, err := p.transfer(ctx, total)
	if err != nil {
		return 0, 0, err
	}
	return float64(total) / 1e6 / dt.Seconds(), (selfCPU() - c0) / (float64(total) / 1e9), nil
}

// rangecastThroughput connects a session, reads name to the end in 1 MiB reads (as
// `rangecast get` does) and returns MB/s and the daemon's CPU-s per GB meanwhile.
func rangecastThroughput(ctx context.Context, d *daemon, name string, size int64) (mbps, cpuPerGB float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	s, err := dial(ctx, d.link)
	if err != nil {
		return 0, 0, err
	}
	defer s.Close()
	c0, err := d.cpuSeconds()
	if err != nil {
		return 0, 0, err
	}
	stopProfile, err := startClientProfile()
	if err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	n, err := readAll(ctx, s, name)
	dt := time.Since(t0)
	stopProfile()
	if err != nil {
		return 0, 0, err
	}
	c1, err := d.cpuSeconds()
	if err != nil {
		return 0, 0, err
	}
	if n != size {
		return 0, 0, fmt.Errorf("read %d bytes of %s, want %d", n, name, size)
	}
	return float64(n) / 1e6 / dt.Seconds(), (c1 - c0) / (float64(n) / 1e9), nil
}

// envClientProfile, if set, is a path prefix: each rangecast transfer's client side (this
// process) is CPU-profiled into PREFIX.N.prof; `go tool pprof -top PREFIX.*.prof` merges them.
// The daemon honours RANGECAST_CPUPROFILE (cmd/native/profile.go), which it inherits.
const envClientProfile = "RANGECAST_BENCH_CPUPROFILE"

// envABEnv: see benchThroughput.
const envABEnv = "RANGECAST_BENCH_AB_ENV"

var clientProfiles int

func startClientProfile() (stop func(), err error) {
	prefix := os.Getenv(envClientProfile)
	if prefix == "" {
		return func() {}, nil
	}
	clientProfiles++
	f, err := os.Create(fmt.Sprintf("%s.%d.prof", prefix, clientProfiles))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

// readAll opens name on the session and copies it to io.Discard through a 1 MiB buffer.
func readAll(ctx context.Context, s *connect.Remote, name string) (int64, error) {
	f, err := s.Open(ctx, name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.CopyBuffer(io.Discard, readerOnly{f}, make([]byte, 1<<20))
}

// readerOnly hides the file's other methods so that io.CopyBuffer uses the buffer given.
type readerOnly struct{ io.Reader }

// selfCPU is this process's user+system CPU time in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
