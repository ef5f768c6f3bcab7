//go:build linux

package wan

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestGilbertElliottModel runs the chain alone, without namespaces, over many packets: the
// mean burst and the loss rate converge to 1/R and P/(P+R).
func TestGilbertElliottModel(t *testing.T) {
	ge := GilbertElliott{P: 0.01, R: 0.25, LossBad: 1}
	p := newPipe(nil, nil, Direction{Burst: ge}, 1, 1, nil)
	const n = 300_000
	now := time.Now()
	var lost, bursts, run int
	for i := range n + 1 {
		b := bufPool.Get().(*[]byte)
		if queued, _ := p.admit(b, 100, now); i < n && !queued {
			run++
			continue
		}
		p.line = p.line[:0] // nothing drains the line here
		if run > 0 {
			bursts++
			lost += run
			run = 0
		}
	}
	mean := float64(lost) / float64(bursts)
	t.Logf("mean burst %.3f, loss %.3f%%", mean, 100*float64(lost)/n)
	assert.InDelta(t, 1/ge.R, mean, 0.25)
	assert.InDelta(t, ge.P/(ge.P+ge.R), float64(lost)/n, 0.005)
}

// TestQueueModel feeds a burst into the cap at one instant: the queue accepts its capacity
// and drops the rest, and each accepted packet departs one serialisation time after the one
// before it.
func TestQueueModel(t *testing.T) {
	d := Direction{RateBps: 8_000_000, Queue: 10 * time.Millisecond} // 10,000 bytes
	p := newPipe(nil, nil, d, 1, 1, nil)
	now := time.Now()
	var accepted int
	for range 20 {
		if queued, _ := p.admit(bufPool.Get().(*[]byte), 1000, now); queued {
			accepted++
		}
	}
	assert.Equal(t, 10, accepted)
	assert.Equal(t, uint64(10), p.stats.DroppedQueue)
	assert.Equal(t, int64(10_000), p.stats.QueueHighWater)
	assert.Equal(t, now.Add(10*time.Millisecond), p.busyUntil)
	assert.Equal(t, now.Add(time.Millisecond), p.line[0].release, "1000 bytes at 1 MB/s")
}
