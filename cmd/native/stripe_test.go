//go:build linux

package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/wan"
)

// Across a path with a 60 ms round trip and 1 % loss, `rangecast get --connections 3` of
// 40 MiB reads over three connections (the daemon sees three offers), and the file is whole.
func TestGetStripesAcrossALongPath(t *testing.T) {
	netns.Require(t)
	dir := t.TempDir()
	sum := writeFile(filepath.Join(dir, "large.bin"), bigBytes[:40<<20])
	l, err := wan.New(t.Context(), wan.Path{RTT: 60 * time.Millisecond, Loss: 0.01}.Config())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	d := startDaemonInA(t, l, dir)

	out := filepath.Join(t.TempDir(), "large.bin")
	cmd := l.CommandContext(t.Context(), wan.B, binPath, "get", "-v", "--connections", "3", "-o", out, d.Link, "large.bin")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "get: %s", stderr.String())
	require.Equal(t, sum+"  "+out+"\n", stdout.String())
	require.Equal(t, sum, fileSum(t, out))
	assert.Contains(t, stderr.String(), "reading over 3 connections")
	assert.Equal(t, 2, strings.Count(stderr.String(), "another connection in"), "stderr: %s", stderr.String())
	assert.Equal(t, 3, strings.Count(d.Log.String(), `msg="peer offer"`), "connections the daemon saw")
}

// Without --connections, a download uses one connection.
func TestGetUsesOneConnectionByDefault(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", dataDir)
	out := filepath.Join(t.TempDir(), "mid.bin")
	stdout, stderr, err := rangecast(t.Context(), "get", "-v", "-o", out, d.link, "mid.bin")
	require.NoError(t, err, stderr)
	require.Equal(t, midSum+"  "+out+"\n", stdout)
	assert.NotContains(t, stderr, "connection")
	assert.Equal(t, 1, strings.Count(d.stderr.String(), `msg="peer offer"`), "connections the daemon saw")
}

// A daemon that has no room for the extra connections (--max-peers 1) refuses them; the
// download goes on over the one it has, and says why on -v.
func TestGetStripesWithinMaxPeers(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", "--max-peers", "1", dataDir)
	out := filepath.Join(t.TempDir(), "mid.bin")
	stdout, stderr, err := rangecast(t.Context(), "get", "-v", "--connections", "3", "-o", out, d.link, "mid.bin")
	require.NoError(t, err, stderr)
	require.Equal(t, midSum+"  "+out+"\n", stdout)
	require.Equal(t, midSum, fileSum(t, out))
	assert.Equal(t, 2, strings.Count(stderr, "another connection: the daemon is busy"), "stderr: %s", stderr)
}
