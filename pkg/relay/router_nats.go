package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSOptions configures the NATS router. Zero fields take the defaults in brackets.
type NATSOptions struct {
	// URL is the NATS server, nats://host:port, or several separated by commas.
	URL string
	// Prefix is the subjects' first token ["rangecast"]: rangecast.d.<id>.req and so on.
	Prefix string
	// Instance names this relay instance in claims and logs [random].
	Instance string
	Logger   *slog.Logger
	// PresenceTimeout bounds the question "who holds this id?" asked before a registration
	// and by Online; nobody holding it is known at once (NATS's no-responders) [1 s].
	PresenceTimeout time.Duration
	// ReconnectWait is the delay between attempts to reach NATS again [250 ms, with jitter].
	ReconnectWait time.Duration
	// PingInterval is how often the connection to NATS is checked; two missed pongs mark it
	// lost [5 s].
	PingInterval time.Duration
	// OnConnected, if set, is called with true when the connection to NATS is (re)made and
	// false when it is lost.
	OnConnected func(bool)
}

// The subjects, per daemon id: <prefix>.d.<id>.<kind>.
const (
	subjReq   = "req"   // request-reply: a REQUEST in, its RESPONSE (or an error header) out
	subjClaim = "claim" // an instance took the id: {"instance", "epoch"}; the older holder leaves
	subjHere  = "here"  // request-reply: the holder answers {"instance", "epoch"}
)

// Headers of the messages on <prefix>.d.<id>.req.
const (
	hdrTimeout = "Rangecast-Timeout" // the requester's remaining time, in milliseconds
	hdrError   = "Rangecast-Error"   // the holder's failure: offline, busy or timeout
)

// claim is the body of claim and here messages.
type claim struct {
	Instance string `json:"instance"`
	Epoch    int64  `json:"epoch"`
}

// newer reports whether c is a later registration than (inst, epoch): the higher epoch,
// then the higher instance name, wins.
func (c claim) newer(inst string, epoch int64) bool {
	return c.Epoch > epoch || (c.Epoch == epoch && c.Instance > inst)
}

type natsReg struct {
	l     Local
	epoch int64
	sub   *nats.Subscription
}

// natsRouter routes over NATS: each instance subscribes to <prefix>.d.<id>.* for every
// daemon registered on it; a request for an id held elsewhere is a NATS request-reply to
// <prefix>.d.<id>.req, and an id nobody holds is known at once from NATS's no-responders
// answer.
type natsRouter struct {
	opts   NATSOptions
	log    *slog.Logger
	nc     *nats.Conn
	prefix string // "<prefix>.d."
	ch     chan *nats.Msg
	done   chan struct{}
	wg     sync.WaitGroup

	mu       sync.Mutex
	regs     map[string]*natsReg
	inflight map[*inflight]struct{} // requests to other instances, ended at once when NATS is lost
}

// inflight is a request to another instance awaiting its answer.
type inflight struct{ cancel context.CancelCauseFunc }

// errConnLost ends the requests in flight when the connection to NATS is lost: their answers
// can no longer arrive, and nats.go would leave them waiting until their deadline.
var errConnLost = errors.New("relay: NATS connection lost")

// natsWorkers read the messages of every subscription (one shared channel, so that a
// registered daemon costs a subscription, not a goroutine).
const (
	natsWorkers  = 4
	natsChanSize = 1 << 14
)

// NewNATSRouter connects to NATS and returns a Router over it. It returns even if NATS
// cannot be reached yet, and keeps trying: requests for daemons on other instances fail
// with ErrCluster meanwhile, and daemons registered here are still served.
func NewNATSRouter(opts NATSOptions) (Router, error) {
	if opts.URL == "" {
		return nil, errors.New("relay: NATS: no URL")
	}
	if opts.Prefix == "" {
		opts.Prefix = "rangecast"
	}
	if opts.Instance == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		opts.Instance = hex.EncodeToString(b[:])
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PresenceTimeout <= 0 {
		opts.PresenceTimeout = time.Second
	}
	if opts.ReconnectWait <= 0 {
		opts.ReconnectWait = 250 * time.Millisecond
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 5 * time.Second
	}
	r := &natsRouter{
		opts: opts, log: opts.Logger.With("instance", opts.Instance),
		prefix:   opts.Prefix + ".d.",
		ch:       make(chan *nats.Msg, natsChanSize),
		done:     make(chan struct{}),
		regs:     map[string]*natsReg{},
		inflight: map[*inflight]struct{}{},
	}
	state := func(up bool) {
		if opts.OnConnected != nil {
			opts.OnConnected(up)
		}
	}
	nc, err := nats.Connect(opts.URL,
		nats.Name("rangecast-relay "+opts.Instance),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(opts.ReconnectWait),
		nats.ReconnectJitter(opts.ReconnectWait/2, time.Second),
		nats.RetryOnFailedConnect(true),
		nats.PingInterval(opts.PingInterval),
		nats.MaxPingsOutstanding(2),
		// Requests are refused while NATS is away (ErrCluster); claims are worth keeping.
		nats.ReconnectBufSize(1<<20),
		nats.ConnectHandler(func(*nats.Conn) {
			r.log.Info("relay: NATS connected")
			state(true)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			r.log.Warn("relay: NATS connection lost", "err", err)
			state(false)
			r.mu.Lock()
			for f := range r.inflight {
				f.cancel(errConnLost)
			}
			r.mu.Unlock()
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			// nats.go has sent every subscription again; claims settle what happened
			// meanwhile (a daemon that moved while NATS was away is held twice now).
			r.log.Info("relay: NATS reconnected")
			state(true)
			go r.reclaimAll()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			r.log.Warn("relay: NATS", "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("relay: NATS %s: %w", opts.URL, err)
	}
	r.nc = nc
	if nc.IsConnected() {
		state(true)
	}
	for range natsWorkers {
		r.wg.Add(1)
		go r.work()
	}
	return r, nil
}

func (r *natsRouter) subject(id, kind string) string { return r.prefix + id + "." + kind }

func (r *natsRouter) lookup(id string) *natsReg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.regs[id]
}

func (r *natsRouter) Register(ctx context.Context, id string, l Local) (func(), error) {
	epoch := time.Now().UnixNano()
	if old := r.lookup(id); old == nil {
		// Who holds it now? A later epoch than theirs, whatever the clocks say.
		pctx, cancel := context.WithTimeout(ctx, r.opts.PresenceTimeout)
		if c, ok := r.here(pctx, id); ok {
			epoch = max(epoch, c.Epoch+1)
		}
		cancel()
	}
	var sub *nats.Subscription
	r.mu.Lock()
	old := r.regs[id]
	if old == nil {
		r.mu.Unlock()
		s, err := r.nc.ChanSubscribe(r.prefix+id+".*", r.ch)
		if err != nil {
			return nil, fmt.Errorf("relay: NATS subscribe: %w", err)
		}
		r.mu.Lock()
		if old = r.regs[id]; old != nil {
			_ = s.Unsubscribe() // registered here meanwhile: share that subscription
		} else {
			sub = s
		}
	}
	if old != nil {
		sub = old.sub
		epoch = max(epoch, old.epoch+1)
	}
	reg := &natsReg{l: l, epoch: epoch, sub: sub}
	r.regs[id] = reg
	r.mu.Unlock()
	if old != nil && old.l != l {
		old.l.Replaced()
	}
	r.publishClaim(id, epoch)
	// Round trip to the NATS server before the daemon hears REGISTERED: then its subscription
	// is in place, and every instance finds the daemon online from that moment on.
	if err := r.roundTrip(ctx); err != nil {
		r.log.Warn("relay: NATS flush after registering", "id", id, "err", err)
	}
	return func() {
		r.mu.Lock()
		if r.regs[id] != reg {
			r.mu.Unlock()
			return
		}
		delete(r.regs, id)
		r.mu.Unlock()
		_ = reg.sub.Unsubscribe()
	}, nil
}

func (r *natsRouter) publishClaim(id string, epoch int64) {
	b, _ := json.Marshal(claim{Instance: r.opts.Instance, Epoch: epoch})
	if err := r.nc.Publish(r.subject(id, subjClaim), b); err != nil {
		r.log.Warn("relay: claim not published", "id", id, "err", err)
	}
}

// reclaimAll publishes a claim for every daemon registered here.
func (r *natsRouter) reclaimAll() {
	r.mu.Lock()
	claims := make(map[string]int64, len(r.regs))
	for id, reg := range r.regs {
		claims[id] = reg.epoch
	}
	r.mu.Unlock()
	for id, e := range claims {
		r.publishClaim(id, e)
	}
}

// here asks who holds id.
func (r *natsRouter) here(ctx context.Context, id string) (claim, bool) {
	if !r.nc.IsConnected() {
		return claim{}, false
	}
	msg, err := r.nc.RequestWithContext(ctx, r.subject(id, subjHere), nil)
	if err != nil {
		return claim{}, false
	}
	var c claim
	if json.Unmarshal(msg.Data, &c) != nil || c.Instance == "" {
		return claim{}, false
	}
	return c, true
}

func (r *natsRouter) Online(ctx context.Context, id string) bool {
	if r.lookup(id) != nil {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.PresenceTimeout)
	defer cancel()
	_, ok := r.here(ctx, id)
	return ok
}

func (r *natsRouter) Forward(ctx context.Context, id string, m Message) (Message, string, error) {
	if reg := r.lookup(id); reg != nil {
		resp, err := reg.l.RoundTrip(ctx, m)
		return resp, RouteLocal, err
	}
	// Tracked before the connection is checked: a loss from then on ends the request.
	ctx, cancel := context.WithCancelCause(ctx)
	f := &inflight{cancel}
	r.mu.Lock()
	r.inflight[f] = struct{}{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.inflight, f)
		r.mu.Unlock()
		cancel(nil)
	}()
	if !r.nc.IsConnected() {
		return Message{}, RouteCluster, ErrCluster
	}
	b, err := m.Marshal()
	if err != nil {
		return Message{}, RouteCluster, err
	}
	msg := nats.NewMsg(r.subject(id, subjReq))
	msg.Data = b
	if dl, ok := ctx.Deadline(); ok {
		msg.Header.Set(hdrTimeout, strconv.FormatInt(time.Until(dl).Milliseconds(), 10))
	}
	reply, err := r.nc.RequestMsgWithContext(ctx, msg)
	switch {
	case err == nil:
	case errors.Is(err, nats.ErrNoResponders) && r.roundTrip(ctx) == nil && r.nc.IsConnected():
		// Nobody holds id. (No responders also comes from a NATS going down that has
		// already dropped its holder's connection: then the server does not answer.)
		return Message{}, RouteCluster, ErrOffline
	case errors.Is(err, nats.ErrNoResponders), errors.Is(context.Cause(ctx), errConnLost):
		return Message{}, RouteCluster, fmt.Errorf("%w: %v", ErrCluster, errConnLost)
	case ctx.Err() != nil:
		return Message{}, RouteCluster, ctx.Err()
	default:
		return Message{}, RouteCluster, fmt.Errorf("%w: %v", ErrCluster, err)
	}
	switch reply.Header.Get(hdrError) {
	case "":
	case "offline":
		return Message{}, RouteCluster, ErrOffline
	case "busy":
		return Message{}, RouteCluster, ErrBusy
	case "timeout":
		return Message{}, RouteCluster, context.DeadlineExceeded
	default:
		return Message{}, RouteCluster, fmt.Errorf("%w: %s", ErrCluster, reply.Header.Get(hdrError))
	}
	resp, err := ParseMessage(reply.Data)
	if err != nil || resp.Type != MsgResponse {
		return Message{}, RouteCluster, fmt.Errorf("%w: not a RESPONSE from the daemon's instance", ErrCluster)
	}
	return resp, RouteCluster, nil
}

func (r *natsRouter) Close() error {
	select {
	case <-r.done:
		return nil
	default:
	}
	close(r.done)
	r.nc.Close()
	r.wg.Wait()
	return nil
}

// work handles the messages of every subscription.
func (r *natsRouter) work() {
	defer r.wg.Done()
	for {
		select {
		case <-r.done:
			return
		case msg := <-r.ch:
			rest, ok := strings.CutPrefix(msg.Subject, r.prefix)
			if !ok {
				continue
			}
			id, kind, ok := strings.Cut(rest, ".")
			if !ok {
				continue
			}
			switch kind {
			case subjReq:
				go r.serveRequest(id, msg) // a long poll holds it for up to 20 s
			case subjClaim:
				r.claimed(id, msg)
			case subjHere:
				if reg := r.lookup(id); reg != nil {
					b, _ := json.Marshal(claim{Instance: r.opts.Instance, Epoch: reg.epoch})
					_ = msg.Respond(b)
				}
			}
		}
	}
}

// claimed handles another instance's claim of id: a newer one ends the registration here,
// an older one is answered with this instance's claim, so that its sender ends its own.
func (r *natsRouter) claimed(id string, msg *nats.Msg) {
	var c claim
	if json.Unmarshal(msg.Data, &c) != nil || c.Instance == r.opts.Instance {
		return
	}
	r.mu.Lock()
	reg := r.regs[id]
	if reg == nil {
		r.mu.Unlock()
		return
	}
	if !c.newer(r.opts.Instance, reg.epoch) {
		r.mu.Unlock()
		r.publishClaim(id, reg.epoch)
		return
	}
	delete(r.regs, id)
	r.mu.Unlock()
	_ = reg.sub.Unsubscribe()
	r.log.Info("relay: daemon registered on another instance, replacing this one", "id", id, "by", c.Instance)
	reg.l.Replaced()
}

// serveRequest forwards a request from another instance to the daemon registered here.
func (r *natsRouter) serveRequest(id string, msg *nats.Msg) {
	fail := func(code string) {
		out := nats.NewMsg(msg.Reply)
		out.Header.Set(hdrError, code)
		_ = msg.RespondMsg(out)
	}
	reg := r.lookup(id)
	if reg == nil {
		fail("offline")
		return
	}
	m, err := ParseMessage(msg.Data)
	if err != nil || m.Type != MsgRequest {
		fail("bad_request")
		return
	}
	timeout := 25 * time.Second
	if ms, err := strconv.ParseInt(msg.Header.Get(hdrTimeout), 10, 64); err == nil && ms > 0 && ms < int64(timeout/time.Millisecond) {
		timeout = time.Duration(ms) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := reg.l.RoundTrip(ctx, m)
	switch {
	case err == nil:
	case errors.Is(err, ErrOffline):
		fail("offline")
		return
	case errors.Is(err, ErrBusy):
		fail("busy")
		return
	default:
		fail("timeout")
		return
	}
	b, err := resp.Marshal()
	if err != nil {
		fail("bad_response")
		return
	}
	_ = msg.Respond(b)
}

// roundTrip sends the NATS server a PING and waits for its PONG, at most the presence
// timeout: what was published before has then reached the server.
func (r *natsRouter) roundTrip(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.PresenceTimeout)
	defer cancel()
	return r.nc.FlushWithContext(ctx)
}

// Connected reports whether the router reaches NATS right now.
func (r *natsRouter) Connected() bool { return r.nc.IsConnected() }
