package wan

import (
	"fmt"
	"strings"
	"time"
)

// Path is a symmetric network path as benchmarks describe one ("50 ms RTT, 1 % loss,
// 20 Mbit/s"); Config turns it into a Link's Config.
type Path struct {
	// RTT is split evenly between the two directions' Delay.
	RTT time.Duration
	// Loss is the random loss probability of each direction, so a round trip loses
	// 1-(1-Loss)² of its packet pairs.
	Loss float64
	// RateBps caps each direction; zero means no cap.
	RateBps int64
	// Queue is each cap's drop-tail queue, in time at RateBps; zero means DefaultQueue.
	Queue time.Duration
	// Seed seeds the random loss.
	Seed uint64
}

// Config returns the Config of a Link that emulates p.
func (p Path) Config() Config {
	d := Direction{Delay: p.RTT / 2, Loss: p.Loss, RateBps: p.RateBps, Queue: p.Queue}
	return Config{AtoB: d, BtoA: d, Seed: p.Seed}
}

// String names p for a benchmark's output: "rtt=50ms loss=1% rate=20Mbit/s queue=50ms"; the
// knobs left at zero are omitted.
func (p Path) String() string {
	parts := []string{"rtt=" + p.RTT.String()}
	if p.Loss > 0 {
		parts = append(parts, fmt.Sprintf("loss=%g%%", 100*p.Loss))
	}
	if p.RateBps > 0 {
		parts = append(parts, fmt.Sprintf("rate=%gMbit/s", float64(p.RateBps)/1e6))
		q := p.Queue
		if q == 0 {
			q = DefaultQueue
		}
		parts = append(parts, "queue="+q.String())
	}
	return strings.Join(parts, " ")
}
