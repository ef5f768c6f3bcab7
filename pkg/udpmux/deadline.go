//go:build !js

package udpmux

import (
	"sync"
	"time"
)

// deadline is a settable point in time whose passing closes a channel, for
// select. It starts no goroutine: a timer fires once per deadline set in
// the future.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	passed chan struct{} // closed once the current deadline has passed
}

func newDeadline() *deadline { return &deadline{passed: make(chan struct{})} }

// set moves the deadline to t; the zero time means none.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	// A timer that could not be stopped has fired: its callback may be
	// waiting for mu to close the current channel, so that channel must not
	// serve the new deadline.
	fresh := isClosed(d.passed)
	if d.timer != nil && !d.timer.Stop() {
		fresh = true
	}
	d.timer = nil
	if t.IsZero() {
		if fresh {
			d.passed = make(chan struct{})
		}
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		if !isClosed(d.passed) {
			close(d.passed)
		}
		return
	}
	if fresh {
		d.passed = make(chan struct{})
	}
	passed := d.passed
	d.timer = time.AfterFunc(wait, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.passed == passed && !isClosed(passed) {
			close(passed)
		}
	})
}

// wait returns the channel that is closed when the current deadline passes.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.passed
}

// stop releases the timer.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
