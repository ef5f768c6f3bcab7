//go:build !js && linux

package udpmux

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBatchSenderDeliversEveryDatagram sends runs of full-sized datagrams, with short ones
// and a second destination mixed in, and checks that each arrives whole, in order, on its
// own: UDP_SEGMENT runs are split back into the datagrams that were written.
func TestBatchSenderDeliversEveryDatagram(t *testing.T) {
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(t, err)
		_ = c.SetReadBuffer(8 << 20)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	src, dstA, dstB := listen(), listen(), listen()
	s := newBatchSender(src)
	addr := func(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

	var wantA, wantB [][]byte
	for i := range 300 {
		size := 1228
		switch {
		case i%50 == 49:
			size = 300 // a short tail ends a run
		case i%97 == 0:
			size = 1300 // a larger one starts a new run
		}
		p := bytes.Repeat([]byte{byte(i)}, size)
		to := addr(dstA)
		if i%7 == 3 {
			to = addr(dstB)
			wantB = append(wantB, p)
		} else {
			wantA = append(wantA, p)
		}
		n, err := s.write(p, to)
		require.NoError(t, err)
		require.Equal(t, size, n)
	}
	s.close()
	_, err := s.write([]byte{1}, addr(dstA))
	require.Error(t, err, "write after close")

	for _, c := range []struct {
		conn *net.UDPConn
		want [][]byte
	}{{dstA, wantA}, {dstB, wantB}} {
		buf := make([]byte, 2048)
		for i, w := range c.want {
			require.NoError(t, c.conn.SetReadDeadline(time.Now().Add(5*time.Second)))
			n, err := c.conn.Read(buf)
			require.NoError(t, err, "datagram %d", i)
			require.Equal(t, w, buf[:n], "datagram %d", i)
		}
	}
}
