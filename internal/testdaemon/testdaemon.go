// Package testdaemon runs the rangecast binary as a daemon process for tests that need the
// real thing: its own process, its own stdout link, its own log.
package testdaemon

import (
	"bufio"
	"bytes"
	"io"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/rangecast/rangecast/pkg/signaling"
)

// Daemon is a running `rangecast serve`.
type Daemon struct {
	Cmd    *exec.Cmd
	Link   string     // the link it printed
	Base   string     // http://127.0.0.1:PORT
	Token  string     // the token in Link
	Exited chan error // receives Cmd.Wait's result once; put it back if you take it early
	Log    *Buffer    // its stderr
}

// Buffer is a bytes.Buffer safe for a process to write while a test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Start runs `bin serve args...` with env added to the test's environment and waits (20 s at
// most) for the link on stdout. Cleanup kills the process and, if the test failed, logs what
// it wrote to stderr.
func Start(t testing.TB, bin string, env []string, args ...string) *Daemon {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = append(cmd.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{Cmd: cmd, Exited: make(chan error, 1), Log: &Buffer{}}
	cmd.Stderr = d.Log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.Exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-d.Exited
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.Log.String())
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case d.Link = <-line:
	case <-time.After(20 * time.Second):
		t.Fatalf("the daemon printed no link; log:\n%s", d.Log.String())
	}
	l, err := signaling.ParseLink(d.Link)
	if err != nil {
		t.Fatal(err)
	}
	d.Base, d.Token = l.Base, l.Token
	return d
}

// StartProc starts cmd (any process: a relay, a daemon in a namespace) and returns the
// first n lines of its stdout, waiting 20 s at most. Cleanup kills it and, if the test
// failed, logs its stderr under name; the stderr is also in the returned buffer.
func StartProc(t testing.TB, cmd *exec.Cmd, n int, name string) ([]string, *Buffer) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	log := &Buffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s log:\n%s", name, log.String())
		}
	})
	lines := make(chan []string, 1)
	go func() {
		var ls []string
		sc := bufio.NewScanner(out)
		for len(ls) < n && sc.Scan() {
			ls = append(ls, sc.Text())
		}
		lines <- ls
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case ls := <-lines:
		if len(ls) != n {
			t.Fatalf("%s printed %d lines of the %d expected: %q; log:\n%s", name, len(ls), n, ls, log.String())
		}
		return ls, log
	case <-time.After(20 * time.Second):
		t.Fatalf("%s printed nothing; log:\n%s", name, log.String())
		return nil, nil
	}
}
