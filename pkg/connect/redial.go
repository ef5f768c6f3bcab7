package connect

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/signaling"
)

// State is where a Redialer stands.
type State string

// The states, as Redialer.State and each Event report them.
const (
	StateConnecting   State = "connecting"   // a reconnect attempt is in flight
	StateConnected    State = "connected"    // requests go through
	StateDisconnected State = "disconnected" // ICE lost the daemon; it may come back within the grace
	StateReconnecting State = "reconnecting" // the connection is gone; waiting before the next attempt
	StateClosed       State = "closed"       // ended by Close, or by the daemon with Reconnect off
	StateFailed       State = "failed"       // ended by an error reconnecting cannot fix
)

// Event is one state change of a Redialer.
type Event struct {
	State   State
	Attempt int           // the reconnect attempt (from 1) in connecting, reconnecting and the connected after them
	RetryIn time.Duration // in reconnecting: the wait before the attempt
	Err     error         // in reconnecting: why the connection was lost; in closed and failed: why it ended
}

// RedialOptions configures a Redialer. Zero durations take the defaults in brackets.
type RedialOptions struct {
	// Options is how each attempt dials. Signal.Peer.OnStateChange, if set, is still called.
	Options
	// Reconnect replaces a lost connection; without it the first loss ends the Redialer.
	Reconnect bool
	// OnEvent hears every state change, in order, from one goroutine at a time. It must not
	// block, nor call the Redialer's Close.
	OnEvent func(Event)
	// DisconnectGrace is how long a disconnected connection may take to recover before it is
	// dropped and replaced [5 s]. ICE restarts are not supported, and Chromium takes ~30 s to
	// declare a dead peer failed (as of 2026-11): far too long to show a frozen page.
	DisconnectGrace time.Duration
	// BackoffMin and BackoffMax bound the wait between attempts, which doubles from the
	// first to the second [1 s, 30 s].
	BackoffMin, BackoffMax time.Duration
	// Probe asks whether the daemon is still there when the connection is disconnected, to
	// reconnect at once when it is not [signaling.Probe of the link].
	Probe func(ctx context.Context) error
}

// errClosedByUser is why a Redialer ends when Close is called.
var errClosedByUser = Errorf(CodeClosed, "the connection was closed")

// Redialer keeps a Remote connected to one daemon: it watches the current connection and,
// when it is lost, replaces it, backing off between attempts, until Close or an error that
// reconnecting cannot fix (a refused token or a bad link: the daemon restarted with another
// token, and only a new link helps; a share link revoked or expired, even while connected). It also measures the bytes received and their rate.
type Redialer struct {
	link       string
	opts       RedialOptions
	ctx        context.Context // ends on Close
	cancel     context.CancelFunc
	done       chan struct{} // closed when the supervisor has finished
	wake       chan struct{} // capacity 1: reconnect now
	peerEvents chan struct{} // capacity 1: a Conn's state changed

	mu          sync.Mutex
	cur         *Remote
	state       State
	connectedAt time.Time
	rtt         time.Duration // <0 until the first ping
	bytesBase   int64         // bytes received on earlier connections
	meter       meter
	end         error // set once ended: what Current returns
}

// Stats is a Redialer's connection panel.
type Stats struct {
	State         State
	RTT           time.Duration // the last ping's round trip; <0 before the first
	BytesReceived int64         // over every connection so far
	Throughput    float64       // bytes per second over the last 2 s
	ConnectedAt   time.Time     // zero while not connected
}

const (
	sampleEvery = 250 * time.Millisecond
	meterWindow = 2 * time.Second
)

// Redial connects to the daemon named by link, returning once connected (or with the first
// attempt's error, coded with DialCodeOf), and keeps the connection up until Close.
func Redial(ctx context.Context, link string, opts RedialOptions) (*Redialer, error) {
	if opts.DisconnectGrace <= 0 {
		opts.DisconnectGrace = 5 * time.Second
	}
	if opts.BackoffMin <= 0 {
		opts.BackoffMin = time.Second
	}
	if opts.BackoffMax < opts.BackoffMin {
		opts.BackoffMax = max(30*time.Second, opts.BackoffMin)
	}
	if opts.Probe == nil {
		opts.Probe = func(ctx context.Context) error { return signaling.Probe(ctx, link) }
	}
	rctx, cancel := context.WithCancel(context.Background())
	r := &Redialer{
		link: link, opts: opts, ctx: rctx, cancel: cancel,
		done: make(chan struct{}), wake: make(chan struct{}, 1), peerEvents: make(chan struct{}, 1),
		rtt: -1, meter: meter{window: meterWindow},
	}
	cur, err := r.dial(ctx)
	// A predialed connection serves the first attempt only: reconnects dial anew.
	r.opts.Predialed = nil
	if err != nil {
		cancel()
		return nil, WithCode(DialCodeOf(err), err)
	}
	r.cur, r.state, r.connectedAt = cur, StateConnected, time.Now()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.supervise(cur) }()
	go func() { defer wg.Done(); r.sample() }()
	go func() { wg.Wait(); close(r.done) }()
	return r, nil
}

// dial connects once. The Conn's state changes only poke peerEvents: the supervisor reads
// the state itself, so a notification from an old Conn does no harm.
func (r *Redialer) dial(ctx context.Context) (*Remote, error) {
	opts := r.opts.Options
	user := opts.Signal.Peer.OnStateChange
	opts.Signal.Peer.OnStateChange = func(s peer.State) {
		select {
		case r.peerEvents <- struct{}{}:
		default:
		}
		if user != nil {
			user(s)
		}
	}
	return Dial(ctx, r.link, opts)
}

func (r *Redialer) emit(e Event) {
	r.mu.Lock()
	r.state = e.State
	r.mu.Unlock()
	if r.opts.OnEvent != nil {
		r.opts.OnEvent(e)
	}
}

// supervise watches the connection and replaces it when it is lost, until Close or an error
// that reconnecting cannot fix.
func (r *Redialer) supervise(cur *Remote) {
	for {
		err := r.watch(cur)
		r.drop(cur)
		if err == errClosedByUser || r.ctx.Err() != nil {
			r.finish(errClosedByUser)
			return
		}
		// A refusal the daemon typed (the share link was revoked or has expired) ends the
		// session for good: a reconnect would only be refused again, after a backoff shown
		// as "reconnecting".
		if !r.opts.Reconnect || final(err) {
			r.finish(err)
			return
		}
		if cur, err = r.reconnect(err); err != nil {
			r.finish(err)
			return
		}
	}
}

// watch returns when cur is lost, with why.
func (r *Redialer) watch(cur *Remote) error {
	var grace <-chan time.Time
	var timer *time.Timer
	var probed chan error // the answer of the probe started on disconnect, if any
	pctx, cancelProbe := context.WithCancel(r.ctx)
	var probes sync.WaitGroup
	defer func() {
		cancelProbe()
		probes.Wait()
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case err := <-probed:
			probed = nil
			if err != nil && pctx.Err() == nil {
				return Errorf(CodeUnreachable, "the daemon is gone: %v", err)
			}
		case <-r.ctx.Done():
			return errClosedByUser
		case <-cur.Client.Done():
			return cur.Client.Err()
		case <-cur.Conn.Done():
			if err := cur.Client.Err(); err != nil {
				return err // it knows whether GOAWAY came first
			}
			return cur.Conn.Err()
		case <-grace:
			return Errorf(CodeUnreachable, "the daemon has not answered for %v", r.opts.DisconnectGrace)
		case <-r.wake:
			if grace != nil {
				return Errorf(CodeUnreachable, "reconnecting now: the daemon is not answering")
			}
		case <-r.peerEvents:
			switch cur.Conn.State() {
			case peer.StateDisconnected:
				if grace == nil {
					timer = time.NewTimer(r.opts.DisconnectGrace)
					grace = timer.C
					r.emit(Event{State: StateDisconnected})
					ch := make(chan error, 1)
					probed = ch
					probes.Add(1)
					go func() { defer probes.Done(); ch <- r.opts.Probe(pctx) }()
				}
			case peer.StateConnected:
				if grace != nil {
					timer.Stop()
					timer, grace = nil, nil
					r.emit(Event{State: StateConnected})
				}
			}
		}
	}
}

// drop closes a lost connection and keeps its byte count.
func (r *Redialer) drop(cur *Remote) {
	_ = cur.Close()
	r.mu.Lock()
	r.bytesBase += cur.BytesReceived()
	r.cur, r.connectedAt = nil, time.Time{}
	r.mu.Unlock()
}

// reconnect dials until it succeeds, backing off between attempts. A refused token or a bad
// link ends it.
func (r *Redialer) reconnect(cause error) (*Remote, error) {
	delay := r.opts.BackoffMin
	for attempt := 1; ; attempt++ {
		r.emit(Event{State: StateReconnecting, Attempt: attempt, RetryIn: delay, Err: cause})
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.wake:
			t.Stop()
		case <-r.ctx.Done():
			t.Stop()
			return nil, errClosedByUser
		}
		r.emit(Event{State: StateConnecting, Attempt: attempt})
		cur, err := r.dial(r.ctx)
		if err == nil {
			r.mu.Lock()
			r.cur, r.connectedAt = cur, time.Now()
			r.meter.reset()
			r.mu.Unlock()
			r.emit(Event{State: StateConnected, Attempt: attempt})
			return cur, nil
		}
		if r.ctx.Err() != nil {
			return nil, errClosedByUser
		}
		err = WithCode(DialCodeOf(err), err)
		if final(err) {
			return nil, err
		}
		cause = err
		delay = min(delay*2, r.opts.BackoffMax)
	}
}

// final reports whether err ends a Redialer instead of starting a reconnect: the daemon
// refused the token or the link, or the share link was revoked or has expired.
func final(err error) bool {
	switch CodeOf(err) {
	case CodeUnauthorized, CodeBadLink, CodeLinkExpired, CodeLinkRevoked:
		return true
	}
	return false
}

// finish ends the Redialer: Current returns "closed" from now on.
func (r *Redialer) finish(why error) {
	code := CodeOf(why)
	state := StateFailed
	if why == errClosedByUser || !r.opts.Reconnect && (code == CodeClosed || code == CodeGoingAway) {
		state = StateClosed
	}
	r.mu.Lock()
	r.end = Errorf(CodeClosed, "the connection has ended: %v", why)
	r.mu.Unlock()
	r.emit(Event{State: state, Err: why})
}

// sample feeds the throughput meter until the supervisor ends.
func (r *Redialer) sample() {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case now := <-t.C:
			r.mu.Lock()
			if r.end != nil {
				r.mu.Unlock()
				return
			}
			r.meter.add(now, r.bytesLocked())
			r.mu.Unlock()
		}
	}
}

func (r *Redialer) bytesLocked() int64 {
	n := r.bytesBase
	if r.cur != nil {
		n += r.cur.BytesReceived()
	}
	return n
}

// Current returns the connection requests should go through now, or why there is none: an
// "unreachable" error while reconnecting, a "closed" one once ended.
func (r *Redialer) Current() (*Remote, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.end != nil {
		return nil, r.end
	}
	if r.cur == nil {
		return nil, Errorf(CodeUnreachable, "not connected to the daemon (%s)", r.state)
	}
	return r.cur, nil
}

// State returns the current state.
func (r *Redialer) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// Ping measures a round trip over the current connection, bounded by timeout.
func (r *Redialer) Ping(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	cur, err := r.Current()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d, err := cur.Ping(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return 0, Errorf(CodeUnreachable, "no answer to a ping within %v", timeout)
	}
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	r.rtt = d
	r.mu.Unlock()
	return d, nil
}

// Stats returns the connection panel's figures.
func (r *Redialer) Stats() Stats {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.bytesLocked()
	return Stats{State: r.state, RTT: r.rtt, BytesReceived: n, Throughput: r.meter.rate(now, n), ConnectedAt: r.connectedAt}
}

// ReconnectNow skips the wait before the next attempt, or drops a disconnected connection at
// once. It does nothing while connected, and returns the end's error once ended.
func (r *Redialer) ReconnectNow() error {
	r.mu.Lock()
	end, state := r.end, r.state
	r.mu.Unlock()
	if end != nil {
		return end
	}
	if state == StateConnected {
		return nil // nothing to do; a wake-up left here would skip a later backoff
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// Done is closed once the Redialer has ended and its goroutines have returned.
func (r *Redialer) Done() <-chan struct{} { return r.done }

// Close ends the Redialer and its connection, and waits for its goroutines.
func (r *Redialer) Close() error {
	r.cancel()
	<-r.done
	return nil
}
