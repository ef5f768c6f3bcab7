//go:build !js

package peer

import (
	"net"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// DefaultUDPBufferSize is the socket buffer size a native Conn asks for on the
// UDP sockets it opens for ICE. The kernel caps it (Linux: net.core.rmem_max
// and wmem_max).
const DefaultUDPBufferSize = 4 << 20

// bufferedNet is the standard network with larger buffers on the UDP sockets
// ICE opens. With the default buffer (208 KiB on Linux), SCTP's bursts of a
// full congestion window overflow the receiver's socket even on loopback, and
// every lost tail costs a retransmission timeout of a second or more.
type bufferedNet struct {
	transport.Net
	size int
}

func newBufferedNet(size int) (*bufferedNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &bufferedNet{Net: n, size: size}, nil
}

// ListenUDP opens the socket and sets its buffer sizes; a size the kernel
// refuses is not an error, only slower.
func (n *bufferedNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	_ = c.SetReadBuffer(n.size)
	_ = c.SetWriteBuffer(n.size)
	return c, nil
}
