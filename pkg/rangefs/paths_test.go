package rangefs

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/wire"
)

// The tree every path test serves:
//
//	tmp/outside/secret        12345 bytes that must never be reachable
//	tmp/root/good.txt         a file that always works, to show the session survived
//	tmp/root/etc/passwd       decoy: what "/etc/passwd" means once the client strips the slash
//	tmp/root/<255 × "n">      the longest name Linux allows
const (
	goodFile   = "good.txt"
	secretSize = 12345
)

// pathsTree builds the tree above and returns the root and the outside directory.
func pathsTree(t *testing.T) (root, outside string) {
	t.Helper()
	tmp := t.TempDir()
	root = filepath.Join(tmp, "root")
	outside = filepath.Join(tmp, "outside")
	writeRandom(t, outside, "secret", secretSize)
	writeRandom(t, root, goodFile, 1000)
	writeRandom(t, root, "etc/passwd", 77)
	writeRandom(t, root, strings.Repeat("n", wire.MaxName), 10)
	return root, outside
}

// symlinkOrSkip makes a symbolic link, skipping the test where the platform refuses.
func symlinkOrSkip(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		if runtime.GOOS == "js" || runtime.GOOS == "windows" {
			t.Skipf("%s: this platform's file system refuses symlinks: %v", runtime.GOOS, err)
		}
		require.NoError(t, err)
	}
}

// countingTransport counts the messages a Client writes, to tell a local refusal (nothing
// sent) from a server's.
type countingTransport struct {
	Transport
	writes atomic.Int64
	delay  time.Duration // how long each write waits before it is sent
}

func (c *countingTransport) Write(p []byte) (int, error) {
	c.writes.Add(1)
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	return c.Transport.Write(p)
}

func (c *countingTransport) MaxMessageSize() int { return transportMax(c.Transport) }

// startCountingSession is startSession with the client's writes counted.
func startCountingSession(t *testing.T, dir string) (*Client, *countingTransport) {
	t.Helper()
	return startDelayedSession(t, dir, 0)
}

// startDelayedSession is startCountingSession with each of the client's writes held back by
// delay.
func startDelayedSession(t *testing.T, dir string, delay time.Duration) (*Client, *countingTransport) {
	t.Helper()
	ct := &countingTransport{delay: delay}
	ts := startSessionOver(t, dir, ServerOptions{}, ClientOptions{}, func(a Transport) Transport {
		ct.Transport = a
		return ct
	})
	return ts.c, ct
}

// assertStatusErr checks that err is a *StatusError with status, and that it matches every
// sentinel in is.
func assertStatusErr(t *testing.T, err error, status wire.Status, is ...error) {
	t.Helper()
	var se *StatusError
	if !assert.ErrorAs(t, err, &se) {
		return
	}
	assert.Equal(t, status, se.Status, "status of %v", err)
	for _, target := range is {
		assert.ErrorIs(t, err, target)
	}
}

// clientOps are the client calls that take a path.
var clientOps = []struct {
	name string
	do   func(ctx context.Context, c *Client, p string) error
}{
	{"Stat", func(ctx context.Context, c *Client, p string) error { _, err := c.Stat(ctx, p); return err }},
	{"Open", func(ctx context.Context, c *Client, p string) error {
		f, err := c.Open(ctx, p)
		if err == nil {
			_ = f.Close()
		}
		return err
	}},
	{"ListPage", func(ctx context.Context, c *Client, p string) error {
		_, _, err := c.ListPage(ctx, p, "", 0)
		return err
	}},
	{"ReadDir", func(ctx context.Context, c *Client, p string) error { _, err := c.ReadDir(ctx, p); return err }},
}

// rawOps are the requests that carry a path, as a raw peer sends them.
var rawOps = []struct {
	name string
	req  func(p string) wire.Frame
}{
	{"STAT", func(p string) wire.Frame { return &wire.Stat{Path: p} }},
	{"OPEN", func(p string) wire.Frame { return &wire.Open{Path: p} }},
	{"READ", func(p string) wire.Frame { return &wire.Read{Path: p, Length: 1 << 20} }},
	{"LIST", func(p string) wire.Frame { return &wire.List{Path: p} }},
}

// rawAsk sends req on a new stream and returns the END that closes it, with the types of the
// frames that came before it on that stream.
func (rp *rawPeer) rawAsk(stream *uint32, req wire.Frame) (*wire.End, []wire.Type) {
	rp.t.Helper()
	*stream++
	id := *stream
	rp.send(id, req)
	var before []wire.Type
	for {
		h, f := rp.recv()
		if h.Stream != id {
			continue
		}
		if e, ok := f.(*wire.End); ok {
			return e, before
		}
		before = append(before, h.Type)
	}
}

// assertRawAlive shows the session still serves: STAT of a good file gets INFO then END OK.
func assertRawAlive(t *testing.T, rp *rawPeer, stream *uint32) {
	t.Helper()
	end, before := rp.rawAsk(stream, &wire.Stat{Path: goodFile})
	assert.Equal(t, wire.StatusOK, end.Status, "session broken after a refusal: %q", end.Message)
	assert.Equal(t, []wire.Type{wire.TypeInfo}, before)
}

// assertClientAlive shows the session still serves after a refusal.
func assertClientAlive(t *testing.T, c *Client) {
	t.Helper()
	fi, err := c.Stat(t.Context(), goodFile)
	if assert.NoError(t, err, "session broken after a refusal") {
		assert.Equal(t, int64(1000), fi.Size())
	}
}

// longPath is a path of n bytes made of short valid elements.
func longPath(n int) string {
	p := strings.Repeat("abcdefg/", n/8+1)
	p = p[:n]
	return strings.TrimSuffix(p, "/") + "x"
}

// Paths the client refuses before sending anything. Each is refused with StatusInvalidPath,
// which matches both ErrInvalidPath and fs.ErrInvalid.
func TestHostilePathRefusedByClient(t *testing.T) {
	root, _ := pathsTree(t)
	c, ct := startCountingSession(t, root)

	tests := []struct {
		name string
		path string
	}{
		{"dotdot", ".."},
		{"dotdot below root", "a/../../etc/passwd"},
		{"dotdot with leading slash", "/../etc/passwd"},
		{"dot element", "a/./b"},
		{"empty element", "a//b"},
		{"NUL byte", "good.txt\x00.png"},
		{"backslash", `..\..\etc\passwd`},
		{"single backslash", `a\b`},
		{"invalid UTF-8", "a/\xff\xfe"},
		{"name of 256 bytes", strings.Repeat("n", wire.MaxName+1)},
		{"name of 4 KiB", strings.Repeat("n", 4096)},
		{"path longer than MaxPath", longPath(wire.MaxPath + 1)},
	}
	for _, tt := range tests {
		for _, op := range clientOps {
			t.Run(tt.name+"/"+op.name, func(t *testing.T) {
				before := ct.writes.Load()
				err := op.do(t.Context(), c, tt.path)
				assertStatusErr(t, err, wire.StatusInvalidPath, ErrInvalidPath, fs.ErrInvalid)
				assert.NotErrorIs(t, err, fs.ErrNotExist)
				assert.Equal(t, before, ct.writes.Load(), "the client sent a request for a path it must refuse")
				assertClientAlive(t, c)
			})
		}
		t.Run(tt.name+"/FS.Open", func(t *testing.T) {
			_, err := c.FS(t.Context()).Open(tt.path)
			var pe *fs.PathError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.path, pe.Path)
			assert.ErrorIs(t, err, fs.ErrInvalid)
			assertClientAlive(t, c)
		})
	}
}

// A leading slash is stripped on purpose: "/etc/passwd" means the file of that name inside the
// root, never the server's.
func TestClientAbsolutePathStaysInRoot(t *testing.T) {
	root, _ := pathsTree(t)
	want, err := os.ReadFile(filepath.Join(root, "etc", "passwd"))
	require.NoError(t, err)
	ts := startSession(t, root, ServerOptions{}, ClientOptions{})

	fi, err := ts.c.Stat(t.Context(), "/etc/passwd")
	require.NoError(t, err)
	assert.Equal(t, int64(len(want)), fi.Size())

	f, err := ts.c.Open(t.Context(), "/etc/passwd")
	require.NoError(t, err)
	defer f.Close()
	got := make([]byte, 4096)
	n, _ := f.ReadAt(got, 0)
	assert.Equal(t, sum(want), sum(got[:n]))

	_, err = ts.c.Stat(t.Context(), "/etc/shadow")
	assertStatusErr(t, err, wire.StatusNotFound, fs.ErrNotExist)
	assertClientAlive(t, ts.c)
}

// What the client refuses locally, a raw peer sends anyway: the server must refuse every one,
// on every request type, with an END and nothing before it, and keep the session.
func TestHostilePathRefusedByServer(t *testing.T) {
	root, _ := pathsTree(t)
	rp := startRaw(t, root, ServerOptions{}, nil)
	var stream uint32

	tests := []struct {
		name   string
		path   string
		status wire.Status
		is     []error
	}{
		{"empty", "", wire.StatusInvalidPath, []error{ErrInvalidPath, fs.ErrInvalid}},
		{"dotdot", "..", wire.StatusInvalidPath, []error{ErrInvalidPath, fs.ErrInvalid}},
		{"dotdot below root", "a/../../etc/passwd", wire.StatusInvalidPath, []error{ErrInvalidPath, fs.ErrInvalid}},
		{"absolute", "/etc/passwd", wire.StatusInvalidPath, []error{ErrInvalidPath, fs.ErrInvalid}},
		{"absolute root", "/", wire.StatusInvalidPath, []error{ErrInvalidPath, fs.ErrInvalid}},
		{"trailing slash", "etc/", wire.StatusInvalidPath, []error{ErrInvalidPath, fs.ErrInvalid}},
		{"dot element", "./good.txt", wire.StatusInvalidPath, []error{ErrInvalidPath, fs.ErrInvalid}},
		{"NUL byte", "good.txt\x00.png", wire.StatusInvalidPath, []error{ErrInvalidPath, fs.ErrInvalid}},
		{"backslash", `..\..\etc\passwd`, wire.StatusInvalidPath, []error{ErrInvalidPath, fs.ErrInvalid}},
		{"invalid UTF-8", "\xff\xfe", wire.StatusInvalidPath, []error{ErrInvalidPath, fs.ErrInvalid}},
		{"name of 256 bytes", strings.Repeat("n", wire.MaxName+1), wire.StatusInvalidPath, []error{ErrInvalidPath, fs.ErrInvalid}},
		{"name of 4 KiB", strings.Repeat("n", 4096), wire.StatusInvalidPath, []error{ErrInvalidPath, fs.ErrInvalid}},
		// The decoder refuses a path field above MaxPath before the server looks at it: a
		// malformed request, which ends its own stream only.
		{"path longer than MaxPath", longPath(wire.MaxPath + 1), wire.StatusBadRequest, []error{fs.ErrInvalid}},
	}
	for _, tt := range tests {
		for _, op := range rawOps {
			t.Run(tt.name+"/"+op.name, func(t *testing.T) {
				end, before := rp.rawAsk(&stream, op.req(tt.path))
				assert.Equal(t, tt.status, end.Status, "END %v: %q", end.Status, end.Message)
				assert.Empty(t, before, "frames sent before the refusal")
				// The client would turn this END into a StatusError; check what it matches.
				err := error(&StatusError{Op: op.name, Path: tt.path, Status: end.Status, Message: end.Message})
				assertStatusErr(t, err, tt.status, tt.is...)
				assert.NotErrorIs(t, err, fs.ErrNotExist)
				assertRawAlive(t, rp, &stream)
			})
		}
	}
}

// The longest name Linux allows is served; one byte more is refused (above).
func TestLongestNameServed(t *testing.T) {
	root, _ := pathsTree(t)
	ts := startSession(t, root, ServerOptions{}, ClientOptions{})
	fi, err := ts.c.Stat(t.Context(), strings.Repeat("n", wire.MaxName))
	require.NoError(t, err)
	assert.Equal(t, int64(10), fi.Size())
	assert.Equal(t, strings.Repeat("n", wire.MaxName), fi.Name())
}

// Symbolic links inside the root that lead out of it — absolute or relative, to a file or a
// directory, directly or through another link — are refused with StatusForbidden on every
// request, and the session goes on.
func TestSymlinkOutOfRootRefused(t *testing.T) {
	root, outside := pathsTree(t)
	symlinkOrSkip(t, filepath.Join(outside, "secret"), filepath.Join(root, "abs-file"))
	symlinkOrSkip(t, outside, filepath.Join(root, "abs-dir"))
	symlinkOrSkip(t, "../outside/secret", filepath.Join(root, "rel-file"))
	symlinkOrSkip(t, "../outside", filepath.Join(root, "rel-dir"))
	symlinkOrSkip(t, "rel-dir", filepath.Join(root, "hop"))
	require.NoError(t, os.Mkdir(filepath.Join(root, "sub"), 0o755))
	symlinkOrSkip(t, "../../outside", filepath.Join(root, "sub", "up2"))

	ts := startSession(t, root, ServerOptions{}, ClientOptions{})
	rp := startRaw(t, root, ServerOptions{}, nil)
	var stream uint32

	paths := []string{
		"abs-file", "abs-dir", "abs-dir/secret",
		"rel-file", "rel-dir", "rel-dir/secret",
		"hop", "hop/secret", "sub/up2", "sub/up2/secret",
	}
	for _, p := range paths {
		for _, op := range clientOps {
			t.Run(p+"/client "+op.name, func(t *testing.T) {
				err := op.do(t.Context(), ts.c, p)
				assertStatusErr(t, err, wire.StatusForbidden, fs.ErrPermission)
				assert.NotErrorIs(t, err, fs.ErrNotExist)
				assertClientAlive(t, ts.c)
			})
		}
		for _, op := range rawOps {
			t.Run(p+"/raw "+op.name, func(t *testing.T) {
				end, before := rp.rawAsk(&stream, op.req(p))
				assert.Equal(t, wire.StatusForbidden, end.Status, "END %v: %q", end.Status, end.Message)
				assert.Empty(t, before, "frames sent before the refusal")
				assert.NotContains(t, end.Message, outside, "the refusal leaks a server path")
				assertRawAlive(t, rp, &stream)
			})
		}
	}

	// The listing shows the links as links, without the size of what they point at.
	entries, more, err := ts.c.ListPage(t.Context(), ".", "", 0)
	require.NoError(t, err)
	assert.False(t, more)
	byName := map[string]*FileInfo{}
	for _, e := range entries {
		byName[e.Name()] = e
	}
	for _, name := range []string{"abs-file", "abs-dir", "rel-file", "rel-dir", "hop"} {
		e := byName[name]
		if assert.NotNil(t, e, "entry %s missing from the listing", name) {
			assert.Equal(t, fs.ModeSymlink, e.Mode().Type(), "entry %s", name)
			assert.Zero(t, e.Size(), "entry %s leaks the size of its target", name)
			assert.False(t, e.IsDir(), "entry %s", name)
		}
	}
}

// Links that stay inside the root are followed, including one that climbs with "..".
func TestSymlinkInsideRootFollowed(t *testing.T) {
	root, _ := pathsTree(t)
	want := writeRandom(t, root, "data/file.bin", 300<<10)
	symlinkOrSkip(t, "data/file.bin", filepath.Join(root, "file-link"))
	symlinkOrSkip(t, "data", filepath.Join(root, "dir-link"))
	require.NoError(t, os.Mkdir(filepath.Join(root, "nested"), 0o755))
	symlinkOrSkip(t, "../data/file.bin", filepath.Join(root, "nested", "up-link"))
	ts := startSession(t, root, ServerOptions{}, ClientOptions{})

	for _, p := range []string{"file-link", "dir-link/file.bin", "nested/up-link"} {
		t.Run(p, func(t *testing.T) {
			fi, err := ts.c.Stat(t.Context(), p)
			require.NoError(t, err)
			assert.True(t, fi.Mode().IsRegular())
			assert.Equal(t, int64(len(want)), fi.Size())

			f, err := ts.c.Open(t.Context(), p)
			require.NoError(t, err)
			defer f.Close()
			got := make([]byte, len(want))
			n, err := f.ReadAt(got, 0)
			require.NoError(t, err)
			assert.Equal(t, len(want), n)
			assert.Equal(t, sum(want), sum(got))
		})
	}
	t.Run("dir-link listed", func(t *testing.T) {
		es, err := ts.c.ReadDir(t.Context(), "dir-link")
		require.NoError(t, err)
		require.Len(t, es, 1)
		assert.Equal(t, "file.bin", es[0].Name())
		info, err := es[0].Info()
		require.NoError(t, err)
		assert.Equal(t, int64(len(want)), info.Size())
	})
	t.Run("raw READ by path", func(t *testing.T) {
		rp := startRaw(t, root, ServerOptions{}, nil)
		rp.send(1, &wire.Read{Path: "nested/up-link", Length: uint64(len(want))})
		var got []byte
		for {
			h, f := rp.recv()
			require.Equal(t, uint32(1), h.Stream)
			if e, ok := f.(*wire.End); ok {
				assert.Equal(t, wire.StatusOK, e.Status, e.Message)
				break
			}
			d, ok := f.(*wire.Data)
			require.True(t, ok, "unexpected %v", h.Type)
			require.Equal(t, uint64(len(got)), d.Offset)
			got = append(got, d.Bytes...)
		}
		assert.Equal(t, sum(want), sum(got))
	})
}

// mkfifo makes a named pipe. The syscall is not in package syscall for js/wasm, so the test
// calls mkfifo(1) to keep this file building there.
func mkfifo(t *testing.T, p string) {
	t.Helper()
	if runtime.GOOS == "js" || runtime.GOOS == "windows" {
		t.Skipf("%s: no named pipes (Node's fs has no mkfifo)", runtime.GOOS)
	}
	out, err := exec.Command("mkfifo", p).CombinedOutput()
	require.NoError(t, err, "mkfifo: %s", out)
}

// A FIFO with no writer must not hang OPEN or READ: the server refuses it as not a regular
// file, promptly, and the session goes on. STAT describes it; LIST says it is no directory.
func TestFIFORefused(t *testing.T) {
	root, _ := pathsTree(t)
	fifo := filepath.Join(root, "fifo")
	mkfifo(t, fifo)
	ts := startSession(t, root, ServerOptions{}, ClientOptions{})
	rp := startRaw(t, root, ServerOptions{}, nil)
	// Should a server ever block in open(2) on the FIFO, opening it read-write (which never
	// blocks on Linux) releases it, so that the sessions above can shut down and the test
	// fails instead of hanging. Registered last, it runs first.
	t.Cleanup(func() {
		if f, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
			_ = f.Close()
		}
	})

	const bound = 5 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), bound)
	defer cancel()

	fi, err := ts.c.Stat(ctx, "fifo")
	require.NoError(t, err)
	assert.Equal(t, fs.ModeNamedPipe, fi.Mode().Type())

	start := time.Now()
	_, err = ts.c.Open(ctx, "fifo")
	assertStatusErr(t, err, wire.StatusNotRegular)
	assert.False(t, errors.Is(err, context.DeadlineExceeded), "OPEN of a FIFO hung")
	assert.Less(t, time.Since(start), bound)
	assertClientAlive(t, ts.c)

	_, _, err = ts.c.ListPage(ctx, "fifo", "", 0)
	assertStatusErr(t, err, wire.StatusNotDirectory)
	assertClientAlive(t, ts.c)

	_, err = ts.c.FS(ctx).Open("fifo")
	var pe *fs.PathError
	assert.ErrorAs(t, err, &pe)
	assertStatusErr(t, err, wire.StatusNotRegular)

	var stream uint32
	for _, op := range rawOps {
		t.Run("raw "+op.name, func(t *testing.T) {
			want := map[string]wire.Status{"STAT": wire.StatusOK, "OPEN": wire.StatusNotRegular, "READ": wire.StatusNotRegular, "LIST": wire.StatusNotDirectory}[op.name]
			end, before := rp.rawAsk(&stream, op.req("fifo"))
			assert.Equal(t, want, end.Status, "END %v: %q", end.Status, end.Message)
			if want != wire.StatusOK {
				assert.Empty(t, before)
			}
			assertRawAlive(t, rp, &stream)
		})
	}
}

// A Unix socket is no regular file either. wire.StatusNotRegular is documented as "OPEN/READ
// of a directory, FIFO, device or socket", and LIST of anything but a directory is
// StatusNotDirectory; open(2) of a socket fails with ENXIO, which must not come back as an
// i/o error.
func TestSocketRefused(t *testing.T) {
	if runtime.GOOS == "js" || runtime.GOOS == "windows" {
		// js/wasm's net.Listen("unix") is simulated in memory and leaves no file behind.
		t.Skipf("%s: no Unix socket files", runtime.GOOS)
	}
	root, _ := pathsTree(t)
	l, err := net.Listen("unix", filepath.Join(root, "sock"))
	require.NoError(t, err)
	defer l.Close()
	ts := startSession(t, root, ServerOptions{}, ClientOptions{})
	rp := startRaw(t, root, ServerOptions{}, nil)

	fi, err := ts.c.Stat(t.Context(), "sock")
	require.NoError(t, err)
	assert.Equal(t, fs.ModeSocket, fi.Mode().Type())

	_, err = ts.c.Open(t.Context(), "sock")
	assertStatusErr(t, err, wire.StatusNotRegular)
	assertClientAlive(t, ts.c)
	_, _, err = ts.c.ListPage(t.Context(), "sock", "", 0)
	assertStatusErr(t, err, wire.StatusNotDirectory)
	assertClientAlive(t, ts.c)

	var stream uint32
	for _, op := range rawOps {
		t.Run("raw "+op.name, func(t *testing.T) {
			want := map[string]wire.Status{"STAT": wire.StatusOK, "OPEN": wire.StatusNotRegular, "READ": wire.StatusNotRegular, "LIST": wire.StatusNotDirectory}[op.name]
			end, _ := rp.rawAsk(&stream, op.req("sock"))
			assert.Equal(t, want, end.Status, "END %v: %q", end.Status, end.Message)
			assertRawAlive(t, rp, &stream)
		})
	}
}
