package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/testdaemon"
)

// The whole flow as processes: share a folder for 24 h, get with the link, stay inside it,
// share one file and get it without a path, list, revoke, be refused, restart and still be.
func TestShareCLI(t *testing.T) {
	netns.Require(t)
	state := t.TempDir()
	env := []string{envStateDir + "=" + state}
	start := func() *testdaemon.Daemon {
		return testdaemon.Start(t, binPath, append(env, "RANGECAST_TOKEN=test-token-123"), "--listen", "127.0.0.1:0", dataDir)
	}
	d := start()
	ctx := t.Context()

	fi, err := os.Stat(filepath.Join(state, controlSocket))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// A folder, for 24 hours, named by its path on this machine.
	stdout, stderr, err := rangecastEnv(ctx, env, "share", "--expires", "24h", "--label", "bob", filepath.Join(dataDir, "sub"))
	require.NoError(t, err, stderr)
	link := strings.TrimSpace(stdout)
	require.Regexp(t, `^http://127\.0\.0\.1:\d+/#s=`, link)
	assert.NotContains(t, link, "test-token-123")
	id := regexp.MustCompile(`link (\S+) for sub, expires`).FindStringSubmatch(stderr)
	require.Len(t, id, 2, stderr)

	out := filepath.Join(t.TempDir(), "small.txt")
	_, stderr, err = rangecastEnv(ctx, env, "get", "-o", out, link, "sub/small.txt")
	require.NoError(t, err, stderr)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "hello\n", string(b))

	// Outside the folder: refused, with a clear message.
	_, stderr, err = rangecastEnv(ctx, env, "cat", link, "big.bin")
	require.Error(t, err)
	assert.Contains(t, stderr, "outside what the link shares")
	stdout, stderr, err = rangecastEnv(ctx, env, "ls", link, "sub")
	require.NoError(t, err, stderr)
	assert.Contains(t, stdout, "small.txt")
	stdout, stderr, err = rangecastEnv(ctx, env, "ls", link) // the scope, not the root
	require.NoError(t, err, stderr)
	assert.Contains(t, stdout, "small.txt")

	// One file, named relative to the served directory: get needs no path.
	stdout, stderr, err = rangecastEnv(ctx, env, "share", "--expires", "1h", "sub/small.txt")
	require.NoError(t, err, stderr)
	fileLink := strings.TrimSpace(stdout)
	dest := t.TempDir()
	cmd := rangecastCmd(ctx, env, "get", fileLink)
	cmd.Dir = dest
	o, err := cmd.CombinedOutput()
	require.NoError(t, err, string(o))
	b, err = os.ReadFile(filepath.Join(dest, "small.txt"))
	require.NoError(t, err)
	assert.Equal(t, "hello\n", string(b))

	// Not under the served directory: refused by the daemon.
	_, stderr, err = rangecastEnv(ctx, env, "share", t.TempDir())
	require.Error(t, err)
	assert.Contains(t, stderr, "not under the served directory")

	// The list: id, label, scope, use.
	stdout, stderr, err = rangecastEnv(ctx, env, "share", "list")
	require.NoError(t, err, stderr)
	assert.Regexp(t, id[1]+`\s+bob\s+sub\s+\S+ \S+\s+active\s+\d+\s+6\n`, stdout)

	// Revoke: refused at once, with the reason.
	stdout, stderr, err = rangecastEnv(ctx, env, "share", "revoke", id[1])
	require.NoError(t, err, stderr)
	assert.Contains(t, stdout, "revoked "+id[1])
	_, stderr, err = rangecastEnv(ctx, env, "get", "-o", out, link, "sub/small.txt")
	require.Error(t, err)
	assert.Contains(t, stderr, "revoked")
	assert.Contains(t, d.Log.String(), "share link revoked")
	assert.Contains(t, d.Log.String(), "link="+id[1])

	// The revocation survives a restart.
	require.NoError(t, d.Cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-d.Exited:
		d.Exited <- nil // for its cleanup
	case <-time.After(15 * time.Second):
		t.Fatal("the daemon did not stop")
	}
	d = start()
	link = strings.Replace(link, regexp.MustCompile(`//[^/]+/`).FindString(link), strings.TrimPrefix(d.Base, "http:")+"/", 1)
	_, stderr, err = rangecastEnv(ctx, env, "get", "-o", out, link, "sub/small.txt")
	require.Error(t, err)
	assert.Contains(t, stderr, "revoked")
	stdout, _, err = rangecastEnv(ctx, env, "share", "list")
	require.NoError(t, err)
	assert.Regexp(t, id[1]+`\s+bob\s+sub\s+\S+ \S+\s+revoked`, stdout)
}

// rangecastCmd is a client command with extra environment variables, to run.
func rangecastCmd(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}
