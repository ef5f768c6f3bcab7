package main

import (
	"bufio"
	"context"
	"encoding/json"
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

// daemon is a `rangecast serve` child process.
type daemon struct {
	cmd  *exec.Cmd
	link string
	done chan error
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
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--max-peers", "128", "--log-level", "warn"}, strings.Fields(os.Getenv(envServeFlags))...)
	args = append(args, extra...)
	cmd := exec.Command(cfg.bin, append(args, cfg.dataDir)...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	return startDaemonCmd(ctx, cmd)
}

// startDaemonCmd starts cmd, a `rangecast serve` (perhaps wrapped, as in ip netns exec, which
// execs it), and waits for the link it prints.
func startDaemonCmd(ctx context.Context, cmd *exec.Cmd) (*daemon, error) {
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &daemon{cmd: cmd, done: make(chan error, 1)}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, out)
		d.done <- cmd.Wait()
	}()
	select {
	case l, ok := <-lines:
		if !ok {
			d.stop()
			return nil, fmt.Errorf("daemon exited without printing a link")
		}
		d.link = strings.TrimSpace(l)
	case <-time.After(10 * time.Second):
		d.stop()
		return nil, fmt.Errorf("daemon printed no link in 10 s")
	case <-ctx.Done():
		d.stop()
		return nil, ctx.Err()
	}
	return d, nil
}

// stop sends SIGTERM, then SIGKILL after a few seconds, and reaps the process.
func (d *daemon) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(8 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
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
