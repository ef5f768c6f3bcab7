//go:build js

package connect

import "github.com/rangecast/rangecast/pkg/peer"

// The browser's DataChannel has no receive backpressure: pkg/peer queues what arrives up to
// BrowserOptions.ReceiveQueueSize and closes the channel beyond it. The session's credit must
// therefore keep the bytes in flight below that queue, with room for frame headers and control
// frames.
const (
	defaultSessionWindow = peer.DefaultReceiveQueueSize * 3 / 4
	defaultStreamWindow  = 2 << 20
)
