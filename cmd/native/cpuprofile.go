package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
)

// envCPUProfile names the file a command writes a CPU profile to, from start to exit: any
// command, the daemon (bench/daemon.go passes it on), a mount, the gateway or get. It is for
// measuring and is deliberately not a flag:
// `RANGECAST_CPUPROFILE=/tmp/serve.prof rangecast serve DIR`, then
// `go tool pprof -top /tmp/serve.prof`. A "%p" in the path is replaced by the process id, for
// several processes at once. The profile is written when the command returns, so stop a
// long-running one with SIGINT or SIGTERM, not SIGKILL.
const envCPUProfile = "RANGECAST_CPUPROFILE"

// startProfile starts the CPU profile $RANGECAST_CPUPROFILE asks for, if any, and returns
// the function that stops and writes it.
func startProfile() (stop func(), err error) {
	path := os.Getenv(envCPUProfile)
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(strings.ReplaceAll(path, "%p", strconv.Itoa(os.Getpid())))
	if err != nil {
		return nil, fmt.Errorf("$%s: %w", envCPUProfile, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("$%s: %w", envCPUProfile, err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}
