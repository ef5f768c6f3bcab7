package main

import (
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/pkg/signaling"
)

// Ctrl-C (SIGINT) and SIGTERM stop a download at once: the signal's context reaches every
// read, the partial file is kept for -c, and the exit status says it was interrupted.
func TestGetStopsOnSignal(t *testing.T) {
	netns.Require(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			// 8 GiB of holes: minutes at loopback speed, and no disk.
			require.NoError(t, os.Truncate(createEmpty(t, filepath.Join(dir, "huge.bin")), 8<<30))
			d := startDaemon(t, "--listen", "127.0.0.1:0", dir)
			out := filepath.Join(t.TempDir(), "huge.bin")
			cmd := exec.Command(binPath, "get", "-o", out, d.link, "huge.bin")
			var stderr syncBuffer // the process writes it while the test reads it
			cmd.Stderr = &stderr
			require.NoError(t, cmd.Start())
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() { _ = cmd.Process.Kill() })

			// Wait until bytes flow, then signal.
			deadline := time.Now().Add(30 * time.Second)
			for {
				if st, err := os.Stat(out); err == nil && st.Size() >= 4<<20 {
					break
				}
				require.True(t, time.Now().Before(deadline), "no bytes downloaded in 30 s: %s", stderr.String())
				time.Sleep(20 * time.Millisecond)
			}
			signaled := time.Now()
			require.NoError(t, cmd.Process.Signal(sig))
			var err error
			select {
			case err = <-exited:
			case <-time.After(5 * time.Second):
				st, _ := os.Stat(out)
				t.Fatalf("get still running 5 s after %v (%d bytes written)", sig, st.Size())
			}
			t.Logf("%v → exit in %v", sig, time.Since(signaled).Round(time.Millisecond))
			var ee *exec.ExitError
			require.True(t, errors.As(err, &ee), "exit: %v", err)
			assert.Equal(t, 130, ee.ExitCode(), stderr.String())
			assert.Contains(t, stderr.String(), "interrupted")
			assert.Contains(t, stderr.String(), "rerun with -c to resume")
			st, err := os.Stat(out)
			require.NoError(t, err)
			assert.Less(t, st.Size(), int64(8<<30))
			assert.FileExists(t, sidecar(out))
		})
	}
}

func createEmpty(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Create(p)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return p
}

// A client killed mid-transfer (no ABORT, no DELETE: it just stops) loses its peer slot on
// the daemon within seconds, not after ICE's default 15–30 s.
func TestKilledClientFreesSlot(t *testing.T) {
	netns.Require(t)
	dir := t.TempDir()
	require.NoError(t, os.Truncate(createEmpty(t, filepath.Join(dir, "huge.bin")), 8<<30))
	d := startDaemon(t, "--listen", "127.0.0.1:0", dir)
	out := filepath.Join(t.TempDir(), "huge.bin")
	cmd := exec.Command(binPath, "get", "-o", out, d.link, "huge.bin")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if st, err := os.Stat(out); err == nil && st.Size() >= 4<<20 {
			break
		}
		require.True(t, time.Now().Before(deadline), "no bytes downloaded in 30 s")
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, 1, d.status(t).Peers)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	killed := time.Now()
	for d.status(t).Peers != 0 {
		require.Less(t, time.Since(killed), 10*time.Second, "the killed client still holds its slot")
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("killed client's slot freed after %v", time.Since(killed).Round(100*time.Millisecond))
}

// Connections beyond --max-http-conns wait to be accepted instead of each taking a goroutine
// and buffers: with the cap held by idle connections, a request waits until one closes.
func TestHTTPConnectionCap(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", "--max-http-conns", "3", t.TempDir())
	host := strings.TrimPrefix(d.base, "http://")
	var idle []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", host)
		require.NoError(t, err)
		idle = append(idle, c)
		t.Cleanup(func() { _ = c.Close() })
	}
	status := func(timeout time.Duration) error {
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		req, err := http.NewRequest("GET", d.base+signaling.APIPrefix+"status", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+d.token)
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	}
	assert.Error(t, status(time.Second), "a fourth connection was served past the cap")
	require.NoError(t, idle[0].Close())
	assert.NoError(t, status(5*time.Second))
}
