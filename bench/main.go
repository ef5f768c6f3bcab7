// Command bench measures rangecast against its baselines and writes bench/results.json.
//
// It re-executes itself inside a loopback-only network namespace (internal/netns), builds the
// rangecast binary and the wasm client into a temporary directory, and runs every metric -runs
// times, each rangecast run next to its baseline run so that load on the machine hits both.
// docs/BENCHMARKS.md explains the table.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rangecast/rangecast/internal/netns"
)

// config is what every metric is told.
type config struct {
	runs    int
	quick   bool
	bin     string // the rangecast binary
	dataDir string // the directory the daemon serves
	tmp     string
	bigSize int64  // bytes in big.bin
	out     string // where results.json goes; the soak writes soak.json next to it

	soakDuration time.Duration // how long the soak's load runs
	wanRows      string        // -wan-rows
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == helperArg {
		os.Exit(helperMain(os.Args[2:]))
	}
	runs := flag.Int("runs", 5, "runs per metric (the table shows their median, min and max)")
	quick := flag.Bool("quick", false, "one run of each metric with small sizes (make bench-smoke)")
	out := flag.String("o", "bench/results.json", "where to write the results")
	only := flag.String("only", "", "comma-separated metric groups to run (wasm,throughput,browser,seek,mount,setup,sessions,wan,relayload,soak); default all but soak (which -quick runs for 20 s)")
	soakDur := flag.Duration("soak-duration", 30*time.Minute, "how long the soak's load runs (-only soak; 20 s with -quick unless set)")
	wanRows := flag.String("wan-rows", "", "comma-separated rows of the wan group, as RTT/loss or RTT/loss/cap: 50ms/1%,100ms/1%,50ms/0%/20Mbit (default: all, or 50ms/1% with -quick)")
	flag.Parse()
	if *quick && !flagSet("soak-duration") {
		*soakDur = 20 * time.Second
	}
	netns.Reexec()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *runs, *quick, *out, *only, *wanRows, *soakDur); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// flagSet reports whether the flag was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func run(ctx context.Context, runs int, quick bool, out, only, wanRows string, soakDur time.Duration) error {
	if quick {
		runs = 1
	}
	if runs < 1 {
		return fmt.Errorf("-runs must be at least 1")
	}
	tmp, err := os.MkdirTemp("", "rangecast-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// The daemons' share key and control socket go to the bench's own directory, not the
	// user's (a daemon the user runs keeps its control socket).
	if err := os.Setenv("XDG_CONFIG_HOME", filepath.Join(tmp, "config")); err != nil {
		return err
	}
	if soakDur <= 0 {
		return fmt.Errorf("-soak-duration must be positive")
	}
	cfg := &config{runs: runs, quick: quick, tmp: tmp, bin: filepath.Join(tmp, "rangecast"), dataDir: filepath.Join(tmp, "data"),
		out: out, soakDuration: soakDur, wanRows: wanRows}
	cfg.bigSize = 256 << 20
	if quick {
		cfg.bigSize = 16 << 20
	}
	logf("building rangecast")
	if err := goBuild(ctx, nil, cfg.bin, "./cmd/native"); err != nil {
		return err
	}
	if err := writeData(cfg); err != nil {
		return err
	}

	want := func(group string) bool {
		if only == "" {
			// The soak takes half an hour: only -quick's 20 s of it is in a plain run.
			return group != "soak" || quick
		}
		for _, g := range strings.Split(only, ",") {
			if strings.TrimSpace(g) == group {
				return true
			}
		}
		return false
	}
	var results []Result
	var ran []string
	add := func(group string, rs []Result, err error) error {
		for i := range rs {
			rs[i].Group = group
		}
		results = append(results, rs...)
		ran = append(ran, group)
		return err
	}
	steps := []struct {
		group string
		fn    func(context.Context, *config) ([]Result, error)
	}{
		{"wasm", benchWasm},
		{"throughput", benchThroughput},
		{"seek", benchSeek},
		{"mount", benchMount},
		{"setup", benchSetup},
		{"sessions", benchSessions},
		{"wan", benchWAN},
		{"relayload", benchRelayload},
		{"browser", benchBrowser},
		{"soak", benchSoak},
	}
	for _, s := range steps {
		if !want(s.group) {
			continue
		}
		logf("== %s", s.group)
		rs, err := s.fn(ctx, cfg)
		if err := add(s.group, rs, err); err != nil {
			return fmt.Errorf("%s: %w", s.group, err)
		}
	}
	// The sessions ratio compares with the single-session throughput measured above.
	linkSessionsBaseline(results)

	if len(results) == 0 {
		return nil // the soak alone: its samples are in soak.json, results.json stays as it was
	}
	printTable(os.Stdout, results)
	if only != "" {
		// A run of some groups: the other groups' rows stay as they were written.
		var old []Result
		if b, err := os.ReadFile(out); err == nil {
			if err := json.Unmarshal(b, &old); err != nil {
				return fmt.Errorf("%s: %w", out, err)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		results = mergeResults(old, results, ran)
	}
	b, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	logf("wrote %s", out)
	return nil
}

// goBuild builds pkg into out with the extra environment env.
func goBuild(ctx context.Context, env []string, out string, pkg string, flags ...string) error {
	args := append([]string{"build", "-trimpath", "-o", out}, flags...)
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	return nil
}

// writeData creates the served directory: big.bin (pseudo-random, so that nothing along the
// way can compress it), mid.bin for the many-session runs, and a 1-byte tiny.bin.
func writeData(cfg *config) error {
	if err := os.MkdirAll(cfg.dataDir, 0o755); err != nil {
		return err
	}
	if err := writeRandom(filepath.Join(cfg.dataDir, "big.bin"), cfg.bigSize); err != nil {
		return err
	}
	if err := writeRandom(filepath.Join(cfg.dataDir, "mid.bin"), 16<<20); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(cfg.dataDir, "tiny.bin"), []byte{'x'}, 0o644)
}

func writeRandom(name string, size int64) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	var x uint64 = 0x9e3779b97f4a7c15
	for i := range buf {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		buf[i] = byte(x)
	}
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		buf[0]++ // no two MiB alike
		left -= n
	}
	return f.Close()
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
