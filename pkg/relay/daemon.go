package relay

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// DaemonOptions configures a Daemon, the daemon's side of a relay. Relay, Identity and
// Handler are required; zero fields take the defaults in brackets.
type DaemonOptions struct {
	// Relay is the relay's base URL, http(s)://host[:port], or several separated by commas:
	// instances of one cluster (relays sharing routing over NATS). The daemon registers on
	// one; after a lost connection or a failed attempt it tries the next. The link (Base)
	// names the first.
	Relay    string
	Identity ed25519.PrivateKey // the daemon's key: its id is IDOf(public key)
	// Handler serves each relayed request, whose path is under /api/v1/. The daemon's is
	// signaling.Handler.ServeRelayed: no bearer token (the relay never has it), peers that
	// prove the token in-band instead.
	Handler http.Handler
	Logger  *slog.Logger
	// HTTPClient dials the WebSocket (for a test's TLS roots, say); nil is a client with no
	// proxy.
	HTTPClient *http.Client

	MinBackoff       time.Duration // the first reconnection's delay [250 ms]; each next doubles
	MaxBackoff       time.Duration // the delay's cap [30 s]; every delay has ±25 % jitter
	PingInterval     time.Duration // WebSocket pings to the relay [15 s]
	PingTimeout      time.Duration // a pong's deadline; else the relay is lost [10 s]
	HandshakeTimeout time.Duration // dial → REGISTERED [10 s]
	MaxInFlight      int           // relayed requests served at once; more get 503 [256]

	// OnICEServers, if set, is called with each STUN/TURN configuration the relay sends
	// (ICESERVERS: on registration, then renewed before the credentials expire). ICE
	// returns the latest too.
	OnICEServers func(ICEConfig)
}

// Daemon keeps a daemon registered on a relay: it dials out (so NATs and firewalls let it
// through), proves its identity, serves the requests the relay forwards, and reconnects with
// backoff when the connection is lost.
type Daemon struct {
	opts DaemonOptions
	log  *slog.Logger
	id   string
	base string // the first relay's base URL, no trailing slash: the link's
	urls []relayURL
	next int // the index in urls of the next session's relay (Run's goroutine only)

	ice           atomic.Pointer[ICEConfig]
	registered    atomic.Bool
	registrations atomic.Int64
	mu            sync.Mutex
	changed       chan struct{} // closed and replaced when registered changes
}

// NewDaemon checks opts and returns a Daemon; Run registers it.
func NewDaemon(opts DaemonOptions) (*Daemon, error) {
	if len(opts.Identity) != ed25519.PrivateKeySize {
		return nil, errors.New("relay: the daemon needs an Ed25519 identity")
	}
	if opts.Handler == nil {
		return nil, errors.New("relay: the daemon needs a Handler")
	}
	var urls []relayURL
	for _, s := range strings.Split(opts.Relay, ",") {
		u, err := parseRelayURL(s)
		if err != nil {
			return nil, err
		}
		urls = append(urls, u)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.MinBackoff, 250*time.Millisecond)
	def(&opts.MaxBackoff, 30*time.Second)
	def(&opts.PingInterval, 15*time.Second)
	def(&opts.PingTimeout, 10*time.Second)
	def(&opts.HandshakeTimeout, 10*time.Second)
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 256
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{Proxy: nil}}
	}
	return &Daemon{
		opts: opts, log: opts.Logger,
		id:      IDOf(opts.Identity.Public().(ed25519.PublicKey)),
		base:    urls[0].base,
		urls:    urls,
		changed: make(chan struct{}),
	}, nil
}

// relayURL is one relay a daemon may register on.
type relayURL struct {
	base  string // http(s)://host[:port]
	wsURL string
	host  string // as dialed: part of the signed message
}

func parseRelayURL(s string) (relayURL, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(s), "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return relayURL{}, fmt.Errorf("relay: %q is not a relay URL: want http(s)://host[:port]", s)
	}
	ws := "ws"
	if u.Scheme == "https" {
		ws = "wss"
	}
	return relayURL{base: u.Scheme + "://" + u.Host, wsURL: ws + "://" + u.Host + RegisterPath, host: u.Host}, nil
}

// ID returns the daemon's id on the relay.
func (d *Daemon) ID() string { return d.id }

// Base returns the daemon's base URL on the relay, <relay>/d/<id>: its page is Base()+"/".
func (d *Daemon) Base() string { return d.base + DaemonPrefix + d.id }

// ICE returns the relay's latest STUN/TURN configuration, or false if none came or its
// credentials have expired.
func (d *Daemon) ICE() (ICEConfig, bool) {
	c := d.ice.Load()
	if c == nil || (c.Expires != 0 && time.Now().Unix() >= c.Expires) {
		return ICEConfig{}, false
	}
	return *c, true
}

// Registered reports whether the daemon is registered right now.
func (d *Daemon) Registered() bool { return d.registered.Load() }

// Registrations counts the successful registrations so far (a re-registration after a lost
// connection adds one).
func (d *Daemon) Registrations() int64 { return d.registrations.Load() }

// WaitRegistered waits until the daemon is registered, or ctx ends.
func (d *Daemon) WaitRegistered(ctx context.Context) error {
	for {
		d.mu.Lock()
		ch := d.changed
		d.mu.Unlock()
		if d.registered.Load() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (d *Daemon) setRegistered(v bool) {
	if d.registered.Swap(v) == v {
		return
	}
	if v {
		d.registrations.Add(1)
	}
	d.mu.Lock()
	close(d.changed)
	d.changed = make(chan struct{})
	d.mu.Unlock()
}

// Run keeps the daemon registered until ctx ends: it connects, serves, and after a lost
// connection waits (exponential backoff from MinBackoff to MaxBackoff, with jitter) and
// connects again. It returns nil when ctx ends.
func (d *Daemon) Run(ctx context.Context) error {
	backoff := d.opts.MinBackoff
	for {
		u := d.urls[d.next]
		registered, err := d.session(ctx, u)
		d.setRegistered(false)
		// The next attempt goes to the next relay of the cluster, if there are several: the
		// one just lost may be gone for good.
		d.next = (d.next + 1) % len(d.urls)
		if ctx.Err() != nil {
			return nil
		}
		if registered {
			backoff = d.opts.MinBackoff // it worked: start over
		}
		if websocket.CloseStatus(err) == CloseReplaced {
			// Another process registered with this key: both would take turns forever.
			backoff = d.opts.MaxBackoff
			d.log.Warn("relay: another daemon with this identity registered on the relay; is --identity shared?", "relay", u.base)
		}
		// ±25 % jitter, so that daemons cut off by one relay restart do not return at once.
		wait := time.Duration(float64(backoff) * (0.75 + rand.Float64()/2))
		d.log.Warn("relay: not registered, retrying", "relay", u.base, "next", d.urls[d.next].base, "err", err, "in", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil
		}
		backoff = min(2*backoff, d.opts.MaxBackoff)
	}
}

// session is one connection: dial, register, serve until it ends. registered says whether
// it got that far.
func (d *Daemon) session(ctx context.Context, u relayURL) (registered bool, err error) {
	hctx, cancel := context.WithTimeout(ctx, d.opts.HandshakeTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(hctx, u.wsURL, &websocket.DialOptions{HTTPClient: d.opts.HTTPClient, CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return false, fmt.Errorf("relay answered %s", resp.Status)
		}
		return false, err
	}
	defer ws.CloseNow()
	ws.SetReadLimit(MaxMessage)

	m, err := readMessage(hctx, ws)
	if err != nil {
		return false, err
	}
	if m.Type != MsgChallenge {
		return false, fmt.Errorf("relay sent %v, not CHALLENGE", m.Type)
	}
	pub := d.opts.Identity.Public().(ed25519.PublicKey)
	reg := Message{Type: MsgRegister, ID: d.id, PublicKey: pub,
		Signature: ed25519.Sign(d.opts.Identity, signedMessage(m.Challenge, u.host))}
	if err := writeMessage(hctx, ws, &reg); err != nil {
		return false, err
	}
	m, err = readMessage(hctx, ws)
	if err != nil {
		return false, err
	}
	if m.Type != MsgRegistered || m.ID != d.id {
		return false, fmt.Errorf("relay sent %v %q, not REGISTERED %q", m.Type, m.ID, d.id)
	}
	cancel()
	d.log.Info("relay: registered", "relay", u.base, "id", d.id)
	d.setRegistered(true)
	return true, d.serve(ctx, ws)
}

func readMessage(ctx context.Context, ws *websocket.Conn) (Message, error) {
	typ, b, err := ws.Read(ctx)
	if err != nil {
		return Message{}, err
	}
	if typ != websocket.MessageBinary {
		return Message{}, fmt.Errorf("%w: a text message", ErrBadMessage)
	}
	return ParseMessage(b)
}

func writeMessage(ctx context.Context, ws *websocket.Conn, m *Message) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	return ws.Write(ctx, websocket.MessageBinary, b)
}

// serve answers the relay's REQUESTs until the connection ends, each in its own goroutine,
// and pings the relay so that a dead one is noticed.
func (d *Daemon) serve(ctx context.Context, ws *websocket.Conn) error {
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel, below: defers run last-in first-out
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var mu sync.Mutex
	inflight := map[uint32]context.CancelFunc{}

	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d.opts.PingInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-cctx.Done():
				return
			}
			pctx, pcancel := context.WithTimeout(cctx, d.opts.PingTimeout)
			err := ws.Ping(pctx)
			pcancel()
			if err != nil {
				cancel(fmt.Errorf("relay: no pong within %v: %w", d.opts.PingTimeout, err))
				_ = ws.CloseNow()
				return
			}
		}
	}()
	for {
		m, err := readMessage(cctx, ws)
		if err != nil {
			if c := context.Cause(cctx); c != nil && cctx.Err() != nil {
				return c
			}
			return err
		}
		switch m.Type {
		case MsgRequest:
			mu.Lock()
			if len(inflight) >= d.opts.MaxInFlight {
				mu.Unlock()
				d.reply(ws, m.Req, http.StatusServiceUnavailable, []byte(`{"code":"relay_busy","error":"the daemon has too many relayed requests in flight"}`))
				continue
			}
			rctx, rcancel := context.WithCancel(cctx)
			if old := inflight[m.Req]; old != nil {
				old() // a reused id: the relay gave up on the first
			}
			inflight[m.Req] = rcancel
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.handle(rctx, ws, m)
				mu.Lock()
				rcancel()
				delete(inflight, m.Req)
				mu.Unlock()
			}()
		case MsgICEServers:
			var cfg ICEConfig
			if err := json.Unmarshal(m.Body, &cfg); err != nil {
				d.log.Warn("relay: unreadable ICESERVERS", "err", err)
				continue
			}
			d.ice.Store(&cfg)
			d.log.Debug("relay: STUN/TURN servers", "servers", len(cfg.ICEServers), "expires", time.Unix(cfg.Expires, 0))
			if d.opts.OnICEServers != nil {
				d.opts.OnICEServers(cfg)
			}
		case MsgCancel:
			mu.Lock()
			if c := inflight[m.Req]; c != nil {
				c()
			}
			mu.Unlock()
		default:
			return fmt.Errorf("relay sent %v during forwarding", m.Type)
		}
	}
}

// handle serves one relayed request with Handler and sends the RESPONSE.
func (d *Daemon) handle(ctx context.Context, ws *websocket.Conn, m Message) {
	if !strings.HasPrefix(m.Path, "/api/v1/") {
		d.reply(ws, m.Req, http.StatusNotFound, []byte(`{"code":"not_found","error":"no such endpoint"}`))
		return
	}
	target := "http://relayed" + m.Path
	if m.Query != "" {
		target += "?" + m.Query
	}
	req, err := http.NewRequestWithContext(ctx, m.Method, target, bytes.NewReader(m.Body))
	if err != nil {
		d.reply(ws, m.Req, http.StatusBadRequest, []byte(`{"code":"bad_request","error":"not a valid request"}`))
		return
	}
	req.RemoteAddr = m.Client + " (relayed)"
	if len(m.Body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}}
	d.opts.Handler.ServeHTTP(rec, req)
	if ctx.Err() != nil {
		return // canceled by the relay: nobody waits for the answer
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.overflow {
		d.reply(ws, m.Req, http.StatusBadGateway, []byte(`{"code":"too_large","error":"the daemon's answer is too large to relay"}`))
		return
	}
	resp := Message{Type: MsgResponse, Req: m.Req, Status: rec.status, Body: rec.body.Bytes()}
	for name := range forwardedHeaders {
		if v := rec.header.Get(name); v != "" {
			resp.Header = append(resp.Header, Header{Name: name, Value: v})
		}
	}
	d.send(ws, &resp)
}

func (d *Daemon) reply(ws *websocket.Conn, req uint32, status int, body []byte) {
	d.send(ws, &Message{Type: MsgResponse, Req: req, Status: status, Header: []Header{{"Content-Type", "application/json"}}, Body: body})
}

func (d *Daemon) send(ws *websocket.Conn, m *Message) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := writeMessage(ctx, ws, m); err != nil {
		d.log.Debug("relay: answer not sent", "err", err)
	}
}

// recorder is the http.ResponseWriter a relayed request is served into: status, headers and
// a body capped at MaxBody.
type recorder struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len()+len(p) > MaxBody {
		r.overflow = true
		return 0, errors.New("relay: answer above the relay's body limit")
	}
	return r.body.Write(p)
}
