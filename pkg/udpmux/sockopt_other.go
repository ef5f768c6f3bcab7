//go:build !js && !linux

package udpmux

import "syscall"

// canReusePort is false where SO_REUSEPORT does not spread unicast
// datagrams over the sockets sharing an address: Options.Readers is then 1.
const canReusePort = false

func reusePort(_, _ string, _ syscall.RawConn) error { return nil }
