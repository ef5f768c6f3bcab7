package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// benchMount: the issue-17 targets of `rangecast mount`. ffmpeg seeks to a point of a film
// of about 1 GiB (its index at the end, as a plain ffmpeg or camera file has it) and decodes
// one frame: through the mount, from the local file (the baseline: the page cache, no
// network) and through `rangecast http`, one fresh ffmpeg per seek, the three interleaved;
// each run is the median over seekPoints points spread over the film. Then a sequential
// read of big.bin through the mount against `rangecast get` of it. With
// $RANGECAST_BENCH_MOUNT_BEFORE, an older build's mount and gateway are measured too, in the
// same rotation.
//
// It needs ffmpeg and /dev/fuse; without them it says so and measures nothing.
func benchMount(ctx context.Context, cfg *config) ([]Result, error) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		logf("SKIPPING the mount group: no ffmpeg (make deps)")
		return nil, nil
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		logf("SKIPPING the mount group: no /dev/fuse (%v)", err)
		return nil, nil
	}
	film := filepath.Join(cfg.dataDir, "film.mp4")
	loops := 20 // 21 × ~52 MB ≈ 1.04 GiB
	if cfg.quick {
		loops = 1
	}
	logf("making film.mp4 (%d loops of 20 s at 20 Mb/s)", loops+1)
	dur, err := makeFilm(ctx, cfg.tmp, film, loops)
	if err != nil {
		return nil, err
	}
	defer os.Remove(film)

	d, err := startDaemon(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	// The rangecast under test, and an older build to compare with when
	// $RANGECAST_BENCH_MOUNT_BEFORE names one: both mount the same daemon and serve it over
	// their own gateway, and every seek and read goes to each in turn.
	type variant struct {
		name, bin, mnt string
		gw             *child
		seek, httpSeek []float64
		over, seq      []float64
	}
	vs := []*variant{{name: "", bin: cfg.bin}}
	if b := os.Getenv(envMountBefore); b != "" {
		vs = append(vs, &variant{name: " [before]", bin: b})
	}
	for i, v := range vs {
		v.mnt = filepath.Join(cfg.tmp, fmt.Sprintf("mnt%d", i))
		if err := os.MkdirAll(v.mnt, 0o755); err != nil {
			return nil, err
		}
		mp, err := startChild(ctx, exec.Command(v.bin, "mount", d.link, v.mnt))
		if err != nil {
			return nil, fmt.Errorf("rangecast mount: %w", err)
		}
		defer func() {
			mp.stop(syscall.SIGINT)
			_ = syscall.Unmount(v.mnt, syscall.MNT_DETACH) // never leave a mount behind
		}()
		if v.gw, err = startChild(ctx, exec.Command(v.bin, "http", d.link)); err != nil {
			return nil, fmt.Errorf("rangecast http: %w", err)
		}
		defer v.gw.stop(syscall.SIGINT)
	}

	const seekPoints = 5
	var local, seqGet []float64
	for i := range cfg.runs {
		var l []float64
		m := make([][]float64, len(vs))
		h := make([][]float64, len(vs))
		o := make([][]float64, len(vs))
		for k := range seekPoints {
			// Points spread over the film, different in each run, never at its very end.
			ss := dur * (float64(k) + 0.2 + 0.6*float64(i)/float64(max(cfg.runs, 1))) / seekPoints
			srcs := []string{filepath.Join(cfg.dataDir, "film.mp4")}
			for _, v := range vs {
				srcs = append(srcs, filepath.Join(v.mnt, "film.mp4"), v.gw.line+"film.mp4")
			}
			ms := make([]float64, len(srcs))
			for j := range srcs {
				w := (j + k + i) % len(srcs) // rotate the order: load hits each source alike
				t, err := ffmpegSeek(ctx, srcs[w], ss)
				if err != nil {
					return nil, err
				}
				ms[w] = t
			}
			l = append(l, ms[0])
			for vi := range vs {
				m[vi] = append(m[vi], ms[1+2*vi])
				h[vi] = append(h[vi], ms[2+2*vi])
				o[vi] = append(o[vi], ms[1+2*vi]-ms[0])
			}
		}
		lm, _, _ := summary(l)
		local = append(local, lm)
		for vi, v := range vs {
			mm, _, _ := summary(m[vi])
			hm, _, _ := summary(h[vi])
			om, _, _ := summary(o[vi])
			v.seek, v.httpSeek, v.over = append(v.seek, mm), append(v.httpSeek, hm), append(v.over, om)
			logf("run %d%s: ffmpeg seek, medians of %d points: local %.0f ms, mount %.0f ms (+%.0f), http gateway %.0f ms", i+1, v.name, seekPoints, lm, mm, om, hm)
		}

		// The sequential reads, in an order that turns with each run.
		n := len(vs) + 1
		for j := range n {
			w := (j + i) % n
			if w == len(vs) {
				mbps, err := getThroughput(ctx, cfg, d.link)
				if err != nil {
					return nil, err
				}
				seqGet = append(seqGet, mbps)
				continue
			}
			mbps, err := readThroughput(filepath.Join(vs[w].mnt, "big.bin"))
			if err != nil {
				return nil, err
			}
			vs[w].seq = append(vs[w].seq, mbps)
		}
		for _, v := range vs {
			logf("run %d%s: sequential big.bin: mount %.1f MB/s, rangecast get %.1f MB/s", i+1, v.name, v.seq[i], seqGet[i])
		}
	}
	var out []Result
	for _, v := range vs {
		out = append(out,
			newResult("mount: ffmpeg seek, extra over local"+v.name, "ms", v.over, "", nil, "≤ 50"),
			newResult("mount: ffmpeg seek"+v.name, "ms", v.seek, "the local file", local, ""),
			newResult("http gateway: ffmpeg seek"+v.name, "ms", v.httpSeek, "the local file", local, ""),
			newResult("mount: sequential read"+v.name, "MB/s", v.seq, "rangecast get", seqGet, "≥ 0.8×"))
	}
	return out, nil
}

// envMountBefore names another rangecast binary (an older build) for the mount group to
// measure beside the one under test, in the same runs: its rows end in "[before]".
const envMountBefore = "RANGECAST_BENCH_MOUNT_BEFORE"

// makeFilm encodes 20 s of noisy 640×360 video at 20 Mb/s with sound, then writes it loops
// more times over into out (no re-encoding), and returns out's duration in seconds.
func makeFilm(ctx context.Context, tmp, out string, loops int) (float64, error) {
	clip := filepath.Join(tmp, "clip.mp4")
	defer os.Remove(clip)
	run := func(name string, args ...string) (string, error) {
		b, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%s: %w: %s", name, err, b)
		}
		return string(b), nil
	}
	q := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}
	if _, err := run("ffmpeg", append(q, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=24:duration=20,noise=alls=40:allf=t",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=20",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-b:v", "20M", "-g", "24",
		"-c:a", "aac", "-b:a", "64k", clip)...); err != nil {
		return 0, err
	}
	if _, err := run("ffmpeg", append(q, "-stream_loop", strconv.Itoa(loops), "-i", clip, "-c", "copy", out)...); err != nil {
		return 0, err
	}
	s, err := run("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", out)
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(strings.TrimSpace(s), 64)
}

// ffmpegSeek runs one ffmpeg that seeks src to ss seconds and decodes one video frame, and
// returns how long it took in milliseconds.
func ffmpegSeek(ctx context.Context, src string, ss float64) (float64, error) {
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
		"-ss", strconv.FormatFloat(ss, 'f', 3, 64), "-i", src, "-map", "0:v:0", "-frames:v", "1", "-f", "null", "-")
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	el := time.Since(t0)
	if err != nil {
		return 0, fmt.Errorf("ffmpeg -ss %.3f -i %s: %w: %s", ss, src, err, out)
	}
	return float64(el) / float64(time.Millisecond), nil
}

// readThroughput reads name to its end and returns MB/s. It first drops what the kernel
// cached of the file (the mount keeps pages across opens), so that every run reads it from
// the daemon.
func readThroughput(name string) (float64, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return 0, fmt.Errorf("fadvise %s: %w", name, err)
	}
	t0 := time.Now()
	n, err := io.CopyBuffer(io.Discard, f, make([]byte, 1<<20))
	if err != nil {
		return 0, err
	}
	return float64(n) / 1e6 / time.Since(t0).Seconds(), nil
}

// getThroughput runs `rangecast get -o /dev/null LINK big.bin` and returns MB/s, process
// start and connection included, as a user would time it.
func getThroughput(ctx context.Context, cfg *config, link string) (float64, error) {
	t0 := time.Now()
	out, err := exec.CommandContext(ctx, cfg.bin, "get", "-o", os.DevNull, link, "big.bin").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("rangecast get: %w: %s", err, out)
	}
	return float64(cfg.bigSize) / 1e6 / time.Since(t0).Seconds(), nil
}
