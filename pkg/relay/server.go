package relay

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"
)

// RegisterPath is where daemons open their WebSocket.
const RegisterPath = "/api/v1/relay/register"

// DaemonPrefix starts every daemon's URL on the relay: /d/<id>/ is its page, /d/<id>/api/v1/
// its signaling API.
const DaemonPrefix = "/d/"

// Error codes the relay itself answers with, in the body {"code", "error"} the signaling
// API uses (signaling.ErrorResponse).
const (
	CodeDaemonOffline = "daemon_offline"         // 503: no daemon is registered under that id
	CodeRelayBusy     = "relay_busy"             // 503: too many requests in flight for that daemon
	CodeRelayFull     = "relay_full"             // 503: the relay has as many daemons as it takes
	CodeTooManyRegs   = "too_many_registrations" // 429: registrations per IP at their cap
	CodeRateLimited   = "rate_limited"           // 429: requests per client IP above the rate
	CodeTooLarge      = "too_large"              // 413: a body above MaxBody
	CodeNotFound      = "not_found"              // 404: not a daemon id, or no such path
	CodeBadRequest    = "bad_request"            // 400
	CodeTimeout       = "timeout"                // 504: the daemon did not answer in time
	CodeClusterDown   = "cluster_unavailable"    // 503: the relay cannot reach the other instances (NATS)
)

// WebSocket close codes the relay ends a registration with (the reason is the code's name).
const (
	CloseBadMessage   websocket.StatusCode = 4400 // not the message expected
	CloseBadSignature websocket.StatusCode = 4401 // the signature does not verify
	CloseIDMismatch   websocket.StatusCode = 4403 // the id is not the key's
	CloseTimeout      websocket.StatusCode = 4408 // no REGISTER within HandshakeTimeout, or pongs missing
	CloseReplaced     websocket.StatusCode = 4409 // the same key registered again elsewhere
	CloseShutdown     websocket.StatusCode = 4503 // the relay is stopping
)

// Options configures a Server. Zero fields take the defaults in brackets.
type Options struct {
	// Assets serves the web app; a daemon's page is /d/<id>/, passed to Assets with the
	// /d/<id> prefix removed. Nil answers 404.
	Assets http.Handler
	Logger *slog.Logger

	RequestTimeout   time.Duration // a forwarded request's answer [25 s, above the 20 s long poll]
	PingInterval     time.Duration // WebSocket pings to each daemon [15 s]
	PingTimeout      time.Duration // a pong's deadline; else the daemon is offline [10 s]
	HandshakeTimeout time.Duration // upgrade → REGISTER [10 s]

	MaxPending      int // requests in flight per daemon [128]
	MaxDaemons      int // daemons registered at once [10000]
	MaxDaemonsPerIP int // daemons registered (or registering) at once per IP [16]

	RegisterRate  rate.Limit // registration attempts per IP per second [1, bursts of 10]
	RegisterBurst int
	SignalRate    rate.Limit // forwarded requests per client IP per second [20, bursts of 60]
	SignalBurst   int

	// TURN, if set, is the relay's STUN/TURN server: each registered daemon receives
	// credentials for it (ICESERVERS, renewed at half their life), and clients fetch theirs
	// from GET /d/<id>/api/v1/ice. The caller closes it.
	TURN *TURN

	// Router routes requests to daemons registered on this instance or on others (relays
	// sharing the load over NATS: NewNATSRouter). Nil is the in-process router: this relay's
	// daemons only. The caller closes it, after the Server.
	Router Router
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.RequestTimeout, 25*time.Second)
	def(&o.PingInterval, 15*time.Second)
	def(&o.PingTimeout, 10*time.Second)
	def(&o.HandshakeTimeout, 10*time.Second)
	defi := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	defi(&o.MaxPending, 128)
	defi(&o.MaxDaemons, 10000)
	defi(&o.MaxDaemonsPerIP, 16)
	defi(&o.RegisterBurst, 10)
	defi(&o.SignalBurst, 60)
	if o.RegisterRate <= 0 {
		o.RegisterRate = 1
	}
	if o.SignalRate <= 0 {
		o.SignalRate = 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Router == nil {
		o.Router = NewLocalRouter()
	}
}

// Server is the relay: an http.Handler that registers daemons over WebSockets and forwards
// each signaling request for /d/<id>/api/v1/… to the daemon registered as id. It sees
// signaling only, never the access token (clients keep it for the in-band check) nor the
// files' bytes (they go peer to peer).
type Server struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	router  Router
	metrics *Metrics
	ctx     context.Context // ends with Close: every daemon connection's
	stop    context.CancelFunc

	mu      sync.Mutex
	daemons map[string]*daemonConn // registered here
	perIP   map[string]int         // registered or registering, per IP
	total   int                    // registered or registering
	closed  bool
	wg      sync.WaitGroup // registration handlers

	regLimit, sigLimit *ipLimiter

	// tap, if set (tests), sees every WebSocket message the relay receives.
	tap func([]byte)
}

// NewServer returns a relay. Close it to drop every daemon.
func NewServer(opts Options) *Server {
	opts.defaults()
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{
		opts: opts, log: opts.Logger, ctx: ctx, stop: stop, router: opts.Router,
		daemons: map[string]*daemonConn{}, perIP: map[string]int{},
		regLimit: newIPLimiter(opts.RegisterRate, opts.RegisterBurst),
		sigLimit: newIPLimiter(opts.SignalRate, opts.SignalBurst),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+RegisterPath, s.register)
	mux.HandleFunc("GET /api/v1/relay/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"daemons": s.Daemons()})
	})
	mux.HandleFunc("GET "+DaemonPrefix+"{id}/api/v1/ice", s.ice)
	mux.HandleFunc(DaemonPrefix+"{id}/api/v1/{rest...}", s.forward)
	mux.HandleFunc("GET "+DaemonPrefix+"{id}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
	})
	mux.HandleFunc(DaemonPrefix+"{id}/{rest...}", s.page)
	s.metrics = newMetrics(s)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "rangecast relay: open the link a daemon printed, /d/<id>/#t=…")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such path on this relay")
	})
	s.mux = mux
	return s
}

// ServeHTTP routes the relay's endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Daemons returns the number of daemons registered on this instance.
func (s *Server) Daemons() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.daemons)
}

// Online reports whether a daemon is registered as id, on this instance or (with a NATS
// router) on another.
func (s *Server) Online(id string) bool { return s.router.Online(s.ctx, id) }

// Metrics returns the relay's Prometheus metrics; Metrics().Handler() serves them (rangecast
// relay --metrics-listen).
func (s *Server) Metrics() *Metrics { return s.metrics }

// Close drops every daemon (they reconnect to whatever serves the address next) and waits
// for their handlers to return.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	ds := make([]*daemonConn, 0, len(s.daemons))
	for _, d := range s.daemons {
		ds = append(ds, d)
	}
	s.mu.Unlock()
	s.stop()
	for _, d := range ds {
		d.close(CloseShutdown, "shutdown")
	}
	s.wg.Wait()
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errorBody has the shape of signaling.ErrorResponse.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{code, msg})
}

// clientIP is the connection's IP. The relay does not trust X-Forwarded-For: behind a proxy
// every client would share the proxy's limits, which fails safe.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// page serves the web app under /d/<id>/, whether the daemon is online or not: the app
// itself reports an offline daemon, from the signaling answer.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !ValidID(id) || s.opts.Assets == nil {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such page")
		return
	}
	http.StripPrefix(DaemonPrefix+id, s.opts.Assets).ServeHTTP(w, r)
}

// forward sends one signaling request to its daemon and relays the answer.
func (s *Server) forward(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !ValidID(id) {
		writeError(w, http.StatusNotFound, CodeNotFound, "not a daemon id")
		return
	}
	ip := clientIP(r)
	if !s.sigLimit.allow(ip) {
		s.metrics.refuse(CodeRateLimited)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, CodeRateLimited, fmt.Sprintf("at most %v signaling requests per second from one address", s.opts.SignalRate))
		return
	}
	path := strings.TrimPrefix(r.URL.EscapedPath(), DaemonPrefix+id)
	if len(path) > maxPath || len(r.URL.RawQuery) > maxQuery || len(r.Method) > maxMethod {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "path or query too long")
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(10 * time.Second))
	_ = rc.SetWriteDeadline(time.Now().Add(s.opts.RequestTimeout + 10*time.Second))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.metrics.refuse(CodeTooLarge)
			writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("body above %d bytes", MaxBody))
		} else {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "could not read the body")
		}
		return
	}
	// Only what signaling needs is forwarded: method, path, query, body. Headers stay here
	// (an Authorization header, which no relay-aware client sends, never leaves the relay).
	m := Message{Type: MsgRequest, Method: r.Method, Path: path, Query: r.URL.RawQuery, Client: ip, Body: body}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()
	start := time.Now()
	resp, route, err := s.router.Forward(ctx, id, m)
	s.metrics.forwarded(route, longPoll(r.Method, path), time.Since(start), err)
	switch {
	case err == nil:
	case errors.Is(err, ErrOffline):
		s.metrics.refuse(CodeDaemonOffline)
		writeError(w, http.StatusServiceUnavailable, CodeDaemonOffline, "the daemon is offline: it is not registered on this relay")
		return
	case errors.Is(err, ErrBusy):
		s.metrics.refuse(CodeRelayBusy)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, CodeRelayBusy, fmt.Sprintf("the daemon has %d requests in flight on this relay", s.opts.MaxPending))
		return
	case errors.Is(err, ErrCluster):
		s.metrics.refuse(CodeClusterDown)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, CodeClusterDown, "this relay cannot reach the other relays right now")
		return
	case r.Context().Err() != nil:
		return // the client left
	case errors.Is(err, context.DeadlineExceeded):
		s.metrics.refuse(CodeTimeout)
		writeError(w, http.StatusGatewayTimeout, CodeTimeout, "the daemon did not answer in time")
		return
	default:
		writeError(w, http.StatusBadGateway, CodeBadRequest, err.Error())
		return
	}
	h := w.Header()
	for _, f := range resp.Header {
		if forwardedHeaders[http.CanonicalHeaderKey(f.Name)] {
			h.Set(f.Name, f.Value)
		}
	}
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// forwardedHeaders are the response headers a daemon's answer keeps through the relay.
var forwardedHeaders = map[string]bool{"Content-Type": true, "Retry-After": true, "Allow": true}

// register runs one daemon's WebSocket: the challenge, the REGISTER check, then forwarding
// until the connection ends.
func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	ip := clientIP(r)
	if !s.regLimit.allow(ip) {
		s.metrics.refuse(CodeRateLimited)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusTooManyRequests, CodeRateLimited, "too many registration attempts from this address")
		return
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, CodeRelayFull, "the relay is shutting down")
		return
	case s.perIP[ip] >= s.opts.MaxDaemonsPerIP:
		s.mu.Unlock()
		s.metrics.refuse(CodeTooManyRegs)
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusTooManyRequests, CodeTooManyRegs, fmt.Sprintf("at most %d daemons per address", s.opts.MaxDaemonsPerIP))
		return
	case s.total >= s.opts.MaxDaemons:
		s.mu.Unlock()
		s.metrics.refuse(CodeRelayFull)
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusServiceUnavailable, CodeRelayFull, "the relay has as many daemons as it takes")
		return
	}
	s.perIP[ip]++
	s.total++
	s.wg.Add(1)
	s.mu.Unlock()
	release := func() {
		s.mu.Lock()
		if s.perIP[ip]--; s.perIP[ip] <= 0 {
			delete(s.perIP, ip)
		}
		s.total--
		s.mu.Unlock()
		s.wg.Done()
	}
	handedOff := false
	defer func() {
		if !handedOff {
			release()
		}
	}()

	// The connection lives on after this request: no server-wide deadline may cut it.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	ws, err := websocket.Accept(smallBuffers{w}, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		s.log.Info("relay: registration not upgraded", "remote", ip, "err", err)
		return
	}
	defer func() {
		if !handedOff {
			ws.CloseNow()
		}
	}()
	ws.SetReadLimit(MaxMessage)

	start := time.Now()
	d, err := s.handshake(ws, r.Host)
	if err != nil {
		s.metrics.refuseRegistration(err)
		s.log.Info("relay: registration refused", "remote", ip, "err", err)
		return
	}
	d.ip = ip
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close(CloseShutdown, "shutdown")
		return
	}
	s.daemons[d.id] = d
	s.mu.Unlock()
	// The router replaces an older registration of the id, here or elsewhere (4409).
	unregister, err := s.router.Register(s.ctx, d.id, d)
	if err != nil {
		s.log.Warn("relay: registration not routed", "id", d.id, "err", err)
		d.close(websocket.StatusTryAgainLater, "router")
		unregister = func() {}
	} else if err := d.write(&Message{Type: MsgRegistered, ID: d.id}); err != nil {
		d.close(websocket.StatusInternalError, "")
	} else {
		s.log.Info("relay: daemon registered", "id", d.id, "remote", ip, "took", time.Since(start))
		s.metrics.registered()
		if s.opts.TURN != nil {
			go s.sendICE(d)
		}
		// The registered daemon is served from a goroutine of its own, and this handler
		// returns (the connection is hijacked): its stack, grown by the upgrade and the
		// signature check, goes with it, and an idle daemon costs a small one.
		handedOff = true
		go func() {
			defer release()
			defer ws.CloseNow()
			d.serve(s.ctx, s.opts, s.tap)
			s.offline(d, unregister)
		}()
		return
	}
	s.offline(d, unregister)
}

// offline ends d's registration.
func (s *Server) offline(d *daemonConn, unregister func()) {
	unregister()
	s.mu.Lock()
	if s.daemons[d.id] == d {
		delete(s.daemons, d.id)
	}
	s.mu.Unlock()
	s.log.Info("relay: daemon offline", "id", d.id, "err", d.err())
}

// handshake sends the challenge and checks the REGISTER that answers it. On failure it has
// closed ws with the reason.
func (s *Server) handshake(ws *websocket.Conn, host string) (*daemonConn, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.HandshakeTimeout)
	defer cancel()
	challenge := make([]byte, ChallengeSize)
	_, _ = rand.Read(challenge)
	b, _ := (&Message{Type: MsgChallenge, Challenge: challenge}).Marshal()
	if err := ws.Write(ctx, websocket.MessageBinary, b); err != nil {
		return nil, err
	}
	typ, b, err := ws.Read(ctx)
	if err != nil {
		if ctx.Err() != nil {
			_ = ws.Close(CloseTimeout, "timeout")
		}
		return nil, err
	}
	if s.tap != nil {
		s.tap(b)
	}
	fail := func(code websocket.StatusCode, reason string) (*daemonConn, error) {
		_ = ws.Close(code, reason)
		return nil, errors.New(reason)
	}
	if typ != websocket.MessageBinary {
		return fail(CloseBadMessage, "bad_message")
	}
	m, err := ParseMessage(b)
	if err != nil || m.Type != MsgRegister {
		return fail(CloseBadMessage, "bad_message")
	}
	id := IDOf(m.PublicKey)
	if m.ID != id {
		return fail(CloseIDMismatch, "id_mismatch")
	}
	if !ed25519.Verify(m.PublicKey, signedMessage(challenge, host), m.Signature) {
		return fail(CloseBadSignature, "bad_signature")
	}
	return &daemonConn{id: id, ws: ws, pending: map[uint32]chan Message{}, done: make(chan struct{}), max: s.opts.MaxPending}, nil
}

// daemonConn is one registered daemon's WebSocket and its requests in flight.
type daemonConn struct {
	id  string
	ip  string
	ws  *websocket.Conn
	max int

	mu      sync.Mutex
	next    uint32
	pending map[uint32]chan Message
	closed  bool
	cause   error
	done    chan struct{}
}

// writeTimeout bounds one message's write: a daemon that cannot take 72 KiB in 10 s is gone.
const writeTimeout = 10 * time.Second

func (d *daemonConn) write(m *Message) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	// Not the request's context: coder/websocket closes the connection when a write's
	// context ends mid-write, and one client giving up must not cut the daemon off.
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return d.ws.Write(ctx, websocket.MessageBinary, b)
}

// RoundTrip implements Local.
func (d *daemonConn) RoundTrip(ctx context.Context, m Message) (Message, error) {
	return d.roundTrip(ctx, m)
}

// Replaced implements Local: the id registered again, here or on another instance.
func (d *daemonConn) Replaced() {
	d.setCause(errors.New("replaced by a newer registration"))
	d.close(CloseReplaced, "replaced")
}

// close ends the connection with code and reason (once) and fails every request in flight.
func (d *daemonConn) close(code websocket.StatusCode, reason string) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	if d.cause == nil {
		d.cause = errors.New(reason)
	}
	close(d.done)
	d.mu.Unlock()
	go func() {
		// The close handshake waits up to 5 s for the peer: not under anyone's lock.
		if err := d.ws.Close(code, reason); err != nil {
			_ = d.ws.CloseNow()
		}
	}()
}

func (d *daemonConn) err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cause
}

// roundTrip sends m as a REQUEST and waits for its RESPONSE, until ctx ends.
func (d *daemonConn) roundTrip(ctx context.Context, m Message) (Message, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return Message{}, ErrOffline
	}
	if len(d.pending) >= d.max {
		d.mu.Unlock()
		return Message{}, ErrBusy
	}
	d.next++
	m.Req = d.next
	ch := make(chan Message, 1)
	d.pending[m.Req] = ch
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.pending, m.Req)
		d.mu.Unlock()
	}()
	if err := d.write(&m); err != nil {
		d.close(websocket.StatusInternalError, "write failed")
		return Message{}, ErrOffline
	}
	select {
	case resp := <-ch:
		return resp, nil
	case <-d.done:
		return Message{}, ErrOffline
	case <-ctx.Done():
		// The client left or the timeout passed: the daemon may stop working on it (a
		// long poll, mostly). Best effort, off this goroutine.
		go func() { _ = d.write(&Message{Type: MsgCancel, Req: m.Req}) }()
		return Message{}, ctx.Err()
	}
}

// serve reads the daemon's RESPONSEs and pings it, until the connection ends.
func (d *daemonConn) serve(ctx context.Context, opts Options, tap func([]byte)) {
	// The pings run from a timer, not from a goroutine of their own: an idle daemon costs
	// the relay one goroutine, this one, blocked in Read.
	var ping func()
	var timer *time.Timer
	var tmu sync.Mutex
	ping = func() {
		select {
		case <-d.done:
			return
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, opts.PingTimeout)
		err := d.ws.Ping(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			d.close(CloseShutdown, "shutdown")
			return
		case err != nil:
			d.setCause(fmt.Errorf("no pong within %v: %w", opts.PingTimeout, err))
			d.close(CloseTimeout, "timeout")
			return
		}
		tmu.Lock()
		timer.Reset(opts.PingInterval)
		tmu.Unlock()
	}
	tmu.Lock()
	timer = time.AfterFunc(opts.PingInterval, ping)
	tmu.Unlock()
	defer timer.Stop()
	stopOnShutdown := context.AfterFunc(ctx, func() { d.close(CloseShutdown, "shutdown") })
	defer stopOnShutdown()
	for {
		typ, b, err := d.ws.Read(ctx)
		if err != nil {
			d.setCause(err)
			d.close(websocket.StatusNormalClosure, "")
			return
		}
		if tap != nil {
			tap(b)
		}
		m, err := ParseMessage(b)
		if typ != websocket.MessageBinary || err != nil || m.Type != MsgResponse {
			d.setCause(fmt.Errorf("bad message from the daemon: %v", err))
			d.close(CloseBadMessage, "bad_message")
			return
		}
		d.mu.Lock()
		ch := d.pending[m.Req]
		d.mu.Unlock()
		if ch != nil {
			select {
			case ch <- m:
			default: // a second answer to one request: dropped
			}
		}
	}
}

func (d *daemonConn) setCause(err error) {
	d.mu.Lock()
	if d.cause == nil {
		d.cause = err
	}
	d.mu.Unlock()
}

// ipLimiter keeps one token bucket per IP, forgetting those idle for a minute.
type ipLimiter struct {
	r     rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*ipEntry
	swept time.Time
}

type ipEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

func newIPLimiter(r rate.Limit, burst int) *ipLimiter {
	return &ipLimiter{r: r, burst: burst, m: map[string]*ipEntry{}, swept: time.Now()}
}

func (l *ipLimiter) allow(ip string) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, e := range l.m {
			if now.Sub(e.seen) > time.Minute {
				delete(l.m, k)
			}
		}
		l.swept = now
	}
	e := l.m[ip]
	if e == nil {
		e = &ipEntry{lim: rate.NewLimiter(l.r, l.burst)}
		l.m[ip] = e
	}
	e.seen = now
	return e.lim.AllowN(now, 1)
}

// smallBuffers hands coder/websocket a hijacked connection with 1 KiB read and write buffers
// instead of net/http's 4 KiB ones: an idle daemon's WebSocket is most of what it costs
// the relay, and signaling messages are small.
type smallBuffers struct{ http.ResponseWriter }

const wsBufferSize = 1 << 10

func (w smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("relay: the connection cannot be hijacked")
	}
	conn, brw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	var r io.Reader = conn
	if n := brw.Reader.Buffered(); n > 0 { // bytes the client sent after its request
		b, _ := brw.Reader.Peek(n)
		r = io.MultiReader(bytes.NewReader(bytes.Clone(b)), conn)
	}
	return conn, bufio.NewReadWriter(bufio.NewReaderSize(r, wsBufferSize), bufio.NewWriterSize(conn, wsBufferSize)), nil
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w smallBuffers) Unwrap() http.ResponseWriter { return w.ResponseWriter }
