package peer

import "fmt"

// DefaultReceiveQueueSize is the default bound, in bytes, on the received but
// unread messages a browser Channel holds.
const DefaultReceiveQueueSize = 8 << 20

// NativeOptions holds the settings of a native Conn; it has no fields in the
// browser, which decides ICE, SCTP and candidate policy itself.
type NativeOptions struct{}

func (o NativeOptions) withDefaults() (NativeOptions, error) { return o, nil }

// BrowserOptions holds the settings of a Conn built for the browser.
type BrowserOptions struct {
	// ReceiveQueueSize bounds, in bytes, the messages each Channel has
	// received and not yet returned from Read (0: DefaultReceiveQueueSize).
	// RTCDataChannel delivers every message as an event, with no way to push
	// back, so a peer that sends more than this closes the channel with
	// ErrReceiveOverflow; the session layer's flow control must keep the
	// sender below it. It must be at least the largest message the browser
	// accepts (256 KiB in Chromium).
	ReceiveQueueSize int
}

func (o BrowserOptions) withDefaults() (BrowserOptions, error) {
	if o.ReceiveQueueSize < 0 {
		return o, fmt.Errorf("peer: config: ReceiveQueueSize %d is negative", o.ReceiveQueueSize)
	}
	if o.ReceiveQueueSize == 0 {
		o.ReceiveQueueSize = DefaultReceiveQueueSize
	}
	return o, nil
}
