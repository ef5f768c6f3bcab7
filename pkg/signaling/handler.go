//go:build !js

package signaling

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/rangecast/rangecast/pkg/peer"
)

// HandlerOptions configures a Handler. Token (unless SkipToken) and OnConnect are required.
type HandlerOptions struct {
	Token string // the access token every request must present
	// SkipToken serves direct requests without checking their token too, as ServeRelayed
	// serves relayed ones: for a daemon that relies on the in-band check alone, and for its
	// tests. It requires InBandAuth.
	SkipToken    bool
	MaxPeers     int           // peers at once, connecting or connected; 64
	SetupTimeout time.Duration // offer → connected, else the peer is dropped; 30 s
	PollTimeout  time.Duration // how long a GET …/signals waits for news; 20 s
	// Peer returns the settings of the Conn for an offer (Role, OnSignal, OnStateChange are
	// set here); r is the offer's request, a relayed one's as ServeRelayed got it.
	Peer func(r *http.Request) peer.Config
	// OnConnect runs in its own goroutine once a peer is connected. When it returns, the Conn
	// is closed and the peer's slot is freed. ctx ends when the Handler closes.
	OnConnect func(ctx context.Context, c *peer.Conn)
	Logger    *slog.Logger
	// Status, if set, answers GET /api/v1/status with what it returns (as JSON); else the
	// answer is {"peers": N}.
	Status func() any
	// InBandAuth says that OnConnect makes every peer prove the access token over the
	// connection before it serves anything (connect.ServeOptions.Token). ServeRelayed, which
	// has no token to check, refuses every request unless it is set.
	InBandAuth bool
	// Authorize, if set, is asked about a direct request's bearer token that is not Token:
	// a share link's fragment value, which the daemon checks against its share key. Its
	// scope, expiry and revocation are checked in band (InBandAuth), with clear refusals.
	Authorize func(bearer string) bool
}

// Handler is the daemon's signaling endpoint, where a peer is accepted: it creates one
// answerer-role peer.Conn per offer, trickles candidates both ways, and hands the connected
// Conn to OnConnect.
type Handler struct {
	opts    HandlerOptions
	log     *slog.Logger
	token   [32]byte // sha256 of the token: compared in constant time, length hidden
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	peers   map[string]*peerSlot
	closing bool
	mux     *http.ServeMux
}

// peerSlot is one peer, from its offer until its Conn closes: it holds one of MaxPeers
// slots and the daemon's signals, kept for the client to poll.
type peerSlot struct {
	id     string
	conn   *peer.Conn
	posts  *rate.Limiter // the client's POSTs of signals
	cands  atomic.Int32  // remote candidates applied
	mu     sync.Mutex
	sigs   []peer.Signal
	done   bool          // end-of-candidates sent, or the Conn connected or closed
	notify chan struct{} // closed and replaced on every change
}

// maxQueuedSignals bounds the local signals kept for polling.
const maxQueuedSignals = 256

// NewHandler returns a Handler. Close it to drop every peer.
func NewHandler(opts HandlerOptions) (*Handler, error) {
	if opts.SkipToken && !opts.InBandAuth {
		return nil, errors.New("signaling: SkipToken needs InBandAuth: without a token, only the in-band check authenticates peers")
	}
	if opts.Token == "" && !opts.SkipToken {
		return nil, errors.New("signal: handler needs a token")
	}
	if opts.OnConnect == nil {
		return nil, errors.New("signal: handler needs OnConnect")
	}
	if opts.MaxPeers <= 0 {
		opts.MaxPeers = 64
	}
	if opts.SetupTimeout <= 0 {
		opts.SetupTimeout = 30 * time.Second
	}
	if opts.PollTimeout <= 0 {
		opts.PollTimeout = 20 * time.Second
	}
	if opts.Peer == nil {
		opts.Peer = func(*http.Request) peer.Config { return peer.Config{} }
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Handler{
		opts: opts, log: opts.Logger, token: sha256.Sum256([]byte(opts.Token)),
		ctx: ctx, cancel: cancel, peers: make(map[string]*peerSlot),
	}
	h.mux = h.routes()
	return h, nil
}

// Peers returns the number of peers connecting or connected.
func (h *Handler) Peers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.peers)
}

// Close refuses new peers, closes every Conn, and waits for every OnConnect to return.
func (h *Handler) Close() error {
	h.mu.Lock()
	h.closing = true
	var conns []*peer.Conn
	for _, p := range h.peers {
		if p.conn != nil { // nil while create is still making it; create sees closing then
			conns = append(conns, p.conn)
		}
	}
	h.mu.Unlock()
	h.cancel()
	for _, c := range conns {
		_ = c.Close()
	}
	h.wg.Wait()
	return nil
}

// Shutdown cancels OnConnect's context (which lets sessions say GOAWAY) and waits for every
// peer to finish, until ctx ends; then it closes what is left.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	h.cancel()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return h.Close()
	}
}

func (h *Handler) authorized(r *http.Request) bool {
	if h.opts.SkipToken {
		return true
	}
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		return false
	}
	got := sha256.Sum256([]byte(tok))
	if subtle.ConstantTimeCompare(got[:], h.token[:]) == 1 {
		return true
	}
	return h.opts.Authorize != nil && h.opts.Authorize(tok)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rangecast"`)
	}
	writeJSON(w, status, ErrorResponse{Code: code, Message: msg})
}

// routes builds the API's mux: every endpoint under APIPrefix, each behind the token check.
// It is the one place where a signaling URL is matched.
func (h *Handler) routes() *http.ServeMux {
	mux := http.NewServeMux()
	withPeer := func(fn func(http.ResponseWriter, *http.Request, *peerSlot)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			p := h.lookup(r.PathValue("id"))
			if p == nil {
				writeError(w, http.StatusNotFound, CodeNotFound, "no such peer: it expired or closed")
				return
			}
			fn(w, r, p)
		}
	}
	mux.HandleFunc("POST "+APIPrefix+"peers", h.create)
	mux.HandleFunc("POST "+APIPrefix+"peers/{id}/signals", withPeer(h.addSignals))
	mux.HandleFunc("GET "+APIPrefix+"peers/{id}/signals", withPeer(h.poll))
	mux.HandleFunc("DELETE "+APIPrefix+"peers/{id}", withPeer(func(w http.ResponseWriter, _ *http.Request, p *peerSlot) {
		_ = p.conn.Close()
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("GET "+APIPrefix+"status", func(w http.ResponseWriter, _ *http.Request) {
		var st any = struct {
			Peers int `json:"peers"`
		}{h.Peers()}
		if h.opts.Status != nil {
			st = h.opts.Status()
		}
		writeJSON(w, http.StatusOK, st)
	})
	// The same paths with any other method, and any other path: JSON errors, not the mux's
	// plain-text ones.
	for path, allow := range map[string]string{"peers": "POST", "peers/{id}/signals": "GET, POST", "peers/{id}": "DELETE", "status": "GET"} {
		mux.HandleFunc(APIPrefix+path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, CodeMethod, "use "+allow)
		})
	}
	mux.HandleFunc(APIPrefix, func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such endpoint")
	})
	return mux
}

// ServeHTTP serves the signaling API. Every request must carry the token; a wrong or missing
// one gets 401 and nothing else, whatever the path.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		h.log.Info("signaling request refused", "remote", r.RemoteAddr, "reason", "bad token")
		writeError(w, http.StatusUnauthorized, CodeUnauthorized, "missing or wrong access token: open the link the daemon printed")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// ServeRelayed serves a signaling request that a relay forwarded (pkg/relay), with r.URL.Path
// under APIPrefix. It checks no bearer token: the relay must never see the token, so relayed
// clients send none, and the token is proven in-band instead, over the connection, before
// any file is served. It therefore answers 403 relay_disabled unless HandlerOptions.InBandAuth
// is set. The status endpoint answers an empty object: a relayed request is anonymous until
// its peer has proven the token, and the daemon's status is for the link's holders.
func (h *Handler) ServeRelayed(w http.ResponseWriter, r *http.Request) {
	if !h.opts.InBandAuth {
		writeError(w, http.StatusForbidden, CodeRelayDisabled, "this daemon takes no relayed peers: it does not authenticate peers in-band")
		return
	}
	if r.URL.Path == APIPrefix+"status" && r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, struct{}{})
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) lookup(id string) *peerSlot {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.peers[id]
	if p == nil || p.conn == nil {
		return nil
	}
	return p
}

// readBody reads at most MaxBody bytes of JSON into v.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("body above %d bytes", MaxBody))
		} else {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "could not read the body")
		}
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "body is not the expected JSON: "+err.Error())
		return false
	}
	return true
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create takes an offer, starts a Conn, and answers with its SDP answer.
func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	var offer peer.Signal
	if !readBody(w, r, &offer) {
		return
	}
	if offer.Type != peer.SignalOffer || offer.SDP == "" {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "expected an offer")
		return
	}
	p := &peerSlot{id: newID(), notify: make(chan struct{}), posts: rate.NewLimiter(SignalPostsPerSecond, SignalPostBurst)}
	h.mu.Lock()
	switch {
	case h.closing:
		h.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, CodeShuttingDown, "the daemon is shutting down")
		return
	case len(h.peers) >= h.opts.MaxPeers:
		h.mu.Unlock()
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, CodeTooManyPeers, fmt.Sprintf("the daemon serves at most %d peers at once", h.opts.MaxPeers))
		return
	}
	h.peers[p.id] = p // reserve the slot before the slow part
	h.mu.Unlock()

	connected := make(chan struct{})
	var once sync.Once
	cfg := h.opts.Peer(r)
	cfg.Role = peer.Answerer
	cfg.OnSignal = p.add
	cfg.OnStateChange = func(s peer.State) {
		switch s {
		case peer.StateConnected:
			once.Do(func() { close(connected) })
			p.finish()
		case peer.StateFailed, peer.StateClosed:
			p.finish()
		}
	}
	conn, err := peer.New(cfg)
	if err != nil {
		h.remove(p.id)
		h.log.Error("peer connection not created", "err", err)
		writeError(w, http.StatusInternalServerError, CodeInternal, "could not create a peer connection")
		return
	}
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		_ = conn.Close()
		h.remove(p.id)
		writeError(w, http.StatusServiceUnavailable, CodeShuttingDown, "the daemon is shutting down")
		return
	}
	p.conn = conn
	h.wg.Add(1)
	h.mu.Unlock()
	go h.run(p, connected)

	if err := conn.AddSignal(offer); err != nil {
		_ = conn.CloseWithError(err)
		writeError(w, http.StatusBadRequest, CodeBadRequest, "offer refused: "+err.Error())
		return
	}
	answer, err := p.waitAnswer(r.Context(), h.opts.SetupTimeout)
	if err != nil {
		_ = conn.CloseWithError(err)
		writeError(w, http.StatusGatewayTimeout, CodeTimeout, "no answer: "+err.Error())
		return
	}
	h.log.Info("peer offered", "id", p.id, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusCreated, CreateResponse{ID: p.id, Answer: answer})
}

// run owns one peer: it enforces the setup timeout, runs OnConnect, and frees the slot.
func (h *Handler) run(p *peerSlot, connected chan struct{}) {
	defer h.wg.Done()
	defer h.remove(p.id)
	defer p.conn.Close()
	timer := time.NewTimer(h.opts.SetupTimeout)
	defer timer.Stop()
	select {
	case <-connected:
	case <-timer.C:
		h.log.Info("peer setup timed out", "id", p.id)
		_ = p.conn.CloseWithError(ErrSetupTimeout)
		return
	case <-p.conn.Done():
		return
	case <-h.ctx.Done():
		return
	}
	h.log.Info("peer connected", "id", p.id)
	h.opts.OnConnect(h.ctx, p.conn)
	h.log.Info("peer gone", "id", p.id, "err", p.conn.Err())
}

func (h *Handler) remove(id string) {
	h.mu.Lock()
	delete(h.peers, id)
	h.mu.Unlock()
}

// addSignals applies the client's trickled candidates, at most MaxRemoteCandidates in all and
// at a bounded rate. Once the peer is connected, late candidates are accepted and dropped:
// they could only add connectivity checks to addresses nobody needs.
func (h *Handler) addSignals(w http.ResponseWriter, r *http.Request, p *peerSlot) {
	if !p.posts.Allow() {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, CodeRateLimited, fmt.Sprintf("at most %d signal requests per second", SignalPostsPerSecond))
		return
	}
	var sigs []peer.Signal
	if !readBody(w, r, &sigs) {
		return
	}
	if len(sigs) > MaxSignalsPerPost {
		writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("at most %d signals per request", MaxSignalsPerPost))
		return
	}
	if p.conn.State() == peer.StateConnected {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	for _, s := range sigs {
		if s.Type != peer.SignalCandidate && s.Type != peer.SignalEndOfCandidates {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "only candidates may be trickled")
			return
		}
		if s.Type == peer.SignalCandidate && p.cands.Add(1) > MaxRemoteCandidates {
			writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("at most %d candidates per peer", MaxRemoteCandidates))
			return
		}
		if err := p.conn.AddSignal(s); err != nil {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "candidate refused: "+err.Error())
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// poll returns the daemon's signals after ?after=N, waiting up to PollTimeout for one.
func (h *Handler) poll(w http.ResponseWriter, r *http.Request, p *peerSlot) {
	after := 0
	if s := r.URL.Query().Get("after"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "after must be a non-negative integer")
			return
		}
		after = n
	}
	timer := time.NewTimer(h.opts.PollTimeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		if after > len(p.sigs) {
			after = len(p.sigs)
		}
		sigs, done, notify := p.sigs[after:], p.done, p.notify
		p.mu.Unlock()
		if len(sigs) > 0 || done {
			writeJSON(w, http.StatusOK, PollResponse{Signals: sigs, Next: after + len(sigs), Done: done})
			return
		}
		select {
		case <-notify:
		case <-timer.C:
			writeJSON(w, http.StatusOK, PollResponse{Signals: []peer.Signal{}, Next: after})
			return
		case <-r.Context().Done():
			return
		case <-h.ctx.Done():
			writeError(w, http.StatusServiceUnavailable, CodeShuttingDown, "the daemon is shutting down")
			return
		}
	}
}

// add records a local signal for polling (the Conn's OnSignal).
func (p *peerSlot) add(s peer.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sigs) >= maxQueuedSignals {
		return // a client that needs more than 256 candidates has enough to connect with
	}
	p.sigs = append(p.sigs, s)
	if s.Type == peer.SignalEndOfCandidates {
		p.done = true
	}
	close(p.notify)
	p.notify = make(chan struct{})
}

// finish marks the signal list complete.
func (p *peerSlot) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.done {
		p.done = true
		close(p.notify)
		p.notify = make(chan struct{})
	}
}

// waitAnswer waits for the Conn's answer, the first signal a server emits.
func (p *peerSlot) waitAnswer(ctx context.Context, timeout time.Duration) (peer.Signal, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		for _, s := range p.sigs {
			if s.Type == peer.SignalAnswer {
				p.mu.Unlock()
				return s, nil
			}
		}
		notify := p.notify
		p.mu.Unlock()
		select {
		case <-notify:
		case <-timer.C:
			return peer.Signal{}, ErrSetupTimeout
		case <-ctx.Done():
			return peer.Signal{}, ctx.Err()
		case <-p.conn.Done():
			return peer.Signal{}, p.conn.Err()
		}
	}
}
