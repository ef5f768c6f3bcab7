//go:build !js

package peer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rangecast/rangecast/internal/testutil"
)

// A paced Conn (NativeOptions.Pacing, SCTP's window opened as the daemon does) carries every
// message, in order, caps its messages at PacedMessageSize, and on loopback leaves its startup
// and paces at a measured rate instead of stalling.
func TestPacedChannel(t *testing.T) {
	testutil.LeakCheck(t)
	pc := pacedTransfer(t, nil)
	pc.datagrams.mu.Lock()
	defer pc.datagrams.mu.Unlock()
	assert.Zero(t, pc.datagrams.sent, "datagrams were paced without PaceDatagrams")
}

// With PaceDatagrams and a UDPMux, the sender's datagrams go through the pacer's
// datagramPacer once it has measured a rate, and the transfer is as intact.
func TestPacedChannelDatagrams(t *testing.T) {
	testutil.LeakCheck(t)
	mux := loopbackUDPMux(t)
	pc := pacedTransfer(t, func(cfg *Config) {
		if cfg.Role == Offerer {
			cfg.Native.UDPMux = mux
			cfg.Native.PaceDatagrams = true
		}
	})
	rate := math.Float64frombits(pc.datagrams.rate.Load())
	pc.datagrams.mu.Lock()
	sent := pc.datagrams.sent
	pc.datagrams.mu.Unlock()
	t.Logf("datagrams paced: %d, at %.1f MB/s at the end", sent, rate/1e6)
	assert.Positive(t, rate, "the pacer never set the datagrams' rate")
	// 16 MiB is ~14,000 datagrams: most of them after the first round's measurement.
	assert.Greater(t, sent, uint64(1000), "the sender's datagrams did not go through the datagramPacer")
}

// pacedTransfer sends 16 MiB from a paced client to the server, checks every message and
// returns the client's pacer.
func pacedTransfer(t *testing.T, configure func(*Config)) *pacer {
	const msgSize, messages = PacedMessageSize, 512 // 16 MiB
	p := newPair(t, func(cfg *Config) {
		cfg.Native.Pacing = true
		cfg.Native.SCTPMinCwnd = 1 << 20
		cfg.HighWaterMark = 8 << 20
		cfg.LowWaterMark = 4 << 20
		if configure != nil {
			configure(cfg)
		}
	})
	fromClient, atServer := p.channelPair(t, "bulk")
	assert.LessOrEqual(t, fromClient.MaxMessageSize(), PacedMessageSize)
	_, err := fromClient.Write(make([]byte, PacedMessageSize+1))
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
	return pc
}

// The datagramPacer lets a burst of datagramBurst through, then spaces datagrams at its rate,
// sleeping only once the debt is worth a sleep; idle time is not saved up; no rate, no wait.
func TestDatagramPacerDelay(t *testing.T) {
	var d datagramPacer
	now := time.Unix(1000, 0)
	assert.Zero(t, d.delay(1<<20, now), "an unset rate paced")

	const rate, size = 1e6, 1200 // 1 MB/s
	d.setRate(rate)
	send := func(bytes int) (elapsed time.Duration, sleeps int) {
		start := now
		for sent := 0; sent < bytes; sent += size {
			w := d.delay(size, now)
			if w > 0 {
				require.GreaterOrEqual(t, w, datagramMinSleep)
				sleeps++
				now = now.Add(w) // the sender sleeps as told
			}
		}
		return now.Sub(start), sleeps
	}
	// 1.2 MB at 1 MB/s: 1.2 s, less the burst, less at most one sleep's debt at the end.
	el, sleeps := send(1_200_000)
	want := time.Duration(1_200_000 / rate * float64(time.Second))
	assert.LessOrEqual(t, el, want)
	assert.GreaterOrEqual(t, el, want-datagramBurst-datagramMinSleep-time.Duration(size/rate*float64(time.Second)))
	// Each sleep is at least datagramMinSleep, so no more sleeps than 1.2 s of them.
	assert.LessOrEqual(t, sleeps, int(want/datagramMinSleep))
	assert.Greater(t, sleeps, 100)

	// Idle for a second: the next 60 KB still take 60 ms, less one burst.
	now = now.Add(time.Second)
	el, _ = send(60_000)
	assert.GreaterOrEqual(t, el, 60*time.Millisecond-datagramBurst-2*datagramMinSleep)
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

// newSteadySimPath is a simPath of 50 ms whose sender has written at rate, all delivered, for
// 2 s: its estimate is the rate and unbounded.
func newSteadySimPath(t *testing.T, rate float64) *simPath {
	t.Helper()
	s := newSimPath(50 * time.Millisecond)
	s.run(50*time.Millisecond, rate, 0, 0, true) // the first RTT: nothing delivered yet
	s.run(2*time.Second, rate, rate, 0, true)
	require.InDelta(t, rate, s.p.btlBw(), 0.2*rate)
	require.Zero(t, s.p.bwHi)
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
		if rate == 0 {
			s.p.roundIdle += step // as arrive counts it: nothing to write
		}
		s.p.update(s.now, int(s.p.written-s.delivered))
	}
}

// A sender held back by its client (credit granted in bursts, a <video> that has buffered
// enough) writes in bursts at the path's rate and idles in between. Those rounds are
// app-limited: their low delivery rates must not replace the path's in the estimate, or the
// next seek starts at a fraction of the path's rate and takes seconds to climb back.
func TestPacerAppLimitedKeepsEstimate(t *testing.T) {
	const rate = 8e6
	s := newSteadySimPath(t, rate)
	for range 20 { // 4 s: 30 ms of writing at the path's rate every 200 ms
		s.run(30*time.Millisecond, rate, rate, 0, true)
		s.run(170*time.Millisecond, 0, rate, 0, false)
	}
	assert.Greater(t, s.p.btlBw(), 0.8*rate, "the estimate after app-limited rounds")
}

// After an idle spell SCTP's smoothed RTT stays high for a while (a lone packet's SACK is
// delayed, and the average moves by an eighth per round trip). While rounds still take one
// round trip, that is no queue: the inflight cap and the probing stay as they were.
func TestPacerStaleRTTIsNotQueue(t *testing.T) {
	s := newSteadySimPath(t, 8e6)
	_, w0 := s.p.limits()
	s.srtt = 190 * time.Millisecond
	s.run(500*time.Millisecond, 8e6, 8e6, 0, true)
	assert.False(t, s.p.queueing, "a stale smoothed RTT counted as a queue")
	_, w := s.p.limits()
	assert.GreaterOrEqual(t, w, w0*9/10, "the inflight cap")
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
	s := newSteadySimPath(t, 4e6)

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

// Heavy loss — a round that resent more than heavyLoss, far above what a lossy path's random
// loss makes — bounds the estimate even without a queue: a receiver dropping bursts (a
// browser's small socket buffer) shows no queue. The bound lifts once rounds are clean.
func TestPacerHeavyLossBoundsEstimate(t *testing.T) {
	s := newSteadySimPath(t, 8e6)

	s.run(200*time.Millisecond, 8e6, 8e6, 0.15, true) // 15 % of the wire resent
	assert.Positive(t, s.p.bwHi, "heavy loss without a queue did not bound the estimate")
	assert.Less(t, s.p.btlBw(), 6e6, "the estimate after heavy loss")

	s.run(3*time.Second, 8e6, 8e6, 0, true)
	assert.Zero(t, s.p.bwHi, "the bound did not lift on a clean path")
}

// Loss at a bottleneck also bounds the bytes in flight, and the bound holds for the probe
// wait while rounds are clean: a flow sharing a bottleneck, whose estimate counts the rounds
// in which the other flows drained, must not refill the queue within a second. After the
// wait it probes back up to the unbounded cap.
func TestPacerLossBoundsInflightUntilProbe(t *testing.T) {
	const rate = 2e6
	s := newSteadySimPath(t, rate) // 100 kB unacknowledged
	// 15 % resent in a round while 1.6 MB/s get through: 140 kB unacknowledged at its end.
	s.run(100*time.Millisecond, rate, 1.6e6, 0.15, true)
	_, w := s.p.limits()
	bdp := int(rate * 0.05)
	assert.Less(t, w, bdp*3/2, "the inflight cap after loss")
	assert.GreaterOrEqual(t, w, bdp, "the inflight cap fell below a bandwidth-delay product")

	s.delivered = s.p.written - int64(bdp)
	s.run(1500*time.Millisecond, rate, rate, 0, true) // 30 clean rounds
	_, w = s.p.limits()
	assert.Less(t, w, bdp*3/2, "the inflight bound lifted before the probe wait")

	s.run(3*time.Second, rate, rate, 0, true)
	assert.Zero(t, s.p.inflightHi, "the inflight cap did not probe back up")
	_, w = s.p.limits()
	assert.GreaterOrEqual(t, w, 2*bdp, "the inflight cap after probing")
}

// Past startup, a path of 50 ms at 2 MB/s may have twice its bandwidth-delay product in
// flight, not the 256 KiB floor that a LAN's short round trips need: more than 250 kB
// overflows a 20 Mbit/s bottleneck with a 50 ms queue whatever the estimate says. On a LAN
// the floor stays.
func TestPacerWindowFloorShrinksWithRTT(t *testing.T) {
	const rate = 2e6
	s := newSteadySimPath(t, rate)
	s.p.mode = pacerProbeBW
	_, w := s.p.limits()
	assert.InDelta(t, 2*rate*0.05, w, 0.25*rate*0.05, "the inflight cap at 50 ms")

	lan := newSimPath(2 * time.Millisecond)
	lan.run(2*time.Millisecond, 20e6, 0, 0, true)
	lan.run(time.Second, 20e6, 20e6, 0, true)
	lan.p.mode = pacerProbeBW
	_, w = lan.p.limits()
	assert.Equal(t, minWindow, w, "the inflight cap at 2 ms")
}

// SCTP's first smoothed RTT often doubles the path's (the receiver's delayed SACK): in startup
// the window is sized from the path's RTT measured beforehand, not from it, and without the
// LAN floor, so that two flows starting at once do not overflow a bottleneck's queue. Past
// startup the minimum RTT decides again, with the standing queue a competing flow keeps in it.
func TestPacerStartupWindowFromPathRTT(t *testing.T) {
	const rate = 2e6
	start := func(pathRTT time.Duration) *simPath {
		s := newSimPath(100 * time.Millisecond)
		s.p.pathRTT = pathRTT
		s.run(50*time.Millisecond, rate, 0, 0, true)
		s.run(300*time.Millisecond, rate, rate, 0, true)
		require.Equal(t, pacerStartup, s.p.mode)
		require.InDelta(t, rate, s.p.btlBw(), 0.2*rate)
		return s
	}
	s := start(50 * time.Millisecond)
	_, w := s.p.limits()
	assert.InDelta(t, 2*rate*0.05, w, 0.25*rate*0.05, "the startup window with the path's RTT known")
	s.p.mode = pacerProbeBW
	_, w = s.p.limits()
	assert.InDelta(t, 2*rate*0.1, w, 0.25*rate*0.1, "the window past startup")

	_, w = start(0).p.limits()
	assert.InDelta(t, 2*rate*0.1, w, 0.25*rate*0.1, "the startup window with the path's RTT unknown")
}

// When the rate falls, bytes written earlier and queued in SCTP drain onto the wire: the wire
// then carries more than this round's writes without any loss. Counted against what was
// delivered too, that is not loss, and the estimate stays unbounded.
func TestPacerDrainingQueueIsNotLoss(t *testing.T) {
	s := newSteadySimPath(t, 8e6)
	// 1.2 MB written at once wait in SCTP's queue; then 300 ms of writes at half the rate
	// while the wire and the deliveries go on at the full rate: the queued bytes leave now.
	s.p.written += 1_200_000
	const step = 5 * time.Millisecond
	for range 60 {
		s.now = s.now.Add(step)
		s.p.written += int64(4e6 * step.Seconds())
		s.wire += uint64(8e6 * step.Seconds() * wireOverhead)
		s.delivered = min(s.delivered+int64(8e6*step.Seconds()), s.p.written)
		s.p.roundWaited = true
		s.p.update(s.now, int(s.p.written-s.delivered))
	}
	assert.Zero(t, s.p.bwHi, "a draining queue counted as loss")
}

// A round stretched by a retransmission timeout in startup ends startup: the sender overshot.
func TestPacerStallEndsStartup(t *testing.T) {
	s := newSimPath(50 * time.Millisecond)
	s.run(50*time.Millisecond, 2e6, 0, 0, true)
	s.run(300*time.Millisecond, 2e6, 2e6, 0, true)
	require.Equal(t, pacerStartup, s.p.mode)
	s.run(time.Second, 2e6, 0, 0, true) // nothing delivered for a second
	// The resends arrive: the backlog is acknowledged at once and the round ends.
	s.run(200*time.Millisecond, 2e6, 20e6, 0, true)
	assert.NotEqual(t, pacerStartup, s.p.mode, "still in startup after a stall")
}

// NativeOptions.MaxSendMessageSize caps an unpaced Conn's messages as the pacer caps a paced
// one's; its peer's stay as large as the peer accepts, and a message at the cap arrives whole.
func TestMaxSendMessageSize(t *testing.T) {
	testutil.LeakCheck(t)
	const limit = 32 << 10
	p := newPair(t, func(cfg *Config) {
		if cfg.Role == Offerer {
			cfg.Native.MaxSendMessageSize = limit
		}
	})
	fromClient, atServer := p.channelPair(t, "capped")
	assert.Equal(t, limit, fromClient.MaxMessageSize())
	assert.Equal(t, DefaultMaxReceiveMessageSize, atServer.MaxMessageSize())
	_, err := fromClient.Write(make([]byte, limit+1))
	require.ErrorIs(t, err, ErrMessageTooLarge)

	msg := message(7, limit)
	_, err = fromClient.Write(msg)
	require.NoError(t, err)
	buf := make([]byte, DefaultMaxReceiveMessageSize)
	n, err := atServer.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, sha256.Sum256(msg), sha256.Sum256(buf[:n]))

	bad := baseConfig(Offerer)
	bad.OnSignal = func(Signal) {}
	bad.Native.MaxSendMessageSize = -1
	_, err = New(bad)
	require.ErrorContains(t, err, "MaxSendMessageSize")
}
