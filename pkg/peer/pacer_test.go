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

// simPath drives a pacer's update with a synthetic clock: a sender writing at rate bytes/s,
// everything delivered one rtt later, the wire carrying wireOverhead per byte plus extra.
type simPath struct {
	p         *pacer
	now       time.Time
	delivered int64
	srtt      time.Duration
	wire      uint64
}

func newSimPath(rtt time.Duration) *simPath {
	s := &simPath{now: time.Unix(1000, 0), srtt: rtt}
	s.p = &pacer{stats: func() (time.Duration, uint64) { return s.srtt, s.wire }}
	return s
}

// run advances d in 5 ms steps: writes at rate (none if 0), deliveries at deliver, resends
// lost of what it writes on top (as wire bytes); waited marks the writes as held back.
func (s *simPath) run(d time.Duration, rate, deliver, lost float64, waited bool) {
	const step = 5 * time.Millisecond
	for t := time.Duration(0); t < d; t += step {
		s.now = s.now.Add(step)
		n := int64(rate * step.Seconds())
		s.p.written += n
		s.wire += uint64(float64(n) * (wireOverhead + lost))
		s.delivered = min(s.delivered+int64(deliver*step.Seconds()), s.p.written)
		s.p.roundWaited = s.p.roundWaited || waited
		s.p.update(s.now, int(s.p.written-s.delivered))
	}
}

// A stall in SCTP's loss recovery (nothing acknowledged for 2 s: a retransmission timeout
// and its backoff) while writes wait on the inflight cap must not wipe out the bandwidth
// estimate: afterwards the sender goes on at the path's rate, not from scratch.
func TestPacerKeepsEstimateThroughStall(t *testing.T) {
	const rate = 5e6
	s := newSimPath(50 * time.Millisecond)
	s.run(50*time.Millisecond, rate, 0, 0, true) // the first RTT: nothing delivered yet
	s.run(3*time.Second, rate, rate, 0, true)
	require.InDelta(t, rate, s.p.btlBw(), 0.2*rate, "the estimate before the stall")
	s.run(2*time.Second, 0, 0, 0, true) // the stall
	// The sender resumes at this rate (and a sample of the next round never exceeds the
	// rate it sends at, so a low one would be slow to climb back).
	r, _ := s.p.limits()
	assert.Greater(t, r, 0.8*rate, "the pacing rate when the stall ends")
}

// Loss while a queue stands (a drop-tail bottleneck overflowing) bounds the estimate at the
// rate delivered; random loss without a queue does not, and the bound lifts once rounds are
// clean again.
func TestPacerLossAtQueueBoundsEstimate(t *testing.T) {
	s := newSimPath(50 * time.Millisecond)
	s.run(50*time.Millisecond, 4e6, 0, 0, true)
	s.run(2*time.Second, 4e6, 4e6, 0, true)
	require.InDelta(t, 4e6, s.p.btlBw(), 0.8e6)

	// 5 % retransmitted, no queue: random loss, no bound.
	s.run(2*time.Second, 4e6, 4e6, 0.05, true)
	assert.Zero(t, s.p.bwHi, "random loss without a queue bounded the estimate")

	// A queue (RTT 50 → 100 ms) and 5 % retransmitted while only 2.5 MB/s get through.
	s.srtt = 100 * time.Millisecond
	s.run(time.Second, 4e6, 2.5e6, 0.05, true)
	assert.Positive(t, s.p.bwHi)
	assert.Less(t, s.p.btlBw(), 3.2e6, "the estimate after loss at a queue")

	// The queue drains and the loss stops: the bound lifts.
	s.srtt = 50 * time.Millisecond
	s.delivered = s.p.written
	s.run(3*time.Second, 4e6, 4e6, 0, true)
	assert.Zero(t, s.p.bwHi, "the bound did not lift on a clean path")
}
