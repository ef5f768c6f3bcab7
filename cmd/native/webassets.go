package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/rangecast/rangecast/pkg/share"
)

// asset is one file of the web app, read once at startup.
type asset struct {
	body       []byte
	gz         *compressed // nil for types that are not compressed
	ctype, tag string
	immutable  bool // served under a content-hashed name: cached for a year, never revalidated
}

// compressed is an asset's gzip body, made in the background: at BestCompression the wasm
// alone takes most of a second of CPU, which the daemon's start (its link printed, the tests
// that wait for it) need not wait for. A request that wants it before it is ready waits. A
// large asset's gzip body is kept in the user's cache directory (gzipCache), so that the
// next start of the same build reads it instead of compressing it again.
type compressed struct {
	ready chan struct{}
	body  []byte // nil when compression does not pay
}

// get waits for the compressed body; nil if it does not pay.
func (c *compressed) get() []byte {
	<-c.ready
	return c.body
}

// webAssets serves the embedded web app. Under their plain names, files are served with
// "no-cache": the browser revalidates with If-None-Match and gets a cheap 304 while the ETag
// (a hash of the content) is unchanged. Every file the page loads (scripts, style, the wasm
// and wasm_exec.js) is also served under a content-hashed name (hashedName), which index.html
// refers to instead: those are "immutable", so a warm load asks the network for nothing but
// the page, and Chromium's code cache, keyed on the cached response, serves the compiled wasm
// (docs/ARCHITECTURE.md, Browser start-up). Text and wasm are served gzip-compressed to
// clients that accept it, compressed once, in the background from startup.
type webAssets struct {
	files map[string]*asset
	start time.Time
}

// contentTypes are set explicitly: the system's mime tables differ from machine to machine,
// and a wasm served with the wrong type fails instantiateStreaming.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".wasm": "application/wasm",
	".json": "application/json",
	".svg":  "image/svg+xml",
	".ts":   "text/plain; charset=utf-8",
	".png":  "image/png",
}

// newWebAssets reads the web app from fsys. cacheDir, if not "", keeps the gzip bodies of
// large assets between starts (gzipCache).
func newWebAssets(fsys fs.FS, cacheDir string) (*webAssets, error) {
	w := &webAssets{files: map[string]*asset{}, start: time.Now()}
	cache := gzipCache(cacheDir)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(path.Base(p), ".") {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		w.files["/"+p] = newAsset(p, body, cache)
		return nil
	})
	if err != nil {
		return w, err
	}
	// Every file but the page and the service worker (whose script URL must stay the same)
	// gets a second, content-hashed name, and the page refers to that one: "app.js" in
	// index.html becomes "app.<hash>.js", "dist/rangecast.wasm" "dist/rangecast.<hash>.wasm".
	// A page served by something else (a plain file server) still works with the plain names.
	var renames []string
	for name, a := range w.files {
		if name == "/index.html" || name == "/sw.js" {
			continue
		}
		hashed := hashedName(name, a.body)
		h := *a
		h.immutable = true
		w.files[hashed] = &h
		renames = append(renames, `"`+name[1:]+`"`, `"`+hashed[1:]+`"`)
	}
	if page := w.files["/index.html"]; page != nil && len(renames) > 0 {
		body := strings.NewReplacer(renames...).Replace(string(page.body))
		w.files["/index.html"] = newAsset("index.html", []byte(body), cache)
	}
	return w, nil
}

// hashedName is name with the first 16 hex digits of body's SHA-256 before its extension.
func hashedName(name string, body []byte) string {
	sum := sha256.Sum256(body)
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:8]) + ext
}

func newAsset(p string, body []byte, cache gzipCache) *asset {
	ext := path.Ext(p)
	a := &asset{body: body, ctype: contentTypes[ext]}
	if a.ctype == "" {
		a.ctype = mime.TypeByExtension(ext)
	}
	sum := sha256.Sum256(body)
	a.tag = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
	if strings.HasPrefix(a.ctype, "text/") || ext == ".wasm" || ext == ".json" || ext == ".svg" {
		a.gz = &compressed{ready: make(chan struct{})}
		go func() {
			defer close(a.gz.ready)
			if b := cache.get(body, sum); b != nil {
				a.gz.body = b
				return
			}
			var b bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
			_, _ = zw.Write(body)
			_ = zw.Close()
			if b.Len() < len(body)*9/10 {
				a.gz.body = b.Bytes()
				cache.put(body, sum, a.gz.body)
			}
		}()
	}
	return a
}

func (w *webAssets) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rw.Header().Set("Allow", "GET, HEAD")
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if p == "/" {
		p = "/index.html"
	}
	a := w.files[p]
	if a == nil {
		http.NotFound(rw, r)
		return
	}
	h := rw.Header()
	h.Set("Content-Type", a.ctype)
	if a.immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Add("Vary", "Accept-Encoding")
	body, tag := a.body, a.tag
	if a.gz != nil && acceptsGzip(r) {
		if gz := a.gz.get(); gz != nil {
			body, tag = gz, a.tag[:len(a.tag)-1]+`-gz"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", tag)
	http.ServeContent(rw, r, "", w.start, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// cachedSize is the least size of an asset whose gzip body is cached: smaller ones compress
// in a millisecond or two.
const cachedSize = 64 << 10

// gzipCache is a directory of gzip bodies of assets, each named by the SHA-256 of what it
// decompresses to; "" keeps nothing. A body is checked against its asset's CRC-32 and size
// (the gzip trailer) before it is served, so a damaged file is compressed again, not served.
type gzipCache string

// webCacheDir is where `rangecast serve` and `relay` keep compressed assets, or "" if the
// user has no cache directory.
func webCacheDir() string {
	d, _ := cacheDir("web")
	return d
}

// cacheDir is rangecast's directory name under the user's cache directory.
func cacheDir(name string) (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "rangecast", name), nil
}

func (c gzipCache) name(sum [32]byte) string {
	return filepath.Join(string(c), hex.EncodeToString(sum[:16])+".gz")
}

// get returns the cached gzip body of body, or nil if there is none, it does not check out, or
// body is too small to be cached.
func (c gzipCache) get(body []byte, sum [32]byte) []byte {
	if c == "" || len(body) < cachedSize {
		return nil
	}
	name := c.name(sum)
	b, err := os.ReadFile(name)
	if err != nil || len(b) < 18 { // a gzip header (10 bytes) and trailer (8) at least
		return nil
	}
	trailer := b[len(b)-8:]
	if binary.LittleEndian.Uint32(trailer) != crc32.ChecksumIEEE(body) ||
		binary.LittleEndian.Uint32(trailer[4:]) != uint32(len(body)) { //nolint:gosec // ISIZE is the size mod 2^32
		return nil
	}
	now := time.Now()
	_ = os.Chtimes(name, now, now) // in use: pruneGzipCache keeps it
	return b
}

// put stores gz as the gzip body of body, whose SHA-256 is sum, if body is large enough to be
// cached, and removes entries that no start has used for a week. Failing to is no error: the
// next start compresses again.
func (c gzipCache) put(body []byte, sum [32]byte, gz []byte) {
	if c == "" || len(body) < cachedSize || share.WriteFileAtomic(c.name(sum), gz) != nil {
		return
	}
	c.prune(time.Now().Add(-gzipCacheKeep))
}

// gzipCacheKeep is how long a cached body that no start has used is kept: each build of the
// web app leaves one.
const gzipCacheKeep = 7 * 24 * time.Hour

// prune removes the cache's files last used before cutoff.
func (c gzipCache) prune(cutoff time.Time) {
	entries, err := os.ReadDir(string(c))
	if err != nil {
		return
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
			_ = os.Remove(filepath.Join(string(c), e.Name()))
		}
	}
}
