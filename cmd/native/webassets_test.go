package main

import (
	"bytes"
	"compress/gzip"
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
