package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWebAssets(t *testing.T) {
	wasm := bytes.Repeat([]byte("\x00asm wasm wasm "), 1000)
	w, err := newWebAssets(fstest.MapFS{
		"index.html":          {Data: []byte("<!doctype html><title>x</title>")},
		"dist/rangecast.wasm": {Data: wasm},
		"dist/.gitkeep":       {Data: nil},
	})
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
	})
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
