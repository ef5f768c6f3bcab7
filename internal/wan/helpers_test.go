//go:build linux

package wan

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/netns"
	"github.com/rangecast/rangecast/internal/testutil"
)

func TestMain(m *testing.M) {
	testutil.VerifyTestMain(m)
}

// requireRoot skips a test that needs network namespaces and TUN devices, or fails it
// where the namespace tests are required (netns.EnvRequire, set by make test).
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		const why = "internal/wan needs root (network namespaces, TUN devices); run as root to test the WAN emulator"
		if netns.Required() {
			t.Fatal(why + " (" + netns.EnvRequire + "=1)")
		}
		t.Skip("SKIPPED: " + why)
	}
}

// newLink creates a Link that is closed when the test ends.
func newLink(t *testing.T, cfg Config) *Link {
	t.Helper()
	requireRoot(t)
	l, err := New(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l
}

// listenUDP opens a UDP socket on side s's address, inside s's namespace.
func listenUDP(t *testing.T, l *Link, s Side) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	require.NoError(t, l.Run(s, func() (err error) {
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.Addr(s), 0)))
		return err
	}))
	require.NoError(t, c.SetReadBuffer(8<<20))
	t.Cleanup(func() { c.Close() })
	return c
}

// dialUDP connects a UDP socket from side s to raddr, inside s's namespace.
func dialUDP(t *testing.T, l *Link, s Side, raddr net.Addr) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	require.NoError(t, l.Run(s, func() (err error) {
		c, err = net.DialUDP("udp4", nil, raddr.(*net.UDPAddr))
		return err
	}))
	t.Cleanup(func() { c.Close() })
	return c
}

// sendSeq sends n datagrams numbered 0..n-1, burst at a time with a pause between bursts, so
// that neither the sender's TUN queue nor the receiver's socket buffer drops anything.
func sendSeq(t *testing.T, c *net.UDPConn, n, burst int, pause time.Duration) {
	t.Helper()
	b := make([]byte, 64)
	for i := range n {
		binary.BigEndian.PutUint32(b, uint32(i))
		_, err := c.Write(b)
		require.NoError(t, err)
		if (i+1)%burst == 0 {
			time.Sleep(pause)
		}
	}
}

// collector records the sequence numbers received on a socket, in arrival order.
type collector struct {
	mu   sync.Mutex
	seqs []uint32
	wg   sync.WaitGroup
}

// collect reads c until it is closed; the test's cleanup closes it and waits.
func collect(t *testing.T, c *net.UDPConn) *collector {
	col := &collector{}
	col.wg.Add(1)
	go func() {
		defer col.wg.Done()
		b := make([]byte, 2048)
		for {
			n, err := c.Read(b)
			if err != nil {
				return
			}
			if n >= 4 {
				col.mu.Lock()
				col.seqs = append(col.seqs, binary.BigEndian.Uint32(b))
				col.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { c.Close(); col.wg.Wait() })
	return col
}

func (col *collector) snapshot() []uint32 {
	col.mu.Lock()
	defer col.mu.Unlock()
	return append([]uint32(nil), col.seqs...)
}

// settle waits, at most 3 s, until direction from has nothing in flight and neither its
// counters nor what the receiver got change for 50 ms; it returns both.
func settle(t *testing.T, l *Link, from Side, col *collector) (DirectionStats, []uint32) {
	t.Helper()
	read := func() (DirectionStats, []uint32) {
		if from == B {
			return l.Stats().BtoA, col.snapshot()
		}
		return l.Stats().AtoB, col.snapshot()
	}
	deadline := time.Now().Add(3 * time.Second)
	st, got := read()
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		st2, got2 := read()
		if st2 == st && len(got2) == len(got) && st.InFlight == 0 {
			break
		}
		st, got = st2, got2
	}
	return st, got
}
