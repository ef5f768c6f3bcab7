//go:build !js

package udpmux

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/pkg/peer"
)

// TestMain runs the tests in a loopback-only network namespace where one can be entered: it
// has IPv6 loopback even where the host's lo has IPv6 turned off, and nothing a test sends
// can leave it. Elsewhere they run on the host's loopback, and the IPv6 ones skip.
func TestMain(m *testing.M) {
	netns.Tests()
	os.Exit(m.Run())
}

// newMux opens a Mux on loopback (unless opts says otherwise) and closes it
// when the test ends.
func newMux(t testing.TB, opts Options) *Mux {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	m, err := New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// sender is a plain UDP socket on loopback that plays a remote peer.
func sender(t testing.TB, network string) *net.UDPConn {
	t.Helper()
	ip := "127.0.0.1"
	if network == "udp6" {
		ip = "::1"
	}
	c, err := net.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(ip)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func addrPort(c *net.UDPConn) netip.AddrPort {
	return unmap(c.LocalAddr().(*net.UDPAddr).AddrPort()) //nolint:forcetypeassert // a UDP socket
}

// bindingRequest builds what an ICE agent sends as a connectivity check:
// a Binding request with USERNAME and FINGERPRINT (pion/stun builds it, so
// the parser is checked against another implementation).
func bindingRequest(t testing.TB, username string) []byte {
	t.Helper()
	m, err := stun.Build(stun.TransactionID, stun.BindingRequest,
		stun.NewUsername(username), stun.NewShortTermIntegrity("password"), stun.Fingerprint)
	require.NoError(t, err)
	return m.Raw
}

// readTimeout reads one datagram from c, failing the test after d.
func readTimeout(t testing.TB, c net.PacketConn, d time.Duration) ([]byte, net.Addr) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(d)))
	buf := make([]byte, maxPacket)
	n, from, err := c.ReadFrom(buf)
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Time{}))
	return buf[:n], from
}

// expectNothing fails if c reads a datagram within d.
func expectNothing(t testing.TB, c net.PacketConn, d time.Duration) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(d)))
	buf := make([]byte, maxPacket)
	n, from, err := c.ReadFrom(buf)
	require.Error(t, err, "read %d bytes from %v", n, from)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout(), "err %v", err)
	require.NoError(t, c.SetReadDeadline(time.Time{}))
}

// waitStats polls the Mux's Stats until ok accepts them, failing after d.
func waitStats(t testing.TB, m *Mux, d time.Duration, ok func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		s := m.Stats()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats not as expected within %v: %+v", d, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// session is a Client peer.Conn and a Server peer.Conn whose ICE traffic
// goes through a mux, wired to each other's signals in-process.
type session struct {
	client, server *peer.Conn
	stop           chan struct{}
	wg             sync.WaitGroup
	closeOnce      sync.Once
}

// newSession creates the pair; the server uses serverMux (an ice.UDPMux of
// any kind), the client its own sockets. Call close when done.
func newSession(serverMux ice.UDPMux) (*session, error) {
	return newSessionMuxes(nil, serverMux)
}

// newSessionMuxes creates the pair with a mux on each side; a nil clientMux
// gives the client its own sockets.
func newSessionMuxes(clientMux, serverMux ice.UDPMux) (*session, error) {
	s := &session{stop: make(chan struct{})}
	toServer := make(chan peer.Signal, 64)
	toClient := make(chan peer.Signal, 64)
	send := func(ch chan peer.Signal) func(peer.Signal) {
		return func(sig peer.Signal) {
			select {
			case ch <- sig:
			case <-s.stop:
			}
		}
	}
	ccfg := peer.Config{Role: peer.Offerer, OnSignal: send(toServer), Native: peer.NativeOptions{LoopbackOnly: true, UDPMux: clientMux}}
	scfg := peer.Config{Role: peer.Answerer, OnSignal: send(toClient), Native: peer.NativeOptions{LoopbackOnly: true, UDPMux: serverMux}}
	var err error
	if s.client, err = peer.New(ccfg); err != nil {
		return nil, err
	}
	if s.server, err = peer.New(scfg); err != nil {
		_ = s.client.Close()
		return nil, err
	}
	forward := func(in chan peer.Signal, to *peer.Conn) {
		defer s.wg.Done()
		for {
			select {
			case sig := <-in:
				if err := checkLoopback(sig); err != nil {
					_ = to.CloseWithError(err)
					continue
				}
				_ = to.AddSignal(sig) // a failure shows as a failed connection
			case <-s.stop:
				return
			}
		}
	}
	s.wg.Add(2)
	go forward(toServer, s.server)
	go forward(toClient, s.client)
	return s, nil
}

// checkLoopback refuses a candidate whose address is not loopback: the
// network rule allows no other traffic.
func checkLoopback(sig peer.Signal) error {
	if sig.Type != peer.SignalCandidate || sig.Candidate == nil {
		return nil
	}
	// candidate:<foundation> <component> <transport> <priority> <address> <port> typ ...
	f := strings.Fields(strings.TrimPrefix(sig.Candidate.Candidate, "candidate:"))
	if len(f) < 5 {
		return errors.New("malformed candidate " + sig.Candidate.Candidate)
	}
	if ip := net.ParseIP(f[4]); ip == nil || !ip.IsLoopback() {
		return errors.New("candidate address " + f[4] + " is not loopback")
	}
	return nil
}

// closeClientFirst closes the client, then the server, then the signaling.
// Closing the client first means no check arrives at the mux for a ufrag it
// has already forgotten.
func (s *session) close() {
	s.closeOnce.Do(func() {
		_ = s.client.Close()
		_ = s.server.Close()
		close(s.stop)
		s.wg.Wait()
	})
}

// echo opens a channel from the client, has the server echo what it reads,
// sends size bytes in msg-sized messages, and checks that the same bytes
// come back.
func (s *session) echo(ctx context.Context, size, msg int, seed byte) error {
	cch, err := s.client.CreateChannel(ctx, "echo")
	if err != nil {
		return err
	}
	defer cch.Close()
	sch, err := s.server.Accept(ctx)
	if err != nil {
		return err
	}
	defer sch.Close()
	// Channel reads do not take a context: close the channels when ctx
	// ends, which unblocks them.
	stop := context.AfterFunc(ctx, func() {
		_ = cch.Close()
		_ = sch.Close()
	})
	defer stop()

	echoed := make(chan error, 1)
	go func() {
		buf := make([]byte, msg)
		for got := 0; got < size; {
			n, err := sch.Read(buf)
			if err != nil {
				echoed <- err
				return
			}
			if _, err := sch.Write(buf[:n]); err != nil {
				echoed <- err
				return
			}
			got += n
		}
		echoed <- nil
	}()

	data := pattern(size, seed)
	go func() {
		for off := 0; off < size; off += msg {
			if _, err := cch.Write(data[off:min(off+msg, size)]); err != nil {
				return
			}
		}
	}()
	h := sha256.New()
	buf := make([]byte, msg)
	for got := 0; got < size; {
		n, err := cch.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("echo: %d of %d bytes back: %w", got, size, ctx.Err())
			}
			return err
		}
		h.Write(buf[:n])
		got += n
	}
	if err := <-echoed; err != nil {
		return err
	}
	want := sha256.Sum256(data)
	if got := h.Sum(nil); string(got) != string(want[:]) {
		return errors.New("echoed data differs")
	}
	return nil
}

// pattern returns n deterministic bytes that differ with seed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}
