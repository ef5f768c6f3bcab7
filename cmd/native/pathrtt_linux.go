package main

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// tcpRTT is the kernel's minimum round-trip time of a TCP connection (TCP_INFO's
// tcpi_min_rtt), else its smoothed one. The smoothed RTT of a connection the daemon mostly
// answers on is inflated by the client's delayed ACKs: a browser's keep-alive connection on
// loopback measured 2.5–14 ms where its minimum was 21 µs.
func tcpRTT(c *net.TCPConn) (time.Duration, bool) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	var info *unix.TCPInfo
	var ierr error
	if err := raw.Control(func(fd uintptr) {
		info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil || ierr != nil {
		return 0, false
	}
	us := info.Min_rtt
	if us == 0 {
		us = info.Rtt
	}
	if us == 0 {
		return 0, false
	}
	return time.Duration(us) * time.Microsecond, true
}
