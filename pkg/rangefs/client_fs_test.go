package rangefs

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/wire"
)

// manyEntries is the size of the big directory: several LIST pages at every page size used
// below. Under js/wasm, where every file system call is a round trip to Node and each LIST
// page re-reads the whole directory, it is smaller but still more than one default page.
var manyEntries = func() int {
	if onJS {
		return 1200
	}
	return 2500
}()

// fsTree writes a tree with nested and empty directories, empty files, odd names and one
// directory of manyEntries small files; a/b/c/deep.bin and web/page.bin have big bytes. It
// returns the root and the files' paths, a nested one first (fstest.TestFS repeats its
// checks on fs.Sub of the first path's top directory: a small one).
func fsTree(t *testing.T, big int) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	files := []struct {
		name string
		size int
	}{
		{"a/b/c/deep.bin", big + 1},
		{"hello.txt", 13},
		{"empty.txt", 0},
		{"a/b/empty", 0},
		{"a/b/c2/x.json", 42},
		{"web/page.bin", big + 333},
		{"with space/ünïcødé ✓.md", 99},
	}
	var names []string
	for _, f := range files {
		writeRandom(t, dir, f.name, f.size)
		names = append(names, f.name)
	}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "a", "empty-dir"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "many"), 0o755))
	for i := range manyEntries {
		name := fmt.Sprintf("many/f%04d", i)
		// Written directly: writeRandom's MkdirAll per file is slow under Node.
		require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte(name[:i%10]), 0o644))
		if i%500 == 0 {
			names = append(names, name)
		}
	}
	names = append(names, fmt.Sprintf("many/f%04d", manyEntries-1), "a/empty-dir", "many")
	return dir, names
}

// fstest.TestFS walks the remote tree, opening, reading, seeking and listing everything, at
// page sizes that split the big directory into many pages, by count and by frame size. The
// files are small: TestFS reads every file with a ReadAt per byte.
func TestFSConformance(t *testing.T) {
	dir, names := fsTree(t, 3000)
	tests := []struct {
		name string
		so   ServerOptions
		co   ClientOptions
	}{
		{"pages of 100", ServerOptions{ListPage: 100}, ClientOptions{}},
		{"default pages", ServerOptions{}, ClientOptions{}},
		{"pages cut by 16 KiB frames", ServerOptions{MaxFrame: wire.MinFrameSize}, ClientOptions{MaxFrame: wire.MinFrameSize}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if i > 0 && (raceEnabled() || onJS) {
				// About 60,000 requests per run: ten seconds under the race detector.
				t.Skip("race detector or js/wasm: one page size is enough at this cost")
			}
			ts := startSession(t, dir, tt.so, tt.co)
			assert.NoError(t, fstest.TestFS(ts.c.FS(t.Context()), names...))
		})
	}
}

// The big directory comes back in pages with no entry lost or repeated.
func TestListPagesCoverDirectory(t *testing.T) {
	dir, _ := fsTree(t, 1<<20)
	// An entry named "f0000" takes 2+5+8+8+4 bytes; a 16 KiB frame has room for 606 of them
	// after the header and the ENTRIES overhead.
	perFrame := (wire.MinFrameSize - wire.HeaderLen - wire.EntriesOverhead) / wire.EntryLen(&wire.Entry{Name: "f0000"})
	require.Equal(t, 606, perFrame)
	tests := []struct {
		name    string
		so      ServerOptions
		co      ClientOptions
		limit   int
		perPage int
	}{
		{"server page 100", ServerOptions{ListPage: 100}, ClientOptions{}, 0, 100},
		{"client limit 7", ServerOptions{}, ClientOptions{}, 7, 7},
		{"default page 1000", ServerOptions{}, ClientOptions{}, 0, 1000},
		{"16 KiB frames", ServerOptions{MaxFrame: wire.MinFrameSize}, ClientOptions{MaxFrame: wire.MinFrameSize}, 0, perFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startSession(t, dir, tt.so, tt.co)
			var got []string
			pages, after := 0, ""
			for {
				page, more, err := ts.c.ListPage(t.Context(), "many", after, tt.limit)
				require.NoError(t, err)
				pages++
				require.LessOrEqual(t, pages, manyEntries+1, "paging does not end")
				for _, e := range page {
					got = append(got, e.Name())
				}
				if !more {
					break
				}
				require.NotEmpty(t, page, "an empty page that says more")
				after = page[len(page)-1].Name()
			}
			want := make([]string, manyEntries)
			for i := range want {
				want[i] = fmt.Sprintf("f%04d", i)
			}
			assert.Equal(t, want, got)
			assert.Equal(t, (manyEntries+tt.perPage-1)/tt.perPage, pages, "every page but the last is full")

			es, err := ts.c.ReadDir(t.Context(), "many")
			require.NoError(t, err)
			assert.Len(t, es, manyEntries)
		})
	}
}

// walked is what a walk sees of one path.
type walked struct {
	Type fs.FileMode
	Size int64
	Hash string // sha256 of the content, files only
}

// walkTree walks fsys and records every path with its type, size and content hash.
func walkTree(t *testing.T, fsys fs.FS) map[string]walked {
	t.Helper()
	out := map[string]walked{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		w := walked{Type: d.Type()}
		if d.Type().IsRegular() {
			f, err := fsys.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			n, err := io.Copy(h, f)
			_ = f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if n != info.Size() {
				return fmt.Errorf("%s: read %d bytes, size says %d", p, n, info.Size())
			}
			w.Size = info.Size()
			w.Hash = fmt.Sprintf("%x", h.Sum(nil))
		}
		out[p] = w
		return nil
	})
	require.NoError(t, err)
	return out
}

// fs.WalkDir over the remote FS sees the same paths, types, sizes and contents as over
// os.DirFS of the same directory.
func TestWalkMatchesLocal(t *testing.T) {
	dir, _ := fsTree(t, 1<<20)
	ts := startSession(t, dir, ServerOptions{ListPage: 100}, ClientOptions{})
	want := walkTree(t, os.DirFS(dir))
	got := walkTree(t, ts.c.FS(t.Context()))
	require.Len(t, want, manyEntries+16) // the tree as fsTree builds it, so that an empty walk cannot pass
	assert.Equal(t, want, got)
}

// http.FileServer serves the remote FS: ranges get 206 with exactly those bytes, a full GET
// gets 200 with the whole file, a missing file 404, a directory a listing.
func TestHTTPFileServer(t *testing.T) {
	dir, _ := fsTree(t, 1<<20)
	page, err := os.ReadFile(filepath.Join(dir, "web", "page.bin"))
	require.NoError(t, err)
	ts := startSession(t, dir, ServerOptions{ListPage: 100}, ClientOptions{})
	h := http.FileServer(http.FS(ts.c.FS(t.Context())))
	size := strconv.Itoa(len(page))

	get := func(t *testing.T, path string, header ...string) *http.Response {
		t.Helper()
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}
	body := func(t *testing.T, r *http.Response) []byte {
		t.Helper()
		b, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		return b
	}

	t.Run("range", func(t *testing.T) {
		r := get(t, "/web/page.bin", "Range", "bytes=100-199")
		assert.Equal(t, http.StatusPartialContent, r.StatusCode)
		assert.Equal(t, "bytes 100-199/"+size, r.Header.Get("Content-Range"))
		assert.Equal(t, "100", r.Header.Get("Content-Length"))
		assert.Equal(t, sum(page[100:200]), sum(body(t, r)))
	})
	t.Run("range at the end", func(t *testing.T) {
		r := get(t, "/web/page.bin", "Range", "bytes=-1000")
		assert.Equal(t, http.StatusPartialContent, r.StatusCode)
		assert.Equal(t, sum(page[len(page)-1000:]), sum(body(t, r)))
	})
	t.Run("two ranges, backwards", func(t *testing.T) {
		r := get(t, "/web/page.bin", "Range", "bytes=500000-500099,10-19")
		require.Equal(t, http.StatusPartialContent, r.StatusCode)
		ct := r.Header.Get("Content-Type")
		require.True(t, strings.HasPrefix(ct, "multipart/byteranges; boundary="), ct)
		mr := multipart.NewReader(r.Body, strings.TrimPrefix(ct, "multipart/byteranges; boundary="))
		for _, want := range [][]byte{page[500000:500100], page[10:20]} {
			part, err := mr.NextPart()
			require.NoError(t, err)
			b, err := io.ReadAll(part)
			require.NoError(t, err)
			assert.Equal(t, sum(want), sum(b))
		}
		_, err := mr.NextPart()
		assert.Equal(t, io.EOF, err)
	})
	t.Run("full", func(t *testing.T) {
		r := get(t, "/web/page.bin")
		assert.Equal(t, http.StatusOK, r.StatusCode)
		assert.Equal(t, size, r.Header.Get("Content-Length"))
		assert.Equal(t, sum(page), sum(body(t, r)))
	})
	t.Run("empty file", func(t *testing.T) {
		r := get(t, "/empty.txt")
		assert.Equal(t, http.StatusOK, r.StatusCode)
		assert.Empty(t, body(t, r))
	})
	t.Run("missing", func(t *testing.T) {
		r := get(t, "/web/nope.bin")
		assert.Equal(t, http.StatusNotFound, r.StatusCode)
	})
	t.Run("escaping", func(t *testing.T) {
		r := get(t, "/../../etc/passwd")
		assert.NotEqual(t, http.StatusOK, r.StatusCode)
	})
	t.Run("directory listing", func(t *testing.T) {
		r := get(t, "/many/")
		assert.Equal(t, http.StatusOK, r.StatusCode)
		b := string(body(t, r))
		assert.Equal(t, manyEntries, strings.Count(b, "<a href="))
		last := fmt.Sprintf("f%04d", manyEntries-1)
		assert.Contains(t, b, `<a href="`+last+`">`+last+`</a>`)
	})
}

// io.Copy from a file opened through the FS gives the file's bytes.
func TestFSIOCopy(t *testing.T) {
	dir, _ := fsTree(t, 1<<20)
	ts := startSession(t, dir, ServerOptions{}, ClientOptions{})
	fsys := ts.c.FS(t.Context())
	for _, name := range []string{"a/b/c/deep.bin", "web/page.bin", "empty.txt", "with space/ünïcødé ✓.md"} {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
			require.NoError(t, err)
			f, err := fsys.Open(name)
			require.NoError(t, err)
			defer f.Close()
			h := sha256.New()
			n, err := io.Copy(h, f)
			require.NoError(t, err)
			assert.Equal(t, int64(len(want)), n)
			assert.Equal(t, sum(want), [32]byte(h.Sum(nil)))

			got, err := fs.ReadFile(fsys, name)
			require.NoError(t, err)
			assert.Equal(t, sum(want), sum(got))
		})
	}
}

// The FS reports failures as *fs.PathError naming the operation and path, matching the io/fs
// sentinels.
func TestFSErrors(t *testing.T) {
	dir, _ := fsTree(t, 1<<20)
	ts := startSession(t, dir, ServerOptions{}, ClientOptions{})
	fsys := ts.c.FS(t.Context())

	tests := []struct {
		name   string
		do     func() error
		op     string
		path   string
		is     error
		status wire.Status // 0: no StatusError expected (refused locally)
	}{
		{"Open missing", func() error { _, err := fsys.Open("nope"); return err }, "open", "nope", fs.ErrNotExist, wire.StatusNotFound},
		{"Open missing nested", func() error { _, err := fsys.Open("a/b/nope.txt"); return err }, "open", "a/b/nope.txt", fs.ErrNotExist, wire.StatusNotFound},
		{"Open below a file", func() error { _, err := fsys.Open("hello.txt/x"); return err }, "open", "hello.txt/x", fs.ErrNotExist, wire.StatusNotFound},
		{"Stat missing", func() error { _, err := fs.Stat(fsys, "a/nope"); return err }, "stat", "a/nope", fs.ErrNotExist, wire.StatusNotFound},
		{"ReadDir missing", func() error { _, err := fs.ReadDir(fsys, "nope"); return err }, "readdir", "nope", fs.ErrNotExist, wire.StatusNotFound},
		{"ReadFile missing", func() error { _, err := fs.ReadFile(fsys, "nope"); return err }, "open", "nope", fs.ErrNotExist, wire.StatusNotFound},
		{"Open invalid", func() error { _, err := fsys.Open("../etc/passwd"); return err }, "open", "../etc/passwd", fs.ErrInvalid, 0},
		{"Stat invalid", func() error { _, err := fs.Stat(fsys, "/abs"); return err }, "stat", "/abs", fs.ErrInvalid, 0},
		{"ReadDir of a file", func() error { _, err := fs.ReadDir(fsys, "hello.txt"); return err }, "readdir", "hello.txt", nil, wire.StatusNotDirectory},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			var pe *fs.PathError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.op, pe.Op)
			assert.Equal(t, tt.path, pe.Path)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			var se *StatusError
			if tt.status != 0 {
				require.ErrorAs(t, err, &se)
				assert.Equal(t, tt.status, se.Status)
			} else {
				assert.False(t, errors.As(err, &se), "refused by the server, not locally: %v", err)
			}
		})
	}
}
