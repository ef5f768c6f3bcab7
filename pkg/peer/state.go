package peer

// State is the connection state of a Conn, as reported to
// Config.OnStateChange and by Conn.State.
type State int

// The states of a Conn. StateFailed and StateClosed are terminal: a Conn that
// fails reports StateFailed and then StateClosed.
const (
	// StateNew is the state of a Conn that has not started connecting.
	StateNew State = iota
	// StateConnecting means ICE or DTLS is being established.
	StateConnecting
	// StateConnected means ICE and DTLS are up.
	StateConnected
	// StateDisconnected means ICE connectivity checks are failing; the
	// connection may recover or fail.
	StateDisconnected
	// StateFailed means ICE or DTLS failed; the Conn closes itself.
	StateFailed
	// StateClosed means the Conn is closed.
	StateClosed
)

// String returns the lower-case name of the state, as the WebRTC API spells
// RTCPeerConnectionState.
func (s State) String() string {
	switch s {
	case StateNew:
		return "new"
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateDisconnected:
		return "disconnected"
	case StateFailed:
		return "failed"
	case StateClosed:
		return "closed"
	default:
		return "unknown"
	}
}
