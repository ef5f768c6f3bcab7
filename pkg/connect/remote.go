package connect

import (
	"context"
	"errors"
	"time"

	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/rangefs"
	"github.com/rangecast/rangecast/pkg/share"
	"github.com/rangecast/rangecast/pkg/signaling"
)

// ChannelLabel is the label of the DataChannel a client opens for its rangefs session. The
// daemon refuses a channel with another label.
const ChannelLabel = "rangefs"

// Options configures Dial. Zero fields take defaults.
type Options struct {
	// Signal is how the peer connection is set up: its peer.Config, the setup timeout, and
	// the hooks tests use to reroute candidates.
	Signal signaling.DialOptions
	// Client tunes the rangefs session. Zero credit windows take the target's defaults
	// (window.go, window_js.go).
	Client rangefs.ClientOptions
	// Predialed, if set, is asked first for a connection already set up with the link's
	// daemon (the browser page starts one while the wasm loads: web/boot.js): a Conn and its
	// open rangefs channel, set up with cfg (Signal.Peer as Dial would use it), or an error
	// to dial as usual. What it returns is authenticated like any other connection.
	Predialed func(ctx context.Context, cfg peer.Config) (*peer.Conn, *peer.Channel, error)
}

// Remote is one connection to a daemon: a connected peer.Conn with a rangefs session on
// its data channel. The embedded Client serves Open, Stat, ReadDir and the rest.
type Remote struct {
	*rangefs.Client
	Conn *peer.Conn
	// Channel is the DataChannel the session runs on (the browser client puts web/boot.js's
	// router of direct reads in front of it: peer.Channel.InterceptMessages).
	Channel *peer.Channel
	// Scope is what a share link opens: a file or a directory under the daemon's root, ""
	// for the whole root (the owner's token, or a share link of the root).
	Scope string
}

// Dial connects to the daemon named by link, proves that it knows the link's token
// (docs/PROTOCOL.md, Authentication) and opens the rangefs session. A daemon that refuses the
// proof makes it fail with CodeUnauthorized and ErrAuthRefused.
func Dial(ctx context.Context, link string, opts Options) (*Remote, error) {
	l, err := signaling.ParseLink(link)
	if err != nil {
		return nil, err
	}
	cred := tokenCredential(l.Token)
	scope := ""
	if l.Token == "" {
		sl, err := share.Parse(l.Share)
		if err != nil {
			return nil, &Error{Code: CodeBadLink, Err: err}
		}
		if cred, err = shareCredential(sl); err != nil {
			return nil, &Error{Code: CodeBadLink, Err: err}
		}
		scope = sl.Scope
	}
	conn, ch, err := dialChannel(ctx, link, opts)
	if err != nil {
		return nil, err
	}
	local, remote, err := fingerprints(conn)
	if err != nil {
		_ = conn.Close()
		return nil, WithCode(CodeProtocol, err)
	}
	if err := prove(ctx, ch, cred, local, remote, DefaultAuthTimeout); err != nil {
		_ = conn.Close()
		return nil, err
	}
	copts := opts.Client
	if copts.SessionWindow == 0 {
		copts.SessionWindow = defaultSessionWindow
	}
	if copts.StreamWindow == 0 {
		copts.StreamWindow = defaultStreamWindow
	}
	c, err := rangefs.Dial(ctx, ch, copts)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return &Remote{Client: c, Conn: conn, Channel: ch, Scope: scope}, nil
}

// dialChannel returns a connected peer and its rangefs channel: the predialed ones if
// there are, else a new connection through signaling.
func dialChannel(ctx context.Context, link string, opts Options) (*peer.Conn, *peer.Channel, error) {
	if opts.Predialed != nil {
		// The setup timeout bounds the predialed connection too; when it runs out there,
		// dialing anew would only double the wait.
		timeout := opts.Signal.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		pctx, cancel := context.WithTimeoutCause(ctx, timeout, signaling.ErrSetupTimeout)
		conn, ch, err := opts.Predialed(pctx, opts.Signal.Peer)
		cancel()
		switch {
		case err == nil:
			return conn, ch, nil
		case ctx.Err() != nil:
			return nil, nil, ctx.Err()
		case errors.Is(context.Cause(pctx), signaling.ErrSetupTimeout):
			return nil, nil, signaling.ErrSetupTimeout
		}
	}
	return signalChannel(ctx, link, opts.Signal)
}

// signalChannel signals link's daemon and opens the session's channel on the new connection.
func signalChannel(ctx context.Context, link string, so signaling.DialOptions) (*peer.Conn, *peer.Channel, error) {
	conn, err := signaling.Dial(ctx, link, so)
	if err != nil {
		return nil, nil, err
	}
	ch, err := conn.CreateChannel(ctx, ChannelLabel)
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	return conn, ch, nil
}

// Close ends the rangefs session and the peer connection.
func (r *Remote) Close() error {
	err := r.Client.Close()
	return errors.Join(err, r.Conn.Close())
}
