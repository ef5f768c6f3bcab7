//go:build !js

package signal

// Natively SCTP's receive window stops the sender, so the rangefs defaults stand.
const (
	defaultSessionWindow = 0
	defaultStreamWindow  = 0
)
