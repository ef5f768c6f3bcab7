//go:build !linux

package main

import (
	"net"
	"time"
)

// tcpRTT is not measured here: the daemon then treats every peer as a long path.
func tcpRTT(*net.TCPConn) (time.Duration, bool) { return 0, false }
