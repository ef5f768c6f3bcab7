// Package web holds the browser app the daemon serves: the page (index.html, app.js and
// the scripts beside it, style.css), the JavaScript API's declarations (api.d.ts), and the built WebAssembly client
// under dist/ (a build output, git-ignored, embedded when present).
package web

import (
	"embed"
	"io/fs"
)

//go:embed index.html *.js style.css api.d.ts all:dist
var files embed.FS

// FS returns the web app's files, rooted so that "index.html" is the page.
func FS() fs.FS { return files }
