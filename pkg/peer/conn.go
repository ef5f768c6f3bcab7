package peer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// maxPendingCandidates bounds the remote candidates held until the remote
// description arrives.
const maxPendingCandidates = 128

// Conn is one WebRTC PeerConnection with a Offerer or Answerer role. All methods
// are safe for concurrent use. Always call Close: it releases everything the
// Conn started, and returns once that is done.
type Conn struct {
	cfg    Config
	target // per-target fields, the PeerConnection: peerconnection.go, peerconnection_js.go

	events    *notifier
	acceptQ   chan *Channel
	ctrlReady chan struct{} // closed once ctrl is set
	ctrl      *Channel
	done      chan struct{} // closed when closing starts
	closed    chan struct{} // closed when the closing Close has released everything
	wg        sync.WaitGroup

	mu           sync.Mutex
	state        State
	err          error // set before done is closed
	channels     map[*Channel]struct{}
	localSent    bool     // the local description was emitted
	localPending []Signal // candidates gathered before that
	disc         chan struct{}
	pings        map[uint64]chan struct{}
	pingSeq      uint64

	signalMu         sync.Mutex // serializes AddSignal
	remoteSet        bool
	remoteCandidates []ICECandidateInit
}

// New creates a Conn and its control channel. A Offerer also creates its offer
// and emits it through cfg.OnSignal; a Answerer waits for one in AddSignal.
func New(cfg Config) (*Conn, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := newConn(cfg)
	if err := c.newPeerConnection(); err != nil {
		c.abandon()
		return nil, fmt.Errorf("peer: %w", err)
	}

	id := controlID
	p, err := c.newDataChannel(controlLabel, &id)
	if err != nil {
		_ = c.CloseWithError(err)
		return nil, fmt.Errorf("peer: control channel: %w", err)
	}
	c.startControl(p)

	if cfg.Role == Offerer {
		if err := c.offer(); err != nil {
			_ = c.CloseWithError(err)
			return nil, fmt.Errorf("peer: offer: %w", err)
		}
	}
	return c, nil
}

// newConn returns a Conn with no PeerConnection yet; cfg has its defaults.
func newConn(cfg Config) *Conn {
	c := &Conn{
		cfg:       cfg,
		acceptQ:   make(chan *Channel, cfg.AcceptBacklog),
		ctrlReady: make(chan struct{}),
		done:      make(chan struct{}),
		closed:    make(chan struct{}),
		channels:  make(map[*Channel]struct{}),
		disc:      make(chan struct{}),
		pings:     make(map[uint64]chan struct{}),
	}
	c.events = newNotifier(c.done)
	return c
}

// startControl runs the control channel once p opens.
func (c *Conn) startControl(p *pendingChannel) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		select {
		case <-p.opened:
		case <-c.done:
			p.abort()
			return
		}
		if p.err != nil {
			p.abort()
			go c.CloseWithError(fmt.Errorf("peer: control channel: %w", p.err)) //nolint:errcheck // nothing to report to
			return
		}
		ctrl := newChannel(c, p.t)
		if !c.register(ctrl) {
			ctrl.closeWith(c.Err())
			return
		}
		c.ctrl = ctrl
		close(c.ctrlReady)
		c.controlLoop(ctrl)
	}()
}

// abandon releases what New started before the PeerConnection existed.
func (c *Conn) abandon() {
	c.mu.Lock()
	c.err = ErrClosed
	close(c.done)
	c.mu.Unlock()
	close(c.closed)
	c.events.wait()
}

func (c *Conn) offer() error {
	sdp, err := c.createLocalDescription(SignalOffer)
	if err != nil {
		return err
	}
	c.emitLocalDescription(SignalOffer, sdp)
	return nil
}

// Role returns the role the Conn was created with.
func (c *Conn) Role() Role { return c.cfg.Role }

// State returns the current connection state.
func (c *Conn) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Done returns a channel that is closed when the Conn starts closing, whether
// by Close, by failure or by the peer. Err then reports why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns nil while the Conn is open, and afterwards the error its
// operations return: ErrClosed, or an error wrapping ErrClosed and the cause
// (the argument of CloseWithError, ErrFailed or ErrClosedByPeer).
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// AddSignal applies one signal from the remote peer: the Answerer takes the
// offer (and emits its answer through OnSignal), the Offerer takes the answer,
// and both take candidates and end-of-candidates. Candidates that arrive
// before the remote description are held (up to 128) and applied after it.
// Signals are applied one at a time; under GOOS=js AddSignal waits for the
// browser, so do not call it from a JavaScript callback.
//
// A signal that does not fit the role or the negotiation state fails with
// ErrUnexpectedSignal and leaves the Conn as it was; other failures (a
// malformed SDP or candidate) leave it open too, for the caller to Close.
func (c *Conn) AddSignal(sig Signal) error {
	c.signalMu.Lock()
	defer c.signalMu.Unlock()
	if err := c.Err(); err != nil {
		return err
	}
	switch sig.Type {
	case SignalOffer, SignalAnswer:
		want := SignalAnswer
		if c.cfg.Role == Answerer {
			want = SignalOffer
		}
		if sig.Type != want {
			return fmt.Errorf("%w: %s received by the %s", ErrUnexpectedSignal, sig.Type, c.cfg.Role)
		}
		if c.remoteSet {
			return fmt.Errorf("%w: second %s (renegotiation is not supported)", ErrUnexpectedSignal, sig.Type)
		}
		if err := c.setRemoteDescription(sig.Type, sig.SDP); err != nil {
			return fmt.Errorf("peer: remote %s: %w", sig.Type, err)
		}
		c.remoteSet = true
		var errs []error
		for _, cand := range c.remoteCandidates {
			errs = append(errs, c.addCandidate(cand))
		}
		c.remoteCandidates = nil
		if sig.Type == SignalOffer {
			if err := c.answer(); err != nil {
				errs = append(errs, fmt.Errorf("peer: answer: %w", err))
			}
		}
		return errors.Join(errs...)

	case SignalCandidate, SignalEndOfCandidates:
		var cand ICECandidateInit // empty: end of candidates
		if sig.Type == SignalCandidate {
			if sig.Candidate == nil || sig.Candidate.Candidate == "" {
				return fmt.Errorf("%w: candidate signal without a candidate", ErrUnexpectedSignal)
			}
			cand = *sig.Candidate
		}
		if !c.remoteSet {
			if len(c.remoteCandidates) >= maxPendingCandidates {
				return errTooManyCandidates
			}
			c.remoteCandidates = append(c.remoteCandidates, cand)
			return nil
		}
		return c.addCandidate(cand)

	default:
		return fmt.Errorf("%w: type %q", ErrUnexpectedSignal, sig.Type)
	}
}

func (c *Conn) answer() error {
	sdp, err := c.createLocalDescription(SignalAnswer)
	if err != nil {
		return err
	}
	c.emitLocalDescription(SignalAnswer, sdp)
	return nil
}

// addCandidate applies a remote candidate; an empty one means end of
// candidates, which is only a hint, so its failure is ignored.
func (c *Conn) addCandidate(cand ICECandidateInit) error {
	if cand.Candidate == "" {
		c.addEndOfCandidates()
		return nil
	}
	if err := c.addICECandidate(cand); err != nil {
		return fmt.Errorf("peer: remote candidate: %w", err)
	}
	return nil
}

// emitLocalDescription emits the offer or answer, then the candidates
// gathered before it was emitted: pion starts gathering inside
// SetLocalDescription, so candidates can arrive first.
func (c *Conn) emitLocalDescription(typ SignalType, sdp string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.emitLocked(Signal{Type: typ, SDP: sdp})
	c.localSent = true
	for _, s := range c.localPending {
		c.emitLocked(s)
	}
	c.localPending = nil
}

// onLocalCandidate emits a gathered candidate; nil means gathering is
// complete.
func (c *Conn) onLocalCandidate(cand *ICECandidateInit) {
	s := Signal{Type: SignalEndOfCandidates}
	if cand != nil {
		s = Signal{Type: SignalCandidate, Candidate: cand}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.localSent {
		c.localPending = append(c.localPending, s)
		return
	}
	c.emitLocked(s)
}

func (c *Conn) emitLocked(s Signal) {
	f := c.cfg.OnSignal
	c.events.enqueue(func() { f(s) })
}

// onPeerState records a PeerConnection state change. A failed connection
// closes with ErrFailed; one that pion closed on its own (on the peer's DTLS
// close_notify) closes with ErrClosedByPeer.
func (c *Conn) onPeerState(s State) {
	c.mu.Lock()
	if c.err != nil || s == c.state {
		c.mu.Unlock()
		return
	}
	if s == StateClosed {
		c.mu.Unlock()
		go c.CloseWithError(ErrClosedByPeer) //nolint:errcheck // nothing to report to
		return
	}
	c.setStateLocked(s)
	c.mu.Unlock()
	if s == StateFailed {
		go c.CloseWithError(ErrFailed) //nolint:errcheck // nothing to report to
	}
}

func (c *Conn) setStateLocked(s State) {
	if c.state == StateDisconnected && s != StateDisconnected {
		c.disc = make(chan struct{})
	}
	c.state = s
	if s == StateDisconnected {
		close(c.disc)
	}
	if f := c.cfg.OnStateChange; f != nil {
		c.events.enqueue(func() { f(s) })
	}
}

// Ping sends a ping over the control channel and returns the round-trip
// time. It waits for the control channel to open, so it also waits for the
// connection. It returns ErrDisconnected if the connection is or becomes
// disconnected before the pong arrives, ctx's error, or an error wrapping
// ErrClosed.
func (c *Conn) Ping(ctx context.Context) (time.Duration, error) {
	select {
	case <-c.ctrlReady:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-c.done:
		return 0, c.Err()
	}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return 0, c.err
	}
	if c.state == StateDisconnected {
		c.mu.Unlock()
		return 0, ErrDisconnected
	}
	disc := c.disc
	c.pingSeq++
	seq := c.pingSeq
	pong := make(chan struct{})
	c.pings[seq] = pong
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pings, seq)
		c.mu.Unlock()
	}()

	start := time.Now()
	if _, err := c.ctrl.Write(appendPing(nil, controlPing, seq)); err != nil {
		return 0, err
	}
	select {
	case <-pong:
		return time.Since(start), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-c.done:
		return 0, c.Err()
	case <-disc:
		return 0, ErrDisconnected
	}
}

// CreateChannel opens a reliable, ordered channel with the given label and
// waits until it is open, which includes waiting for the connection. If ctx
// ends first, the channel is closed and ctx's error returned.
func (c *Conn) CreateChannel(ctx context.Context, label string) (*Channel, error) {
	if err := c.Err(); err != nil {
		return nil, err
	}
	p, err := c.newDataChannel(label, nil)
	if err != nil {
		if cerr := c.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("peer: create channel: %w", err)
	}
	return c.opened(ctx, p)
}

// opened waits for p to open and returns it as a registered Channel.
func (c *Conn) opened(ctx context.Context, p *pendingChannel) (*Channel, error) {
	select {
	case <-p.opened:
	case <-ctx.Done():
		p.abort()
		return nil, ctx.Err()
	case <-c.done:
		p.abort()
		return nil, c.Err()
	}
	if p.err != nil {
		p.abort()
		return nil, fmt.Errorf("peer: create channel: %w", p.err)
	}
	ch := newChannel(c, p.t)
	if !c.register(ch) {
		ch.closeWith(c.Err())
		return nil, c.Err()
	}
	return ch, nil
}

// Accept returns the next channel the peer opened. Channels the peer opens
// before Accept is called are held, up to Config.AcceptBacklog.
func (c *Conn) Accept(ctx context.Context) (*Channel, error) {
	if err := c.Err(); err != nil {
		return nil, err
	}
	select {
	case ch := <-c.acceptQ:
		if err := c.Err(); err != nil {
			return nil, err
		}
		return ch, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		return nil, c.Err()
	}
}

// onRemoteChannel queues a channel the peer opened, or closes it if the
// backlog is full or the Conn is closing. It never blocks.
func (c *Conn) onRemoteChannel(t dcTransport) {
	ch := newChannel(c, t)
	if !c.register(ch) {
		ch.closeWith(c.Err())
		return
	}
	select {
	case c.acceptQ <- ch:
	default:
		ch.closeWith(closedWith(errBacklogFull))
		c.unregister(ch)
	}
}

// register records ch so that closing the Conn closes it; it reports false if
// the Conn is already closing.
func (c *Conn) register(ch *Channel) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return false
	}
	c.channels[ch] = struct{}{}
	return true
}

func (c *Conn) unregister(ch *Channel) {
	c.mu.Lock()
	delete(c.channels, ch)
	c.mu.Unlock()
}

// Close closes the Conn; see CloseWithError.
func (c *Conn) Close() error { return c.CloseWithError(nil) }

// CloseWithError closes the Conn, its PeerConnection and all its channels.
// Every pending and later call on them returns an error wrapping ErrClosed
// and err (if not nil), which Err also reports. The first call waits until
// every goroutine the Conn started has finished, except when called from
// OnSignal or OnStateChange, which cannot wait for their own goroutine; later
// calls wait for the first and change nothing. It always returns nil.
//
// Closing is abrupt: data still buffered for sending may be lost. The peer
// notices at once (DTLS close_notify, SCTP abort, the control channel's
// reset) and closes with ErrClosedByPeer.
func (c *Conn) CloseWithError(err error) error {
	err = closedWith(err)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		<-c.closed
		c.events.wait()
		return nil
	}
	c.err = err
	c.setStateLocked(StateClosed)
	close(c.done)
	chans := c.channels
	c.channels = nil
	c.mu.Unlock()

	for ch := range chans {
		ch.closeWith(err)
	}
	c.closePeerConnection()
	c.wg.Wait()
	close(c.closed)
	c.events.wait()
	return nil
}
