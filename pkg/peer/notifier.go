package peer

import (
	"sync"
	"sync/atomic"
)

// notifier runs the user's callbacks (OnSignal, OnStateChange) on one
// goroutine, in the order they were queued, so that pion's callback
// goroutines never block on user code and never reorder events.
//
// Its queue holds at most the local description, the local candidates (a
// handful per network interface) and state changes, which ICE's timers pace.
type notifier struct {
	mu      sync.Mutex
	queue   []func()
	stopped bool

	wake   chan struct{}
	done   <-chan struct{}
	exited chan struct{}

	// inCallback is set while a callback runs, so that Close called from a
	// callback does not wait for the notifier goroutine to exit.
	inCallback atomic.Bool
}

func newNotifier(done <-chan struct{}) *notifier {
	n := &notifier{
		wake:   make(chan struct{}, 1),
		done:   done,
		exited: make(chan struct{}),
	}
	go n.run()
	return n
}

// enqueue queues f. Once the notifier has drained its queue after done, f is
// dropped.
func (n *notifier) enqueue(f func()) {
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		return
	}
	n.queue = append(n.queue, f)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *notifier) run() {
	defer close(n.exited)
	for {
		n.mu.Lock()
		if len(n.queue) > 0 {
			f := n.queue[0]
			n.queue[0] = nil
			n.queue = n.queue[1:]
			n.mu.Unlock()
			n.inCallback.Store(true)
			f()
			n.inCallback.Store(false)
			continue
		}
		n.mu.Unlock()

		select {
		case <-n.wake:
		case <-n.done:
			n.mu.Lock()
			if len(n.queue) == 0 {
				n.stopped = true
				n.mu.Unlock()
				return
			}
			n.mu.Unlock()
		}
	}
}

// wait waits for the notifier goroutine to exit, unless it is called from a
// callback, which would wait for itself.
func (n *notifier) wait() {
	if n.inCallback.Load() {
		return
	}
	<-n.exited
}
