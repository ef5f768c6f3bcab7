//go:build linux

package wan

import (
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestRTT(t *testing.T) {
	for _, tc := range []struct {
		name          string
		delay, jitter time.Duration
	}{
		{"constant", 20 * time.Millisecond, 0},
		{"jitter", 20 * time.Millisecond, 10 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Direction{Delay: tc.delay, Jitter: tc.jitter}
			l := newLink(t, Config{AtoB: d, BtoA: d})
			srv := listenUDP(t, l, B)
			go func() { // echo until closed
				b := make([]byte, 2048)
				for {
					n, from, err := srv.ReadFromUDPAddrPort(b)
					if err != nil {
						return
					}
					srv.WriteToUDPAddrPort(b[:n], from)
				}
			}()
			c := dialUDP(t, l, A, srv.LocalAddr())

			const n = 25
			rtts := make([]time.Duration, 0, n)
			b := make([]byte, 2048)
			for range n {
				start := time.Now()
				_, err := c.Write([]byte("ping"))
				require.NoError(t, err)
				require.NoError(t, c.SetReadDeadline(time.Now().Add(2*time.Second)))
				_, err = c.Read(b)
				require.NoError(t, err)
				rtts = append(rtts, time.Since(start))
			}
			slices.Sort(rtts)
			median := rtts[n/2]
			t.Logf("RTT configured %v + up to %v of jitter: min %v median %v max %v",
				2*tc.delay, 2*tc.jitter, rtts[0], median, rtts[n-1])
			assert.GreaterOrEqual(t, rtts[0], 2*tc.delay, "no packet may arrive before its delay")
			assert.LessOrEqual(t, median, 2*tc.delay+tc.jitter+20*time.Millisecond)
			if tc.jitter > 0 {
				assert.GreaterOrEqual(t, rtts[n-1]-rtts[0], tc.jitter/2, "jitter spreads the RTTs")
			}
		})
	}
}

func TestRandomLoss(t *testing.T) {
	const n, p = 20000, 0.05
	l := newLink(t, Config{AtoB: Direction{Loss: p}, Seed: 7})
	srv := listenUDP(t, l, B)
	col := collect(t, srv)
	c := dialUDP(t, l, A, srv.LocalAddr())
	sendSeq(t, c, n, 50, time.Millisecond)
	st, seqs := settle(t, l, A, col)
	got := len(seqs)

	// Binomial(20000, 0.05) has a standard deviation of 31 packets; allow 5 of them.
	lost := n - got
	t.Logf("sent %d, received %d, loss %.2f%% (configured %.0f%%); stats %+v", n, got, 100*float64(lost)/n, 100*p, st)
	assert.InDelta(t, p*n, lost, 5*31)
	assert.Equal(t, uint64(n), st.Packets, "the kernel dropped packets before the emulator")
	assert.Equal(t, st.Packets-st.DroppedLoss, st.Forwarded)
	assert.Equal(t, uint64(lost), st.DroppedLoss, "every loss is the emulator's")
	drops, err := l.KernelDrops(t.Context(), A)
	require.NoError(t, err)
	assert.Zero(t, drops, "the forwarder fell behind")
}

func TestBurstLoss(t *testing.T) {
	const n = 20000
	ge := GilbertElliott{P: 0.01, R: 0.25, LossBad: 1}
	l := newLink(t, Config{AtoB: Direction{Burst: ge}, Seed: 11})
	srv := listenUDP(t, l, B)
	col := collect(t, srv)
	c := dialUDP(t, l, A, srv.LocalAddr())
	sendSeq(t, c, n, 50, time.Millisecond)
	st, seqs := settle(t, l, A, col)

	got := make([]bool, n)
	for _, s := range seqs {
		got[s] = true
	}
	var bursts, lost, run int
	for i := range n + 1 {
		if i < n && !got[i] {
			run++
			continue
		}
		if run > 0 {
			bursts++
			lost += run
			run = 0
		}
	}
	require.Positive(t, bursts)
	mean := float64(lost) / float64(bursts)
	t.Logf("lost %d in %d bursts: mean burst %.2f (1/R = %.2f), loss %.2f%% (P/(P+R) = %.2f%%); stats %+v",
		lost, bursts, mean, 1/ge.R, 100*float64(lost)/n, 100*ge.P/(ge.P+ge.R), st)
	// About 190 bursts, geometric with mean 4 and deviation 3.5: the mean's error is ≈ 0.25.
	assert.InDelta(t, 1/ge.R, mean, 1)
	assert.InDelta(t, ge.P/(ge.P+ge.R), float64(lost)/n, 0.015)
	assert.Equal(t, uint64(lost), st.DroppedLoss)
}

func TestReorder(t *testing.T) {
	for _, tc := range []struct {
		name      string
		dir       Direction
		reordered bool
	}{
		{"reorder", Direction{Delay: 2 * time.Millisecond, ReorderProb: 0.1, ReorderDelay: 5 * time.Millisecond}, true},
		{"jitter keeps order", Direction{Delay: 2 * time.Millisecond, Jitter: 3 * time.Millisecond}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 500
			l := newLink(t, Config{AtoB: tc.dir, Seed: 3})
			srv := listenUDP(t, l, B)
			col := collect(t, srv)
			c := dialUDP(t, l, A, srv.LocalAddr())
			sendSeq(t, c, n, 10, time.Millisecond)
			st, seqs := settle(t, l, A, col)
			require.Len(t, seqs, n)
			var late int // packets that arrive after a later-sent one
			var top uint32
			for i, s := range seqs {
				if i > 0 && s < top {
					late++
				}
				top = max(top, s)
			}
			t.Logf("%d of %d arrived after a later packet; stats %+v", late, n, st)
			if tc.reordered {
				assert.Positive(t, late)
				assert.Positive(t, st.Reordered)
			} else {
				assert.Zero(t, late)
			}
		})
	}
}

// transfer sends size random bytes over TCP from A to B and returns their sha256 on both
// ends and the time the receiver took from its first byte to the end.
func transfer(t *testing.T, l *Link, size int, during func()) (sent, got [32]byte, elapsed time.Duration) {
	t.Helper()
	var ln net.Listener
	require.NoError(t, l.Run(B, func() (err error) {
		ln, err = net.Listen("tcp4", l.AddrB().String()+":0")
		return err
	}))
	defer ln.Close()
	type result struct {
		sum     [32]byte
		elapsed time.Duration
		err     error
	}
	res := make(chan result, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			res <- result{err: err}
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		h := sha256.New()
		first := make([]byte, 1)
		if _, err := io.ReadFull(conn, first); err != nil {
			res <- result{err: err}
			return
		}
		start := time.Now()
		h.Write(first)
		_, err = io.Copy(h, conn)
		res <- result{sum: [32]byte(h.Sum(nil)), elapsed: time.Since(start), err: err}
	}()
	var conn net.Conn
	require.NoError(t, l.Run(A, func() (err error) {
		conn, err = net.DialTimeout("tcp4", ln.Addr().String(), 5*time.Second)
		return err
	}))
	data := make([]byte, size)
	rand.Read(data)
	sent = sha256.Sum256(data)
	werr := make(chan error, 1)
	go func() {
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		_, err := conn.Write(data)
		werr <- errorsJoin(err, conn.(*net.TCPConn).CloseWrite())
	}()
	if during != nil {
		during()
	}
	require.NoError(t, <-werr)
	r := <-res
	conn.Close()
	require.NoError(t, r.err)
	return sent, r.sum, r.elapsed
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// TestRateCap checks the cap with kernel TCP. Every attempt must stay under the cap; reaching
// 80 % of it may take up to three, because CPU starvation of this process (the forwarder runs
// here) idles the link in a way TCP cannot make up for: on the shared 2-core machine at load
// 16, the writer ran up to 600 ms late and goodput fell to 55 %.
func TestRateCap(t *testing.T) {
	const rate = 8_000_000 // 1 MB/s
	const size = 2 << 20
	var best float64
	for attempt := 1; attempt <= 3 && best < 0.8*rate; attempt++ {
		l := newLink(t, Config{
			AtoB: Direction{Delay: 10 * time.Millisecond, RateBps: rate, Queue: 50 * time.Millisecond},
			BtoA: Direction{Delay: 10 * time.Millisecond},
		})
		sent, got, elapsed := transfer(t, l, size, nil)
		require.Equal(t, sent, got)
		goodput := float64(size) * 8 / elapsed.Seconds()
		st := l.Stats().AtoB
		t.Logf("attempt %d: goodput %.2f Mbit/s over %v = %.0f%% of the %.0f Mbit/s cap; stats %+v",
			attempt, goodput/1e6, elapsed, 100*goodput/rate, rate/1e6, st)
		assert.LessOrEqual(t, goodput, float64(rate))
		assert.Positive(t, st.DroppedQueue, "TCP fills a 50 ms queue")
		assert.LessOrEqual(t, st.QueueHighWater, int64(rate/8*0.050))
		best = max(best, goodput)
		require.NoError(t, l.Close())
	}
	assert.GreaterOrEqual(t, best, 0.8*rate)
}

func TestFlap(t *testing.T) {
	l := newLink(t, Config{
		AtoB: Direction{Delay: 5 * time.Millisecond, RateBps: 8_000_000},
		BtoA: Direction{Delay: 5 * time.Millisecond},
	})
	sent, got, elapsed := transfer(t, l, 2<<20, func() {
		time.Sleep(500 * time.Millisecond)
		l.SetDown(true)
		time.Sleep(time.Second)
		l.SetDown(false)
	})
	st := l.Stats()
	t.Logf("transfer took %v with a 1 s cut; stats %+v", elapsed, st)
	assert.Equal(t, sent, got)
	assert.Positive(t, st.AtoB.DroppedDown)
	assert.GreaterOrEqual(t, elapsed, time.Second)
}

func TestClose(t *testing.T) {
	requireRoot(t)
	l, err := New(t.Context(), Config{})
	require.NoError(t, err)
	names := []string{l.Namespace(A), l.Namespace(B)}
	out, err := exec.Command("ip", "-n", names[1], "-o", "addr", "show", "dev", Device).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), l.AddrB().String())

	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close is idempotent")
	out, err = exec.Command("ip", "netns", "list").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, name := range names {
		assert.NotContains(t, strings.Fields(string(out)), name)
		_, err := os.Stat("/run/netns/" + name)
		assert.ErrorIs(t, err, os.ErrNotExist)
	}
	// goleak in TestMain checks that the forwarder's goroutines are gone.
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := New(t.Context(), Config{AtoB: Direction{Loss: 1.5}, BtoA: Direction{Delay: -time.Second}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Loss")
	assert.Contains(t, err.Error(), "Delay")
}

func TestSetDirection(t *testing.T) {
	l := newLink(t, Config{})
	srv := listenUDP(t, l, B)
	col := collect(t, srv)
	c := dialUDP(t, l, A, srv.LocalAddr())

	require.NoError(t, l.SetDirection(A, Direction{Loss: 1}))
	assert.Equal(t, Direction{Loss: 1}, l.Direction(A))
	assert.Error(t, l.SetDirection(A, Direction{ReorderProb: -1}))
	sendSeq(t, c, 100, 50, time.Millisecond)
	st, seqs := settle(t, l, A, col)
	assert.Empty(t, seqs)
	assert.Equal(t, uint64(100), st.DroppedLoss)

	require.NoError(t, l.SetDirection(A, Direction{}))
	sendSeq(t, c, 100, 50, time.Millisecond)
	st, seqs = settle(t, l, A, col)
	assert.Len(t, seqs, 100)
	assert.Equal(t, uint64(100), st.Forwarded)
}

// TestRunNamespace checks the trap the package documentation describes: fn runs in the
// namespace, a goroutine it starts does not, and the caller's thread never moves.
func TestRunNamespace(t *testing.T) {
	l := newLink(t, Config{})
	threadNS := func() uint64 {
		var st unix.Stat_t
		require.NoError(t, unix.Stat("/proc/thread-self/ns/net", &st))
		return st.Ino
	}
	var want unix.Stat_t
	require.NoError(t, unix.Stat("/run/netns/"+l.Namespace(B), &want))
	runtime.LockOSThread()
	outside := threadNS()
	runtime.UnlockOSThread()

	var inside, spawned uint64
	require.NoError(t, l.Run(B, func() error {
		inside = threadNS()
		done := make(chan uint64)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			done <- threadNS()
		}()
		spawned = <-done
		return nil
	}))
	assert.Equal(t, want.Ino, inside)
	assert.Equal(t, outside, spawned, "goroutines started in Run run in the original namespace")
	runtime.LockOSThread()
	assert.Equal(t, outside, threadNS())
	runtime.UnlockOSThread()
}

// TestCommand runs this test binary as a UDP echo server in B, a separate process that knows
// nothing of the emulator, and checks that its traffic crosses the link.
func TestCommand(t *testing.T) {
	const delay = 10 * time.Millisecond
	l := newLink(t, Config{AtoB: Direction{Delay: delay}, BtoA: Direction{Delay: delay}})
	addr := l.AddrB().String() + ":9999"
	cmd := l.CommandContext(t.Context(), B, os.Args[0], "-test.run=^TestHelperEcho$")
	cmd.Env = append(os.Environ(), "WAN_HELPER_ECHO="+addr)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make([]byte, len("ready\n"))
	_, err = io.ReadFull(out, ready)
	require.NoError(t, err)

	c := dialUDP(t, l, A, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	start := time.Now()
	_, err = c.Write([]byte("hello"))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	b := make([]byte, 64)
	n, err := c.Read(b)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(b[:n]))
	assert.GreaterOrEqual(t, time.Since(start), 2*delay)
	// The writer counts a packet just after writing it, so the counter may lag the reply.
	assert.Eventually(t, func() bool { return l.Stats().BtoA.Forwarded == 1 }, time.Second, 10*time.Millisecond)
}

// TestHelperEcho is the echo server TestCommand starts; it does nothing in a normal run.
func TestHelperEcho(t *testing.T) {
	addr := os.Getenv("WAN_HELPER_ECHO")
	if addr == "" {
		t.Skip("helper process for TestCommand")
	}
	c, err := net.ListenPacket("udp4", addr)
	require.NoError(t, err)
	os.Stdout.WriteString("ready\n")
	b := make([]byte, 2048)
	for { // until TestCommand kills the process
		n, from, err := c.ReadFrom(b)
		require.NoError(t, err)
		c.WriteTo(b[:n], from)
	}
}

// A socket in B whose receive buffer overflows shows in B's count, and only there.
func TestUDPReceiveBufferErrors(t *testing.T) {
	l := newLink(t, Config{})
	before, err := l.UDPReceiveBufferErrors(B)
	require.NoError(t, err)
	beforeA, err := l.UDPReceiveBufferErrors(A)
	require.NoError(t, err)
	var rx, tx *net.UDPConn
	require.NoError(t, l.Run(B, func() (err error) {
		if rx, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.AddrB(), 0))); err != nil {
			return err
		}
		if err = rx.SetReadBuffer(4096); err != nil { // the kernel's minimum: a few datagrams
			return err
		}
		tx, err = net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
		return err
	}))
	t.Cleanup(func() { rx.Close(); tx.Close() })
	const sent = 200
	b := make([]byte, 1000)
	for range sent {
		_, err := tx.Write(b)
		require.NoError(t, err)
	}
	after, err := l.UDPReceiveBufferErrors(B)
	require.NoError(t, err)
	afterA, err := l.UDPReceiveBufferErrors(A)
	require.NoError(t, err)
	t.Logf("B: %d datagrams dropped of %d sent to an unread socket", after-before, sent)
	assert.Greater(t, after-before, uint64(sent/2))
	assert.Equal(t, beforeA, afterA, "A counted B's drops")
}

func TestRcvbufErrors(t *testing.T) {
	snmp := "Ip: Forwarding DefaultTTL\nIp: 1 64\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 19 4 91 14 77 0\nUdpLite: InDatagrams RcvbufErrors\nUdpLite: 0 0\n"
	n, err := rcvbufErrors(snmp)
	require.NoError(t, err)
	assert.Equal(t, uint64(77), n)
	n, err = rcvbufErrors("Udp6InDatagrams                 	5\nUdp6RcvbufErrors                	12\nUdpLite6RcvbufErrors            	0\n")
	require.NoError(t, err)
	assert.Equal(t, uint64(12), n)
	_, err = rcvbufErrors("Ip: Forwarding\nIp: 1\n")
	assert.Error(t, err)
}
