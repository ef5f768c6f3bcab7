package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/testdaemon"
	"github.com/rangecast/rangecast/pkg/signaling"
)

// These tests run the real binary: a daemon process and client processes, over real pion on
// loopback, inside a network namespace that holds only lo (internal/netns). Each begins with
// netns.Require; without the namespace, TestMain skips their setup and the package's unit
// tests run alone.

var (
	binPath  string // the rangecast binary built for these tests
	dataDir  string // served by the daemons
	bigSum   string // sha256 of dataDir/big.bin (256 MiB)
	midSum   string // sha256 of dataDir/mid.bin (16 MiB)
	bigBytes []byte
)

const bigSize = 256 << 20

func TestMain(m *testing.M) {
	if !netns.Tests() {
		os.Exit(m.Run())
	}
	tmp, err := os.MkdirTemp("", "rangecast-test-")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(tmp)
		binPath = filepath.Join(tmp, "rangecast")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
			return 1
		}
		// Daemons keep their share key and state here, not in the user's config directory,
		// and their compressed web app (webCacheDir) here, not in the user's cache directory.
		_ = os.Setenv(envStateDir, filepath.Join(tmp, "state"))
		_ = os.Setenv("XDG_CACHE_HOME", filepath.Join(tmp, "cache"))
		dataDir = filepath.Join(tmp, "data")
		if err := os.MkdirAll(filepath.Join(dataDir, "sub"), 0o755); err != nil {
			panic(err)
		}
		bigBytes = make([]byte, bigSize)
		_, _ = rand.NewChaCha8([32]byte{1}).Read(bigBytes)
		bigSum = writeFile(filepath.Join(dataDir, "big.bin"), bigBytes)
		midSum = writeFile(filepath.Join(dataDir, "mid.bin"), bigBytes[:16<<20])
		writeFile(filepath.Join(dataDir, "sub", "small.txt"), []byte("hello\n"))
		return m.Run()
	}()
	os.Exit(code)
}

func writeFile(p string, b []byte) string {
	if err := os.WriteFile(p, b, 0o644); err != nil {
		panic(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type daemonProc struct {
	cmd    *exec.Cmd
	link   string
	token  string
	base   string
	stderr *testdaemon.Buffer
	exited chan error
}

// syncBuffer collects a client process's stderr while the test reads it.
type syncBuffer = testdaemon.Buffer

// startDaemon runs `rangecast serve --log-level debug args...` with a fixed token.
func startDaemon(t *testing.T, args ...string) *daemonProc {
	t.Helper()
	td := testdaemon.Start(t, binPath, []string{"RANGECAST_TOKEN=test-token-123"}, append([]string{"--log-level", "debug"}, args...)...)
	return &daemonProc{cmd: td.Cmd, link: td.Link, token: td.Token, base: td.Base, stderr: td.Log, exited: td.Exited}
}

func (d *daemonProc) status(t *testing.T) daemonStatus {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", d.base+signaling.APIPrefix+"status", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+d.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var st daemonStatus
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	return st
}

// rangecast runs a client command to completion.
func rangecast(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, binPath, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func fileSum(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

func TestGet256MiB(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", dataDir)
	out := filepath.Join(t.TempDir(), "big.bin")
	start := time.Now()
	stdout, stderr, err := rangecast(t.Context(), "get", "-o", out, d.link, "big.bin")
	el := time.Since(start)
	require.NoError(t, err, stderr)
	assert.Equal(t, bigSum+"  "+out+"\n", stdout)
	assert.Equal(t, bigSum, fileSum(t, out))
	assert.NoFileExists(t, sidecar(out))
	assert.Empty(t, stderr, "get printed noise on a non-terminal")
	t.Logf("get of 256 MiB: %v (%.1f MB/s, process start to exit)", el.Round(time.Millisecond), float64(bigSize)/el.Seconds()/1e6)
}

func TestRandomRanges(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", dataDir)
	s, err := dial(t.Context(), d.link)
	require.NoError(t, err)
	defer s.Close()
	f, err := s.Open(t.Context(), "big.bin")
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 1000 {
		off := rng.Int64N(bigSize)
		n := min(rng.Int64N(256<<10)+1, bigSize-off)
		p := make([]byte, n)
		got, err := f.ReadAt(p, off)
		require.NoError(t, err, "range %d: %d+%d", i, off, n)
		require.Equal(t, int(n), got)
		require.Equal(t, sha256.Sum256(bigBytes[off:off+n]), sha256.Sum256(p), "range %d: %d+%d", i, off, n)
	}
}

func TestSixteenClients(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", dataDir)
	dir := t.TempDir()
	var wg sync.WaitGroup
	type result struct {
		out, stdout, stderr string
		err                 error
	}
	results := make([]result, 16)
	for i := range results {
		wg.Go(func() {
			out := filepath.Join(dir, fmt.Sprintf("mid-%d.bin", i))
			o, e, err := rangecast(t.Context(), "get", "-o", out, d.link, "mid.bin")
			results[i] = result{out, o, e, err}
		})
	}
	// While they stream, every UDP socket the daemon holds is on the one port it reports.
	st := d.status(t)
	require.Len(t, st.UDP, 1)
	_, port, err := net.SplitHostPort(st.UDP[0])
	require.NoError(t, err)
	ports, samples, err := testdaemon.SampleUDPPorts(d.cmd.Process.Pid, 20*time.Millisecond, &wg)
	require.NoError(t, err)
	assert.Positive(t, samples)
	portN, err := strconv.Atoi(port)
	require.NoError(t, err)
	assert.Equal(t, []int{portN}, ports, "the daemon's UDP ports while 16 clients streamed")
	for i, r := range results {
		require.NoError(t, r.err, "client %d: %s", i, r.stderr)
		assert.Equal(t, midSum+"  "+r.out+"\n", r.stdout, "client %d", i)
		assert.Equal(t, midSum, fileSum(t, r.out), "client %d", i)
	}
}

func TestTokenRefused(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", dataDir)
	wrong := signaling.Link{Base: d.base, Token: "not-the-token"}.String()
	_, stderr, err := rangecast(t.Context(), "ls", wrong)
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err))
	assert.Contains(t, stderr, "refused the link's token")

	_, stderr, err = rangecast(t.Context(), "ls", d.base+"/")
	require.Error(t, err)
	assert.Contains(t, stderr, "no token")

	// Raw: the offer is refused before any SDP is made.
	for _, auth := range []string{"", "Bearer not-the-token"} {
		req, err := http.NewRequestWithContext(t.Context(), "POST", d.base+signaling.APIPrefix+"peers", strings.NewReader(`{"type":"offer","sdp":"v=0\r\n"}`))
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.NotContains(t, string(body), "sdp")
	}
	assert.Equal(t, 0, d.status(t).Peers)
	req, err := http.NewRequestWithContext(t.Context(), "GET", d.base+signaling.APIPrefix+"status", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// waitSize waits until the file at p has at least n bytes.
func waitSize(t *testing.T, p string, n int64, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if st, err := os.Stat(p); err == nil && st.Size() >= n {
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("client exited before writing %d bytes: %v", n, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not reach %d bytes", p, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The daemon stops mid-download: the client says so and keeps the partial file; `get -c`
// against the restarted daemon completes it with the right sha256.
func TestDaemonStoppedThenResume(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", "--grace", "50ms", dataDir)
	out := filepath.Join(t.TempDir(), "big.bin")
	cmd := exec.Command(binPath, "get", "-o", out, d.link, "big.bin")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waitSize(t, out, 32<<20, exited)

	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-d.exited:
		require.NoError(t, err, "daemon exit")
		d.exited <- nil
	case <-time.After(20 * time.Second):
		t.Fatal("daemon did not stop on SIGTERM")
	}
	select {
	case err := <-exited:
		require.Error(t, err, "get succeeded though the daemon stopped")
		assert.Equal(t, 1, exitCode(err))
	case <-time.After(30 * time.Second):
		t.Fatal("get did not notice the daemon stopping")
	}
	assert.Contains(t, stderr.String(), "the daemon shut down")
	assert.Contains(t, stderr.String(), "rerun with -c")
	st, err := os.Stat(out)
	require.NoError(t, err)
	require.Less(t, st.Size(), int64(bigSize))
	require.FileExists(t, sidecar(out))

	port := d.base[strings.LastIndex(d.base, ":")+1:]
	d2 := startDaemon(t, "--listen", "127.0.0.1:"+port, dataDir)
	stdout, errOut, err := rangecast(t.Context(), "get", "-c", "-o", out, d2.link, "big.bin")
	require.NoError(t, err, errOut)
	assert.Equal(t, bigSum+"  "+out+"\n", stdout)
	assert.Equal(t, bigSum, fileSum(t, out))
	assert.NoFileExists(t, sidecar(out))
}

// A client process killed mid-transfer: the daemon frees its session — peers, goroutines and
// open files back to the baseline — and another client's download completes meanwhile.
func TestClientKilledMidTransfer(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", dataDir)
	// Warm up once so that lazily started, long-lived goroutines are in the baseline.
	_, errOut, err := rangecast(t.Context(), "get", "-o", filepath.Join(t.TempDir(), "w"), d.link, "sub/small.txt")
	require.NoError(t, err, errOut)
	var base daemonStatus
	waitStatus(t, d, func(s daemonStatus) bool { base = s; return s.Peers == 0 })

	dir := t.TempDir()
	victimOut := filepath.Join(dir, "victim.bin")
	victim := exec.Command(binPath, "get", "-o", victimOut, d.link, "big.bin")
	require.NoError(t, victim.Start())
	victimExited := make(chan error, 1)
	go func() { victimExited <- victim.Wait() }()

	otherOut := filepath.Join(dir, "other.bin")
	otherDone := make(chan error, 1)
	var otherStdout, otherStderr string
	go func() {
		var err error
		otherStdout, otherStderr, err = rangecast(context.Background(), "get", "-o", otherOut, d.link, "big.bin")
		otherDone <- err
	}()

	waitSize(t, victimOut, 16<<20, victimExited)
	require.NoError(t, victim.Process.Kill())
	<-victimExited

	require.NoError(t, <-otherDone, otherStderr)
	assert.Equal(t, bigSum+"  "+otherOut+"\n", otherStdout)

	var last daemonStatus
	ok := pollStatus(d, 40*time.Second, func(s daemonStatus) bool {
		last = s
		return s.Peers == 0 && s.OpenFiles == base.OpenFiles && s.Goroutines <= base.Goroutines
	})
	assert.True(t, ok, "daemon did not free the killed client's session: baseline %+v, now %+v", base, last)
}

func waitStatus(t *testing.T, d *daemonProc, cond func(daemonStatus) bool) {
	t.Helper()
	require.True(t, pollStatus(d, 20*time.Second, cond), "daemon status condition not met")
}

func pollStatus(d *daemonProc, limit time.Duration, cond func(daemonStatus) bool) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", d.base+signaling.APIPrefix+"status", nil)
		req.Header.Set("Authorization", "Bearer "+d.token)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			var st daemonStatus
			err := json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if err == nil && cond(st) {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
