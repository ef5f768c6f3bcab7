// Package jsdeps checks what the browser build links. net/http alone adds ~7 MB to the wasm;
// testing and pprof have no business there; pion's packages (ICE, DTLS, SCTP, TURN: ~1.8 MB raw
// as of 2026-11) would only wrap the browser's own RTCPeerConnection.
package jsdeps

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// module prefixes packages.txt's relative paths.
const module = "github.com/rangecast/rangecast/"

// readBrowserPackages reads the packages the wasm client is built from out of packages.txt, the
// list the Makefile reads too.
func readBrowserPackages(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("packages.txt")
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []string
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "./") {
			pkgs = append(pkgs, module+strings.TrimPrefix(f[0], "./"))
		}
	}
	if len(pkgs) == 0 {
		t.Fatal("packages.txt lists no package")
	}
	return pkgs
}

// net (the resolver: ~40 kB of wasm), mime (its tables) and log/slog (with log: ~40 kB) only
// ever served code that does not run in a page; encoding/json and the reflection it needs
// were 155 kB of the gzipped wasm, for a few signaling messages the page's own JSON object
// reads (pkg/signaling/json_js.go). Keeping them out holds the wasm under its 1.3 MB gzip
// target (docs/BENCHMARKS.md).
var forbidden = []string{"net/http", "testing", "runtime/pprof", "net/http/pprof", "net", "mime", "log", "log/slog", "encoding/json"}

// forbiddenPrefixes rule out whole module trees.
var forbiddenPrefixes = []string{"github.com/pion/"}

func TestBrowserDependencies(t *testing.T) {
	browserPackages := readBrowserPackages(t)
	args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, browserPackages...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(cmd.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		deps[p] = true
	}
	if !deps["syscall/js"] {
		t.Fatalf("the js dependency graph does not contain syscall/js: the list is not of the browser build:\n%s", out)
	}
	for p := range deps {
		for _, prefix := range forbiddenPrefixes {
			if strings.HasPrefix(p, prefix) {
				t.Errorf("%s is in the GOOS=js dependency graph of %v: the browser build drives RTCPeerConnection through syscall/js (pkg/peer/peerconnection_js.go)", p, browserPackages)
			}
		}
	}
	for _, p := range forbidden {
		if deps[p] {
			t.Errorf("%s is in the GOOS=js dependency graph of %v; find who imports it with: GOOS=js GOARCH=wasm go list -deps -f '{{.ImportPath}}: {{.Imports}}' ./pkg/... | grep '%s'", p, browserPackages, p)
		}
	}
}
