//go:build js

package peer

// SelectedPair is not known in the browser build (getStats would tell; nothing asks yet).
func (c *Conn) SelectedPair() (CandidatePair, bool) { return CandidatePair{}, false }
