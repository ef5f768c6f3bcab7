//go:build !js && linux

package udpmux

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// canReusePort says that several sockets may share an address with
// SO_REUSEPORT and that the kernel spreads datagrams over them: Linux 3.9+
// hashes each datagram's addresses and ports to pick one. (BSD and macOS
// have the option but deliver unicast datagrams to one socket only.)
const canReusePort = true

// reusePort sets SO_REUSEPORT before bind. Linux only lets sockets of the
// same effective user join the group.
func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	return serr
}
