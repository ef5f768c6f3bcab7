//go:build !js

package connect

// Natively SCTP's receive window stops the sender, so the rangefs defaults stand.
const (
	defaultSessionWindow = 0
	defaultStreamWindow  = 0
)
