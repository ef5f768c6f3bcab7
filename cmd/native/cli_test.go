package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
)

// rangecastEnv runs a client command with extra environment variables.
func rangecastEnv(ctx context.Context, env []string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// cat writes exactly the bytes asked for, in every form of --range, with the sha256 of
// stdout equal to that of the local slice.
func TestCatRanges(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", dataDir)
	mid := bigBytes[:16<<20]
	for _, tc := range []struct {
		name, rng string
		want      []byte
	}{
		{"whole", "", mid},
		{"first KiB", "0-1023", mid[:1024]},
		{"one byte", "7-7", mid[7:8]},
		{"middle", "1000000-3999999", mid[1000000:4000000]},
		{"to the end", "16000000-", mid[16000000:]},
		{"last 64 KiB", "-65536", mid[len(mid)-65536:]},
		{"suffix longer than the file", "-999999999", mid},
		{"end past the file", "16777000-99999999", mid[16777000:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"cat", d.link, "mid.bin"}
			if tc.rng != "" {
				args = append(args, "--range", tc.rng)
			}
			stdout, stderr, err := rangecast(t.Context(), args...)
			require.NoError(t, err, stderr)
			assert.Equal(t, len(tc.want), len(stdout))
			assert.Equal(t, sum(tc.want), sum([]byte(stdout)))
			assert.Empty(t, stderr)
		})
	}
}

// Bad ranges are usage errors that name --range; a START past the end is a failure.
func TestCatRangeErrors(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", dataDir)
	for _, tc := range []struct {
		rng  string
		code int
	}{
		{"abc", 2}, {"5", 2}, {"9-2", 2}, {"-0", 2}, {"-", 2}, {"1-x", 2},
		{"7-", 1}, // sub/small.txt has 6 bytes
	} {
		t.Run(tc.rng, func(t *testing.T) {
			stdout, stderr, err := rangecast(t.Context(), "cat", "--range", tc.rng, d.link, "sub/small.txt")
			require.Error(t, err)
			assert.Equal(t, tc.code, exitCode(err), stderr)
			assert.Contains(t, stderr, "--range")
			assert.Empty(t, stdout)
		})
	}
}

// `cat | head` ends cleanly: when the reader closes the pipe, cat exits 0 at once, quietly.
func TestCatClosedPipe(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", dataDir)
	cmd := exec.Command(binPath, "cat", d.link, "big.bin")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	head := make([]byte, 1<<20)
	_, err = io.ReadFull(out, head)
	require.NoError(t, err)
	assert.Equal(t, bigBytes[:1<<20], head)
	require.NoError(t, out.Close())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		assert.NoError(t, err, "cat's exit after the pipe closed; stderr: %s", stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatal("cat still running 20 s after its reader went away")
	}
	assert.Empty(t, stderr.String())
}

// ls --json gives one array of entries; -R walks the tree; -l shows exact sizes.
func TestLsFormats(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", dataDir)

	stdout, stderr, err := rangecast(t.Context(), "ls", "--json", "-R", d.link)
	require.NoError(t, err, stderr)
	var got []lsEntry
	require.NoError(t, json.Unmarshal([]byte(stdout), &got), stdout)
	paths := make([]string, len(got))
	for i, e := range got {
		paths[i] = e.Path
		_, perr := time.Parse(time.RFC3339, e.MTime)
		assert.NoError(t, perr, "mtime of %s", e.Path)
	}
	assert.Equal(t, []string{"big.bin", "mid.bin", "sub", "sub/small.txt"}, paths)
	st, err := os.Stat(filepath.Join(dataDir, "big.bin"))
	require.NoError(t, err)
	assert.Equal(t, lsEntry{Name: "big.bin", Path: "big.bin", Size: bigSize, MTime: st.ModTime().UTC().Format(time.RFC3339Nano), Mode: "-rw-r--r--"}, got[0])
	assert.True(t, got[2].IsDir)
	assert.Equal(t, "drwxr-xr-x", got[2].Mode)

	stdout, stderr, err = rangecast(t.Context(), "ls", "--json", d.link, "sub")
	require.NoError(t, err, stderr)
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	require.Len(t, got, 1)
	assert.Equal(t, "sub/small.txt", got[0].Path)
	assert.Equal(t, int64(6), got[0].Size)

	stdout, stderr, err = rangecast(t.Context(), "ls", "-l", "-R", d.link)
	require.NoError(t, err, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 4, stdout)
	assert.Regexp(t, `^-rw-r--r-- +268435456 \S+ big\.bin$`, lines[0])
	assert.Regexp(t, `^drwxr-xr-x +0 \S+ sub/$`, lines[2])
	assert.Regexp(t, `^-rw-r--r-- +6 \S+ sub/small\.txt$`, lines[3])

	stdout, _, err = rangecast(t.Context(), "ls", "--json", d.link, "sub/small.txt/nope")
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err))
	assert.Empty(t, stdout)
}

// What a newcomer types first gets an answer, not a protocol status: ls of a file lists
// that file (as ls(1) does); get or cat of a folder names the command that handles one;
// -o into a directory that does not exist, and mount on a missing mountpoint, are refused
// before any connection, naming the argument.
func TestFolderAndFileArguments(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", dataDir)
	st, err := os.Stat(filepath.Join(dataDir, "sub", "small.txt"))
	require.NoError(t, err)

	stdout, stderr, err := rangecast(t.Context(), "ls", "--json", d.link, "sub/small.txt")
	require.NoError(t, err, stderr)
	var got []lsEntry
	require.NoError(t, json.Unmarshal([]byte(stdout), &got), stdout)
	assert.Equal(t, []lsEntry{{Name: "small.txt", Path: "sub/small.txt", Size: 6, MTime: st.ModTime().UTC().Format(time.RFC3339Nano), Mode: "-rw-r--r--"}}, got)
	stdout, stderr, err = rangecast(t.Context(), "ls", "-l", d.link, "sub/small.txt")
	require.NoError(t, err, stderr)
	assert.Regexp(t, `^-rw-r--r-- +6 \S+ sub/small\.txt\n$`, stdout)

	for _, tc := range []struct {
		args []string
		hint string
	}{
		{[]string{"get", "-o", filepath.Join(t.TempDir(), "x"), d.link, "sub"}, "sub is a folder: `rangecast get -r LINK sub` mirrors it"},
		{[]string{"get", d.link, "sub", "sub/small.txt"}, "sub is a folder: `rangecast get -r LINK sub` mirrors it"},
		{[]string{"cat", d.link, "sub"}, "sub is a folder: `rangecast ls LINK sub` lists it"},
	} {
		cmd := exec.CommandContext(t.Context(), binPath, tc.args...)
		cmd.Dir = t.TempDir()
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		require.Error(t, err, tc.args)
		assert.Equal(t, 1, exitCode(err), e.String())
		assert.Contains(t, e.String(), tc.hint, tc.args)
	}

	// Refused before dialing: the link names an address nobody listens on.
	const deadLink = "http://127.0.0.1:9/#t=0123456789abcdef0123456789abcdef"
	missing := filepath.Join(t.TempDir(), "no", "such")
	_, stderr, err = rangecast(t.Context(), "get", "-o", filepath.Join(missing, "x"), deadLink, "big.bin")
	require.Error(t, err)
	assert.Equal(t, 2, exitCode(err), stderr)
	assert.Contains(t, stderr, `-o "`+filepath.Join(missing, "x")+`": there is no directory`)
	for _, args := range [][]string{
		{"get", "--connections", "3", "-r", deadLink, "sub"},
		{"get", "--connections", "3", deadLink, "a.bin", "b.bin"},
		{"get", "--connections", "9", deadLink, "big.bin"},
	} {
		_, stderr, err = rangecast(t.Context(), args...)
		require.Error(t, err, args)
		assert.Equal(t, 2, exitCode(err), stderr)
		assert.Contains(t, stderr, "--connections", args)
	}
	if runtime.GOOS != "linux" {
		return // mount is Linux-only
	}
	_, stderr, err = rangecast(t.Context(), "mount", deadLink, missing)
	require.Error(t, err)
	assert.Equal(t, 2, exitCode(err), stderr)
	assert.Contains(t, stderr, `MOUNTPOINT "`+missing+`" does not exist`)
}

// With RANGECAST_LINK set the link may be left out; a link given still wins.
func TestLinkFromEnv(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", dataDir)
	env := []string{envLink + "=" + d.link}
	stdout, stderr, err := rangecastEnv(t.Context(), env, "cat", "sub/small.txt")
	require.NoError(t, err, stderr)
	assert.Equal(t, "hello\n", stdout)
	stdout, stderr, err = rangecastEnv(t.Context(), env, "ls", "sub")
	require.NoError(t, err, stderr)
	assert.Contains(t, stdout, "small.txt")
	stdout, stderr, err = rangecastEnv(t.Context(), env, "ls")
	require.NoError(t, err, stderr)
	assert.Contains(t, stdout, "big.bin")
	out := filepath.Join(t.TempDir(), "small.txt")
	_, stderr, err = rangecastEnv(t.Context(), env, "get", "-o", out, "sub/small.txt")
	require.NoError(t, err, stderr)
	assert.Equal(t, sum([]byte("hello\n")), fileSum(t, out))

	// An explicit link overrides the environment's (here a wrong one).
	bad := []string{envLink + "=http://127.0.0.1:1/#t=nope"}
	stdout, stderr, err = rangecastEnv(t.Context(), bad, "cat", d.link, "sub/small.txt")
	require.NoError(t, err, stderr)
	assert.Equal(t, "hello\n", stdout)

	// Without either, the missing argument is named.
	_, stderr, err = rangecastEnv(t.Context(), []string{envLink + "="}, "cat")
	require.Error(t, err)
	assert.Equal(t, 2, exitCode(err))
	assert.Contains(t, stderr, "LINK")
}

// Every command answers --help with its usage and examples (exit 0); `rangecast help`
// documents the exit codes and RANGECAST_LINK; errors name the flag or argument.
func TestHelpAndUsage(t *testing.T) {
	for _, cmd := range []string{"get", "ls", "cat", "http", "mount", "share", "completion"} {
		t.Run(cmd, func(t *testing.T) {
			for _, h := range []string{"--help", "-h"} {
				var stdout, stderr bytes.Buffer
				require.NoError(t, run(t.Context(), []string{cmd, h}, &stdout, &stderr))
				assert.Contains(t, stderr.String(), "Usage: rangecast "+cmd)
				assert.Contains(t, stderr.String(), "Examples:")
			}
		})
	}
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"help"}, &stdout, &stderr))
	for _, want := range []string{"Exit codes:", "130", "RANGECAST_LINK", "cat", "http", "mount", "completion"} {
		assert.Contains(t, stdout.String(), want)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"cat", "--range", "x", "http://h/#t=a", "p"}, "--range"},
		{[]string{"cat", "--bogus"}, "-bogus"},
		{[]string{"ls", "http://h/#t=a", "a", "b"}, `extra argument "b"`},
		{[]string{"http", "--listen", "0.0.0.0:8080", "http://h/#t=a"}, "--listen"},
		{[]string{"http", "--listen", "192.0.2.1:80", "http://h/#t=a"}, "loopback"},
		{[]string{"completion", "fish"}, "fish"},
		{[]string{"completion"}, "SHELL"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Setenv(envLink, "")
			err := run(t.Context(), tc.args, io.Discard, io.Discard)
			var ue usageError
			require.True(t, errors.As(err, &ue), "%v is not a usage error", err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// The completion scripts are valid shell and know every command.
func TestCompletionScripts(t *testing.T) {
	for _, sh := range []string{"bash", "zsh"} {
		t.Run(sh, func(t *testing.T) {
			var stdout bytes.Buffer
			require.NoError(t, run(t.Context(), []string{"completion", sh}, &stdout, io.Discard))
			for _, c := range []string{"serve", "get", "ls", "cat", "http", "mount", "completion"} {
				assert.Contains(t, stdout.String(), c)
			}
			shell, err := exec.LookPath(sh)
			if err != nil {
				msg := fmt.Sprintf("no %s here to check the script's syntax (make deps installs it)", sh)
				if netns.Required() {
					t.Fatal(msg)
				}
				t.Skip("SKIPPING: " + msg)
			}
			p := filepath.Join(t.TempDir(), "script")
			require.NoError(t, os.WriteFile(p, stdout.Bytes(), 0o644))
			out, err := exec.Command(shell, "-n", p).CombinedOutput()
			assert.NoError(t, err, "%s -n: %s", sh, out)
		})
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		// Load it and ask what `rangecast c<TAB>` completes to.
		script := string(mustRun(t, "completion", "bash")) + `
COMP_WORDS=(rangecast c); COMP_CWORD=1; _rangecast; echo "${COMPREPLY[@]}"
COMP_WORDS=(rangecast get --f); COMP_CWORD=2; _rangecast; echo "${COMPREPLY[@]}"`
		out, err := exec.Command(bash, "-c", script).CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Equal(t, "cat completion\n--force\n", string(out))
	}
}

func mustRun(t *testing.T, args ...string) []byte {
	t.Helper()
	var stdout bytes.Buffer
	require.NoError(t, run(t.Context(), args, &stdout, io.Discard))
	return stdout.Bytes()
}

// makeTree writes a small tree of assorted files: nested directories, an empty file, an
// empty directory, sizes around the read sizes; it returns path → content.
func makeTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	rng := rand.NewChaCha8([32]byte{3})
	files := map[string][]byte{}
	for i, p := range []string{"a.txt", "empty", "d1/b.bin", "d1/d2/c.bin", "d1/d2/d3/deep.txt", "z/131072.bin", "z/131073.bin", "z/1M.bin"} {
		n := []int{5, 0, 70000, 300000, 12, 131072, 131073, 1 << 20}[i]
		b := make([]byte, n)
		_, _ = rng.Read(b)
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, p), b, 0o644))
		files[p] = b
	}
	require.NoError(t, os.MkdirAll(filepath.Join(root, "emptydir"), 0o755))
	return files
}

// Flags go anywhere; after "--" nothing is a flag, however it looks.
func TestParseFlagsTerminator(t *testing.T) {
	for _, c := range []struct {
		args []string
		pos  []string
		v    bool
	}{
		{[]string{"a", "-v", "b"}, []string{"a", "b"}, true},
		{[]string{"revoke", "--", "-Xy"}, []string{"revoke", "-Xy"}, false},
		{[]string{"-v", "revoke", "--", "-a", "-v", "--"}, []string{"revoke", "-a", "-v", "--"}, true},
		{[]string{"--", "--"}, []string{"--"}, false},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		v := fs.Bool("v", false, "")
		pos, help, err := parseFlags(fs, c.args)
		require.NoError(t, err, c.args)
		assert.False(t, help)
		assert.Equal(t, c.pos, pos, c.args)
		assert.Equal(t, c.v, *v, c.args)
	}
}
