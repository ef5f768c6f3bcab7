//go:build !js

package connect

import (
	"context"
	"log/slog"
	"time"

	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/rangefs"
)

// ServeOptions configures ServeFiles. Zero fields take defaults.
type ServeOptions struct {
	Logger *slog.Logger
	// OpenTimeout bounds the wait for the peer's rangefs channel once it is connected [10 s]:
	// a client opens it at once, and a peer that never does must not hold its slot forever.
	OpenTimeout time.Duration
}

// ServeFiles returns a signaling.HandlerOptions.OnConnect that serves srv on the rangefs channel
// the peer opens. The session ends when the peer leaves, breaks the protocol, or ctx ends
// (then with GOAWAY and the server's grace period).
func ServeFiles(srv *rangefs.Server, opts ServeOptions) func(context.Context, *peer.Conn) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.OpenTimeout <= 0 {
		opts.OpenTimeout = 10 * time.Second
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
		// A peer that goes away closes the channel, which ends the session.
		if err := srv.ServeTransport(ctx, ch); err != nil {
			log.Info("session ended with an error", "err", err)
		}
	}
}
