//go:build !js

package peer

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestJSDeps fails if the browser build of this package links what the wasm
// must not carry: net/http adds about 7 MB, and testing and pprof have no
// business in production code. (internal/runtime/pprof/label is the runtime's
// own and always present.)
func TestJSDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool in PATH")
	}
	cmd := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", ".")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := map[string]bool{
		"net/http":       true,
		"testing":        true,
		"runtime/pprof":  true,
		"net/http/pprof": true,
	}
	var sawPeer bool
	for _, dep := range strings.Fields(string(out)) {
		if forbidden[dep] {
			t.Errorf("the js build depends on %s", dep)
		}
		sawPeer = sawPeer || strings.HasSuffix(dep, "/pkg/peer")
	}
	if !sawPeer {
		t.Errorf("go list did not list this package:\n%s", out)
	}
}
