package connect

import "time"

// meter averages a byte counter over a sliding window: the throughput a connection panel
// shows. It is not safe for concurrent use.
type meter struct {
	window  time.Duration
	samples []sample // oldest first, spanning at most window
}

type sample struct {
	t time.Time
	n int64
}

// add records the counter's value at t and forgets samples older than the window.
func (m *meter) add(t time.Time, n int64) {
	m.samples = append(m.samples, sample{t, n})
	cut := 0
	for cut < len(m.samples)-1 && t.Sub(m.samples[cut+1].t) >= m.window {
		cut++
	}
	m.samples = append(m.samples[:0], m.samples[cut:]...)
}

// rate returns bytes per second between the oldest sample and (t, n).
func (m *meter) rate(t time.Time, n int64) float64 {
	if len(m.samples) == 0 {
		return 0
	}
	first := m.samples[0]
	dt := t.Sub(first.t).Seconds()
	if dt < 0.1 || n < first.n {
		return 0
	}
	return float64(n-first.n) / dt
}

// reset forgets every sample.
func (m *meter) reset() { m.samples = m.samples[:0] }
