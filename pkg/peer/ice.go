package peer

// ICEServer is a STUN or TURN server, as in the browser's RTCIceServer. None
// is configured unless the caller names one.
type ICEServer struct {
	// URLs are the server's stun:, turn: or turns: URLs.
	URLs []string `json:"urls"`
	// Username and Credential authenticate to a TURN server.
	Username   string `json:"username,omitempty"`
	Credential string `json:"credential,omitempty"`
}

// ICECandidateInit is one ICE candidate in the shape of the browser's
// RTCIceCandidateInit, which is also its JSON form in signaling. An empty
// Candidate means end of candidates.
//
// The package defines its own type rather than pion's so that the browser
// build does not link pion at all: there the browser's RTCPeerConnection does
// the work, and pion's packages would only add megabytes to the wasm.
type ICECandidateInit struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex"`
	UsernameFragment *string `json:"usernameFragment"`
}
