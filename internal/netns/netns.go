// Package netns runs a test binary inside a fresh network namespace that holds only a
// loopback interface, so that nothing a test does can reach another address.
package netns

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
)

// envInside marks the re-executed process.
const envInside = "RANGECAST_IN_NETNS"

// Inside reports whether this process is the re-executed one, inside the namespace.
func Inside() bool { return os.Getenv(envInside) == "1" }

// Reexec runs this same program, with the same arguments, inside `unshare --net` with `lo`
// up, and exits with its status. It returns only inside the namespace. Outside Linux, or
// without root, it exits 1 with an explanation: the tests that call it start servers and
// browsers, and the project's rule is that they run where only loopback exists.
func Reexec() {
	if Inside() {
		if err := checkLoopbackOnly(); err != nil {
			fmt.Fprintln(os.Stderr, "netns:", err)
			os.Exit(1)
		}
		return
	}
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "netns: these tests run in a loopback-only network namespace: run them as root on Linux (unshare from util-linux, ip from iproute2)")
		os.Exit(1)
	}
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
