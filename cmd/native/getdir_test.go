package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
)

// get with several PATHs downloads each into the current directory; one that fails is
// reported, the others complete, and the exit status is 1.
func TestGetSeveralPaths(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", dataDir)
	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), binPath, "get", d.link, "mid.bin", "nope.bin", "sub/small.txt")
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err), e.String())
	lines := strings.Split(strings.TrimSpace(o.String()), "\n")
	sort.Strings(lines)
	want := []string{midSum + "  mid.bin", sum([]byte("hello\n")) + "  small.txt"}
	sort.Strings(want)
	assert.Equal(t, want, lines)
	assert.Equal(t, midSum, fileSum(t, filepath.Join(dir, "mid.bin")))
	assert.Equal(t, sum([]byte("hello\n")), fileSum(t, filepath.Join(dir, "small.txt")))
	assert.Contains(t, e.String(), "nope.bin")
	assert.Contains(t, e.String(), "1 of 3 files failed")
	assert.NoFileExists(t, sidecar(filepath.Join(dir, "mid.bin")))

	_, stderr, err := rangecast(t.Context(), "get", "-o", "x", d.link, "mid.bin", "big.bin")
	assert.Equal(t, 2, exitCode(err))
	assert.Contains(t, stderr, "-o")
}

// treeState returns relative path → sha256 and mtime of every regular file under root.
func treeState(t *testing.T, root string) (sums map[string]string, mtimes map[string]time.Time) {
	t.Helper()
	sums, mtimes = map[string]string{}, map[string]time.Time{}
	require.NoError(t, filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		require.NoError(t, err)
		if !e.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasSuffix(rel, ".rangecast-partial") {
			return nil
		}
		sums[rel] = fileSum(t, p)
		fi, err := e.Info()
		require.NoError(t, err)
		mtimes[rel] = fi.ModTime()
		return nil
	}))
	return sums, mtimes
}

var receivedRE = regexp.MustCompile(`\((\d+) bytes\) received`)

func received(t *testing.T, stderr string) int64 {
	t.Helper()
	m := receivedRE.FindStringSubmatch(stderr)
	require.NotNil(t, m, "no summary in %q", stderr)
	n, err := strconv.ParseInt(m[1], 10, 64)
	require.NoError(t, err)
	return n
}

// get -r mirrors a tree with its bytes and mtimes; run again it fetches nothing; interrupted,
// it resumes the partial file rather than starting it again; changed and missing files are
// fetched again; a file that cannot be written is reported while the others complete.
func TestGetMirror(t *testing.T) {
	netns.Require(t)
	src := t.TempDir()
	makeTree(t, src)
	// One bigger file, so that an interruption finds a partial one: 96 MiB of holes.
	require.NoError(t, os.Truncate(createEmpty(t, filepath.Join(src, "d1", "huge.bin")), 96<<20))
	d := startDaemon(t, "--listen", "127.0.0.1:0", src)
	dest := filepath.Join(t.TempDir(), "mirror")

	// 1. Interrupted while the big file streams: exit 130, a partial file and its sidecar.
	cmd := exec.Command(binPath, "get", "-r", d.link, ".", dest)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	huge := filepath.Join(dest, "d1", "huge.bin")
	waitSize(t, huge, 8<<20, exited)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case err := <-exited:
		assert.Equal(t, 130, exitCode(err), stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("get -r still running 10 s after SIGINT")
	}
	assert.Contains(t, stderr.String(), "rerun the same command to resume")
	require.FileExists(t, sidecar(huge))
	st, err := os.Stat(huge)
	require.NoError(t, err)
	require.Less(t, st.Size(), int64(96<<20))

	// 2. The rerun resumes: it receives exactly the bytes not yet on disk, and the tree is
	// the daemon's, bytes and mtimes.
	var total, have int64
	wantSums, wantTimes := treeState(t, src)
	for rel := range wantSums {
		fi, err := os.Stat(filepath.Join(src, rel))
		require.NoError(t, err)
		total += fi.Size()
		if fi, err := os.Stat(filepath.Join(dest, rel)); err == nil {
			have += fi.Size()
		}
	}
	stdout, errOut, err := rangecast(t.Context(), "get", "-r", d.link, ".", dest)
	require.NoError(t, err, errOut)
	assert.Equal(t, total-have, received(t, errOut), "bytes received by the rerun")
	gotSums, gotTimes := treeState(t, dest)
	assert.Equal(t, wantSums, gotSums)
	assert.Equal(t, wantTimes, gotTimes, "mtimes kept")
	assert.DirExists(t, filepath.Join(dest, "emptydir"))
	assert.NoFileExists(t, sidecar(huge))
	assert.Contains(t, stdout, wantSums["d1/huge.bin"]+"  "+huge+"\n")
	assert.Contains(t, errOut, "0 failed")

	// 3. Again: nothing to fetch.
	stdout, errOut, err = rangecast(t.Context(), "get", "-r", d.link, ".", dest)
	require.NoError(t, err, errOut)
	assert.Empty(t, stdout)
	assert.Contains(t, errOut, "9 files: 0 fetched, 9 unchanged, 0 failed")
	assert.Equal(t, int64(0), received(t, errOut))

	// 4. A changed file (same size, new bytes and mtime), a missing one, a local edit that
	// kept the size but not the mtime: those three are fetched again, the rest skipped.
	require.NoError(t, os.WriteFile(filepath.Join(src, "a.txt"), []byte("HELLO"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(dest, "z", "131072.bin")))
	require.NoError(t, os.WriteFile(filepath.Join(dest, "d1", "d2", "d3", "deep.txt"), []byte("local edit!!"), 0o644))
	_, errOut, err = rangecast(t.Context(), "get", "-r", d.link, ".", dest)
	require.NoError(t, err, errOut)
	assert.Contains(t, errOut, "9 files: 3 fetched, 6 unchanged, 0 failed")
	assert.Equal(t, int64(5+131072+12), received(t, errOut))
	wantSums, wantTimes = treeState(t, src)
	gotSums, gotTimes = treeState(t, dest)
	assert.Equal(t, wantSums, gotSums)
	assert.Equal(t, wantTimes, gotTimes)

	// 6. A file that cannot be written (a directory is in its place) fails alone.
	require.NoError(t, os.Remove(filepath.Join(dest, "a.txt")))
	require.NoError(t, os.Mkdir(filepath.Join(dest, "a.txt"), 0o755))
	require.NoError(t, os.Remove(filepath.Join(dest, "d1", "b.bin")))
	_, errOut, err = rangecast(t.Context(), "get", "-r", d.link, ".", dest)
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err))
	assert.Contains(t, errOut, "a.txt")
	assert.Contains(t, errOut, "1 failed")
	assert.Equal(t, fileSum(t, filepath.Join(src, "d1", "b.bin")), fileSum(t, filepath.Join(dest, "d1", "b.bin")))
}

// get -c --force resumes a partial file rangecast did not record once its last 64 KiB match
// the remote bytes, and refuses one whose tail differs; with a recorded ETag it stays strict.
func TestGetForceResume(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", dataDir)
	mid := bigBytes[:16<<20]
	dir := t.TempDir()
	out := filepath.Join(dir, "mid.bin")
	require.NoError(t, os.WriteFile(out, mid[:10<<20], 0o644))

	_, stderr, err := rangecast(t.Context(), "get", "-c", "-o", out, d.link, "mid.bin")
	require.Error(t, err)
	assert.Contains(t, stderr, "--force", "the error says how to go on")

	// A tail that differs: refused, the file untouched.
	bad := bytes.Clone(mid[:10<<20])
	bad[len(bad)-1000] ^= 1
	require.NoError(t, os.WriteFile(out, bad, 0o644))
	_, stderr, err = rangecast(t.Context(), "get", "-c", "--force", "-o", out, d.link, "mid.bin")
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err))
	assert.Contains(t, stderr, "refusing to resume")
	assert.Equal(t, sum(bad), fileSum(t, out))
	assert.NoFileExists(t, sidecar(out))

	// The right prefix: resumed to the right sha256.
	require.NoError(t, os.WriteFile(out, mid[:10<<20], 0o644))
	stdout, stderr, err := rangecast(t.Context(), "get", "-c", "--force", "-o", out, d.link, "mid.bin")
	require.NoError(t, err, stderr)
	assert.Equal(t, midSum+"  "+out+"\n", stdout)
	assert.Equal(t, midSum, fileSum(t, out))
	assert.NoFileExists(t, sidecar(out))

	// A short prefix (under the 64 KiB window) too.
	require.NoError(t, os.WriteFile(out, mid[:1000], 0o644))
	_, stderr, err = rangecast(t.Context(), "get", "-c", "--force", "-o", out, d.link, "mid.bin")
	require.NoError(t, err, stderr)
	assert.Equal(t, midSum, fileSum(t, out))

	// A recorded ETag of another version: --force does not override it.
	require.NoError(t, os.WriteFile(out, mid[:10<<20], 0o644))
	require.NoError(t, os.WriteFile(sidecar(out), []byte("another-version\n"), 0o644))
	_, stderr, err = rangecast(t.Context(), "get", "-c", "--force", "-o", out, d.link, "mid.bin")
	require.Error(t, err)
	assert.Contains(t, stderr, "changed since")

	_, stderr, err = rangecast(t.Context(), "get", "--force", "-o", out, d.link, "mid.bin")
	assert.Equal(t, 2, exitCode(err))
	assert.Contains(t, stderr, "--force")
}
