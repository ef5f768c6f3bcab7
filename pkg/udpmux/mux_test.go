//go:build !js

package udpmux

import (
	"context"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/testutil"
)

func TestNewDefaults(t *testing.T) {
	testutil.LeakCheck(t)
	m := newMux(t, Options{Readers: 3})
	s := m.Stats()
	assert.Equal(t, 3, s.Readers)
	la, ok := m.LocalAddr().(*net.UDPAddr)
	require.True(t, ok)
	assert.Equal(t, "127.0.0.1", la.IP.String())
	assert.NotZero(t, m.Port())
	assert.Equal(t, m.Port(), la.Port)
	assert.Equal(t, []net.Addr{la}, m.GetListenAddresses())
	require.NoError(t, m.Close())
	require.NoError(t, m.Close())
}

func TestNewErrors(t *testing.T) {
	testutil.LeakCheck(t)
	for _, addr := range []string{"localhost:0", "127.0.0.1", "nonsense"} {
		_, err := New(Options{Addr: addr})
		assert.Error(t, err, addr)
	}
	m := newMux(t, Options{})
	_, err := New(Options{Addr: m.LocalAddr().String()})
	assert.ErrorIs(t, err, errAddrInUse, "a port that is in use, even by a reuseport group")
}

// TestRouteByUfragThenAddress is the basic path of an ICE connection: a
// check routed by the ufrag in its USERNAME, the agent's answer mapping the
// remote address, then DTLS-like datagrams routed by that address.
func TestRouteByUfragThenAddress(t *testing.T) {
	testutil.LeakCheck(t)
	m := newMux(t, Options{})
	c, err := m.GetConn("srvufrag", m.LocalAddr())
	require.NoError(t, err)
	defer c.Close()
	_, ok := c.(ice.AddrPortReaderWriter)
	assert.True(t, ok, "pion's allocation-free path")
	assert.Equal(t, m.LocalAddr().String(), c.LocalAddr().String())

	remote := sender(t, "udp4")
	check := bindingRequest(t, "srvufrag:cliufrag")
	_, err = remote.WriteTo(check, m.LocalAddr())
	require.NoError(t, err)
	got, from := readTimeout(t, c, 2*time.Second)
	assert.Equal(t, check, got)
	assert.Equal(t, remote.LocalAddr().String(), from.String())

	// Not STUN, and the address is not mapped yet: dropped.
	dtls := []byte{0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0xaa}
	_, err = remote.WriteTo(dtls, m.LocalAddr())
	require.NoError(t, err)
	waitStats(t, m, 2*time.Second, func(s Stats) bool { return s.DroppedUnknown == 1 })
	expectNothing(t, c, 20*time.Millisecond)

	// The agent answers, which maps the address; now it arrives.
	_, err = c.WriteTo([]byte("response"), from)
	require.NoError(t, err)
	buf := make([]byte, 100)
	require.NoError(t, remote.SetReadDeadline(time.Now().Add(2*time.Second)))
	n, src, err := remote.ReadFrom(buf)
	require.NoError(t, err)
	assert.Equal(t, "response", string(buf[:n]))
	assert.Equal(t, m.LocalAddr().String(), src.String())
	_, err = remote.WriteTo(dtls, m.LocalAddr())
	require.NoError(t, err)
	got, _ = readTimeout(t, c, 2*time.Second)
	assert.Equal(t, dtls, got)

	s := m.Stats()
	assert.Equal(t, 1, s.Conns)
	assert.Equal(t, 1, s.Addrs)
	assert.Equal(t, uint64(3), s.PacketsIn)
	assert.Equal(t, uint64(2), s.Delivered)

	require.NoError(t, c.Close())
	s = m.Stats()
	assert.Equal(t, 0, s.Conns)
	assert.Equal(t, 0, s.Addrs)
	_, _, err = c.ReadFrom(buf)
	assert.ErrorIs(t, err, net.ErrClosed)
	_, err = c.WriteTo(buf, from)
	assert.ErrorIs(t, err, io.ErrClosedPipe)
}

// TestUfragBeatsAddress: a remote socket that serves two sessions (a remote
// that multiplexes too) gets each session's checks to its own connection,
// even though its address is mapped to the first, and a check for a new
// ufrag from it is pending rather than delivered to the first.
func TestUfragBeatsAddress(t *testing.T) {
	testutil.LeakCheck(t)
	m := newMux(t, Options{})
	a, err := m.GetConn("ufragA", m.LocalAddr())
	require.NoError(t, err)
	defer a.Close()
	b, err := m.GetConn("ufragB", m.LocalAddr())
	require.NoError(t, err)
	defer b.Close()
	remote := sender(t, "udp4")
	_, err = a.WriteTo([]byte("x"), remote.LocalAddr())
	require.NoError(t, err)

	check := bindingRequest(t, "ufragB:remote")
	_, err = remote.WriteTo(check, m.LocalAddr())
	require.NoError(t, err)
	got, _ := readTimeout(t, b, 2*time.Second)
	assert.Equal(t, check, got)

	_, err = remote.WriteTo(bindingRequest(t, "ufragC:remote"), m.LocalAddr())
	require.NoError(t, err)
	in, err := m.Accept(testutil.Context(t, 2*time.Second))
	require.NoError(t, err)
	assert.Equal(t, "ufragC", in.Ufrag)
	expectNothing(t, a, 20*time.Millisecond)
}

// TestAcceptReportsOnce: checks for an unknown ufrag are reported by Accept
// once, held, and handed to the connection that claims the ufrag.
func TestAcceptReportsOnce(t *testing.T) {
	testutil.LeakCheck(t)
	m := newMux(t, Options{})
	remote := sender(t, "udp4")
	checks := [][]byte{bindingRequest(t, "newufrag:theirs"), bindingRequest(t, "newufrag:theirs"), bindingRequest(t, "newufrag:theirs")}
	for _, c := range checks {
		_, err := remote.WriteTo(c, m.LocalAddr())
		require.NoError(t, err)
	}

	in, err := m.Accept(testutil.Context(t, 2*time.Second))
	require.NoError(t, err)
	assert.Equal(t, "newufrag", in.Ufrag)
	assert.Equal(t, "theirs", in.RemoteUfrag)
	assert.Equal(t, addrPort(remote), in.Remote)
	assert.Equal(t, m.LocalAddr().String(), in.Local.String())
	assert.WithinDuration(t, time.Now(), in.Time, 2*time.Second)

	s := waitStats(t, m, 2*time.Second, func(s Stats) bool { return s.PacketsIn == 3 })
	assert.Equal(t, uint64(3), s.Held)
	assert.Equal(t, 1, s.PendingUfrags)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = m.Accept(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "reported once")

	// Claiming the ufrag delivers what was held, in order.
	c, err := m.GetConn("newufrag", m.LocalAddr())
	require.NoError(t, err)
	defer c.Close()
	for _, want := range checks {
		got, from := readTimeout(t, c, time.Second)
		assert.Equal(t, want, got)
		assert.Equal(t, remote.LocalAddr().String(), from.String())
	}
	assert.Equal(t, 0, m.Stats().PendingUfrags)
}

// TestAcceptOnlyChecks: only a binding request with a valid FINGERPRINT and
// an ice-char USERNAME makes a ufrag pending.
func TestAcceptOnlyChecks(t *testing.T) {
	testutil.LeakCheck(t)
	m := newMux(t, Options{})
	remote := sender(t, "udp4")
	noFingerprint := bindingRequest(t, "abcd:efgh")
	noFingerprint = noFingerprint[:len(noFingerprint)-8]
	noFingerprint[3] -= 8
	badFingerprint := bindingRequest(t, "abcd:efgh")
	badFingerprint[len(badFingerprint)-1] ^= 0xff
	for _, p := range [][]byte{
		noFingerprint,
		badFingerprint,
		bindingRequest(t, "abcd"),
		bindingRequest(t, "ab cd:efgh"),
		bindingRequest(t, "abcd:"),
	} {
		_, err := remote.WriteTo(p, m.LocalAddr())
		require.NoError(t, err)
	}
	s := waitStats(t, m, 2*time.Second, func(s Stats) bool { return s.PacketsIn == 5 })
	assert.Equal(t, uint64(5), s.DroppedUnknown)
	assert.Equal(t, 0, s.PendingUfrags)
}

// TestJunk sends what a hostile or broken peer might: nothing panics, and
// each datagram is counted as dropped.
func TestJunk(t *testing.T) {
	testutil.LeakCheck(t)
	m := newMux(t, Options{})
	c, err := m.GetConn("known", m.LocalAddr())
	require.NoError(t, err)
	defer c.Close()
	remote := sender(t, "udp4")

	check := bindingRequest(t, "known:theirs")
	var junk [][]byte
	for n := range len(check) { // every truncation of a check
		junk = append(junk, check[:n])
	}
	junk = append(junk,
		[]byte{},                  // empty datagram
		make([]byte, 20),          // zeros, no cookie
		make([]byte, maxPacket+1), // oversize
		[]byte("GET / HTTP/1.1\r\n\r\n"),
	)
	// A well-formed binding request without attributes, so no USERNAME.
	noUser := append([]byte(nil), check[:20]...)
	noUser[2], noUser[3] = 0, 0
	junk = append(junk, noUser)
	for _, p := range junk {
		_, err := remote.WriteTo(p, m.LocalAddr())
		require.NoError(t, err)
	}
	s := waitStats(t, m, 2*time.Second, func(s Stats) bool { return s.PacketsIn == uint64(len(junk)) })
	assert.Equal(t, uint64(0), s.Delivered)
	assert.Equal(t, uint64(len(junk)), s.DroppedUnknown+s.DroppedMalformed)
	assert.NotZero(t, s.DroppedMalformed)
	assert.Equal(t, 0, s.PendingUfrags)
	expectNothing(t, c, 20*time.Millisecond)

	// The mux still works.
	_, err = remote.WriteTo(check, m.LocalAddr())
	require.NoError(t, err)
	got, _ := readTimeout(t, c, 2*time.Second)
	assert.Equal(t, check, got)
}

// TestQueueDropsWhenFull: a connection that does not read loses datagrams,
// and the socket keeps serving the others.
func TestQueueDropsWhenFull(t *testing.T) {
	testutil.LeakCheck(t)
	m := newMux(t, Options{QueueLen: 4})
	slow, err := m.GetConn("slow", m.LocalAddr())
	require.NoError(t, err)
	defer slow.Close()
	fast, err := m.GetConn("fast", m.LocalAddr())
	require.NoError(t, err)
	defer fast.Close()
	remote := sender(t, "udp4")
	for range 10 {
		_, err := remote.WriteTo(bindingRequest(t, "slow:x"), m.LocalAddr())
		require.NoError(t, err)
	}
	s := waitStats(t, m, 2*time.Second, func(s Stats) bool { return s.PacketsIn == 10 })
	assert.Equal(t, uint64(4), s.Delivered)
	assert.Equal(t, uint64(6), s.DroppedQueueFull)
	assert.Equal(t, 4, s.Queued)

	check := bindingRequest(t, "fast:x")
	_, err = remote.WriteTo(check, m.LocalAddr())
	require.NoError(t, err)
	got, _ := readTimeout(t, fast, 2*time.Second)
	assert.Equal(t, check, got)
	for range 4 {
		readTimeout(t, slow, time.Second)
	}
	expectNothing(t, slow, 20*time.Millisecond)
}

// TestAddrsPerUfragCapped: past MaxAddrsPerUfrag, the address sent to least
// recently is unmapped.
func TestAddrsPerUfragCapped(t *testing.T) {
	testutil.LeakCheck(t)
	m := newMux(t, Options{MaxAddrsPerUfrag: 2})
	c, err := m.GetConn("capped", m.LocalAddr())
	require.NoError(t, err)
	defer c.Close()
	r1, r2, r3 := sender(t, "udp4"), sender(t, "udp4"), sender(t, "udp4")
	for _, r := range []*net.UDPConn{r1, r2, r1, r3} { // r2 is the least recent when r3 comes
		_, err := c.WriteTo([]byte("x"), r.LocalAddr())
		require.NoError(t, err)
	}
	s := m.Stats()
	assert.Equal(t, 2, s.Addrs)
	assert.Equal(t, uint64(1), s.AddrsEvicted)

	for _, r := range []*net.UDPConn{r1, r2, r3} {
		_, err := r.WriteTo([]byte{0x17, 0xfe, 0xfd, byte(r.LocalAddr().(*net.UDPAddr).Port)}, m.LocalAddr()) //nolint:forcetypeassert // a UDP socket
		require.NoError(t, err)
	}
	waitStats(t, m, 2*time.Second, func(s Stats) bool { return s.PacketsIn == 3 })
	got := map[string]bool{}
	for range 2 {
		_, from := readTimeout(t, c, time.Second)
		got[from.String()] = true
	}
	assert.Equal(t, map[string]bool{r1.LocalAddr().String(): true, r3.LocalAddr().String(): true}, got)
	assert.Equal(t, uint64(1), m.Stats().DroppedUnknown)
}

// TestAddressMovesToLatestSender: two connections sending to one remote
// address: the latest takes it, and the first keeps no stale entry.
func TestAddressMovesToLatestSender(t *testing.T) {
	testutil.LeakCheck(t)
	m := newMux(t, Options{})
	a, err := m.GetConn("a", m.LocalAddr())
	require.NoError(t, err)
	b, err := m.GetConn("b", m.LocalAddr())
	require.NoError(t, err)
	remote := sender(t, "udp4")
	_, err = a.WriteTo([]byte("x"), remote.LocalAddr())
	require.NoError(t, err)
	_, err = b.WriteTo([]byte("x"), remote.LocalAddr())
	require.NoError(t, err)
	assert.Equal(t, 1, m.Stats().Addrs)
	_, err = remote.WriteTo([]byte{0x17}, m.LocalAddr())
	require.NoError(t, err)
	readTimeout(t, b, 2*time.Second)
	require.NoError(t, b.Close())
	assert.Equal(t, 0, m.Stats().Addrs)
	// a's write fast path must not resurrect a dead mapping silently.
	_, err = a.WriteTo([]byte("x"), remote.LocalAddr())
	require.NoError(t, err)
	assert.Equal(t, 1, m.Stats().Addrs)
	require.NoError(t, a.Close())
	assert.Equal(t, 0, m.Stats().Addrs)
}

func TestGetConnRefcount(t *testing.T) {
	testutil.LeakCheck(t)
	m := newMux(t, Options{})
	c1, err := m.GetConn("shared", m.LocalAddr())
	require.NoError(t, err)
	c2, err := m.GetConn("shared", m.LocalAddr())
	require.NoError(t, err)
	assert.Equal(t, 1, m.Stats().Conns)
	require.NoError(t, c1.Close())
	require.NoError(t, c1.Close())
	assert.Equal(t, 1, m.Stats().Conns, "c2 still holds it")

	remote := sender(t, "udp4")
	check := bindingRequest(t, "shared:x")
	_, err = remote.WriteTo(check, m.LocalAddr())
	require.NoError(t, err)
	got, _ := readTimeout(t, c2, 2*time.Second)
	assert.Equal(t, check, got)
	require.NoError(t, c2.Close())
	assert.Equal(t, 0, m.Stats().Conns)
}

func TestRemoveConnByUfrag(t *testing.T) {
	testutil.LeakCheck(t)
	m := newMux(t, Options{})
	c, err := m.GetConn("gone", m.LocalAddr())
	require.NoError(t, err)
	defer c.Close()
	remote := sender(t, "udp4")
	_, err = c.WriteTo([]byte("x"), remote.LocalAddr())
	require.NoError(t, err)

	readErr := make(chan error, 1)
	go func() {
		_, _, err := c.ReadFrom(make([]byte, 100))
		readErr <- err
	}()
	m.RemoveConnByUfrag("gone")
	select {
	case err := <-readErr:
		assert.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(2 * time.Second):
		t.Fatal("blocked read not woken")
	}
	s := m.Stats()
	assert.Equal(t, 0, s.Conns)
	assert.Equal(t, 0, s.Addrs)
	_, err = c.WriteTo([]byte("x"), remote.LocalAddr())
	assert.ErrorIs(t, err, net.ErrClosed)
	m.RemoveConnByUfrag("gone")
	m.RemoveConnByUfrag("never")

	// The ufrag can be used again.
	c2, err := m.GetConn("gone", m.LocalAddr())
	require.NoError(t, err)
	require.NoError(t, c2.Close())
}

func TestGetConnErrors(t *testing.T) {
	testutil.LeakCheck(t)
	m := newMux(t, Options{})
	other := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: m.Port() + 1}
	_, err := m.GetConn("u", other)
	assert.ErrorIs(t, err, ErrUnknownAddress)
	_, err = m.GetConn("u", &net.UDPAddr{IP: net.IPv6loopback, Port: m.Port()})
	assert.ErrorIs(t, err, ErrUnknownAddress)
	_, err = m.GetConn("u", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: m.Port()})
	assert.ErrorIs(t, err, ErrUnknownAddress)
	_, err = m.GetConn("", m.LocalAddr())
	assert.ErrorIs(t, err, ErrInvalidUfrag)

	c, err := m.GetConn("u", m.LocalAddr())
	require.NoError(t, err)
	_, err = c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv6loopback, Port: 9})
	assert.ErrorIs(t, err, ErrAddressFamily)
	_, err = c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 0})
	assert.ErrorIs(t, err, ErrInvalidDestination)
	_, err = c.WriteTo([]byte("x"), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9})
	assert.ErrorIs(t, err, ErrInvalidDestination)
	// Ports outside 1…65535 are refused as *net.UDPConn refuses them, not sent to their low
	// 16 bits.
	for _, port := range []int{-1, 65536, 0x10009} {
		_, err = c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		assert.ErrorIs(t, err, ErrInvalidDestination, "port %d", port)
	}

	require.NoError(t, m.Close())
	_, _, err = c.ReadFrom(make([]byte, 10))
	assert.ErrorIs(t, err, net.ErrClosed)
	_, err = m.GetConn("u2", m.LocalAddr())
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, ErrClosed, net.ErrClosed)
	_, err = m.Accept(context.Background())
	assert.ErrorIs(t, err, ErrClosed)
	require.NoError(t, c.Close())
	assert.Equal(t, 0, m.Stats().Conns)
}

func TestReadDeadline(t *testing.T) {
	testutil.LeakCheck(t)
	m := newMux(t, Options{})
	c, err := m.GetConn("dl", m.LocalAddr())
	require.NoError(t, err)
	defer c.Close()

	start := time.Now()
	require.NoError(t, c.SetReadDeadline(start.Add(50*time.Millisecond)))
	_, _, err = c.ReadFrom(make([]byte, 10))
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	assert.GreaterOrEqual(t, time.Since(start), 40*time.Millisecond)

	// A deadline in the past fails at once; clearing it reads again.
	require.NoError(t, c.SetDeadline(time.Now().Add(-time.Second)))
	_, _, err = c.ReadFrom(make([]byte, 10))
	require.ErrorAs(t, err, &ne)
	require.NoError(t, c.SetReadDeadline(time.Time{}))
	remote := sender(t, "udp4")
	check := bindingRequest(t, "dl:x")
	_, err = remote.WriteTo(check, m.LocalAddr())
	require.NoError(t, err)
	got, _ := readTimeout(t, c, 2*time.Second)
	assert.Equal(t, check, got)

	// A deadline moved later while a read waits takes effect.
	require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Hour)))
	done := make(chan error, 1)
	go func() {
		_, _, err := c.ReadFrom(make([]byte, 10))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("read returned early: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	require.NoError(t, c.Close())
	assert.ErrorIs(t, <-done, net.ErrClosed)
	require.NoError(t, c.SetWriteDeadline(time.Now()))
}

// TestShortReadTruncates: like a UDP socket, a read into a short buffer
// returns what fits and loses the rest, rather than failing, which would end
// pion's candidate read loop.
func TestShortReadTruncates(t *testing.T) {
	testutil.LeakCheck(t)
	m := newMux(t, Options{})
	c, err := m.GetConn("short", m.LocalAddr())
	require.NoError(t, err)
	defer c.Close()
	remote := sender(t, "udp4")
	check := bindingRequest(t, "short:x")
	_, err = remote.WriteTo(check, m.LocalAddr())
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(2*time.Second)))
	buf := make([]byte, 10)
	n, _, err := c.ReadFrom(buf)
	require.NoError(t, err)
	assert.Equal(t, check[:10], buf[:n])
}

// TestPendingBounded: more unknown ufrags than MaxPendingUfrags keep only
// the newest, and PendingTTL forgets them.
func TestPendingBounded(t *testing.T) {
	testutil.LeakCheck(t)
	m := newMux(t, Options{MaxPendingUfrags: 8, PendingTTL: 300 * time.Millisecond})
	remote := sender(t, "udp4")
	for i := range 20 {
		_, err := remote.WriteTo(bindingRequest(t, "u"+itoa(i)+":x"), m.LocalAddr())
		require.NoError(t, err)
	}
	s := waitStats(t, m, 2*time.Second, func(s Stats) bool { return s.PacketsIn == 20 })
	assert.Equal(t, 8, s.PendingUfrags)
	assert.Equal(t, uint64(12), s.PendingEvicted)
	for i := 12; i < 20; i++ {
		in, err := m.Accept(testutil.Context(t, time.Second))
		require.NoError(t, err)
		assert.Equal(t, "u"+itoa(i), in.Ufrag, "oldest first, evicted ones not reported")
	}
	waitStats(t, m, 2*time.Second, func(s Stats) bool { return s.PendingUfrags == 0 })
	assert.Equal(t, uint64(20), m.Stats().PendingEvicted)
}

// TestManyReaders: with several reuseport sockets, datagrams from many
// remotes all arrive, each flow in order.
func TestManyReaders(t *testing.T) {
	testutil.LeakCheck(t)
	for _, batch := range []int{1, 8} {
		t.Run("batch"+itoa(batch), func(t *testing.T) {
			const remotes, each = 32, 20
			m := newMux(t, Options{Readers: 4, Batch: batch, QueueLen: remotes * each, MaxAddrsPerUfrag: remotes})
			c, err := m.GetConn("many", m.LocalAddr())
			require.NoError(t, err)
			defer c.Close()
			var socks []*net.UDPConn
			for range remotes {
				s := sender(t, "udp4")
				socks = append(socks, s)
				_, err := c.WriteTo([]byte("map"), s.LocalAddr())
				require.NoError(t, err)
			}
			for i := range each {
				for _, s := range socks {
					_, err := s.WriteTo([]byte{0x17, byte(i)}, m.LocalAddr())
					require.NoError(t, err)
				}
			}
			next := map[string]byte{}
			for range remotes * each {
				got, from := readTimeout(t, c, 2*time.Second)
				require.Len(t, got, 2)
				assert.Equal(t, next[from.String()], got[1], "in order per flow")
				next[from.String()] = got[1] + 1
			}
			s := m.Stats()
			assert.Equal(t, uint64(remotes*each), s.Delivered)
			assert.Equal(t, 4, s.Readers)
		})
	}
}

// TestIPv6KeptApart: a mux on 127.0.0.1 and ::1 (same port) has separate
// connections per family for one ufrag, and each gets only its family's
// datagrams.
func TestIPv6KeptApart(t *testing.T) {
	testutil.LeakCheck(t)
	// The namespace make test runs these in has ::1 whatever the host's lo has; outside it
	// they skip (or fail under RANGECAST_REQUIRE_NETNS=1), never pass without IPv6.
	netns.Require(t)

	m := newMux(t, Options{Addrs: []string{"[::1]:0"}})
	addrs := m.LocalAddrs()
	require.Len(t, addrs, 2)
	a4, a6 := addrs[0].(*net.UDPAddr), addrs[1].(*net.UDPAddr) //nolint:forcetypeassert // UDP addresses
	assert.Equal(t, a4.Port, a6.Port, "one port for both families")
	assert.Equal(t, "::1", a6.IP.String())
	assert.Equal(t, addrs, m.GetListenAddresses())

	c4, err := m.GetConn("dual", a4)
	require.NoError(t, err)
	defer c4.Close()
	c6, err := m.GetConn("dual", a6)
	require.NoError(t, err)
	defer c6.Close()
	assert.Equal(t, 2, m.Stats().Conns)

	r4, r6 := sender(t, "udp4"), sender(t, "udp6")
	check := bindingRequest(t, "dual:x")
	_, err = r4.WriteTo(check, a4)
	require.NoError(t, err)
	_, from := readTimeout(t, c4, 2*time.Second)
	assert.Equal(t, r4.LocalAddr().String(), from.String())
	expectNothing(t, c6, 20*time.Millisecond)

	_, err = r6.WriteTo(check, a6)
	require.NoError(t, err)
	_, from = readTimeout(t, c6, 2*time.Second)
	assert.Equal(t, r6.LocalAddr().String(), from.String())
	expectNothing(t, c4, 20*time.Millisecond)

	// Address mappings are per family too.
	_, err = c6.WriteTo([]byte("x"), r6.LocalAddr())
	require.NoError(t, err)
	_, err = c6.WriteTo([]byte("x"), r4.LocalAddr())
	assert.ErrorIs(t, err, ErrAddressFamily)
	_, err = r6.WriteTo([]byte{0x17}, a6)
	require.NoError(t, err)
	readTimeout(t, c6, 2*time.Second)

	// An unknown ufrag over IPv6 is reported with its IPv6 addresses.
	_, err = r6.WriteTo(bindingRequest(t, "v6new:x"), a6)
	require.NoError(t, err)
	in, err := m.Accept(testutil.Context(t, 2*time.Second))
	require.NoError(t, err)
	assert.Equal(t, "v6new", in.Ufrag)
	assert.True(t, in.Remote.Addr().Is6())
	assert.Equal(t, a6.String(), in.Local.String())

	m.RemoveConnByUfrag("dual")
	s := m.Stats()
	assert.Equal(t, 0, s.Conns)
	assert.Equal(t, 0, s.Addrs)
}

// TestUnspecifiedListenAddresses: on 0.0.0.0 the mux reports the host's
// IPv4 addresses with its port. Nothing is sent.
func TestUnspecifiedListenAddresses(t *testing.T) {
	testutil.LeakCheck(t)
	m := newMux(t, Options{Addr: "0.0.0.0:0", IncludeLoopback: true})
	var found bool
	for _, a := range m.GetListenAddresses() {
		ua := a.(*net.UDPAddr) //nolint:forcetypeassert // UDP addresses
		assert.Equal(t, m.Port(), ua.Port)
		assert.NotNil(t, ua.IP.To4())
		if ua.IP.IsLoopback() {
			found = true
			c, err := m.GetConn("any", ua)
			require.NoError(t, err)
			assert.Equal(t, ua.String(), c.LocalAddr().String())
			require.NoError(t, c.Close())
		}
	}
	assert.True(t, found, "127.0.0.1 listed with IncludeLoopback")

	m2 := newMux(t, Options{Addr: "0.0.0.0:0"})
	for _, a := range m2.GetListenAddresses() {
		assert.False(t, a.(*net.UDPAddr).IP.IsLoopback()) //nolint:forcetypeassert // UDP addresses
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestClosedUfragNotReported: late checks for the ufrag of a connection
// that closed are dropped, not reported as new, until three PendingTTLs
// have passed.
func TestClosedUfragNotReported(t *testing.T) {
	testutil.LeakCheck(t)
	const ttl = 100 * time.Millisecond
	m := newMux(t, Options{PendingTTL: ttl})
	c, err := m.GetConn("closing", m.LocalAddr())
	require.NoError(t, err)
	require.NoError(t, c.Close())
	assert.Equal(t, 1, m.Stats().ClosedUfrags)

	remote := sender(t, "udp4")
	_, err = remote.WriteTo(bindingRequest(t, "closing:x"), m.LocalAddr())
	require.NoError(t, err)
	s := waitStats(t, m, 2*time.Second, func(s Stats) bool { return s.PacketsIn == 1 })
	assert.Equal(t, uint64(1), s.DroppedUnknown)
	assert.Equal(t, 0, s.PendingUfrags)

	waitStats(t, m, 2*time.Second, func(s Stats) bool { return s.ClosedUfrags == 0 })
	_, err = remote.WriteTo(bindingRequest(t, "closing:x"), m.LocalAddr())
	require.NoError(t, err)
	in, err := m.Accept(testutil.Context(t, 2*time.Second))
	require.NoError(t, err)
	assert.Equal(t, "closing", in.Ufrag)

	// GetConn makes a remembered ufrag live again.
	c, err = m.GetConn("again", m.LocalAddr())
	require.NoError(t, err)
	require.NoError(t, c.Close())
	c, err = m.GetConn("again", m.LocalAddr())
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, 0, m.Stats().ClosedUfrags)
	check := bindingRequest(t, "again:x")
	_, err = remote.WriteTo(check, m.LocalAddr())
	require.NoError(t, err)
	got, _ := readTimeout(t, c, 2*time.Second)
	assert.Equal(t, check, got)
}
