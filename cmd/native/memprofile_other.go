//go:build !unix

package main

import "log/slog"

// startMemProfiler does nothing where there is no SIGUSR1.
func startMemProfiler(*slog.Logger) (stop func()) { return func() {} }
