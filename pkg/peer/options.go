//go:build !js

package peer

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// DefaultMaxReceiveMessageSize is the a=max-message-size a native Conn
// advertises unless told otherwise: 256 KiB, what Chromium advertises, in
// place of pion's default of 1 GiB.
const DefaultMaxReceiveMessageSize = 256 << 10

// sctpDefaultReceiveBuffer is pion/sctp's receive buffer when none is set.
const sctpDefaultReceiveBuffer = 1 << 20

// NativeOptions holds the settings of a native Conn that only pion exposes.
// The zero value is a sensible default for a daemon: all interfaces, no
// loopback candidate, pion's ICE timers and SCTP receive window, 4 MiB UDP
// socket buffers, 256 KiB messages.
//
// Channels are always detached (SettingEngine.DetachDataChannels), which is
// what lets a Channel read one whole message at a time under SCTP's receive
// window.
type NativeOptions struct {
	// LoopbackOnly restricts ICE to loopback: only 127.0.0.1 and ::1 are
	// gathered and checked, and multicast DNS is off. Tests use it to keep
	// every packet on loopback. It implies IncludeLoopbackCandidate.
	LoopbackOnly bool

	// IncludeLoopbackCandidate also gathers loopback host candidates. A
	// daemon needs it for browsers on the same host that offer no candidate
	// of their own (Chromium in a loopback-only namespace), which reach its
	// 127.0.0.1 candidate as peer-reflexive.
	IncludeLoopbackCandidate bool

	// DisableMulticastDNS turns off pion's mDNS querying, which otherwise
	// joins the mDNS multicast group to resolve peers' .local candidates.
	DisableMulticastDNS bool

	// UDPMux, if set, carries all ICE traffic on its socket
	// (SettingEngine.SetICEUDPMux). The caller owns and closes it.
	UDPMux ice.UDPMux

	// Reflexive, if set, names the server-reflexive addresses of a local UDP
	// host candidate (the NAT's mappings of its port, learned from a STUN
	// server through the same socket: udpmux.Mux.MappedAddrs). Each one is
	// signaled as a srflx candidate right after its host candidate. pion
	// gathers srflx candidates on a UDPMux's own port only through an agent's
	// UDPMuxSrflx, which pion/webrtc v4.2 never sets; this fills that gap.
	Reflexive func(local netip.AddrPort) []netip.AddrPort

	// UDPBufferSize is the receive and send buffer size, in bytes, of the UDP
	// sockets the Conn opens when there is no UDPMux (0:
	// DefaultUDPBufferSize; negative: the system default). The kernel caps
	// it; on Linux, at net.core.rmem_max and wmem_max.
	UDPBufferSize int

	// SCTPReceiveBufferSize is the SCTP receive window in bytes, shared by
	// all channels of the Conn (0: pion's default, 1 MiB). It bounds the data
	// received but not yet read; a larger one raises throughput.
	SCTPReceiveBufferSize int

	// SCTPCwndCAStep is how many bytes SCTP's congestion window grows per
	// round trip in congestion avoidance (0: pion's one MTU, 1191 bytes).
	// Over a lossy long path a NewReno sender that grows one MTU per round
	// trip stays at the Mathis bound, MTU·1.22/(RTT·√loss): 0.3 MB/s at
	// 50 ms and 1 %; a larger step raises that bound by √(step/MTU). It
	// matters only where this Conn sends bulk data (the daemon).
	SCTPCwndCAStep uint32

	// SCTPFastRtxWnd is the window, in bytes, for the chunks a fast
	// retransmission sends at once (0: pion's one MTU).
	SCTPFastRtxWnd uint32

	// SCTPMinCwnd is a floor under SCTP's congestion window, kept even after
	// a retransmission timeout (0: none, pion's default). Above a narrow
	// path's bandwidth-delay product plus its queue it overflows the queue
	// for as long as data flows: use it only on paths known to be wide.
	SCTPMinCwnd uint32

	// SCTPRTOMax caps SCTP's retransmission timeout (0: pion's 60 s). pion's
	// RTO never goes below 1 s otherwise; a cap under RTT plus the peer's
	// delayed ACK (up to 200 ms) fires spuriously and collapses throughput.
	SCTPRTOMax time.Duration

	// Pacing makes the Conn pace what its channels write, from its own
	// estimate of the path's bandwidth and round-trip time (a BBR-like
	// model, pacer.go), and keep at most about twice their product
	// unacknowledged; channel messages are then at most 32 KiB (see
	// MaxSendMessageSize). Random loss
	// does not slow such a sender, a full bottleneck queue does. SCTP's own
	// congestion window has to be opened wide for it to decide
	// (SCTPMinCwnd). For a daemon over long lossy paths.
	Pacing bool

	// PathRTT, with Pacing, is the path's round trip to the peer if it was
	// measured before the association (0: not known): the pacer sizes its
	// window in startup from it, unless its own minimum RTT is lower. The
	// daemon takes the kernel's minimum RTT of the TCP connection that
	// carried the offer.
	PathRTT time.Duration

	// PaceDatagrams, with Pacing and a UDPMux, also spaces every datagram
	// the Conn sends at the pacer's rate (with headroom), SCTP's
	// retransmissions included: after a timeout SCTP resends its whole
	// window at once, a burst that overflows a bottleneck's queue or a
	// browser's 128 KiB socket buffer and is lost again.
	PaceDatagrams bool

	// MaxSendMessageSize bounds the messages the Conn's channels send (0: as
	// large as the peer accepts, at most 256 KiB; a paced Conn's are at most
	// 32 KiB whatever this says). On the ordered channel a message is sent
	// whole before the next: small messages keep a short request's answer
	// from waiting behind a long one's bulk.
	MaxSendMessageSize int

	// MaxReceiveMessageSize is the largest message the peer may send, which
	// the Conn advertises as a=max-message-size (0:
	// DefaultMaxReceiveMessageSize); pion does not enforce it on receipt. It
	// may not exceed the SCTP receive buffer, which has to hold a whole
	// message until it is complete.
	MaxReceiveMessageSize int

	// ICEDisconnectedTimeout is how long ICE waits without hearing from the
	// peer before reporting disconnected (0: pion's 5 s).
	ICEDisconnectedTimeout time.Duration

	// ICEFailedTimeout is how long ICE stays disconnected before reporting
	// failed, which closes the Conn with ErrFailed (0: pion's 25 s).
	ICEFailedTimeout time.Duration

	// ICEKeepAliveInterval is how often ICE sends a check on an idle
	// connection (0: pion's 2 s). Keep it well below the peer's disconnected
	// timeout.
	ICEKeepAliveInterval time.Duration

	// SettingEngine, if set, is called last with the SettingEngine the Conn
	// is about to use, for settings not listed here (for example
	// SetNAT1To1IPs or SetEphemeralUDPPortRange). Disabling detached
	// channels breaks the Conn.
	SettingEngine func(*webrtc.SettingEngine)
}

func (o NativeOptions) withDefaults() (NativeOptions, error) {
	if o.UDPBufferSize == 0 {
		o.UDPBufferSize = DefaultUDPBufferSize
	}
	if o.MaxReceiveMessageSize <= 0 {
		o.MaxReceiveMessageSize = DefaultMaxReceiveMessageSize
	}
	if o.MaxSendMessageSize < 0 {
		return o, fmt.Errorf("peer: config: MaxSendMessageSize %d is negative", o.MaxSendMessageSize)
	}
	if o.SCTPReceiveBufferSize < 0 || o.SCTPReceiveBufferSize > 1<<31-1 {
		return o, fmt.Errorf("peer: config: SCTPReceiveBufferSize %d out of range", o.SCTPReceiveBufferSize)
	}
	rbuf := o.SCTPReceiveBufferSize
	if rbuf == 0 {
		rbuf = sctpDefaultReceiveBuffer
	}
	if o.MaxReceiveMessageSize > rbuf {
		return o, fmt.Errorf("peer: config: MaxReceiveMessageSize %d exceeds the SCTP receive buffer %d",
			o.MaxReceiveMessageSize, rbuf)
	}
	return o, nil
}

// BrowserOptions holds the settings of a Conn built for the browser; it has no
// fields natively.
type BrowserOptions struct{}

func (o BrowserOptions) withDefaults() (BrowserOptions, error) { return o, nil }
