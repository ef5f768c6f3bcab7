package peer

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"
)

// pacerTrace: RANGECAST_PACER_TRACE=1 prints the state at the end of every round to stderr.
var pacerTrace = os.Getenv("RANGECAST_PACER_TRACE") == "1"

// pacer is a sender-side congestion controller for bulk data over a lossy path, modelled on
// BBR (Cardwell et al., "BBR: Congestion-Based Congestion Control", 2016): it estimates the
// path's bottleneck bandwidth (the highest delivery rate of recent round trips) and its
// minimum round-trip time, paces writes at a gain times that bandwidth and keeps at most
// twice the bandwidth-delay product unacknowledged. Random loss, which makes a loss-based
// sender (pion's SCTP: NewReno) halve its window again and again, does not slow it down;
// a full queue at a bottleneck does, because the delivery rate stops growing.
//
// It works from outside SCTP: the delivered bytes are those written minus the association's
// buffered amount (pion releases a chunk's bytes when it is acknowledged, cumulatively or by
// a gap block), the round-trip time is SCTP's smoothed one. SCTP's own congestion window must
// not be the tighter limit (NativeOptions.SCTPMinCwnd), or it decides instead.
//
// Simplifications against BBR: a round ends once the bytes written before it began are
// delivered (BBR's packet-timed round) and it has lasted at least a minimum RTT (minRound on
// a LAN), so that a stall in SCTP's loss recovery — a retransmission timeout, when nothing
// is acknowledged for up to a second — stretches one round instead of filling the
// bandwidth filter with empty ones: the estimate survives the stall and the sender resumes
// at the path's rate. There is no ProbeRTT state (the minimum RTT is a 30 s windowed
// minimum of SCTP's smoothed RTT; in startup and drain a round trip measured before the
// association sizes the window instead if it is lower, see propRTT), and a round in which
// no write had to wait, or in which the sender had nothing to write for more than a quarter
// of it, is app-limited: its rate only counts if it is the highest. Additions: a
// delivery-rate sample never exceeds the rate the previous round sent at (a burst of SACKs
// is not bandwidth), and a smoothed RTT above 1.25 × the minimum + 10 ms (a queue building at a bottleneck) ends
// startup, skips the probing phase of the gain cycle and lowers the inflight cap to 1.25 ×
// the bandwidth-delay product: pion's SCTP retransmits in bursts, so every drop at a
// bottleneck costs more than for TCP, and a stall for a retransmission timeout (1 s) more
// still.
//
// Loss at a bottleneck (BBRv2's bw_hi, simplified): a round that retransmitted more than
// lossThresh of what it sent while a queue stood bounds the bandwidth estimate at what
// that round delivered — with a standing queue, delivery runs at the bottleneck's rate — and
// every later round without both signals lifts the bound by an eighth, until it no longer
// binds. Random loss on an idle path (no queue) never sets it. Heavy loss does, queue or not
// (heavyLoss, 5 % of a round's wire bytes resent: a browser dropping bursts at its socket, or
// a bottleneck kept full by a TCP flow): the bound is then 0.7 × what the round delivered,
// never below half the estimate. A round in startup that stalls (nothing acknowledged for 3
// RTTs: a retransmission timeout) or loses heavily ends startup.
//
// Either loss also bounds the bytes in flight (BBRv2's inflight_hi): at lossBeta of the most
// the round had unacknowledged, never below 1.25 × the unbounded estimate's bandwidth-delay
// product. Several flows at one bottleneck each keep a maximum of their recent delivery
// rates, and those add up to more than the link (each delivers more in the rounds where the
// others drain), so a bound on the rate alone lets their queue refill within a second; the
// inflight bound does not grow with the estimate. It holds for probeWait (2–3 s, jittered
// so that flows sharing a bottleneck do not probe in step) or probeRounds rounds, whichever
// comes first, then grows by a slope that doubles each round from probeStep, until it no
// longer binds or loss sets it again. A flow whose minimum RTT is too high (SCTP's first
// smoothed RTT often includes the receiver's delayed SACK, or another flow's queue) does not
// see the queue it builds, and this is what holds it back. The floor keeps a lossy path
// without a bottleneck (random loss rarely reads as heavy, and then one bandwidth-delay
// product and a quarter still carry the rate) at its speed.
type pacer struct {
	buffered func() int // the association's unacknowledged and unsent bytes
	// stats returns SCTP's smoothed RTT (0 before the first measurement) and the bytes it
	// has sent on the wire: packets, headers and retransmissions included.
	stats func() (srtt time.Duration, wire uint64)
	// pathRTT is the path's round trip measured before the association (NativeOptions.PathRTT),
	// 0 if unknown: see propRTT.
	pathRTT time.Duration

	mu      sync.Mutex
	written int64     // bytes handed to SCTP
	next    time.Time // pacing: the earliest time the next write may start

	roundStart     time.Time
	roundDelivered int64
	roundWritten   int64 // written at the round's start: the round ends once it is delivered
	roundWire      uint64
	lastSendRate   float64 // bytes/s written in the previous round
	roundWaited    bool    // a write waited for the pacer in this round
	// roundIdle is how long in this round the sender had nothing to write while the pacer
	// would have let it: a round idle for more than a quarter of its length is app-limited
	// (a client's credit or a <video> that has buffered enough holds the sender back), and
	// its delivery rate says nothing about the path.
	roundIdle      time.Duration
	roundStalled   bool // nothing was acknowledged for 3 RTTs in this round: a retransmission timeout
	lastDelivered  int64
	lastDeliveryAt time.Time
	bw             [bwRounds]float64
	bwIdx          int
	bwHi           float64   // a bound on the estimate after loss at a queue, 0 if none
	roundMaxBuf    int       // the most bytes unacknowledged in this round
	inflightHi     int       // a bound on the inflight cap after loss, 0 if none
	hiProbeAt      time.Time // when inflightHi starts to grow: probeWait, jittered, after it was set
	hiRounds       int       // rounds since inflightHi was set
	hiSlope        int       // bytes added to inflightHi in the last round of probing
	minRTT         time.Duration
	minRTTAt       time.Time

	queueing   bool // the last round's smoothed RTT showed a queue
	mode       pacerMode
	fullBw     float64
	fullRounds int
	cycle      int

	// datagrams paces every datagram of the Conn, retransmissions included
	// (NativeOptions.PaceDatagrams, pacedMux).
	datagrams datagramPacer
}

type pacerMode int

const (
	pacerStartup pacerMode = iota
	pacerDrain
	pacerProbeBW
)

const (
	bwRounds         = 10                    // the bandwidth filter's window, in rounds
	minRound         = 10 * time.Millisecond // the shortest round
	initialRTT       = 100 * time.Millisecond
	minRTTWindow     = 30 * time.Second
	queueSlack       = 10 * time.Millisecond
	initialWindow    = 64 << 10              // bytes in flight before anything is measured
	minWindow        = 256 << 10             // the inflight cap's floor on short paths: a LAN or loopback RTT of a few ms still carries 50+ MB/s
	lanRTT           = 10 * time.Millisecond // a minimum RTT up to which minWindow is the floor
	startupGain      = 2.885                 // 2/ln 2
	pacingBurst      = 2 * time.Millisecond
	wireOverhead     = 1.1      // wire bytes per byte written: SCTP, DTLS, UDP and IP headers on 1191-byte packets
	lossThresh       = 0.02     // retransmitted / sent in a round, with a queue: congestion (BBRv2's loss_thresh)
	heavyLoss        = 0.05     // retransmitted / sent in a round, queue or not: congestion (a lossy path's random loss is a fraction of it)
	queueWindow      = 64 << 10 // the inflight cap's floor when a queue stands: a bottleneck is known
	minLossSample    = 64 << 10 // wire bytes a round must send for its loss rate to count
	maxPoll          = 5 * time.Millisecond
	datagramHeadroom = 1.25 // the wire's rate over the pacing rate: it smooths bursts, the pacer sets the rate
	lossBeta         = 0.7  // inflightHi after loss, of the round's most unacknowledged bytes (BBRv2's beta)
	hiFloorGain      = 1.25 // inflightHi's floor, in bandwidth-delay products of the unbounded estimate
	probeWait        = 2 * time.Second
	probeJitter      = time.Second
	probeRounds      = 63      // a bound held this many rounds probes even before probeWait (BBRv2: short paths)
	probeStep        = 4 << 10 // inflightHi's first step up when probing
)

var probeGains = [8]float64{1.25, 0.75, 1, 1, 1, 1, 1, 1}

// rtt is the minimum RTT, or initialRTT before one is known. The caller holds mu.
func (p *pacer) rtt() time.Duration {
	if p.minRTT == 0 {
		return initialRTT
	}
	return p.minRTT
}

// propRTT is the round trip that the bandwidth-delay product is sized from. In startup and
// drain it is the lesser of the minimum RTT and the path's RTT measured beforehand (pathRTT),
// when there is one: SCTP's first smoothed RTT often includes the receiver's delayed SACK or
// another flow's queue (100–105 ms on a 50 ms path), and its minimum then comes down by an
// eighth per round trip, seconds to within a few ms of the path's. A startup window sized
// from it is twice what the path holds, and two flows starting at once overflow a
// bottleneck's queue with it. From ProbeBW on it is the minimum RTT, standing queue and all:
// sized from the path's RTT alone, the window of a flow beside a loss-based one (TCP CUBIC)
// that keeps the queue full holds whatever share the flow has (its rate × (RTT + queue) is
// then 2 × its rate × RTT), and CUBIC took 78 % of the link (docs/BENCHMARKS.md). The queue
// test compares SCTP's smoothed RTT with that RTT's own minimum, as both share SCTP's bias.
// The caller holds mu.
func (p *pacer) propRTT() time.Duration {
	if p.pathRTT > 0 && p.mode != pacerProbeBW {
		return min(p.pathRTT, p.rtt())
	}
	return p.rtt()
}

// btlBw is the bandwidth estimate in bytes/s, 0 before the first round. The caller holds mu.
func (p *pacer) btlBw() float64 {
	m := p.maxBw()
	if p.bwHi > 0 {
		m = min(m, p.bwHi)
	}
	return m
}

// maxBw is the bandwidth filter's maximum, without bwHi. The caller holds mu.
func (p *pacer) maxBw() float64 {
	var m float64
	for _, v := range p.bw {
		m = max(m, v)
	}
	return m
}

func (p *pacer) gains() (pacing, cwnd float64) {
	switch p.mode {
	case pacerStartup:
		// BBRv3's startup cwnd gain: 2.885 overfills a bottleneck queue of one BDP.
		return startupGain, 2
	case pacerDrain:
		return 1 / startupGain, 2
	}
	if p.queueing {
		return probeGains[p.cycle], 1.25
	}
	return probeGains[p.cycle], 2
}

// limits returns the pacing rate (bytes/s) and the inflight cap (bytes). The caller holds mu.
func (p *pacer) limits() (rate float64, window int) {
	rate, window = p.unboundedLimits()
	if p.inflightHi > 0 {
		window = min(window, p.inflightHi)
	}
	return rate, window
}

// unboundedLimits is limits without inflightHi. The caller holds mu.
func (p *pacer) unboundedLimits() (rate float64, window int) {
	pg, cg := p.gains()
	bw := max(p.btlBw(), initialWindow/initialRTT.Seconds())
	rtt := p.propRTT()
	return pg * bw, max(int(cg*bw*rtt.Seconds()), p.windowFloor(rtt))
}

// windowFloor is the inflight cap's floor for a round trip of rtt (propRTT): minWindow on short
// paths, where an RTT of a few ms must still carry a LAN's rate, then shrinking with rtt (to
// queueWindow from 4 × lanRTT): on a longer path the floor would otherwise exceed the
// bandwidth-delay product of a narrow bottleneck several times over, and fill its queue
// whatever the estimate says. minWindow in startup too while the path's RTT is not known
// beforehand: SCTP's first samples overstate it. queueWindow while a queue stands. The caller
// holds mu.
func (p *pacer) windowFloor(rtt time.Duration) int {
	switch {
	case p.queueing:
		return queueWindow
	case p.mode == pacerStartup && p.pathRTT == 0, rtt <= lanRTT:
		return minWindow
	}
	return max(int(minWindow*lanRTT/rtt), queueWindow)
}

// boundAfterLoss bounds the estimate at bw and the inflight data (inflightHi, see pacer) after
// a round with loss at a bottleneck, keeping tighter bounds, and restarts the inflight bound's
// wait. The caller holds mu.
func (p *pacer) boundAfterLoss(now time.Time, bw float64) {
	if p.bwHi == 0 || bw < p.bwHi {
		p.bwHi = bw
	}
	floor := max(int(hiFloorGain*p.maxBw()*p.propRTT().Seconds()), queueWindow)
	hi := max(int(lossBeta*float64(p.roundMaxBuf)), floor)
	if p.inflightHi == 0 || hi < p.inflightHi {
		p.inflightHi = hi
	}
	p.hiRounds, p.hiSlope = 0, 0
	p.hiProbeAt = now.Add(probeWait + rand.N(probeJitter)) //nolint:gosec // jitter, not a secret
}

// probeInflight moves inflightHi at the end of a round without loss: held for its wait, then
// grown by a slope that doubles each round, at most an eighth of the bound; dropped once the
// unbounded cap is the tighter. The caller holds mu.
func (p *pacer) probeInflight(now time.Time) {
	if p.inflightHi == 0 {
		return
	}
	p.hiRounds++
	if now.Before(p.hiProbeAt) && p.hiRounds < probeRounds {
		return
	}
	p.hiSlope = min(max(2*p.hiSlope, probeStep), max(p.inflightHi/8, probeStep))
	p.inflightHi += p.hiSlope
	if _, w := p.unboundedLimits(); p.inflightHi >= w {
		p.inflightHi, p.hiSlope = 0, 0
	}
}

// update ends the current round if it has lasted a minimum RTT: takes a delivery-rate sample
// and moves the state machine. The caller holds mu.
func (p *pacer) update(now time.Time, buffered int) {
	srtt, wire := p.stats()
	if srtt > 0 && (p.minRTT == 0 || srtt <= p.minRTT || now.Sub(p.minRTTAt) > minRTTWindow) {
		p.minRTT, p.minRTTAt = srtt, now
	}
	p.roundMaxBuf = max(p.roundMaxBuf, buffered)
	delivered := p.written - int64(buffered)
	if delivered > p.lastDelivered || buffered == 0 || p.lastDeliveryAt.IsZero() {
		p.lastDelivered, p.lastDeliveryAt = delivered, now
	} else if now.Sub(p.lastDeliveryAt) > 3*p.rtt() {
		p.roundStalled = true
	}
	if p.roundStart.IsZero() {
		p.roundStart, p.roundDelivered, p.roundWritten, p.roundWire = now, delivered, p.written, wire
		return
	}
	el := now.Sub(p.roundStart)
	if el < max(p.rtt(), minRound) || delivered < p.roundWritten {
		return
	}
	// What was delivered in this round was mostly sent in the previous one: a burst of
	// acknowledgements (a late SACK, a scheduling hiccup) must not raise the estimate above
	// the rate it was sent at.
	rate := float64(delivered-p.roundDelivered) / el.Seconds()
	sendRate := float64(p.written-p.roundWritten) / el.Seconds()
	if p.lastSendRate > 0 {
		rate = min(rate, max(p.lastSendRate, sendRate))
	}
	p.lastSendRate = sendRate
	// Retransmissions leave outside the pacer: charge what the wire carried beyond this
	// round's writes (and their headers) to the next writes, so that the rate on the wire,
	// not only that of new data, is the pacing rate. At a bottleneck, retransmitting on top
	// of a full rate would overflow its queue again.
	extra := float64(wire-p.roundWire) - float64(p.written-p.roundWritten)*wireOverhead
	if extra > 0 {
		if r, _ := p.limits(); r > 0 {
			p.next = p.next.Add(time.Duration(extra / r * float64(time.Second)))
		}
	}
	// The loss rate counts only what the wire carried beyond both the bytes written and the
	// bytes delivered in this round. Written bytes can wait in SCTP's queue (behind its
	// window, or the datagramPacer) and leave in a later round: when the rate falls, that
	// queue drains onto the wire and looks like resends against the writes alone, though not
	// against what was delivered; when the rate rises it is the other way round.
	var lossRate float64
	resent := float64(wire-p.roundWire) - float64(max(p.written-p.roundWritten, delivered-p.roundDelivered))*wireOverhead
	if sent := float64(wire - p.roundWire); sent >= minLossSample && resent > 0 {
		lossRate = resent / sent
	}
	p.roundWire = wire
	appLimited := !p.roundWaited || 4*p.roundIdle > el
	if !appLimited || rate > p.btlBw() {
		p.bw[p.bwIdx%bwRounds] = rate
		p.bwIdx++
	}
	stalled := p.roundStalled
	p.roundStart, p.roundDelivered, p.roundWritten, p.roundWaited, p.roundStalled, p.roundIdle = now, delivered, p.written, false, false, 0

	// A queue is building somewhere when the round trip stands well above the minimum: on a
	// bottleneck, not on a lossy but idle path (random loss does not raise the RTT). The
	// round trip is SCTP's smoothed RTT, or this round's length if shorter: a round ends
	// once the bytes written before it are delivered, so it lasts about one round trip
	// while the sender is busy. SCTP's RTT alone overstates it for seconds after an idle
	// spell: a lone packet's SACK is delayed (up to 200 ms), and the smoothed RTT moves by
	// an eighth per round trip.
	p.queueing = p.minRTT > 0 && min(srtt, el) > p.minRTT*5/4+queueSlack
	switch {
	case lossRate > heavyLoss:
		// Heavy loss, queue or not: a receiver that drops bursts (a browser's small socket
		// buffer) shows no queue, nor does a drop-tail bottleneck shared with a flow that
		// keeps it full. Back off to 0.7 × what got through, at most by half.
		p.boundAfterLoss(now, max(0.7*rate, 0.5*p.maxBw()))
	case p.queueing && lossRate > lossThresh && el <= 3*p.rtt():
		// The queue overflowed: what this round delivered is about the bottleneck's rate. (A
		// longer round was stretched by a stall in loss recovery: its retransmissions say
		// nothing about a queue.)
		// Never below half the unbounded estimate: a noisy signal (the loss rate is wire
		// minus written bytes, the queue an RTT that a busy machine inflates too) must not
		// ratchet the bound down round after round.
		p.boundAfterLoss(now, max(rate, 0.5*p.maxBw()))
	default:
		if p.bwHi > 0 {
			p.bwHi *= 1.125
			if p.bwHi > p.maxBw() {
				p.bwHi = 0
			}
		}
		p.probeInflight(now)
	}
	p.roundMaxBuf = buffered
	bw := p.btlBw()
	if r, _ := p.limits(); bw > 0 {
		p.datagrams.setRate(max(r, bw) * wireOverhead * datagramHeadroom)
	}
	if pacerTrace {
		r, w := p.limits()
		fmt.Fprintf(os.Stderr, "pacer %p %s mode=%d cyc=%d q=%v bw=%.2fMB/s hi=%.2f sample=%.2f send=%.2f minrtt=%v srtt=%v rate=%.2f win=%dK buf=%dK loss=%.1f%% round=%v ihi=%dK\n",
			p, now.Format("15:04:05.000"), p.mode, p.cycle, p.queueing, bw/1e6, p.bwHi/1e6, rate/1e6, sendRate/1e6, p.minRTT, srtt, r/1e6, w>>10, buffered>>10, 100*lossRate, el.Round(time.Millisecond), p.inflightHi>>10)
	}
	switch p.mode {
	case pacerStartup:
		if bw >= p.fullBw*1.25 {
			p.fullBw, p.fullRounds = bw, 0
		} else if p.roundWaitedOrFull(buffered) {
			p.fullRounds++
		}
		// A retransmission timeout or heavy loss in startup: it overshot.
		if p.fullRounds >= 3 || p.queueing || stalled || lossRate > heavyLoss {
			p.mode = pacerDrain
		}
	case pacerDrain:
		if float64(buffered) <= bw*p.propRTT().Seconds() {
			p.mode, p.cycle = pacerProbeBW, 2
		}
	case pacerProbeBW:
		p.cycle = (p.cycle + 1) % len(probeGains)
		if p.queueing && probeGains[p.cycle] > 1 {
			p.cycle++ // do not probe into a queue: drain it
		}
	}
}

// roundWaitedOrFull says whether the sender had data to send: a round without it does not
// show that the bandwidth stopped growing.
func (p *pacer) roundWaitedOrFull(buffered int) bool {
	_, w := p.limits()
	return buffered >= w/2
}

// wait blocks until n more bytes may be written, or done is closed (then it returns false).
func (p *pacer) wait(n int, done <-chan struct{}) bool {
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for first := true; ; first = false {
		now := time.Now()
		buffered := p.buffered()
		p.mu.Lock()
		if first {
			p.arrive(now)
		}
		p.update(now, buffered)
		rate, window := p.limits()
		var d time.Duration
		if buffered > 0 && buffered+n > window {
			d = min(p.rtt()/8, maxPoll)
		}
		if w := p.next.Sub(now); w > d {
			d = w
		}
		if d <= 0 {
			if p.next.Before(now.Add(-pacingBurst)) {
				p.next = now.Add(-pacingBurst)
			}
			p.next = p.next.Add(time.Duration(float64(n) / rate * float64(time.Second)))
			p.written += int64(n)
			p.mu.Unlock()
			return true
		}
		p.roundWaited = true
		p.mu.Unlock()
		if t == nil {
			t = time.NewTimer(d)
		} else {
			t.Reset(d)
		}
		select {
		case <-t.C:
		case <-done:
			return false
		}
	}
}

// arrive notes a write arriving at now, before the round it ends (if any) is sampled: the
// time since the pacer would have let a write through, beyond a burst, is time in which the
// sender had nothing to write. The caller holds mu.
func (p *pacer) arrive(now time.Time) {
	if idle := now.Sub(p.next) - pacingBurst; idle > 0 && !p.next.IsZero() {
		p.roundIdle += idle
	}
}

// unwrite takes back n bytes that wait let through but that were not written.
func (p *pacer) unwrite(n int) {
	p.mu.Lock()
	p.written -= int64(n)
	p.mu.Unlock()
}
