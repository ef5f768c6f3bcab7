//go:build !js

package connect

import (
	"context"
	"log/slog"

	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/rangefs"
)

// ServeFiles returns a signal.HandlerOptions.OnConnect that serves srv on the rangefs channel the
// peer opens. The session ends when the peer leaves, breaks the protocol, or ctx ends (then
// with GOAWAY and the server's grace period).
func ServeFiles(srv *rangefs.Server, log *slog.Logger) func(context.Context, *peer.Conn) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, conn *peer.Conn) {
		ch, err := conn.Accept(ctx)
		if err != nil {
			log.Debug("no channel from peer", "err", err)
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
