//go:build !js

package udpmux

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	"github.com/stretchr/testify/require"
)

// stunServer answers Binding requests on loopback with the source address, as a STUN
// server does, and counts them.
func stunServer(t *testing.T) (netip.AddrPort, *atomic.Int64) {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	var n atomic.Int64
	go func() {
		buf := make([]byte, 1500)
		for {
			k, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			req := &stun.Message{Raw: append([]byte(nil), buf[:k]...)}
			if req.Decode() != nil || req.Type != stun.BindingRequest {
				continue
			}
			n.Add(1)
			resp, err := stun.Build(req, stun.BindingSuccess,
				&stun.XORMappedAddress{IP: from.Addr().AsSlice(), Port: int(from.Port())}, stun.Fingerprint)
			if err != nil {
				continue
			}
			_, _ = c.WriteToUDPAddrPort(resp.Raw, from)
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).AddrPort(), &n
}

func TestMappedAddr(t *testing.T) {
	m := newMux(t, Options{})
	srv, n := stunServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	a, err := m.MappedAddr(ctx, srv, 2*time.Second)
	require.NoError(t, err)
	local := m.LocalAddr().(*net.UDPAddr).AddrPort()
	require.Equal(t, local, a, "on loopback the mapped address is the mux's own")
	// Cached: no second request.
	b, err := m.MappedAddr(ctx, srv, 2*time.Second)
	require.NoError(t, err)
	require.Equal(t, a, b)
	require.EqualValues(t, 1, n.Load())
	require.Equal(t, []netip.AddrPort{a}, m.MappedAddrs(local))

	// pion's interface, and the response did not reach any connection.
	x, err := m.GetXORMappedAddr(net.UDPAddrFromAddrPort(srv), time.Second)
	require.NoError(t, err)
	require.Equal(t, int(local.Port()), x.Port)
	require.Zero(t, m.Stats().DroppedUnknown)
}

func TestMappedAddrTimeout(t *testing.T) {
	m := newMux(t, Options{})
	// A socket that never answers.
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer c.Close()
	start := time.Now()
	_, err = m.MappedAddr(t.Context(), c.LocalAddr().(*net.UDPAddr).AddrPort(), 600*time.Millisecond)
	require.Error(t, err)
	require.Less(t, time.Since(start), 3*time.Second)
	require.Empty(t, m.MappedAddrs(m.LocalAddr().(*net.UDPAddr).AddrPort()))
}
