// Package testutil holds what the project's tests share: goroutine-leak checks and contexts
// bound to a test. Only _test.go files may import it (TestOnlyTests checks); it builds for
// GOOS=js too, for the packages whose tests also run under Node.
package testutil

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// commonIgnores are goroutines that are no test's doing. runtime.handleEvent is the js/wasm
// runtime's own event goroutine, there from the start.
var commonIgnores = []goleak.Option{goleak.IgnoreAnyFunction("runtime.handleEvent")}

// VerifyTestMain runs the package's tests, then fails the run if any goroutine is left
// besides the common ones and those opts ignore. Call it as the whole of TestMain.
func VerifyTestMain(m *testing.M, opts ...goleak.Option) {
	goleak.VerifyTestMain(m, append(append([]goleak.Option(nil), commonIgnores...), opts...)...)
}

// LeakCheck fails t if a goroutine started during the test is still running after every
// other cleanup. Call it first, so that its cleanup runs last.
func LeakCheck(t testing.TB) {
	t.Helper()
	opts := append([]goleak.Option{goleak.IgnoreCurrent()}, commonIgnores...)
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

// Context returns a context that ends with the test or after d.
func Context(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
