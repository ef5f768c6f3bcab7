package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rangecast/rangecast/pkg/connect"
)

// getJob is one file of a multi-file get or a mirror.
type getJob struct {
	remote, local string
	mode          resumeMode
	mtime         time.Time // set on the local file when done; zero: leave it
	refetch       bool      // a partial of another version: start again rather than fail
}

// batch runs jobs over one session, several at once, and reports as files finish.
type batch struct {
	s      *connect.Remote
	stdout io.Writer
	stderr io.Writer
	tty    bool // stderr is a terminal: one progress line instead of a line per file

	files, done, failed, skipped atomic.Int64
	bytes                        atomic.Int64 // received this run
	t0                           time.Time
	outMu                        sync.Mutex // one writer at a time on stdout and stderr
}

func newBatch(s *connect.Remote, stdout, stderr io.Writer) *batch {
	return &batch{s: s, stdout: stdout, stderr: stderr, tty: isTerminal(stderr), t0: time.Now()}
}

// run fetches the jobs with n in flight, drawing the progress line on a terminal.
func (b *batch) run(ctx context.Context, jobs []getJob, n int) {
	b.files.Add(int64(len(jobs)))
	ch := make(chan getJob)
	var wg sync.WaitGroup
	for range min(n, len(jobs)) {
		wg.Go(func() {
			buf := make([]byte, 256<<10)
			for j := range ch {
				b.one(ctx, j, buf)
			}
		})
	}
	stopDraw := b.drawLoop()
	for _, j := range jobs {
		select {
		case ch <- j:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(ch)
	wg.Wait()
	stopDraw()
}

func (b *batch) one(ctx context.Context, j getJob, buf []byte) {
	sum, err := b.fetch(ctx, j, buf)
	if err != nil && ctx.Err() != nil {
		return // interrupted: the summary says so, the partial file stays for a rerun
	}
	b.outMu.Lock()
	defer b.outMu.Unlock()
	clear := ""
	if b.tty {
		clear = "\r\x1b[K"
	}
	if err != nil {
		b.failed.Add(1)
		fmt.Fprintf(b.stderr, "%srangecast: %s: %v\n", clear, j.remote, err)
		return
	}
	b.done.Add(1)
	if !b.tty {
		fmt.Fprintf(b.stdout, "%s  %s\n", sum, j.local)
	}
}

// fetch downloads one file, resuming as j.mode says, and returns its sha256.
func (b *batch) fetch(ctx context.Context, j getJob, buf []byte) (string, error) {
	f, err := openRemote(ctx, b.s, j.remote, folderForGet)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	file, start, err := openOutput(ctx, j.local, j.mode, f, h)
	if err != nil && j.refetch && errors.Is(err, errChanged) {
		h.Reset()
		file, start, err = openOutput(ctx, j.local, resumeMode{}, f, h)
	}
	if err != nil {
		return "", err
	}
	defer file.Close()
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return "", err
	}
	_, err = io.CopyBuffer(io.MultiWriter(file, h, counter{&b.bytes}), ctxReader{ctx, f}, buf)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		_ = file.Sync()
		return "", fmt.Errorf("%w (the partial file %s is kept: rerun to resume)", explain(err), j.local)
	}
	if err := file.Close(); err != nil {
		return "", err
	}
	if !j.mtime.IsZero() {
		if err := os.Chtimes(j.local, j.mtime, j.mtime); err != nil {
			return "", err
		}
	}
	_ = os.Remove(sidecar(j.local))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// counter adds what is written to n.
type counter struct{ n *atomic.Int64 }

func (c counter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

// drawLoop draws the aggregate progress line every 200 ms on a terminal until stopped.
func (b *batch) drawLoop() (stop func()) {
	if !b.tty {
		return func() {}
	}
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.outMu.Lock()
				fmt.Fprintf(b.stderr, "\r%s \x1b[K", b.status())
				b.outMu.Unlock()
			case <-quit:
				b.outMu.Lock()
				fmt.Fprint(b.stderr, "\r\x1b[K")
				b.outMu.Unlock()
				return
			}
		}
	}()
	return func() { close(quit); <-exited }
}

// status is the progress line: files done of total, bytes, rate.
func (b *batch) status() string {
	el := time.Since(b.t0)
	n := b.bytes.Load()
	s := fmt.Sprintf("%d/%d files, %s, %s/s", b.done.Load()+b.skipped.Load(), b.files.Load(), humanBytes(n), humanBytes(int64(float64(n)/max(el.Seconds(), 1e-3))))
	if f := b.failed.Load(); f > 0 {
		s += fmt.Sprintf(", %d failed", f)
	}
	return s
}

// result turns the batch's counts into the command's error: interrupted, some failed, or nil.
func (b *batch) result(ctx context.Context, what string) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w (rerun the same command to resume)", what, ctx.Err())
	}
	if f := b.failed.Load(); f > 0 {
		return fmt.Errorf("%s: %d of %d files failed", what, f, b.files.Load())
	}
	return nil
}

// runGetMany downloads several PATHs into the current directory.
func runGetMany(ctx context.Context, link string, paths []string, n int, resume, force bool, stdout, stderr io.Writer) error {
	seen := map[string]string{}
	var jobs []getJob
	for _, p := range paths {
		local := path.Base(strings.TrimRight(p, "/"))
		if other, dup := seen[local]; dup {
			return usagef("PATHs %q and %q would both be written to %s: get them one at a time with -o", other, p, local)
		}
		seen[local] = p
		jobs = append(jobs, getJob{remote: p, local: local, mode: resumeMode{on: resume, force: force}})
	}
	s, err := dial(ctx, link)
	if err != nil {
		return err
	}
	defer s.Close()
	b := newBatch(s, stdout, stderr)
	b.run(ctx, jobs, n)
	return b.result(ctx, "get")
}

// runMirror copies the remote tree under dir into dest.
func runMirror(ctx context.Context, link, dir, dest string, n int, stdout, stderr io.Writer) error {
	dir = cleanRemote(dir)
	if dest == "" {
		if dir == "." {
			return usagef("get -r of the root needs DEST, the directory to mirror it into")
		}
		dest = path.Base(dir)
	}
	s, err := dial(ctx, link)
	if err != nil {
		return err
	}
	defer s.Close()
	fi, err := s.Stat(ctx, dir)
	if err != nil {
		return explain(err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("DIR %q is a file: get it without -r", dir)
	}
	b := newBatch(s, stdout, stderr)
	var jobs []getJob
	var bad []string
	err = listTree(ctx, s, dir, true, func(e lsEntry) {
		rel := e.Path
		if dir != "." {
			rel = strings.TrimPrefix(e.Path, dir+"/")
		}
		// The names come from the daemon: never let one lead out of DEST.
		if !fs.ValidPath(rel) || strings.Contains(rel, `\`) {
			bad = append(bad, e.Path)
			return
		}
		local := filepath.Join(dest, filepath.FromSlash(rel))
		if e.IsDir {
			if err := os.MkdirAll(local, 0o755); err != nil {
				bad = append(bad, e.Path+": "+err.Error())
			}
			return
		}
		mt, _ := time.Parse(time.RFC3339Nano, e.MTime)
		j := getJob{remote: e.Path, local: local, mtime: mt}
		_, scErr := os.Stat(sidecar(local))
		st, err := os.Lstat(local)
		switch {
		case err == nil && !st.Mode().IsRegular():
			bad = append(bad, e.Path+": "+local+" exists and is not a regular file")
			return
		case err == nil && scErr == nil:
			j.mode, j.refetch = resumeMode{on: true}, true // partial: resume, or start again if it changed
		case err == nil && st.Size() == e.Size && st.ModTime().Equal(mt):
			b.skipped.Add(1)
			b.files.Add(1)
			return
		}
		jobs = append(jobs, j)
	})
	if err != nil {
		return explain(err)
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	for _, p := range bad {
		b.failed.Add(1)
		b.files.Add(1)
		fmt.Fprintf(stderr, "rangecast: %s: refused\n", p)
	}
	b.run(ctx, jobs, n)
	el := time.Since(b.t0)
	fmt.Fprintf(stderr, "%s → %s: %d files: %d fetched, %d unchanged, %d failed; %s (%d bytes) received in %v, %s/s\n",
		dir, dest, b.files.Load(), b.done.Load(), b.skipped.Load(), b.failed.Load(),
		humanBytes(b.bytes.Load()), b.bytes.Load(), el.Round(time.Millisecond), humanBytes(int64(float64(b.bytes.Load())/max(el.Seconds(), 1e-3))))
	return b.result(ctx, "get -r")
}
