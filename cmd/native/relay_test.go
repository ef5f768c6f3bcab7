package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/testdaemon"
	"github.com/rangecast/rangecast/internal/testutil"
)

// startProc runs the binary with args and env and returns the first n lines it prints.
// Cleanup kills it; its stderr is in the returned buffer.
func startProc(t *testing.T, n int, env []string, args ...string) ([]string, *testdaemon.Buffer) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(cmd.Environ(), env...)
	return testdaemon.StartProc(t, cmd, n, args[0])
}

// rangecast relay, rangecast serve --relay, rangecast get and ls through the relay link; the
// relay's log never shows the token.
func TestGetThroughRelay(t *testing.T) {
	netns.Require(t)
	lines, relayLog := startProc(t, 1, nil, "relay", "--listen", "127.0.0.1:0", "--log-level", "debug")
	relayURL := lines[0]
	require.True(t, strings.HasPrefix(relayURL, "http://127.0.0.1:"), relayURL)

	const token = "relay-proc-t0ken-xyz"
	id := filepath.Join(t.TempDir(), "id.key")
	lines, _ = startProc(t, 2, []string{"RANGECAST_TOKEN=" + token},
		"serve", "--log-level", "debug", "--listen", "127.0.0.1:0", "--relay", relayURL, "--identity", id, dataDir)
	link := lines[1]
	require.True(t, strings.HasPrefix(link, relayURL+"/d/"), link)
	require.True(t, strings.HasSuffix(link, "/#t="+token), link)

	ctx := testutil.Context(t, 90*time.Second)
	// The daemon registers right after printing: the first request may find it offline.
	var stdout, stderr string
	var err error
	for range 50 {
		stdout, stderr, err = rangecast(ctx, "ls", link)
		if err == nil || !strings.Contains(stderr, "daemon_offline") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err, stderr)
	assert.Contains(t, stdout, "mid.bin")

	out := filepath.Join(t.TempDir(), "mid.bin")
	stdout, stderr, err = rangecast(ctx, "get", "-o", out, link, "mid.bin")
	require.NoError(t, err, stderr)
	assert.Contains(t, stdout, midSum)
	assert.Equal(t, midSum, fileSum(t, out))
	assert.Contains(t, relayLog.String(), "daemon registered")
	assert.NotContains(t, relayLog.String(), token)

	// The relay forwards whatever token-less signaling comes: a client with the right relay
	// link but another token is refused by the daemon's in-band check, and gets no byte.
	wrong := strings.TrimSuffix(link, token) + "not-the-token"
	_, stderr, err = rangecast(ctx, "get", "-o", filepath.Join(t.TempDir(), "x"), wrong, "mid.bin")
	require.Error(t, err)
	assert.Contains(t, stderr, "refused the link's token")
}
