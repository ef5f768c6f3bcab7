package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rangecast/rangecast/pkg/rangefs"
)

func runGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("get", flag.ContinueOnError)
	fset.SetOutput(stderr)
	out := fset.String("o", "", "write to FILE (default: the remote file's name, in the current directory; - for stdout)")
	resume := fset.Bool("c", false, "continue a partial download of FILE")
	fset.Usage = func() {
		fmt.Fprintf(fset.Output(), "Usage: rangecast get [-o FILE] [-c] LINK PATH\n\nDownloads PATH from the daemon and prints its sha256.\n\nFlags:\n")
		fset.PrintDefaults()
	}
	pos, help, err := parseFlags(fset, args)
	if help || err != nil {
		return err
	}
	link, rest, ok := splitLink(pos)
	if !ok || len(rest) != 1 {
		return usagef("get takes LINK PATH")
	}
	remote := rest[0]
	if *out == "" {
		*out = path.Base(strings.TrimRight(remote, "/"))
	}
	if *out == "-" && *resume {
		return usagef("-c cannot resume a download to stdout")
	}

	s, err := dial(ctx, link)
	if err != nil {
		return err
	}
	defer s.Close()
	f, err := s.Open(ctx, remote)
	if err != nil {
		return explain(err)
	}
	defer f.Close()
	size, etag := f.Size(), f.Info().ETag()

	h := sha256.New()
	var dst io.Writer
	var start int64
	var file *os.File
	if *out == "-" {
		dst = stdout
	} else {
		file, start, err = openOutput(*out, *resume, size, etag, h)
		if err != nil {
			return err
		}
		defer file.Close()
		dst = file
	}

	prog := newProgress(stderr, remote, size, start)
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	_, err = io.CopyBuffer(io.MultiWriter(dst, h, prog), ctxReader{ctx, f}, buf)
	prog.stop()
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		if file != nil {
			_ = file.Sync()
			return fmt.Errorf("%w\n(the partial file %s is kept: rerun with -c to resume)", explain(err), *out)
		}
		return explain(err)
	}
	if file != nil {
		if err := file.Close(); err != nil {
			return err
		}
		_ = os.Remove(sidecar(*out))
	}
	sumLine := hex.EncodeToString(h.Sum(nil)) + "  " + *out
	if *out == "-" {
		fmt.Fprintln(stderr, sumLine)
	} else {
		fmt.Fprintln(stdout, sumLine)
	}
	return nil
}

// ctxReader reads f with ctx, so that a signal's cancellation reaches every read; it also
// hides File's other methods, so that io.CopyBuffer uses our buffer.
type ctxReader struct {
	ctx context.Context
	f   *rangefs.File
}

func (r ctxReader) Read(p []byte) (int, error) { return r.f.ReadContext(r.ctx, p) }

// sidecar names the file that records which version of the remote file a partial download
// holds: its ETag. It lives next to the download and is removed when it completes.
func sidecar(out string) string {
	return filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".rangecast-partial")
}

// openOutput creates the download, or with resume opens a partial one for appending after
// checking that it holds a prefix of the same version of the remote file. The bytes already
// there are fed to h.
func openOutput(out string, resume bool, size int64, etag string, h hash.Hash) (*os.File, int64, error) {
	if resume {
		f, err := os.OpenFile(out, os.O_RDWR, 0)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Nothing to resume: start from scratch.
		case err != nil:
			return nil, 0, err
		default:
			rec, rerr := os.ReadFile(sidecar(out))
			st, serr := f.Stat()
			if serr != nil {
				f.Close()
				return nil, 0, serr
			}
			have := st.Size()
			switch {
			case rerr == nil && strings.TrimSpace(string(rec)) != etag:
				f.Close()
				return nil, 0, fmt.Errorf("the remote file changed since %s was started: remove it to download again", out)
			case rerr != nil && have != size:
				f.Close()
				return nil, 0, fmt.Errorf("%s exists but no partial download of it is recorded: remove it, or choose another -o", out)
			case have > size:
				f.Close()
				return nil, 0, fmt.Errorf("%s is larger than the remote file: remove it to download again", out)
			}
			if _, err := io.Copy(h, io.NewSectionReader(f, 0, have)); err != nil {
				f.Close()
				return nil, 0, err
			}
			if _, err := f.Seek(have, io.SeekStart); err != nil {
				f.Close()
				return nil, 0, err
			}
			return f, have, nil
		}
	}
	if err := os.WriteFile(sidecar(out), []byte(etag+"\n"), 0o644); err != nil {
		return nil, 0, err
	}
	f, err := os.Create(out)
	return f, 0, err
}

// progress draws a one-line progress bar with speed and ETA on a terminal, and nothing
// otherwise.
type progress struct {
	w          io.Writer
	name       string
	size, done int64
	start      int64
	t0         time.Time
	tick       *time.Ticker
	quit, exit chan struct{}
	mu         sync.Mutex // guards done
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newProgress(w io.Writer, name string, size, start int64) *progress {
	p := &progress{w: w, name: name, size: size, done: start, start: start, t0: time.Now()}
	if !isTerminal(w) {
		return p
	}
	p.tick = time.NewTicker(200 * time.Millisecond)
	p.quit, p.exit = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.exit)
		for {
			select {
			case <-p.tick.C:
				p.draw(false)
			case <-p.quit:
				p.draw(true)
				return
			}
		}
	}()
	return p
}

func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	p.done += int64(len(b))
	p.mu.Unlock()
	return len(b), nil
}

func (p *progress) draw(final bool) {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	el := time.Since(p.t0).Seconds()
	speed := float64(done-p.start) / max(el, 1e-3)
	pct := 100.0
	if p.size > 0 {
		pct = float64(done) * 100 / float64(p.size)
	}
	const width = 24
	fill := int(pct / 100 * width)
	bar := strings.Repeat("█", fill) + strings.Repeat("·", width-fill)
	eta := "--"
	if speed > 0 && done < p.size {
		eta = time.Duration(float64(p.size-done) / speed * float64(time.Second)).Round(time.Second).String()
	}
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(p.w, "\r%s %5.1f%% %s / %s  %s/s  ETA %s \x1b[K%s", bar, pct, humanBytes(done), humanBytes(p.size), humanBytes(int64(speed)), eta, end)
}

func (p *progress) stop() {
	if p.tick == nil {
		return
	}
	p.tick.Stop()
	close(p.quit)
	<-p.exit
}
