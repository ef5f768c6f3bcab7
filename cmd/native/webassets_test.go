package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWebAssets(t *testing.T) {
	wasm := bytes.Repeat([]byte("\x00asm wasm wasm "), 1000)
	w, err := newWebAssets(fstest.MapFS{
		"index.html":          {Data: []byte("<!doctype html><title>x</title>")},
		"dist/rangecast.wasm": {Data: wasm},
		"dist/.gitkeep":       {Data: nil},
	}, "")
	require.NoError(t, err)

	get := func(path string, hdr map[string]string) *http.Response {
		req := httptest.NewRequest("GET", path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, req)
		return rec.Result()
	}

	resp := get("/", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))

	resp = get("/dist/rangecast.wasm", map[string]string{"Accept-Encoding": "br, gzip"})
	assert.Equal(t, "application/wasm", resp.Header.Get("Content-Type"))
	assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	zr, err := gzip.NewReader(resp.Body)
	require.NoError(t, err)
	got, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Equal(t, wasm, got)
	tag := resp.Header.Get("ETag")
	require.NotEmpty(t, tag)

	resp = get("/dist/rangecast.wasm", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": tag})
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)

	resp = get("/dist/rangecast.wasm", nil)
	assert.Empty(t, resp.Header.Get("Content-Encoding"))
	got, _ = io.ReadAll(resp.Body)
	assert.Equal(t, wasm, got)
	assert.NotEqual(t, tag, resp.Header.Get("ETag"))

	assert.Equal(t, http.StatusNotFound, get("/dist/.gitkeep", nil).StatusCode)
	assert.Equal(t, http.StatusNotFound, get("/nope", nil).StatusCode)
}

// The build outputs are also served under content-hashed, immutable names, and the page names
// those: a warm load asks the network for nothing, and Chromium's code cache serves the wasm.
func TestWebAssetsHashedNames(t *testing.T) {
	wasm := bytes.Repeat([]byte("\x00asm wasm wasm "), 1000)
	w, err := newWebAssets(fstest.MapFS{
		"index.html":          {Data: []byte(`<script src="boot.js" data-wasm="dist/rangecast.wasm"></script><script src="dist/wasm_exec.js"></script>`)},
		"dist/rangecast.wasm": {Data: wasm},
		"dist/wasm_exec.js":   {Data: []byte("// go")},
		"boot.js":             {Data: []byte("// boot")},
		"sw.js":               {Data: []byte("// worker")},
	}, "")
	require.NoError(t, err)
	get := func(path string) (*http.Response, string) {
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		b, _ := io.ReadAll(rec.Result().Body)
		return rec.Result(), string(b)
	}
	sum := sha256.Sum256(wasm)
	hashed := "dist/rangecast." + hex.EncodeToString(sum[:8]) + ".wasm"
	sum = sha256.Sum256([]byte("// go"))
	hashedExec := "dist/wasm_exec." + hex.EncodeToString(sum[:8]) + ".js"

	sum = sha256.Sum256([]byte("// boot"))
	hashedBoot := "boot." + hex.EncodeToString(sum[:8]) + ".js"

	_, page := get("/")
	assert.Equal(t, `<script src="`+hashedBoot+`" data-wasm="`+hashed+`"></script><script src="`+hashedExec+`"></script>`, page)
	resp, body := get("/" + hashedBoot)
	assert.Equal(t, "public, max-age=31536000, immutable", resp.Header.Get("Cache-Control"))
	assert.Equal(t, "// boot", body)
	// The service worker keeps its one name: its script URL is its identity.
	sum = sha256.Sum256([]byte("// worker"))
	resp, _ = get("/sw." + hex.EncodeToString(sum[:8]) + ".js")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	resp, body = get("/" + hashed)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "public, max-age=31536000, immutable", resp.Header.Get("Cache-Control"))
	assert.Equal(t, "application/wasm", resp.Header.Get("Content-Type"))
	assert.Equal(t, string(wasm), body)
	resp, _ = get("/" + hashedExec)
	assert.Equal(t, "public, max-age=31536000, immutable", resp.Header.Get("Cache-Control"))

	// The plain names still work, revalidated as before.
	resp, body = get("/dist/rangecast.wasm")
	assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
	assert.Equal(t, string(wasm), body)
}

// The gzip body of a large asset is kept in the cache directory and read back at the next
// start, as long as it decompresses to the asset (its gzip trailer's CRC-32 and size);
// entries no start has used for a week are removed.
func TestWebAssetsGzipCache(t *testing.T) {
	dir := t.TempDir()
	wasm := bytes.Repeat([]byte("\x00asm cached wasm "), 10_000) // above cachedSize
	fsys := fstest.MapFS{"dist/rangecast.wasm": {Data: wasm}}
	cache := gzipCache(dir)
	entry := cache.name(sha256.Sum256(wasm))
	getGzip := func(w *webAssets) []byte {
		req := httptest.NewRequest("GET", "/dist/rangecast.wasm", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, req)
		require.Equal(t, "gzip", rec.Result().Header.Get("Content-Encoding"))
		body := rec.Body.Bytes()
		zr, err := gzip.NewReader(bytes.NewReader(body))
		require.NoError(t, err)
		got, err := io.ReadAll(zr)
		require.NoError(t, err)
		require.Equal(t, sha256.Sum256(wasm), sha256.Sum256(got), "the gzip body does not decompress to the asset")
		return body
	}
	gzipOf := func(b []byte, comment string) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Comment = comment
		_, _ = zw.Write(b)
		require.NoError(t, zw.Close())
		return buf.Bytes()
	}

	// A first start compresses and keeps the result.
	w, err := newWebAssets(fsys, dir)
	require.NoError(t, err)
	first := getGzip(w)
	kept, err := os.ReadFile(entry)
	require.NoError(t, err, "nothing kept in the cache")
	assert.Equal(t, first, kept)

	// The next start serves what is kept (here another valid gzip of the same bytes).
	other := gzipOf(wasm, "from the cache")
	require.NoError(t, os.WriteFile(entry, other, 0o600))
	w, err = newWebAssets(fsys, dir)
	require.NoError(t, err)
	assert.Equal(t, other, getGzip(w), "the cached body was not used")

	// A kept body of other bytes is not served; the asset is compressed again and kept.
	require.NoError(t, os.WriteFile(entry, gzipOf([]byte("something else"), ""), 0o600))
	w, err = newWebAssets(fsys, dir)
	require.NoError(t, err)
	assert.Equal(t, first, getGzip(w))
	kept, err = os.ReadFile(entry)
	require.NoError(t, err)
	assert.Equal(t, first, kept, "the damaged entry was not replaced")

	// Storing prunes what was last used more than a week ago.
	stale, fresh := filepath.Join(dir, "stale.gz"), filepath.Join(dir, "fresh.gz")
	require.NoError(t, os.WriteFile(stale, nil, 0o600))
	require.NoError(t, os.WriteFile(fresh, nil, 0o600))
	old := time.Now().Add(-gzipCacheKeep - time.Hour)
	require.NoError(t, os.Chtimes(stale, old, old))
	w, err = newWebAssets(fstest.MapFS{"dist/rangecast.wasm": {Data: append(bytes.Clone(wasm), 1)}}, dir)
	require.NoError(t, err)
	for _, a := range w.files {
		if a.gz != nil {
			a.gz.get() // the compression, and the store after it, are done
		}
	}
	assert.NoFileExists(t, stale)
	assert.FileExists(t, fresh)
	assert.FileExists(t, entry)
}
