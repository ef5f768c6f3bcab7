//go:build !js

package testutil

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

const self = "github.com/rangecast/rangecast/internal/testutil"

// TestOnlyTests fails if a package's non-test code imports this package, natively or for
// GOOS=js: it links testing.
func TestOnlyTests(t *testing.T) {
	for _, env := range [][]string{nil, {"GOOS=js", "GOARCH=wasm"}} {
		cmd := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}}:{{range .Imports}} {{.}}{{end}}`, "github.com/rangecast/rangecast/...")
		cmd.Env = append(cmd.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %v: %v", env, err)
		}
		for line := range strings.Lines(string(out)) {
			pkg, imports, _ := strings.Cut(strings.TrimSpace(line), ":")
			for _, imp := range strings.Fields(imports) {
				if imp == self {
					t.Errorf("%s imports %s outside its _test.go files (%v)", pkg, self, env)
				}
			}
		}
	}
}

func TestContext(t *testing.T) {
	var ctx interface{ Done() <-chan struct{} }
	t.Run("timeout", func(t *testing.T) {
		c := Context(t, time.Millisecond)
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("the context did not end after its timeout")
		}
	})
	t.Run("test end", func(t *testing.T) {
		ctx = Context(t, time.Hour)
	})
	select {
	case <-ctx.Done():
	default:
		t.Fatal("the context did not end with its test")
	}
}

func TestLeakCheck(t *testing.T) {
	LeakCheck(t)
	done := make(chan struct{})
	go func() { <-done }()
	t.Cleanup(func() { close(done) }) // runs before LeakCheck's: no leak
}
