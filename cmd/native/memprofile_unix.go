//go:build unix

package main

import (
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
)

// envMemProfile names the file a daemon writes a heap profile to each time it receives
// SIGUSR1 (a "%p" in the path is replaced by the process id), with its goroutines beside it
// in PATH.goroutines: the way to see what idle sessions cost while they are connected, which a
// profile written at exit cannot show.
// `RANGECAST_MEMPROFILE=/tmp/heap-%p.prof rangecast serve DIR`, then `kill -USR1 PID` and
// `go tool pprof -sample_index=inuse_space -top /tmp/heap-PID.prof`.
const envMemProfile = "RANGECAST_MEMPROFILE"

// startMemProfiler writes a heap profile on every SIGUSR1 if $RANGECAST_MEMPROFILE is set;
// the returned function stops it.
func startMemProfiler(log *slog.Logger) (stop func()) {
	path := os.Getenv(envMemProfile)
	if path == "" {
		return func() {}
	}
	path = strings.ReplaceAll(path, "%p", strconv.Itoa(os.Getpid()))
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				runtime.GC() // the profile shows the heap as of the last GC
				if err := writeHeapProfile(path); err != nil {
					log.Warn("heap profile", "path", path, "err", err)
				} else {
					log.Info("heap profile written", "path", path)
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

func writeHeapProfile(path string) error {
	if err := writeProfile("heap", path); err != nil {
		return err
	}
	return writeProfile("goroutine", path+".goroutines")
}

func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
