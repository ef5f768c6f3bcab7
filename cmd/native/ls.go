package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

func runLs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ls", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: rangecast ls LINK [DIR]\n\nLists DIR (default: the root) on the daemon, with sizes.\n")
	}
	pos, help, err := parseFlags(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usagef("ls takes LINK [DIR]")
	}
	dir := "."
	if len(pos) == 2 {
		dir = pos[1]
	}
	s, err := dial(ctx, pos[0])
	if err != nil {
		return err
	}
	defer s.Close()
	entries, err := s.ReadDir(ctx, dir)
	if err != nil {
		return explain(err)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			return err
		}
		name, size := e.Name(), humanBytes(fi.Size())
		if e.IsDir() {
			name, size = name+"/", "-"
		}
		fmt.Fprintf(stdout, "%10s  %s  %s\n", size, fi.ModTime().Format("2006-01-02 15:04"), name)
	}
	return nil
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
