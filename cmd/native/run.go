package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

// usageError is a mistake on the command line; main exits 2 for it.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const usage = `rangecast — your files, in any browser, peer-to-peer.

Usage:
  rangecast serve [flags] [DIR]         export DIR (default: the current directory) read-only
  rangecast get [-o FILE] [-c] LINK PATH...  download files, print their sha256
  rangecast get -r LINK DIR [DEST]      mirror a directory tree (resumable)
  rangecast ls [-l] [-R] [--json] LINK [DIR]  list a directory
  rangecast cat [--range START-END] LINK PATH  write a file (or a byte range) to stdout
  rangecast share [--expires 24h] PATH  print a scoped, expiring link to PATH (share list, share revoke ID)
  rangecast http LINK                   serve the remote files to local apps over loopback HTTP
  rangecast mount LINK MOUNTPOINT       mount the remote files read-only (Linux, FUSE)
  rangecast relay [flags]               run a relay that daemons register on, for clients to reach them
  rangecast demo DIR                    write a demo directory of assorted files
  rangecast completion bash|zsh         print a shell completion script
  rangecast help [COMMAND]              show help

Run 'rangecast help COMMAND' (or 'rangecast COMMAND --help') for a command's flags and examples.

The link:
  LINK is what 'rangecast serve' prints, http://HOST:PORT/#t=TOKEN (quote it: # starts a
  shell comment), or a share link 'rangecast share' prints, .../#s=..., which opens one file
  or folder until it expires or is revoked. When RANGECAST_LINK is set, LINK may be left out: a command whose first
  argument starts with http:// or https:// takes that as the link; otherwise every argument
  is a path and the link is RANGECAST_LINK.

Exit codes:
  0    success
  1    failure (the daemon refused, a file failed, the connection was lost, ...)
  2    usage error (an unknown flag or command, a missing or extra argument)
  130  interrupted (Ctrl-C or SIGTERM)
`

// run is the whole program but for the process exit: main decides the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "get":
		return runGet(ctx, rest, stdout, stderr)
	case "ls":
		return runLs(ctx, rest, stdout, stderr)
	case "relay":
		return runRelay(ctx, rest, stdout, stderr)
	case "demo":
		return runDemo(rest, stdout, stderr)
	case "cat":
		return runCat(ctx, rest, stdout, stderr)
	case "http":
		return runHTTP(ctx, rest, stdout, stderr)
	case "share":
		return runShare(ctx, rest, stdout, stderr)
	case "mount":
		return runMount(ctx, rest, stdout, stderr)
	case "completion":
		return runCompletion(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(rest) == 1 && rest[0] != "help" {
			return run(ctx, []string{rest[0], "-h"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usagef("unknown command %q", cmd)
	}
}

// parseFlags parses fs allowing flags after positional arguments too (rangecast get LINK
// PATH -o x), and returns the positional ones; everything after "--" is positional
// (rangecast share revoke -- -Xy). help is true if -h was given (fs has printed the help then).
func parseFlags(fs *flag.FlagSet, args []string) (pos []string, help bool, err error) {
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, true, nil
			}
			return nil, false, usageError{err.Error()}
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), false, nil // Parse stopped after the terminator
		}
		if len(rest) == 0 {
			return pos, false, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
