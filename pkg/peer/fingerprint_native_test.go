//go:build !js

package peer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each end's local fingerprint is the other's remote one, and the two ends differ.
func TestConnFingerprints(t *testing.T) {
	p := newPair(t, nil)
	p.clientLog.waitFor(t, StateConnected, 10*time.Second)
	p.serverLog.waitFor(t, StateConnected, 10*time.Second)
	cl, err := p.client.LocalFingerprint()
	require.NoError(t, err)
	cr, err := p.client.RemoteFingerprint()
	require.NoError(t, err)
	sl, err := p.server.LocalFingerprint()
	require.NoError(t, err)
	sr, err := p.server.RemoteFingerprint()
	require.NoError(t, err)
	assert.Equal(t, cl, sr)
	assert.Equal(t, sl, cr)
	assert.NotEqual(t, cl, sl)
}

func TestFingerprintBeforeDescription(t *testing.T) {
	cfg := baseConfig(Answerer)
	cfg.OnSignal = func(Signal) {}
	c, err := New(cfg)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.LocalFingerprint()
	assert.ErrorIs(t, err, ErrFingerprint)
	_, err = c.RemoteFingerprint()
	assert.ErrorIs(t, err, ErrFingerprint)
}
