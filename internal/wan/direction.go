package wan

import (
	"errors"
	"fmt"
	"time"
)

// mtu is the TUN devices' MTU.
const mtu = 1500

// DefaultQueue is the bottleneck queue used when Direction.RateBps is set and Queue is zero.
const DefaultQueue = 50 * time.Millisecond

// Config describes a Link.
type Config struct {
	// AtoB and BtoA are the two directions' impairments.
	AtoB, BtoA Direction
	// Seed seeds the random choices (loss, jitter, reordering) of both directions.
	Seed uint64
}

// Direction is what one direction of the link does to the packets that cross it. The zero
// value forwards everything at once.
type Direction struct {
	// Delay is the constant one-way delay.
	Delay time.Duration
	// Jitter adds a uniform random delay in [0, Jitter) to each packet, without reordering:
	// a packet drawn shorter than the one before it waits for it, so when packets are closer
	// together than Jitter their delays bunch towards Delay+Jitter.
	Jitter time.Duration

	// Loss is the probability that a packet is dropped, independently of the others.
	Loss float64
	// Burst is a Gilbert–Elliott chain for bursty loss; its zero value never loses.
	Burst GilbertElliott

	// ReorderProb is the probability that a packet is held ReorderDelay longer than the
	// others, so that the packets behind it overtake it.
	ReorderProb  float64
	ReorderDelay time.Duration

	// RateBps caps the direction at this many bits per second of IP packets (headers
	// included); zero means no cap.
	RateBps int64
	// Queue is the capacity of the drop-tail queue in front of the cap, as the time it takes
	// to drain at RateBps (50 ms holds 62,500 bytes at 10 Mbit/s). Zero means DefaultQueue.
	Queue time.Duration

	// Down drops every packet, including those already in flight: a link flap.
	Down bool
}

// GilbertElliott is the two-state Markov model of bursty loss. The chain is stepped once per
// packet: in the good state it moves to bad with probability P, in the bad state back to good
// with probability R; a packet is then lost with probability LossBad or LossGood depending on
// the state. With LossBad 1 and LossGood 0, loss bursts last 1/R packets on average and the
// long-run loss rate is P/(P+R).
type GilbertElliott struct {
	P, R              float64
	LossBad, LossGood float64
}

func (d Direction) validate() error {
	var errs []error
	prob := func(name string, p float64) {
		if !(p >= 0 && p <= 1) { // also rejects NaN
			errs = append(errs, fmt.Errorf("%s %v is not a probability in [0, 1]", name, p))
		}
	}
	prob("Loss", d.Loss)
	prob("ReorderProb", d.ReorderProb)
	prob("Burst.P", d.Burst.P)
	prob("Burst.R", d.Burst.R)
	prob("Burst.LossBad", d.Burst.LossBad)
	prob("Burst.LossGood", d.Burst.LossGood)
	for name, v := range map[string]time.Duration{
		"Delay": d.Delay, "Jitter": d.Jitter, "ReorderDelay": d.ReorderDelay, "Queue": d.Queue,
	} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", name, v))
		}
	}
	if d.RateBps < 0 {
		errs = append(errs, fmt.Errorf("RateBps %d is negative", d.RateBps))
	}
	return errors.Join(errs...)
}

// queueBytes is the bottleneck's capacity in bytes: Queue worth of RateBps, at least one
// full-size packet so that a very low rate still passes traffic.
func (d Direction) queueBytes() int64 {
	q := d.Queue
	if q == 0 {
		q = DefaultQueue
	}
	b := int64(float64(d.RateBps) / 8 * q.Seconds())
	return max(b, mtu)
}
