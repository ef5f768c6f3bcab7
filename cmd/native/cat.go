package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

func runCat(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rangeFlag := fs.String("range", "", "only the bytes START-END (inclusive, as in HTTP), START- (to the end) or -N (the last N)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: rangecast cat [--range START-END] LINK PATH...

Writes the remote files, one after the other, to stdout. It stops quietly (exit 0) when the
reader closes the pipe, as 'head' does.

Examples:
  rangecast cat "$LINK" notes/todo.txt
  rangecast cat --range 0-1023 "$LINK" big.bin | xxd | head     # the first KiB
  rangecast cat --range -65536 "$LINK" movie.mp4 > tail.bin    # the last 64 KiB
  rangecast cat --range 1048576- "$LINK" log.txt | grep error  # from 1 MiB on
  rangecast cat "$LINK" movie.mp4 | ffprobe -i pipe:0

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), linkHelp)
	}
	pos, help, err := parseFlags(fs, args)
	if help || err != nil {
		return err
	}
	link, paths, ok := splitLink(pos)
	if !ok || len(paths) == 0 {
		return usagef("cat takes LINK PATH... (missing PATH)")
	}
	var br byteRange
	if *rangeFlag != "" {
		if br, err = parseRange(*rangeFlag); err != nil {
			return usagef("--range %q: %v", *rangeFlag, err)
		}
	}
	// A closed pipe must come back as EPIPE from Write, not kill the process with SIGPIPE
	// (the Go runtime's default for stdout): `rangecast cat ... | head` then ends with 0.
	defer notifyPipe()()

	s, err := dial(ctx, link)
	if err != nil {
		return err
	}
	defer s.Close()
	buf := make([]byte, 1<<20)
	for _, p := range paths {
		f, err := openRemote(ctx, s, p, folderForCat)
		if err != nil {
			return err
		}
		start, n, err := br.resolve(f.Size())
		if err != nil {
			f.Close()
			return fmt.Errorf("--range %q: %s: %w", *rangeFlag, p, err)
		}
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			f.Close()
			return err
		}
		_, err = io.CopyBuffer(onlyWriter{stdout}, io.LimitReader(ctxReader{ctx, f}, n), buf)
		f.Close()
		if isBrokenPipe(err) {
			return nil
		}
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p, explain(err))
		}
	}
	return nil
}

// onlyWriter hides a writer's ReadFrom, so that io.CopyBuffer uses the buffer given.
type onlyWriter struct{ io.Writer }

// notifyPipe turns SIGPIPE into an EPIPE error from writes for as long as it is in effect.
func notifyPipe() (stop func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGPIPE)
	return func() { signal.Stop(sig) }
}

// isBrokenPipe reports whether err is the reader having gone away.
func isBrokenPipe(err error) bool {
	return err != nil && (errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrClosedPipe))
}

// byteRange is a --range value: from start (or the last suffix bytes) to end, inclusive.
type byteRange struct {
	set        bool
	start, end int64 // end < 0: to the end of the file
	suffix     int64 // > 0: the last suffix bytes
}

// parseRange reads START-END, START- or -N, the forms of an HTTP Range header.
func parseRange(s string) (byteRange, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return byteRange{}, errors.New("want START-END, START- or -N")
	}
	num := func(x, what string) (int64, error) {
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s %q is not a byte offset", what, x)
		}
		return n, nil
	}
	switch {
	case a == "" && b == "":
		return byteRange{}, errors.New("want START-END, START- or -N")
	case a == "":
		n, err := num(b, "N")
		if err != nil {
			return byteRange{}, err
		}
		if n == 0 {
			return byteRange{}, errors.New("-0 asks for no bytes")
		}
		return byteRange{set: true, suffix: n, end: -1}, nil
	}
	start, err := num(a, "START")
	if err != nil {
		return byteRange{}, err
	}
	if b == "" {
		return byteRange{set: true, start: start, end: -1}, nil
	}
	end, err := num(b, "END")
	if err != nil {
		return byteRange{}, err
	}
	if end < start {
		return byteRange{}, fmt.Errorf("END %d is before START %d", end, start)
	}
	return byteRange{set: true, start: start, end: end}, nil
}

// resolve returns the offset and length of r in a file of size bytes; an unset range is the
// whole file. As in HTTP, an END past the file is clamped, a START past it is an error.
func (r byteRange) resolve(size int64) (start, n int64, err error) {
	switch {
	case !r.set:
		return 0, size, nil
	case r.suffix > 0:
		n = min(r.suffix, size)
		return size - n, n, nil
	case r.start >= size && !(r.start == 0 && size == 0):
		return 0, 0, fmt.Errorf("START %d is past the end of the file (%d bytes)", r.start, size)
	case r.end < 0 || r.end >= size:
		return r.start, size - r.start, nil
	}
	return r.start, r.end - r.start + 1, nil
}
