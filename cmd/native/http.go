package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rangecast/rangecast/pkg/rangefs"
)

func runHTTP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "loopback address to serve on (a port of 0 lets the kernel choose); other addresses are refused")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: rangecast http [--listen 127.0.0.1:PORT] LINK

Serves the daemon's files to the apps of this machine over plain HTTP on loopback, with
Range requests, so that players and tools that take a URL can play and seek remote media.
It prints the gateway's URL, which carries a fresh random token as its first path segment
(/TOKEN/...; ?t=TOKEN works too): every request must carry it, others get 401. It keeps
up to 32 MiB of what it read, per version of a file, so that a player opening a film again
does not fetch its index again. It runs until Ctrl-C.

Examples:
  rangecast http "$LINK"                      # prints http://127.0.0.1:PORT/TOKEN/
  mpv  "http://127.0.0.1:PORT/TOKEN/movies/film.mkv"
  ffprobe "http://127.0.0.1:PORT/TOKEN/movies/film.mkv"
  curl -r 0-99 "http://127.0.0.1:PORT/TOKEN/notes.txt"

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), linkHelp)
	}
	pos, help, err := parseFlags(fs, args)
	if help || err != nil {
		return err
	}
	link, rest, ok := splitLink(pos)
	if !ok {
		return usagef("http takes LINK (missing LINK)")
	}
	if len(rest) > 0 {
		return usagef("http takes LINK: extra argument %q", rest[0])
	}
	if err := checkLoopback(*listen); err != nil {
		return usagef("--listen %q: %v", *listen, err)
	}
	s, err := dial(ctx, link)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", *listen, err)
	}
	token := randomToken()
	cache := newByteCache(gatewayCacheBytes)
	log := slog.New(slog.NewTextHandler(stderr, nil))
	hs := &http.Server{
		Handler: gatewayHandler(token, func(r *http.Request) http.Handler {
			return gatewayFiles(r.Context(), s.FS(r.Context()), cache)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	url := "http://" + ln.Addr().String() + "/" + token + "/"
	fmt.Fprintln(stdout, url)
	log.Info("gateway serving the remote files on loopback; Ctrl-C stops it", "url", url)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-s.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		return explain(s.Err())
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
	}
	<-served
	log.Info("gateway stopped")
	return nil
}

// checkLoopback refuses an address that other machines could reach: the gateway's token
// is a guard against other users of this machine, not against a network.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return errors.New("not a loopback address: the gateway serves this machine only (use 127.0.0.1 or [::1])")
	}
	return nil
}

// gatewayHandler checks the token, given as the first path segment or as ?t=, and hands the
// rest of the path to the handler next makes for the request.
func gatewayHandler(token string, next func(*http.Request) http.Handler) http.Handler {
	prefix := "/" + token
	match := func(got string) bool { return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seg, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch {
		case match(seg):
			if rest == "" && !strings.HasSuffix(r.URL.Path, "/") {
				// /TOKEN → /TOKEN/, so that relative links in listings keep the token.
				http.Redirect(w, r, prefix+"/", http.StatusMovedPermanently)
				return
			}
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/" + rest
			r2.URL.RawPath = ""
			next(r2).ServeHTTP(w, r2)
		case match(r.URL.Query().Get("t")):
			next(r).ServeHTTP(w, r)
		default:
			http.Error(w, "401 unauthorized: the URL rangecast http printed carries the token", http.StatusUnauthorized)
		}
	})
}

// gatewayCacheBytes bounds what the gateway keeps of the files it read (byteCache).
const gatewayCacheBytes = 32 << 20

// gatewayFiles serves fsys, the remote root as seen with the request's context ctx: that
// context reaches each remote read, so a player that drops a connection to seek elsewhere
// cancels what it no longer wants. Files are read through cache, then through a readAhead,
// as the mount reads them, not through the session's sequential stream, which has a whole
// stream window (4 MiB) sent ahead of the reader at once: a player that reads a little and
// seeks again (ffmpeg opening a film makes three such requests) leaves it unread while it
// holds up the bytes the player waits for on the same session.
func gatewayFiles(ctx context.Context, fsys fs.FS, cache *byteCache) http.Handler {
	return http.FileServer(http.FS(readAheadFS{FS: fsys, ctx: ctx, cache: cache}))
}

// readAheadFS opens the files of FS to be read through cache and a readAhead; directories
// as they are.
type readAheadFS struct {
	fs.FS
	ctx   context.Context
	cache *byteCache
}

func (r readAheadFS) Open(name string) (fs.File, error) {
	f, err := r.FS.Open(name)
	if err != nil {
		return nil, err
	}
	rr, ok := f.(interface {
		rangeReader
		Info() *rangefs.FileInfo
	})
	if !ok {
		return f, nil
	}
	rf := &readAheadFile{File: f, ra: newReadAhead(rr), ctx: r.ctx}
	if etag := rr.Info().ETag(); etag != "" && r.cache != nil {
		rf.cache, rf.key = r.cache, cacheKey(name, etag)
	}
	return rf, nil
}

// readAheadFile is an io.ReadSeeker over a readAhead, for http.ServeContent.
type readAheadFile struct {
	fs.File
	ra    *readAhead
	ctx   context.Context
	pos   int64
	cache *byteCache // nil: none
	key   string
}

func (f *readAheadFile) Read(p []byte) (int, error) {
	if f.cache != nil {
		if n := f.cache.read(f.key, p, f.pos); n > 0 {
			f.pos += int64(n)
			return n, nil
		}
	}
	n, err := f.ra.readAt(f.ctx, p, f.pos)
	if f.cache != nil {
		f.cache.add(f.key, p[:n], f.pos)
	}
	f.pos += int64(n)
	if err == nil && n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, err
}

func (f *readAheadFile) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.pos
	case io.SeekEnd:
		offset += f.ra.f.Size()
	default:
		return f.pos, fmt.Errorf("seek: invalid whence %d", whence)
	}
	if offset < 0 {
		return f.pos, errors.New("seek: negative position")
	}
	f.pos = offset
	return offset, nil
}

func (f *readAheadFile) Close() error {
	f.ra.close()
	return f.File.Close()
}
