package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rangecast/rangecast/pkg/connect"
	"github.com/rangecast/rangecast/pkg/signaling"
)

// daemon is a `rangecast serve` child process; the line it printed is its link.
type daemon struct {
	*child
	link string
}

// startDaemon runs `rangecast serve` on 127.0.0.1:0 and waits for the link it prints.
func startDaemon(ctx context.Context, cfg *config, extra ...string) (*daemon, error) {
	return startDaemonEnv(ctx, cfg, nil, extra...)
}

// envServeFlags, $RANGECAST_BENCH_SERVE_FLAGS, holds extra `rangecast serve` flags
// (space-separated) for every daemon the bench starts: to measure a tuning flag on any
// group, as in RANGECAST_BENCH_SERVE_FLAGS=--sctp-min-cwnd=0 go run ./bench -only browser.
const envServeFlags = "RANGECAST_BENCH_SERVE_FLAGS"

// startDaemonEnv is startDaemon with env added to this process's environment.
func startDaemonEnv(ctx context.Context, cfg *config, env []string, extra ...string) (*daemon, error) {
	cmd := exec.Command(cfg.bin, serveArgs(cfg, "127.0.0.1:0", 128, extra...)...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	return startDaemonCmd(ctx, cmd)
}

// serveArgs are the arguments of a bench daemon, `rangecast serve` on listen for at most
// maxPeers: $RANGECAST_BENCH_SERVE_FLAGS, then extra, then the data directory.
func serveArgs(cfg *config, listen string, maxPeers int, extra ...string) []string {
	args := []string{"serve", "--listen", listen, "--max-peers", strconv.Itoa(maxPeers), "--log-level", "warn"}
	args = append(args, strings.Fields(os.Getenv(envServeFlags))...)
	return append(append(args, extra...), cfg.dataDir)
}

// startDaemonCmd starts cmd, a `rangecast serve` (perhaps wrapped, as in ip netns exec, which
// execs it), and waits for the link it prints.
func startDaemonCmd(ctx context.Context, cmd *exec.Cmd) (*daemon, error) {
	c, err := startChild(ctx, cmd)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	return &daemon{child: c, link: c.line}, nil
}

// stop sends SIGTERM, then SIGKILL after a few seconds, and reaps the process.
func (d *daemon) stop() { d.child.stop(syscall.SIGTERM) }

// child is a rangecast process that prints one line (a link, a mountpoint, a URL) when it is
// ready.
type child struct {
	cmd  *exec.Cmd
	line string
	done chan error // receives cmd.Wait's result once; put it back if you take it early
}

// startChild starts cmd and waits for the first line it prints.
func startChild(ctx context.Context, cmd *exec.Cmd) (*child, error) {
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		l, _ := r.ReadString('\n')
		lines <- strings.TrimSpace(l)
		_, _ = io.Copy(io.Discard, r)
		c.done <- cmd.Wait()
	}()
	select {
	case c.line = <-lines:
		if c.line == "" {
			c.stop(syscall.SIGTERM)
			return nil, errors.New("exited without printing its line")
		}
		return c, nil
	case <-time.After(20 * time.Second):
		c.stop(syscall.SIGTERM)
		return nil, errors.New("printed nothing in 20 s")
	case <-ctx.Done():
		c.stop(syscall.SIGTERM)
		return nil, ctx.Err()
	}
}

// stop sends sig, then SIGKILL after a few seconds, and reaps the process.
func (c *child) stop(sig syscall.Signal) {
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(8 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// cpuSeconds is the daemon's user+system CPU time so far, from /proc/PID/stat.
func (d *daemon) cpuSeconds() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// utime and stime are fields 14 and 15 of stat, 12 and 13 here (state is field 3).
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc stat: %q", s)
	}
	return (ut + st) / clockTicks, nil
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// rssBytes is the daemon's resident set size, VmRSS from /proc/PID/status.
func (d *daemon) rssBytes() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(rest)
			kb, err := strconv.ParseFloat(f[0], 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", d.cmd.Process.Pid)
}

// memStatus is the part of the daemon's /api/v1/status that tells what its memory holds.
type memStatus struct {
	Goroutines int     `json:"goroutines"`
	HeapBytes  float64 `json:"heap_bytes"`
	StackBytes float64 `json:"stack_bytes"`
}

// memory asks the daemon for its goroutine count and its heap in objects and in stacks.
func (d *daemon) memory(ctx context.Context) (memStatus, error) {
	var st memStatus
	return st, d.status(ctx, http.DefaultClient, &st)
}

// status decodes the daemon's /api/v1/status into v, asked with c and the link's token.
func (d *daemon) status(ctx context.Context, c *http.Client, v any) error {
	l, err := signaling.ParseLink(d.link)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", l.Base+signaling.APIPrefix+"status", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+l.Token)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status: HTTP %d", resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// dial opens a connection to the daemon with the options `rangecast get` uses.
func dial(ctx context.Context, link string) (*connect.Remote, error) {
	return connect.Dial(ctx, link, connect.NativeOptions())
}
