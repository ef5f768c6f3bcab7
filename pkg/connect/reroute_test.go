//go:build !js

package connect

import (
	"crypto/sha256"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/pkg/peer"
)

// The LocalSignal and RemoteSignal hooks reroute all peer traffic through a relay: the
// client's candidates are dropped and the daemon's first IPv4 loopback candidate is
// rewritten to the relay's address, so the daemon only ever sees the relay's upstream
// socket (a peer-reflexive address).
func TestDialSignalHooksReroute(t *testing.T) {
	dir := t.TempDir()
	want := randomFile(t, dir, "f.bin", 1<<20+7)
	d := startDaemon(t, dir, nil)

	var mu sync.Mutex
	var r *udpRelay
	var droppedLocal, rewritten, droppedRemote int
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if r != nil {
			r.close()
		}
	})
	opts := dialOpts()
	opts.Signal.LocalSignal = func(s peer.Signal) (peer.Signal, bool) {
		if s.Type == peer.SignalCandidate {
			mu.Lock()
			droppedLocal++
			mu.Unlock()
			return s, false
		}
		return s, true
	}
	opts.Signal.RemoteSignal = func(s peer.Signal) (peer.Signal, bool) {
		if s.Type != peer.SignalCandidate {
			return s, true
		}
		mu.Lock()
		defer mu.Unlock()
		f := strings.Fields(s.Candidate.Candidate)
		if len(f) < 8 || !strings.EqualFold(f[2], "udp") || f[7] != "host" {
			droppedRemote++
			return s, false
		}
		ip, err1 := netip.ParseAddr(f[4])
		port, err2 := strconv.Atoi(f[5])
		if err1 != nil || err2 != nil || !ip.Is4() || !ip.IsLoopback() || r != nil {
			droppedRemote++ // one route is enough; IPv6 and mDNS names are left out
			return s, false
		}
		r = newUDPRelay(t, netip.AddrPortFrom(ip, uint16(port)))
		to := r.ln.LocalAddr().(*net.UDPAddr).AddrPort()
		f[4], f[5] = to.Addr().String(), strconv.Itoa(int(to.Port()))
		c := *s.Candidate
		c.Candidate = strings.Join(f, " ")
		s.Candidate = &c
		rewritten++
		return s, true
	}

	s, err := Dial(t.Context(), d.link, opts)
	require.NoError(t, err)
	f, err := s.Open(t.Context(), "f.bin")
	require.NoError(t, err)
	got, err := io.ReadAll(f)
	require.NoError(t, err)
	assert.Equal(t, sha256.Sum256(want), sha256.Sum256(got))
	require.NoError(t, s.Close())
	waitPeers(t, d.h, 0)

	mu.Lock()
	defer mu.Unlock()
	assert.Positive(t, droppedLocal, "the client gathered no candidate to drop")
	assert.Equal(t, 1, rewritten)
	require.NotNil(t, r)
	// Everything went through the relay: more than the file in one direction.
	assert.Greater(t, r.down.Load(), int64(len(want)))
	assert.Positive(t, r.up.Load())
}

// udpRelay forwards datagrams from its listening socket to target, from one upstream
// socket per client address, and the replies back, as they come.
type udpRelay struct {
	ln       *net.UDPConn
	target   netip.AddrPort
	up, down atomic.Int64 // bytes forwarded

	mu    sync.Mutex
	flows map[netip.AddrPort]*net.UDPConn
	wg    sync.WaitGroup
}

func newUDPRelay(t *testing.T, target netip.AddrPort) *udpRelay {
	ln, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	r := &udpRelay{ln: ln, target: target, flows: map[netip.AddrPort]*net.UDPConn{}}
	r.wg.Go(r.serve)
	return r
}

func (r *udpRelay) serve() {
	buf := make([]byte, 64<<10)
	for {
		n, src, err := r.ln.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		up, ok := r.flows[src]
		if !ok && r.flows != nil {
			if up, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err == nil {
				r.flows[src] = up
				r.wg.Go(func() { r.back(up, src) })
			}
		}
		r.mu.Unlock()
		if up != nil {
			if _, err := up.WriteToUDPAddrPort(buf[:n], r.target); err == nil {
				r.up.Add(int64(n))
			}
		}
	}
}

func (r *udpRelay) back(up *net.UDPConn, client netip.AddrPort) {
	buf := make([]byte, 64<<10)
	for {
		n, _, err := up.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if _, err := r.ln.WriteToUDPAddrPort(buf[:n], client); err == nil {
			r.down.Add(int64(n))
		}
	}
}

func (r *udpRelay) close() {
	_ = r.ln.Close()
	r.mu.Lock()
	for _, c := range r.flows {
		_ = c.Close()
	}
	r.flows = nil
	r.mu.Unlock()
	r.wg.Wait()
}
