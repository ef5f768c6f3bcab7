//go:build !js && !linux

package udpmux

import (
	"net"
	"net/netip"
)

// canGSO is false where UDP_SEGMENT does not exist: datagrams are sent one
// by one, from the writer's goroutine.
const canGSO = false

type batchSender struct{}

func newBatchSender(*net.UDPConn) *batchSender { return nil }

func (*batchSender) write([]byte, netip.AddrPort) (int, error) { panic("udpmux: no batchSender") }

func (*batchSender) close() {}
