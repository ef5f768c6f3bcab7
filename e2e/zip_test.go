package e2e

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
)

// "Download as zip" saves the folder, subfolders included, as one ZIP through the worker into
// the browser's download manager: every file in it with its bytes (sha256), and the
// Downloads panel follows it.
func TestFolderAsZip(t *testing.T) {
	netns.Require(t)
	requireDist(t, "client-zip.js")
	root := t.TempDir()
	dir := filepath.Join(root, "album")
	want := map[string]string{}
	for name, n := range map[string]int{"a.bin": 5 << 20, "sub/b.txt": 1000, "sub/deeper/c.bin": 300 << 10, "empty.txt": 0} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		want[name] = writeRandom(t, p, int64(n))
	}
	must(os.WriteFile(filepath.Join(root, "outside.txt"), []byte("not in the zip"), 0o644))
	ctx, _ := startApp(t, root)
	dl, wait := allowDownloads(t, ctx)
	_, err := eval[bool](ctx, `(app.navigate("/album"), true)`)
	require.NoError(t, err)
	waitFor(t, ctx, `app.dir === "/album" && !!document.querySelector('#files tr[data-path="/album/a.bin"]') && !document.querySelector("#zip-button").hidden`, "the folder and its zip button")
	_, err = eval[bool](ctx, `(document.querySelector("#zip-button").click(), true)`)
	require.NoError(t, err)
	w, err := eval[downloadWatch](ctx, watchDownloadJS)
	require.NoError(t, err)
	t.Logf("the panel showed %v, then %q", w.Seen, w.Meta)
	require.NotEmpty(t, w.Seen)
	assert.Equal(t, "done 100 worker", w.Seen[len(w.Seen)-1])
	wait(60 * time.Second)
	shot(t, ctx, "zip-download.png")

	zr, err := zip.OpenReader(filepath.Join(dl, "album.zip"))
	require.NoError(t, err)
	defer zr.Close()
	got := map[string]string{}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.FileInfo().IsDir() {
			continue
		}
		r, err := f.Open()
		require.NoError(t, err)
		h := sha256.New()
		_, err = io.Copy(h, r)
		require.NoError(t, err, f.Name)
		r.Close()
		got[f.Name] = hex.EncodeToString(h.Sum(nil))
	}
	sort.Strings(names)
	t.Logf("zip entries: %v", names)
	assert.Equal(t, want, got)
}
