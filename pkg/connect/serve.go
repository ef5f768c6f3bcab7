//go:build !js

package connect

import (
	"context"
	"crypto/rand"
	"log/slog"
	"time"

	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/rangefs"
	"github.com/rangecast/rangecast/pkg/share"
)

// ShareAuthority is what the daemon needs to take share links (share.Authority is one).
type ShareAuthority interface {
	ShareChecker
	// Begin registers a session on the link of public part p, until its End; its Revoked
	// channel closes when the link is revoked.
	Begin(p share.Public) *share.Session
}

// ServeOptions configures ServeFiles. Zero fields take defaults.
type ServeOptions struct {
	// Token is the daemon's access token, which every client proves it knows in the
	// authentication exchange before its session starts (docs/PROTOCOL.md, Authentication).
	// Required: ServeFiles panics without one, since no client could connect.
	Token  string
	Logger *slog.Logger
	// OpenTimeout bounds the wait for the peer's rangefs channel once it is connected [10 s]:
	// a client opens it at once, and a peer that never does must not hold its slot forever.
	OpenTimeout time.Duration
	// AuthTimeout bounds the wait for the client's proof of the token [DefaultAuthTimeout].
	AuthTimeout time.Duration
	// Shares, if set, also takes share links (PROOF v2): each such session is narrowed to
	// its link's scope, ended at once when the link is revoked, and logged (the link id, the
	// peer's address, each path opened, the bytes read).
	Shares ShareAuthority
}

// ServeFiles returns a signaling.HandlerOptions.OnConnect that serves srv on the rangefs channel
// the peer opens, once the peer has proved it knows opts.Token, bound to both ends' DTLS
// fingerprints: a peer that does not, within AuthTimeout, is told so, logged and dropped,
// which frees its slot. This check does not rely on signaling's: it holds for peers whose
// signaling came through a relay that never saw the token. The session ends when the peer
// leaves, breaks the protocol, or ctx ends (then with GOAWAY and the server's grace period).
func ServeFiles(srv *rangefs.Server, opts ServeOptions) func(context.Context, *peer.Conn) {
	if opts.Token == "" {
		panic("connect: ServeFiles needs ServeOptions.Token")
	}
	v := verifier{key: deriveAuthKey(opts.Token)}
	if opts.Shares != nil {
		v.shares = opts.Shares
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.OpenTimeout <= 0 {
		opts.OpenTimeout = 10 * time.Second
	}
	if opts.AuthTimeout <= 0 {
		opts.AuthTimeout = DefaultAuthTimeout
	}
	return func(ctx context.Context, conn *peer.Conn) {
		actx, cancel := context.WithTimeout(ctx, opts.OpenTimeout)
		ch, err := conn.Accept(actx)
		cancel()
		if err != nil {
			log.Info("peer opened no channel", "err", err, "timeout", opts.OpenTimeout)
			return
		}
		if ch.Label() != ChannelLabel {
			log.Info("peer opened an unknown channel", "label", ch.Label())
			_ = ch.Close()
			return
		}
		pub, err := authenticate(ctx, conn, ch, v, opts.AuthTimeout)
		if err != nil {
			log.Warn("peer refused", "err", err)
			flush(conn, ch, time.Second)
			_ = ch.Close()
			return
		}
		if pub != nil {
			serveShare(ctx, srv, conn, ch, *pub, opts.Shares, log)
			return
		}
		// A peer that goes away closes the channel, which ends the session.
		if err := srv.ServeTransport(ctx, ch); err != nil {
			log.Info("session ended with an error", "err", err)
		}
	}
}

// serveShare serves a session authenticated with a share link: narrowed to its scope, ended
// by its revocation, and recorded.
func serveShare(ctx context.Context, srv *rangefs.Server, conn *peer.Conn, ch *peer.Channel, pub share.Public, shares ShareAuthority, log *slog.Logger) {
	sess := shares.Begin(pub)
	defer sess.End()
	addr := ""
	if p, ok := conn.SelectedPair(); ok {
		addr = p.Remote.String()
	}
	log = log.With("link", pub.ID, "peer", addr)
	log.Info("share session", "scope", pub.Scope, "expiry", pub.Expiry)
	var expires time.Time
	if pub.Expiry != 0 {
		expires = time.Unix(pub.Expiry, 0)
	}
	err := srv.ServeSession(ctx, ch, rangefs.SessionOptions{
		Scope:    pub.Scope,
		Revoked:  sess.Revoked(),
		Expires:  expires,
		OnAccess: func(op, name string) { log.Info("share access", "op", op, "path", name) },
		OnRead:   sess.AddRead,
	})
	log.Info("share session ended", "bytes_read", sess.BytesRead(), "err", err)
}

// authenticate runs the daemon's side of the authentication exchange with a fresh nonce.
func authenticate(ctx context.Context, conn *peer.Conn, ch *peer.Channel, v verifier, timeout time.Duration) (*share.Public, error) {
	var nonce [32]byte
	_, _ = rand.Read(nonce[:]) // never fails (crypto/rand)
	local, remote, err := fingerprints(conn)
	if err != nil {
		return nil, err // nothing to bind a proof to: no exchange, the peer is dropped
	}
	return checkToken(ctx, ch, v, local, remote, &nonce, timeout)
}

// flush waits until what was written on ch has reached the peer, or the peer has closed, at
// most d, so that a refusal arrives before the connection closes (closing is abrupt).
func flush(conn *peer.Conn, ch *peer.Channel, d time.Duration) {
	deadline := time.Now().Add(d)
	for ch.BufferedAmount() > 0 && time.Now().Before(deadline) {
		select {
		case <-conn.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}
