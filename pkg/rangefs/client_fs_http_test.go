//go:build !js

package rangefs

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Served through http.FS, names the daemon refuses as invalid (NUL, backslash) name no file:
// 404, as for a missing one, not 500.
func TestFSOverHTTPRefusedNames(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ok.txt"), []byte("hi"), 0o644))
	ts := startSession(t, dir, ServerOptions{}, ClientOptions{})
	hs := httptest.NewServer(http.FileServer(http.FS(ts.c.FS(t.Context()))))
	t.Cleanup(hs.Close)
	for path, want := range map[string]int{
		"/ok.txt":    http.StatusOK,
		"/nope.txt":  http.StatusNotFound,
		"/a%5Cb.txt": http.StatusNotFound, // backslash
		"/a%00b.txt": http.StatusNotFound, // NUL
	} {
		resp, err := http.Get(hs.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, path)
	}
}
