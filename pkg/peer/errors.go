package peer

import (
	"errors"
	"io"
	"strings"
)

// ErrClosed is returned, possibly wrapped with a cause, by every operation on
// a closed Conn or Channel. It wraps io.EOF, so errors.Is(err, io.EOF) holds
// for every such error; io.Copy and friends still report it, because they
// compare with io.EOF by equality.
var ErrClosed error = closedError{}

// closedError is the type of ErrClosed: a distinct error whose message does not
// end in ": EOF" but which still unwraps to io.EOF.
type closedError struct{}

func (closedError) Error() string { return "peer: closed" }

func (closedError) Unwrap() error { return io.EOF }

var (
	// ErrDisconnected reports that ICE connectivity is (transiently) lost: the
	// Conn is in StateDisconnected. Ping returns it; the connection may still
	// recover, or fail and close with ErrFailed.
	ErrDisconnected = errors.New("peer: disconnected")

	// ErrFailed is the cause a Conn closes with when its ICE or DTLS transport
	// fails; such a Conn cannot recover.
	ErrFailed = errors.New("peer: connection failed")

	// ErrClosedByPeer is the cause a Conn closes with when the remote peer
	// closed the connection.
	ErrClosedByPeer = errors.New("peer: closed by peer")

	// ErrMessageTooLarge is returned by Channel.Write for a message larger than
	// Channel.MaxMessageSize. Nothing is sent.
	ErrMessageTooLarge = errors.New("peer: message too large")

	// ErrReceiveOverflow is the cause a browser Channel closes with when the
	// remote peer sends more unread data than BrowserOptions.ReceiveQueueSize.
	// The browser API has no receive backpressure, so the session layer's flow
	// control must keep the sender below that bound. Native channels never
	// return it: SCTP's receive window stops the sender instead.
	ErrReceiveOverflow = errors.New("peer: receive queue overflow")

	// ErrUnexpectedSignal is returned by Conn.AddSignal for a signal that does
	// not fit the role or the negotiation state, such as an offer sent to a
	// Offerer, a second offer, or an unknown signal type.
	ErrUnexpectedSignal = errors.New("peer: unexpected signal")
)

var (
	errChannelClosed     = errors.New("channel closed")
	errBacklogFull       = errors.New("accept backlog full")
	errControlProtocol   = errors.New("peer: malformed control message")
	errTooManyCandidates = errors.New("peer: too many remote candidates before the remote description")
)

// closeError carries the cause a Conn or Channel was closed with. It wraps
// both ErrClosed and the cause.
type closeError struct {
	cause error
}

func (e *closeError) Error() string {
	return "peer: closed: " + strings.TrimPrefix(e.cause.Error(), "peer: ")
}

func (e *closeError) Unwrap() []error { return []error{ErrClosed, e.cause} }

// closedWith returns the error that operations report after a close with
// cause: ErrClosed itself for a nil cause, the cause if it already wraps
// ErrClosed, or else a *closeError wrapping both.
func closedWith(cause error) error {
	switch {
	case cause == nil:
		return ErrClosed
	case errors.Is(cause, ErrClosed):
		return cause
	default:
		return &closeError{cause: cause}
	}
}
