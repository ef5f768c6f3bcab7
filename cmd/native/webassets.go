package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// asset is one file of the web app, read once at startup.
type asset struct {
	body, gz   []byte // gz is nil when compression does not pay
	ctype, tag string
}

// webAssets serves the embedded web app. Names are not content-hashed, so every response
// says "no-cache": the browser revalidates with If-None-Match and gets a cheap 304 while the
// ETag (a hash of the content) is unchanged. Text and wasm are served gzip-compressed to
// clients that accept it, compressed once at startup.
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

func newWebAssets(fsys fs.FS) (*webAssets, error) {
	w := &webAssets{files: map[string]*asset{}, start: time.Now()}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(path.Base(p), ".") {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		ext := path.Ext(p)
		a := &asset{body: body, ctype: contentTypes[ext]}
		if a.ctype == "" {
			a.ctype = mime.TypeByExtension(ext)
		}
		sum := sha256.Sum256(body)
		a.tag = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		if strings.HasPrefix(a.ctype, "text/") || ext == ".wasm" || ext == ".json" || ext == ".svg" {
			var b bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
			_, _ = zw.Write(body)
			_ = zw.Close()
			if b.Len() < len(body)*9/10 {
				a.gz = b.Bytes()
			}
		}
		w.files["/"+p] = a
		return nil
	})
	return w, err
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
	h.Set("Cache-Control", "no-cache")
	h.Add("Vary", "Accept-Encoding")
	body, tag := a.body, a.tag
	if a.gz != nil && acceptsGzip(r) {
		body, tag = a.gz, a.tag[:len(a.tag)-1]+`-gz"`
		h.Set("Content-Encoding", "gzip")
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
