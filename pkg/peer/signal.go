package peer

import "fmt"

// SignalType names the kind of a Signal. Its values are the strings that
// appear in the JSON form.
type SignalType string

// The signal types a Conn emits and accepts.
const (
	// SignalOffer carries the Offerer's session description.
	SignalOffer SignalType = "offer"
	// SignalAnswer carries the Answerer's session description.
	SignalAnswer SignalType = "answer"
	// SignalCandidate carries one trickled ICE candidate.
	SignalCandidate SignalType = "candidate"
	// SignalEndOfCandidates says that no more candidates will follow.
	SignalEndOfCandidates SignalType = "end-of-candidates"
)

// Signal is one signaling message between two Conns. It marshals to JSON as
// {"type":"offer","sdp":"v=0..."} or
// {"type":"candidate","candidate":{"candidate":"candidate:...","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":null}},
// the candidate object having the shape of the browser's
// RTCIceCandidateInit.
type Signal struct {
	// Type is the kind of signal.
	Type SignalType `json:"type"`
	// SDP is the session description of an offer or answer.
	SDP string `json:"sdp,omitempty"`
	// Candidate is the ICE candidate of a SignalCandidate.
	Candidate *ICECandidateInit `json:"candidate,omitempty"`
}

// String returns a short description of the signal for logs; it leaves out
// the SDP and candidate bodies.
func (s Signal) String() string {
	switch s.Type {
	case SignalOffer, SignalAnswer:
		return fmt.Sprintf("%s (%d bytes of SDP)", s.Type, len(s.SDP))
	default:
		return string(s.Type)
	}
}
