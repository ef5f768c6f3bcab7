//go:build !js

package peer

import "github.com/pion/webrtc/v4"

// SelectedPair returns the ICE candidate pair the connection uses; false before one is
// selected or after the Conn is closed.
func (c *Conn) SelectedPair() (CandidatePair, bool) {
	pc := c.pc
	if pc == nil {
		return CandidatePair{}, false
	}
	sctp := pc.SCTP()
	if sctp == nil || sctp.Transport() == nil || sctp.Transport().ICETransport() == nil {
		return CandidatePair{}, false
	}
	p, err := sctp.Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || p == nil || p.Local == nil || p.Remote == nil {
		return CandidatePair{}, false
	}
	conv := func(c *webrtc.ICECandidate) Candidate {
		return Candidate{Type: c.Typ.String(), Protocol: c.Protocol.String(), Address: c.Address, Port: int(c.Port)}
	}
	return CandidatePair{Local: conv(p.Local), Remote: conv(p.Remote)}, true
}
