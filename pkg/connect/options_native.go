//go:build !js

package connect

import (
	"time"

	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/signaling"
)

// NativeOptions returns the options a native client (`rangecast get` and `ls`, and the
// benchmarks that measure them) dials a daemon with: loopback candidates for a daemon on
// the same host, no multicast DNS, a failed connection noticed within 15 s, and an 8 MiB
// SCTP receive window, which lets a transfer run at the sender's pace.
func NativeOptions() Options {
	return Options{Signal: signaling.DialOptions{
		Peer: peer.Config{Native: peer.NativeOptions{
			IncludeLoopbackCandidate: true,
			DisableMulticastDNS:      true,
			ICEDisconnectedTimeout:   5 * time.Second,
			ICEFailedTimeout:         10 * time.Second,
			SCTPReceiveBufferSize:    8 << 20,
		}},
		Timeout: 30 * time.Second,
	}}
}
