package signaling

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/rangecast/rangecast/pkg/peer"
)

// DialOptions configures Dial. Zero fields take defaults.
type DialOptions struct {
	// Peer is the Conn configuration; Role and OnSignal are set by Dial, and OnStateChange,
	// if set, is still called.
	Peer peer.Config
	// Timeout bounds the whole setup, offer to connected; 30 s.
	Timeout time.Duration

	// NoRelayICE keeps a relayed link's Dial from asking the relay for its STUN/TURN
	// servers (GET <base>/api/v1/ice, answered by the relay itself with credentials of the
	// daemon's id); by default they are added to Peer.ICEServers before the offer.
	NoRelayICE bool

	// LocalSignal, if set, sees each local signal (offer, candidates, end of candidates)
	// before it is sent to the daemon, and returns the signal to send instead, or false to
	// drop it. RemoteSignal does the same for each of the daemon's signals (its answer
	// included) before it is applied. They are meant for tests and benchmarks that reroute
	// the peer traffic, for example through a relay that delays or drops packets: rewrite
	// the daemon's candidates to the relay's address and drop the local ones. Dropping the
	// offer or the answer makes the setup fail. Nil means unchanged. Each is called from
	// one goroutine at a time.
	LocalSignal  func(peer.Signal) (peer.Signal, bool)
	RemoteSignal func(peer.Signal) (peer.Signal, bool)
}

// filterSignal applies a LocalSignal or RemoteSignal hook; nil keeps s.
func filterSignal(hook func(peer.Signal) (peer.Signal, bool), s peer.Signal) (peer.Signal, bool) {
	if hook == nil {
		return s, true
	}
	return hook(s)
}

// Dial connects a offerer-role peer.Conn to the daemon named by link, trickling candidates
// both ways over the signaling API, and returns once the Conn is connected. Signaling stops
// then: nothing of it is left running.
func Dial(ctx context.Context, link string, opts DialOptions) (*peer.Conn, error) {
	l, err := ParseLink(link)
	if err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeoutCause(ctx, opts.Timeout, ErrSetupTimeout)
	defer cancel()
	a := newAPI()
	defer a.close()

	local := make(chan peer.Signal, 512)
	connected := make(chan struct{})
	var once sync.Once
	cfg := opts.Peer
	if l.Relayed() && !opts.NoRelayICE {
		cfg.ICEServers = append(relayICE(ctx, a, l), cfg.ICEServers...)
	}
	userState := cfg.OnStateChange
	cfg.Role = peer.Offerer
	cfg.OnSignal = func(s peer.Signal) {
		s, ok := filterSignal(opts.LocalSignal, s)
		if !ok {
			return
		}
		select {
		case local <- s:
		default: // more candidates than anyone needs: drop the rest
		}
	}
	cfg.OnStateChange = func(s peer.State) {
		if s == peer.StateConnected {
			once.Do(func() { close(connected) })
		}
		if userState != nil {
			userState(s)
		}
	}
	conn, err := peer.New(cfg)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*peer.Conn, error) {
		_ = conn.CloseWithError(err)
		if c := context.Cause(ctx); c != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			err = c
		}
		return nil, err
	}

	var offer peer.Signal
	select {
	case offer = <-local:
	case <-ctx.Done():
		return fail(context.Cause(ctx))
	}
	var created CreateResponse
	if err := call(ctx, a, "POST", l.Base+APIPrefix+"peers", l.signalingToken(), offer, &created); err != nil {
		return fail(err)
	}
	peerURL := l.Base + APIPrefix + "peers/" + created.ID
	answer, ok := filterSignal(opts.RemoteSignal, created.Answer)
	if !ok {
		return fail(errors.New("signal: RemoteSignal dropped the answer"))
	}
	if err := conn.AddSignal(answer); err != nil {
		return fail(err)
	}

	sigCtx, stopSig := context.WithCancel(ctx)
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); errc <- trickle(sigCtx, a, peerURL, l.signalingToken(), local) }()
	go func() {
		defer wg.Done()
		errc <- pollRemote(sigCtx, a, peerURL, l.signalingToken(), conn, opts.RemoteSignal)
	}()

	var setupErr error
	for setupErr == nil {
		select {
		case <-connected:
		case <-conn.Done():
			setupErr = conn.Err()
		case <-ctx.Done():
			setupErr = context.Cause(ctx)
		case err := <-errc:
			if err != nil && sigCtx.Err() == nil {
				setupErr = err
			}
			continue
		}
		break
	}
	stopSig()
	wg.Wait()
	if setupErr != nil {
		// Tell the daemon to free the slot now rather than at its setup timeout.
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = call(dctx, a, "DELETE", peerURL, l.signalingToken(), nil, nil)
		dcancel()
		return fail(setupErr)
	}
	return conn, nil
}

// trickle posts local candidates in batches until end-of-candidates or ctx ends.
func trickle(ctx context.Context, a api, peerURL, token string, local <-chan peer.Signal) error {
	for {
		var batch []peer.Signal
		select {
		case s := <-local:
			batch = append(batch, s)
		case <-ctx.Done():
			return nil
		}
	more:
		for len(batch) < MaxSignalsPerPost {
			select {
			case s := <-local:
				batch = append(batch, s)
			default:
				break more
			}
		}
		if err := call(ctx, a, "POST", peerURL+"/signals", token, batch, nil); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if batch[len(batch)-1].Type == peer.SignalEndOfCandidates {
			return nil
		}
	}
}

// pollRemote applies the daemon's candidates as they come, through hook if set.
func pollRemote(ctx context.Context, a api, peerURL, token string, conn *peer.Conn, hook func(peer.Signal) (peer.Signal, bool)) error {
	after := 0
	for {
		var pr PollResponse
		if err := call(ctx, a, "GET", peerURL+"/signals?after="+strconv.Itoa(after), token, nil, &pr); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, s := range pr.Signals {
			if s.Type == peer.SignalAnswer {
				continue // already applied from the create answer
			}
			s, ok := filterSignal(hook, s)
			if !ok {
				continue
			}
			if err := conn.AddSignal(s); err != nil {
				return fmt.Errorf("signal: daemon candidate: %w", err)
			}
		}
		after = pr.Next
		if pr.Done {
			return nil
		}
	}
}

// Probe asks the daemon named by link whether its process is still there, with one request
// to its status endpoint: any HTTP answer, even an error, means it is (ICE may yet recover),
// while a request that fails means it is gone. ICE needs seconds to tell a dead peer from a
// slow one; this takes one round trip. Through a relay, the relay's daemon_offline answer
// means gone too.
func Probe(ctx context.Context, link string) error {
	l, err := ParseLink(link)
	if err != nil {
		return err
	}
	a := newAPI()
	defer a.close()
	status, body, err := a.do(ctx, "GET", l.Base+APIPrefix+"status", l.signalingToken(), nil)
	if err == nil && status == 503 && l.Relayed() {
		// The relay answers for a daemon that is not registered: that one is gone.
		var er ErrorResponse
		if decodeJSON(body, &er) == nil && er.Code == CodeDaemonOffline {
			return &APIError{Status: status, Code: er.Code, Message: er.Message}
		}
	}
	return err
}

// ICEResponse is the answer of GET <relay>/d/<id>/api/v1/ice: the relay's STUN and TURN
// servers with credentials for this daemon, until Expires (Unix seconds).
type ICEResponse struct {
	ICEServers []peer.ICEServer `json:"iceServers"`
	Expires    int64            `json:"expires,omitempty"`
}

// relayICE asks the relay of a relayed link for its STUN/TURN servers. A relay without
// them, or an answer that does not come within 5 s, gives none: the connection may still
// work directly, and the offer's failure says more than this request's would.
func relayICE(ctx context.Context, a api, l Link) []peer.ICEServer {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var r ICEResponse
	if err := call(ctx, a, "GET", l.Base+APIPrefix+"ice", "", nil, &r); err != nil {
		return nil
	}
	return r.ICEServers
}
