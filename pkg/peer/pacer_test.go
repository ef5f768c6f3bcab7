//go:build !js

package peer

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/testutil"
)

// A paced Conn (NativeOptions.Pacing, SCTP's window opened as the daemon does) carries every
// message, in order, caps its messages at pacedMessageSize, and on loopback leaves its startup
// and paces at a measured rate instead of stalling.
func TestPacedChannel(t *testing.T) {
	testutil.LeakCheck(t)
	const msgSize, messages = pacedMessageSize, 512 // 16 MiB
	p := newPair(t, func(cfg *Config) {
		cfg.Native.Pacing = true
		cfg.Native.SCTPMinCwnd = 1 << 20
		cfg.HighWaterMark = 8 << 20
		cfg.LowWaterMark = 4 << 20
	})
	fromClient, atServer := p.channelPair(t, "bulk")
	assert.LessOrEqual(t, fromClient.MaxMessageSize(), pacedMessageSize)
	_, err := fromClient.Write(make([]byte, pacedMessageSize+1))
	require.ErrorIs(t, err, ErrMessageTooLarge)

	writeErr := make(chan error, 1)
	t0 := time.Now()
	go func() {
		for i := range messages {
			msg := message(i, msgSize)
			binary.BigEndian.PutUint32(msg, uint32(i)) //nolint:gosec // small
			if _, err := fromClient.Write(msg); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	}()
	buf := make([]byte, msgSize)
	for i := range messages {
		n, err := atServer.Read(buf)
		require.NoError(t, err)
		want := message(i, msgSize)
		binary.BigEndian.PutUint32(want, uint32(i)) //nolint:gosec // small
		require.True(t, bytes.Equal(want, buf[:n]), "message %d differs", i)
	}
	require.NoError(t, <-writeErr)
	dt := time.Since(t0)
	pc := fromClient.conn.pacer()
	require.NotNil(t, pc)
	pc.mu.Lock()
	rate, window := pc.limits()
	mode, minRTT := pc.mode, pc.minRTT
	pc.mu.Unlock()
	t.Logf("16 MiB in %v (%.1f MB/s); pacer: mode %d, min RTT %v, pacing %.1f MB/s, window %d KiB",
		dt, 16<<20/1e6/dt.Seconds(), mode, minRTT, rate/1e6, window>>10)
	assert.Less(t, dt, 20*time.Second, "the pacer throttled a loopback transfer")
}
