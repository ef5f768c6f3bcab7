package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
)

type mountProc struct {
	cmd    *exec.Cmd
	dir    string
	stderr *syncBuffer
	exited chan error
}

// startMount runs `rangecast mount LINK DIR` and waits until it has mounted. Where FUSE is
// missing it skips, saying so; where /dev/fuse exists but mounting fails it skips too,
// unless RANGECAST_REQUIRE_NETNS=1 asks for every process test to run: then it fails.
func startMount(t *testing.T, link string) *mountProc {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("SKIPPING: no /dev/fuse here (%v): the FUSE mount cannot be tested", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(binPath, "mount", link, dir)
	m := &mountProc{cmd: cmd, dir: dir, stderr: &syncBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = m.stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	go func() { m.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-m.exited:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
			}
		}
		// In case it was killed or failed to unmount: never leave a mount behind.
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil && err != syscall.EINVAL {
			t.Logf("unmount %s: %v", dir, err)
		}
		if t.Failed() {
			t.Logf("mount stderr:\n%s", m.stderr.String())
		}
	})
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		err := <-m.exited
		msg := fmt.Sprintf("/dev/fuse exists but rangecast mount failed (%v): %s", err, m.stderr.String())
		if netns.Required() {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING: " + msg)
	}
	return m
}

// ffprobe and ffmpeg read and seek a remote MP4 through the mount: the same frames as the
// local file, from the start and after a seek.
func TestMountMedia(t *testing.T) {
	netns.Require(t)
	dir := media(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", dir)
	m := startMount(t, d.link)
	for _, name := range []string{"a.mp4", "fast.mp4"} {
		t.Run(name, func(t *testing.T) {
			local, remote := filepath.Join(dir, name), filepath.Join(m.dir, name)
			assert.Equal(t, probeDuration(t, local), probeDuration(t, remote))
			assert.Equal(t, decodeSum(t, local, ""), decodeSum(t, remote, ""), "decoded frames")
			assert.Equal(t, decodeSum(t, local, "5.5"), decodeSum(t, remote, "5.5"), "decoded frames after a seek to 5.5 s")
		})
	}
}

// fs.WalkDir over the mount sees the served tree, every file with its bytes, and
// testing/fstest.TestFS finds the mount a correct file system.
func TestMountWalkAndTestFS(t *testing.T) {
	netns.Require(t)
	root := t.TempDir()
	files := makeTree(t, root)
	d := startDaemon(t, "--listen", "127.0.0.1:0", root)
	m := startMount(t, d.link)
	got := map[string]string{}
	var dirs []string
	require.NoError(t, fs.WalkDir(os.DirFS(m.dir), ".", func(p string, e fs.DirEntry, err error) error {
		require.NoError(t, err)
		if e.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		b, err := os.ReadFile(filepath.Join(m.dir, p))
		require.NoError(t, err, p)
		got[p] = sum(b)
		return nil
	}))
	want := map[string]string{}
	for p, b := range files {
		want[p] = sum(b)
	}
	assert.Equal(t, want, got)
	assert.Equal(t, []string{".", "d1", "d1/d2", "d1/d2/d3", "emptydir", "z"}, dirs)

	var expected []string
	for p := range files {
		expected = append(expected, p)
	}
	assert.NoError(t, fstest.TestFS(os.DirFS(m.dir), expected...))

	// Read-only: nothing can be created or written.
	assert.ErrorIs(t, os.WriteFile(filepath.Join(m.dir, "new"), []byte("x"), 0o644), syscall.EROFS)
	_, err := os.OpenFile(filepath.Join(m.dir, "a.txt"), os.O_WRONLY, 0)
	assert.ErrorIs(t, err, syscall.EROFS)
}

// Sixteen readers at once, sequential and random, each file read matching the local sha256;
// then SIGINT unmounts and exits 0.
func TestMountConcurrentReadersThenUnmount(t *testing.T) {
	netns.Require(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", dataDir)
	m := startMount(t, d.link)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			f, err := os.Open(filepath.Join(m.dir, "mid.bin"))
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			if i%2 == 0 { // sequential, whole file
				h := sha256.New()
				if _, err := io.Copy(h, f); err != nil {
					errs <- err
					return
				}
				if got := hex.EncodeToString(h.Sum(nil)); got != midSum {
					errs <- fmt.Errorf("reader %d: sha256 %s, want %s", i, got, midSum)
				}
				return
			}
			rng := rand.New(rand.NewPCG(uint64(i), 9))
			for range 50 {
				off := rng.Int64N(16 << 20)
				n := min(rng.Int64N(300<<10)+1, 16<<20-off)
				p := make([]byte, n)
				if _, err := f.ReadAt(p, off); err != nil {
					errs <- fmt.Errorf("reader %d: %d+%d: %w", i, off, n, err)
					return
				}
				if sha256.Sum256(p) != sha256.Sum256(bigBytes[off:off+n]) {
					errs <- fmt.Errorf("reader %d: %d+%d: wrong bytes", i, off, n)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}

	require.NoError(t, m.cmd.Process.Signal(syscall.SIGINT))
	select {
	case err := <-m.exited:
		assert.NoError(t, err, m.stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("mount still running 10 s after SIGINT")
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	assert.NotContains(t, string(mounts), " "+m.dir+" ", "still mounted after SIGINT")
	assert.True(t, strings.Contains(m.stderr.String(), "unmounted"))
}

// daemonBytesSent reads the daemon's UDP bytes sent from its metrics at addr.
func daemonBytesSent(t *testing.T, addr string) int64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^rangecast_daemon_bytes_total\{direction="sent"\} (\S+)$`).FindStringSubmatch(scrape(t, addr))
	require.NotNil(t, m, "no bytes sent in the daemon's metrics")
	v, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	return int64(v)
}

// A file opened again after the kernel has looked its name up again (cacheTTL later) is
// read from the pages the kernel kept, not fetched again: a player or ffprobe reopening a
// film does not pay for its index twice.
func TestMountReopenKeepsCache(t *testing.T) {
	netns.Require(t)
	metrics := freeAddr(t)
	d := startDaemon(t, "--listen", "127.0.0.1:0", "--metrics-listen", metrics, dataDir)
	m := startMount(t, d.link)
	name := filepath.Join(m.dir, "mid.bin")
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	require.Equal(t, midSum, sum(b))
	before := daemonBytesSent(t, metrics)
	time.Sleep(cacheTTL + cacheTTL/2) // past the entry and attribute timeouts
	b, err = os.ReadFile(name)
	require.NoError(t, err)
	require.Equal(t, midSum, sum(b))
	sent := daemonBytesSent(t, metrics) - before
	assert.Less(t, sent, int64(1<<20), "bytes the daemon sent for a second read of a 16 MiB file")
}

// A file changed on the daemon shows its new bytes through the mount (once the caches
// have expired), though the kernel keeps what it cached of files across opens.
func TestMountChangedFileShowsNewBytes(t *testing.T) {
	netns.Require(t)
	root := t.TempDir()
	old, changed := bigBytes[:1<<20], bigBytes[1<<20:2<<20]
	p := filepath.Join(root, "f.bin")
	require.NoError(t, os.WriteFile(p, old, 0o644))
	d := startDaemon(t, "--listen", "127.0.0.1:0", root)
	m := startMount(t, d.link)
	b, err := os.ReadFile(filepath.Join(m.dir, "f.bin"))
	require.NoError(t, err)
	require.Equal(t, sum(old), sum(b))

	// Same size, new bytes, a later mtime: written beside and renamed over, as editors do.
	tmp := filepath.Join(root, ".f.bin.new")
	require.NoError(t, os.WriteFile(tmp, changed, 0o644))
	later := time.Now().Add(10 * time.Second)
	require.NoError(t, os.Chtimes(tmp, later, later))
	require.NoError(t, os.Rename(tmp, p))
	var got string
	var rerr error
	if !assert.Eventually(t, func() bool {
		var b []byte
		b, rerr = os.ReadFile(filepath.Join(m.dir, "f.bin"))
		got = sum(b)
		return rerr == nil && got == sum(changed)
	}, 10*time.Second, 200*time.Millisecond, "the mount never showed the new bytes") {
		t.Logf("last read: sha256 %s (the old bytes' %s), err %v", got, sum(old), rerr)
	}
}

// A file replaced on the daemon by another of the same size and mtime, and opened again at
// once (before any cache expires), reads as the new version only: never the old version's
// cached pages mixed with the new one's bytes.
func TestMountReopenOfReplacedFileNeverMixes(t *testing.T) {
	netns.Require(t)
	root := t.TempDir()
	old, changed := bigBytes[:1<<20], bigBytes[1<<20:2<<20]
	p := filepath.Join(root, "f.bin")
	require.NoError(t, os.WriteFile(p, old, 0o644))
	st, err := os.Stat(p)
	require.NoError(t, err)
	d := startDaemon(t, "--listen", "127.0.0.1:0", root)
	m := startMount(t, d.link)

	// The first half is read, so in the kernel's cache.
	f, err := os.Open(filepath.Join(m.dir, "f.bin"))
	require.NoError(t, err)
	half := make([]byte, len(old)/2)
	_, err = f.ReadAt(half, 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Equal(t, sum(old[:len(half)]), sum(half))

	tmp := filepath.Join(root, ".f.bin.new")
	require.NoError(t, os.WriteFile(tmp, changed, 0o644))
	require.NoError(t, os.Chtimes(tmp, st.ModTime(), st.ModTime()))
	require.NoError(t, os.Rename(tmp, p))

	b, err := os.ReadFile(filepath.Join(m.dir, "f.bin"))
	require.NoError(t, err)
	assert.Equal(t, sum(changed), sum(b), "the new version (the old one's sha256 is %s; its first half then the new second half: %s)",
		sum(old), sum(append(append([]byte{}, old[:len(old)/2]...), changed[len(changed)/2:]...)))
}
