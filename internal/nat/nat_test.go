//go:build linux

package nat

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/testutil"
)

func TestMain(m *testing.M) {
	testutil.VerifyTestMain(m)
}

// requireNAT skips a test that cannot build topologies here, or fails it under
// RANGECAST_REQUIRE_NETNS=1.
func requireNAT(t *testing.T) {
	t.Helper()
	if err := Available(); err != nil {
		if netns.Required() {
			t.Fatalf("%v (%s=1)", err, netns.EnvRequire)
		}
		t.Skipf("SKIPPED: %v", err)
	}
}

func listen(t *testing.T, top *Topology, n Node, ip netip.Addr) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	require.NoError(t, top.Run(n, func() (err error) {
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
		return err
	}))
	t.Cleanup(func() { c.Close() })
	return c
}

func recvFrom(t *testing.T, c *net.UDPConn, d time.Duration) (netip.AddrPort, bool) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(d)))
	b := make([]byte, 64)
	_, from, err := c.ReadFromUDPAddrPort(b)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return from, true
}

// One socket at home sends to two ports on the internet: an endpoint-independent NAT shows
// both the same public port (the socket's own), a symmetric one two random ones. Nothing
// from the internet gets in unasked.
func TestMappings(t *testing.T) {
	requireNAT(t)
	for _, kind := range []Kind{EndpointIndependent, Symmetric} {
		t.Run(kind.String(), func(t *testing.T) {
			top, err := New(t.Context(), Config{Home: kind, Cafe: kind})
			require.NoError(t, err)
			defer func() { require.NoError(t, top.Close()) }()

			a := listen(t, top, Internet, RelayAddr)
			b := listen(t, top, Internet, RelayAddr)
			h := listen(t, top, Home, HomeAddr)
			local := h.LocalAddr().(*net.UDPAddr).AddrPort()
			var seen []netip.AddrPort
			for _, dst := range []*net.UDPConn{a, b} {
				_, err := h.WriteToUDPAddrPort([]byte("x"), dst.LocalAddr().(*net.UDPAddr).AddrPort())
				require.NoError(t, err)
				from, ok := recvFrom(t, dst, 2*time.Second)
				require.True(t, ok, "nothing crossed the home NAT")
				require.Equal(t, HomePublic, from.Addr())
				seen = append(seen, from)
			}
			if kind == EndpointIndependent {
				require.Equal(t, seen[0], seen[1])
				require.Equal(t, local.Port(), seen[0].Port(), "masquerade keeps a free port")
			} else {
				require.NotEqual(t, seen[0].Port(), seen[1].Port())
			}
			// The answer to a request gets back; a stranger's datagram to the same public
			// port does not (filtering by the remote's address and port).
			_, err = a.WriteToUDPAddrPort([]byte("y"), seen[0])
			require.NoError(t, err)
			_, ok := recvFrom(t, h, 2*time.Second)
			require.True(t, ok, "the reply did not get back in")
			stranger := listen(t, top, Internet, RelayAddr)
			_, err = stranger.WriteToUDPAddrPort([]byte("z"), seen[0])
			require.NoError(t, err)
			_, ok = recvFrom(t, h, 300*time.Millisecond)
			require.False(t, ok, "an unsolicited datagram got through the NAT")
		})
	}
}
