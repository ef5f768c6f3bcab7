// Package netns runs a program inside a fresh network namespace that holds only a loopback
// interface, so that nothing it does can reach another address.
//
// Tests that start daemons, clients and browsers need it (the project's network rule), and
// entering a namespace needs root on Linux. Their TestMain calls [Tests]; each such test
// begins with [Require]. As root, the whole test binary runs inside the namespace. Without
// root, plain `go test` runs the package's other tests and skips those, saying so; with
// RANGECAST_REQUIRE_NETNS=1 (make test and make e2e set it) not being able to enter the
// namespace is a failure instead.
package netns

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
)

const (
	// envInside marks the re-executed process.
	envInside = "RANGECAST_IN_NETNS"
	// EnvRequire, set to 1, makes [Tests] and [Require] fail rather than skip when the
	// namespace cannot be entered. The Makefile's test targets set it.
	EnvRequire = "RANGECAST_REQUIRE_NETNS"
)

// howTo says how to run the namespace tests.
const howTo = "run as root on Linux, e.g. with make test, which fails rather than skips when it cannot (it needs unshare from util-linux and ip from iproute2)"

// Inside reports whether this process is the re-executed one, inside the namespace.
func Inside() bool { return os.Getenv(envInside) == "1" }

// Required reports whether RANGECAST_REQUIRE_NETNS=1 asks for the namespace tests to run.
func Required() bool { return os.Getenv(EnvRequire) == "1" }

// Reexec runs this same program, with the same arguments, inside `unshare --net` with `lo`
// up, and exits with its status. It returns only inside the namespace. Where the namespace
// cannot be entered (not Linux, not root, no unshare) it exits 1 with an explanation. It is
// for programs (bench); TestMain calls [Tests].
func Reexec() {
	if Inside() {
		mustBeLoopbackOnly()
		return
	}
	if err := canEnter(); err != nil {
		fmt.Fprintf(os.Stderr, "netns: this program runs in a loopback-only network namespace, which %v: run it as root on Linux (unshare from util-linux, ip from iproute2)\n", err)
		os.Exit(1)
	}
	reexec()
}

// Tests is the first call of a TestMain whose package has tests that need the namespace.
// Inside the namespace it returns true. Where the namespace can be entered it re-executes
// the test binary inside it, as [Reexec] does, and does not return. Otherwise it prints one
// line saying which tests are skipped and how to run them, and returns false: the caller
// runs the tests outside, skipping the setup that only the namespace tests need, and those
// tests skip themselves with [Require]. With RANGECAST_REQUIRE_NETNS=1 it exits 1 instead.
func Tests() bool {
	if Inside() {
		mustBeLoopbackOnly()
		return true
	}
	err := canEnter()
	if err == nil {
		reexec()
	}
	if Required() {
		fmt.Fprintf(os.Stderr, "netns: %s=1, but a loopback-only network namespace %v: %s\n", EnvRequire, err, howTo)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "netns: SKIPPING the tests that need a loopback-only network namespace, which %v: %s\n", err, howTo)
	return false
}

// TB is the part of testing.TB that [Require] uses (this package does not import testing:
// bench links it).
type TB interface {
	Helper()
	Skip(args ...any)
	Fatal(args ...any)
}

// Require is the first call of a test that needs the namespace: outside it, the test is
// skipped, or fails if RANGECAST_REQUIRE_NETNS=1.
func Require(t TB) {
	t.Helper()
	if Inside() {
		return
	}
	if Required() {
		t.Fatal("netns: not in a loopback-only network namespace though " + EnvRequire + "=1: TestMain must call netns.Tests")
	}
	t.Skip("netns: needs a loopback-only network namespace: " + howTo)
}

// canEnter says why the namespace cannot be entered, or nil if it can. It tries: root in a
// container without CAP_SYS_ADMIN, for one, cannot unshare.
func canEnter() error {
	if runtime.GOOS != "linux" {
		return errors.New("exists on Linux only")
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root")
	}
	if out, err := exec.Command("unshare", "--net", "--", "sh", "-c", "ip link set lo up").CombinedOutput(); err != nil {
		return fmt.Errorf("could not be made (unshare --net: %v: %s)", err, out)
	}
	return nil
}

// reexec runs this program again inside the namespace and exits with its status.
func reexec() {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "netns:", err)
		os.Exit(1)
	}
	args := append([]string{"--net", "--", "sh", "-c", `ip link set lo up && exec "$0" "$@"`, self}, os.Args[1:]...)
	cmd := exec.Command("unshare", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envInside+"=1")
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "netns: unshare:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// mustBeLoopbackOnly exits 1 unless the namespace really holds nothing but an up loopback.
func mustBeLoopbackOnly() {
	if err := checkLoopbackOnly(); err != nil {
		fmt.Fprintln(os.Stderr, "netns:", err)
		os.Exit(1)
	}
}

// checkLoopbackOnly makes sure the namespace really holds nothing but an up loopback.
func checkLoopbackOnly() error {
	ifs, err := net.Interfaces()
	if err != nil {
		return err
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 {
			return fmt.Errorf("interface %s is not loopback: not in a loopback-only namespace", i.Name)
		}
		if i.Flags&net.FlagUp == 0 {
			return fmt.Errorf("loopback %s is down", i.Name)
		}
	}
	return nil
}
