package main

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// connKey is the context key under which the daemon's HTTP server keeps each request's TCP
// connection, for signalingRTT.
type connKey struct{}

// tcpListener remembers the TCP connections it accepted, by remote address, until they
// close: the listener wrapped around it (netutil.LimitListener) hides the *net.TCPConn from
// http.Server.ConnContext, which finds it here (connContext).
type tcpListener struct {
	net.Listener
	conns sync.Map // remote address → *net.TCPConn
}

func (l *tcpListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	key := tc.RemoteAddr().String()
	l.conns.Store(key, tc)
	return &trackedConn{TCPConn: tc, forget: func() { l.conns.CompareAndDelete(key, tc) }}, nil
}

// connContext is the daemon's http.Server.ConnContext: it puts c's TCP connection in the
// context of every request that c carries.
func (l *tcpListener) connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := l.conns.Load(c.RemoteAddr().String()); ok {
		return context.WithValue(ctx, connKey{}, tc)
	}
	return ctx
}

// trackedConn is an accepted connection that leaves tcpListener's map when closed.
type trackedConn struct {
	*net.TCPConn
	once   sync.Once
	forget func()
}

func (c *trackedConn) Close() error {
	c.once.Do(c.forget)
	return c.TCPConn.Close()
}

// signalingRTT is the round trip of the TCP connection that carried r, as the kernel
// measured it: the path between the daemon and a peer signaling it directly, which its
// WebRTC traffic takes too. ok is false for a request that came another way (a relayed
// one: its connection ends at the relay) or where the kernel does not say.
func signalingRTT(r *http.Request) (time.Duration, bool) {
	c, ok := r.Context().Value(connKey{}).(*net.TCPConn)
	if !ok {
		return 0, false
	}
	return tcpRTT(c)
}

// floorRate is the rate that the SCTP window floor is sized to carry over a peer's round
// trip, about the most one peer gets natively on these machines: the pacer (pkg/peer)
// decides the rate under it. (25 MB/s × RTT was measured too: at 10 ms and 1 % loss it
// halved throughput, 8.9 against 16.1 MB/s.)
const floorRate = 100e6 // bytes/s

// minFloor: a floor smaller than this (a round trip under 1.3 ms) is none; pion's own
// window recovers within a few round trips on such a short path.
const minFloor = 128 << 10

// sctpFloor is the floor under SCTP's congestion window for a peer at round trip rtt
// (measured false: not measured), at most max (--sctp-min-cwnd).
//
// The floor holds SCTP's loss-based window open for the pacer on a long lossy path, where
// NewReno would collapse it (50 ms, 1 % loss: 0.32 MB/s without, 10 MB/s with it). On a short
// path it only does harm: a receiver whose UDP socket buffer overflows while its process is
// descheduled — Chromium's is 128 KiB, a few dozen datagrams — loses a burst, and SCTP, held
// at the floor, resends the window at once into the same full buffer, until a retransmission
// timeout (into Chromium on loopback: 4× slower, docs/BENCHMARKS.md). So the floor is sized
// from the round trip of the peer's signaling connection, floorRate × RTT at most max: none
// under minFloor (loopback, a LAN under 1.3 ms), the full 1 MiB from about 10 ms, and the
// full 1 MiB for a peer not measured (relayed: most likely far).
//
// The pacer (--pacing) runs where there is a floor to pace under: on a short path SCTP's own
// window decides the rate (see shortPath).
func sctpFloor(max uint, rtt time.Duration, measured bool) uint32 {
	if shortPath(rtt, measured) {
		return 0
	}
	f := float64(max)
	if measured {
		f = min(f, floorRate*rtt.Seconds())
	}
	return uint32(f)
}

// shortPath reports whether a peer at round trip rtt is near: measured, and under 1.3 ms
// (loopback, a LAN), where floorRate × RTT is under minFloor. Such a peer gets no window floor
// and is not paced: SCTP's own window recovers within a few round trips there, and the
// pacer's waits only cost throughput (natively on loopback, `rangecast get` 62 against
// 82 MB/s, docs/BENCHMARKS.md). Its messages are still held to peer.PacedMessageSize
// (serve.go).
func shortPath(rtt time.Duration, measured bool) bool {
	return measured && floorRate*rtt.Seconds() < minFloor
}

// The slack of a peer's retransmission timeout beyond two round trips (sctpRTOMax): five
// round trips, at least minRTOSlack, at most maxRTOSlack.
const (
	minRTOSlack = 60 * time.Millisecond  // a busy machine's and an emulated link's jitter
	maxRTOSlack = 250 * time.Millisecond // a SACK the receiver delays (200 ms at most, RFC 4960 §6.2) and jitter
)

// sctpRTOMax is the cap on SCTP's retransmission timeout for a peer at round trip rtt
// (measured false: not measured): 2 × RTT + slack, at most `most` (--sctp-rto-max; 0:
// pion's own, 60 s), and `most` itself for a peer not measured (relayed). The slack is fixed if given
// (--sctp-rto-slack), else five round trips within [minRTOSlack, maxRTOSlack].
//
// pion's timeout is never under 1 s (RFC 4960's RTO.Min), so below that the cap is the
// timeout itself. A timeout stalls everything queued behind the chunk it waits for on the
// ordered channel: when Chromium's UDP socket overflows and drops a burst, and a resend is
// dropped again, the reads wait the whole timeout (a 1.2 s stall traced at 50 ms; at 10 ms,
// 56 % of a Chromium download's time was such stalls, docs/BENCHMARKS.md). The slack is
// there for a SACK that the receiver delays: it does so for a lone packet, up to 200 ms. On
// a path of a few round trips' worth of milliseconds, waiting for it costs more than it
// saves: a timeout then resends that one chunk, and with a window floor (sctpFloor) the
// congestion window stays where it was. So a short path's timeout is a few of its round
// trips; from 50 ms on it keeps the whole slack (shorter measured no better there).
func sctpRTOMax(most, slack, rtt time.Duration, measured bool) time.Duration {
	if most <= 0 || !measured {
		return most
	}
	if slack <= 0 {
		slack = min(max(5*rtt, minRTOSlack), maxRTOSlack)
	}
	return min(most, 2*rtt+slack)
}
