package signaling

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/rangecast/rangecast/pkg/peer"
)

// APIPrefix is the path under which the signaling endpoints live.
const APIPrefix = "/api/v1/"

// Limits the Handler enforces and clients respect.
const (
	// MaxBody caps every request body: an SDP offer with candidates is a few KiB.
	MaxBody = 64 << 10
	// MaxSignalsPerPost caps the candidates one POST may carry.
	MaxSignalsPerPost = 64
	// MaxRemoteCandidates caps the candidates one peer may trickle in all. A browser offers a
	// few per network interface; each one is an address the daemon sends connectivity checks
	// to, so without a cap a link holder could aim the daemon's UDP at any number of hosts.
	MaxRemoteCandidates = 32
	// SignalPostsPerSecond and SignalPostBurst rate-limit a peer's POSTs of signals.
	SignalPostsPerSecond = 10
	SignalPostBurst      = 20
)

// CreateResponse answers POST /api/v1/peers.
type CreateResponse struct {
	ID     string      `json:"id"`
	Answer peer.Signal `json:"answer"`
}

// PollResponse answers GET /api/v1/peers/{id}/signals.
type PollResponse struct {
	Signals []peer.Signal `json:"signals"`
	Next    int           `json:"next"` // the after= value for the next poll
	Done    bool          `json:"done"` // no more signals will come
}

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Code    string `json:"code"` // stable, machine-readable: see the Code* constants
	Message string `json:"error"`
}

// Stable error codes, in ErrorResponse.Code and APIError.Code.
const (
	CodeUnauthorized = "unauthorized"       // 401: missing or wrong token
	CodeTooManyPeers = "too_many_peers"     // 503: the daemon's peer limit is reached
	CodeBadRequest   = "bad_request"        // 400: malformed JSON, wrong signal type, bad SDP
	CodeTooLarge     = "too_large"          // 413: body or signal count above the limits
	CodeNotFound     = "not_found"          // 404: no such peer (expired or closed) or endpoint
	CodeTimeout      = "timeout"            // 504: the peer connection did not answer in time
	CodeShuttingDown = "shutting_down"      // 503: the daemon is stopping
	CodeMethod       = "method_not_allowed" // 405: the path exists, the method does not
	CodeInternal     = "internal"           // 500: the daemon could not create a peer connection
	CodeRateLimited  = "rate_limited"       // 429: signals posted faster than allowed; see Retry-After
	// CodeDaemonOffline (503) comes from a relay: no daemon is registered under the link's id.
	CodeDaemonOffline = "daemon_offline"
	// CodeRelayDisabled (403): the daemon takes no relayed peers (HandlerOptions.InBandAuth
	// is not set).
	CodeRelayDisabled = "relay_disabled"
)

// Sentinel errors matched by APIError.Is.
var (
	ErrUnauthorized  = errors.New("signal: wrong or missing access token")
	ErrTooManyPeers  = errors.New("signal: the daemon has too many peers")
	ErrNotFound      = errors.New("signal: no such peer")
	ErrShuttingDown  = errors.New("signal: the daemon is shutting down")
	ErrDaemonOffline = errors.New("signal: the daemon is not registered on the relay")
	ErrBadLink       = errors.New("signal: not a rangecast link")
	ErrSetupTimeout  = errors.New("signal: connection setup timed out")
)

// APIError is an error answer from the daemon.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("signal: daemon answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Is maps codes onto ErrUnauthorized, ErrTooManyPeers, ErrShuttingDown, ErrNotFound and
// ErrDaemonOffline.
func (e *APIError) Is(target error) bool {
	switch e.Code {
	case CodeUnauthorized:
		return target == ErrUnauthorized
	case CodeTooManyPeers:
		return target == ErrTooManyPeers
	case CodeShuttingDown:
		return target == ErrShuttingDown
	case CodeNotFound:
		return target == ErrNotFound
	case CodeDaemonOffline:
		return target == ErrDaemonOffline
	}
	return false
}

// Link is a parsed daemon link: http://HOST:PORT/#t=TOKEN for a daemon reached directly,
// https://RELAY/d/ID/#t=TOKEN for one registered on a relay.
type Link struct {
	// Base is scheme://host[:port] and the page's path prefix, no trailing slash: the
	// signaling API is Base + APIPrefix. It is "http://127.0.0.1:8080" for a daemon,
	// "https://relay.example/d/ID" for one behind a relay.
	Base  string
	Token string
	// Share is a share link's fragment value (#s=ID.SCOPE.EXPIRY.SECRET, pkg/share), set
	// instead of Token: a scoped, expiring, revocable capability. Direct signaling carries
	// it as the bearer token, which the daemon checks against its share key
	// (HandlerOptions.Authorize); through a relay it is never sent.
	Share string
}

// RelayPrefix starts the path of a daemon's page on a relay: /d/<id>/.
const RelayPrefix = "/d/"

// ParseLink splits a link into the daemon's base URL and the access token. The token travels
// in the fragment so that it never reaches a server log or a Referer header. The path is
// kept (a relay serves each daemon under /d/<id>/), without a final "index.html" or "/".
func ParseLink(s string) (Link, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return Link{}, fmt.Errorf("%w: %v", ErrBadLink, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return Link{}, fmt.Errorf("%w: want http(s)://host:port/#t=TOKEN", ErrBadLink)
	}
	frag, err := url.ParseQuery(u.EscapedFragment())
	if err != nil {
		return Link{}, fmt.Errorf("%w: fragment: %v", ErrBadLink, err)
	}
	tok, sh := frag.Get("t"), frag.Get("s")
	if tok == "" && sh == "" {
		return Link{}, fmt.Errorf("%w: no token (#t=…) or share (#s=…) in the link", ErrBadLink)
	}
	if tok != "" {
		sh = "" // the owner's token opens everything
	}
	p := strings.TrimSuffix(u.EscapedPath(), "index.html")
	p = strings.TrimRight(p, "/")
	return Link{Base: u.Scheme + "://" + u.Host + p, Token: tok, Share: sh}, nil
}

// String returns the link in the form the daemon prints.
func (l Link) String() string {
	if l.Token == "" && l.Share != "" {
		return l.Base + "/#s=" + url.QueryEscape(l.Share)
	}
	return l.Base + "/#t=" + url.QueryEscape(l.Token)
}

// Relayed reports whether the link names a daemon on a relay (its path is /d/<id>). Such a
// link's token is never sent to the server: the relay must not learn it, so signaling goes
// without it and the client proves it to the daemon in-band, over the connection
// (pkg/connect).
func (l Link) Relayed() bool {
	u, err := url.Parse(l.Base)
	if err != nil {
		return false
	}
	rest, ok := strings.CutPrefix(u.Path, RelayPrefix)
	return ok && rest != "" && !strings.Contains(rest, "/")
}

// signalingToken is the bearer token signaling requests carry: none for a relayed link.
func (l Link) signalingToken() string {
	if l.Relayed() {
		return ""
	}
	if l.Token == "" {
		return l.Share
	}
	return l.Token
}
