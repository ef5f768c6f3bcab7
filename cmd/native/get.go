package main

import (
	"bytes"
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

	"github.com/rangecast/rangecast/pkg/connect"
	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/rangefs"
)

func runGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("get", flag.ContinueOnError)
	fset.SetOutput(stderr)
	out := fset.String("o", "", "write to FILE (default: the remote file's name, in the current directory; - for stdout); one PATH only")
	resume := fset.Bool("c", false, "continue a partial download of FILE")
	verbose := fset.Bool("v", false, "print how the connection goes (the selected ICE candidate pair: direct or relayed) on stderr")
	var ice stringList
	fset.Var(&ice, "ice-server", "STUN or TURN server URL, repeatable (a relay link also uses the relay's)")
	force := fset.Bool("force", false, "with -c, resume a partial file that rangecast did not record, after checking its last 64 KiB against the remote bytes")
	recursive := fset.Bool("r", false, "mirror the remote directory DIR into DEST (default: DIR's name), resuming what is there")
	jobs := fset.Int("j", 6, "files in flight at once with -r or several PATHs")
	conns := fset.Int("connections", 1, "read one PATH over N connections at once, 1 to 8: faster across a long lossy path (1.5× with 3 at 50 ms), unfair to others at a bottleneck one connection fills")
	fset.Usage = func() {
		fmt.Fprint(fset.Output(), `Usage: rangecast get [-o FILE] [-c [--force]] [-v] [--connections N] [--ice-server URL] LINK PATH...
       rangecast get -r [-j N] LINK DIR [DEST]

Downloads each PATH from the daemon into the current directory (or FILE) and prints its
sha256, as sha256sum does. A PATH that fails is reported and the others go on; the exit
status is 1 if any failed. --connections 3 reads one PATH over three connections at once,
each with a congestion window of its own: across a long path that loses packets (a far
network, Wi-Fi) that carries about half as much again as one connection, but where one
connection already fills the path it only takes more than a fair share from others.

With -r, mirrors the tree under DIR into DEST, several files at once over one connection:
files whose size and modification time already match are skipped, partial ones resume
(as -c), changed ones are fetched again, and each file keeps its modification time. It
prints one line per finished file (or one progress line on a terminal) and a summary.

Examples:
  rangecast get "$LINK" movies/film.mkv             # → ./film.mkv, prints its sha256
  rangecast get -o - "$LINK" notes.txt | less
  rangecast get "$LINK" a.iso b.iso c.iso
  rangecast get -c "$LINK" movies/film.mkv          # resume after an interruption
  rangecast get --connections 3 "$LINK" movies/film.mkv   # from far away, over a lossy path
  rangecast get -c --force -o film.mkv "$LINK" movies/film.mkv  # resume a partial file from elsewhere
  rangecast get -r "$LINK" photos/2026 ~/photos-2026   # mirror; run it again to resume

Flags:
`)
		fset.PrintDefaults()
		fmt.Fprint(fset.Output(), linkHelp)
	}
	pos, help, err := parseFlags(fset, args)
	if help || err != nil {
		return err
	}
	link, rest, ok := splitLink(pos)
	if ok && len(rest) == 0 {
		// A share link of one file (or, with -r, of a directory) names what to get.
		if scope := linkScope(link); scope != "" {
			rest = []string{scope}
		}
	}
	if !ok || len(rest) == 0 {
		if *recursive {
			return usagef("get -r takes LINK DIR [DEST] (missing DIR)")
		}
		return usagef("get takes LINK PATH... (missing PATH)")
	}
	if *jobs < 1 || *jobs > 64 {
		return usagef("-j %d: want 1 to 64 files in flight", *jobs)
	}
	if *conns < 1 || *conns > rangefs.MaxStripes {
		return usagef("--connections %d: want 1 to %d", *conns, rangefs.MaxStripes)
	}
	if *force && !*resume {
		return usagef("--force goes with -c (it resumes a partial file rangecast did not record)")
	}
	if *conns > 1 && (*recursive || len(rest) > 1) {
		return usagef("--connections reads one PATH over several connections: not with -r or several PATHs (-j sets how many files are in flight)")
	}
	if *recursive {
		if *out != "" {
			return usagef("-o names one file: with -r, name the destination directory as DEST")
		}
		if len(rest) > 2 {
			return usagef("get -r takes LINK DIR [DEST]: extra argument %q", rest[2])
		}
		dest := ""
		if len(rest) == 2 {
			dest = rest[1]
		}
		return runMirror(ctx, link, rest[0], dest, *jobs, stdout, stderr)
	}
	if len(rest) > 1 {
		if *out != "" {
			return usagef("-o names one file: with several PATHs, run get in the destination directory")
		}
		return runGetMany(ctx, link, rest, *jobs, *resume, *force, stdout, stderr)
	}
	remote := rest[0]
	if *out == "" {
		*out = path.Base(strings.TrimRight(remote, "/"))
	}
	if *out == "-" && *resume {
		return usagef("-c cannot resume a download to stdout")
	}
	if *out != "-" {
		if dir := filepath.Dir(*out); !dirExists(dir) {
			return usagef("-o %q: there is no directory %q to write it in", *out, dir)
		}
	}

	t0 := time.Now()
	s, err := dial(ctx, link, ice...)
	if err != nil {
		return err
	}
	defer s.Close()
	if *verbose {
		printPair(stderr, s.Conn, time.Since(t0))
	}
	f, err := openRemote(ctx, s, remote, folderForGet)
	if err != nil {
		return err
	}
	defer f.Close()
	size := f.Size()

	h := sha256.New()
	var dst io.Writer
	var start int64
	var file *os.File
	if *out == "-" {
		dst = onlyWriter{stdout}
		defer notifyPipe()()
	} else {
		file, start, err = openOutput(ctx, *out, resumeMode{on: *resume, force: *force}, f, h)
		if err != nil {
			return err
		}
		defer file.Close()
		dst = file
	}

	var src io.Reader = ctxReader{ctx, f}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	if *conns > 1 {
		var report func(time.Duration, error)
		if *verbose {
			fmt.Fprintf(stderr, "reading over %d connections\n", *conns)
			var mu sync.Mutex // the dials report at once
			report = func(took time.Duration, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					fmt.Fprintf(stderr, "another connection: %v\n", explainDial(err))
					return
				}
				fmt.Fprintf(stderr, "another connection in %v\n", took.Round(time.Millisecond))
			}
		}
		st := f.Striped(ctx, start, size-start)
		more := connect.DialStripes(ctx, link, dialOptions(ice), st, *conns-1, report)
		defer more.Close()
		defer st.Close() // before the connections close
		src = st
	}
	prog := newProgress(stderr, remote, size, start)
	buf := make([]byte, 1<<20)
	_, err = io.CopyBuffer(io.MultiWriter(dst, h, prog), src, buf)
	prog.stop()
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		if file == nil && isBrokenPipe(err) {
			return nil // get -o - | head
		}
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

// dirExists reports whether dir is a directory on this machine.
func dirExists(dir string) bool {
	st, err := os.Stat(dir)
	return err == nil && st.IsDir()
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

// resumeMode is how openOutput treats a file that is already there.
type resumeMode struct {
	on    bool // -c: append to a partial download
	force bool // --force: also one that no sidecar records, once its tail checks out
}

// tailCheck is how much of a partial file's end --force compares with the remote bytes.
const tailCheck = 64 << 10

// openOutput creates the download, or with resume opens a partial one for appending after
// checking that it holds a prefix of the same version of the remote file: by the ETag its
// sidecar recorded, or with --force and no sidecar by comparing its last tailCheck bytes with
// the remote file's. The bytes already there are fed to h.
func openOutput(ctx context.Context, out string, mode resumeMode, rf *rangefs.File, h hash.Hash) (*os.File, int64, error) {
	size, etag := rf.Size(), rf.Info().ETag()
	if mode.on {
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
				return nil, 0, fmt.Errorf("%w: the remote file changed since %s was started: remove it to download again", errChanged, out)
			case have > size:
				f.Close()
				return nil, 0, fmt.Errorf("%s is larger than the remote file: remove it to download again", out)
			case rerr != nil && have != size && !mode.force:
				f.Close()
				return nil, 0, fmt.Errorf("%s exists but no partial download of it is recorded: remove it, choose another -o, or add --force to check its last 64 KiB against the remote file and resume", out)
			case rerr != nil && have != size:
				if err := checkTail(ctx, f, have, rf); err != nil {
					f.Close()
					return nil, 0, fmt.Errorf("--force: refusing to resume %s: %w", out, err)
				}
				// From here on it is a recorded partial download: an interruption resumes
				// strictly, by ETag.
				if err := os.WriteFile(sidecar(out), []byte(etag+"\n"), 0o644); err != nil {
					f.Close()
					return nil, 0, err
				}
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

// errChanged marks a partial download of another version of the remote file.
var errChanged = errors.New("changed")

// checkTail compares the last tailCheck bytes of the local file (have bytes long) with the
// remote file's bytes at the same offset.
func checkTail(ctx context.Context, local *os.File, have int64, rf *rangefs.File) error {
	n := min(have, tailCheck)
	if n == 0 {
		return nil
	}
	off := have - n
	mine := make([]byte, n)
	if _, err := local.ReadAt(mine, off); err != nil {
		return err
	}
	theirs := make([]byte, n)
	if _, err := rf.ReadAtContext(ctx, theirs, off); err != nil && !errors.Is(err, io.EOF) {
		return explain(err)
	}
	if !bytes.Equal(mine, theirs) {
		return fmt.Errorf("its last %d bytes (from offset %d) differ from the remote file's: it is not a prefix of it", n, off)
	}
	return nil
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

// printPair writes the connection's selected candidate pair, as `get -v` does:
//
//	connected in 212ms: direct (local srflx 198.51.100.3:40112, remote srflx 198.51.100.2:38211)
//	connected in 388ms: relayed (local relay 198.51.100.1:51234, remote srflx …)
func printPair(w io.Writer, c *peer.Conn, took time.Duration) {
	p, ok := c.SelectedPair()
	if !ok {
		fmt.Fprintf(w, "connected in %v: candidate pair unknown\n", took.Round(time.Millisecond))
		return
	}
	how := "direct"
	if p.Relayed() {
		how = "relayed"
	}
	fmt.Fprintf(w, "connected in %v: %s (%v)\n", took.Round(time.Millisecond), how, p)
}
