package connect

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestMeter(t *testing.T) {
	m := meter{window: 2 * time.Second}
	t0 := time.Unix(1000, 0)
	assert.Zero(t, m.rate(t0, 0), "no samples")
	for i := range 9 { // 1 MB/s for 4 s, sampled every 500 ms
		m.add(t0.Add(time.Duration(i)*500*time.Millisecond), int64(i)*500_000)
	}
	now := t0.Add(4 * time.Second)
	assert.InDelta(t, 1e6, m.rate(now, 4_000_000), 1)
	assert.LessOrEqual(t, len(m.samples), 5, "older samples than the window are forgotten")
	// The rate follows a change within the window.
	now2 := now.Add(2 * time.Second)
	m.add(now.Add(time.Second), 4_000_000)
	m.add(now2, 4_000_000)
	assert.Zero(t, m.rate(now2, 4_000_000), "stalled for a whole window")
	assert.Zero(t, m.rate(now2, 0), "a counter that went back is not a rate")
	m.reset()
	assert.Zero(t, m.rate(now2, 5_000_000))
}
