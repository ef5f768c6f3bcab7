package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"

	"github.com/rangecast/rangecast/pkg/connect"
	"github.com/rangecast/rangecast/pkg/rangefs"
	"github.com/rangecast/rangecast/pkg/wire"
)

// lsEntry is one entry of `ls --json`.
type lsEntry struct {
	Name  string `json:"name"`
	Path  string `json:"path"` // slash-separated, relative to the served root
	Size  int64  `json:"size"`
	MTime string `json:"mtime"` // RFC 3339, with nanoseconds when the file system has them
	Mode  string `json:"mode"`  // as ls -l shows it: drwxr-xr-x
	IsDir bool   `json:"isDir"`
}

func runLs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("ls", flag.ContinueOnError)
	fset.SetOutput(stderr)
	long := fset.Bool("l", false, "long format: mode, size in bytes, modification time (RFC 3339), name")
	recursive := fset.Bool("R", false, "list subdirectories too, each entry named by its path from the root")
	asJSON := fset.Bool("json", false, "print one JSON array of entries: name, path, size, mtime (RFC 3339), mode, isDir")
	fset.Usage = func() {
		fmt.Fprint(fset.Output(), `Usage: rangecast ls [-l] [-R] [--json] LINK [DIR]

Lists DIR (default: the root) on the daemon, with sizes and modification times; a file
is listed as itself.

Examples:
  rangecast ls "$LINK"
  rangecast ls -l "$LINK" movies
  rangecast ls -R "$LINK" photos/2026
  rangecast ls --json -R "$LINK" | jq -r '.[] | select(.size > 1e9) | .path'

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
	if !ok {
		return usagef("ls takes LINK [DIR] (missing LINK)")
	}
	if len(rest) > 1 {
		return usagef("ls takes LINK [DIR]: extra argument %q", rest[1])
	}
	dir := "."
	if scope := linkScope(link); scope != "" {
		dir = scope // a share link opens its scope, not the root
	}
	if len(rest) == 1 {
		dir = rest[0]
	}
	s, err := dial(ctx, link)
	if err != nil {
		return err
	}
	defer s.Close()

	var all []lsEntry
	byPath := *recursive // entries named by their path from the root, not by their name
	emit := func(e lsEntry) {
		switch {
		case *asJSON:
			all = append(all, e)
		case *long:
			name := e.Name
			if byPath {
				name = e.Path
			}
			if e.IsDir {
				name += "/"
			}
			fmt.Fprintf(stdout, "%s %12d %s %s\n", e.Mode, e.Size, e.MTime, name)
		default:
			name, size := e.Name, ""
			if byPath {
				name = e.Path
			}
			if e.IsDir {
				name, size = name+"/", "-"
			} else {
				size = humanBytes(e.Size)
			}
			mt, _ := time.Parse(time.RFC3339Nano, e.MTime)
			fmt.Fprintf(stdout, "%10s  %s  %s\n", size, mt.Local().Format("2006-01-02 15:04"), name)
		}
	}
	root := cleanRemote(dir)
	if err := listTree(ctx, s, root, *recursive, emit); err != nil {
		// A file is listed as itself, as ls(1) does.
		se, ok := errors.AsType[*rangefs.StatusError](err)
		if !ok || se.Status != wire.StatusNotDirectory || se.Path != root {
			return explain(err)
		}
		fi, serr := s.Stat(ctx, root)
		if serr != nil {
			return explain(err)
		}
		byPath = true
		emit(entryOf(root, fi))
	}
	if *asJSON {
		if all == nil {
			all = []lsEntry{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(all)
	}
	return nil
}

// cleanRemote makes a remote path slash-clean, "." for the root.
func cleanRemote(p string) string {
	p = path.Clean("/" + p)[1:]
	if p == "" {
		return "."
	}
	return p
}

// joinRemote joins a remote directory and a name.
func joinRemote(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

// listTree calls emit for each entry of dir, sorted by name, and with recursive for each
// subdirectory's entries right after the subdirectory.
func listTree(ctx context.Context, s *connect.Remote, dir string, recursive bool, emit func(lsEntry)) error {
	entries, err := s.ReadDir(ctx, dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			return err
		}
		p := joinRemote(dir, e.Name())
		emit(entryOf(p, fi))
		if recursive && e.IsDir() {
			if err := listTree(ctx, s, p, true, emit); err != nil {
				return err
			}
		}
	}
	return nil
}

func entryOf(p string, fi fs.FileInfo) lsEntry {
	size := fi.Size()
	if fi.IsDir() {
		size = 0
	}
	return lsEntry{
		Name: fi.Name(), Path: p, Size: size, MTime: fi.ModTime().UTC().Format(time.RFC3339Nano),
		Mode: fi.Mode().String(), IsDir: fi.IsDir(),
	}
}

// humanBytes formats n with binary units, as people read sizes.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
