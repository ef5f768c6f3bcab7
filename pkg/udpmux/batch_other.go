//go:build !js && !linux

package udpmux

import "net"

// canBatch is false where recvmmsg(2) does not exist: Options.Batch is then 1.
const canBatch = false

func newBatchSource(*net.UDPConn, int) source { return nil }
